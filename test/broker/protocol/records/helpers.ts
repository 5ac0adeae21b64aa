// Shared test helpers: deterministic PRNG, legacy (magic 0/1) message sets, hand-built LZ4 frames.
import { crc32 } from '@node-rs/crc32';
import { compressSync as lz4BlockCompressSync } from 'lz4-napi';
import { RecordsError } from '../../../../broker/protocol/records/index.ts';
import type { RecordInput } from '../../../../broker/protocol/records/index.ts';

/** Mulberry32: small deterministic PRNG so failures reproduce. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

/** Runs `fn`; returns the RecordsError it throws, or undefined. Any other exception propagates. */
export function catchRecordsError(fn: () => void): RecordsError | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof RecordsError) return error;
    throw error;
  }
  return undefined;
}

/** A legacy message set with one message of magic 0 or 1 (Kafka's LegacyRecord layout). */
export function legacyMessageSet(magic: 0 | 1, key: Buffer | null, value: Buffer | null, timestampMs = 1_700_000_000_000): Buffer {
  const keyBytes = key === null ? 0 : key.length;
  const valueBytes = value === null ? 0 : value.length;
  // crc(4) magic(1) attributes(1) [timestamp(8)] keyLength(4) key valueLength(4) value
  const messageBytes = 4 + 1 + 1 + (magic === 1 ? 8 : 0) + 4 + keyBytes + 4 + valueBytes;
  const buffer = Buffer.alloc(12 + messageBytes);
  buffer.writeBigInt64BE(0n, 0);
  buffer.writeInt32BE(messageBytes, 8);
  let position = 16;
  buffer.writeInt8(magic, position++);
  buffer.writeInt8(0, position++);
  if (magic === 1) {
    buffer.writeBigInt64BE(BigInt(timestampMs), position);
    position += 8;
  }
  buffer.writeInt32BE(key === null ? -1 : keyBytes, position);
  position += 4;
  if (key !== null) position += key.copy(buffer, position);
  buffer.writeInt32BE(value === null ? -1 : valueBytes, position);
  position += 4;
  if (value !== null) position += value.copy(buffer, position);
  buffer.writeUInt32BE(crc32(buffer.subarray(16)) >>> 0, 12);
  return buffer;
}

// xxHash32, written from the algorithm description (the LZ4 frame format's checksum).
const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME32_4 = 0x27d4eb2f;
const PRIME32_5 = 0x165667b1;

function rotl32(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

function xxhRound(accumulator: number, lane: number): number {
  accumulator = (accumulator + Math.imul(lane, PRIME32_2)) >>> 0;
  accumulator = rotl32(accumulator, 13);
  return Math.imul(accumulator, PRIME32_1) >>> 0;
}

export function xxh32(input: Uint8Array, seed = 0): number {
  const view = Buffer.from(input.buffer, input.byteOffset, input.length);
  const length = view.length;
  let position = 0;
  let hash: number;
  if (length >= 16) {
    let v1 = (seed + PRIME32_1 + PRIME32_2) >>> 0;
    let v2 = (seed + PRIME32_2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - PRIME32_1) >>> 0;
    while (position <= length - 16) {
      v1 = xxhRound(v1, view.readUInt32LE(position));
      v2 = xxhRound(v2, view.readUInt32LE(position + 4));
      v3 = xxhRound(v3, view.readUInt32LE(position + 8));
      v4 = xxhRound(v4, view.readUInt32LE(position + 12));
      position += 16;
    }
    hash = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) >>> 0;
  } else {
    hash = (seed + PRIME32_5) >>> 0;
  }
  hash = (hash + length) >>> 0;
  while (position + 4 <= length) {
    hash = (hash + Math.imul(view.readUInt32LE(position), PRIME32_3)) >>> 0;
    hash = Math.imul(rotl32(hash, 17), PRIME32_4) >>> 0;
    position += 4;
  }
  while (position < length) {
    hash = (hash + Math.imul(view[position]!, PRIME32_5)) >>> 0;
    hash = Math.imul(rotl32(hash, 11), PRIME32_1) >>> 0;
    position++;
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, PRIME32_2) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, PRIME32_3) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

