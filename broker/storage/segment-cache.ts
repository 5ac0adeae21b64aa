// The L1 hot-data cache: byte ranges of objects (one partition's chunk of a WAL object, or one read window of a
// segment object), bounded in bytes, least recently used out first. Fresh flushes are inserted as they commit,
// so tailing consumers read from memory; misses become ranged GETs, and concurrent misses of one range share a
// single GET. Loads started ahead of need (read-ahead, and the ranges a fetch is about to read) are bounded
// broker-wide in bytes; beyond that bound they are not started and readers load on demand.
import assert from 'node:assert/strict';
import { LRUCache } from 'lru-cache';
import type { ObjectStore } from './object-store.ts';
import { configDefaults } from '../config.ts';

export interface SegmentCacheStats {
  hits: number;
  misses: number;
  bytesLoaded: number;
  /** Loads started ahead of need. */
  prefetches: number;
  /** Prefetches not started because the in-flight prefetch bytes were at their limit. */
  prefetchesRefused: number;
}

export class SegmentCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer>>();
  /** Cached range keys by object, so deleting an object evicts its ranges without scanning the cache. */
  private readonly byObject = new Map<string, Set<string>>();
  private readonly store: ObjectStore;
  readonly stats: SegmentCacheStats = { hits: 0, misses: 0, bytesLoaded: 0, prefetches: 0, prefetchesRefused: 0 };
  private readonly maxPrefetchInflightBytes: number;
  private prefetchInflightBytes = 0;

  /**
   * `maxBytes`: cached bytes (0: nothing is kept, so nothing is prefetched). `maxPrefetchInflightBytes`: bytes
   * being loaded ahead of need at once.
   */
  constructor(store: ObjectStore, maxBytes: number, maxPrefetchInflightBytes = configDefaults.prefetchMaxInflightBytes) {
    this.store = store;
    this.maxPrefetchInflightBytes = maxBytes > 0 ? maxPrefetchInflightBytes : 0;
    this.lru = new LRUCache<string, Buffer>({
      maxSize: Math.max(1, maxBytes),
      sizeCalculation: (b) => Math.max(1, b.length),
      dispose: (_value, key, reason) => {
        if (reason === 'set') return; // replaced under the same key: still cached
        const objectKey = key.slice(0, key.lastIndexOf('@'));
        const keys = this.byObject.get(objectKey);
        if (keys) {
          keys.delete(key);
          if (keys.size === 0) this.byObject.delete(objectKey);
        }
      },
    });
  }

  get sizeBytes(): number {
    return this.lru.calculatedSize;
  }

  insert(objectKey: string, position: number, data: Buffer): void {
    if (data.length > this.lru.maxSize) return;
    const key = `${objectKey}@${position}`;
    this.lru.set(key, data);
    if (!this.lru.has(key)) return;
    let keys = this.byObject.get(objectKey);
    if (!keys) this.byObject.set(objectKey, (keys = new Set()));
    keys.add(key);
  }

  /** Bytes [position, position + lengthBytes) of an object, from memory or with one ranged GET. */
  get(objectKey: string, position: number, lengthBytes: number): Promise<Buffer> {
    return this.load(objectKey, position, lengthBytes, true);
  }

  /**
   * Like get, but a miss is not kept: bulk readers (the compactor) use it so that cold data they read once does
   * not push hot data out.
   */
  getUncached(objectKey: string, position: number, lengthBytes: number): Promise<Buffer> {
    return this.load(objectKey, position, lengthBytes, false);
  }

  /** The range if cached with exactly this length (no GET, recency unchanged). */
  peek(objectKey: string, position: number, lengthBytes: number): Buffer | undefined {
    const hit = this.lru.peek(`${objectKey}@${position}`);
    return hit !== undefined && hit.length === lengthBytes ? hit : undefined;
  }

  private load(objectKey: string, position: number, lengthBytes: number, keep: boolean): Promise<Buffer> {
    const key = `${objectKey}@${position}`;
    const hit = this.lru.get(key);
    if (hit !== undefined && hit.length === lengthBytes) {
      this.stats.hits++;
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight.then((data) => (data.length === lengthBytes ? data : this.load(objectKey, position, lengthBytes, keep)));
    this.stats.misses++;
    const load = this.store.get(objectKey, { start: position, end: position + lengthBytes }).then(
      (data) => {
        this.loading.delete(key);
        this.stats.bytesLoaded += data.length;
        if (keep) this.insert(objectKey, position, data);
        return data;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, load);
    return load;
  }

  get prefetchInflight(): number {
    return this.prefetchInflightBytes;
  }

  /**
   * Starts loading a range without waiting; failures are ignored (a later get retries). false when the range
   * is neither cached nor loading and the in-flight prefetch bytes are at their limit: nothing was started.
   */
  prefetch(objectKey: string, position: number, lengthBytes: number): boolean {
    const key = `${objectKey}@${position}`;
    if (this.loading.has(key) || this.lru.peek(key)?.length === lengthBytes) return true;
    if (this.prefetchInflightBytes + lengthBytes > this.maxPrefetchInflightBytes) {
      this.stats.prefetchesRefused++;
      return false;
    }
    this.stats.prefetches++;
    this.prefetchInflightBytes += lengthBytes;
    this.get(objectKey, position, lengthBytes)
      .catch(() => {})
      .finally(() => {
        this.prefetchInflightBytes -= lengthBytes;
        assert.ok(this.prefetchInflightBytes >= 0, 'prefetch in-flight bytes never go negative');
      });
    return true;
  }

  /**
   * Like prefetch, for adjacent ranges of one object (sorted, each starting where the previous one ends): the
   * ranges not cached or loading yet are loaded with one GET per contiguous run, and each range is then kept as
   * its own copy (so the cache's byte bound stays exact). A Fetch of many partitions reads their chunks of one
   * WAL object this way. false when the in-flight prefetch bound stopped it before the end.
   */
  prefetchRun(objectKey: string, ranges: readonly { position: number; lengthBytes: number }[]): boolean {
    let i = 0;
    while (i < ranges.length) {
      // The next stretch of ranges that are neither cached nor loading.
      while (i < ranges.length && this.present(objectKey, ranges[i]!)) i++;
      let j = i;
      while (j < ranges.length && !this.present(objectKey, ranges[j]!)) j++;
      if (j - i === 1 && !this.prefetch(objectKey, ranges[i]!.position, ranges[i]!.lengthBytes)) return false;
      if (j - i > 1 && !this.loadSpan(objectKey, ranges.slice(i, j))) return false;
      i = j;
    }
    return true;
  }

  private present(objectKey: string, r: { position: number; lengthBytes: number }): boolean {
    const key = `${objectKey}@${r.position}`;
    return this.loading.has(key) || this.lru.peek(key)?.length === r.lengthBytes;
  }

  private loadSpan(objectKey: string, ranges: readonly { position: number; lengthBytes: number }[]): boolean {
    const start = ranges[0]!.position;
    const last = ranges[ranges.length - 1]!;
    const end = last.position + last.lengthBytes;
    for (let k = 1; k < ranges.length; k++)
      assert.equal(ranges[k]!.position, ranges[k - 1]!.position + ranges[k - 1]!.lengthBytes, 'a run of adjacent ranges');
    const spanBytes = end - start;
    if (this.prefetchInflightBytes + spanBytes > this.maxPrefetchInflightBytes) {
      this.stats.prefetchesRefused++;
      return false;
    }
    this.stats.prefetches++;
    this.stats.misses++;
    this.prefetchInflightBytes += spanBytes;
    const span = this.store.get(objectKey, { start, end });
    void span
      .then(
        (data) => {
          this.stats.bytesLoaded += data.length;
        },
        () => {},
      )
      .finally(() => {
        this.prefetchInflightBytes -= spanBytes;
        assert.ok(this.prefetchInflightBytes >= 0, 'prefetch in-flight bytes never go negative');
      });
    for (const r of ranges) {
      const key = `${objectKey}@${r.position}`;
      const load = span.then(
        (data) => {
          this.loading.delete(key);
          const own = Buffer.from(data.subarray(r.position - start, r.position - start + r.lengthBytes)); // a copy: see above
          this.insert(objectKey, r.position, own);
          return own;
        },
        (error: unknown) => {
          this.loading.delete(key);
          throw error;
        },
      );
      load.catch(() => {}); // a get that joins it sees the failure; a prefetch alone ignores it
      this.loading.set(key, load);
    }
    return true;
  }

  evictObject(objectKey: string): void {
    const keys = this.byObject.get(objectKey);
    if (!keys) return;
    for (const k of [...keys]) this.lru.delete(k);
    this.byObject.delete(objectKey);
  }
}
