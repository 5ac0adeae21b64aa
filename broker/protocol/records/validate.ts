// Produce-path validation of a partition's `records` bytes: header checks and CRC-32C for every
// batch, never decompressing. Mirrors the checks (and error codes) Apache Kafka applies to a client
// Produce request, in Kafka's order:
//   ProduceRequest.validateRecords          (clients/.../common/requests/ProduceRequest.java)
//   ByteBufferLogInputStream.nextBatch      (clients/.../common/record/ByteBufferLogInputStream.java)
//   UnifiedLog.analyzeAndValidateRecords    (core/.../kafka/log/UnifiedLog.scala)
//   LogValidator.validateBatch              (storage/.../internals/log/LogValidator.java)
// Record-level checks that need the records themselves are not done here: per-record timestamps are
// validateRecordTimestamps' (timestamps.ts); compacted-topic keys are not checked.
//
// Message formats v0 and v1 (magic 0/1) are rejected with INVALID_RECORD (87). Kafka 4.0 removed
// Produce v0-v2 (KIP-896; ProduceRequest.json "validVersions": "3-…", v0-v2 only still listed in
// ApiVersions for librdkafka, KAFKA-18659), and for v3+ ProduceRequest.validateRecords throws
// InvalidRecordException("Produce requests with version N are only allowed to contain record batches
// with magic version 2"), which KafkaApis.handleProduceRequest turns into a per-partition
// Errors.forException(e) = INVALID_RECORD.
import { ErrorCode } from '../errors.ts';
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_BASE_TIMESTAMP_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_HEADER_BYTES_UP_TO_MAGIC,
  BATCH_LAST_OFFSET_DELTA_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_OFFSET,
  BATCH_MAX_TIMESTAMP_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  CompressionCodec,
  LEGACY_RECORD_OVERHEAD_V0_BYTES,
  MAGIC_V2,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  RECORD_MIN_BYTES,
} from './constants.ts';
import { readInt64 } from './bytes.ts';
import { computeBatchCrc } from './crc.ts';
import { lastSequenceOf } from './batch-header.ts';
import { corruptMessage, invalidRecord, RecordsError, RecordsErrorReason } from './records-error.ts';

export interface ValidateLimits {
  /** Largest batch accepted, header included: the topic's max.message.bytes. Above: MESSAGE_TOO_LARGE. */
  readonly maxBatchBytes: number;
  /** Most batches in one `records` field. Kafka's Produce (v3+) allows exactly 1. Above: INVALID_RECORD. */
  readonly maxBatchCount: number;
  /**
   * Most records one batch may declare. Not a Kafka check: a compressed batch is not inflated here, so
   * this bounds how much offset space one batch can claim. Above: INVALID_RECORD.
   */
  readonly maxRecordsPerBatch: number;
  /** Accept control batches (broker-internal appends of transaction markers). Default false: INVALID_RECORD. */
  readonly allowControlBatches?: boolean;
}

/**
 * What validateRecords learned. Reusable: pass the same instance to every call to avoid allocation.
 * Producer fields come from the first batch, `lastSequence` from the last (Produce has one batch).
 */
export class RecordsSummary {
  batchCount = 0;
  recordCount = 0;
  /** Bytes of all batches (equals the input length on success). */
  totalBytes = 0;
  /** baseTimestamp of the first batch: the first record's CreateTime for standard producers. */
  firstTimestampMs = NO_TIMESTAMP;
  /**
   * maxTimestamp of the last batch (the last record's timestamp is not known without decoding records). As
   * the producer sent it; validateRecordTimestamps (timestamps.ts) replaces it with the one from the records.
   */
  lastTimestampMs = NO_TIMESTAMP;
  /** Largest maxTimestamp of all batches (as sent; see lastTimestampMs). */
  maxTimestampMs = NO_TIMESTAMP;
  producerId = NO_PRODUCER_ID;
  producerEpoch = NO_PRODUCER_EPOCH;
  baseSequence = NO_SEQUENCE;
  lastSequence = NO_SEQUENCE;
  /** First batch is transactional. */
  transactional = false;
  /** Some batch is a control batch (only possible with allowControlBatches). */
  control = false;
  /** Some batch has the LogAppendTime timestamp-type bit set (clients normally send CreateTime). */
  logAppendTime = false;
  /**
   * Codec of the last compressed batch, 0 when none is compressed (Kafka's sourceCompression). The
   * caller rejects ZSTD for Produce v3-v6 with UNSUPPORTED_COMPRESSION_TYPE, as Kafka does.
   */
  compression = CompressionCodec.NONE as number;

