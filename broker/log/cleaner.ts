// The log cleaner's algorithm (cleanup.policy=compact; spec/compaction.md): Kafka's log compaction over a run of
// one partition's batches, in memory, with no I/O. Not to be confused with the compactor (compactor.ts), which
// merges WAL chunks into segments without changing any batch.
//
// One cleaning, over the batches of a partition from its log start up to the cleanable end (never past the
// last stable offset, the active part or min.compaction.lag.ms):
//   1. scan the batch headers: which producer's transactional batches were committed or aborted (by the next
//      marker of the same producer); the cleaning stops before a transactional batch whose marker is not there.
//   2. map: every key of the dirty part (from the first dirty offset) to its latest offset, in an OffsetMap
//      of bounded memory (log.cleaner.dedupe.buffer.size, keys hashed with MD5 as Kafka's SkimpyOffsetMap
//      does); when it fills, the cleaning ends at the last whole batch mapped and the rest waits for the next
//      pass (multi-pass).
//   3. filter every batch below the end of the mapped part: a record survives when it is the latest of its
//      key; a tombstone (null value) until the delete horizon of its batch (KIP-534: set to now +
//      delete.retention.ms the first time the cleaner passes it, kept in the batch's base timestamp with
//      attribute bit 6); records of aborted transactions go; a transaction marker stays while a record of its
//      transaction survives, then until its own horizon; the last batch of each producer still tracked for
//      idempotence stays, emptied of records if need be, so duplicate detection survives. A batch that loses
//      records (or gets a horizon) is rewritten in its own codec with its base offset, last offset delta,
//      producer fields and leader epoch unchanged, its max timestamp recomputed and a new CRC; offsets never
//      change, so offsets removed leave gaps.
import { createHash } from 'node:crypto';
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_DELETE_HORIZON,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_TIMESTAMP_OFFSET,
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_LAST_OFFSET_DELTA_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_OFFSET,
  BATCH_PARTITION_LEADER_EPOCH_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  MAGIC_V2,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  BATCH_MAX_TIMESTAMP_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  BATCH_RECORDS_OFFSET,
  ControlRecordType,
  NO_TIMESTAMP,
  TimestampType,
  writeInt64,
  writeBatchCrc,
} from '../protocol/records/index.ts';
import type { CompressionCodecId } from '../protocol/records/index.ts';
import { BatchHeaderView } from '../protocol/records/batch-header.ts';
import { RecordCursor } from '../protocol/records/iterate.ts';
import { openBatchRecords } from '../protocol/records/read.ts';
import { compressRecords } from '../protocol/records/compression.ts';
import { controlTypeOf } from '../protocol/records/control.ts';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../protocol/records/bytes.ts';

/** Bytes per OffsetMap slot: a 16-byte MD5 of the key and an 8-byte offset (Kafka's SkimpyOffsetMap). */
export const offsetMapEntryBytes = 24;
/** Share of the slots used before the map counts as full (Kafka's log.cleaner.io.buffer.load.factor). */
export const offsetMapLoadFactor = 0.9;

/**
 * Key → latest offset, in one buffer of fixed size: open addressing (linear probing) over MD5 digests of the
 * keys. Two keys with the same digest count as one (as in Kafka; the odds are negligible).
 */
export class OffsetMap {
  readonly slots: number;
  /** Distinct keys it takes before it counts as full. */
  readonly maxEntries: number;
  private readonly table: Buffer;
  private entries = 0;
  /** Slots written since the last clear (so clear touches only them). */
  private readonly used: number[] = [];

  constructor(memoryBytes: number) {
    this.slots = Math.max(2, Math.floor(memoryBytes / offsetMapEntryBytes));
    this.maxEntries = Math.max(1, Math.floor(this.slots * offsetMapLoadFactor));
    this.table = Buffer.alloc(this.slots * offsetMapEntryBytes);
  }

  get size(): number {
    return this.entries;
  }

  get full(): boolean {
    return this.entries >= this.maxEntries;
  }

  clear(): void {
    for (const slot of this.used) this.table.fill(0, slot * offsetMapEntryBytes, (slot + 1) * offsetMapEntryBytes);
    this.used.length = 0;
    this.entries = 0;
  }

