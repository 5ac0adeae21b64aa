// ListOffsets: earliest, latest, max timestamp, and the first offset at or after a timestamp.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  ListOffsetsRequest,
  ListOffsetsResponseInput,
  ListOffsetsResponseListOffsetsPartitionResponseInput,
  ListOffsetsResponseListOffsetsTopicResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import { RecordCursor, openBatchRecords } from '../protocol/records/index.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import { loadProducerState } from '../log/append.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { listOffsetsMaxDecompressedBytes } from '../limits.ts';

export const LATEST_TIMESTAMP = -1;
export const EARLIEST_TIMESTAMP = -2;
export const MAX_TIMESTAMP = -3;
export const EARLIEST_LOCAL_TIMESTAMP = -4;
export const EARLIEST_PENDING_UPLOAD_TIMESTAMP = -5;

type Result = { offset: number; timestamp: number; errorCode: number };

/** The first record of the batch at or after `timestampMs` (the max timestamp itself for MAX_TIMESTAMP). */
async function lookup(s: BrokerServices, log: PartitionLog, timestampMs: number): Promise<{ offset: number; timestamp: number } | null> {
  const found = await s.logs.findBatchByTimestamp(log, timestampMs);
  if (!found) return null;
  const cursor = openBatchRecords(found.batch, 0, new RecordCursor(), { maxDecompressedBytes: listOffsetsMaxDecompressedBytes });
  while (cursor.next()) {
    if (cursor.offset >= log.logStartOffset && cursor.timestampMs >= timestampMs)
      return { offset: cursor.offset, timestamp: cursor.timestampMs };
  }
  return null;
}

async function listOffset(s: BrokerServices, log: PartitionLog, timestamp: number, version: number, isolationLevel = 0): Promise<Result> {
  const none = { offset: -1, timestamp: -1, errorCode: ErrorCode.NONE };
  switch (timestamp) {
    case LATEST_TIMESTAMP: {
      if (isolationLevel !== 1) return { offset: log.highWatermark, timestamp: -1, errorCode: ErrorCode.NONE };
      // read_committed: the last stable offset (spec/transactions.md).
      const producers = await loadProducerState(s, log);
      if (producers === null) return { ...none, errorCode: ErrorCode.KAFKA_STORAGE_ERROR };
      return { offset: producers.lastStableOffset(log.highWatermark), timestamp: -1, errorCode: ErrorCode.NONE };
    }
    case EARLIEST_TIMESTAMP:
    case EARLIEST_LOCAL_TIMESTAMP:
      return { offset: log.logStartOffset, timestamp: -1, errorCode: ErrorCode.NONE };
    case EARLIEST_PENDING_UPLOAD_TIMESTAMP:
      return none; // no tiered storage: nothing pending upload
    case MAX_TIMESTAMP: {
      if (version < 7) return { ...none, errorCode: ErrorCode.UNSUPPORTED_VERSION };
      if (log.maxTimestamp < 0 || log.highWatermark === log.logStartOffset) return none;
      const r = await lookup(s, log, log.maxTimestamp);
      return r ? { ...r, errorCode: ErrorCode.NONE } : none;
    }
    default: {
      if (timestamp < 0) return { ...none, errorCode: ErrorCode.UNSUPPORTED_VERSION };
      const r = await lookup(s, log, timestamp);
      return r ? { ...r, errorCode: ErrorCode.NONE } : none;
    }
  }
}

export const listOffsetsHandler: ApiHandler<typeof ApiKey.ListOffsets> = {
  apiKey: ApiKey.ListOffsets,
  minVersion: 0,
  maxVersion: 10,
  async handle(ctx: RequestContext, req: ListOffsetsRequest): Promise<ListOffsetsResponseInput> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const topics: ListOffsetsResponseListOffsetsTopicResponseInput[] = [];
    for (const t of req.topics) {
      const topic = s.topics.byName(t.name);
      const partitions: ListOffsetsResponseListOffsetsPartitionResponseInput[] = [];
      for (const p of t.partitions) {
        const log = topic ? s.logs.partition(topic.id, p.partitionIndex) : undefined;
        const base = { partitionIndex: p.partitionIndex, leaderEpoch: v >= 4 && log ? log.leaderEpoch : -1 };
        if (!log) {
          const led = topic && p.partitionIndex >= 0 && p.partitionIndex < topic.partitions;
          partitions.push({
            ...base,
            errorCode: led ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            timestamp: -1,
            offset: -1,
            oldStyleOffsets: [],
          });
          continue;
        }
        if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch) {
          const code = p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
          partitions.push({ ...base, errorCode: code, timestamp: -1, offset: -1, oldStyleOffsets: [] });
          continue;
        }
        let r: Result;
        try {
          r = await listOffset(s, log, p.timestamp, v, req.isolationLevel);
        } catch (e) {
          if (!(e instanceof KafkaError)) throw e;
          r = { offset: -1, timestamp: -1, errorCode: e.code };
        }
        partitions.push({
          ...base,
          // No record at or after the timestamp: Kafka names no leader epoch either.
          leaderEpoch: r.offset === -1 ? -1 : base.leaderEpoch,
          errorCode: r.errorCode,
          timestamp: v >= 1 ? r.timestamp : -1,
          offset: v >= 1 ? r.offset : -1,
          oldStyleOffsets: v === 0 && r.errorCode === ErrorCode.NONE && r.offset >= 0 ? [r.offset] : [],
        });
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
