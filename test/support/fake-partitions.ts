// In-memory stand-ins for the topic registry and the log manager, for unit tests of the layers above the log
// (transactions): real PartitionLogs whose appends become durable at once (or when the test says), with the
// durable batches kept in memory so that producer state can be rebuilt from them.
import type { Extent, PartitionLog as PartitionLogType } from '../../broker/log/partition-log.ts';
import { PartitionLog } from '../../broker/log/partition-log.ts';
import type { TopicRecord } from '../../broker/metadata/layout.ts';
import { controlTypeOf } from '../../broker/protocol/records/control.ts';
import {
  readAttributes,
  readBaseOffset,
  readBatchLength,
  readProducerEpoch,
  readProducerId,
} from '../../broker/protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../../broker/protocol/records/constants.ts';

export class FakeTopics {
  private readonly topics = new Map<string, TopicRecord>();
  private nextId = 1;

  add(name: string, partitions: number): TopicRecord {
    const id = Buffer.alloc(16);
    id.writeUInt32BE(this.nextId++, 12);
    const record: TopicRecord = { name, id: id.toString('base64url'), partitions, configs: {}, createdAtMs: 0 };
    this.topics.set(name, record);
    return record;
  }

  delete(name: string): void {
    this.topics.delete(name);
  }

  byName(name: string): TopicRecord | undefined {
    return this.topics.get(name);
  }
}

interface DurableChunk {
  baseOffset: number;
  lastOffset: number;
  data: Buffer;
}

/** What the transaction layer uses of LogManager (read, partition, fenced, append), over real PartitionLogs. */
export class FakeLogs {
  fenced: Error | null = null;
  /** When false, appends stay pending until commit() or abandon(). */
  autoCommit = true;
  /** Every append, in order. */
  readonly appends: { log: PartitionLogType; baseOffset: number; records: Buffer }[] = [];
  private readonly logs = new Map<string, PartitionLogType>();
  private readonly durable = new Map<PartitionLogType, DurableChunk[]>();

  /** Creates the partitions of `topic`, led by this broker. */
  lead(topic: TopicRecord): PartitionLogType[] {
    const created: PartitionLogType[] = [];
    for (let p = 0; p < topic.partitions; p++) {
      const log = new PartitionLog({
        topicId: topic.id,
        topicName: topic.name,
        partition: p,
        leaderEpoch: 0,
        logStartOffset: 0,
        extents: [],
        onHighWatermark: () => {},
      });
      this.logs.set(`${topic.id}:${p}`, log);
      this.durable.set(log, []);
      created.push(log);
    }
    return created;
  }

  partition(topicId: string, partition: number): PartitionLogType | undefined {
    return this.logs.get(`${topicId}:${partition}`);
  }

  append(
    log: PartitionLogType,
    records: Buffer,
    batchCount: number,
    logAppendTimeMs: number | null,
    patch: (records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null) => void,
  ): { baseOffset: number; durable: Promise<void> } {
    if (this.fenced) throw this.fenced;
    const { baseOffset, lastOffset } = log.append(records, batchCount, logAppendTimeMs, patch);
    const durable = log.waitDurable(lastOffset);
    this.appends.push({ log, baseOffset, records });
    if (this.autoCommit) this.commit(log);
    return { baseOffset, durable };
  }

  /** Makes everything pending in `log` durable. */
  commit(log: PartitionLogType): void {
    const chunk = log.takePending();
    if (chunk === null) return;
    const extent: Extent = {
      baseOffset: chunk.baseOffset,
      lastOffset: chunk.lastOffset,
      maxTimestamp: chunk.maxTimestamp,
      objectKey: `fake-${log.topicName}-${log.partition}-${chunk.baseOffset}`,
      position: 0,
      lengthBytes: chunk.data.length,
      segment: false,
      objectSizeBytes: chunk.data.length,
    };
    log.commitFlushed(chunk, extent);
    this.durable.get(log)!.push({ baseOffset: chunk.baseOffset, lastOffset: chunk.lastOffset, data: chunk.data });
  }

  /** Drops what is pending in `log` as a fenced flush would: its waiters are rejected. */
  abandon(log: PartitionLogType, reason = new Error('abandoned by the test')): void {
    log.abandonUnflushed(reason);
  }

  async read(log: PartitionLogType, offset: number, _maxBytes: number, _minOneBatch: boolean, end: number): Promise<Buffer | null> {
    const chunks = (this.durable.get(log) ?? []).filter((c) => c.lastOffset >= offset && c.baseOffset < end);
    return chunks.length === 0 ? null : Buffer.concat(chunks.map((c) => c.data));
  }

  /** The durable control batches of `log`: producer, epoch and control type (COMMIT 1, ABORT 0), in offset order. */
  markers(log: PartitionLogType): { offset: number; producerId: number; producerEpoch: number; type: number }[] {
    const out: { offset: number; producerId: number; producerEpoch: number; type: number }[] = [];
    for (const c of this.durable.get(log) ?? []) {
      for (let pos = 0; pos < c.data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(c.data, pos)) {
        if ((readAttributes(c.data, pos) & 0x20) === 0) continue;
        out.push({
          offset: readBaseOffset(c.data, pos),
          producerId: readProducerId(c.data, pos),
          producerEpoch: readProducerEpoch(c.data, pos),
          type: controlTypeOf(c.data, pos),
        });
      }
    }
    return out;
  }
}
