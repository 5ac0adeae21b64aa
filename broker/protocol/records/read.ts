// Decompress-then-iterate, for features that must read record contents (compaction, transaction
// index, tooling). The fetch path never calls this: it passes batches through (so does the produce path,
// which only reads the records of a CreateTime topic's batches to check their timestamps: timestamps.ts).
import { ErrorCode } from '../errors.ts';
import { CompressionCodec } from './constants.ts';
import type { CompressionCodecId } from './constants.ts';
import { BatchHeaderView } from './batch-header.ts';
import { computeBatchCrc } from './crc.ts';
import { decompressRecords } from './compression.ts';
import type { RecordCursor } from './iterate.ts';
import { corruptMessage, RecordsError, RecordsErrorReason } from './records-error.ts';

export interface OpenBatchOptions {
  /** Largest decompressed records section accepted; above it MESSAGE_TOO_LARGE is thrown. */
  readonly maxDecompressedBytes: number;
  /** Verify the batch CRC first (default true). */
  readonly verifyCrc?: boolean;
}

/**
 * Positions `cursor` on the records of the batch at `batchPosition`, decompressing them first when
 * the batch is compressed. `header` (optional, reused) is left describing the batch. Returns `cursor`.
 * The decompressed buffer, when there is one, is `cursor.buffer`.
 */
export function openBatchRecords(
  buffer: Buffer,
  batchPosition: number,
  cursor: RecordCursor,
  options: OpenBatchOptions,
  header: BatchHeaderView = new BatchHeaderView(),
): RecordCursor {
  header.reset(buffer, batchPosition);
  const end = header.end;
  if (options.verifyCrc !== false) {
    const computedCrc = computeBatchCrc(buffer, batchPosition, end);
    if (computedCrc !== header.crc) {
      throw corruptMessage(
        RecordsErrorReason.CRC_MISMATCH,
        batchPosition,
        `record batch is corrupt (stored crc = ${header.crc}, computed crc = ${computedCrc})`,
      );
    }
  }
  const compression = header.compression;
  if (compression > CompressionCodec.ZSTD) {
    throw new RecordsError(
      ErrorCode.CORRUPT_MESSAGE,
      RecordsErrorReason.UNKNOWN_COMPRESSION,
      batchPosition,
      `unknown compression type id ${compression}`,
    );
  }
  if (compression === CompressionCodec.NONE) {
    return cursor.reset(buffer, header.recordsPosition, end, header);
  }
  const records = decompressRecords(
    compression as CompressionCodecId,
    buffer.subarray(header.recordsPosition, end),
    options.maxDecompressedBytes,
  );
  return cursor.reset(records, 0, records.length, header);
}
