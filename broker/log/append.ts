// The partition write path: a producer's batch is checked (framing, size, codec, record timestamps), then its
// producer (idempotence, transactions, the KIP-890 guard), then given offsets and appended, and its producer's
// state updated, all in one synchronous step per partition, so no other append of the partition comes between
// the checks and the append (spec/producer-state.md). Transaction markers are appended the same way
// (spec/transactions.md). The Produce and WriteTxnMarkers handlers only map requests to these calls.
//
// Nothing here waits except the producer-state rebuild (loadProducerState, producerStateRebuild), which callers
// await before the append when there is one; the append answers with a promise that settles once it is durable.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.ts';
import type { DynamicallyConfigured } from '../config/dynamic-broker-keys.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import {
  BATCH_LOG_OVERHEAD_BYTES,
  CompressionCodec,
  RecordsSummary,
  assignOffsets,
  readBatchLength,
  setLogAppendTime,
  validateRecordTimestamps,
  validateRecords,
} from '../protocol/records/index.ts';
import { buildEndTxnMarkerBatch } from '../protocol/records/control.ts';
import { readAttributes, readProducerEpoch, readProducerId } from '../protocol/records/batch-header.ts';
import { ATTRIBUTE_TRANSACTIONAL, BATCH_HEADER_BYTES, ControlRecordType } from '../protocol/records/constants.ts';
import { BatchHeaderView } from '../protocol/records/batch-header.ts';
import { RecordCursor } from '../protocol/records/iterate.ts';
import { openBatchRecords } from '../protocol/records/read.ts';
import { maxRecordsPerBatch } from '../limits.ts';
import type { LogManager } from './log-manager.ts';
import type { PartitionLog } from './partition-log.ts';
import { producerStateOf } from './producer-state-load.ts';
import type { ProducerStateManager, ProducerStateSettings } from './producer-state.ts';
import { topicConfigValue, topicNumber } from './topic-config.ts';

/**
 * What the write path uses of the running broker; the handlers' BrokerServices satisfies it. `config` is read
 * at each call (dynamic broker configs replace it).
 */
export interface PartitionAppendServices {
  config: BrokerConfig & DynamicallyConfigured;
  logs: Pick<LogManager, 'append' | 'read' | 'fenced' | 'partition'>;
  logger: Logger;
}

/** What rebuilding a partition's producer state uses (a narrower PartitionAppendServices). */
export interface ProducerStateServices {
  config: Pick<BrokerConfig, 'producerIdExpirationMs' | 'producerStateMaxProducers'>;
  logs: Pick<LogManager, 'read'>;
  logger: Logger;
}

/** Kafka's Produce v3+ carries exactly one batch per partition. */
const maxBatchesPerPartition = 1;
/** A compressed batch is decompressed to check its records' timestamps: at most this much (as ListOffsets). */
const maxDecompressedProduceBytes = 64 * 1024 * 1024;
/** Most record errors in one partition's answer. */
const maxRecordErrors = 1000;

export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

/** A batch refused: Kafka's error code and message (and per-record errors for INVALID_TIMESTAMP). */
export interface AppendError {
  errorCode: number;
  message: string | null;
  recordErrors?: RecordError[];
}

/**
 * A batch appended (or a duplicate of one of its producer's last batches, answered with the original's base
 * offset and logAppendTimeMs -1). `durable` settles when it is durable; null when it already is.
 */
export interface Appended {
  errorCode: typeof ErrorCode.NONE;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  durable: Promise<void> | null;
}

export type AppendOutcome = AppendError | Appended;

/**
 * KIP-890 (broker/txn/verification.ts): the guard of a transactional batch whose partition the transaction
 * coordinator confirmed to be in the producer's transaction, taken (transactionGuard) before it was asked.
 */
export interface TxnGuard {
  readonly producers: ProducerStateManager;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly guard: number;
}

/**
 * How a transactional batch was verified before its append: `null` when verification is off for the request;
 * `'ongoing'` when it is on but was not needed (the producer's transaction was already open here, and must
 * still be); a TxnGuard when the coordinator confirmed it (the guard must be unchanged).
 */
