// One partition led by this broker: offsets are assigned here, in memory; appended batches wait in `pending`
// until the broker-wide flusher has made them durable in a WAL object and committed that object's metadata.
// Only then does the high watermark move and the producers' acknowledgements go out.
import assert from 'node:assert/strict';
import { readBatchLength, readLastOffsetDelta, readBaseOffset, readMaxTimestampMs } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import type { ProducerSnapshotRecord } from '../metadata/layout.ts';
import type { ProducerStateManager } from './producer-state.ts';

/**
 * A durable run of batches of this partition inside one object: a chunk of a WAL object (shared with other
 * partitions), or a whole segment object (position 0, lengthBytes = its batches; read through its indexes).
 */
export interface Extent {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  objectKey: string;
  position: number;
  lengthBytes: number;
  /** True for a segment object written by the compactor, false for a chunk of a WAL object. */
  segment: boolean;
  /** Size of the whole object (where its footer is). */
  objectSizeBytes: number;
}

interface PendingAppend {
  records: Buffer;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  batchCount: number;
}

export interface TakenChunk {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  batchCount: number;
  data: Buffer;
}

/** The first offset written in a leader epoch. */
export interface EpochStart {
  epoch: number;
  startOffset: number;
}

/** The partition is no longer led by this broker (it was handed over or taken away). */
export class NotLeaderError extends Error {
  constructor(topic: string, partition: number) {
    super(`This broker no longer leads ${topic}-${partition}`);
    this.name = 'NotLeaderError';
  }
}

export type HighWatermarkListener = (log: PartitionLog) => void;

