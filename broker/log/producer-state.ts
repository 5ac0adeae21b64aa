// Per-partition state of idempotent producers (spec/producer-state.md): for each producer id, its epoch and the
// sequence ranges and offsets of its last five batches, so that a retried batch is answered with its original
// offset instead of being appended twice, and gaps or stale epochs are refused. The checks follow Kafka's
// ProducerStateManager / ProducerAppendInfo (Kafka 3.x/4.x, after KIP-360): a producer the partition does not
// know is accepted with any sequence; a known one must continue its sequence, or start a new epoch at 0.
//
// The state is derived from the log: it is rebuilt from a snapshot (written into the partition manifest by
// compaction, as of the end of its segments) plus the batch headers of the uncompacted tail
// (producer-state-load.ts). Only 61-byte batch headers are read, never records.
import assert from 'node:assert/strict';
import { ErrorCode } from '../protocol/errors.ts';
import {
  readAttributes,
  readBaseOffset,
  readBaseSequence,
  readBatchLength,
  readLastOffsetDelta,
  readMaxTimestampMs,
  readProducerEpoch,
  readProducerId,
  lastSequenceOf,
} from '../protocol/records/batch-header.ts';
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  ControlRecordType,
} from '../protocol/records/constants.ts';
import { controlTypeOf, markerCoordinatorEpochOf } from '../protocol/records/control.ts';
import type { ProducerSnapshotRecord } from '../metadata/layout.ts';
import { configDefaults } from '../config.ts';
import { producerStateExpiryCheckIntervalMs, producerStateMaxAbortedTxnsCount } from '../limits.ts';

/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: duplicates are detected among this many last batches. */
export const batchesToRetain = 5;
const INT32_MAX = 0x7fffffff;

export interface ProducerStateSettings {
  /** producer.id.expiration.ms: a producer whose last batch is older than this is forgotten. */
  expirationMs: number;
  /** Producers remembered per partition at most; beyond it the least recently written one is forgotten. */
  maxProducers: number;
}

export const defaultProducerStateSettings: Readonly<ProducerStateSettings> = Object.freeze({
  expirationMs: configDefaults.producerIdExpirationMs,
  maxProducers: configDefaults.producerStateMaxProducers,
});

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
  /** First offset of the producer's open transaction in this partition, or -1 (spec/transactions.md). */
  currentTxnFirstOffset: number;
  /** Epoch of the transaction coordinator that last wrote a marker, or -1. */
  coordinatorEpoch: number;
  /** COMMIT/ABORT markers applied to this entry since it was created here (transaction verification's guard). */
  markersApplied: number;
}

/** The snapshot kept in a partition manifest (layout.ts: ProducerSnapshotRecord). */
export type ProducerSnapshot = ProducerSnapshotRecord;

/** A transaction aborted in this partition: its producer, its first offset and the offset of its ABORT marker. */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

export type ProducerCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; batch: BatchMetadata }
  | { kind: 'error'; errorCode: number; message: string };

const appendOk: ProducerCheck = Object.freeze({ kind: 'append' });
const noAborted: readonly AbortedTxn[] = Object.freeze([]);

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
export const producerStateStats: ProducerStateStats = {
  duplicates: 0,
  outOfOrder: 0,
  invalidEpoch: 0,
  evicted: 0,
  loads: 0,
  bytesScanned: 0,
  batchesScanned: 0,
  ms: 0,
};