  reset(): this {
    this.batchCount = 0;
    this.recordCount = 0;
    this.totalBytes = 0;
    this.firstTimestampMs = NO_TIMESTAMP;
    this.lastTimestampMs = NO_TIMESTAMP;
    this.maxTimestampMs = NO_TIMESTAMP;
    this.producerId = NO_PRODUCER_ID;
    this.producerEpoch = NO_PRODUCER_EPOCH;
    this.baseSequence = NO_SEQUENCE;
    this.lastSequence = NO_SEQUENCE;
    this.transactional = false;
    this.control = false;
    this.logAppendTime = false;
    this.compression = CompressionCodec.NONE;
    return this;
  }
}

function assertLimits(limits: ValidateLimits): void {
  if (!(Number.isSafeInteger(limits.maxBatchBytes) && limits.maxBatchBytes >= BATCH_HEADER_BYTES)) {
    throw new RangeError(`maxBatchBytes must be an integer >= ${BATCH_HEADER_BYTES}, got ${limits.maxBatchBytes}`);
  }
  if (!(Number.isSafeInteger(limits.maxBatchCount) && limits.maxBatchCount >= 1)) {
    throw new RangeError(`maxBatchCount must be an integer >= 1, got ${limits.maxBatchCount}`);
  }
  if (!(Number.isSafeInteger(limits.maxRecordsPerBatch) && limits.maxRecordsPerBatch >= 1)) {
    throw new RangeError(`maxRecordsPerBatch must be an integer >= 1, got ${limits.maxRecordsPerBatch}`);
  }
}

/** Bytes that cannot hold a complete batch: before the first batch Kafka sees "no batch", after it trailing junk. */
function incomplete(summary: RecordsSummary, position: number, detail: string): RecordsError {
  if (summary.batchCount === 0) {
    return invalidRecord(RecordsErrorReason.NO_BATCH, position, `records hold no complete record batch (${detail})`);
  }
  return corruptMessage(RecordsErrorReason.TRAILING_BYTES, position, `incomplete record batch after the last complete one (${detail})`);
}

/**
 * Validates every batch of a Produce request's `records` for one partition, without decompressing.
 * Returns `summary` filled in; throws RecordsError (a KafkaError) carrying the Kafka error code.
 */
export function validateRecords(records: Buffer, limits: ValidateLimits, summary: RecordsSummary = new RecordsSummary()): RecordsSummary {
  assertLimits(limits);
  summary.reset();
  let position = 0;
  while (position < records.length) {
    const batchEnd = position + checkFraming(records, position, limits, summary);
    checkBatch(records, position, batchEnd, limits);
    summarizeBatch(records, position, batchEnd, summary);
    position = batchEnd;
  }
  if (summary.batchCount === 0) throw invalidRecord(RecordsErrorReason.NO_BATCH, 0, 'records hold no record batch');
  return summary;
}

/**
 * The batch at `position`: size, magic and completeness (ByteBufferLogInputStream), then magic 2 and the batch
 * count (ProduceRequest.validateRecords). Returns its size in bytes.
 */
