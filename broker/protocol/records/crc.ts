// CRC-32C (Castagnoli) of a record batch, computed natively by @node-rs/crc32 (SSE4.2 / ARMv8 CRC
// instructions). The CRC covers [attributes, batch end): everything after the crc field.
import { crc32c } from '@node-rs/crc32';
import { BATCH_ATTRIBUTES_OFFSET, BATCH_CRC_OFFSET } from './constants.ts';

export { crc32c };

/** CRC-32C (unsigned 32-bit) of the CRC'd range of the batch at [batchPosition, batchEnd). */
export function computeBatchCrc(buffer: Buffer, batchPosition: number, batchEnd: number): number {
  const start = batchPosition + BATCH_ATTRIBUTES_OFFSET;
  if (!(start <= batchEnd && batchEnd <= buffer.length)) {
    throw new RangeError(`batch range [${batchPosition}, ${batchEnd}) outside buffer of ${buffer.length} bytes`);
  }
  // subarray creates a view (no copy); the native call needs a Uint8Array of exactly the range.
  return crc32c(buffer.subarray(start, batchEnd)) >>> 0;
}

export function readBatchCrc(buffer: Buffer, batchPosition: number): number {
  return buffer.readUInt32BE(batchPosition + BATCH_CRC_OFFSET);
}

export function isBatchCrcValid(buffer: Buffer, batchPosition: number, batchEnd: number): boolean {
  return readBatchCrc(buffer, batchPosition) === computeBatchCrc(buffer, batchPosition, batchEnd);
}

/** Recomputes and stores the CRC of the batch; returns the new CRC. */
export function writeBatchCrc(buffer: Buffer, batchPosition: number, batchEnd: number): number {
  const crc = computeBatchCrc(buffer, batchPosition, batchEnd);
  buffer.writeUInt32BE(crc, batchPosition + BATCH_CRC_OFFSET);
  return crc;
}
