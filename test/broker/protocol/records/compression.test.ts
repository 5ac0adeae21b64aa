import t from 'tap';
import zlib from 'node:zlib';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { compressSync as snappyCompressSync } from 'snappy';
import { lz4Compress as wasmLz4Compress, snappyCompress as wasmSnappyCompress } from '@platformatic/wasm-utils';
import { ErrorCode } from '../../../../broker/protocol/errors.ts';
import {
  CompressionCodec,
  compressionCodecName,
  compressRecords,
  decompressRecords,
  LZ4_BOUND_SLACK_BYTES,
  lz4FrameBoundBytes,
  RecordsErrorReason,
  XERIAL_BLOCK_BYTES,
} from '../../../../broker/protocol/records/index.ts';
import type { CompressionCodecId } from '../../../../broker/protocol/records/index.ts';
import { catchRecordsError, lz4Frame, prng, randomBytes, xxh32 } from './helpers.ts';

const ALL: CompressionCodecId[] = [0, 1, 2, 3, 4];
const MIB = 1024 * 1024;

function sample(length: number, seed = 1): Buffer {
  // Half random, half repetitive: exercises both literal and match paths of every codec.
  const random = prng(seed);
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = index % 512 < 256 ? Math.floor(random() * 256) : (index * 7) & 0xff;
  return bytes;
}

t.test('round trip for every codec and size', async (t) => {
  for (const codec of ALL) {
    for (const length of [0, 1, 100, XERIAL_BLOCK_BYTES - 1, XERIAL_BLOCK_BYTES, XERIAL_BLOCK_BYTES + 1, 200_000, 5 * MIB + 3]) {
      const input = sample(length, length + codec);
      const compressed = compressRecords(codec, input);
      const output = decompressRecords(codec, compressed, length);
      t.ok(output.equals(input), `${compressionCodecName(codec)} ${length} bytes`);
    }
  }
  t.equal(compressRecords(CompressionCodec.NONE, Buffer.from('x')).toString(), 'x');
  t.equal(compressionCodecName(7), 'unknown(7)');
});

t.test('snappy', async (t) => {
  t.test('compresses with xerial framing like the Java client', async (t) => {
    const input = sample(3 * XERIAL_BLOCK_BYTES + 10);
    const framed = compressRecords(CompressionCodec.SNAPPY, input);
    t.same([...framed.subarray(0, 8)], [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00], 'magic');
    t.equal(framed.readInt32BE(8), 1, 'version');
    t.equal(framed.readInt32BE(12), 1, 'compatible version');
    let blocks = 0;
    for (let position = 16; position < framed.length; position += 4 + framed.readUInt32BE(position)) blocks++;
    t.equal(blocks, 4, '32 KiB blocks');
  });

  t.test('decompresses raw snappy (librdkafka, kafkajs-snappy, platformatic)', async (t) => {
    const input = sample(100_000);
    t.ok(decompressRecords(CompressionCodec.SNAPPY, snappyCompressSync(input), input.length).equals(input));
    t.ok(decompressRecords(CompressionCodec.SNAPPY, Buffer.from(wasmSnappyCompress(input)), input.length).equals(input));
  });

  t.test('xerial stream with empty and uneven blocks', async (t) => {
    const parts = [Buffer.from('first part '), Buffer.alloc(0), Buffer.from('second, longer part')];
    const chunks: Buffer[] = [Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])];
    for (const part of parts) {
      const block = part.length === 0 ? Buffer.alloc(0) : snappyCompressSync(part);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(block.length);
      chunks.push(length, block);
    }
    t.equal(decompressRecords(CompressionCodec.SNAPPY, Buffer.concat(chunks), 100).toString(), 'first part second, longer part');
    t.equal(decompressRecords(CompressionCodec.SNAPPY, chunks[0]!, 100).length, 0, 'header only: empty');
  });

  t.test('corrupt snappy is CORRUPT_MESSAGE', async (t) => {
    const framed = compressRecords(CompressionCodec.SNAPPY, sample(100_000));
    const cases: Array<[string, Buffer]> = [
      ['garbage', Buffer.from('definitely not snappy at all')],
      ['empty', Buffer.alloc(0)],
      ['truncated xerial header', framed.subarray(0, 12)],
      ['truncated block length', framed.subarray(0, 18)],
      ['truncated block', framed.subarray(0, 40)],
      ['preamble longer than 5 bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ];
    for (const [name, input] of cases) {
      const error = catchRecordsError(() => decompressRecords(CompressionCodec.SNAPPY, input, MIB));
      t.equal(error?.code, ErrorCode.CORRUPT_MESSAGE, name);
      t.equal(error?.reason, RecordsErrorReason.DECOMPRESSION_FAILED, name);
    }
  });
});

