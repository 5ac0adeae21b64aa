// Record-batch compression codecs: gzip, snappy, lz4, zstd (attributes bits 0-2).
//
// Only features that must read record contents decompress (the produce path does, to check a CreateTime
// topic's record timestamps, as Kafka does; the fetch path passes compressed batches through untouched). Every decompression takes `maxDecompressedBytes` and fails
// with a typed RecordsError (MESSAGE_TOO_LARGE / decompressed_too_large) instead of allocating more:
//   gzip, zstd  node:zlib's maxOutputLength stops the inflater at the limit.
//   snappy      raw snappy declares its uncompressed length up front (a varint preamble); it is
//               checked before the decoder allocates. Xerial framing is a sequence of such blocks.
//   lz4         the frame is walked first: every block's size is known, and a compressed block of
//               n bytes inflates to at most min(blockMaximumBytes, 255 n). Decompression runs only
//               when that bound is at most maxDecompressedBytes + LZ4_BOUND_SLACK_BYTES, and the
//               actual size is checked after (so memory stays below limit + slack).
import zlib from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompressSync, uncompressSync as snappyUncompressSync } from 'snappy';
import { ErrorCode } from '../errors.ts';
import { CompressionCodec } from './constants.ts';
import type { CompressionCodecId } from './constants.ts';
import { RecordsError, RecordsErrorReason } from './records-error.ts';

// Xerial snappy-java framing, as written by Kafka's Java client (SnappyOutputStream):
// magic (8) + version int32 + compatible version int32, then blocks of int32 length + raw snappy.
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size, which Kafka's Java producer uses. */
export const XERIAL_BLOCK_BYTES = 32 * 1024;

// LZ4 frame format (lz4 spec "LZ4 Frame Format Description").
const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_FLG_VERSION_MASK = 0xc0;
const LZ4_FLG_VERSION_01 = 0x40;
const LZ4_FLG_BLOCK_CHECKSUM = 0x10;
const LZ4_FLG_CONTENT_SIZE = 0x08;
const LZ4_FLG_CONTENT_CHECKSUM = 0x04;
const LZ4_FLG_RESERVED_AND_DICT_ID = 0x03;
const LZ4_BD_RESERVED = 0x8f;
const LZ4_BLOCK_UNCOMPRESSED = 0x80000000;
/** Largest output of one LZ4 sequence byte: a match-length extension byte adds at most 255. */
const LZ4_MAX_RATIO = 255;
/** Largest LZ4 block maximum size (BD value 7 = 4 MiB). */
export const LZ4_BOUND_SLACK_BYTES = 4 * 1024 * 1024;

function tooLarge(limitBytes: number, detail: string): RecordsError {
  return new RecordsError(
    ErrorCode.MESSAGE_TOO_LARGE,
    RecordsErrorReason.DECOMPRESSED_TOO_LARGE,
    0,
    `decompressed records exceed maxDecompressedBytes=${limitBytes} (${detail})`,
  );
}