  /** Records `offset` as the latest of `key` (offsets are put in increasing order). */
  put(key: Uint8Array, offset: number): void {
    const hash = createHash('md5').update(key).digest();
    const slot = this.find(hash);
    const at = slot * offsetMapEntryBytes;
    if (this.table.readBigInt64BE(at + 16) === 0n) {
      hash.copy(this.table, at);
      this.entries++;
      this.used.push(slot);
    }
    // Stored as offset + 1, so that an empty slot (all zeros) is never a stored offset.
    this.table.writeBigInt64BE(BigInt(offset + 1), at + 16);
  }

  /** The latest offset of `key`, or -1 when it is not in the map. */
  get(key: Uint8Array): number {
    const hash = createHash('md5').update(key).digest();
    const at = this.find(hash) * offsetMapEntryBytes;
    const stored = this.table.readBigInt64BE(at + 16);
    return stored === 0n ? -1 : Number(stored) - 1;
  }

  /** The slot holding `hash`, or the empty slot where it would go. */
  private find(hash: Buffer): number {
    let slot = hash.readUInt32BE(0) % this.slots;
    for (;;) {
      const at = slot * offsetMapEntryBytes;
      if (this.table.readBigInt64BE(at + 16) === 0n || this.table.compare(hash, 0, 16, at, at + 16) === 0) return slot;
      slot = (slot + 1) % this.slots;
    }
  }
}

export interface CleanInput {
  /** The partition's batches in offset order, from its log start: whole magic-2 batches, several per buffer. */
  chunks: readonly Buffer[];
  /** Offsets at and above this are not cleaned (and must not be given): the cleanable end. */
  endOffset: number;
  /** Where the dirty part (not yet cleaned) starts: keys are mapped from here. */
  firstDirtyOffset: number;
  nowMs: number;
  /** delete.retention.ms: how long tombstones and removable markers stay after the cleaner first passes them. */
  deleteRetentionMs: number;
  /** Producer id → last offset of its last batch, for every producer still tracked for idempotence. */
  producerLastOffsets: ReadonlyMap<number, number>;
  /** The key map, cleared first; its size bounds how much of the dirty part one cleaning covers. */
  map: OffsetMap;
  /** Largest decompressed records section of one batch. */
  maxDecompressedBytes: number;
}

export interface CleanStats {
  batchesRead: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsRemoved: number;
  batchesRemoved: number;
  batchesRewritten: number;
  /** Records without a key found in the log (written before the topic was compacted): removed, as Kafka does. */
  keylessRemoved: number;
}

export interface CleanResult {
  /** The cleaned batches below `cleanedEnd`, then every input batch from `cleanedEnd` on, as they were. */
  chunks: Buffer[];
  /** Offsets below this are clean now (the next cleaning's first dirty offset). */
  cleanedEnd: number;
  stats: CleanStats;
}

interface BatchInfo {
  chunk: number;
  position: number;
  end: number;
  baseOffset: number;
  lastOffset: number;
  attributes: number;
  producerId: number;
  /** Transactional data batches: the outcome of their transaction ('open' while no marker follows). */
  txn: 'none' | 'commit' | 'abort' | 'open';
  /** Control batches: COMMIT, ABORT or another control type. */
  controlType: number;
}

