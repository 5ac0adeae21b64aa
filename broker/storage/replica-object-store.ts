// Cross-region replica reads: GETs try the read replicas first, in order of preference, and fall back to the
// primary when an object is missing there (replication lag) or the replica errs; a replica that errs is skipped
// for a while. Writes, deletes, lists and heads go to the primary only.
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import { replicaRecentPutMemoryMs, replicaRecentPutsMaxCount, replicaSkipMs } from '../limits.ts';

export interface ReadReplica {
  /** A name for metrics and logs, e.g. the region. */
  name: string;
  store: ObjectStore;
}

export interface ReplicaStats {
  name: string;
  hits: number;
  /** Object not yet on the replica: served by the next replica or the primary. */
  missFallbacks: number;
  /** The replica erred: served elsewhere, and the replica is skipped until `skippedUntilMs`. */
  errorFallbacks: number;
  skippedUntilMs: number;
  /** Largest age (ms since this broker wrote it) of an object the replica did not have yet: replication lag seen. */
  maxObservedLagMs: number;
  /** The same, for the most recent miss of an object this broker wrote. */
  lastObservedLagMs: number;
}

export class ReplicaReadObjectStore implements ObjectStore {
  private readonly primary: ObjectStore;
  private readonly replicas: ReadReplica[];
  private readonly clock: () => number;
  readonly stats: ReplicaStats[];
  private readonly recentPuts = new Map<string, number>();

  constructor(primary: ObjectStore, replicas: ReadReplica[], clock: () => number = Date.now) {
    this.primary = primary;
    this.replicas = replicas;
    this.clock = clock;
    this.stats = replicas.map((r) => ({
      name: r.name,
      hits: 0,
      missFallbacks: 0,
      errorFallbacks: 0,
      skippedUntilMs: 0,
      maxObservedLagMs: 0,
      lastObservedLagMs: 0,
    }));
  }

  async put(key: string, body: Buffer | Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    const info = await this.primary.put(key, body, options);
    const now = this.clock();
    this.recentPuts.set(key, now);
    if (this.recentPuts.size > replicaRecentPutsMaxCount) {
      for (const [k, at] of this.recentPuts) {
        if (this.recentPuts.size <= replicaRecentPutsMaxCount && now - at < replicaRecentPutMemoryMs) break;
        this.recentPuts.delete(k);
      }
    }
    return info;
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    const now = this.clock();
    for (let i = 0; i < this.replicas.length; i++) {
      const st = this.stats[i]!;
      if (st.skippedUntilMs > now) continue;
      try {
        const data = await this.replicas[i]!.store.get(key, range);
        st.hits++;
        return data;
      } catch (error) {
        if ((error as Error).name === 'ObjectNotFoundError') {
          st.missFallbacks++;
          const wroteAt = this.recentPuts.get(key);
          if (wroteAt !== undefined) {
            st.lastObservedLagMs = now - wroteAt;
            st.maxObservedLagMs = Math.max(st.maxObservedLagMs, st.lastObservedLagMs);
          }
        } else if (error instanceof RangeError) {
          throw error; // the request itself is wrong; the primary would say the same
        } else {
          st.errorFallbacks++;
          st.skippedUntilMs = now + replicaSkipMs;
        }
      }
    }
    return this.primary.get(key, range);
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.primary.head(key);
  }

  async delete(keys: string[]): Promise<void> {
    for (const k of keys) this.recentPuts.delete(k);
    await this.primary.delete(keys);
  }

  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return this.primary.list(prefix, options);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), ...this.replicas.map((r) => r.store.close())]);
  }
}
