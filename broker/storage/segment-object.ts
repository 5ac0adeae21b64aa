// The segment object: one partition's consecutive record batches, merged by the compactor from WAL extents (or
// from smaller segments), followed by an offset index, a time index and a fixed-size footer, like Kafka's
// .log/.index/.timeindex files in one immutable object. Byte tables: spec/formats.md.
import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { readBaseOffset, readBatchLength, readLastOffsetDelta, readMagic, readMaxTimestampMs } from '../protocol/records/batch-header.ts';
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import { isBatchCrcValid } from '../protocol/records/crc.ts';

export const segmentFooterBytes = 72;
export const segmentOffsetEntryBytes = 8;
export const segmentTimeEntryBytes = 12;
/** Kafka's index.interval.bytes default: an index entry at most every this many bytes of batches. */
export const defaultIndexIntervalBytes = 64 * 1024;
/** Positions and relative offsets are int32. */
export const maxSegmentDataBytes = 0x7fffffff;
export const maxSegmentOffsetSpan = 0x7fffffff;
const segmentMagic = Buffer.from('SKAFOSS1', 'latin1');
const uuidBytes = 16;

export class SegmentFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmentFormatError';
  }
}

/** What the footer says. */
export interface SegmentFooter {
  topicId: string;
  partition: number;
  batchCount: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** Bytes of batches at the start of the object; the offset index follows them. */
  dataLengthBytes: number;
  offsetEntries: number;
  timeEntries: number;
  crc: number;
}

/**
 * The parsed indexes of one segment. Offset index: entry i says the batch whose base offset is
 * baseOffset + relOffsets[i] starts at positions[i]; entry 0 is always the first batch (0, 0). Time index: entry
 * j says the batches up to and including the one at relative offset timeRelOffsets[j] have timestamps at most
 * timestamps[j] (max timestamp so far, strictly increasing from entry to entry).
 */
export class SegmentIndex {
  readonly footer: SegmentFooter;
  readonly relOffsets: Int32Array;
  readonly positions: Int32Array;
  readonly timestamps: Float64Array;
  readonly timeRelOffsets: Int32Array;
  private windowCache: { windowBytes: number; starts: Int32Array } | null = null;

  constructor(footer: SegmentFooter, relOffsets: Int32Array, positions: Int32Array, timestamps: Float64Array, timeRelOffsets: Int32Array) {
    this.footer = footer;
    this.relOffsets = relOffsets;
    this.positions = positions;
    this.timestamps = timestamps;
    this.timeRelOffsets = timeRelOffsets;
  }

  get baseOffset(): number {
    return this.footer.baseOffset;
  }

  /** Memory held, for the index cache's bound. */
  get sizeBytes(): number {
    return 256 + this.relOffsets.byteLength + this.positions.byteLength + this.timestamps.byteLength + this.timeRelOffsets.byteLength;
  }

  /** Offset index entry of the last batch starting at or before `relOffset` (0 when before the first). */
  entryFor(relOffset: number): number {
    let lo = 0;
    let hi = this.relOffsets.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.relOffsets[mid]! <= relOffset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Where to start scanning for the first batch whose max timestamp is >= `timestampMs`: the relative offset of
   * the last time index entry whose timestamp is below it (nothing before that batch qualifies), or 0.
   */
  scanStartForTimestamp(timestampMs: number): number {
    let lo = 0;
    let hi = this.timestamps.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < timestampMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? 0 : this.timeRelOffsets[found]!;
  }

  /**
   * The read window holding the batch at `relOffset`: windows are runs of whole index intervals of at least
   * `windowBytes` (the last may be shorter), laid out greedily from the first batch, so every reader asks for
   * the same byte ranges and the L1 cache holds each at most once. A window starts and ends on batch boundaries;
   * `nextRelOffset` is the relative offset right after it.
   */
  windowFor(relOffset: number, windowBytes: number): { position: number; lengthBytes: number; nextRelOffset: number } {
    const starts = this.windowStarts(windowBytes);
    const entry = this.entryFor(relOffset);
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= entry) lo = mid;
      else hi = mid - 1;
    }
    const position = this.positions[starts[lo]!]!;
    if (lo + 1 < starts.length) {
      const next = starts[lo + 1]!;
      return { position, lengthBytes: this.positions[next]! - position, nextRelOffset: this.relOffsets[next]! };
    }
    return {
      position,
      lengthBytes: this.footer.dataLengthBytes - position,
      nextRelOffset: this.footer.lastOffset - this.footer.baseOffset + 1,
    };
  }

  private windowStarts(windowBytes: number): Int32Array {
    if (this.windowCache?.windowBytes === windowBytes) return this.windowCache.starts;
    const starts: number[] = [0];
    let start = 0;
    for (let i = 1; i < this.positions.length; i++) {
      if (this.positions[i]! - this.positions[start]! >= windowBytes) {
        starts.push(i);
        start = i;
      }
    }
    this.windowCache = { windowBytes, starts: Int32Array.from(starts) };
    return this.windowCache.starts;
  }
}