export interface Lz4FrameOptions {
  /** BD block size id: 4 = 64 KiB (librdkafka and the Java client), 5 = 256 KiB, 6 = 1 MiB, 7 = 4 MiB. */
  readonly blockSizeId?: 4 | 5 | 6 | 7;
  readonly contentSize?: boolean;
  readonly blockChecksum?: boolean;
  readonly contentChecksum?: boolean;
  /** Store every block uncompressed (high bit of the block size set). */
  readonly storeUncompressed?: boolean;
}

/**
 * An LZ4 frame built by hand like librdkafka's and the Java client's encoders write them: independent
 * blocks of at most the block maximum size, optional content size and checksums.
 */
export function lz4Frame(input: Buffer, options: Lz4FrameOptions = {}): Buffer {
  const blockSizeId = options.blockSizeId ?? 4;
  const blockMaximumBytes = 1 << (2 * blockSizeId + 8);
  let flg = 0x40 | 0x20; // version 01, independent blocks
  if (options.blockChecksum === true) flg |= 0x10;
  if (options.contentSize === true) flg |= 0x08;
  if (options.contentChecksum === true) flg |= 0x04;
  const descriptor = Buffer.alloc(options.contentSize === true ? 10 : 2);
  descriptor[0] = flg;
  descriptor[1] = blockSizeId << 4;
  if (options.contentSize === true) descriptor.writeBigUInt64LE(BigInt(input.length), 2);
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), descriptor, Buffer.from([(xxh32(descriptor) >>> 8) & 0xff])];
  for (let start = 0; start < input.length; start += blockMaximumBytes) {
    const chunk = input.subarray(start, Math.min(input.length, start + blockMaximumBytes));
    const compressed = lz4BlockCompressSync(chunk).subarray(4); // strip lz4-napi's size prefix
    const storeRaw = options.storeUncompressed === true || compressed.length >= chunk.length;
    const data = storeRaw ? chunk : compressed;
    const size = Buffer.alloc(4);
    size.writeUInt32LE((data.length | (storeRaw ? 0x80000000 : 0)) >>> 0);
    parts.push(size, data);
    if (options.blockChecksum === true) {
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32LE(xxh32(data));
      parts.push(checksum);
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  if (options.contentChecksum === true) {
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(xxh32(input));
    parts.push(checksum);
  }
  return Buffer.concat(parts);
}

/** Records covering the awkward cases: null/empty key and value, headers, unicode, negative deltas. */
export function mixedRecords(): RecordInput[] {
  return [
    { key: null, value: Buffer.from('value with a null key'), timestampMs: 1_700_000_000_000 },
    { key: Buffer.alloc(0), value: Buffer.alloc(0), timestampMs: 1_700_000_000_005 },
    { key: Buffer.from('null value'), value: null, timestampMs: 1_699_999_999_000 },
    { key: null, value: null, timestampMs: 1_700_000_100_000 },
    {
      key: Buffer.from('ключ 🔑'),
      value: Buffer.from('значение — 値 — 🎉'),
      headers: [
        { key: 'trace-id', value: Buffer.from('abc123') },
        { key: 'empty', value: Buffer.alloc(0) },
        { key: 'null', value: null },
        { key: '', value: Buffer.from('empty key') },
        { key: 'ünïcödé 🙂', value: Buffer.from('✓') },
        { key: 'trace-id', value: Buffer.from('repeated key') },
      ],
      timestampMs: 1_700_000_000_001,
    },
    {
      key: Buffer.from([0, 1, 2, 255]),
      value: Buffer.from([255, 0]),
      headers: [{ key: Buffer.from([0xe2, 0x82]), value: null }],
      timestampMs: 0,
    },
  ];
}
