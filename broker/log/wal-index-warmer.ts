// Cluster mode: keeps the indexes of the other brokers' WAL objects in this broker's index cache as those
// objects are committed (a watch on /wal/), so that taking over a dead broker's partitions finds every WAL index
// it must scan already in memory instead of reading each one from the object store then. Without it, failover
// time grew with the WAL objects alive (about 5 s for 650 objects on radosgw: `npm run bench -- failover`).
// Cost: one index read (a ranged GET or two) per WAL object per other broker. Bounded: a queue of at most
// `maxQueued` objects (the oldest are dropped: a later failover reads those itself) and `concurrency` reads
// in flight. Failures are ignored: the object may have been collected, and a failover reads what is missing.
import type { Logger } from 'pino';
import type { MetadataStore, Watch } from '../metadata/store.ts';
import { walPrefix } from '../metadata/layout.ts';
import type { WalRecord } from '../metadata/layout.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import { walIndexRewatchDelayMs } from '../limits.ts';

export interface WalIndexWarmerStats {
  /** Indexes read ahead of need. */
  warmed: number;
  /** Objects dropped from a full queue. */
  dropped: number;
  /** Reads that failed (object collected meanwhile, or the store failing). */
  failed: number;
}

export interface WalIndexWarmerOptions {
  metadata: MetadataStore;
  indexCache: IndexCache;
  nodeId: number;
  logger: Logger;
  /** Objects waiting to be read, at most. */
  maxQueued: number;
  /** Index reads in flight, at most. */
  concurrency: number;
}

export class WalIndexWarmer {
  private readonly queue: { objectKey: string; sizeBytes: number }[] = [];
  private head = 0;
  private running = 0;
  private watch: Watch | null = null;
  private stopped = false;
  readonly stats: WalIndexWarmerStats = { warmed: 0, dropped: 0, failed: 0 };

  private readonly o: WalIndexWarmerOptions;

  constructor(options: WalIndexWarmerOptions) {
    this.o = options;
  }

  /** Warms `existing` (WAL keys read at start), then follows new WAL keys from `fromRevision` on. */
  start(existing: readonly { value: string }[], fromRevision: number): void {
    for (const kv of existing) this.offer(kv.value);
    this.follow(fromRevision);
  }

  private follow(fromRevision: number): void {
    if (this.stopped) return;
    this.watch = this.o.metadata.watchPrefix(
      walPrefix,
      fromRevision,
      (events) => {
        for (const ev of events) if (ev.type === 'put') this.offer(ev.kv.value);
      },
      (err) => {
        // Only warmth is lost (a failover reads the missed indexes itself): follow again from now on.
        this.o.logger.warn({ err }, 'WAL index warming: watch ended; following again from the current revision');
        this.watch = null;
        setTimeout(() => this.follow(0), walIndexRewatchDelayMs).unref();
      },
    );
  }

  private offer(value: string): void {
    if (this.stopped) return;
    const wal = JSON.parse(value) as WalRecord;
    if (wal.nodeId === this.o.nodeId) return; // this broker's own: indexed as it wrote them
    if (this.queue.length - this.head >= this.o.maxQueued) {
      this.head++;
      this.stats.dropped++;
    }
    this.queue.push({ objectKey: wal.objectKey, sizeBytes: wal.sizeBytes });
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.running < this.o.concurrency && this.head < this.queue.length) {
      const next = this.queue[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.running++;
      this.o.indexCache
        .wal(next.objectKey, next.sizeBytes)
        .then(
          () => this.stats.warmed++,
          () => this.stats.failed++,
        )
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
    this.queue.length = 0;
    this.head = 0;
  }
}
