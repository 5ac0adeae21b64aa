// Per-partition state of idempotent producers (spec/producer-state.md): for each producer id, its epoch and the
// sequence ranges and offsets of its last five batches, so that a retried batch is answered with its original
// offset instead of being appended twice, and gaps or stale epochs are refused. The checks follow Kafka's
// ProducerStateManager / ProducerAppendInfo (Kafka 3.x/4.x, after KIP-360): a producer the partition does not
// know is accepted with any sequence; a known one must continue its sequence, or start a new epoch at 0.
//
// The state is derived from the log: it is rebuilt from a snapshot (written into the partition manifest by
// compaction, as of the end of its segments) plus the batch headers of the uncompacted tail. Only 61-byte
// batch headers are read, never records.
import assert from 'node:assert/strict';
import { ErrorCode } from '../protocol/errors.ts';
import {
  readAttributes, readBaseOffset, readBaseSequence, readBatchLength, readLastOffsetDelta, readMaxTimestampMs, readProducerEpoch, readProducerId,
  lastSequenceOf,
} from '../protocol/records/batch-header.ts';
import { ATTRIBUTE_CONTROL, BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import type { ProducerSnapshotRecord } from '../metadata/layout.ts';
import type { PartitionLog } from './partition-log.ts';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: duplicates are detected among this many last batches. */
export const batchesToRetain = 5;
const INT32_MAX = 0x7fffffff;

export interface ProducerStateSettings {
  /** producer.id.expiration.ms: a producer whose last batch is older than this is forgotten. */
  expirationMs: number;
  /** Producers remembered per partition at most; beyond it the least recently written one is forgotten. */
  maxProducers: number;
}

export const defaultProducerStateSettings: Readonly<ProducerStateSettings> = Object.freeze({ expirationMs: 86_400_000, maxProducers: 1000 });

/** One batch of a producer: its sequence range, its offsets, its max timestamp. */
export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
  timestamp: number;
}

export interface ProducerEntry {
  readonly producerId: number;
  epoch: number;
  /** Oldest first, at most batchesToRetain; all of the current epoch. */
  batches: BatchMetadata[];
  /** Max timestamp of the producer's last batch (Kafka's lastTimestamp): what expiry compares. */
  lastTimestamp: number;
  /** First offset of the producer's open transaction, or -1. Always -1 until transactions are implemented. */
  currentTxnFirstOffset: number;
  /** Epoch of the transaction coordinator that last wrote a marker, or -1 (transactions). */
  coordinatorEpoch: number;
}

/** The snapshot kept in a partition manifest (layout.ts: ProducerSnapshotRecord). */
export type ProducerSnapshot = ProducerSnapshotRecord;

export type ProducerCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'error'; errorCode: number; message: string };

const appendOk: ProducerCheck = Object.freeze({ kind: 'append' });

/** Broker-wide figures since start (exported as the skafos_idempotent_producers metric). */
export interface ProducerStateStats {
  /** Retried batches answered with their original offset. */
  duplicates: number;
  outOfOrder: number;
  invalidEpoch: number;
  /** Producers forgotten because a partition had too many (in memory or in a snapshot being written). */
  evicted: number;
  /** Rebuilds of a partition's state (lazily, after start or abandoned appends), and what they read. */
  loads: number;
  bytesScanned: number;
  batchesScanned: number;
  ms: number;
}
export const producerStateStats: ProducerStateStats = { duplicates: 0, outOfOrder: 0, invalidEpoch: 0, evicted: 0, loads: 0, bytesScanned: 0, batchesScanned: 0, ms: 0 };

