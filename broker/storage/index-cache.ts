// The L2 index cache: parsed segment indexes (offset and time) and parsed WAL indexes, by object key, bounded
// in bytes, least recently used out first. A miss costs one ranged GET of the object's tail (footer plus, in
// the common case, the indexes right before it) and a second one only when the indexes are bigger than that
// tail; concurrent misses of one object share the load. Objects are immutable, so entries never go stale; they
// are evicted when their object is deleted.
import { LRUCache } from 'lru-cache';
import type { ObjectStore } from './object-store.ts';
import { parseSegmentFooter, parseSegmentIndexes, segmentFooterBytes, segmentIndexesBytes } from './segment-object.ts';
import type { SegmentIndex } from './segment-object.ts';
import { parseWalFooter, parseWalIndex, walFooterBytes, walIndexEntryBytes } from './wal-object.ts';
import type { WalIndexEntry } from './wal-object.ts';
import { indexTailBytes } from '../limits.ts';

export interface IndexCacheStats {
  hits: number;
  misses: number;
  /** Ranged GETs issued. */
  gets: number;
  bytesLoaded: number;
}

type Entry = { kind: 'segment'; index: SegmentIndex; sizeBytes: number } | { kind: 'wal'; entries: WalIndexEntry[]; sizeBytes: number };

/** What a parsed WAL index holds in memory, roughly (for the cache's byte bound). */
function walEntrySizeBytes(entries: number): number {
  return 128 + entries * (walIndexEntryBytes + 64);
}

export class IndexCache {
  private readonly store: ObjectStore;
  private readonly lru: LRUCache<string, Entry> | null;
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly tailBytes: number;
  readonly stats: IndexCacheStats = { hits: 0, misses: 0, gets: 0, bytesLoaded: 0 };

  /** `maxBytes` 0 disables caching (loads are still shared while in flight). */
  constructor(store: ObjectStore, maxBytes: number, options: { tailBytes?: number } = {}) {
    this.store = store;
    this.tailBytes = Math.max(options.tailBytes ?? indexTailBytes, segmentFooterBytes, walFooterBytes);
    this.lru = maxBytes > 0 ? new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (e) => Math.max(1, e.sizeBytes) }) : null;
  }

  /** Bytes held. */
  get sizeBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }

  get entries(): number {
    return this.lru?.size ?? 0;
  }

  /** The parsed indexes of a segment object of `objectSizeBytes` bytes. */
  async segment(objectKey: string, objectSizeBytes: number): Promise<SegmentIndex> {
    const e = await this.load(objectKey, objectSizeBytes, 'segment');
    if (e.kind !== 'segment') throw new Error(`${objectKey} is cached as a WAL index`);
    return e.index;
  }

  /** The segment index if cached, without loading it (read-ahead uses it). */
  peekSegment(objectKey: string): SegmentIndex | undefined {
    const e = this.lru?.get(objectKey);
    return e?.kind === 'segment' ? e.index : undefined;
  }

  /** The index entries of a WAL object of `objectSizeBytes` bytes. */
  async wal(objectKey: string, objectSizeBytes: number): Promise<WalIndexEntry[]> {
    const e = await this.load(objectKey, objectSizeBytes, 'wal');
    if (e.kind !== 'wal') throw new Error(`${objectKey} is cached as a segment index`);
    return e.entries;
  }

  /** Keeps a WAL object's index just written (its writer knows it without reading it back). */
  insertWal(objectKey: string, entries: WalIndexEntry[]): void {
    this.lru?.set(objectKey, { kind: 'wal', entries, sizeBytes: walEntrySizeBytes(entries.length) });
  }

  /** Keeps an index just built (the compactor knows a new segment's index without reading it back). */
  insertSegment(objectKey: string, index: SegmentIndex): void {
    this.lru?.set(objectKey, { kind: 'segment', index, sizeBytes: index.sizeBytes });
  }

  evict(objectKey: string): void {
    this.lru?.delete(objectKey);
  }

  private load(objectKey: string, objectSizeBytes: number, kind: Entry['kind']): Promise<Entry> {
    const hit = this.lru?.get(objectKey);
    if (hit !== undefined) {
      this.stats.hits++;
      return Promise.resolve(hit);
    }
    const inFlight = this.loading.get(objectKey);
    if (inFlight) {
      this.stats.hits++;
      return inFlight;
    }
    this.stats.misses++;
    const run = (kind === 'segment' ? this.loadSegment(objectKey, objectSizeBytes) : this.loadWal(objectKey, objectSizeBytes)).then(
      (entry) => {
        this.loading.delete(objectKey);
        this.lru?.set(objectKey, entry);
        return entry;
      },
      (error: unknown) => {
        this.loading.delete(objectKey);
        throw error;
      },
    );
    this.loading.set(objectKey, run);
    return run;
  }

  private async get(objectKey: string, start: number, end: number): Promise<Buffer> {
    this.stats.gets++;
    const data = await this.store.get(objectKey, { start, end });
    this.stats.bytesLoaded += data.length;
    return data;
  }

  /** Bytes [start, end) of the object, from `tail` (which ends at the object's end) or with one more GET. */
  private async range(objectKey: string, tail: Buffer, objectSizeBytes: number, start: number, end: number): Promise<Buffer> {
    const tailStart = objectSizeBytes - tail.length;
    if (start >= tailStart) return tail.subarray(start - tailStart, end - tailStart);
    return this.get(objectKey, start, end);
  }

  private async loadSegment(objectKey: string, objectSizeBytes: number): Promise<Entry> {
    const tail = await this.get(objectKey, Math.max(0, objectSizeBytes - this.tailBytes), objectSizeBytes);
    const footerBytes = tail.subarray(tail.length - segmentFooterBytes);
    const footer = parseSegmentFooter(footerBytes, objectSizeBytes);
    const start = footer.dataLengthBytes;
    const indexes = await this.range(objectKey, tail, objectSizeBytes, start, start + segmentIndexesBytes(footer));
    const index = parseSegmentIndexes(indexes, footerBytes, footer);
    return { kind: 'segment', index, sizeBytes: index.sizeBytes };
  }

  private async loadWal(objectKey: string, objectSizeBytes: number): Promise<Entry> {
    const tail = await this.get(objectKey, Math.max(0, objectSizeBytes - this.tailBytes), objectSizeBytes);
    const f = parseWalFooter(tail.subarray(tail.length - walFooterBytes), objectSizeBytes);
    const index = await this.range(objectKey, tail, objectSizeBytes, f.indexPosition, f.indexPosition + f.indexLengthBytes);
    const entries = parseWalIndex(index, f.indexCrc);
    return { kind: 'wal', entries, sizeBytes: walEntrySizeBytes(entries.length) };
  }
}