t.test('lz4', async (t) => {
  t.test('our frames are independent-block LZ4 frames the Java client can read', async (t) => {
    const frame = compressRecords(CompressionCodec.LZ4, sample(300_000));
    t.equal(frame.readUInt32LE(0), 0x184d2204);
    t.equal(frame[4]! & 0xc0, 0x40, 'version 01');
    t.equal(frame[4]! & 0x20, 0x20, "block independence (required by Kafka's Lz4BlockInputStream)");
    t.equal(frame[4]! & 0x03, 0, 'no dictionary id');
    t.equal(frame[6], (xxh32(frame.subarray(4, 6)) >>> 8) & 0xff, 'correct header checksum (not the pre-KIP-57 one)');
    t.ok(decompressFrameSync(frame).equals(sample(300_000)));
  });

  t.test('decompresses frames shaped like librdkafka / Java / platformatic write them', async (t) => {
    const input = sample(300_000, 9);
    const variants: Array<[string, Buffer]> = [
      ['64 KiB blocks (librdkafka, Java)', lz4Frame(input)],
      ['64 KiB blocks + content size', lz4Frame(input, { contentSize: true })],
      ['block and content checksums', lz4Frame(input, { blockChecksum: true, contentChecksum: true })],
      ['uncompressed blocks', lz4Frame(input, { storeUncompressed: true })],
      ['256 KiB blocks', lz4Frame(input, { blockSizeId: 5 })],
      ['4 MiB blocks', lz4Frame(input, { blockSizeId: 7 })],
      ['lz4-napi with checksums', compressFrameSync(input, { contentChecksum: true, blockChecksums: true })],
      ['@platformatic/wasm-utils', Buffer.from(wasmLz4Compress(input))],
      ['trailing bytes after the end mark are ignored (as Kafka does)', Buffer.concat([lz4Frame(input), Buffer.from('junk')])],
    ];
    for (const [name, frame] of variants) t.ok(decompressRecords(CompressionCodec.LZ4, frame, input.length).equals(input), name);
    t.ok(decompressRecords(CompressionCodec.LZ4, lz4Frame(Buffer.alloc(0)), 0).length === 0, 'empty frame');
  });

  t.test('bound: min(block maximum, 255 × compressed bytes) per block', async (t) => {
    const zeros = Buffer.alloc(200_000);
    const frame = lz4Frame(zeros);
    const bound = lz4FrameBoundBytes(frame);
    t.ok(bound >= zeros.length, `bound ${bound} covers the real size`);
    t.ok(bound <= 4 * 65536, 'at most one block maximum per block');
    t.equal(lz4FrameBoundBytes(lz4Frame(zeros, { storeUncompressed: true })), zeros.length, 'uncompressed blocks count exactly');
  });

  t.test('corrupt lz4 is CORRUPT_MESSAGE', async (t) => {
    const frame = lz4Frame(sample(100_000));
    const badChecksum = Buffer.from(frame);
    badChecksum[6] ^= 0xff;
    const badBlockSize = Buffer.from(frame);
    badBlockSize.writeUInt32LE(70_000, 7);
    const dictionary = Buffer.from(frame);
    dictionary[4] |= 0x01;
    const badBlockId = Buffer.from(frame);
    badBlockId[5] = 0x30;
    const badVersion = Buffer.from(frame);
    badVersion[4] = (badVersion[4]! & 0x3f) | 0x80;
    const cases: Array<[string, Buffer]> = [
      ['bad magic', Buffer.from('not an lz4 frame')],
      ['empty', Buffer.alloc(0)],
      ['header checksum', badChecksum],
      ['block above the maximum', badBlockSize],
      ['dictionary id', dictionary],
      ['block size id 3', badBlockId],
      ['version', badVersion],
      ['truncated block', frame.subarray(0, 100)],
      ['missing end mark', frame.subarray(0, frame.length - 2)],
      ['content checksum missing', lz4Frame(sample(10), { contentChecksum: true }).subarray(0, -2)],
    ];
    for (const [name, input] of cases) {
      const error = catchRecordsError(() => decompressRecords(CompressionCodec.LZ4, input, MIB));
      t.equal(error?.code, ErrorCode.CORRUPT_MESSAGE, name);
      t.equal(error?.reason, RecordsErrorReason.DECOMPRESSION_FAILED, name);
    }
  });
});

