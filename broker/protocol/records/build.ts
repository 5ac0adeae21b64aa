// Building complete magic-2 record batches (lengths, offsets deltas, timestamps, CRC).
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_OFFSET_OFFSET,
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LAST_OFFSET_DELTA_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_OFFSET,
  BATCH_MAX_TIMESTAMP_OFFSET,
  BATCH_PARTITION_LEADER_EPOCH_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  BATCH_RECORDS_OFFSET,
  CompressionCodec,
  INT16_MAX,
  INT16_MIN,
  INT32_MAX,
  INT32_MIN,
  isCompressionCodecId,
  MAGIC_V2,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
} from './constants.ts';
import type { CompressionCodecId } from './constants.ts';
import { sizeOfVarint, sizeOfVarlong, writeInt64, writeVarint, writeVarlong } from './bytes.ts';
import { compressRecords } from './compression.ts';
import { writeBatchCrc } from './crc.ts';

export interface RecordHeaderInput {
  /** Header keys are UTF-8 strings in Kafka; bytes are written as given. */
  readonly key: string | Uint8Array;
  readonly value: Uint8Array | null;
}

export interface RecordInput {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: readonly RecordHeaderInput[];
  readonly timestampMs: number;
}

export interface BuildBatchOptions {
  /** Default CompressionCodec.NONE. */
  readonly compression?: CompressionCodecId;
  /** Default 0 (what clients send; the leader assigns the real one). */
  readonly baseOffset?: number;
  /** Default -1 (NO_PARTITION_LEADER_EPOCH). */
  readonly partitionLeaderEpoch?: number;
  /** Default -1 (not idempotent). */
  readonly producerId?: number;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly transactional?: boolean;
  readonly control?: boolean;
  /** When set, the batch is LogAppendTime and maxTimestamp is this value. Otherwise CreateTime. */
  readonly logAppendTimeMs?: number;
  /**
   * Writes this maxTimestamp into the header instead of the one computed from the records: NO_TIMESTAMP (-1)
   * as Sarama 1.22 sends it, or a wrong value (tests of the broker's correction). Record timestamps are kept.
   */
  readonly maxTimestampMs?: number;
}

