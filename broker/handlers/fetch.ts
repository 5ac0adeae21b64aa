// Fetch: whole batches from each partition's fetch offset up to the high watermark (the last stable offset
// for read_committed), within max_bytes and each partition's limit, always at least one batch so consumers
// make progress. Below min_bytes, it long-polls until data arrives or max_wait_ms passes. Fetch sessions
// (KIP-227) are declined: every response has session id 0, so clients send full fetches.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  FetchRequest,
  FetchResponseInput,
  FetchResponsePartitionDataInput,
  FetchResponseFetchableTopicResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { LeaderHints } from './leader-hints.ts';
import { loadProducerState } from '../log/append.ts';
import { abortedForFetch } from '../txn/partition-txn.ts';
import { fetchResponseMaxBytes } from '../limits.ts';

const readCommitted = 1;
const emptyRecords = Buffer.alloc(0);

interface PartitionPlan {
  index: number;
  log: PartitionLog | undefined;
  errorCode: number;
  fetchOffset: number;
  maxBytes: number;
  currentLeaderEpoch: number;
}

interface TopicPlan {
  topic: string;
  topicId: string;
  partitions: PartitionPlan[];
}

// Records are empty, never null, even with an error: Kafka always sends MemoryRecords.EMPTY there, and librdkafka
// fails to parse a null (size -1) record set ("Protocol parse failure for Fetch"), so kcat and the confluent
// clients would treat e.g. OFFSET_OUT_OF_RANGE as a broken broker instead of resetting their position.
function partitionError(index: number, code: number): FetchResponsePartitionDataInput {
  return {
    partitionIndex: index,
    errorCode: code,
    highWatermark: -1,
    lastStableOffset: -1,
    logStartOffset: -1,
    abortedTransactions: null,
    records: Buffer.alloc(0),
  };
}

async function build(
  s: BrokerServices,
  plan: TopicPlan[],
  maxBytes: number,
  isolation: number,
): Promise<{ body: FetchResponseInput; bytes: number; errors: boolean }> {
  let total = 0;
  let errors = false;
  const responses: FetchResponseFetchableTopicResponseInput[] = [];
  for (const t of plan) {
    const partitions: FetchResponsePartitionDataInput[] = [];
    for (const p of t.partitions) {
      const refused = refusal(p);
      if (refused !== null) {
        errors = true;
        partitions.push(refused);
        continue;
      }
      const log = p.log!;
      const highWatermark = log.highWatermark;
      // Transactions (spec/transactions.md): read_committed reads up to the last stable offset.
      let producers = log.producerState;
      if (producers === null && isolation === readCommitted) producers = await loadProducerState(s, log);
      if (producers === null && isolation === readCommitted) {
        errors = true;
        partitions.push(storageError(p.index, log, highWatermark));
        continue;
      }
      const lastStableOffset = producers === null ? highWatermark : producers.lastStableOffset(highWatermark);
      const readEnd = isolation === readCommitted ? lastStableOffset : highWatermark;
      const limit = Math.min(p.maxBytes, maxBytes - total);
      let records: Buffer[] | null = null;
      if (p.fetchOffset < readEnd && (limit > 0 || total === 0)) {
        try {
          records = await s.logs.readParts(log, p.fetchOffset, Math.max(0, limit), total === 0, readEnd);
        } catch (err) {
          // Data not in memory and the object store failing: a retriable error for this partition only.
          s.logger.warn({ err, topic: log.topicName, partition: p.index }, 'fetch read failed');
          errors = true;
          partitions.push(storageError(p.index, log, highWatermark));
          continue;
        }
      }
      if (records) for (const part of records) total += part.length;
      // The last part ends where the records end.
      const aborted =
        isolation === readCommitted
          ? abortedForFetch(producers, p.fetchOffset, records === null ? null : records[records.length - 1]!)
          : null;
      partitions.push(partitionData(p.index, log, highWatermark, lastStableOffset, aborted, records));
    }
    responses.push({ topic: t.topic, topicId: t.topicId, partitions });
  }
  return { body: { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses }, bytes: total, errors };
}

/**
 * The error entry of a partition that cannot be read at all (no log here or a planning error, a leader epoch
 * other than the current one, a fetch offset outside the log), or null when it can. Allocates only on error.
 */
function refusal(p: PartitionPlan): FetchResponsePartitionDataInput | null {
  const log = p.log;
  if (!log || p.errorCode !== ErrorCode.NONE) {
    const unknown = p.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION || p.errorCode === ErrorCode.UNKNOWN_TOPIC_ID;
    // Kafka answers a partition it does not know with an empty (not null) aborted-transaction list.
    return unknown ? { ...partitionError(p.index, p.errorCode), abortedTransactions: [] } : partitionError(p.index, p.errorCode);
  }
  if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch !== log.leaderEpoch)
    return partitionError(p.index, p.currentLeaderEpoch < log.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH);
  // As Kafka: no watermarks with OFFSET_OUT_OF_RANGE (the consumer resets with ListOffsets).
  if (p.fetchOffset < log.logStartOffset || p.fetchOffset > log.nextOffset) return partitionError(p.index, ErrorCode.OFFSET_OUT_OF_RANGE);
  return null;
}

/** KAFKA_STORAGE_ERROR (retriable) for one partition whose data or producer state cannot be read now. */
function storageError(index: number, log: PartitionLog, highWatermark: number): FetchResponsePartitionDataInput {
  return {
    ...partitionError(index, ErrorCode.KAFKA_STORAGE_ERROR),
    highWatermark,
    lastStableOffset: highWatermark,
    logStartOffset: log.logStartOffset,
  };
}