export class PartitionLog {
  readonly topicId: string;
  readonly topicName: string;
  readonly partition: number;
  leaderEpoch: number;
  /**
   * Every leader epoch of this log and the offset it began at, by epoch ascending; the last is `leaderEpoch`
   * (Kafka's leader-epoch cache; see leader-epochs.ts). One entry until partitions change leaders: a new
   * leader epoch appends { epoch, startOffset: the log end offset when it began }.
   */
  readonly epochStarts: EpochStart[];
  /** First offset still readable. */
  logStartOffset: number;
  /** Offset after the last durable batch; what consumers may read up to (no transactions yet: LSO = HW). */
  highWatermark: number;
  /** Offset the next appended batch gets (log end offset, durable or not). */
  nextOffset: number;
  /**
   * Durable runs, sorted by offset, contiguous with no gaps: segments first (the compactor only ever merges a
   * prefix), then WAL chunks. None lies wholly below the log start offset. Replaced in place by compaction and
   * trimmed at the front by log start moves, so readers that await must look extents up again by offset.
   */
  readonly extents: Extent[] = [];
  private pending: PendingAppend[] = [];
  private pendingBytesCount = 0;
  /** Chunks handed to a flush whose commit has not been applied yet, oldest first. */
  private readonly inFlight: TakenChunk[] = [];
  private readonly onHighWatermark: HighWatermarkListener;
  /** Appends waiting to become durable, by last offset ascending (appends are in offset order). */
  private readonly durableWaiters: { offset: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Largest batch timestamp and the offset of that batch (ListOffsets MAX_TIMESTAMP). */
  maxTimestamp = -1;
  maxTimestampOffset = -1;
  /**
   * Idempotent producers of this partition (producer-state.ts), or null until rebuilt from the log: at start,
   * and again whenever unflushed appends are abandoned (their batches must not count as duplicates).
   */
  producerState: ProducerStateManager | null = null;
  /** Bumped each time producerState is dropped, so a rebuild under way knows it is stale. */
  producerStateResets = 0;
  /** The producer-state snapshot of the partition's manifest (as of the end of its segments), or null. */
  producerSnapshot: ProducerSnapshotRecord | null = null;
  /** Compacted topics: offsets below this were cleaned (the manifest's cleanedEnd; spec/compaction.md). */
  cleanedEnd = 0;

  /** Set when this broker stops leading the partition (handover, loss of ownership): appends are refused. */
  released = false;

  constructor(args: {
    topicId: string;
    topicName: string;
    partition: number;
    leaderEpoch: number;
    logStartOffset: number;
    extents: Extent[];
    onHighWatermark: HighWatermarkListener;
    /** Earlier leader epochs (cluster mode, from the manifest); `leaderEpoch` is appended when newer. */
    epochHistory?: readonly EpochStart[];
  }) {
    this.topicId = args.topicId;
    this.topicName = args.topicName;
    this.partition = args.partition;
    this.leaderEpoch = args.leaderEpoch;
    this.onHighWatermark = args.onHighWatermark;
    const sorted = [...args.extents].sort((a, b) => a.baseOffset - b.baseOffset);
    for (const e of sorted) this.addExtent(e);
    const history = (args.epochHistory ?? []).filter((e) => e.epoch < args.leaderEpoch);
    const logEnd = this.extents.length === 0 ? 0 : this.extents[this.extents.length - 1]!.lastOffset + 1;
    this.epochStarts = [
      ...history,
      { epoch: args.leaderEpoch, startOffset: history.length === 0 ? 0 : Math.max(logEnd, args.logStartOffset) },
    ];
    // When retention or DeleteRecords dropped every extent, the persisted log start is where the log ends:
    // offsets never go back (Kafka keeps the log end offset when it deletes all segments, by rolling first).
    const end = Math.max(this.extents.length === 0 ? 0 : this.extents[this.extents.length - 1]!.lastOffset + 1, args.logStartOffset);
    this.logStartOffset = Math.min(Math.max(args.logStartOffset, this.extents[0]?.baseOffset ?? end), end);
    this.highWatermark = end;
    this.nextOffset = end;
  }

  get pendingBytes(): number {
    return this.pendingBytesCount;
  }

  private addExtent(e: Extent): void {
    const last = this.extents[this.extents.length - 1];
    if (last !== undefined) {
      // A new owner may see overlapping leftovers of an older owner's unacknowledged flush: keep the first.
      if (e.baseOffset <= last.lastOffset) return;
      assert.equal(e.baseOffset, last.lastOffset + 1, `partition ${this.topicName}-${this.partition}: gap before offset ${e.baseOffset}`);
    }
    this.extents.push(e);
    if (e.maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = e.maxTimestamp;
      this.maxTimestampOffset = e.lastOffset; // refined to the batch on lookup
    }
  }

  /**
   * Assigns offsets to validated batches (patching them in place) and queues them for the next flush.
   * Returns the base offset of the first batch.
   */
  append(
    records: Buffer,
    batchCount: number,
    logAppendTimeMs: number | null,
    patch: (records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null) => void,
  ): { baseOffset: number; lastOffset: number } {
    if (this.released) throw new NotLeaderError(this.topicName, this.partition);
    const baseOffset = this.nextOffset;
    patch(records, baseOffset, this.leaderEpoch, logAppendTimeMs);
    let pos = 0;
    let lastOffset = baseOffset - 1;
    let maxTimestamp = -1;
    while (pos < records.length) {
      lastOffset = readBaseOffset(records, pos) + readLastOffsetDelta(records, pos);
      maxTimestamp = Math.max(maxTimestamp, readMaxTimestampMs(records, pos));
      pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(records, pos);
    }
    assert.ok(lastOffset >= baseOffset, 'an append holds at least one record');
    const entry: PendingAppend = { records, baseOffset, lastOffset, maxTimestamp, batchCount };
    this.pending.push(entry);
    this.pendingBytesCount += records.length;
    this.nextOffset = lastOffset + 1;
    return { baseOffset, lastOffset };
  }

  /** Moves everything pending into one contiguous chunk for a flush (one copy: socket slices → object body). */
  takePending(): TakenChunk | null {
    if (this.pending.length === 0) return null;
    const p = this.pending;
    const chunk: TakenChunk = {
      baseOffset: p[0]!.baseOffset,
      lastOffset: p[p.length - 1]!.lastOffset,
      maxTimestamp: p.reduce((m, a) => Math.max(m, a.maxTimestamp), -1),
      batchCount: p.reduce((n, a) => n + a.batchCount, 0),
      data:
        p.length === 1
          ? p[0]!.records
          : Buffer.concat(
              p.map((a) => a.records),
              this.pendingBytesCount,
            ),
    };
    this.pending = [];
    this.pendingBytesCount = 0;
    this.inFlight.push(chunk);
    return chunk;
  }

  /** The flush that took `chunk` is durable and committed: the chunk is now part of the log. */
  commitFlushed(chunk: TakenChunk, extent: Extent): void {
    if (this.inFlight[0] !== chunk) {
      assert.ok(!this.inFlight.includes(chunk), 'flushes commit in the order they were taken');
      return; // abandoned (topic deleted or broker fenced) while its flush was in flight
    }
    this.inFlight.shift();
    assert.equal(extent.baseOffset, this.highWatermark, 'committed chunk continues the log');
    this.addExtent(extent);
    this.highWatermark = extent.lastOffset + 1;
    while (this.durableWaiters.length > 0 && this.durableWaiters[0]!.offset < this.highWatermark) this.durableWaiters.shift()!.resolve();
    this.onHighWatermark(this);
  }

  /** Resolves once `offset` is durable (below the high watermark); rejects if its append is abandoned. */
  waitDurable(offset: number): Promise<void> {
    if (offset < this.highWatermark) return Promise.resolve();
    assert.ok(offset < this.nextOffset, 'waiting for an offset that was appended');
    return new Promise((resolve, reject) => this.durableWaiters.push({ offset, resolve, reject }));
  }

  /**
   * Unflushed appends will never commit (fenced, or the store failed for good): drop them all; offsets
   * restart at the high watermark. The producers of those appends get an error, not an ack.
   */
  abandonUnflushed(reason: Error): void {
    for (const w of this.durableWaiters.splice(0)) w.reject(reason);
    this.inFlight.length = 0;
    this.pending = [];
    this.pendingBytesCount = 0;
    this.nextOffset = this.highWatermark;
    this.producerState = null;
    this.producerStateResets++;
  }

  /** Index of the extent holding `offset`, or -1 (binary search). */
  findExtent(offset: number): number {
    let lo = 0;
    let hi = this.extents.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.extents[mid]!;
      if (offset < e.baseOffset) hi = mid - 1;
      else if (offset > e.lastOffset) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /**
   * Whether `run` (consecutive extents, by identity) is still in the log; returns its index, or -1. Compaction
   * checks this at commit time: retention may have dropped part of it meanwhile.
   */
  indexOfRun(run: readonly Extent[]): number {
    if (run.length === 0) return -1;
    const i = this.extents.indexOf(run[0]!);
    if (i < 0 || i + run.length > this.extents.length) return -1;
    for (let k = 1; k < run.length; k++) if (this.extents[i + k] !== run[k]) return -1;
    return i;
  }

  /** Replaces a run of extents by one extent holding exactly the same offsets (a compacted segment). */
  replaceRun(run: readonly Extent[], replacement: Extent): void {
    const i = this.indexOfRun(run);
    assert.ok(i >= 0, 'the compacted run is still in the log');
    assert.equal(replacement.baseOffset, run[0]!.baseOffset, 'a segment starts where its run starts');
    assert.equal(replacement.lastOffset, run[run.length - 1]!.lastOffset, 'a segment ends where its run ends');
    this.extents.splice(i, run.length, replacement);
  }

  /** Advances the log start offset (DeleteRecords, retention); extents wholly below it are dropped. */
  advanceLogStart(offset: number): Extent[] {
    assert.ok(offset <= this.highWatermark, 'log start cannot pass the high watermark');
    if (offset <= this.logStartOffset) return [];
    this.logStartOffset = offset;
    let n = 0;
    while (n < this.extents.length && this.extents[n]!.lastOffset < offset) n++;
    return this.extents.splice(0, n);
  }
}