function assertIntegerIn(name: string, value: number, min: number, max: number): void {
  if (!(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function headerKeyBytes(key: string | Uint8Array): number {
  return typeof key === 'string' ? Buffer.byteLength(key, 'utf8') : key.length;
}

function sizeOfBytesField(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

function writeBytesField(buffer: Buffer, position: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(buffer, position, -1);
  position = writeVarint(buffer, position, bytes.length);
  buffer.set(bytes, position);
  return position + bytes.length;
}

function recordBodyBytes(record: RecordInput, offsetDelta: number, timestampDelta: number): number {
  let bytes = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  bytes += sizeOfBytesField(record.key) + sizeOfBytesField(record.value);
  const headers = record.headers;
  const headerCount = headers === undefined ? 0 : headers.length;
  bytes += sizeOfVarint(headerCount);
  for (let index = 0; index < headerCount; index++) {
    const header = headers![index]!;
    const keyBytes = headerKeyBytes(header.key);
    bytes += sizeOfVarint(keyBytes) + keyBytes + sizeOfBytesField(header.value);
  }
  return bytes;
}

function writeRecord(
  buffer: Buffer,
  position: number,
  record: RecordInput,
  bodyBytes: number,
  offsetDelta: number,
  timestampDelta: number,
): number {
  const start = position;
  position = writeVarint(buffer, position, bodyBytes);
  const bodyStart = position;
  buffer[position++] = 0; // attributes: unused in magic 2
  position = writeVarlong(buffer, position, timestampDelta);
  position = writeVarint(buffer, position, offsetDelta);
  position = writeBytesField(buffer, position, record.key);
  position = writeBytesField(buffer, position, record.value);
  const headers = record.headers;
  const headerCount = headers === undefined ? 0 : headers.length;
  position = writeVarint(buffer, position, headerCount);
  for (let index = 0; index < headerCount; index++) {
    const header = headers![index]!;
    if (typeof header.key === 'string') {
      const keyBytes = Buffer.byteLength(header.key, 'utf8');
      position = writeVarint(buffer, position, keyBytes);
      position += buffer.write(header.key, position, keyBytes, 'utf8');
    } else {
      position = writeBytesField(buffer, position, header.key);
    }
    position = writeBytesField(buffer, position, header.value);
  }
  if (position - bodyStart !== bodyBytes)
    throw new Error(`record size mismatch at ${start}: wrote ${position - bodyStart}, sized ${bodyBytes}`);
  return position;
}

/**
 * Builds one complete batch holding `records` (offset deltas 0..n-1, baseTimestamp = the first
 * record's timestamp), compressed with `options.compression`, with correct lengths and CRC.
 */
export function buildRecordBatch(records: readonly RecordInput[], options: BuildBatchOptions = {}): Buffer {
  const recordCount = records.length;
  assertIntegerIn('record count', recordCount, 1, INT32_MAX);
  const compression = options.compression ?? CompressionCodec.NONE;
  if (!isCompressionCodecId(compression)) throw new RangeError(`unknown compression codec ${compression as number}`);
  const baseOffset = options.baseOffset ?? 0;
  if (!(Number.isSafeInteger(baseOffset) && baseOffset >= 0)) throw new RangeError(`invalid baseOffset ${baseOffset}`);
  const partitionLeaderEpoch = options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH;
  assertIntegerIn('partitionLeaderEpoch', partitionLeaderEpoch, INT32_MIN, INT32_MAX);
  const producerId = options.producerId ?? NO_PRODUCER_ID;
  if (!(Number.isSafeInteger(producerId) && producerId >= -1)) throw new RangeError(`invalid producerId ${producerId}`);
  const producerEpoch = options.producerEpoch ?? NO_PRODUCER_EPOCH;
  assertIntegerIn('producerEpoch', producerEpoch, INT16_MIN, INT16_MAX);
  const baseSequence = options.baseSequence ?? NO_SEQUENCE;
  assertIntegerIn('baseSequence', baseSequence, INT32_MIN, INT32_MAX);

  const baseTimestampMs = records[0]!.timestampMs;
  let maxTimestampMs = baseTimestampMs;
  const bodyBytesByRecord = new Array<number>(recordCount);
  let recordsBytes = 0;
  for (let index = 0; index < recordCount; index++) {
    const record = records[index]!;
    if (!Number.isSafeInteger(record.timestampMs)) throw new RangeError(`record ${index}: invalid timestampMs ${record.timestampMs}`);
    if (record.timestampMs > maxTimestampMs) maxTimestampMs = record.timestampMs;
    const bodyBytes = recordBodyBytes(record, index, record.timestampMs - baseTimestampMs);
    bodyBytesByRecord[index] = bodyBytes;
    recordsBytes += sizeOfVarint(bodyBytes) + bodyBytes;
    if (recordsBytes > INT32_MAX) throw new RangeError('records exceed 2 GiB');
  }

  let attributes = compression;
  if (options.transactional === true) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (options.control === true) attributes |= ATTRIBUTE_CONTROL;
  if (options.logAppendTimeMs !== undefined) {
    if (!Number.isSafeInteger(options.logAppendTimeMs)) throw new RangeError(`invalid logAppendTimeMs ${options.logAppendTimeMs}`);
    attributes |= ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME;
    maxTimestampMs = options.logAppendTimeMs;
  }
  if (options.maxTimestampMs !== undefined) {
    if (!Number.isSafeInteger(options.maxTimestampMs)) throw new RangeError(`invalid maxTimestampMs ${options.maxTimestampMs}`);
    maxTimestampMs = options.maxTimestampMs;
  }

  let batch: Buffer;
  if (compression === CompressionCodec.NONE) {
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes);
    writeRecords(batch, BATCH_RECORDS_OFFSET, records, bodyBytesByRecord, baseTimestampMs);
  } else {
    const uncompressed = Buffer.allocUnsafe(recordsBytes);
    writeRecords(uncompressed, 0, records, bodyBytesByRecord, baseTimestampMs);
    const compressed = compressRecords(compression, uncompressed);
    if (BATCH_HEADER_BYTES + compressed.length - BATCH_LOG_OVERHEAD_BYTES > INT32_MAX) throw new RangeError('batch exceeds 2 GiB');
    batch = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, BATCH_RECORDS_OFFSET);
  }
  writeInt64(batch, BATCH_BASE_OFFSET_OFFSET, baseOffset);
  batch.writeInt32BE(batch.length - BATCH_LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  batch.writeInt32BE(partitionLeaderEpoch, BATCH_PARTITION_LEADER_EPOCH_OFFSET);
  batch.writeInt8(MAGIC_V2, BATCH_MAGIC_OFFSET);
  batch.writeInt16BE(attributes, BATCH_ATTRIBUTES_OFFSET);
  batch.writeInt32BE(recordCount - 1, BATCH_LAST_OFFSET_DELTA_OFFSET);
  writeInt64(batch, BATCH_BASE_TIMESTAMP_OFFSET, baseTimestampMs);
  writeInt64(batch, BATCH_MAX_TIMESTAMP_OFFSET, maxTimestampMs);
  writeInt64(batch, BATCH_PRODUCER_ID_OFFSET, producerId);
  batch.writeInt16BE(producerEpoch, BATCH_PRODUCER_EPOCH_OFFSET);
  batch.writeInt32BE(baseSequence, BATCH_BASE_SEQUENCE_OFFSET);
  batch.writeInt32BE(recordCount, BATCH_RECORD_COUNT_OFFSET);
  writeBatchCrc(batch, 0, batch.length);
  return batch;
}

function writeRecords(
  buffer: Buffer,
  position: number,
  records: readonly RecordInput[],
  bodyBytesByRecord: readonly number[],
  baseTimestampMs: number,
): void {
  for (let index = 0; index < records.length; index++) {
    const record = records[index]!;
    position = writeRecord(buffer, position, record, bodyBytesByRecord[index]!, index, record.timestampMs - baseTimestampMs);
  }
  if (position !== buffer.length) throw new Error(`records size mismatch: wrote to ${position} of ${buffer.length}`);
}