export type TxnVerification = null | 'ongoing' | TxnGuard;

export interface AppendOptions {
  /** The time of the append: timestamp checks and LogAppendTime. */
  nowMs: number;
  /** ZStandard batches are accepted (Produce v7+, KIP-110). */
  allowZstd: boolean;
  verification: TxnVerification;
}

// The batch's figures, filled by validateRecords; only used within one synchronous append.
const summary = new RecordsSummary();

function refused(errorCode: number, message: string | null = null): AppendError {
  return { errorCode, message };
}

/**
 * Appends a producer's batch (one magic-2 batch, as sent) to partition `partition` of `topic`: Kafka's errors
 * for a partition this broker does not lead, a bad batch or a producer out of sequence; otherwise its offsets.
 * Synchronous: an idempotent batch's producer state must have been rebuilt first (producerStateRebuild).
 */
export function appendRecords(
  s: PartitionAppendServices,
  topic: TopicRecord,
  partition: number,
  records: Buffer | null,
  o: AppendOptions,
): AppendOutcome {
  if (partition < 0 || partition >= topic.partitions) return refused(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const log = s.logs.partition(topic.id, partition);
  // Another broker owns it (or it is being handed over): the client refreshes metadata and retries there.
  if (!log || log.released) return refused(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'This broker does not lead this partition');
  if (records === null || records.length === 0)
    return refused(ErrorCode.INVALID_RECORD, 'Produce requests must carry exactly one record batch');
  const logAppendTime = topicConfigValue(topic, 'message.timestamp.type', s.config) === 'LogAppendTime';
  const invalid = checkBatch(s, topic, partition, records, o, logAppendTime);
  if (invalid !== undefined) return invalid;
  if (s.logs.fenced) return refused(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'This broker can no longer write this partition');
  // Idempotent producer: check its epoch and sequence, synchronously with the append (spec/producer-state.md).
  const producers = summary.producerId >= 0 ? log.producerState : null;
  const settled = checkProducer(log, producers, o.verification);
  if (settled !== undefined) return settled;
  return appendChecked(s, log, records, o.nowMs, logAppendTime, producers);
}

/** The batch's framing, size, codec and record timestamps; an error, or undefined when it may be appended. */
function checkBatch(
  s: PartitionAppendServices,
  topic: TopicRecord,
  partition: number,
  records: Buffer,
  o: AppendOptions,
  logAppendTime: boolean,
): AppendError | undefined {
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
    if (summary.compression === CompressionCodec.ZSTD && !o.allowZstd) {
      return refused(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, 'ZStandard compression needs Produce v7 or later');
    }
    // Every record's timestamp, as Kafka's LogValidator checks them; on CreateTime topics each batch's
    // maxTimestamp is also set from its records (what the time index and retention then use).
    const invalid = validateRecordTimestamps(
      records,
      {
        nowMs: o.nowMs,
        logAppendTime,
        beforeMaxMs: topicNumber(topic, 'message.timestamp.before.max.ms', s.config),
        afterMaxMs: topicNumber(topic, 'message.timestamp.after.max.ms', s.config),
        maxDecompressedBytes: maxDecompressedProduceBytes,
        maxRecordErrors,
      },
      summary,
    );
    if (invalid === null) return compacted(topic, s) ? checkKeys(topic, partition, records) : undefined;
    return {
      errorCode: ErrorCode.INVALID_TIMESTAMP,
      message: invalid.message,
      recordErrors: invalid.errors.map((e) => ({ batchIndex: e.batchIndex, batchIndexErrorMessage: e.message })),
    };
  } catch (e) {
    if (e instanceof KafkaError) return refused(e.code, e.message);
    throw e;
  }
}

/** The topic is compacted (cleanup.policy compact or compact,delete; the values are validated to those two). */
function compacted(topic: TopicRecord, s: PartitionAppendServices): boolean {
  return topicConfigValue(topic, 'cleanup.policy', s.config).includes('compact');
}

const keyCursor = new RecordCursor();
const keyHeader = new BatchHeaderView();