/** Cleans a run of one partition's batches (see the top of this file). Throws RecordsError on corrupt data. */
export function cleanBatches(input: CleanInput): CleanResult {
  const stats: CleanStats = {
    batchesRead: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsRemoved: 0,
    batchesRemoved: 0,
    batchesRewritten: 0,
    keylessRemoved: 0,
  };
  const batches = scanHeaders(input.chunks, input.endOffset);
  // Never past a transactional batch whose transaction is still undecided here.
  let end = input.endOffset;
  for (const b of batches)
    if (b.txn === 'open') {
      end = b.baseOffset;
      break;
    }
  end = mapKeys(input, batches, end);
  const out: Buffer[] = [];
  const header = new BatchHeaderView();
  const cursor = new RecordCursor();
  /** Producers whose transaction has a surviving record since its start. */
  const txnSurvivors = new Set<number>();
  const keep: number[] = [];
  for (const b of batches) {
    const chunk = input.chunks[b.chunk]!;
    if (b.baseOffset >= end) {
      out.push(chunk.subarray(b.position, b.end));
      continue;
    }
    stats.batchesRead++;
    stats.bytesRead += b.end - b.position;
    header.reset(chunk, b.position);
    const horizon = (b.attributes & ATTRIBUTE_DELETE_HORIZON) !== 0 ? header.baseTimestampMs : -1;
    const pastHorizon = horizon >= 0 && input.nowMs >= horizon;
    const control = (b.attributes & ATTRIBUTE_CONTROL) !== 0;
    let setHorizon = false;
    if (control) {
      // A transaction marker: needed while a batch of its transaction survives (a rebuild of producer state
      // would otherwise see the transaction open), then until its horizon. Other control batches stay.
      const survivors = txnSurvivors.delete(b.producerId);
      const marker = b.controlType === ControlRecordType.COMMIT || b.controlType === ControlRecordType.ABORT;
      if (!marker || survivors || horizon >= 0) {
        if (marker && !survivors && pastHorizon) {
          stats.batchesRemoved++;
          stats.recordsRead++;
          stats.recordsRemoved++;
        } else {
          out.push(chunk.subarray(b.position, b.end));
        }
        continue;
      }
      setHorizon = true; // removable from now on: the first pass sets its horizon
    }
    // Which records survive (all of a marker's).
    keep.length = 0;
    let tombstones = false;
    openBatchRecords(chunk, b.position, cursor, { maxDecompressedBytes: input.maxDecompressedBytes, verifyCrc: false }, header);
    while (cursor.next()) {
      stats.recordsRead++;
      if (!control) {
        if (b.txn === 'abort') continue;
        if (cursor.keyLength < 0) {
          stats.keylessRemoved++;
          continue;
        }
        if (input.map.get(cursor.key()!) > cursor.offset) continue;
        if (cursor.valueLength < 0) {
          if (pastHorizon) continue;
          tombstones = true;
        }
      }
      keep.push(cursor.recordPosition, cursor.recordEnd, cursor.timestampDelta);
    }
    const kept = keep.length / 3;
    const recordCount = cursor.recordCount;
    stats.recordsRemoved += recordCount - kept;
    if (tombstones && horizon < 0) setHorizon = true;
    if (kept === 0 && !isProducerLast(input, b)) {
      stats.batchesRemoved++;
      continue;
    }
    if (b.txn === 'commit' || b.txn === 'abort') txnSurvivors.add(b.producerId);
    if (kept === recordCount && !setHorizon) {
      out.push(chunk.subarray(b.position, b.end));
      continue;
    }
    const rewritten = rewriteBatch(chunk, b, header, cursor.buffer, keep, setHorizon ? input.nowMs + input.deleteRetentionMs : -1);
    stats.batchesRewritten++;
    stats.bytesWritten += rewritten.length;
    out.push(rewritten);
  }
  return { chunks: out, cleanedEnd: end, stats };
}

/** A data batch that is the last of a producer still tracked for idempotence. */
function isProducerLast(input: CleanInput, b: BatchInfo): boolean {
  return (b.attributes & ATTRIBUTE_CONTROL) === 0 && b.producerId >= 0 && input.producerLastOffsets.get(b.producerId) === b.lastOffset;
}

