// The log cleaner's background job (spec/compaction.md): the owner of a compacted partition rewrites its
// segment objects with cleanBatches (cleaner.ts) and swaps them in with one fenced manifest write.
//
// Every `intervalMs` (log.cleaner.backoff.ms), never two passes at once: among the partitions led here whose
// topic is compacted, the `threads` dirtiest (dirty ratio at least min.cleanable.dirty.ratio, or a dirty part
// older than max.compaction.lag.ms) are cleaned, each:
//   1. the cleanable segments: the leading segments (WAL chunks are the active part, never cleaned) wholly below
//      the last stable offset and older than min.compaction.lag.ms (by their max timestamp);
//   2. read (throttled to log.cleaner.io.max.bytes.per.second), cleaned in memory with a key map of
//      log.cleaner.dedupe.buffer.size / threads bytes;
//   3. each segment that changed becomes a new segment object with the same first and last offset (an empty
//      batch stands at either end when the batches there went, so extents stay contiguous), PUT under a new key;
//   4. one manifest write replaces them (guarded by the fencing token and the manifest's revision, in the chain
//      shared with the compactor, retention and DeleteRecords); the old objects are released to collection.
//      Refused, or past skafos.segment.commit.timeout.ms: the new objects are deleted. Outcome unknown
//      (shutdown): they are orphans for the next start or the orphan sweep (wal-gc.ts).
import type { Logger } from 'pino';
import { segmentObjectKey } from '../metadata/layout.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { buildSegmentObject, defaultIndexIntervalBytes } from '../storage/segment-object.ts';
import type { SegmentIndex } from '../storage/segment-object.ts';
import {
  readBaseOffset,
  readBatchLength,
  readLastOffsetDelta,
  readMaxTimestampMs,
  readPartitionLeaderEpoch,
} from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import { OffsetMap, cleanBatches, emptyBatch } from './cleaner.ts';
import type { CleanStats } from './cleaner.ts';
import type { CommitOutcome } from './compactor.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import type { ProducerStateManager } from './producer-state.ts';
import { retryForever } from './retry.ts';

export interface CleanerSettings {
  /** log.cleaner.enable */
  enable: boolean;
  /** log.cleaner.backoff.ms: how often a pass looks for partitions to clean. */
  intervalMs: number;
  /** log.cleaner.dedupe.buffer.size: the key maps of all concurrent cleanings together. */
  dedupeBufferBytes: number;
  /** log.cleaner.threads: partitions cleaned at once. */
  threads: number;
  /** log.cleaner.io.max.bytes.per.second: reads and writes of all cleanings together (Infinity: unbounded). */
  ioMaxBytesPerSecond: number;
  /** Bytes of segments one cleaning holds in memory at most; a larger cleanable part is reported uncleanable. */
  maxPassBytes: number;
  /** Largest decompressed records section of one batch. */
  maxDecompressedBytes: number;
  /** skafos.segment.commit.timeout.ms: the swap is not sent later than this after the first PUT began. */
  commitTimeoutMs: number;
}

/** A compacted topic's cleaning settings (its configs over the broker defaults). */
export interface CleaningPolicy {
  compact: boolean;
  deleteRetentionMs: number;
  minCompactionLagMs: number;
  maxCompactionLagMs: number;
  minCleanableDirtyRatio: number;
  /** file.delete.delay.ms: replaced segment objects are deleted this long after the swap. */
  fileDeleteDelayMs: number;
}

export interface CleanedSegment {
  /** The segment it replaces (same first and last offset). */
  old: Extent;
  extent: Extent;
  index: SegmentIndex;
}

export interface CleanedPartition {
  log: PartitionLog;
  segments: CleanedSegment[];
  /** Offsets below this are clean now. */
  cleanedEnd: number;
  /** file.delete.delay.ms: how long the replaced objects stay for reads in flight. */
  deleteDelayMs: number;
  /** The commit is not sent after this (ms since the epoch), so the orphan sweep may delete what it did not name. */
  commitNotAfterMs?: number;
}

/** What the cleaner needs from the log manager. */
export interface CleanerHost {
  readonly objectStore: ObjectStore;
  readonly nodeId: number;
  readonly incarnation: string;
  readonly logger: Logger;
  /** The partitions led here. */
  partitions(): PartitionLog[];
  topic(log: PartitionLog): TopicRecord | undefined;
  policy(topic: TopicRecord): CleaningPolicy;
  /** The partition's producer state, rebuilt if needed; null when it cannot be now. */
  producerState(log: PartitionLog): Promise<ProducerStateManager | null>;
  fenced(): Error | null;
  /** One manifest write replacing the partition's cleaned segments; applied in memory once committed. */
  commitCleaning(part: CleanedPartition): Promise<CommitOutcome>;
}

