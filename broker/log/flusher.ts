// The broker-wide flusher: gathers every partition's pending batches into ONE object per flush, PUTs it, then
// commits ONE metadata key for it, guarded by this broker's fencing token. Object PUTs may overlap; metadata
// commits happen strictly in flush order, so a partition's durable log never has a gap. Nothing is written
// while idle: a flush starts only when there is pending data.
//
// When a flush starts (group commit): pending data is flushed as soon as no flush is in flight, at the end of the
// event-loop turn that appended it, so at low load a batch is durable after one object write and one metadata
// commit; while a flush is in flight, what arrives waits for its commit and goes out in the next object, so at
// high load objects grow by themselves. Pending data reaching flushSizeBytes starts a flush at once, up to
// maxConcurrentFlushes in flight. flushLingerMs is a cost floor for stores that charge per request: a flush
// (other than a size-triggered one) starts no sooner than flushLingerMs after the previous one started, so at
// most 1000 / flushLingerMs objects per second below the size bound; with a floor, data whose oldest batch
// has waited flushLingerMs is flushed even while another flush is in flight (a slow PUT does not hold it).
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import type { Compare, MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { PreconditionFailedError } from '../storage/object-store.ts';
import type { SegmentCache } from '../storage/segment-cache.ts';
import { buildWalObject } from '../storage/wal-object.ts';
import type { WalChunk, WalIndexEntry } from '../storage/wal-object.ts';
import { walKey, walObjectKey } from '../metadata/layout.ts';
import type { WalRecord } from '../metadata/layout.ts';
import type { PartitionLog, TakenChunk } from './partition-log.ts';
import { retryForever } from './retry.ts';

export interface FlusherOptions {
  objectStore: ObjectStore;
  metadata: MetadataStore;
  cache: SegmentCache;
  nodeId: number;
  /** Unique per broker process start; part of every object key so retries of a crashed start never collide. */
  incarnation: string;
  /** Compares every commit must pass: this broker still holds its fencing token. */
  fence: () => Compare[];
  flushSizeBytes: number;
  flushLingerMs: number;
  maxConcurrentFlushes: number;
  firstSequence: number;
  /** The metadata key committing flush `sequence` (default: the single-broker /wal/<sequence>). */
  walKeyOf?: (sequence: number) => string;
  logger: Logger;
  /** Called when a commit is refused: this broker has been fenced and must stop acknowledging writes. */
  onFenced: (error: Error) => void;
  /** Called once per committed object, before its partitions advance (reference counting). */
  onCommitted: (objectKey: string, walKey: string, record: WalRecord, entries: WalIndexEntry[]) => void;
}

export class FencedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FencedError';
  }
}

export interface FlushStats {
  flushes: number;
  objectBytes: number;
  commits: number;
  putRetries: number;
  commitRetries: number;
}

export class Flusher {
  private readonly o: FlusherOptions;
  private readonly dirty = new Set<PartitionLog>();
  private pendingBytesCount = 0;
  private inFlightBytesCount = 0;
  /** The scheduled start of the next flush: a timer (floor or linger) or, when due now, an immediate. */
  private lingerTimer: NodeJS.Timeout | null = null;
  private lingerImmediate: NodeJS.Immediate | null = null;
  private lingerDueMs = 0;
  /** performance.now() of the last flush start, and of the first batch pending now. */
  private lastFlushStartMs = Number.NEGATIVE_INFINITY;
  private firstPendingMs = 0;
  /** A flush was due (flushNow) but the in-flight bound held it: it starts when a flush completes. */
  private flushDue = false;
  private nextSequence: number;
  private lastCommit: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();
  /** Set when shutdown gives up on a store that keeps failing: retries stop and unflushed appends are abandoned. */
  private aborted = false;
  /** Produce requests waiting for unflushed bytes to fall below the memory limit. */
  private roomWaiters: (() => void)[] = [];
  private fenced: Error | null = null;
  readonly stats: FlushStats = { flushes: 0, objectBytes: 0, commits: 0, putRetries: 0, commitRetries: 0 };

  constructor(options: FlusherOptions) {
    assert.ok(options.flushSizeBytes > 0 && options.flushLingerMs >= 0 && options.maxConcurrentFlushes >= 1);
    this.o = options;
    this.nextSequence = options.firstSequence;
  }

  /** Bytes appended but not yet handed to a flush. */
  get pendingBytes(): number {
    return this.pendingBytesCount;
  }

  /** Bytes appended and not yet durable (pending + being flushed): what memory backpressure counts. */
  get unflushedBytes(): number {
    return this.pendingBytesCount + this.inFlightBytesCount;
  }