/** A partition's successful entry; records null means none (an empty record set). */
function partitionData(
  index: number,
  log: PartitionLog,
  highWatermark: number,
  lastStableOffset: number,
  abortedTransactions: FetchResponsePartitionDataInput['abortedTransactions'],
  records: Buffer[] | null,
): FetchResponsePartitionDataInput {
  return {
    partitionIndex: index,
    errorCode: ErrorCode.NONE,
    highWatermark,
    lastStableOffset,
    logStartOffset: log.logStartOffset,
    abortedTransactions,
    preferredReadReplica: -1,
    records: records === null ? emptyRecords : records.length === 1 ? records[0]! : records,
  };
}

/** Fetch v16 carries KIP-951's current_leader and node_endpoints. */
const firstLeaderHintFetchVersion = 16;

function addLeaderHints(s: BrokerServices, listenerName: string, plan: TopicPlan[], body: FetchResponseInput): void {
  let hints: LeaderHints | null = null;
  for (let i = 0; i < plan.length; i++) {
    const topic = s.topics.byId(plan[i]!.topicId);
    if (!topic) continue;
    for (const pd of body.responses![i]!.partitions!) {
      if (pd.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER && pd.errorCode !== ErrorCode.FENCED_LEADER_EPOCH) continue;
      hints ??= new LeaderHints(s, listenerName);
      pd.currentLeader = hints.leader(topic.id, pd.partitionIndex!);
    }
  }
  if (hints) body.nodeEndpoints = hints.endpoints();
}

/**
 * Starts loading what `build` will read, partition by partition in response order until max_bytes is covered
 * (plus each partition's read-ahead), so that the object-store GETs of a catching-up consumer overlap instead of
 * following one another and adjacent chunks of one object share a GET (LogManager.prefetchMany). Data already in
 * memory costs a lookup per cached range; a tailing consumer (at the high watermark) costs nothing.
 */
function prefetch(s: BrokerServices, plan: TopicPlan[], maxBytes: number): void {
  let budget = maxBytes;
  const wants: { log: PartitionLog; offset: number; bytes: number; endOffset: number }[] = [];
  for (const t of plan) {
    for (const p of t.partitions) {
      if (budget <= 0) break;
      const log = p.log;
      if (!log || p.errorCode !== ErrorCode.NONE || p.fetchOffset < log.logStartOffset || p.fetchOffset >= log.highWatermark) continue;
      const bytes = Math.min(p.maxBytes, budget);
      // What this response will hold, plus the partition's read-ahead, so that both are read in shared GETs.
      wants.push({ log, offset: p.fetchOffset, bytes: bytes + s.config.readaheadBytes, endOffset: log.highWatermark });
      budget -= bytes;
    }
  }
  if (wants.length > 0) s.logs.prefetchMany(wants);
}

/** Resolves when one of `logs` gets new durable data, or after `ms`, or on abort. */
function waitForData(s: BrokerServices, logs: Set<PartitionLog>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let off = () => {};
    const done = () => {
      clearTimeout(timer);
      off();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    off = s.logs.onHighWatermark((log) => {
      if (logs.has(log)) done();
    });
    signal.addEventListener('abort', done, { once: true });
  });
}

export const fetchHandler: ApiHandler<typeof ApiKey.Fetch> = {
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 17,
  async handle(ctx: RequestContext, req: FetchRequest): Promise<FetchResponseInput> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    if (req.sessionId !== 0) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
    }
    if (req.sessionEpoch !== 0 && req.sessionEpoch !== -1) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, sessionId: 0, responses: [] };
    }
    const plan: TopicPlan[] = [];
    const logs = new Set<PartitionLog>();
    for (const t of req.topics) {
      const topic = v >= 13 ? s.topics.byId(t.topicId) : s.topics.byName(t.topic);
      const unknown = v >= 13 ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      const partitions: PartitionPlan[] = [];
      for (const p of t.partitions) {
        const log = topic ? s.logs.partition(topic.id, p.partition) : undefined;
        if (log) logs.add(log);
        partitions.push({
          index: p.partition,
          log,
          errorCode: !topic
            ? unknown
            : log
              ? ErrorCode.NONE
              : p.partition >= 0 && p.partition < topic.partitions
                ? ErrorCode.NOT_LEADER_OR_FOLLOWER
                : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          fetchOffset: p.fetchOffset,
          maxBytes: p.partitionMaxBytes,
          currentLeaderEpoch: p.currentLeaderEpoch,
        });
      }
      plan.push({ topic: t.topic, topicId: t.topicId, partitions });
    }
    const maxBytes = Math.min(req.maxBytes, fetchResponseMaxBytes);
    prefetch(s, plan, maxBytes);
    const deadline = Date.now() + Math.min(Math.max(0, req.maxWaitMs), s.config.fetchMaxWaitCapMs);
    for (;;) {
      const r = await build(s, plan, maxBytes, req.isolationLevel);
      const remainingMs = deadline - Date.now();
      if (r.errors || r.bytes >= req.minBytes || remainingMs <= 0 || logs.size === 0 || ctx.signal.aborted) {
        if (r.errors && v >= firstLeaderHintFetchVersion) addLeaderHints(s, ctx.listenerName, plan, r.body);
        return r.body;
      }
      await waitForData(s, logs, remainingMs, ctx.signal);
    }
  },
};
