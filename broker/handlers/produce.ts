// Produce: validate each partition's batch (its records' timestamps too, decompressing only for CreateTime
// topics' compressed batches), assign offsets, and answer once the
// batch is durable in the object store with its metadata committed (acks=1 and acks=-1 alike; acks=0 gets
// no response). Semantics: spec/guarantees.md.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  ProduceRequest,
  ProduceResponseInput,
  ProduceResponsePartitionProduceResponseInput,
  ProduceResponseTopicProduceResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import {
  CompressionCodec,
  RecordsSummary,
  assignOffsets,
  readBatchLength,
  setLogAppendTime,
  validateRecords,
  validateRecordTimestamps,
  BATCH_LOG_OVERHEAD_BYTES,
} from '../protocol/records/index.ts';
import { readAttributes, readProducerEpoch, readProducerId } from '../protocol/records/batch-header.ts';
import { ATTRIBUTE_TRANSACTIONAL, BATCH_HEADER_BYTES } from '../protocol/records/constants.ts';
import { topicConfigValue, topicNumber } from '../log/topic-config.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import { peekProducerId } from '../log/producer-state.ts';
import { producerStateOf } from '../log/producer-state-load.ts';
import type { ProducerStateManager, ProducerStateSettings } from '../log/producer-state.ts';
import { produceErrorForVerification } from '../txn/verification.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { LeaderHints } from './leader-hints.ts';
import type { ObjectStoreHealth } from '../storage/health.ts';
import { degradedThrottleMs, maxRecordsPerBatch } from '../limits.ts';

/** Kafka's Produce v3+ carries exactly one batch per partition. */
const maxBatchesPerPartition = 1;
/** ZSTD needs Produce v7+ (KIP-110). */
const firstZstdProduceVersion = 7;

type PartitionResult = ProduceResponsePartitionProduceResponseInput;

function error(index: number, code: number, message: string | null = null): PartitionResult {
  return { index, errorCode: code, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage: message };
}

function patchFor(logAppendTime: boolean) {
  return (records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null) => {
    assignOffsets(records, baseOffset, leaderEpoch);
    if (logAppendTime) {
      for (let pos = 0; pos < records.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(records, pos)) {
        setLogAppendTime(records, pos, logAppendTimeMs!);
      }
    }
  };
}
const patchCreateTime = patchFor(false);
const patchLogAppendTime = patchFor(true);

/** A compressed batch is decompressed to check its records' timestamps: at most this much (as ListOffsets). */
const maxDecompressedProduceBytes = 64 * 1024 * 1024;
/** Most record_errors in one partition's answer. */
const maxRecordErrors = 1000;

interface Pending {
  result: PartitionResult;
  log: PartitionLog;
  durable: Promise<void>;
}

