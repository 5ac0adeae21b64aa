// Magic-2 record batches: validation, in-place patching, iteration, building, compression.
export * from './constants.ts';
export { RecordsError, RecordsErrorReason } from './records-error.ts';
export type { RecordsErrorReasonId } from './records-error.ts';
export { readInt64, writeInt64 } from './bytes.ts';
export { computeBatchCrc, crc32c, isBatchCrcValid, readBatchCrc, writeBatchCrc } from './crc.ts';
export {
  BatchHeaderView,
  incrementSequence,
  lastSequenceOf,
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBaseTimestampMs,
  readBatchLength,
  readLastOffsetDelta,
  readMagic,
  readMaxTimestampMs,
  readPartitionLeaderEpoch,
  readProducerEpoch,
  readProducerId,
  readRecordCount,
} from './batch-header.ts';
export { RecordsSummary, validateRecords } from './validate.ts';
export type { ValidateLimits } from './validate.ts';
export { validateRecordTimestamps } from './timestamps.ts';
export type { RecordTimestampError, RecordTimestampErrors, TimestampLimits } from './timestamps.ts';
export { assignOffsets, setBaseOffset, setLogAppendTime, setMaxTimestamp, setPartitionLeaderEpoch } from './patch.ts';
export { RecordCursor, RecordHeaderCursor } from './iterate.ts';
export type { RecordBatchContext } from './iterate.ts';
export { openBatchRecords } from './read.ts';
export type { OpenBatchOptions } from './read.ts';
export { buildRecordBatch } from './build.ts';
export type { BuildBatchOptions, RecordHeaderInput, RecordInput } from './build.ts';
export {
  buildEndTxnMarkerBatch,
  encodeControlRecordKey,
  encodeEndTxnMarkerValue,
  readControlRecordType,
  readEndTxnMarkerCoordinatorEpoch,
} from './control.ts';
export type { EndTxnMarkerBatchOptions, EndTxnMarkerType } from './control.ts';
export {
  compressionCodecName,
  compressRecords,
  decompressRecords,
  lz4FrameBoundBytes,
  LZ4_BOUND_SLACK_BYTES,
  XERIAL_BLOCK_BYTES,
} from './compression.ts';