/** Every batch below `endOffset`, with the outcome of each transactional batch's transaction. */
function scanHeaders(chunks: readonly Buffer[], endOffset: number): BatchInfo[] {
  const out: BatchInfo[] = [];
  const open = new Map<number, BatchInfo[]>();
  const header = new BatchHeaderView();
  for (let c = 0; c < chunks.length; c++) {
    const chunk = chunks[c]!;
    for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= chunk.length; ) {
      header.reset(chunk, pos);
      const end = header.end;
      const baseOffset = header.baseOffset;
      if (baseOffset >= endOffset) return out;
      const attributes = header.attributes;
      const producerId = header.producerId;
      const control = (attributes & ATTRIBUTE_CONTROL) !== 0;
      const transactional = (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
      const b: BatchInfo = {
        chunk: c,
        position: pos,
        end,
        baseOffset,
        lastOffset: baseOffset + header.lastOffsetDelta,
        attributes,
        producerId,
        txn: transactional && !control ? 'open' : 'none',
        controlType: control ? controlTypeOf(chunk, pos) : -1,
      };
      out.push(b);
      if (b.txn === 'open') {
        let list = open.get(producerId);
        if (list === undefined) open.set(producerId, (list = []));
        list.push(b);
      } else if (control && (b.controlType === ControlRecordType.COMMIT || b.controlType === ControlRecordType.ABORT)) {
        const list = open.get(producerId);
        if (list !== undefined) {
          for (const t of list) t.txn = b.controlType === ControlRecordType.COMMIT ? 'commit' : 'abort';
          open.delete(producerId);
        }
      }
      pos = end;
    }
  }
  return out;
}

/**
 * Maps the keys of the batches from the first dirty offset up to `end`; returns where the mapped part ends
 * (a batch boundary): `end`, or earlier when the map filled. Throws when not even one batch fits.
 */
function mapKeys(input: CleanInput, batches: readonly BatchInfo[], end: number): number {
  const map = input.map;
  map.clear();
  const header = new BatchHeaderView();
  const cursor = new RecordCursor();
  let mapped = false;
  for (const b of batches) {
    if (b.baseOffset >= end) break;
    if (b.lastOffset < input.firstDirtyOffset) continue;
    if ((b.attributes & ATTRIBUTE_CONTROL) !== 0 || b.txn === 'abort') continue;
    const chunk = input.chunks[b.chunk]!;
    header.reset(chunk, b.position);
    // Room for every record of the batch, as if all keys were new (Kafka's check).
    if (map.size + header.recordCount > map.maxEntries) {
      if (!mapped) throw new Error(`the dedupe buffer holds ${map.maxEntries} keys, fewer than one batch has (${header.recordCount})`);
      return b.baseOffset;
    }
    openBatchRecords(chunk, b.position, cursor, { maxDecompressedBytes: input.maxDecompressedBytes, verifyCrc: false }, header);
    while (cursor.next()) if (cursor.keyLength >= 0) map.put(cursor.key()!, cursor.offset);
    mapped = true;
  }
  return end;
}

/** Length of the varint at `pos` in bytes. */
function varintBytes(buffer: Buffer, pos: number): number {
  let n = 1;
  while ((buffer[pos + n - 1]! & 0x80) !== 0) n++;
  return n;
}

/**
 * A new batch holding the kept records (`keep`: record start, end and timestamp delta, in `records`, the
 * batch's records section, decompressed), in the batch's codec. Base offset, last offset delta, leader epoch
 * and producer fields stay; with a horizon (>= 0) it becomes the base timestamp and record timestamp deltas
 * are rewritten against it; the max timestamp is recomputed (CreateTime) or kept (LogAppendTime).
 */