export interface BuiltSegment {
  /** Data chunks, indexes and footer, for a vectored PUT. */
  body: Buffer[];
  sizeBytes: number;
  index: SegmentIndex;
}

/**
 * Lays out a segment from chunks of whole magic-2 batches with consecutive offsets (each chunk one extent, in
 * offset order). Checks every batch's framing, offset continuity and CRC-32C: a damaged or discontiguous input
 * throws instead of becoming a segment. With `gaps` (segments of compacted topics, spec/compaction.md), offsets
 * need only increase: the cleaner removes batches and leaves their offsets unused.
 */
export function buildSegmentObject(args: {
  topicId: string;
  partition: number;
  chunks: readonly Buffer[];
  indexIntervalBytes?: number;
  verifyCrc?: boolean;
  gaps?: boolean;
}): BuiltSegment {
  const scan = scanSegmentBatches(
    args.chunks,
    args.indexIntervalBytes ?? defaultIndexIntervalBytes,
    args.verifyCrc ?? true,
    args.gaps ?? false,
  );
  const indexes = encodeSegmentIndexes(scan);
  const parsedFooter: SegmentFooter = {
    topicId: args.topicId,
    partition: args.partition,
    batchCount: scan.batchCount,
    baseOffset: scan.baseOffset,
    lastOffset: scan.nextOffset - 1,
    maxTimestamp: scan.maxTimestamp,
    dataLengthBytes: scan.dataLengthBytes,
    offsetEntries: scan.relOffsets.length,
    timeEntries: scan.timestamps.length,
    crc: 0,
  };
  const footer = encodeSegmentFooter(parsedFooter, indexes);
  const index = new SegmentIndex(
    parsedFooter,
    Int32Array.from(scan.relOffsets),
    Int32Array.from(scan.positions),
    Float64Array.from(scan.timestamps),
    Int32Array.from(scan.timeRelOffsets),
  );
  return {
    body: [...args.chunks.filter((c) => c.length > 0), indexes, footer],
    sizeBytes: scan.dataLengthBytes + indexes.length + footer.length,
    index,
  };
}

/** What a walk over a segment's batches finds: the index entries and the footer's figures. */
interface SegmentScan {
  relOffsets: number[];
  positions: number[];
  timestamps: number[];
  timeRelOffsets: number[];
  baseOffset: number;
  nextOffset: number;
  maxTimestamp: number;
  batchCount: number;
  dataLengthBytes: number;
}

/**
 * Walks the chunks batch by batch, checking framing, magic, CRC-32C (when asked) and offset continuity, and
 * collects an offset index entry at most every intervalBytes and a time index entry wherever the max timestamp
 * so far grows at such an entry.
 */