/** Kafka's inSequence: the next sequence after `last`, wrapping from INT32_MAX to 0. */
export function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();
  settings: ProducerStateSettings;
  /** Last time expiry ran (expiry is amortised: at most once per producerStateExpiryCheckIntervalMs). */
  private lastExpiryMs = 0;
  /** Producers forgotten because the partition had too many (a metric of sorts; see spec). */
  evicted = 0;
  /**
   * Open transactions of this partition: producer id → first offset. Transactions begin at increasing offsets,
   * so the map's insertion order is first offset ascending (its first entry bounds the last stable offset).
   */
  private readonly ongoing = new Map<number, number>();
  /** Transactions whose marker is appended but may not be durable yet (Kafka's unreplicated transactions). */
  private unreplicated: { firstOffset: number; lastOffset: number }[] = [];
  /** Aborted transactions, by marker offset ascending (Kafka's aborted-transaction index). */
  private aborted: AbortedTxn[] = [];

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
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number, transactional = false): ProducerCheck {
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
        kind: 'error',
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `Epoch of producer ${producerId} is ${epoch}, which is smaller than the last seen epoch ${entry.epoch}`,
      };
    }
    if (epoch !== entry.epoch) {
      if (firstSeq !== 0) {
        producerStateStats.outOfOrder++;
        return {
          kind: 'error',
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `Invalid sequence number for new epoch of producer ${producerId}: ${epoch} (request epoch), ${firstSeq} (seq. number), ${entry.epoch} (current producer epoch)`,
        };
      }
      return appendOk;
    }
    const last = entry.batches.length > 0 ? entry.batches[entry.batches.length - 1]!.lastSeq : -1;
    if (!inSequence(last, firstSeq)) {
      producerStateStats.outOfOrder++;
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `Out of order sequence number for producer ${producerId}: ${firstSeq} (incoming seq. number), ${last} (current end sequence number)`,
      };
    }
    if (!transactional && entry.currentTxnFirstOffset >= 0) {
      // Kafka's ProducerAppendInfo: a non-transactional write of a producer with an open transaction.
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_TXN_STATE,
        message: `Expected transactional write from producer ${producerId} at offset ${entry.currentTxnFirstOffset}`,
      };
    }
    return appendOk;
  }

  /** Records an appended batch of the producer (after check() said append, or when replaying the log). */
  update(
    producerId: number,
    epoch: number,
    firstSeq: number,
    lastSeq: number,
    firstOffset: number,
    lastOffset: number,
    timestamp: number,
    transactional = false,
  ): void {
    const entry = this.touch(producerId, epoch, timestamp);
    const batches = entry.batches;
    const previous = batches[batches.length - 1];
    assert.ok(previous === undefined || firstOffset > previous.lastOffset, "a producer's batches are appended in offset order");
    if (batches.length >= batchesToRetain) {
      // Reuse the oldest batch object: no allocation in the steady state.
      const b = batches.shift()!;
      b.firstSeq = firstSeq;
      b.lastSeq = lastSeq;
      b.firstOffset = firstOffset;
      b.lastOffset = lastOffset;
      b.timestamp = timestamp;
      batches.push(b);
    } else {
      batches.push({ firstSeq, lastSeq, firstOffset, lastOffset, timestamp });
    }
    entry.lastTimestamp = timestamp;
    if (transactional && entry.currentTxnFirstOffset < 0) {
      // The producer's first batch of a transaction in this partition: the transaction is open from here.
      entry.currentTxnFirstOffset = firstOffset;
      this.ongoing.set(producerId, firstOffset);
    }
  }

  /** The producer's entry (created if new), moved to most recently written, at `epoch` (batches dropped if it changed). */
  private touch(producerId: number, epoch: number, timestamp: number): ProducerEntry {
    let entry = this.producers.get(producerId);
    if (entry === undefined) {
      if (this.producers.size >= this.settings.maxProducers) this.evictOldest();
      entry = {
        producerId,
        epoch,
        batches: [],
        lastTimestamp: timestamp,
        currentTxnFirstOffset: -1,
        coordinatorEpoch: -1,
        markersApplied: 0,
      };
    } else {
      // Map order is least recently written first: re-insert to move it to the end.
      this.producers.delete(producerId);
    }
    this.producers.set(producerId, entry);
    if (epoch !== entry.epoch) {
      entry.epoch = epoch;
      entry.batches = [];
    }
    return entry;
  }

  /**
   * Whether a COMMIT/ABORT marker of the producer at `epoch` from a coordinator at `coordinatorEpoch` may be
   * appended (Kafka: ProducerAppendInfo.appendEndTxnMarker's checks). null when it may.
   */
  checkMarker(producerId: number, epoch: number, coordinatorEpoch: number): { errorCode: number; message: string } | null {
    const entry = this.producers.get(producerId);
    if (entry === undefined) return null;
    if (epoch < entry.epoch) {
      return {
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `Marker epoch ${epoch} of producer ${producerId} is older than its epoch ${entry.epoch}`,
      };
    }
    if (coordinatorEpoch < entry.coordinatorEpoch) {
      return {
        errorCode: ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        message: `Coordinator epoch ${coordinatorEpoch} is older than ${entry.coordinatorEpoch} for producer ${producerId}`,
      };
    }
    return null;
  }

  /**
   * Records an appended COMMIT/ABORT marker at `markerOffset`: the producer's open transaction (if any) ends;
   * an aborted one enters the aborted-transaction index. The marker's epoch becomes the producer's.
   */
  completeTxn(producerId: number, epoch: number, commit: boolean, coordinatorEpoch: number, markerOffset: number, timestamp: number): void {
    const entry = this.touch(producerId, epoch, timestamp);
    entry.markersApplied++;
    entry.coordinatorEpoch = coordinatorEpoch;
    entry.lastTimestamp = timestamp;
    const first = entry.currentTxnFirstOffset;
    if (first < 0) return;
    entry.currentTxnFirstOffset = -1;
    this.ongoing.delete(producerId);
    this.unreplicated.push({ firstOffset: first, lastOffset: markerOffset });
    if (!commit) {
      this.aborted.push({ producerId, firstOffset: first, lastOffset: markerOffset });
      if (this.aborted.length > producerStateMaxAbortedTxnsCount)
        this.aborted.splice(0, this.aborted.length - producerStateMaxAbortedTxnsCount);
    }
  }

  /**
   * Whether the producer at `epoch` has a transaction open in this partition: its later transactional batches
   * need no verification with the coordinator (KIP-890), only the first one of each transaction does.
   */
  hasOngoingTxn(producerId: number, epoch: number): boolean {
    const entry = this.producers.get(producerId);
    return entry !== undefined && entry.epoch === epoch && entry.currentTxnFirstOffset >= 0;
  }

  /**
   * Changes whenever a marker of the producer is applied here. Taken before verifying a transactional batch
   * with the coordinator and compared after: if a marker came in between, the transaction the coordinator
   * vouched for may have ended, so the batch must not open a new one (Kafka's VerificationGuard).
   */
  verificationGuard(producerId: number): number {
    return this.producers.get(producerId)?.markersApplied ?? 0;
  }

  /** Number of transactions open in this partition. */
  get ongoingCount(): number {
    return this.ongoing.size;
  }

  /**
   * The last stable offset: the first offset of the oldest transaction not yet decided durably, or the high
   * watermark when it is lower (Kafka: min(firstUnstableOffset, highWatermark)).
   */
  lastStableOffset(highWatermark: number): number {
    if (this.ongoing.size === 0 && this.unreplicated.length === 0) return highWatermark;
    let lso = highWatermark;
    for (const first of this.ongoing.values()) {
      if (first < lso) lso = first;
      break; // insertion order is first offset ascending
    }
    if (this.unreplicated.length > 0) {
      // A transaction whose marker is durable is decided.
      this.unreplicated = this.unreplicated.filter((t) => t.lastOffset >= highWatermark);
      for (const t of this.unreplicated) if (t.firstOffset < lso) lso = t.firstOffset;
    }
    return lso;
  }

  /** Aborted transactions that overlap [fetchOffset, upperBound): their marker at or after fetchOffset, their first offset before upperBound. */
  abortedTxns(fetchOffset: number, upperBound: number): readonly AbortedTxn[] {
    const a = this.aborted;
    if (a.length === 0 || a[a.length - 1]!.lastOffset < fetchOffset) return noAborted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]!.lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const out: AbortedTxn[] = [];
    for (let i = lo; i < a.length; i++) if (a[i]!.firstOffset < upperBound) out.push(a[i]!);
    return out;
  }

  /** Applies every idempotent data batch in `data` (whole batches) whose base offset is at least `fromOffset`. */
  applyBatches(data: Buffer, fromOffset: number): void {
    for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos)) {
      const baseOffset = readBaseOffset(data, pos);
      if (baseOffset < fromOffset) continue;
      const producerId = readProducerId(data, pos);
      if (producerId < 0) continue;
      const attributes = readAttributes(data, pos);
      if ((attributes & ATTRIBUTE_CONTROL) !== 0) {
        const type = controlTypeOf(data, pos);
        if (type === ControlRecordType.COMMIT || type === ControlRecordType.ABORT) {
          this.completeTxn(
            producerId,
            readProducerEpoch(data, pos),
            type === ControlRecordType.COMMIT,
            markerCoordinatorEpochOf(data, pos),
            baseOffset,
            readMaxTimestampMs(data, pos),
          );
        }
        continue;
      }
      const delta = readLastOffsetDelta(data, pos);
      const firstSeq = readBaseSequence(data, pos);
      this.update(
        producerId,
        readProducerEpoch(data, pos),
        firstSeq,
        lastSequenceOf(firstSeq, delta),
        baseOffset,
        baseOffset + delta,
        readMaxTimestampMs(data, pos),
        (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0,
      );
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
    if (nowMs - this.lastExpiryMs < producerStateExpiryCheckIntervalMs) return;
    this.expire(nowMs);
    this.truncateHead(logStartOffset);
  }

  /** Forgets producers whose last batch lies below the log start (retention, DeleteRecords; Kafka: truncateHead). */
  truncateHead(logStartOffset: number): void {
    for (const [id, e] of this.producers) {
      if (e.currentTxnFirstOffset >= 0) continue; // an open transaction keeps its producer
      const last = e.batches[e.batches.length - 1];
      if (last === undefined || last.lastOffset < logStartOffset) this.producers.delete(id);
    }
    if (this.aborted.length > 0 && this.aborted[0]!.lastOffset < logStartOffset)
      this.aborted = this.aborted.filter((a) => a.lastOffset >= logStartOffset);
  }

  toSnapshot(offset: number): ProducerSnapshot {
    const producers: number[][] = [];
    for (const e of this.producers.values()) {
      if (e.batches.length === 0) continue;
      const row = [e.producerId, e.epoch, e.lastTimestamp];
      for (const b of e.batches) row.push(b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset, b.timestamp);
      producers.push(row);
    }
    const snapshot: ProducerSnapshot = { offset, producers };
    // Transactions (spec/transactions.md): open transactions and coordinator epochs, and the aborted index.
    const txns: number[] = [];
    for (const e of this.producers.values()) {
      if (e.batches.length > 0 && (e.currentTxnFirstOffset >= 0 || e.coordinatorEpoch >= 0))
        txns.push(e.producerId, e.currentTxnFirstOffset, e.coordinatorEpoch);
    }
    if (txns.length > 0) snapshot.txns = txns;
    if (this.aborted.length > 0) {
      const aborted: number[] = [];
      for (const a of this.aborted) aborted.push(a.producerId, a.firstOffset, a.lastOffset);
      snapshot.aborted = aborted;
    }
    return snapshot;
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
    const txns = snapshot.txns ?? [];
    const open: [number, number][] = [];
    for (let i = 0; i + 2 < txns.length; i += 3) {
      const e = m.producers.get(txns[i]!);
      if (e === undefined) continue;
      e.currentTxnFirstOffset = txns[i + 1]!;
      e.coordinatorEpoch = txns[i + 2]!;
      if (e.currentTxnFirstOffset >= 0) open.push([e.producerId, e.currentTxnFirstOffset]);
    }
    open.sort((a, b) => a[1] - b[1]);
    for (const [id, first] of open) m.ongoing.set(id, first);
    const aborted = snapshot.aborted ?? [];
    for (let i = 0; i + 2 < aborted.length; i += 3)
      m.aborted.push({ producerId: aborted[i]!, firstOffset: aborted[i + 1]!, lastOffset: aborted[i + 2]! });
    return m;
  }
}

/** The producer id of the first batch of Produce data, without validating it (-1 when too short). */
export function peekProducerId(records: Buffer | null): number {
  return records !== null && records.length >= BATCH_HEADER_BYTES ? readProducerId(records, 0) : -1;
}
