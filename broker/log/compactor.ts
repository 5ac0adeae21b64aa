// Segment compaction: merges each partition's oldest WAL chunks into per-partition segment objects, so that
// recovery reads small metadata manifests instead of every WAL object's index, WAL objects (and their /wal/
// keys) go away, and old data is read through an offset index in read-ahead sized windows.
//
// One pass, every `intervalMs` (never two at once):
//   1. plan: per partition, runs of extents to merge. Level 1: the WAL chunks right after the segments (the
//      prefix of the log that still lives in WAL objects) that are at least `minAgeMs` old, cut into runs of
//      about `targetBytes`; a run is written once it reaches `targetBytes` or its oldest chunk is `maxAgeMs`
//      old. Level 2: when a partition has more than `maxSegmentsPerPartition` segments, adjacent small ones
//      are merged (up to `targetBytes`), which keeps its manifest bounded. A pass reads at most `maxPassBytes`.
//   2. read: the chunks, grouped by object with nearby ranges coalesced, one ranged GET per group (or from the
//      L1 cache when there); nothing read here goes into the cache.
//   3. write: each run becomes one segment object (checked: batch framing, CRC-32C, contiguous offsets), PUT
//      with If-None-Match under a key holding this node's id and incarnation.
//   4. commit: LogManager.commitCompaction — one manifest write per partition (several per transaction),
//      guarded by the fencing token and each manifest's modRevision, serialised with retention, DeleteRecords
//      and topic deletion; then the runs are replaced in memory and the WAL objects' references dropped.
// A segment PUT whose commit is refused is deleted at once; one whose commit outcome is unknown (shutdown in
// the middle of it) is an orphan that the next start deletes. Only a prefix of each partition's planned runs is
// ever committed, so a partition's segments always precede its WAL chunks.
import type { Logger } from 'pino';
import { segmentObjectKey } from '../metadata/layout.ts';
import { defaultProducerStateSettings } from './producer-state.ts';
import { advanceSnapshot } from './producer-state-load.ts';
import type { ProducerSnapshot, ProducerStateSettings } from './producer-state.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { SegmentCache } from '../storage/segment-cache.ts';
import { buildSegmentObject, defaultIndexIntervalBytes, maxSegmentDataBytes, maxSegmentOffsetSpan } from '../storage/segment-object.ts';
import type { SegmentIndex } from '../storage/segment-object.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import { retryForever } from './retry.ts';
import { configDefaults } from '../config.ts';
import {
  compactionCoalesceGapBytes,
  compactionMaxInflightCount,
  compactionMaxSegmentsPerPartitionCount,
  compactionPassMaxBytes,
  compactionPassSegmentsCount,
} from '../limits.ts';

export interface CompactionSettings {
  /** How often a pass runs; also the most often a partition's manifest is written by compaction. */
  intervalMs: number;
  /** Size a segment is cut at (a run of whole chunks reaching it; one chunk may take it over). */
  targetBytes: number;
  /** WAL chunks younger than this stay where they are (hot tail, served from the L1 cache). */
  minAgeMs: number;
  /** A run whose oldest chunk is this old is written even below targetBytes. */
  maxAgeMs: number;
  /** Bytes read and written by one pass at most (a single run may go over). */
  maxPassBytes: number;
  /** Beyond this many segments, a partition's adjacent small segments are merged. */
  maxSegmentsPerPartition: number;
  /** Offset index spacing inside segments (Kafka's index.interval.bytes). */
  indexIntervalBytes: number;
  /** Object store requests of one pass in flight at once. */
  concurrency: number;
  /** Producer-state snapshots written with new segments: expiry and size bound (producer-state.ts). */
  producerState: ProducerStateSettings;
  /** skafos.segment.commit.timeout.ms: the commit is not sent later than this after the PUTs began. */
  commitTimeoutMs: number;
}

/** Bytes one compaction pass reads and builds in memory: a few segments, bounded (or one segment if larger). */
export function compactionPassBytes(segmentTargetBytes: number): number {
  return Math.max(segmentTargetBytes, Math.min(compactionPassSegmentsCount * segmentTargetBytes, compactionPassMaxBytes));
}