function corrupt(codecName: string, detail: string, cause?: unknown): RecordsError {
  return new RecordsError(
    ErrorCode.CORRUPT_MESSAGE,
    RecordsErrorReason.DECOMPRESSION_FAILED,
    0,
    `${codecName} records cannot be decompressed: ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

export function compressionCodecName(codec: number): string {
  switch (codec) {
    case CompressionCodec.NONE:
      return 'none';
    case CompressionCodec.GZIP:
      return 'gzip';
    case CompressionCodec.SNAPPY:
      return 'snappy';
    case CompressionCodec.LZ4:
      return 'lz4';
    case CompressionCodec.ZSTD:
      return 'zstd';
    default:
      return `unknown(${codec})`;
  }
}

/** Compresses the records section of a batch with `codec` (NONE returns `input` itself). */
export function compressRecords(codec: CompressionCodecId, input: Buffer): Buffer {
  switch (codec) {
    case CompressionCodec.NONE:
      return input;
    case CompressionCodec.GZIP:
      return zlib.gzipSync(input);
    case CompressionCodec.SNAPPY:
      return xerialSnappyCompress(input);
    case CompressionCodec.LZ4:
      return compressFrameSync(input);
    case CompressionCodec.ZSTD:
      return zlib.zstdCompressSync(input);
    default:
      throw new RangeError(`unknown compression codec ${codec as number}`);
  }
}

/**
 * Decompresses a batch's records section. Throws RecordsError: CORRUPT_MESSAGE when the stream is
 * invalid, MESSAGE_TOO_LARGE when the output would exceed `maxDecompressedBytes`.
 */
export function decompressRecords(codec: CompressionCodecId, input: Buffer, maxDecompressedBytes: number): Buffer {
  if (!Number.isSafeInteger(maxDecompressedBytes) || maxDecompressedBytes < 0) {
    throw new RangeError(`maxDecompressedBytes must be a non-negative integer, got ${maxDecompressedBytes}`);
  }
  let output: Buffer;
  switch (codec) {
    case CompressionCodec.NONE:
      output = input;
      break;
    case CompressionCodec.GZIP:
      output = zlibDecompress('gzip', input, maxDecompressedBytes);
      break;
    case CompressionCodec.SNAPPY:
      output = snappyDecompress(input, maxDecompressedBytes);
      break;
    case CompressionCodec.LZ4:
      output = lz4Decompress(input, maxDecompressedBytes);
      break;
    case CompressionCodec.ZSTD:
      output = zlibDecompress('zstd', input, maxDecompressedBytes);
      break;
    default:
      throw new RangeError(`unknown compression codec ${codec as number}`);
  }
  if (output.length > maxDecompressedBytes) throw tooLarge(maxDecompressedBytes, `${output.length} bytes`);
  return output;
}

function zlibDecompress(codecName: 'gzip' | 'zstd', input: Buffer, maxDecompressedBytes: number): Buffer {
  // maxOutputLength must be >= 1; an empty limit is enforced by the caller's final length check.
  const options = { maxOutputLength: Math.max(1, maxDecompressedBytes) };
  try {
    return codecName === 'gzip' ? zlib.gunzipSync(input, options) : zlib.zstdDecompressSync(input, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(maxDecompressedBytes, `${codecName} output cut at the limit`);
    }
    throw corrupt(codecName, (error as Error).message, error);
  }
}

// ---------------------------------------------------------------------------------------------- snappy

function xerialSnappyCompress(input: Buffer): Buffer {
  const blockCount = Math.ceil(input.length / XERIAL_BLOCK_BYTES);
  const parts: Buffer[] = new Array(1 + 2 * blockCount);
  const header = Buffer.allocUnsafe(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts[0] = header;
  let totalBytes = XERIAL_HEADER_BYTES;
  for (let block = 0; block < blockCount; block++) {
    const start = block * XERIAL_BLOCK_BYTES;
    const compressed = snappyCompressSync(input.subarray(start, Math.min(input.length, start + XERIAL_BLOCK_BYTES)));
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(compressed.length, 0);
    parts[1 + 2 * block] = length;
    parts[2 + 2 * block] = compressed;
    totalBytes += 4 + compressed.length;
  }
  return Buffer.concat(parts, totalBytes);
}

function isXerialFramed(input: Buffer): boolean {
  return input.length >= XERIAL_MAGIC.length && input.compare(XERIAL_MAGIC, 0, XERIAL_MAGIC.length, 0, XERIAL_MAGIC.length) === 0;
}

/** Uncompressed length declared by a raw snappy block's varint preamble (at most 2^32 - 1). */
function snappyDeclaredLength(input: Buffer, start: number, end: number): number {
  let value = 0;
  for (let index = 0; index < 5; index++) {
    if (start + index >= end) throw corrupt('snappy', 'truncated length preamble');
    const byte = input[start + index]!;
    value += (byte & 0x7f) * 2 ** (7 * index);
    if (byte < 0x80) {
      if (value > 0xffffffff) throw corrupt('snappy', 'length preamble above 2^32 - 1');
      return value;
    }
  }
  throw corrupt('snappy', 'length preamble longer than 5 bytes');
}

function snappyBlock(block: Buffer, expectedBytes: number): Buffer {
  let output: Buffer;
  try {
    output = snappyUncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw corrupt('snappy', (error as Error).message, error);
  }
  if (output.length !== expectedBytes) {
    throw corrupt('snappy', `block inflated to ${output.length} bytes, preamble said ${expectedBytes}`);
  }
  return output;
}

function snappyDecompress(input: Buffer, maxDecompressedBytes: number): Buffer {
  if (!isXerialFramed(input)) {
    // Raw snappy (librdkafka, kafkajs-snappy, @platformatic/kafka write this).
    const declaredBytes = snappyDeclaredLength(input, 0, input.length);
    if (declaredBytes > maxDecompressedBytes) throw tooLarge(maxDecompressedBytes, `snappy preamble says ${declaredBytes}`);
    return snappyBlock(input, declaredBytes);
  }
  if (input.length < XERIAL_HEADER_BYTES) throw corrupt('snappy', 'truncated xerial header');
  // Pass 1: walk block lengths and preambles, bound the total before inflating anything.
  let totalBytes = 0;
  for (let position = XERIAL_HEADER_BYTES; position < input.length; ) {
    if (position + 4 > input.length) throw corrupt('snappy', 'truncated xerial block length');
    const blockBytes = input.readUInt32BE(position);
    position += 4;
    if (blockBytes > input.length - position) throw corrupt('snappy', 'xerial block longer than the input');
    if (blockBytes > 0) {
      totalBytes += snappyDeclaredLength(input, position, position + blockBytes);
      if (totalBytes > maxDecompressedBytes) throw tooLarge(maxDecompressedBytes, 'xerial blocks declare more');
    }
    position += blockBytes;
  }
  // Pass 2: inflate into one buffer of the exact size.
  const output = Buffer.allocUnsafe(totalBytes);
  let written = 0;
  for (let position = XERIAL_HEADER_BYTES; position < input.length; ) {
    const blockBytes = input.readUInt32BE(position);
    position += 4;
    if (blockBytes > 0) {
      const block = input.subarray(position, position + blockBytes);
      const inflated = snappyBlock(block, snappyDeclaredLength(block, 0, block.length));
      written += inflated.copy(output, written);
    }
    position += blockBytes;
  }
  if (written !== totalBytes) throw new Error('xerial snappy: inflated size changed between passes');
  return output;
}

// ---------------------------------------------------------------------------------------------- lz4

/** Upper bound of the decompressed size of the LZ4 frame at the start of `input`. */
export function lz4FrameBoundBytes(input: Buffer): number {
  if (input.length < 7) throw corrupt('lz4', 'truncated frame header');
  if (input.readUInt32LE(0) !== LZ4_FRAME_MAGIC) throw corrupt('lz4', 'not an LZ4 frame (bad magic)');
  const flg = input[4]!;
  const bd = input[5]!;
  if ((flg & LZ4_FLG_VERSION_MASK) !== LZ4_FLG_VERSION_01) throw corrupt('lz4', 'unsupported frame version');
  if ((flg & LZ4_FLG_RESERVED_AND_DICT_ID) !== 0) throw corrupt('lz4', 'dictionary id or reserved bits set');
  if ((bd & LZ4_BD_RESERVED) !== 0) throw corrupt('lz4', 'reserved BD bits set');
  const blockSizeId = (bd >> 4) & 0x07;
  if (blockSizeId < 4) throw corrupt('lz4', `invalid block maximum size id ${blockSizeId}`);
  const blockMaximumBytes = 1 << (2 * blockSizeId + 8);
  const blockChecksumBytes = (flg & LZ4_FLG_BLOCK_CHECKSUM) !== 0 ? 4 : 0;
  let position = 6 + ((flg & LZ4_FLG_CONTENT_SIZE) !== 0 ? 8 : 0) + 1; // descriptor + header checksum
  let boundBytes = 0;
  for (;;) {
    if (position + 4 > input.length) throw corrupt('lz4', 'truncated block size');
    const word = input.readUInt32LE(position);
    position += 4;
    if (word === 0) break; // end mark
    const blockBytes = word & ~LZ4_BLOCK_UNCOMPRESSED;
    if (blockBytes > blockMaximumBytes) throw corrupt('lz4', `block of ${blockBytes} bytes above maximum ${blockMaximumBytes}`);
    position += blockBytes + blockChecksumBytes;
    if (position > input.length) throw corrupt('lz4', 'truncated block');
    boundBytes += (word & LZ4_BLOCK_UNCOMPRESSED) !== 0 ? blockBytes : Math.min(blockMaximumBytes, blockBytes * LZ4_MAX_RATIO);
  }
  if ((flg & LZ4_FLG_CONTENT_CHECKSUM) !== 0 && position + 4 > input.length) throw corrupt('lz4', 'truncated content checksum');
  return boundBytes;
}

function lz4Decompress(input: Buffer, maxDecompressedBytes: number): Buffer {
  // Like Kafka's Lz4BlockInputStream, only the first frame is read; bytes after its end mark are ignored.
  const boundBytes = lz4FrameBoundBytes(input);
  if (boundBytes > maxDecompressedBytes + LZ4_BOUND_SLACK_BYTES) {
    throw tooLarge(maxDecompressedBytes, `lz4 blocks may inflate to ${boundBytes} bytes`);
  }
  try {
    return decompressFrameSync(input);
  } catch (error) {
    throw corrupt('lz4', (error as Error).message, error);
  }
}