function scanSegmentBatches(chunks: readonly Buffer[], intervalBytes: number, verifyCrc: boolean, gaps: boolean): SegmentScan {
  const scan: SegmentScan = {
    relOffsets: [],
    positions: [],
    timestamps: [],
    timeRelOffsets: [],
    baseOffset: -1,
    nextOffset: -1,
    maxTimestamp: -1,
    batchCount: 0,
    dataLengthBytes: 0,
  };
  let sinceEntry = 0;
  for (const chunk of chunks) {
    for (let pos = 0; pos < chunk.length; ) {
      const position = scan.dataLengthBytes;
      const size = checkedBatchSize(chunk, pos, position, verifyCrc);
      const base = readBaseOffset(chunk, pos);
      const last = base + readLastOffsetDelta(chunk, pos);
      if (scan.baseOffset < 0) scan.baseOffset = base;
      else if (gaps ? base < scan.nextOffset : base !== scan.nextOffset)
        throw new SegmentFormatError(`batch at ${position} has base offset ${base}, expected ${gaps ? 'at least ' : ''}${scan.nextOffset}`);
      if (last < base || last - scan.baseOffset > maxSegmentOffsetSpan)
        throw new SegmentFormatError(`batch at ${position} has last offset ${last}`);
      const ts = readMaxTimestampMs(chunk, pos);
      if (ts > scan.maxTimestamp) scan.maxTimestamp = ts;
      if (scan.batchCount === 0 || sinceEntry >= intervalBytes) {
        scan.relOffsets.push(base - scan.baseOffset);
        scan.positions.push(position);
        if (scan.timestamps.length === 0 || scan.maxTimestamp > scan.timestamps[scan.timestamps.length - 1]!) {
          scan.timestamps.push(scan.maxTimestamp);
          scan.timeRelOffsets.push(base - scan.baseOffset);
        }
        sinceEntry = 0;
      }
      sinceEntry += size;
      scan.dataLengthBytes += size;
      if (scan.dataLengthBytes > maxSegmentDataBytes) throw new SegmentFormatError(`segment data exceeds ${maxSegmentDataBytes} bytes`);
      scan.nextOffset = last + 1;
      scan.batchCount++;
      pos += size;
    }
  }
  if (scan.batchCount === 0) throw new SegmentFormatError('a segment holds at least one batch');
  return scan;
}

/** The size of the batch at pos in chunk, after checking its framing, its magic and (when asked) its CRC-32C. */
function checkedBatchSize(chunk: Buffer, pos: number, position: number, verifyCrc: boolean): number {
  if (chunk.length - pos < BATCH_HEADER_BYTES) throw new SegmentFormatError(`truncated batch header at ${position}`);
  const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(chunk, pos);
  if (size < BATCH_HEADER_BYTES || pos + size > chunk.length)
    throw new SegmentFormatError(`batch of ${size} bytes at ${position} overruns its chunk`);
  if (readMagic(chunk, pos) !== 2) throw new SegmentFormatError(`batch at ${position} is not magic 2`);
  if (verifyCrc && !isBatchCrcValid(chunk, pos, pos + size)) throw new SegmentFormatError(`batch at ${position} fails its CRC-32C`);
  return size;
}

/** The offset index followed by the time index, as stored. */
function encodeSegmentIndexes(scan: SegmentScan): Buffer {
  const { relOffsets, positions, timestamps, timeRelOffsets } = scan;
  const indexes = Buffer.alloc(relOffsets.length * segmentOffsetEntryBytes + timestamps.length * segmentTimeEntryBytes);
  let p = 0;
  for (let i = 0; i < relOffsets.length; i++, p += segmentOffsetEntryBytes) {
    indexes.writeInt32BE(relOffsets[i]!, p);
    indexes.writeInt32BE(positions[i]!, p + 4);
  }
  for (let i = 0; i < timestamps.length; i++, p += segmentTimeEntryBytes) {
    indexes.writeBigInt64BE(BigInt(timestamps[i]!), p);
    indexes.writeInt32BE(timeRelOffsets[i]!, p + 8);
  }
  return indexes;
}

/** Encodes the footer of f over the given indexes; sets f.crc to the checksum it writes. */
function encodeSegmentFooter(f: SegmentFooter, indexes: Buffer): Buffer {
  const footer = Buffer.alloc(segmentFooterBytes);
  const id = Buffer.from(f.topicId, 'base64url');
  assert.equal(id.length, uuidBytes, 'topic id is a 16-byte UUID');
  id.copy(footer, 0);
  footer.writeInt32BE(f.partition, 16);
  footer.writeInt32BE(f.batchCount, 20);
  footer.writeBigInt64BE(BigInt(f.baseOffset), 24);
  footer.writeBigInt64BE(BigInt(f.lastOffset), 32);
  footer.writeBigInt64BE(BigInt(f.maxTimestamp), 40);
  footer.writeInt32BE(f.dataLengthBytes, 48);
  footer.writeInt32BE(f.offsetEntries, 52);
  footer.writeInt32BE(f.timeEntries, 56);
  f.crc = checksum(indexes, footer);
  footer.writeUInt32BE(f.crc, 60);
  segmentMagic.copy(footer, 64);
  return footer;
}