  /**
   * Backpressure: resolves true once unflushed bytes are below `maxBytes` (re-checked after every flush), or
   * false when `timeoutMs` passes first.
   */
  async waitForRoom(maxBytes: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.unflushedBytes >= maxBytes) {
      const left = deadline - Date.now();
      if (left <= 0 || this.fenced) return false;
      this.flushNow();
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.roomWaiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
    return true;
  }

  /** A partition has new pending bytes. */
  appended(log: PartitionLog, bytes: number): void {
    if (this.fenced) throw this.fenced;
    if (this.dirty.size === 0) this.firstPendingMs = performance.now();
    this.dirty.add(log);
    this.pendingBytesCount += bytes;
    this.schedule();
  }

  /**
   * Decides when the pending data is flushed (see the top of the file): at once on size; else, with no flush in
   * flight, at the end of this turn once the floor since the last start has passed; else (with a linger) when
   * the oldest pending batch has waited the linger, or earlier when the flush in flight commits (which calls
   * this again).
   */
  private schedule(): void {
    if (this.dirty.size === 0 || this.fenced) return;
    if (this.flushDue || this.pendingBytesCount >= this.o.flushSizeBytes) {
      this.flushNow();
      return;
    }
    const lingerMs = this.o.flushLingerMs;
    if (this.running.size === 0) this.startAt(this.lastFlushStartMs + lingerMs);
    else if (lingerMs > 0) this.startAt(this.firstPendingMs + lingerMs);
  }

  /** Arms the flush start for `dueMs` (performance.now() time), unless one is armed for no later. */
  private startAt(dueMs: number): void {
    if ((this.lingerTimer !== null || this.lingerImmediate !== null) && this.lingerDueMs <= dueMs) return;
    this.cancelStart();
    this.lingerDueMs = dueMs;
    const delayMs = dueMs - performance.now();
    if (delayMs > 0) this.lingerTimer = setTimeout(() => this.flushNow(), Math.ceil(delayMs));
    else this.lingerImmediate = setImmediate(() => this.flushNow());
  }