function checkFraming(records: Buffer, position: number, limits: ValidateLimits, summary: RecordsSummary): number {
  const recordsBytes = records.length;
  const remainingBytes = recordsBytes - position;
  // -- framing (ByteBufferLogInputStream): size, magic, completeness
  if (remainingBytes < BATCH_LOG_OVERHEAD_BYTES) throw incomplete(summary, position, `${remainingBytes} bytes remain`);
  const batchLength = records.readInt32BE(position + BATCH_LENGTH_OFFSET);
  if (batchLength < LEGACY_RECORD_OVERHEAD_V0_BYTES) {
    throw corruptMessage(
      RecordsErrorReason.BATCH_LENGTH_TOO_SMALL,
      position,
      `batchLength ${batchLength} is below the minimum ${LEGACY_RECORD_OVERHEAD_V0_BYTES}`,
    );
  }
  if (remainingBytes < BATCH_HEADER_BYTES_UP_TO_MAGIC) throw incomplete(summary, position, `${remainingBytes} bytes remain`);
  const magic = records.readInt8(position + BATCH_MAGIC_OFFSET);
  if (magic < 0 || magic > MAGIC_V2) throw corruptMessage(RecordsErrorReason.INVALID_MAGIC, position, `invalid magic ${magic}`);
  if (batchLength > remainingBytes - BATCH_LOG_OVERHEAD_BYTES) {
    throw incomplete(summary, position, `batchLength ${batchLength} but ${remainingBytes - BATCH_LOG_OVERHEAD_BYTES} bytes remain`);
  }
  // -- ProduceRequest.validateRecords: magic 2 only, batch count
  if (magic !== MAGIC_V2) {
    throw invalidRecord(
      RecordsErrorReason.UNSUPPORTED_MAGIC,
      position,
      `record batches must have magic 2; message format v${magic} is not supported`,
    );
  }
  if (summary.batchCount >= limits.maxBatchCount) {
    throw invalidRecord(
      RecordsErrorReason.TOO_MANY_BATCHES,
      position,
      `more than ${limits.maxBatchCount} record batch(es) for one partition`,
    );
  }
  return BATCH_LOG_OVERHEAD_BYTES + batchLength;
}

/** The batch's header against UnifiedLog.analyzeAndValidateRecords and LogValidator.validateBatch (origin CLIENT). */
function checkBatch(records: Buffer, position: number, batchEnd: number, limits: ValidateLimits): void {
  const batchBytes = batchEnd - position;
  // -- UnifiedLog.analyzeAndValidateRecords: baseOffset 0, size limit, CRC, codec
  if (records.readInt32BE(position) !== 0 || records.readInt32BE(position + 4) !== 0) {
    throw invalidRecord(RecordsErrorReason.INVALID_BASE_OFFSET, position, `baseOffset must be 0, got ${readInt64(records, position)}`);
  }
  if (batchBytes > limits.maxBatchBytes) {
    throw new RecordsError(
      ErrorCode.MESSAGE_TOO_LARGE,
      RecordsErrorReason.BATCH_TOO_LARGE,
      position,
      `record batch of ${batchBytes} bytes exceeds maxBatchBytes=${limits.maxBatchBytes}`,
    );
  }
  if (batchBytes < BATCH_HEADER_BYTES) {
    throw corruptMessage(
      RecordsErrorReason.BATCH_TRUNCATED,
      position,
      `record batch of ${batchBytes} bytes is smaller than the ${BATCH_HEADER_BYTES}-byte header`,
    );
  }
  const storedCrc = records.readUInt32BE(position + BATCH_CRC_OFFSET);
  const computedCrc = computeBatchCrc(records, position, batchEnd);
  if (storedCrc !== computedCrc) {
    throw corruptMessage(
      RecordsErrorReason.CRC_MISMATCH,
      position,
      `record batch is corrupt (stored crc = ${storedCrc}, computed crc = ${computedCrc})`,
    );
  }
  const attributes = records.readInt16BE(position + BATCH_ATTRIBUTES_OFFSET);
  const compression = attributes & ATTRIBUTE_COMPRESSION_MASK;
  if (compression > CompressionCodec.ZSTD) {
    // Kafka: CompressionType.forId throws IllegalArgumentException, answered as UNKNOWN_SERVER_ERROR.
    throw new RecordsError(
      ErrorCode.UNKNOWN_SERVER_ERROR,
      RecordsErrorReason.UNKNOWN_COMPRESSION,
      position,
      `unknown compression type id ${compression}`,
    );
  }
  // -- LogValidator.validateBatch (origin CLIENT)
  checkRecordCount(records, position, batchBytes, compression, limits);
  const control = (attributes & ATTRIBUTE_CONTROL) !== 0;
  if (control && limits.allowControlBatches !== true) {
    throw invalidRecord(RecordsErrorReason.CONTROL_BATCH_FROM_CLIENT, position, 'clients are not allowed to write control records');
  }
  const producerId = readInt64(records, position + BATCH_PRODUCER_ID_OFFSET);
  const baseSequence = records.readInt32BE(position + BATCH_BASE_SEQUENCE_OFFSET);
  // Control batches (markers, written by the coordinator path) carry no sequence.
  if (producerId >= 0 && baseSequence < 0 && !control) {
    throw invalidRecord(
      RecordsErrorReason.INVALID_SEQUENCE,
      position,
      `invalid sequence number ${baseSequence} for producerId ${producerId}`,
    );
  }
}

