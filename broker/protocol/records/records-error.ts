import { ErrorCode, KafkaError } from '../errors.ts';
import type { ErrorCodeValue } from '../errors.ts';

// Every way record data can be rejected, with the Kafka error code Apache Kafka answers for it.
// Sources (Apache Kafka, 3.9/4.x):
//   P  clients/.../requests/ProduceRequest.java validateRecords (called by KafkaApis.handleProduceRequest,
//      which answers Errors.forException(e) per partition)
//   S  clients/.../record/ByteBufferLogInputStream.java nextBatch / nextBatchSize
//   U  core/.../log/UnifiedLog.scala analyzeAndValidateRecords
//   V  storage/.../log/LogValidator.java validateBatch
//   R  clients/.../record/DefaultRecord.java readFrom, DefaultRecordBatch.java RecordIterator
export const RecordsErrorReason = {
  /** P: no complete batch at all ("must have at least one record batch per partition"). */
  NO_BATCH: 'no_batch',
  /** S: batchLength below the smallest legal size, before magic is even read. */
  BATCH_LENGTH_TOO_SMALL: 'batch_length_too_small',
  /** S: magic byte outside 0..2. */
  INVALID_MAGIC: 'invalid_magic',
  /** P: magic 0 or 1 (message formats removed in Kafka 4.0, KIP-724/KIP-896). */
  UNSUPPORTED_MAGIC: 'unsupported_magic',
  /** P: more batches than allowed (Kafka allows exactly one per partition in a Produce request). */
  TOO_MANY_BATCHES: 'too_many_batches',
  /** Not Kafka (it silently trims): bytes after the last complete batch. */
  TRAILING_BYTES: 'trailing_bytes',
  /** U: baseOffset of a client batch must be 0. */
  INVALID_BASE_OFFSET: 'invalid_base_offset',
  /** U: batch larger than max.message.bytes. */
  BATCH_TOO_LARGE: 'batch_too_large',
  /** U: batch shorter than the v2 header (DefaultRecordBatch.isValid). */
  BATCH_TRUNCATED: 'batch_truncated',
  /** U: CRC-32C mismatch. */
  CRC_MISMATCH: 'crc_mismatch',
  /** U: compression codec 5..7 (CompressionType.forId throws IllegalArgumentException → UNKNOWN_SERVER_ERROR). */
  UNKNOWN_COMPRESSION: 'unknown_compression',
  /** V: recordCount <= 0, lastOffsetDelta + 1 <= 0, or the two disagree; also more records than bytes can hold. */
  INVALID_RECORD_COUNT: 'invalid_record_count',
  /** V: clients may not write control batches. */
  CONTROL_BATCH_FROM_CLIENT: 'control_batch_from_client',
  /** V: producerId set but baseSequence negative. */
  INVALID_SEQUENCE: 'invalid_sequence',
  /** R: a record's framing is broken (varint, lengths, header count, size mismatch, premature end). */
  MALFORMED_RECORD: 'malformed_record',
  /** R: fewer or more records than recordCount says. */
  RECORD_COUNT_MISMATCH: 'record_count_mismatch',
  /** Compressed stream cannot be decoded. */
  DECOMPRESSION_FAILED: 'decompression_failed',
  /** Not Kafka: decompressed output would exceed maxDecompressedBytes. */
  DECOMPRESSED_TOO_LARGE: 'decompressed_too_large',
} as const;
export type RecordsErrorReasonId = (typeof RecordsErrorReason)[keyof typeof RecordsErrorReason];

/**
 * A typed rejection of record data. `code` is the Kafka error code to answer with; `reason` says which
 * check failed; `position` is the byte offset (in the buffer being read) where the problem was found.
 */
export class RecordsError extends KafkaError {
  readonly reason: RecordsErrorReasonId;
  readonly position: number;

  constructor(code: ErrorCodeValue, reason: RecordsErrorReasonId, position: number, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = 'RecordsError';
    this.reason = reason;
    this.position = position;
  }
}

export function corruptMessage(reason: RecordsErrorReasonId, position: number, message: string): RecordsError {
  return new RecordsError(ErrorCode.CORRUPT_MESSAGE, reason, position, message);
}

export function invalidRecord(reason: RecordsErrorReasonId, position: number, message: string): RecordsError {
  return new RecordsError(ErrorCode.INVALID_RECORD, reason, position, message);
}

export function malformedRecord(position: number, message: string): RecordsError {
  return new RecordsError(ErrorCode.INVALID_RECORD, RecordsErrorReason.MALFORMED_RECORD, position, message);
}
