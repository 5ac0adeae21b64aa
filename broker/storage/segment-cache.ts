// The L1 hot-data cache: byte ranges of objects (one partition's chunk each), bounded in bytes, least recently
// used out first. Fresh flushes are inserted as they commit, so tailing consumers read from memory; misses
// become ranged GETs, and concurrent misses of one range share a single GET.
import { LRUCache } from 'lru-cache';
import type { ObjectStore } from './object-store.ts';

export interface SegmentCacheStats {
  hits: number;
  misses: number;
  bytesLoaded: number;
}

export class SegmentCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer>>();
  private readonly store: ObjectStore;
  readonly stats: SegmentCacheStats = { hits: 0, misses: 0, bytesLoaded: 0 };

  constructor(store: ObjectStore, maxBytes: number) {
    this.store = store;
    this.lru = new LRUCache<string, Buffer>({ maxSize: Math.max(1, maxBytes), sizeCalculation: (b) => Math.max(1, b.length) });
  }

  get sizeBytes(): number {
    return this.lru.calculatedSize;
  }

  insert(objectKey: string, position: number, data: Buffer): void {
    if (data.length <= this.lru.maxSize) this.lru.set(`${objectKey}@${position}`, data);
  }

  /** Bytes [position, position + lengthBytes) of an object, from memory or with one ranged GET. */
  get(objectKey: string, position: number, lengthBytes: number): Promise<Buffer> {
    const key = `${objectKey}@${position}`;
    const hit = this.lru.get(key);
    if (hit !== undefined && hit.length === lengthBytes) {
      this.stats.hits++;
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(key);
    if (inFlight) return inFlight;
    this.stats.misses++;
    const load = this.store.get(objectKey, { start: position, end: position + lengthBytes }).then(
      (data) => {
        this.loading.delete(key);
        this.stats.bytesLoaded += data.length;
        this.insert(objectKey, position, data);
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

  /** Starts loading a range without waiting (read-ahead); failures are ignored, a later get retries. */
  prefetch(objectKey: string, position: number, lengthBytes: number): void {
    if (this.lru.has(`${objectKey}@${position}`)) return;
    this.get(objectKey, position, lengthBytes).catch(() => {});
  }

  evictObject(objectKey: string): void {
    for (const k of this.lru.keys()) if (k.startsWith(`${objectKey}@`)) this.lru.delete(k);
  }
}
