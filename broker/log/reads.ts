// Reads of a partition's log: whole batches from an offset (Fetch), read-ahead, lookups by timestamp. Through
// the L1 segment cache (WAL chunks, segment read windows) and, for segments, the L2 index cache.
import { readBaseOffset, readBatchLength, readLastOffsetDelta, readMaxTimestampMs } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import { ObjectNotFoundError } from '../storage/object-store.ts';
import type { SegmentCache } from '../storage/segment-cache.ts';
import type { PartitionLog } from './partition-log.ts';

export class LogReads {
  private readonly cache: SegmentCache;
  private readonly indexCache: IndexCache;
  /** Bytes of a segment read window (one L1 cache entry): the read-ahead size, at least one index interval. */
  private readonly windowBytes: number;
  /** Bytes read ahead past what a read returned. */
  private readonly readaheadBytes: number;

  constructor(cache: SegmentCache, indexCache: IndexCache, windowBytes: number, readaheadBytes: number) {
    this.cache = cache;
    this.indexCache = indexCache;
    this.windowBytes = windowBytes;
    this.readaheadBytes = readaheadBytes;
  }

  /**
   * Whole batches holding `offset`: a WAL chunk entirely, or the read window of a segment that holds it (found
   * with the segment's offset index); and the offset after the part of the log they cover (where the next chunk
   * or window begins: in a cleaned segment of a compacted topic, `offset` can fall in a gap after a window's
   * last batch, and a read goes on from there). null when no extent holds it. Extents can be replaced
   * (compaction) or dropped (retention) while a read waits, and their objects deleted: then the offset is
   * looked up again.
   */
  private async chunkAt(log: PartitionLog, offset: number): Promise<{ data: Buffer; endOffset: number } | null> {
    for (let attempt = 0; ; attempt++) {
      const i = log.findExtent(offset);
      if (i < 0) return null;
      const e = log.extents[i]!;
      try {
        if (!e.segment) return { data: await this.cache.get(e.objectKey, e.position, e.lengthBytes), endOffset: e.lastOffset + 1 };
        const index = await this.indexCache.segment(e.objectKey, e.objectSizeBytes);
        const w = index.windowFor(offset - e.baseOffset, this.windowBytes);
        const data = await this.cache.get(e.objectKey, w.position, w.lengthBytes);
        return { data, endOffset: Math.min(e.baseOffset + w.nextRelOffset, e.lastOffset + 1) };
      } catch (error) {
        if (error instanceof ObjectNotFoundError && attempt < 5 && log.extents[log.findExtent(offset)] !== e) continue;
        throw error;
      }
    }
  }

