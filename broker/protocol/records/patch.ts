// In-place edits the leader makes to validated batches before appending them to the log.
//
// baseOffset and partitionLeaderEpoch lie before the CRC'd range: setting them keeps the CRC valid.
// The timestamp type (attributes bit 3) and maxTimestamp are covered: setMaxTimestamp recomputes it.
import {
  ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME,
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LAST_OFFSET_DELTA_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAX_TIMESTAMP_OFFSET,
  BATCH_PARTITION_LEADER_EPOCH_OFFSET,
  INT32_MAX,
  INT32_MIN,
  TimestampType,
} from './constants.ts';
import type { TimestampTypeId } from './constants.ts';
import { readInt64, writeInt64 } from './bytes.ts';
import { writeBatchCrc } from './crc.ts';

/** End of the batch at `batchPosition`; asserts that its header and body lie inside the buffer. */
function batchEndOf(buffer: Buffer, batchPosition: number): number {
  if (!(Number.isInteger(batchPosition) && batchPosition >= 0 && batchPosition + BATCH_HEADER_BYTES <= buffer.length)) {
    throw new RangeError(`no batch header at position ${batchPosition} of a ${buffer.length}-byte buffer`);
  }
  const end = batchPosition + BATCH_LOG_OVERHEAD_BYTES + buffer.readInt32BE(batchPosition + BATCH_LENGTH_OFFSET);
  if (!(end >= batchPosition + BATCH_HEADER_BYTES && end <= buffer.length)) {
    throw new RangeError(`batch at position ${batchPosition} has an invalid length`);
  }
  return end;
}

export function setBaseOffset(buffer: Buffer, batchPosition: number, baseOffset: number): void {
  batchEndOf(buffer, batchPosition);
  if (!(Number.isSafeInteger(baseOffset) && baseOffset >= 0)) throw new RangeError(`invalid baseOffset ${baseOffset}`);
  writeInt64(buffer, batchPosition + BATCH_BASE_OFFSET_OFFSET, baseOffset);
}

export function setPartitionLeaderEpoch(buffer: Buffer, batchPosition: number, partitionLeaderEpoch: number): void {
  batchEndOf(buffer, batchPosition);
  if (!(Number.isInteger(partitionLeaderEpoch) && partitionLeaderEpoch >= INT32_MIN && partitionLeaderEpoch <= INT32_MAX)) {
    throw new RangeError(`invalid partitionLeaderEpoch ${partitionLeaderEpoch}`);
  }
  buffer.writeInt32BE(partitionLeaderEpoch, batchPosition + BATCH_PARTITION_LEADER_EPOCH_OFFSET);
}

/**
 * Sets the timestamp type bit and maxTimestamp (Kafka's DefaultRecordBatch.setMaxTimestamp) and
 * recomputes the CRC when either changed. Returns true when the batch was modified.
 */
export function setMaxTimestamp(buffer: Buffer, batchPosition: number, timestampType: TimestampTypeId, maxTimestampMs: number): boolean {
  const end = batchEndOf(buffer, batchPosition);
  if (!Number.isSafeInteger(maxTimestampMs)) throw new RangeError(`invalid maxTimestampMs ${maxTimestampMs}`);
  const attributes = buffer.readInt16BE(batchPosition + BATCH_ATTRIBUTES_OFFSET);
  const newAttributes =
    timestampType === TimestampType.LOG_APPEND_TIME
      ? attributes | ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME
      : attributes & ~ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME;
  const currentMaxTimestampMs = readInt64(buffer, batchPosition + BATCH_MAX_TIMESTAMP_OFFSET);
  if (newAttributes === attributes && currentMaxTimestampMs === maxTimestampMs) return false;
  buffer.writeInt16BE(newAttributes, batchPosition + BATCH_ATTRIBUTES_OFFSET);
  writeInt64(buffer, batchPosition + BATCH_MAX_TIMESTAMP_OFFSET, maxTimestampMs);
  writeBatchCrc(buffer, batchPosition, end);
  return true;
}

/** LogAppendTime topics: every record of the batch takes the broker's append time. */
export function setLogAppendTime(buffer: Buffer, batchPosition: number, logAppendTimeMs: number): boolean {
  return setMaxTimestamp(buffer, batchPosition, TimestampType.LOG_APPEND_TIME, logAppendTimeMs);
}

/**
 * Assigns consecutive offsets to every batch of a validated `records` buffer, starting at
 * `firstOffset`, and optionally stamps the partition leader epoch. Returns the next free offset.
 */
export function assignOffsets(buffer: Buffer, firstOffset: number, partitionLeaderEpoch?: number): number {
  let nextOffset = firstOffset;
  for (let position = 0; position < buffer.length; ) {
    const end = batchEndOf(buffer, position);
    setBaseOffset(buffer, position, nextOffset);
    if (partitionLeaderEpoch !== undefined) setPartitionLeaderEpoch(buffer, position, partitionLeaderEpoch);
    nextOffset += buffer.readInt32BE(position + BATCH_LAST_OFFSET_DELTA_OFFSET) + 1;
    position = end;
  }
  return nextOffset;
}