export const defaultCompactionSettings: Readonly<CompactionSettings> = Object.freeze({
  intervalMs: configDefaults.compactionIntervalMs,
  targetBytes: configDefaults.segmentTargetBytes,
  minAgeMs: configDefaults.compactionMinAgeMs,
  maxAgeMs: configDefaults.compactionMaxAgeMs,
  maxPassBytes: compactionPassBytes(configDefaults.segmentTargetBytes),
  maxSegmentsPerPartition: compactionMaxSegmentsPerPartitionCount,
  indexIntervalBytes: defaultIndexIntervalBytes,
  concurrency: compactionMaxInflightCount,
  producerState: defaultProducerStateSettings,
  commitTimeoutMs: configDefaults.segmentCommitTimeoutMs,
});

/** One run of extents merged into one segment object, PUT and waiting for its commit. */
export interface CompactedSegment {
  run: Extent[];
  extent: Extent;
  index: SegmentIndex;
}

export interface CompactedPartition {
  log: PartitionLog;
  segments: CompactedSegment[];
  /** The producer-state snapshot as of the end of the new segments, for the manifest (producer-state.ts). */
  producerSnapshot: ProducerSnapshot | null;
  /** The commit is not sent after this (ms since the epoch): the segments' PUTs began a commit timeout before. */
  commitNotAfterMs?: number;
}

export type CommitOutcome = 'committed' | 'refused' | 'unknown';

/** What the compactor needs from the log manager. */
export interface CompactionHost {
  readonly objectStore: ObjectStore;
  readonly cache: SegmentCache;
  readonly nodeId: number;
  readonly incarnation: string;
  readonly logger: Logger;
  /** The partitions led here, in a stable order. */
  partitions(): PartitionLog[];
  /** When the WAL object was committed, or undefined if it is not a live WAL object. */
  walCreatedAtMs(objectKey: string): number | undefined;
  /** Non-null once this broker may no longer commit. */
  fenced(): Error | null;
  /** Commits the partitions' new segments (manifests), applies them, releases the runs; per partition. */
  commitCompaction(parts: CompactedPartition[]): Promise<CommitOutcome[]>;
}

export interface CompactionStats {
  passes: number;
  /** Passes that threw (logged; the next pass starts over). */
  failedPasses: number;
  segmentsWritten: number;
  /** Bytes of batches moved into committed segments. */
  bytesCompacted: number;
  /** Extents (WAL chunks or small segments) replaced by committed segments. */
  extentsCompacted: number;
  /** Segment objects PUT whose commit was refused (deleted) or abandoned (orphans). */
  segmentsAbandoned: number;
  getRequests: number;
  bytesRead: number;
}

interface PlannedRun {
  run: Extent[];
  bytes: number;
}

interface PlannedPartition {
  log: PartitionLog;
  runs: PlannedRun[];
}

export class Compactor {
  private readonly host: CompactionHost;
  readonly settings: Readonly<CompactionSettings>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  /** Partition key the next pass starts after, so a pass cut short by its byte budget does not starve the rest. */
  private resumeAfter: string | null = null;
  private sequence = 0;
  readonly stats: CompactionStats = {
    passes: 0,
    failedPasses: 0,
    segmentsWritten: 0,
    bytesCompacted: 0,
    extentsCompacted: 0,
    segmentsAbandoned: 0,
    getRequests: 0,
    bytesRead: 0,
  };

  constructor(host: CompactionHost, settings: Partial<CompactionSettings> = {}) {
    this.host = host;
    this.settings = Object.freeze({ ...defaultCompactionSettings, ...settings });
  }