/** Kafka's inSequence: the next sequence after `last`, wrapping from INT32_MAX to 0. */
export function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();
  settings: ProducerStateSettings;
  /** Last time expiry ran (expiry is amortised: at most once per expiryCheckIntervalMs). */
  private lastExpiryMs = 0;
  /** Producers forgotten because the partition had too many (a metric of sorts; see spec). */
  evicted = 0;

  constructor(settings: ProducerStateSettings = defaultProducerStateSettings) {
    this.settings = settings;
  }

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  /**
   * What to do with a client's batch (Kafka: UnifiedLog.analyzeAndValidateProducerState, then
   * ProducerAppendInfo.checkProducerEpoch and checkSequence). Pure: nothing changes until update().
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): ProducerCheck {
    const entry = this.producers.get(producerId);
    if (entry === undefined) return appendOk; // unknown producer: any sequence is accepted (KIP-360)
    if (epoch === entry.epoch) {
      const batches = entry.batches;
      for (let i = batches.length - 1; i >= 0; i--) {
        const b = batches[i]!;
        if (b.firstSeq === firstSeq && b.lastSeq === lastSeq) {
          producerStateStats.duplicates++;
          return { kind: 'duplicate', batch: b };
        }
      }
    }
    if (epoch < entry.epoch) {
      producerStateStats.invalidEpoch++;
      // Kafka 2.7+ answers Produce with INVALID_PRODUCER_EPOCH (not the fatal PRODUCER_FENCED).
      return {
        kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `Epoch of producer ${producerId} is ${epoch}, which is smaller than the last seen epoch ${entry.epoch}`,
      };
    }
    if (epoch !== entry.epoch) {
      if (firstSeq !== 0) {
        producerStateStats.outOfOrder++;
        return {
          kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `Invalid sequence number for new epoch of producer ${producerId}: ${epoch} (request epoch), ${firstSeq} (seq. number), ${entry.epoch} (current producer epoch)`,
        };
      }
      return appendOk;
    }
    const last = entry.batches.length > 0 ? entry.batches[entry.batches.length - 1]!.lastSeq : -1;
    if (!inSequence(last, firstSeq)) {
      producerStateStats.outOfOrder++;
      return {
        kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `Out of order sequence number for producer ${producerId}: ${firstSeq} (incoming seq. number), ${last} (current end sequence number)`,
      };
    }
    return appendOk;
  }

  /** Records an appended batch of the producer (after check() said append, or when replaying the log). */
  update(producerId: number, epoch: number, firstSeq: number, lastSeq: number, firstOffset: number, lastOffset: number, timestamp: number): void {
    let entry = this.producers.get(producerId);
    if (entry === undefined) {
      if (this.producers.size >= this.settings.maxProducers) this.evictOldest();
      entry = { producerId, epoch, batches: [], lastTimestamp: timestamp, currentTxnFirstOffset: -1, coordinatorEpoch: -1 };
    } else {
      // Map order is least recently written first: re-insert to move it to the end.
      this.producers.delete(producerId);
    }
    this.producers.set(producerId, entry);
    if (epoch !== entry.epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    const batches = entry.batches;
    const previous = batches[batches.length - 1];
    assert.ok(previous === undefined || firstOffset > previous.lastOffset, 'a producer\'s batches are appended in offset order');
    if (batches.length >= batchesToRetain) {
      // Reuse the oldest batch object: no allocation in the steady state.
      const b = batches.shift()!;
      b.firstSeq = firstSeq; b.lastSeq = lastSeq; b.firstOffset = firstOffset; b.lastOffset = lastOffset; b.timestamp = timestamp;
      batches.push(b);
    } else {
      batches.push({ firstSeq, lastSeq, firstOffset, lastOffset, timestamp });
    }
    entry.lastTimestamp = timestamp;
  }

  /** Applies every idempotent data batch in `data` (whole batches) whose base offset is at least `fromOffset`. */
  applyBatches(data: Buffer, fromOffset: number): void {
    for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos)) {
      const baseOffset = readBaseOffset(data, pos);
      if (baseOffset < fromOffset) continue;
      const producerId = readProducerId(data, pos);
      if (producerId < 0 || (readAttributes(data, pos) & ATTRIBUTE_CONTROL) !== 0) continue; // control batches: transactions, later
      const delta = readLastOffsetDelta(data, pos);
      const firstSeq = readBaseSequence(data, pos);
      this.update(producerId, readProducerEpoch(data, pos), firstSeq, lastSequenceOf(firstSeq, delta), baseOffset, baseOffset + delta, readMaxTimestampMs(data, pos));
    }
  }

  private evictOldest(): void {
    for (const [id, e] of this.producers) {
      if (e.currentTxnFirstOffset >= 0) continue; // never forget a producer inside a transaction
      this.producers.delete(id);
      this.evicted++;
      producerStateStats.evicted++;
      return;
    }
  }

  /** Forgets producers whose last batch is older than the expiration (Kafka: removeExpiredProducers). */
  expire(nowMs: number): number {
    this.lastExpiryMs = nowMs;
    let n = 0;
    for (const [id, e] of this.producers) {
      if (e.currentTxnFirstOffset < 0 && nowMs - e.lastTimestamp >= this.settings.expirationMs) {
        this.producers.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Expiry and log-start truncation, at most once a minute (amortised over appends). */
  maybeExpire(nowMs: number, logStartOffset: number): void {
    if (nowMs - this.lastExpiryMs < expiryCheckIntervalMs) return;
    this.expire(nowMs);
    this.truncateHead(logStartOffset);
  }

  /** Forgets producers whose last batch lies below the log start (retention, DeleteRecords; Kafka: truncateHead). */
  truncateHead(logStartOffset: number): void {
    for (const [id, e] of this.producers) {
      const last = e.batches[e.batches.length - 1];
      if (last === undefined || last.lastOffset < logStartOffset) this.producers.delete(id);
    }
  }

  toSnapshot(offset: number): ProducerSnapshot {
    const producers: number[][] = [];
    for (const e of this.producers.values()) {
      if (e.batches.length === 0) continue;
      const row = [e.producerId, e.epoch, e.lastTimestamp];
      for (const b of e.batches) row.push(b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset, b.timestamp);
      producers.push(row);
    }
    return { offset, producers };
  }

  static fromSnapshot(snapshot: ProducerSnapshot | null | undefined, settings: ProducerStateSettings): ProducerStateManager {
    const m = new ProducerStateManager(settings);
    if (!snapshot) return m;
    for (const row of snapshot.producers) {
      assert.ok(row.length >= 3 && (row.length - 3) % 5 === 0, 'producer snapshot row');
      const [producerId, epoch] = row as [number, number];
      for (let i = 3; i < row.length; i += 5) m.update(producerId, epoch, row[i]!, row[i + 1]!, row[i + 2]!, row[i + 3]!, row[i + 4]!);
      m.producers.get(producerId)!.lastTimestamp = row[2]!;
    }
    return m;
  }
}

const expiryCheckIntervalMs = 60_000;

/**
 * The snapshot after the batches of `chunks` (whole batches, by offset, each array of consecutive chunks) on
 * top of `base`: what compaction writes into the manifest when new segments end at `endOffset`. Batches below
 * the base's offset are already in it. A partition without a snapshot (its manifest predates producer state)
 * starts empty: producers of its older segments are forgotten, as if expired.
 */
export function advanceSnapshot(base: ProducerSnapshot | null, chunks: readonly Buffer[], endOffset: number, logStartOffset: number, nowMs: number, settings: ProducerStateSettings): ProducerSnapshot {
  const from = base?.offset ?? 0;
  if (endOffset <= from) return base!;
  const m = ProducerStateManager.fromSnapshot(base, settings);
  for (const c of chunks) m.applyBatches(c, from);
  m.truncateHead(logStartOffset);
  m.expire(nowMs);
  return m.toSnapshot(endOffset);
}

/** Reads whole batches of a log from `offset` on, below `end` (LogManager.read). */
export type LogReader = (log: PartitionLog, offset: number, maxBytes: number, minOneBatch: boolean, end: number) => Promise<Buffer | null>;

/** Bytes asked for per read while rebuilding (whole chunks or read windows are returned anyway). */
const loadReadBytes = 8 * 1024 * 1024;
const loads = new WeakMap<PartitionLog, Promise<void>>();


/**
 * The partition's producer state, rebuilt first if needed: from its snapshot (as of the end of its segments)
 * plus the batch headers of the durable log after it. Rebuilt lazily, by the first idempotent Produce after
 * start or after unflushed appends were abandoned, so starting a broker reads nothing more. Meanwhile no
 * idempotent batch is appended to the partition (they all wait here), so the durable log is all there is.
 */
export async function producerStateOf(log: PartitionLog, read: LogReader, settings: ProducerStateSettings): Promise<ProducerStateManager> {
  for (;;) {
    if (log.producerState !== null) return log.producerState;
    let p = loads.get(log);
    if (p === undefined) {
      p = rebuild(log, read, settings).finally(() => loads.delete(log));
      loads.set(log, p);
    }
    await p;
  }
}

async function rebuild(log: PartitionLog, read: LogReader, settings: ProducerStateSettings): Promise<void> {
  const started = Date.now();
  const resets = log.producerStateResets;
  const snapshot = log.producerSnapshot;
  const end = log.highWatermark;
  // Without a snapshot (a manifest older than producer state, or none yet) the scan starts after the segments.
  // Reads start at the log start when it is later; the batch holding it (the log start may fall inside a batch,
  // after DeleteRecords) is applied, as Kafka keeps a producer whose last batch ends at or after the log start.
  let offset = snapshot?.offset ?? firstWalOffset(log);
  const m = ProducerStateManager.fromSnapshot(snapshot, settings);
  while (offset < end) {
    const data = await read(log, Math.max(offset, log.logStartOffset), loadReadBytes, true, end);
    if (data === null) break;
    let next = offset;
    for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos)) {
      next = Math.max(next, readBaseOffset(data, pos) + readLastOffsetDelta(data, pos) + 1);
      producerStateStats.batchesScanned++;
    }
    m.applyBatches(data, offset);
    producerStateStats.bytesScanned += data.length;
    if (next <= offset) break;
    offset = next;
  }
  if (log.producerStateResets !== resets) return; // appends abandoned meanwhile: the caller rebuilds again
  m.truncateHead(log.logStartOffset);
  m.expire(Date.now());
  log.producerState = m;
  producerStateStats.loads++;
  producerStateStats.ms += Date.now() - started;
}

function firstWalOffset(log: PartitionLog): number {
  for (const e of log.extents) if (!e.segment) return e.baseOffset;
  return log.highWatermark;
}

/** The producer id of the first batch of Produce data, without validating it (-1 when too short). */
export function peekProducerId(records: Buffer | null): number {
  return records !== null && records.length >= BATCH_HEADER_BYTES ? readProducerId(records, 0) : -1;
}
