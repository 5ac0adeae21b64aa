// Layout of a magic-2 record batch ("RecordBatch" v2, Kafka 0.11+), all integers big-endian:
//
//   offset  size  field
//        0     8  baseOffset
//        8     4  batchLength            bytes after this field (batch size = 12 + batchLength)
//       12     4  partitionLeaderEpoch
//       16     1  magic                  2
//       17     4  crc                    CRC-32C (Castagnoli) of bytes [21, batch end)
//       21     2  attributes
//       23     4  lastOffsetDelta
//       27     8  baseTimestamp
//       35     8  maxTimestamp
//       43     8  producerId
//       51     2  producerEpoch
//       53     4  baseSequence
//       57     4  recordCount
//       61     …  records (compressed as one stream when the codec is not NONE)
//
// baseOffset, batchLength, partitionLeaderEpoch and magic lie before the CRC'd range, which is why
// the broker can assign offsets and leader epochs in place without recomputing the CRC.

export const BATCH_BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const BATCH_PARTITION_LEADER_EPOCH_OFFSET = 12;
export const BATCH_MAGIC_OFFSET = 16;
export const BATCH_CRC_OFFSET = 17;
export const BATCH_ATTRIBUTES_OFFSET = 21;
export const BATCH_LAST_OFFSET_DELTA_OFFSET = 23;
export const BATCH_BASE_TIMESTAMP_OFFSET = 27;
export const BATCH_MAX_TIMESTAMP_OFFSET = 35;
export const BATCH_PRODUCER_ID_OFFSET = 43;
export const BATCH_PRODUCER_EPOCH_OFFSET = 51;
export const BATCH_BASE_SEQUENCE_OFFSET = 53;
export const BATCH_RECORD_COUNT_OFFSET = 57;
export const BATCH_RECORDS_OFFSET = 61;

/** Bytes before the batchLength-covered part: baseOffset (8) + batchLength (4). Kafka's LOG_OVERHEAD. */
export const BATCH_LOG_OVERHEAD_BYTES = 12;
/** Smallest valid magic-2 batch, i.e. a header with no records. Kafka's RECORD_BATCH_OVERHEAD. */
export const BATCH_HEADER_BYTES = 61;
/** Bytes needed to read the magic byte of any message format (v0, v1, v2). */
export const BATCH_HEADER_BYTES_UP_TO_MAGIC = 17;
/** Smallest batchLength Kafka's log input stream accepts before looking at magic (LegacyRecord.RECORD_OVERHEAD_V0). */
export const LEGACY_RECORD_OVERHEAD_V0_BYTES = 14;

export const MAGIC_V0 = 0;
export const MAGIC_V1 = 1;
export const MAGIC_V2 = 2;

// Attributes (int16) bits.
export const ATTRIBUTE_COMPRESSION_MASK = 0x07;
export const ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME = 0x08;
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
export const ATTRIBUTE_CONTROL = 0x20;
export const ATTRIBUTE_DELETE_HORIZON = 0x40;

export const CompressionCodec = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;
export type CompressionCodecId = (typeof CompressionCodec)[keyof typeof CompressionCodec];

export function isCompressionCodecId(value: number): value is CompressionCodecId {
  return value >= CompressionCodec.NONE && value <= CompressionCodec.ZSTD && Number.isInteger(value);
}

export const TimestampType = {
  CREATE_TIME: 0,
  LOG_APPEND_TIME: 1,
} as const;
export type TimestampTypeId = (typeof TimestampType)[keyof typeof TimestampType];

/** Kafka's "no value" sentinels. */
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1;

/**
 * Smallest encoded record: length varint (1) + attributes (1) + timestampDelta (1) + offsetDelta (1)
 * + key length (1) + value length (1) + header count (1). Bounds recordCount by the bytes present.
 */
export const RECORD_MIN_BYTES = 7;

export const INT32_MAX = 0x7fffffff;
export const INT32_MIN = -0x80000000;
export const INT16_MAX = 0x7fff;
export const INT16_MIN = -0x8000;

// Control records (attributes bit 5): key = version int16 + type int16.
export const CONTROL_RECORD_KEY_VERSION = 0;
export const CONTROL_RECORD_KEY_BYTES = 4;
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;
// End-transaction marker value: version int16 + coordinatorEpoch int32.
export const END_TXN_MARKER_VALUE_VERSION = 0;
export const END_TXN_MARKER_VALUE_BYTES = 6;