/** The batch's record count against its last offset delta, the limit and (uncompressed) its size. */
function checkRecordCount(records: Buffer, position: number, batchBytes: number, compression: number, limits: ValidateLimits): void {
  const lastOffsetDelta = records.readInt32BE(position + BATCH_LAST_OFFSET_DELTA_OFFSET);
  const recordCount = records.readInt32BE(position + BATCH_RECORD_COUNT_OFFSET);
  if (lastOffsetDelta < 0 || recordCount <= 0 || recordCount !== lastOffsetDelta + 1) {
    throw invalidRecord(
      RecordsErrorReason.INVALID_RECORD_COUNT,
      position,
      `inconsistent lastOffsetDelta ${lastOffsetDelta} and record count ${recordCount}`,
    );
  }
  if (recordCount > limits.maxRecordsPerBatch) {
    throw invalidRecord(
      RecordsErrorReason.INVALID_RECORD_COUNT,
      position,
      `record count ${recordCount} exceeds maxRecordsPerBatch=${limits.maxRecordsPerBatch}`,
    );
  }
  if (compression === CompressionCodec.NONE && recordCount > (batchBytes - BATCH_HEADER_BYTES) / RECORD_MIN_BYTES) {
    throw invalidRecord(
      RecordsErrorReason.INVALID_RECORD_COUNT,
      position,
      `record count ${recordCount} cannot fit in ${batchBytes - BATCH_HEADER_BYTES} bytes of records`,
    );
  }
}

/** Adds the batch to `summary`. */
function summarizeBatch(records: Buffer, position: number, batchEnd: number, summary: RecordsSummary): void {
  const attributes = records.readInt16BE(position + BATCH_ATTRIBUTES_OFFSET);
  const compression = attributes & ATTRIBUTE_COMPRESSION_MASK;
  const control = (attributes & ATTRIBUTE_CONTROL) !== 0;
  const lastOffsetDelta = records.readInt32BE(position + BATCH_LAST_OFFSET_DELTA_OFFSET);
  const recordCount = records.readInt32BE(position + BATCH_RECORD_COUNT_OFFSET);
  const producerId = readInt64(records, position + BATCH_PRODUCER_ID_OFFSET);
  const baseSequence = records.readInt32BE(position + BATCH_BASE_SEQUENCE_OFFSET);
  const maxTimestampMs = readInt64(records, position + BATCH_MAX_TIMESTAMP_OFFSET);
  if (summary.batchCount === 0) {
    summary.firstTimestampMs = readInt64(records, position + BATCH_BASE_TIMESTAMP_OFFSET);
    summary.producerId = producerId;
    summary.producerEpoch = records.readInt16BE(position + BATCH_PRODUCER_EPOCH_OFFSET);
    summary.baseSequence = baseSequence;
    summary.transactional = (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
  }
  summary.lastSequence = lastSequenceOf(baseSequence, lastOffsetDelta);
  summary.lastTimestampMs = maxTimestampMs;
  if (maxTimestampMs > summary.maxTimestampMs) summary.maxTimestampMs = maxTimestampMs;
  if ((attributes & ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME) !== 0) summary.logAppendTime = true;
  if (control) summary.control = true;
  if (compression !== CompressionCodec.NONE) summary.compression = compression;
  summary.batchCount++;
  summary.recordCount += recordCount;
  summary.totalBytes += batchEnd - position;
}