/**
 * A compacted topic refuses records without a key, as Kafka's LogValidator does: INVALID_RECORD with one record
 * error per keyless record. Only compacted topics pay for looking at the records (decompressing them).
 */
function checkKeys(topic: TopicRecord, partition: number, records: Buffer): AppendError | undefined {
  let recordErrors: RecordError[] | undefined;
  let message = '';
  for (let pos = 0; pos < records.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(records, pos)) {
    openBatchRecords(records, pos, keyCursor, { maxDecompressedBytes: maxDecompressedProduceBytes, verifyCrc: false }, keyHeader);
    while (keyCursor.next()) {
      if (keyCursor.keyLength >= 0) continue;
      if (recordErrors === undefined) {
        recordErrors = [];
        message = `Compacted topic cannot accept message without key in topic partition ${topic.name}-${partition}.`;
      }
      if (recordErrors.length < maxRecordErrors) recordErrors.push({ batchIndex: keyCursor.index, batchIndexErrorMessage: message });
    }
  }
  return recordErrors === undefined ? undefined : { errorCode: ErrorCode.INVALID_RECORD, message, recordErrors };
}

/**
 * An idempotent or transactional batch against its producer's state: an error, the answer of a duplicate (a
 * retry of one of the producer's last batches), or undefined when it is new and in sequence.
 */
function checkProducer(
  log: PartitionLog,
  producers: ProducerStateManager | null,
  verification: TxnVerification,
): AppendOutcome | undefined {
  if (summary.producerId >= 0 && producers === null) {
    // Dropped again (appends abandoned) since the caller rebuilt it: retriable, the retry rebuilds it.
    return refused(ErrorCode.NOT_LEADER_OR_FOLLOWER, "The partition's producer state is being rebuilt; retry");
  }
  if (
    verification !== null && verification !== 'ongoing'
      ? producers !== verification.producers || producers.verificationGuard(verification.producerId) !== verification.guard
      : verification === 'ongoing' &&
        summary.transactional &&
        producers !== null &&
        !producers.hasOngoingTxn(summary.producerId, summary.producerEpoch)
  ) {
    // A marker of this producer came in while the coordinator was asked (the transaction it vouched for may be
    // over), or the open transaction that made verification unnecessary ended meanwhile. Retriable: the retry
    // is verified again.
    return refused(ErrorCode.NOT_ENOUGH_REPLICAS, "The producer's transaction changed while the partition was being verified; retry");
  }
  if (producers === null) return undefined;
  const check = producers.check(
    summary.producerId,
    summary.producerEpoch,
    summary.baseSequence,
    summary.lastSequence,
    summary.transactional,
  );
  if (check.kind === 'error') return refused(check.errorCode, check.message);
  if (check.kind !== 'duplicate') return undefined;
  // A retry of one of the producer's last batches: its original offset, once that is durable.
  const b = check.batch;
  return {
    errorCode: ErrorCode.NONE,
    baseOffset: b.firstOffset,
    logAppendTimeMs: -1,
    logStartOffset: log.logStartOffset,
    durable: b.lastOffset < log.highWatermark ? null : log.waitDurable(b.lastOffset),
  };
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

/** Appends a checked batch and records it in its producer's state. */
function appendChecked(
  s: PartitionAppendServices,
  log: PartitionLog,
  records: Buffer,
  nowMs: number,
  logAppendTime: boolean,
  producers: ProducerStateManager | null,
): Appended {
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
    errorCode: ErrorCode.NONE,
    baseOffset,
    logAppendTimeMs: logAppendTime ? nowMs : -1,
    logStartOffset: log.logStartOffset,
    durable,
  };
}

/**
 * KIP-890: the guard of a transactional batch (`records`, as sent) before its transaction coordinator is asked,
 * or null when there is nothing to verify: the batch is not transactional, its producer's transaction is
 * already open in the partition, or the partition is not led here or its producer state could not be rebuilt
 * (appendRecords answers those). Rebuilds the producer state first when needed.
 */