function appendPartition(
  s: BrokerServices,
  v: number,
  topic: TopicRecord,
  index: number,
  records: Buffer | null,
  summary: RecordsSummary,
  nowMs: number,
  verifying: boolean,
  verified: Verified | undefined,
): PartitionResult | Pending {
  if (index < 0 || index >= topic.partitions) return error(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const log = s.logs.partition(topic.id, index);
  // Another broker owns it (or it is being handed over): the client refreshes metadata and retries there.
  if (!log || log.released) return error(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'This broker does not lead this partition');
  if (records === null || records.length === 0)
    return error(index, ErrorCode.INVALID_RECORD, 'Produce requests must carry exactly one record batch');
  const logAppendTime = topicConfigValue(topic, 'message.timestamp.type', s.config) === 'LogAppendTime';
  const invalid = checkBatch(s, v, topic, index, records, summary, nowMs, logAppendTime);
  if (invalid !== undefined) return invalid;
  if (s.logs.fenced) return error(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'This broker can no longer write this partition');
  // Idempotent producer: check its epoch and sequence, synchronously with the append (spec/producer-state.md).
  const producers = summary.producerId >= 0 ? log.producerState : null;
  const settled = checkProducer(index, log, producers, summary, verifying, verified);
  if (settled !== undefined) return settled;
  return appendChecked(s, index, log, records, summary, nowMs, logAppendTime, producers);
}

/** The batch's framing, size, codec and record timestamps; an error result, or undefined when it may be appended. */
function checkBatch(
  s: BrokerServices,
  v: number,
  topic: TopicRecord,
  index: number,
  records: Buffer,
  summary: RecordsSummary,
  nowMs: number,
  logAppendTime: boolean,
): PartitionResult | undefined {
  try {
    validateRecords(
      records,
      {
        maxBatchBytes: Math.max(topicNumber(topic, 'max.message.bytes', s.config), 61),
        maxBatchCount: maxBatchesPerPartition,
        maxRecordsPerBatch,
      },
      summary.reset(),
    );
    if (summary.compression === CompressionCodec.ZSTD && v < firstZstdProduceVersion) {
      return error(index, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'ZStandard compression needs Produce v7 or later');
    }
    // Every record's timestamp, as Kafka's LogValidator checks them; on CreateTime topics each batch's
    // maxTimestamp is also set from its records (what the time index and retention then use).
    const invalid = validateRecordTimestamps(
      records,
      {
        nowMs,
        logAppendTime,
        beforeMaxMs: topicNumber(topic, 'message.timestamp.before.max.ms', s.config),
        afterMaxMs: topicNumber(topic, 'message.timestamp.after.max.ms', s.config),
        maxDecompressedBytes: maxDecompressedProduceBytes,
        maxRecordErrors,
      },
      summary,
    );
    if (invalid === null) return undefined;
    return {
      ...error(index, ErrorCode.INVALID_TIMESTAMP, invalid.message),
      recordErrors: invalid.errors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })),
    };
  } catch (e) {
    if (e instanceof KafkaError) return error(index, e.code, e.message);
    throw e;
  }
}

/**
 * An idempotent or transactional batch against its producer's state: an error, the answer of a duplicate (a
 * retry of one of the producer's last batches), or undefined when it is new and in sequence.
 */
function checkProducer(
  index: number,
  log: PartitionLog,
  producers: ProducerStateManager | null,
  summary: RecordsSummary,
  verifying: boolean,
  verified: Verified | undefined,
): PartitionResult | Pending | undefined {
  if (summary.producerId >= 0 && producers === null) {
    // Dropped again (appends abandoned) since the caller rebuilt it: retriable, the retry rebuilds it.
    return error(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, "The partition's producer state is being rebuilt; retry");
  }
  if (
    verified !== undefined
      ? producers !== verified.producers || producers.verificationGuard(verified.producerId) !== verified.guard
      : verifying && summary.transactional && producers !== null && !producers.hasOngoingTxn(summary.producerId, summary.producerEpoch)
  ) {
    // A marker of this producer came in while the coordinator was asked (the transaction it vouched for may be
    // over), or the open transaction that made verification unnecessary ended meanwhile. Retriable: the retry
    // is verified again.
    return error(index, ErrorCode.NOT_ENOUGH_REPLICAS, "The producer's transaction changed while the partition was being verified; retry");
  }
  if (producers === null) return undefined;
  const check = producers.check(
    summary.producerId,
    summary.producerEpoch,
    summary.baseSequence,
    summary.lastSequence,
    summary.transactional,
  );
  if (check.kind === 'error') return error(index, check.errorCode, check.message);
  if (check.kind !== 'duplicate') return undefined;
  // A retry of one of the producer's last batches: its original offset, once that is durable.
  const b = check.batch;
  const result: PartitionResult = {
    index,
    errorCode: ErrorCode.NONE,
    baseOffset: b.firstOffset,
    logAppendTimeMs: -1,
    logStartOffset: log.logStartOffset,
    recordErrors: [],
    errorMessage: null,
  };
  return b.lastOffset < log.highWatermark ? result : { result, log, durable: log.waitDurable(b.lastOffset) };
}