/** CRC-32C over the two indexes and the footer's first 60 bytes. */
function checksum(indexes: Buffer, footer: Buffer): number {
  return crc32c(footer.subarray(0, 60), crc32c(indexes)) >>> 0;
}

/** Parses the footer (the last segmentFooterBytes of the object) and checks it against the object size. */
export function parseSegmentFooter(footer: Buffer, objectSizeBytes: number): SegmentFooter {
  if (footer.length !== segmentFooterBytes)
    throw new SegmentFormatError(`segment footer must be ${segmentFooterBytes} bytes, got ${footer.length}`);
  if (!footer.subarray(64, 72).equals(segmentMagic)) throw new SegmentFormatError('not a Skafos segment object (bad magic)');
  const f: SegmentFooter = {
    topicId: footer.toString('base64url', 0, 16),
    partition: footer.readInt32BE(16),
    batchCount: footer.readInt32BE(20),
    baseOffset: Number(footer.readBigInt64BE(24)),
    lastOffset: Number(footer.readBigInt64BE(32)),
    maxTimestamp: Number(footer.readBigInt64BE(40)),
    dataLengthBytes: footer.readInt32BE(48),
    offsetEntries: footer.readInt32BE(52),
    timeEntries: footer.readInt32BE(56),
    crc: footer.readUInt32BE(60),
  };
  if (
    f.dataLengthBytes < 0 ||
    f.offsetEntries < 1 ||
    f.timeEntries < 0 ||
    f.lastOffset < f.baseOffset ||
    f.dataLengthBytes + segmentIndexesBytes(f) + segmentFooterBytes !== objectSizeBytes
  ) {
    throw new SegmentFormatError(`segment footer does not describe an object of ${objectSizeBytes} bytes`);
  }
  return f;
}

/** Bytes of the two indexes, which lie at [dataLengthBytes, dataLengthBytes + this). */
export function segmentIndexesBytes(f: SegmentFooter): number {
  return f.offsetEntries * segmentOffsetEntryBytes + f.timeEntries * segmentTimeEntryBytes;
}

/** Parses both indexes (the bytes between the data and the footer) after checking the CRC-32C. */
export function parseSegmentIndexes(indexes: Buffer, footerBytes: Buffer, footer: SegmentFooter): SegmentIndex {
  if (indexes.length !== segmentIndexesBytes(footer))
    throw new SegmentFormatError(`segment indexes must be ${segmentIndexesBytes(footer)} bytes, got ${indexes.length}`);
  if (checksum(indexes, footerBytes) !== footer.crc) throw new SegmentFormatError('segment index checksum mismatch');
  const relOffsets = new Int32Array(footer.offsetEntries);
  const positions = new Int32Array(footer.offsetEntries);
  const timestamps = new Float64Array(footer.timeEntries);
  const timeRelOffsets = new Int32Array(footer.timeEntries);
  let p = 0;
  for (let i = 0; i < footer.offsetEntries; i++, p += segmentOffsetEntryBytes) {
    relOffsets[i] = indexes.readInt32BE(p);
    positions[i] = indexes.readInt32BE(p + 4);
    if (i === 0 ? relOffsets[i] !== 0 || positions[i] !== 0 : relOffsets[i]! <= relOffsets[i - 1]! || positions[i]! <= positions[i - 1]!) {
      throw new SegmentFormatError(`segment offset index entry ${i} is out of order`);
    }
  }
  if (positions[footer.offsetEntries - 1]! >= footer.dataLengthBytes)
    throw new SegmentFormatError('segment offset index points past the data');
  for (let i = 0; i < footer.timeEntries; i++, p += segmentTimeEntryBytes) {
    timestamps[i] = Number(indexes.readBigInt64BE(p));
    timeRelOffsets[i] = indexes.readInt32BE(p + 8);
  }
  return new SegmentIndex(footer, relOffsets, positions, timestamps, timeRelOffsets);
}