export async function transactionGuard(
  s: PartitionAppendServices,
  topic: TopicRecord,
  partition: number,
  records: Buffer | null,
): Promise<TxnGuard | null> {
  if (records === null || records.length < BATCH_HEADER_BYTES || (readAttributes(records, 0) & ATTRIBUTE_TRANSACTIONAL) === 0) return null;
  const producerId = readProducerId(records, 0);
  if (producerId < 0 || partition < 0 || partition >= topic.partitions) return null;
  const log = s.logs.partition(topic.id, partition);
  if (!log || log.released) return null;
  const rebuilding = producerStateRebuild(s, topic, partition);
  if (rebuilding !== null) await rebuilding;
  const producers = log.producerState;
  const producerEpoch = readProducerEpoch(records, 0);
  if (producers === null || producers.hasOngoingTxn(producerId, producerEpoch)) return null;
  // Taken now, before any await, and compared again at the append.
  return { producers, producerId, producerEpoch, guard: producers.verificationGuard(producerId) };
}

/**
 * Rebuilds the producer state of partition `partition` of `topic` when it has none yet (first idempotent batch
 * since start, or after abandoned appends); null (no promise, no await) when there is nothing to do, so the
 * common path stays synchronous. A failed rebuild is logged: the batch then gets a retriable error, the retry
 * rebuilds.
 */
export function producerStateRebuild(
  s: ProducerStateServices & { logs: Pick<LogManager, 'partition'> },
  topic: TopicRecord,
  partition: number,
): Promise<unknown> | null {
  const log = partition >= 0 && partition < topic.partitions ? s.logs.partition(topic.id, partition) : undefined;
  if (log === undefined || log.producerState !== null) return null;
  return loadProducerState(s, log);
}

/** The partition's producer state, rebuilt first if needed; null when the log cannot be read now (retriable). */
export async function loadProducerState(s: ProducerStateServices, log: PartitionLog): Promise<ProducerStateManager | null> {
  if (log.producerState !== null) return log.producerState;
  const settings: ProducerStateSettings = {
    expirationMs: s.config.producerIdExpirationMs,
    maxProducers: s.config.producerStateMaxProducers,
  };
  try {
    return await producerStateOf(log, (l, offset, maxBytes, minOne, end) => s.logs.read(l, offset, maxBytes, minOne, end), settings);
  } catch (err) {
    s.logger.warn({ err, topic: log.topicName, partition: log.partition }, 'rebuilding producer state failed');
    return null;
  }
}

/** A COMMIT or ABORT marker for a producer's transaction in a partition (WriteTxnMarkers). */
export interface MarkerWrite {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

function patchMarker(records: Buffer, baseOffset: number, leaderEpoch: number): void {
  assignOffsets(records, baseOffset, leaderEpoch);
}

/**
 * Appends a transaction marker to a partition this broker leads, its producer state rebuilt first. Kafka's
 * error for WriteTxnMarkers (NOT_LEADER_OR_FOLLOWER when the partition is not led here or the append was
 * refused; the producer state's refusal of a stale marker), or the promise that settles once it is durable.
 */
export async function appendMarker(
  s: ProducerStateServices & { logs: Pick<LogManager, 'append' | 'fenced'> },
  log: PartitionLog,
  m: MarkerWrite,
): Promise<{ errorCode: number; message: string | null } | { durable: Promise<void> }> {
  const notLeader = { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: null };
  if (log.released || s.logs.fenced) return notLeader;
  if ((await loadProducerState(s, log)) === null) return notLeader;
  // Synchronous from here to the append: no other append of the partition comes between the check and it.
  const producers = log.producerState;
  if (producers === null || log.released || s.logs.fenced) return notLeader;
  const stale = producers.checkMarker(m.producerId, m.producerEpoch, m.coordinatorEpoch);
  if (stale !== null) return stale;
  const nowMs = Date.now();
  const batch = buildEndTxnMarkerBatch({
    type: m.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
    coordinatorEpoch: m.coordinatorEpoch,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    timestampMs: nowMs,
  });
  try {
    const appended = s.logs.append(log, batch, 1, null, patchMarker);
    producers.completeTxn(m.producerId, m.producerEpoch, m.commit, m.coordinatorEpoch, appended.baseOffset, nowMs);
    return { durable: appended.durable };
  } catch {
    return notLeader;
  }
}