/** Appends a checked batch, records it in its producer's state, and answers once it is durable. */
function appendChecked(
  s: BrokerServices,
  index: number,
  log: PartitionLog,
  records: Buffer,
  summary: RecordsSummary,
  nowMs: number,
  logAppendTime: boolean,
  producers: ProducerStateManager | null,
): Pending {
  const { baseOffset, durable } = s.logs.append(
    log,
    records,
    summary.batchCount,
    logAppendTime ? nowMs : null,
    logAppendTime ? patchLogAppendTime : patchCreateTime,
  );
  if (producers !== null) {
    producers.maybeExpire(nowMs, log.logStartOffset);
    producers.update(
      summary.producerId,
      summary.producerEpoch,
      summary.baseSequence,
      summary.lastSequence,
      baseOffset,
      baseOffset + summary.recordCount - 1,
      logAppendTime ? nowMs : summary.maxTimestampMs,
      summary.transactional,
    );
  }
  return {
    result: {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset,
      logAppendTimeMs: logAppendTime ? nowMs : -1,
      logStartOffset: log.logStartOffset,
      recordErrors: [],
      errorMessage: null,
    },
    log,
    durable,
  };
}

export const produceHandler: ApiHandler<typeof ApiKey.Produce> = {
  apiKey: ApiKey.Produce,
  // v0-v2 stay advertised for old clients (as Apache Kafka 4 does); they must carry magic-2 batches too.
  minVersion: 0,
  maxVersion: 11,
  // A connection's batches are appended in the order they were sent, whatever each request waits for first
  // (buffer room, a producer-state rebuild, KIP-890 verification): pipelined idempotent batches stay in sequence.
  ordered: true,
  async handle(ctx: RequestContext, req: ProduceRequest): Promise<ProduceResponseInput | null> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const acks = req.acks;
    const summary = new RecordsSummary();
    const responses: ProduceResponseTopicProduceResponseInput[] = [];
    const waits: Pending[] = [];
    const badAcks = acks !== 0 && acks !== 1 && acks !== -1;
    // Object store unavailable: fail fast with a retriable error instead of queueing writes that cannot land.
    const storage = s.storageHealth.state;
    if (storage === 'unavailable' && !badAcks) return storageUnavailable(req, s.storageHealth.stateReason);
    // Memory bound: wait (up to the request timeout) while too many appended bytes are not yet durable.
    const room = badAcks || (await s.logs.flusher.waitForRoom(s.config.flushMaxPendingBytes, Math.max(0, req.timeoutMs)));
    // Transactional producers only (one null check otherwise): KIP-890 verification of a transaction's first batches.
    const verifying = room && !badAcks && req.transactionalId !== null && s.config.transactionPartitionVerificationEnable;
    const verification = verifying ? await verifyTransactional(s, req) : null;
    // The time of the append (timestamp checks, LogAppendTime), taken after the waits above, as Kafka's clock at
    // its append; again after a producer-state rebuild.
    let nowMs = Date.now();
    for (const td of req.topicData) {
      const topic = s.topics.byName(td.name);
      const partitionResponses: PartitionResult[] = [];
      for (const pd of td.partitionData) {
        if (badAcks) partitionResponses.push(error(pd.index, ErrorCode.INVALID_REQUIRED_ACKS));
        else if (!room)
          partitionResponses.push(
            error(pd.index, ErrorCode.REQUEST_TIMED_OUT, 'The broker is waiting for the object store to absorb earlier writes'),
          );
        else if (!topic) partitionResponses.push(error(pd.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        else {
          const verified = verification?.get(partitionKey(td.name, pd.index));
          if (verified !== undefined && 'errorCode' in verified) {
            partitionResponses.push(error(pd.index, verified.errorCode, verified.message));
            continue;
          }
          // An idempotent batch for a partition whose producer state is not rebuilt yet (first one since start):
          // rebuild it first. Rare, so the common path stays synchronous.
          const rebuilding = peekProducerId(pd.records) >= 0 ? ensureProducerState(s, topic, pd.index) : null;
          if (rebuilding !== null) {
            await rebuilding;
            nowMs = Date.now();
          }
          const r = appendPartition(s, v, topic, pd.index, pd.records, summary, nowMs, verifying, verified);
          if ('durable' in r) {
            waits.push(r);
            partitionResponses.push(r.result);
          } else {
            partitionResponses.push(r);
          }
        }
      }
      responses.push({ name: td.name, partitionResponses });
    }
    // Appended: the connection's next Produce may append behind these batches while they become durable.
    ctx.applied();
    if (acks === 0) {
      for (const w of waits) w.durable.catch(() => {});
      return null;
    }
    if (waits.length > 0) await waitAll(waits, req.timeoutMs, ctx.signal, s.storageHealth);
    // Degraded object store: accept, but ask clients to slow down (KIP-219 throttling).
    const response: ProduceResponseInput = { responses, throttleTimeMs: storage === 'degraded' ? degradedThrottleMs : 0 };
    if (v >= firstLeaderHintProduceVersion) addLeaderHints(s, response);
    return response;
  },
};

/** A transactional batch the coordinator said is in its producer's transaction, and the guard taken before asking. */
interface Verified {
  producers: ProducerStateManager;
  producerId: number;
  guard: number;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

/**
 * KIP-890 part 1 (broker/txn/verification.ts): the first transactional batch of a producer's transaction in a
 * partition is verified with the transaction coordinator before it may open a transaction there. One request
 * per producer (epoch) for all of this request's partitions that need it. null when there is nothing to verify.
 */
async function verifyTransactional(
  s: BrokerServices,
  req: ProduceRequest,
): Promise<Map<string, Verified | { errorCode: number; message: string | null }> | null> {
  const transactionalId = req.transactionalId;
  if (transactionalId === null || !s.config.transactionPartitionVerificationEnable) return null;
  const byProducer = new Map<
    string,
    { producerId: number; producerEpoch: number; parts: { topic: string; partition: number; guard: Verified }[] }
  >();
  for (const td of req.topicData) {
    const topic = s.topics.byName(td.name);
    if (!topic) continue;
    for (const pd of td.partitionData) {
      const records = pd.records;
      if (records === null || records.length < BATCH_HEADER_BYTES || (readAttributes(records, 0) & ATTRIBUTE_TRANSACTIONAL) === 0) continue;
      const producerId = readProducerId(records, 0);
      if (producerId < 0 || pd.index < 0 || pd.index >= topic.partitions) continue;
      const log = s.logs.partition(topic.id, pd.index);
      if (!log || log.released) continue; // appendPartition answers these
      const rebuilding = ensureProducerState(s, topic, pd.index);
      if (rebuilding !== null) await rebuilding;
      const producers = log.producerState;
      const producerEpoch = readProducerEpoch(records, 0);
      if (producers === null || producers.hasOngoingTxn(producerId, producerEpoch)) continue;
      const k = `${producerId}:${producerEpoch}`;
      let g = byProducer.get(k);
      if (!g) byProducer.set(k, (g = { producerId, producerEpoch, parts: [] }));
      // The guard, taken now (before any await), is compared again at the append.
      g.parts.push({
        topic: td.name,
        partition: pd.index,
        guard: { producers, producerId, guard: producers.verificationGuard(producerId) },
      });
    }
  }
  if (byProducer.size === 0) return null;
  const out = new Map<string, Verified | { errorCode: number; message: string | null }>();
  await Promise.all(
    [...byProducer.values()].map(async (g) => {
      const codes = await s.txn.verify(
        transactionalId,
        g.producerId,
        g.producerEpoch,
        g.parts.map((p) => ({ topic: p.topic, partition: p.partition })),
      );
      g.parts.forEach((p, i) =>
        out.set(partitionKey(p.topic, p.partition), codes[i] === ErrorCode.NONE ? p.guard : produceErrorForVerification(codes[i]!)),
      );
    }),
  );
  return out;
}

/** Produce v10 carries KIP-951's current_leader and node_endpoints. */
const firstLeaderHintProduceVersion = 10;

function addLeaderHints(s: BrokerServices, response: ProduceResponseInput): void {
  let hints: LeaderHints | null = null;
  for (const td of response.responses!) {
    for (const pr of td.partitionResponses!) {
      if (pr.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) continue;
      const topic = s.topics.byName(td.name!);
      if (!topic) continue;
      hints ??= new LeaderHints(s);
      pr.currentLeader = hints.leader(topic.id, pr.index!);
    }
  }
  if (hints) response.nodeEndpoints = hints.endpoints();
}

/** Rebuilds the partition's producer state when it has none yet; null (no promise, no await) when there is nothing to do. */
function ensureProducerState(s: BrokerServices, topic: TopicRecord, index: number): Promise<void> | null {
  const log = index >= 0 && index < topic.partitions ? s.logs.partition(topic.id, index) : undefined;
  if (log === undefined || log.producerState !== null) return null;
  return rebuildProducerState(s, topic, index, log);
}

async function rebuildProducerState(s: BrokerServices, topic: TopicRecord, index: number, log: PartitionLog): Promise<void> {
  const settings: ProducerStateSettings = {
    expirationMs: s.config.producerIdExpirationMs,
    maxProducers: s.config.producerStateMaxProducers,
  };
  try {
    await producerStateOf(log, (l, offset, maxBytes, minOne, end) => s.logs.read(l, offset, maxBytes, minOne, end), settings);
  } catch (err) {
    // The log could not be read (object store trouble): this batch gets a retriable error, the retry rebuilds.
    s.logger.warn({ err, topic: topic.name, partition: index }, 'rebuilding producer state failed');
  }
}

function storageUnavailable(req: ProduceRequest, reason: string): ProduceResponseInput | null {
  if (req.acks === 0) return null;
  const message = `The object store is unavailable (${reason}); retry later`;
  return {
    throttleTimeMs: 0,
    responses: req.topicData.map((td) => ({
      name: td.name,
      partitionResponses: td.partitionData.map((pd) => error(pd.index, ErrorCode.NOT_ENOUGH_REPLICAS, message)),
    })),
  };
}

/** Waits for every append to be durable, for at most `timeoutMs`; late or failed ones get their error code. */
async function waitAll(waits: Pending[], timeoutMs: number, signal: AbortSignal, health: ObjectStoreHealth): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs))));
  let onAbort: () => void = () => {};
  const aborted = new Promise<'timeout'>((resolve) => {
    onAbort = () => resolve('timeout');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Writes waiting when the object store becomes unavailable are answered at once with a retriable error
  // (they may still become durable later, as after a timeout), instead of holding the client until its timeout.
  let stopWatching = () => {};
  const unavailable = new Promise<'unavailable'>((resolve) => {
    stopWatching = health.onTransition((tr) => {
      if (tr.to === 'unavailable') resolve('unavailable');
    });
  });
  try {
    await Promise.all(
      waits.map(async (w) => {
        try {
          const outcome = await Promise.race([w.durable.then(() => 'ok' as const), timedOut, aborted, unavailable]);
          if (outcome === 'timeout')
            Object.assign(w.result, {
              errorCode: ErrorCode.REQUEST_TIMED_OUT,
              baseOffset: -1,
              errorMessage: 'The batch was not durable within the request timeout',
            });
          if (outcome === 'unavailable')
            Object.assign(w.result, {
              errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
              baseOffset: -1,
              errorMessage: `The object store became unavailable (${health.stateReason}); retry later`,
            });
        } catch (e) {
          Object.assign(w.result, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, baseOffset: -1, errorMessage: (e as Error).message });
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    stopWatching();
    signal.removeEventListener('abort', onAbort);
  }
}