export interface CleanerStats {
  passes: number;
  cleanings: number;
  failedCleanings: number;
  bytesRead: number;
  bytesWritten: number;
  recordsRemoved: number;
  segmentsRewritten: number;
  lastRunMs: number;
  lastRunDurationMs: number;
}

/** Per partition, for the metrics: dirty ratio, cleaner lag, why it cannot be cleaned. */
export interface PartitionCleaning {
  topic: string;
  partition: number;
  dirtyRatio: number;
  /** How long the oldest dirty segment has waited (ms), 0 when none. */
  lagMs: number;
  uncleanable: string | null;
}

/** Segment keys of the cleaner count from here, so they never meet the compactor's in one incarnation. */
const cleanerKeyBase = 1_000_000_000;

export class LogCleaner {
  private readonly host: CleanerHost;
  readonly settings: Readonly<CleanerSettings>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private sequence = cleanerKeyBase;
  private ioStartedMs = 0;
  private ioBytes = 0;
  readonly stats: CleanerStats = {
    passes: 0,
    cleanings: 0,
    failedCleanings: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRemoved: 0,
    segmentsRewritten: 0,
    lastRunMs: 0,
    lastRunDurationMs: 0,
  };
  /** Partition state as of the last pass (metrics). */
  partitionStates: PartitionCleaning[] = [];
  private readonly uncleanable = new WeakMap<PartitionLog, string>();

  constructor(host: CleanerHost, settings: CleanerSettings) {
    this.host = host;
    this.settings = Object.freeze({ ...settings });
  }