  /**
   * Whole batches from `fetchOffset` on, below `maxOffsetExclusive`, up to `maxBytes` — exceeded only by the
   * first batch when `minOneBatch` (Kafka's rule that a fetch always makes progress). null when none.
   */
  async read(
    log: PartitionLog,
    fetchOffset: number,
    maxBytes: number,
    minOneBatch: boolean,
    maxOffsetExclusive: number,
  ): Promise<Buffer | null> {
    const parts = await this.readParts(log, fetchOffset, maxBytes, minOneBatch, maxOffsetExclusive);
    if (parts === null) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /**
   * As read, as the slices of the chunks and windows that hold the batches, in order, not joined: Fetch
   * writes them to the socket one after another (the records field of its response takes several buffers).
   */
  async readParts(
    log: PartitionLog,
    fetchOffset: number,
    maxBytes: number,
    minOneBatch: boolean,
    maxOffsetExclusive: number,
  ): Promise<Buffer[] | null> {
    const parts: Buffer[] = [];
    let total = 0;
    let full = false;
    let offset = fetchOffset;
    while (!full && offset < maxOffsetExclusive) {
      const chunk = await this.chunkAt(log, offset);
      if (chunk === null) break;
      const data = chunk.data;
      let start = 0;
      while (start < data.length && readBaseOffset(data, start) + readLastOffsetDelta(data, start) < offset) {
        start += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, start);
      }
      let end = start;
      let next = offset;
      while (end < data.length) {
        if (readBaseOffset(data, end) >= maxOffsetExclusive) {
          full = true;
          break;
        }
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, end);
        if (total + (end - start) + size > maxBytes && !(minOneBatch && total === 0 && end === start)) {
          full = true;
          break;
        }
        next = readBaseOffset(data, end) + readLastOffsetDelta(data, end) + 1;
        end += size;
      }
      if (end > start) {
        parts.push(data.subarray(start, end));
        total += end - start;
      }
      if (next === offset) {
        // Nothing at or after offset in this chunk: offset is in a gap a cleaned segment left (compacted
        // topics); the read goes on where the next window begins.
        if (full || chunk.endOffset <= offset) break;
        next = chunk.endOffset;
      }
      offset = next;
    }
    this.prefetch(log, offset, this.readaheadBytes);
    return parts.length === 0 ? null : parts;
  }

  /**
   * Starts loading, without waiting, the ranges that reads from `offset` on will need: up to `bytes`, below
   * `endOffset`. `read` calls it past what it returned (read-ahead for sequential readers). Stops where the
   * cache's in-flight prefetch bound is reached. Failures are ignored: a later read loads (and reports).
   */
  prefetch(log: PartitionLog, offset: number, bytes: number, endOffset = log.highWatermark): void {
    this.prefetchMany([{ log, offset, bytes, endOffset }]);
  }

  /**
   * prefetch for several partitions at once (Fetch calls it for every partition it is about to read), so that
   * their GETs overlap instead of following one another, and so that adjacent ranges of one object — the
   * partitions' chunks of one WAL object, a partition's consecutive windows of one segment — are read with one
   * GET per run (SegmentCache.prefetchRun). Synchronous while the indexes needed are cached: data in memory
   * costs lookups, not promises.
   */
  prefetchMany(wants: readonly { log: PartitionLog; offset: number; bytes: number; endOffset: number }[]): void {
    const byObject = new Map<string, { position: number; lengthBytes: number }[]>();
    for (const w of wants) this.collectRanges(w.log, w.offset, w.bytes, w.endOffset, byObject);
    for (const [objectKey, ranges] of byObject) {
      if (ranges.length > 1) ranges.sort((x, y) => x.position - y.position);
      let run: { position: number; lengthBytes: number }[] = [];
      let lastPosition = -1;
      let runEnd = -1;
      for (const r of ranges) {
        if (r.position === lastPosition) continue; // wanted twice (a partition named twice in one request)
        lastPosition = r.position;
        if (run.length > 0 && r.position !== runEnd) {
          if (!this.cache.prefetchRun(objectKey, run)) return;
          run = [];
        }
        run.push(r);
        runEnd = r.position + r.lengthBytes;
      }
      if (run.length > 0 && !this.cache.prefetchRun(objectKey, run)) return;
    }
  }

  /** The ranges reads of `log` from `offset` on will need (up to `bytes`, below `endOffset`), by object. */
  private collectRanges(
    log: PartitionLog,
    offset: number,
    bytes: number,
    endOffset: number,
    byObject: Map<string, { position: number; lengthBytes: number }[]>,
  ): void {
    let budget = bytes;
    while (budget > 0 && offset < endOffset) {
      const i = log.findExtent(offset);
      if (i < 0) return;
      const e = log.extents[i]!;
      let position = e.position;
      let lengthBytes = e.lengthBytes;
      let next = e.lastOffset + 1;
      if (e.segment) {
        const index = this.indexCache.peekSegment(e.objectKey);
        if (!index) {
          // Its index first (one GET), then on from there on its own.
          const from = offset;
          const left = budget;
          this.indexCache.segment(e.objectKey, e.objectSizeBytes).then(
            () => this.prefetch(log, from, left, endOffset),
            () => {},
          );
          return;
        }
        const w = index.windowFor(offset - e.baseOffset, this.windowBytes);
        position = w.position;
        lengthBytes = w.lengthBytes;
        next = e.baseOffset + w.nextRelOffset;
      }
      let list = byObject.get(e.objectKey);
      if (!list) byObject.set(e.objectKey, (list = []));
      list.push({ position, lengthBytes });
      budget -= lengthBytes;
      offset = next;
    }
  }

  /**
   * The first batch at or above the log start whose max timestamp is >= `timestampMs`, with that batch's data
   * (for record-level lookup). Extents whose max timestamp is lower are skipped; inside a segment, the time
   * index says where to start scanning.
   */
  async findBatchByTimestamp(log: PartitionLog, timestampMs: number): Promise<{ batch: Buffer } | null> {
    let offset = log.logStartOffset;
    for (;;) {
      offset = Math.max(offset, log.logStartOffset); // retention may move it while this waits
      const i = log.findExtent(offset);
      if (i < 0) return null;
      const e = log.extents[i]!;
      if (e.maxTimestamp < timestampMs) {
        offset = e.lastOffset + 1;
        continue;
      }
      if (e.segment) {
        const index = await this.indexCache.segment(e.objectKey, e.objectSizeBytes).catch((err: unknown) => {
          if (err instanceof ObjectNotFoundError) return null; // replaced meanwhile: look again
          throw err;
        });
        if (index === null) continue;
        offset = Math.max(offset, e.baseOffset + index.scanStartForTimestamp(timestampMs));
      }
      const chunk = await this.chunkAt(log, offset);
      if (chunk === null) return null;
      const data = chunk.data;
      let next = offset;
      for (let pos = 0; pos < data.length; ) {
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos);
        const last = readBaseOffset(data, pos) + readLastOffsetDelta(data, pos);
        if (last >= offset && last >= log.logStartOffset && readMaxTimestampMs(data, pos) >= timestampMs)
          return { batch: data.subarray(pos, pos + size) };
        next = Math.max(next, last + 1);
        pos += size;
      }
      if (next === offset) next = chunk.endOffset; // a gap a cleaned segment left
      if (next <= offset) return null;
      offset = next;
    }
  }

  /** The batch holding `offset` (ListOffsets MAX_TIMESTAMP refinement). */
  async batchAt(log: PartitionLog, offset: number): Promise<Buffer | null> {
    return this.read(log, offset, 1, true, log.highWatermark);
  }
}
