// Reading and writing a few records, for a console's message browser and its "produce a record" form: a bounded
// Fetch loop from an offset (records, bytes and batches all bounded; read_committed drops aborted transactions) and one Produce of a small batch.
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { FetchResponse, ProduceResponse } from '../../broker/protocol/generated/index.ts';
import { BatchHeaderView } from '../../broker/protocol/records/batch-header.ts';
import { buildRecordBatch } from '../../broker/protocol/records/build.ts';
import { RecordCursor } from '../../broker/protocol/records/iterate.ts';
import { openBatchRecords } from '../../broker/protocol/records/read.ts';
import type { Cluster } from './cluster.ts';
import { AdminKafkaError } from './errors.ts';
import type { ClientLimits } from './limits.ts';
import { maxFetchRoundsPerRead } from './limits.ts';

export interface MessageHeader {
  key: string;
  value: Buffer | null;
}

export interface Message {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: MessageHeader[];
}

export interface ReadResult {
  messages: Message[];
  /** The offset to continue from. */
  nextOffset: number;
  highWatermark: number;
  logStartOffset: number;
  /** Record bytes fetched (the bound `maxBytes` applies to this). */
  bytesRead: number;
}

export interface ProduceInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: { key: string; value: Buffer | string | null }[];
  timestampMs?: number;
}

const toBuffer = (v: Buffer | string | null | undefined): Buffer | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v) : v;

export async function readPartition(
  cluster: Cluster,
  limits: ClientLimits,
  topic: string,
  partition: number,
  startOffset: number,
  maxRecords: number,
  maxBytes: number,
  deadline: number,
  readCommitted = false,
): Promise<ReadResult> {
  const recordBound = Math.max(0, Math.min(maxRecords, limits.maxReadRecords));
  const byteBound = Math.max(1, Math.min(maxBytes, limits.maxReadBytes));
  const messages: Message[] = [];
  let offset = startOffset;
  let bytesRead = 0;
  let highWatermark = -1;
  let logStartOffset = -1;
  const header = new BatchHeaderView();
  const cursor = new RecordCursor();
  for (let round = 0; round < maxFetchRoundsPerRead && messages.length < recordBound && bytesRead < byteBound; round++) {
    const route = await cluster.leaderOf(topic, partition, deadline);
    const c = await cluster.node(route.leaderId, deadline);
    const remainingBytes = byteBound - bytesRead;
    const { body } = await c.request<FetchResponse>(
      ApiKey.Fetch,
      () => ({
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: remainingBytes,
        isolationLevel: readCommitted ? 1 : 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            partitions: [
              {
                partition,
                currentLeaderEpoch: route.leaderEpoch,
                fetchOffset: offset,
                logStartOffset: -1,
                partitionMaxBytes: remainingBytes,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      }),
      deadline,
    );
    if (body.errorCode !== 0) throw new AdminKafkaError(body.errorCode, null, `Fetch ${topic}-${partition}`);
    const p = body.responses[0]?.partitions[0];
    if (!p) throw new AdminKafkaError(-1, 'Fetch answered no partition', `${topic}-${partition}`);
    if (p.errorCode !== 0) throw new AdminKafkaError(p.errorCode, null, `Fetch ${topic}-${partition} at offset ${offset}`);
    highWatermark = p.highWatermark;
    logStartOffset = p.logStartOffset;
    const records = p.records;
    if (!records || records.length === 0) break;
    bytesRead += records.length;
    // read_committed: the producers whose transactions in this response were aborted (as Kafka's consumer does).
    const aborted = [...(p.abortedTransactions ?? [])].sort((a, b) => a.firstOffset - b.firstOffset);
    const abortedProducers = new Set<number>();
    let pos = 0;
    let advanced = false;
    while (pos < records.length && messages.length < recordBound) {
      try {
        header.reset(records, pos);
      } catch {
        break; // a partial batch at the end of the response
      }
      const end = header.end;
      while (readCommitted && aborted.length > 0 && aborted[0]!.firstOffset <= header.lastOffset)
        abortedProducers.add(aborted.shift()!.producerId);
      let skip = false;
      if (header.isControl) {
        skip = true;
        if (readCommitted && abortedProducers.has(header.producerId)) {
          const producerId = header.producerId;
          openBatchRecords(records, pos, cursor, { maxDecompressedBytes: limits.maxReadBytes }, header);
          // The control record's key: version int16, type int16 (0 ABORT, 1 COMMIT).
          if (cursor.next() && cursor.key()?.readInt16BE(2) === 0) abortedProducers.delete(producerId);
          header.reset(records, pos);
        }
      } else if (readCommitted && header.isTransactional && abortedProducers.has(header.producerId)) skip = true;
      if (header.lastOffset >= offset) {
        if (!skip) {
          openBatchRecords(records, pos, cursor, { maxDecompressedBytes: limits.maxReadBytes }, header);
          while (cursor.next() && messages.length < recordBound) {
            if (cursor.offset < offset) continue;
            const headers: MessageHeader[] = [];
            const h = cursor.headers();
            while (h.next()) headers.push({ key: h.keyString(), value: h.value() ? Buffer.from(h.value()!) : null });
            const key = cursor.key();
            const value = cursor.value();
            messages.push({
              topic,
              partition,
              offset: cursor.offset,
              timestampMs: cursor.timestampMs,
              key: key ? Buffer.from(key) : null,
              value: value ? Buffer.from(value) : null,
              headers,
            });
            offset = cursor.offset + 1;
          }
          header.reset(records, pos);
        }
        if (messages.length < recordBound) offset = Math.max(offset, header.lastOffset + 1);
        advanced = true;
      }
      pos = end;
    }
    if (!advanced || offset >= highWatermark) break;
  }
  return { messages, nextOffset: offset, highWatermark, logStartOffset, bytesRead };
}

export async function producePartition(
  cluster: Cluster,
  topic: string,
  partition: number,
  records: ProduceInput[],
  deadline: number,
): Promise<{ baseOffset: number; logAppendTimeMs: number }> {
  const route = await cluster.leaderOf(topic, partition, deadline);
  const c = await cluster.node(route.leaderId, deadline);
  const now = Date.now();
  const batch = buildRecordBatch(
    records.map((r) => ({
      key: toBuffer(r.key),
      value: toBuffer(r.value),
      timestampMs: r.timestampMs ?? now,
      headers: (r.headers ?? []).map((h) => ({ key: h.key, value: toBuffer(h.value) })),
    })),
  );
  const { body } = await c.request<ProduceResponse>(
    ApiKey.Produce,
    () => ({
      transactionalId: null,
      acks: -1,
      timeoutMs: Math.max(0, deadline - Date.now()),
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
    }),
    deadline,
  );
  const p = body.responses[0]?.partitionResponses[0];
  if (!p) throw new AdminKafkaError(-1, 'Produce answered no partition', `${topic}-${partition}`);
  if (p.errorCode !== 0) throw new AdminKafkaError(p.errorCode, p.errorMessage, `Produce ${topic}-${partition}`);
  return { baseOffset: p.baseOffset, logAppendTimeMs: p.logAppendTimeMs };
}