  private cancelStart(): void {
    if (this.lingerTimer !== null) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = null;
    }
    if (this.lingerImmediate !== null) {
      clearImmediate(this.lingerImmediate);
      this.lingerImmediate = null;
    }
  }

  /** Starts a flush of everything pending, unless too many flushes are already in flight (they re-check). */
  flushNow(): void {
    this.cancelStart();
    if (this.dirty.size === 0) {
      this.flushDue = false;
      return;
    }
    if (this.running.size >= this.o.maxConcurrentFlushes) {
      this.flushDue = true; // the next flush to finish starts this one
      return;
    }
    this.flushDue = false;
    const chunks: WalChunk[] = [];
    const taken: { log: PartitionLog; chunk: TakenChunk }[] = [];
    for (const log of this.dirty) {
      const chunk = log.takePending();
      if (chunk === null) continue;
      taken.push({ log, chunk });
      chunks.push({ topicId: log.topicId, partition: log.partition, ...chunk });
    }
    this.dirty.clear();
    let bytes = 0;
    for (const c of chunks) bytes += c.data.length;
    this.pendingBytesCount -= bytes;
    if (chunks.length === 0) return;
    this.inFlightBytesCount += bytes;
    const sequence = this.nextSequence++;
    this.lastFlushStartMs = performance.now();
    const run = this.flush(sequence, chunks, taken).finally(() => {
      this.running.delete(run);
      this.inFlightBytesCount -= bytes;
      for (const wake of this.roomWaiters.splice(0)) wake();
      this.schedule();
    });
    this.running.add(run);
  }

  private async flush(sequence: number, chunks: WalChunk[], taken: { log: PartitionLog; chunk: TakenChunk }[]): Promise<void> {
    const objectKey = walObjectKey(sequence, this.o.nodeId, this.o.incarnation);
    const { body, sizeBytes, entries } = buildWalObject(chunks);
    const previousCommit = this.lastCommit;
    let commitDone!: () => void;
    this.lastCommit = new Promise((resolve) => (commitDone = resolve));
    try {
      await this.putWalObject(objectKey, body, sizeBytes);
      this.stats.flushes++;
      this.stats.objectBytes += sizeBytes;
      await previousCommit;
      if (this.fenced) throw this.fenced;
      const { key, record } = await this.commitWalObject(sequence, objectKey, sizeBytes);
      this.stats.commits++;
      this.o.onCommitted(objectKey, key, record, entries);
      this.publishFlushed(objectKey, sizeBytes, taken, entries);
    } catch (error) {
      this.failFlush(sequence, error as Error, taken);
    } finally {
      commitDone();
    }
  }

  /**
   * PUTs the WAL object, retrying transient failures. The key is this incarnation's own, so a retry refused
   * because the key exists finds the object an earlier attempt wrote when its answer was lost: that is success
   * once the stored size matches. A first attempt refused that way is another writer's object: not retried.
   */
  private async putWalObject(objectKey: string, body: Buffer[], sizeBytes: number): Promise<void> {
    let attempts = 0;
    await retryForever(
      'put WAL object',
      async () => {
        attempts++;
        try {
          await this.o.objectStore.put(objectKey, body, { ifNoneMatch: true });
        } catch (error) {
          if (!(error instanceof PreconditionFailedError) || attempts === 1) throw error;
          const info = await this.o.objectStore.head(objectKey);
          if (info?.sizeBytes !== sizeBytes) throw error;
        }
      },
      {
        logger: this.o.logger,
        isClosed: () => this.aborted,
        onRetry: () => this.stats.putRetries++,
        isRetriable: (error) => !(error instanceof PreconditionFailedError),
      },
    );
  }

  /** Commits the WAL record of a PUT object under the fence; a refused commit throws FencedError. */
  private async commitWalObject(sequence: number, objectKey: string, sizeBytes: number): Promise<{ key: string; record: WalRecord }> {
    const record: WalRecord = { objectKey, sizeBytes, nodeId: this.o.nodeId, createdAtMs: Date.now() };
    const key = (this.o.walKeyOf ?? walKey)(sequence);
    const value = JSON.stringify(record);
    let attempts = 0;
    const result = await retryForever(
      'commit WAL object',
      () => {
        attempts++;
        return this.o.metadata.txn(
          [...this.o.fence(), { key, target: 'createRevision', op: '=', value: 0 }],
          [{ type: 'put', key, value }],
        );
      },
      {
        logger: this.o.logger,
        isClosed: () => this.aborted,
        onRetry: () => this.stats.commitRetries++,
        isRetriable: (e) => e instanceof MetadataUnavailableError,
      },
    );
    // A retry after a lost answer finds its own earlier commit: that is success, not fencing.
    const alreadyCommitted = !result.succeeded && attempts > 1 && (await this.o.metadata.get(key))?.value === value;
    if (!result.succeeded && !alreadyCommitted)
      throw new FencedError(`commit of ${key} refused: this broker no longer holds its fencing token`);
    return { key, record };
  }

  /** After the commit: caches each chunk and tells its partition where its batches now live. */
  private publishFlushed(
    objectKey: string,
    sizeBytes: number,
    taken: { log: PartitionLog; chunk: TakenChunk }[],
    entries: readonly WalIndexEntry[],
  ): void {
    for (let i = 0; i < taken.length; i++) {
      const { log, chunk } = taken[i]!;
      const e = entries[i]!;
      this.o.cache.insert(objectKey, e.position, chunk.data);
      log.commitFlushed(chunk, {
        baseOffset: e.baseOffset,
        lastOffset: e.lastOffset,
        maxTimestamp: e.maxTimestamp,
        objectKey,
        position: e.position,
        lengthBytes: e.lengthBytes,
        segment: false,
        objectSizeBytes: sizeBytes,
      });
    }
  }

  /** A flush failed for good: the broker is fenced and everything not yet durable is abandoned. */
  private failFlush(sequence: number, err: Error, taken: { log: PartitionLog; chunk: TakenChunk }[]): void {
    if (!this.fenced) {
      this.fenced = err instanceof FencedError ? err : new FencedError(`flush ${sequence} failed for good: ${err.message}`);
      this.o.logger.error({ err }, 'flush failed; this broker stops acknowledging writes');
      this.o.onFenced(this.fenced);
    }
    for (const { log } of taken) log.abandonUnflushed(this.fenced);
    for (const log of this.dirty) log.abandonUnflushed(this.fenced);
    this.dirty.clear();
    this.pendingBytesCount = 0;
  }

  /**
   * Graceful shutdown: flushes everything pending and waits for every flush to commit, for at most
   * `deadlineMs`; past it, retries stop and what is not durable is abandoned (never acknowledged).
   */
  async close(deadlineMs: number): Promise<void> {
    const timer = setTimeout(() => (this.aborted = true), deadlineMs);
    try {
      this.flushNow();
      while (this.running.size > 0 || (this.dirty.size > 0 && !this.fenced)) {
        await Promise.allSettled([...this.running]);
        this.flushNow();
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