function rewriteBatch(chunk: Buffer, b: BatchInfo, header: BatchHeaderView, records: Buffer, keep: number[], horizonMs: number): Buffer {
  const originalBase = header.baseTimestampMs;
  const logAppendTime = header.timestampType === TimestampType.LOG_APPEND_TIME;
  const base = horizonMs >= 0 ? horizonMs : originalBase;
  const shift = originalBase - base;
  let rawBytes = 0;
  let maxTimestamp = NO_TIMESTAMP;
  for (let i = 0; i < keep.length; i += 3) {
    const start = keep[i]!;
    const end = keep[i + 1]!;
    const delta = keep[i + 2]!;
    if (originalBase + delta > maxTimestamp) maxTimestamp = originalBase + delta;
    if (shift === 0) {
      rawBytes += end - start;
    } else {
      const body = end - start - varintBytes(records, start);
      const newBody = body - sizeOfVarlong(delta) + sizeOfVarlong(delta + shift);
      rawBytes += sizeOfVarint(newBody) + newBody;
    }
  }
  const raw = Buffer.allocUnsafe(rawBytes);
  let p = 0;
  for (let i = 0; i < keep.length; i += 3) {
    const start = keep[i]!;
    const end = keep[i + 1]!;
    const delta = keep[i + 2]!;
    if (shift === 0) {
      p += records.copy(raw, p, start, end);
      continue;
    }
    const lengthBytes = varintBytes(records, start);
    const bodyStart = start + lengthBytes;
    const afterDelta = bodyStart + 1 + varintBytes(records, bodyStart + 1);
    const body = end - bodyStart;
    const newBody = body - sizeOfVarlong(delta) + sizeOfVarlong(delta + shift);
    p = writeVarint(raw, p, newBody);
    raw[p++] = records[bodyStart]!; // record attributes
    p = writeVarlong(raw, p, delta + shift);
    p += records.copy(raw, p, afterDelta, end);
  }
  const kept = keep.length / 3;
  // An emptied batch (a producer's last) is written uncompressed, as Kafka writes empty batch headers.
  const codec = (kept === 0 ? 0 : b.attributes & ATTRIBUTE_COMPRESSION_MASK) as CompressionCodecId;
  const section = compressRecords(codec, raw);
  const out = Buffer.allocUnsafe(BATCH_RECORDS_OFFSET + section.length);
  chunk.copy(out, 0, b.position, b.position + BATCH_RECORDS_OFFSET);
  section.copy(out, BATCH_RECORDS_OFFSET);
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  let attributes = (b.attributes & ~ATTRIBUTE_COMPRESSION_MASK) | codec;
  if (horizonMs >= 0) attributes |= ATTRIBUTE_DELETE_HORIZON;
  if (kept === 0) attributes &= ~ATTRIBUTE_DELETE_HORIZON;
  out.writeInt16BE(attributes, BATCH_ATTRIBUTES_OFFSET);
  const originalMax = header.maxTimestampMs;
  const newMax = logAppendTime || kept === 0 ? originalMax : maxTimestamp;
  writeInt64(out, BATCH_BASE_TIMESTAMP_OFFSET, kept === 0 ? originalMax : base);
  writeInt64(out, BATCH_MAX_TIMESTAMP_OFFSET, newMax);
  out.writeInt32BE(kept, BATCH_RECORD_COUNT_OFFSET);
  writeBatchCrc(out, 0, out.length);
  return out;
}

/**
 * A batch of no records at `offset` (one offset long, no producer): what stands at the first or last offset of
 * a cleaned segment whose batch there was removed, so the segment still spans exactly the offsets it replaces.
 * Its timestamp is the removed batch's max timestamp, as Kafka does for the empty batches it keeps.
 */
export function emptyBatch(offset: number, leaderEpoch: number, timestampMs: number): Buffer {
  const b = Buffer.alloc(BATCH_RECORDS_OFFSET);
  writeInt64(b, 0, offset);
  b.writeInt32BE(BATCH_RECORDS_OFFSET - BATCH_LOG_OVERHEAD_BYTES, BATCH_LENGTH_OFFSET);
  b.writeInt32BE(leaderEpoch, BATCH_PARTITION_LEADER_EPOCH_OFFSET);
  b.writeInt8(MAGIC_V2, BATCH_MAGIC_OFFSET);
  b.writeInt16BE(0, BATCH_ATTRIBUTES_OFFSET);
  b.writeInt32BE(0, BATCH_LAST_OFFSET_DELTA_OFFSET);
  writeInt64(b, BATCH_BASE_TIMESTAMP_OFFSET, timestampMs);
  writeInt64(b, BATCH_MAX_TIMESTAMP_OFFSET, timestampMs);
  writeInt64(b, BATCH_PRODUCER_ID_OFFSET, NO_PRODUCER_ID);
  b.writeInt16BE(NO_PRODUCER_EPOCH, BATCH_PRODUCER_EPOCH_OFFSET);
  b.writeInt32BE(NO_SEQUENCE, BATCH_BASE_SEQUENCE_OFFSET);
  b.writeInt32BE(0, BATCH_RECORD_COUNT_OFFSET);
  writeBatchCrc(b, 0, b.length);
  return b;
}