t.test('corrupt gzip and zstd are CORRUPT_MESSAGE', async (t) => {
  for (const codec of [CompressionCodec.GZIP, CompressionCodec.ZSTD] as const) {
    const valid = compressRecords(codec, sample(50_000));
    const flipped = Buffer.from(valid);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    const cases: Array<[string, Buffer]> = [
      ['garbage', Buffer.from('garbage!')],
      ['truncated', valid.subarray(0, valid.length >> 1)],
    ];
    // gzip carries a CRC-32 of its output; a zstd frame without checksum may inflate a flipped byte silently
    // (the batch CRC-32C catches that before decompression).
    if (codec === CompressionCodec.GZIP) cases.push(['flipped', flipped]);
    for (const [name, input] of cases) {
      const error = catchRecordsError(() => decompressRecords(codec, input, MIB));
      t.equal(error?.code, ErrorCode.CORRUPT_MESSAGE, `${compressionCodecName(codec)} ${name}`);
    }
  }
});

t.test('decompression bombs stop at maxDecompressedBytes', async (t) => {
  const zeros = Buffer.alloc(32 * MIB);
  for (const codec of [CompressionCodec.GZIP, CompressionCodec.SNAPPY, CompressionCodec.LZ4, CompressionCodec.ZSTD] as const) {
    const bomb = compressRecords(codec, zeros);
    t.ok(bomb.length < zeros.length / 20, `${compressionCodecName(codec)}: ${bomb.length} bytes inflate to 32 MiB`);
    const before = process.memoryUsage().arrayBuffers;
    const error = catchRecordsError(() => decompressRecords(codec, bomb, MIB));
    t.equal(error?.code, ErrorCode.MESSAGE_TOO_LARGE, compressionCodecName(codec));
    t.equal(error?.reason, RecordsErrorReason.DECOMPRESSED_TOO_LARGE, compressionCodecName(codec));
    const grownBytes = process.memoryUsage().arrayBuffers - before;
    t.ok(grownBytes < 8 * MIB, `${compressionCodecName(codec)}: external memory grew ${grownBytes} bytes`);
    // One byte under the real size fails, the exact size passes.
    const small = compressRecords(codec, sample(70_000));
    t.equal(catchRecordsError(() => decompressRecords(codec, small, 69_999))?.reason, RecordsErrorReason.DECOMPRESSED_TOO_LARGE);
    t.equal(decompressRecords(codec, small, 70_000).length, 70_000);
    t.equal(catchRecordsError(() => decompressRecords(codec, small, 0))?.reason, RecordsErrorReason.DECOMPRESSED_TOO_LARGE, 'limit 0');
  }
  // LZ4: a frame whose bound is too far above the limit is refused before inflating anything.
  const frame = lz4Frame(zeros.subarray(0, 8 * MIB), { blockSizeId: 7 });
  t.ok(lz4FrameBoundBytes(frame) > MIB + LZ4_BOUND_SLACK_BYTES);
  t.equal(catchRecordsError(() => decompressRecords(CompressionCodec.LZ4, frame, MIB))?.reason, RecordsErrorReason.DECOMPRESSED_TOO_LARGE);
  // A raw snappy preamble that lies about a huge size is refused before allocating.
  const lying = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.alloc(10)]);
  t.equal(
    catchRecordsError(() => decompressRecords(CompressionCodec.SNAPPY, lying, MIB))?.reason,
    RecordsErrorReason.DECOMPRESSED_TOO_LARGE,
  );
});

t.test('invalid arguments', async (t) => {
  t.throws(() => decompressRecords(CompressionCodec.GZIP, zlib.gzipSync('x'), -1), RangeError);
  t.throws(() => decompressRecords(5 as CompressionCodecId, Buffer.alloc(1), 10), RangeError);
  t.throws(() => compressRecords(6 as CompressionCodecId, Buffer.alloc(1)), RangeError);
  t.equal(randomBytes(prng(1), 3).length, 3);
});