  start(): void {
    if (this.timer !== null || this.stopping || !this.settings.enable) return;
    this.timer = setInterval(() => {
      if (this.running === null) void this.runOnce().catch(() => {});
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.running === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
  }

  /** One pass now (a pass under way is awaited instead). Tests call it directly. */
  runOnce(nowMs: number = Date.now()): Promise<void> {
    if (this.running !== null) return this.running;
    const run = this.pass(nowMs).finally(() => (this.running = null));
    this.running = run;
    return run;
  }

  private async pass(nowMs: number): Promise<void> {
    if (this.stopping || this.host.fenced()) return;
    const started = Date.now();
    const candidates: { log: PartitionLog; policy: CleaningPolicy; ratio: number; due: boolean }[] = [];
    const states: PartitionCleaning[] = [];
    for (const log of this.host.partitions()) {
      const topic = this.host.topic(log);
      if (!topic) continue;
      const policy = this.host.policy(topic);
      if (!policy.compact) continue;
      const { ratio, lagMs } = this.dirtiness(log, nowMs, policy);
      states.push({
        topic: log.topicName,
        partition: log.partition,
        dirtyRatio: ratio,
        lagMs,
        uncleanable: this.uncleanable.get(log) ?? null,
      });
      const due = lagMs > 0 && lagMs >= policy.maxCompactionLagMs;
      if (ratio > 0 && (ratio >= policy.minCleanableDirtyRatio || due)) candidates.push({ log, policy, ratio, due });
    }
    this.partitionStates = states;
    if (candidates.length === 0) return;
    this.stats.passes++;
    candidates.sort((a, b) => Number(b.due) - Number(a.due) || b.ratio - a.ratio);
    const chosen = candidates.slice(0, Math.max(1, this.settings.threads));
    const mapBytes = Math.floor(this.settings.dedupeBufferBytes / chosen.length);
    await Promise.all(chosen.map((c) => this.cleanPartition(c.log, c.policy, nowMs, mapBytes)));
    this.stats.lastRunMs = Date.now();
    this.stats.lastRunDurationMs = Date.now() - started;
  }

  /** Leading segments that may be cleaned now (wholly below the LSO given, old enough). */
  private cleanableSegments(log: PartitionLog, nowMs: number, policy: CleaningPolicy, lso: number): Extent[] {
    const out: Extent[] = [];
    for (const e of log.extents) {
      if (!e.segment || e.lastOffset >= lso) break;
      if (e.lastOffset < log.logStartOffset) continue;
      if (e.maxTimestamp > nowMs - policy.minCompactionLagMs) break;
      out.push(e);
    }
    return out;
  }

  private dirtiness(log: PartitionLog, nowMs: number, policy: CleaningPolicy): { ratio: number; lagMs: number } {
    const lso = log.producerState?.lastStableOffset(log.highWatermark) ?? log.highWatermark;
    const segments = this.cleanableSegments(log, nowMs, policy, lso);
    const firstDirty = log.cleanedEnd;
    let total = 0;
    let dirty = 0;
    let oldestDirty = Infinity;
    for (const e of segments) {
      total += e.lengthBytes;
      if (e.lastOffset >= firstDirty) {
        dirty += e.lengthBytes;
        if (e.maxTimestamp >= 0) oldestDirty = Math.min(oldestDirty, e.maxTimestamp);
      }
    }
    return { ratio: total === 0 ? 0 : dirty / total, lagMs: oldestDirty === Infinity ? 0 : Math.max(0, nowMs - oldestDirty) };
  }

  private async cleanPartition(log: PartitionLog, policy: CleaningPolicy, nowMs: number, mapBytes: number): Promise<void> {
    const written: string[] = [];
    try {
      const producers = await this.host.producerState(log);
      if (producers === null) return;
      const lso = producers.lastStableOffset(log.highWatermark);
      const segments = this.cleanableSegments(log, nowMs, policy, lso);
      if (segments.length === 0) return;
      const bytes = segments.reduce((n, e) => n + e.lengthBytes, 0);
      if (bytes > this.settings.maxPassBytes) {
        this.markUncleanable(log, `its cleanable part (${bytes} bytes) is larger than one cleaning holds (${this.settings.maxPassBytes})`);
        return;
      }
      const chunks: Buffer[] = [];
      for (const e of segments) {
        if (this.stopping) return;
        await this.throttle(e.lengthBytes);
        const data = await retryForever(
          `cleaner read of ${e.objectKey}`,
          () => this.host.objectStore.get(e.objectKey, { start: 0, end: e.lengthBytes }),
          {
            logger: this.host.logger,
            isClosed: () => this.stopping,
            isRetriable: (err) => (err as Error).name === 'ObjectStoreUnavailableError',
          },
        );
        this.stats.bytesRead += data.length;
        chunks.push(data);
      }
      const producerLastOffsets = new Map<number, number>();
      for (const p of producers.entries()) {
        const last = p.batches[p.batches.length - 1];
        if (last !== undefined) producerLastOffsets.set(p.producerId, last.lastOffset);
      }
      const endOffset = segments[segments.length - 1]!.lastOffset + 1;
      const firstDirty = Math.max(log.cleanedEnd, log.logStartOffset);
      let result;
      try {
        result = cleanBatches({
          chunks,
          endOffset,
          firstDirtyOffset: firstDirty,
          nowMs,
          deleteRetentionMs: policy.deleteRetentionMs,
          producerLastOffsets,
          map: new OffsetMap(mapBytes),
          maxDecompressedBytes: this.settings.maxDecompressedBytes,
        });
      } catch (err) {
        this.markUncleanable(log, (err as Error).message);
        return;
      }
      this.uncleanable.delete(log);
      const cleaned = this.regroup(log, segments, chunks, result.chunks, result.cleanedEnd);
      const out: CleanedSegment[] = [];
      const commitNotAfterMs = Date.now() + this.settings.commitTimeoutMs;
      for (const c of cleaned) {
        if (this.stopping || this.host.fenced()) break;
        const built = buildSegmentObject({
          topicId: log.topicId,
          partition: log.partition,
          chunks: c.batches,
          indexIntervalBytes: defaultIndexIntervalBytes,
          gaps: true,
        });
        const f = built.index.footer;
        if (f.baseOffset !== c.old.baseOffset || f.lastOffset !== c.old.lastOffset)
          throw new Error('a cleaned segment does not span the segment it replaces');
        const objectKey = segmentObjectKey(
          log.topicId,
          log.partition,
          f.baseOffset,
          this.host.nodeId,
          this.host.incarnation,
          this.sequence++,
        );
        await this.throttle(built.sizeBytes);
        written.push(objectKey);
        await retryForever(
          `put cleaned segment ${objectKey}`,
          () => this.host.objectStore.put(objectKey, built.body, { ifNoneMatch: true }),
          {
            logger: this.host.logger,
            isClosed: () => this.stopping,
            isRetriable: (err) => (err as Error).name === 'ObjectStoreUnavailableError',
          },
        );
        this.stats.bytesWritten += built.sizeBytes;
        out.push({
          old: c.old,
          index: built.index,
          extent: {
            baseOffset: f.baseOffset,
            lastOffset: f.lastOffset,
            maxTimestamp: f.maxTimestamp,
            objectKey,
            position: 0,
            lengthBytes: f.dataLengthBytes,
            segment: true,
            objectSizeBytes: built.sizeBytes,
          },
        });
      }
      if (out.length !== cleaned.length) {
        await this.discard(written);
        return;
      }
      const outcome = await this.host.commitCleaning({
        log,
        segments: out,
        cleanedEnd: result.cleanedEnd,
        deleteDelayMs: policy.fileDeleteDelayMs,
        commitNotAfterMs,
      });
      if (outcome === 'committed') {
        this.stats.cleanings++;
        this.stats.recordsRemoved += result.stats.recordsRemoved;
        this.stats.segmentsRewritten += out.length;
        this.host.logger.debug(
          { topic: log.topicName, partition: log.partition, segments: out.length, ...statsForLog(result.stats) },
          'partition cleaned',
        );
      } else if (outcome === 'refused') {
        await this.discard(written);
      }
    } catch (err) {
      this.stats.failedCleanings++;
      if (!this.stopping) this.host.logger.warn({ err, topic: log.topicName, partition: log.partition }, 'cleaning failed');
      await this.discard(written);
    }
  }

  private markUncleanable(log: PartitionLog, reason: string): void {
    if (this.uncleanable.get(log) !== reason)
      this.host.logger.warn({ topic: log.topicName, partition: log.partition, reason }, 'partition cannot be cleaned');
    this.uncleanable.set(log, reason);
  }

  /**
   * The cleaned batches by the segment they came from; only the segments that changed, each starting and
   * ending at its old offsets (an empty batch stands where the first or last batch went).
   */
  private regroup(
    log: PartitionLog,
    segments: readonly Extent[],
    before: readonly Buffer[],
    after: readonly Buffer[],
    cleanedEnd: number,
  ): { old: Extent; batches: Buffer[] }[] {
    const groups = segments.map((old) => ({ old, batches: [] as Buffer[], bytes: 0 }));
    let g = 0;
    for (const chunk of after) {
      for (let pos = 0; pos < chunk.length; ) {
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(chunk, pos);
        const base = readBaseOffset(chunk, pos);
        while (g < groups.length && base > groups[g]!.old.lastOffset) g++;
        const group = groups[g]!;
        group.batches.push(chunk.subarray(pos, pos + size));
        group.bytes += size;
        pos += size;
      }
    }
    const out: { old: Extent; batches: Buffer[] }[] = [];
    for (let i = 0; i < groups.length; i++) {
      const group = groups[i]!;
      if (group.old.baseOffset >= cleanedEnd) break;
      const original = before[i]!;
      if (group.bytes === original.length && Buffer.concat(group.batches).equals(original)) continue;
      const first = group.batches[0];
      if (first === undefined || readBaseOffset(first, 0) !== group.old.baseOffset)
        group.batches.unshift(emptyBatch(group.old.baseOffset, readPartitionLeaderEpoch(original, 0), readMaxTimestampMs(original, 0)));
      const last = group.batches[group.batches.length - 1]!;
      if (readBaseOffset(last, 0) + readLastOffsetDelta(last, 0) !== group.old.lastOffset) {
        const at = lastBatchPosition(original);
        group.batches.push(emptyBatch(group.old.lastOffset, readPartitionLeaderEpoch(original, at), readMaxTimestampMs(original, at)));
      }
      out.push({ old: group.old, batches: group.batches });
    }
    void log;
    return out;
  }

  /** Waits as long as the I/O budget asks before `bytes` more are read or written. */
  private async throttle(bytes: number): Promise<void> {
    const rate = this.settings.ioMaxBytesPerSecond;
    if (!Number.isFinite(rate) || rate <= 0) return;
    const now = Date.now();
    if (now - this.ioStartedMs > 1000) {
      this.ioStartedMs = now;
      this.ioBytes = 0;
    }
    this.ioBytes += bytes;
    const dueMs = this.ioStartedMs + (this.ioBytes / rate) * 1000;
    if (dueMs > now) await new Promise((resolve) => setTimeout(resolve, Math.min(dueMs - now, 60_000)));
  }

  private async discard(objectKeys: string[]): Promise<void> {
    if (objectKeys.length === 0) return;
    try {
      await this.host.objectStore.delete(objectKeys);
    } catch (err) {
      this.host.logger.warn(
        { err, segments: objectKeys.length },
        'deleting uncommitted cleaned segments failed; the next start deletes them',
      );
    }
  }
}

function lastBatchPosition(data: Buffer): number {
  let pos = 0;
  for (;;) {
    const next = pos + BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos);
    if (next >= data.length) return pos;
    pos = next;
  }
}

function statsForLog(s: CleanStats): Record<string, number> {
  return { recordsRemoved: s.recordsRemoved, batchesRemoved: s.batchesRemoved, bytesRead: s.bytesRead, bytesWritten: s.bytesWritten };
}