  /** Runs a pass every intervalMs until stop(). */
  start(): void {
    if (this.timer !== null || this.stopping) return;
    this.timer = setInterval(() => {
      if (this.running === null) void this.runOnce().catch(() => {});
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  /**
   * Stops the timer; a pass under way gives up at its next step (before its commit at the latest) and deletes
   * the segments it had PUT. Resolves when it has, or after `deadlineMs` (then its PUTs become orphans).
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.running === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
    clearTimeout(timer);
  }

  /** One pass now (a pass already under way is awaited instead). Tests call it directly. */
  runOnce(nowMs: number = Date.now()): Promise<void> {
    if (this.running !== null) return this.running;
    const run = this.pass(nowMs)
      .catch((err: unknown) => {
        this.stats.failedPasses++;
        this.host.logger.warn({ err }, 'compaction pass failed');
      })
      .finally(() => (this.running = null));
    this.running = run;
    return run;
  }

  private async pass(nowMs: number): Promise<void> {
    if (this.stopping || this.host.fenced()) return;
    const plans = this.plan(nowMs);
    if (plans.length === 0) return;
    this.stats.passes++;
    const started = Date.now();
    const data = await this.read(plans);
    const writeStartedMs = Date.now();
    const built = await this.write(plans, data);
    for (const b of built) b.commitNotAfterMs = writeStartedMs + this.settings.commitTimeoutMs;
    data.clear();
    if (built.length === 0) return;
    if (this.stopping || this.host.fenced()) {
      await this.discard(built.flatMap((p) => p.segments));
      return;
    }
    const outcomes = await this.host.commitCompaction(built);
    const refused: CompactedSegment[] = [];
    let segments = 0;
    let bytes = 0;
    for (let i = 0; i < built.length; i++) {
      const part = built[i]!;
      if (outcomes[i] === 'committed') {
        for (const s of part.segments) {
          segments++;
          bytes += s.extent.lengthBytes;
          this.stats.extentsCompacted += s.run.length;
        }
      } else if (outcomes[i] === 'refused') {
        refused.push(...part.segments);
      } else {
        this.stats.segmentsAbandoned += part.segments.length;
      }
    }
    this.stats.segmentsWritten += segments;
    this.stats.bytesCompacted += bytes;
    await this.discard(refused);
    this.host.logger.debug(
      { partitions: built.length, segments, bytes, refused: refused.length, ms: Date.now() - started },
      'compaction pass',
    );
  }

  /** Deletes segment objects whose commit definitely did not and will not happen. */
  private async discard(segments: CompactedSegment[]): Promise<void> {
    if (segments.length === 0) return;
    this.stats.segmentsAbandoned += segments.length;
    try {
      await this.host.objectStore.delete(segments.map((s) => s.extent.objectKey));
    } catch (err) {
      this.host.logger.warn({ err, segments: segments.length }, 'deleting uncommitted segments failed; the next start deletes them');
    }
  }

  /** Runs to merge, partition by partition, within the pass budget. */
  private plan(nowMs: number): PlannedPartition[] {
    const s = this.settings;
    const partitions = this.host.partitions();
    const keyOf = (log: PartitionLog) => `${log.topicId}:${log.partition}`;
    let start = 0;
    if (this.resumeAfter !== null) {
      const i = partitions.findIndex((l) => keyOf(l) === this.resumeAfter);
      if (i >= 0) start = i + 1;
    }
    const plans: PlannedPartition[] = [];
    let budget = s.maxPassBytes;
    this.resumeAfter = null;
    for (let k = 0; k < partitions.length && budget > 0; k++) {
      const log = partitions[(start + k) % partitions.length]!;
      const runs = this.planPartition(log, nowMs, budget);
      if (runs.length === 0) continue;
      plans.push({ log, runs });
      for (const r of runs) budget -= r.bytes;
      if (budget <= 0) this.resumeAfter = keyOf(log);
    }
    return plans;
  }

  private planPartition(log: PartitionLog, nowMs: number, budget: number): PlannedRun[] {
    const s = this.settings;
    const extents = log.extents;
    const runs: PlannedRun[] = [];
    const fits = (run: Extent[], bytes: number, e: Extent) =>
      run.length === 0 || (bytes + e.lengthBytes <= maxSegmentDataBytes && e.lastOffset - run[0]!.baseOffset <= maxSegmentOffsetSpan);
    let segments = 0;
    while (segments < extents.length && extents[segments]!.segment) segments++;

    // Level 2: too many segments; merge adjacent ones while the merge stays within the target size.
    if (segments > s.maxSegmentsPerPartition) {
      let excess = segments - s.maxSegmentsPerPartition;
      for (let i = 0; i < segments && excess > 0 && budget > 0; ) {
        const run: Extent[] = [];
        let bytes = 0;
        while (i < segments && (run.length === 0 || (bytes + extents[i]!.lengthBytes <= s.targetBytes && fits(run, bytes, extents[i]!)))) {
          bytes += extents[i]!.lengthBytes;
          run.push(extents[i++]!);
        }
        if (run.length >= 2) {
          runs.push({ run, bytes });
          excess -= run.length - 1;
          budget -= bytes;
        }
      }
    }

    // Level 1: the oldest WAL chunks, in runs of about the target size.
    for (let i = segments; i < extents.length && budget > 0; ) {
      const run: Extent[] = [];
      let bytes = 0;
      let oldest = Infinity;
      let younger = false;
      while (i < extents.length && bytes < s.targetBytes) {
        const e = extents[i]!;
        if (e.segment) return runs; // cannot happen (segments are a prefix), but never merge across one
        const created = this.host.walCreatedAtMs(e.objectKey);
        if (created === undefined || nowMs - created < s.minAgeMs) {
          younger = true;
          break;
        }
        if (!fits(run, bytes, e)) break;
        oldest = Math.min(oldest, created);
        run.push(e);
        bytes += e.lengthBytes;
        i++;
      }
      if (run.length === 0) break;
      if (bytes < s.targetBytes && nowMs - oldest < s.maxAgeMs) break; // not ready: wait for more
      runs.push({ run, bytes });
      budget -= bytes;
      if (younger) break;
    }
    return runs;
  }

  /** Reads every planned extent, one GET per group of nearby ranges of an object; keyed by extent. */
  private async read(plans: PlannedPartition[]): Promise<Map<Extent, Buffer>> {
    const out = new Map<Extent, Buffer>();
    const byObject = new Map<string, Extent[]>();
    for (const p of plans) {
      for (const r of p.runs) {
        for (const e of r.run) {
          const cached = this.host.cache.peek(e.objectKey, e.position, e.lengthBytes);
          if (cached) {
            out.set(e, cached);
            continue;
          }
          let list = byObject.get(e.objectKey);
          if (!list) byObject.set(e.objectKey, (list = []));
          list.push(e);
        }
      }
    }
    const groups: { objectKey: string; start: number; end: number; extents: Extent[] }[] = [];
    // Bytes read only because they lie between two wanted ranges: at most the pass budget, so that a pass never
    // holds more than twice its budget in memory.
    let waste = 0;
    for (const [objectKey, list] of byObject) {
      list.sort((a, b) => a.position - b.position);
      let g: (typeof groups)[number] | null = null;
      for (const e of list) {
        const gap = g === null ? Infinity : e.position - g.end;
        if (g !== null && gap <= compactionCoalesceGapBytes && waste + gap <= this.settings.maxPassBytes) {
          waste += gap;
          g.end = Math.max(g.end, e.position + e.lengthBytes);
          g.extents.push(e);
        } else {
          g = { objectKey, start: e.position, end: e.position + e.lengthBytes, extents: [e] };
          groups.push(g);
        }
      }
    }
    await mapBounded(groups, this.settings.concurrency, async (g) => {
      if (this.stopping) return;
      try {
        const data = await retryForever(
          `compaction read of ${g.objectKey}`,
          () => this.host.objectStore.get(g.objectKey, { start: g.start, end: g.end }),
          {
            logger: this.host.logger,
            isClosed: () => this.stopping,
            isRetriable: (e) => (e as Error).name === 'ObjectStoreUnavailableError',
          },
        );
        this.stats.getRequests++;
        this.stats.bytesRead += data.length;
        if (data.length !== g.end - g.start) throw new Error(`short read of ${g.objectKey}: ${data.length} of ${g.end - g.start} bytes`);
        for (const e of g.extents) out.set(e, data.subarray(e.position - g.start, e.position - g.start + e.lengthBytes));
      } catch (err) {
        // Runs needing these extents stop short; retention may have dropped them (and GC their object) meanwhile.
        if (!this.stopping) this.host.logger.debug({ err, objectKey: g.objectKey }, 'compaction read failed');
      }
    });
    return out;
  }

  /** Builds and PUTs the segments; per partition, only the prefix of runs that made it. */
  private async write(plans: PlannedPartition[], data: Map<Extent, Buffer>): Promise<CompactedPartition[]> {
    const results = await mapBounded(plans, Math.max(1, Math.floor(this.settings.concurrency / 2)), (p) => this.writePartition(p, data));
    return results.filter((r): r is CompactedPartition => r !== null);
  }

  /** One partition's runs in order, stopping at the first that cannot be read, built or PUT; null if none made it. */
  private async writePartition(p: PlannedPartition, data: Map<Extent, Buffer>): Promise<CompactedPartition | null> {
    const segments: CompactedSegment[] = [];
    const segmentData: Buffer[] = [];
    for (const r of p.runs) {
      if (this.stopping) break;
      const chunks = r.run.map((e) => data.get(e));
      if (chunks.some((c) => c === undefined)) break;
      const segment = await this.writeRun(p.log, r, chunks as Buffer[]);
      if (segment === null) break;
      segmentData.push(...(chunks as Buffer[]));
      segments.push(segment);
    }
    if (segments.length === 0) return null;
    // Producer state as of the end of the new segments: the previous snapshot plus their batch headers.
    const end = segments[segments.length - 1]!.extent.lastOffset + 1;
    const producerSnapshot = advanceSnapshot(
      p.log.producerSnapshot,
      segmentData,
      end,
      p.log.logStartOffset,
      Date.now(),
      this.settings.producerState,
    );
    return { log: p.log, segments, producerSnapshot };
  }

  /** Builds one run's segment, checks it against its extents and PUTs it; null (logged) if any step fails. */
  private async writeRun(log: PartitionLog, r: PlannedRun, chunks: Buffer[]): Promise<CompactedSegment | null> {
    let built;
    try {
      built = buildSegmentObject({
        topicId: log.topicId,
        partition: log.partition,
        chunks,
        indexIntervalBytes: this.settings.indexIntervalBytes,
        // Merged segments may have been cleaned (compacted topics): offsets increase, with gaps.
        gaps: r.run[0]!.segment,
      });
    } catch (err) {
      this.host.logger.error(
        { err, topic: log.topicName, partition: log.partition, baseOffset: r.run[0]!.baseOffset },
        'cannot compact: the data does not check out',
      );
      return null;
    }
    const f = built.index.footer;
    if (f.baseOffset !== r.run[0]!.baseOffset || f.lastOffset !== r.run[r.run.length - 1]!.lastOffset) {
      this.host.logger.error(
        { topic: log.topicName, partition: log.partition, baseOffset: f.baseOffset, lastOffset: f.lastOffset },
        'cannot compact: batches do not match their extents',
      );
      return null;
    }
    const objectKey = segmentObjectKey(log.topicId, log.partition, f.baseOffset, this.host.nodeId, this.host.incarnation, this.sequence++);
    try {
      await retryForever(`put segment ${objectKey}`, () => this.host.objectStore.put(objectKey, built.body, { ifNoneMatch: true }), {
        logger: this.host.logger,
        isClosed: () => this.stopping,
        isRetriable: (e) => (e as Error).name === 'ObjectStoreUnavailableError',
      });
    } catch (err) {
      if (!this.stopping) this.host.logger.warn({ err, objectKey }, 'segment PUT failed; the run stays in the WAL');
      // The PUT may have happened: delete it (it is not committed, and never will be).
      await this.host.objectStore.delete([objectKey]).catch(() => {});
      return null;
    }
    return {
      run: r.run,
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
    };
  }
}

export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  return out;
}
