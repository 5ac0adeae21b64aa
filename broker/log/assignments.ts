// Cluster mode: partitions are loaded when this broker is given them (acquire) and dropped when they are handed
// over (releasePartition) or taken away (drop).
import type { Logger } from 'pino';
import { walPrefix } from '../metadata/layout.ts';
import type { TopicRecord, WalRecord } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import { mapBounded } from './compactor.ts';
import type { CommitOutcome } from './compactor.ts';
import type { Flusher } from './flusher.ts';
import { partitionKey } from './manifests.ts';
import type { ManifestWriter } from './manifests.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import type { PartitionLogs } from './partition-logs.ts';
import { readAssignedManifests, readWalIndex, walExtentsOf } from './recovery.ts';
import type { AssignedManifest } from './recovery.ts';
import type { LogGarbage } from './wal-gc.ts';

/** A partition given to this broker (acquire). */
interface Assignment {
  topic: TopicRecord;
  partition: number;
  epoch: number;
}

export interface AssignmentsOptions {
  logs: PartitionLogs;
  manifests: ManifestWriter;
  garbage: LogGarbage;
  indexCache: IndexCache;
  metadata: MetadataStore;
  topics: TopicRegistry;
  logger: Logger;
  recoveryConcurrency: number;
  flusher: () => Flusher;
}

export class Assignments {
  private readonly o: AssignmentsOptions;

  constructor(options: AssignmentsOptions) {
    this.o = options;
  }

  /**
   * Cluster mode: loads partitions this broker has just been given, at their new leader epochs: the manifest
   * (segments, log start, epoch history), then every WAL chunk of theirs not in a segment (from any broker's
   * WAL objects). The new epoch's start is written to the manifest before the partition is served, guarded by
   * the fence: a broker that lost its place cannot serve.
   */
  async acquire(parts: { topicId: string; partition: number; epoch: number }[]): Promise<void> {
    const wanted = new Map<string, Assignment>();
    for (const p of parts) {
      const topic = this.o.topics.byId(p.topicId);
      if (topic && p.partition < topic.partitions)
        wanted.set(partitionKey(p.topicId, p.partition), { topic, partition: p.partition, epoch: p.epoch });
    }
    if (wanted.size === 0) return;
    const started = Date.now();
    const indexMissesBefore = this.o.indexCache.stats.misses;
    const manifests = await readAssignedManifests(this.o.metadata, wanted, this.o.recoveryConcurrency);
    const walKvs = await this.o.metadata.getPrefix(walPrefix);
    const manifestsMs = Date.now() - started;
    const indexes = await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      this.o.garbage.register(wal.objectKey, kv.key, wal.createdAtMs);
      return readWalIndex(this.o.indexCache, kv, wal); // entries null: collected meanwhile, every chunk in it was dead
    });
    const { extents: walExtents } = walExtentsOf(
      indexes,
      (k) => manifests.get(k)?.segments,
      (_topicId, k) => wanted.has(k),
    );
    const indexesMs = Date.now() - started - manifestsMs;
    const walIndexReads = this.o.indexCache.stats.misses - indexMissesBefore;
    const loaded = this.buildAssigned(wanted, manifests, walExtents);
    // The new epochs' starts, durably, before any append at them.
    const outcomes = await this.o.manifests.serialise(() =>
      this.o.manifests.commit(loaded.map((log) => this.o.manifests.update(log, log.extents, log.logStartOffset))),
    );
    this.installAssigned(loaded, outcomes);
    // Per partition (first few): where its log starts and ends, so an operator can follow a failover.
    const detail = loaded
      .slice(0, 16)
      .map((l) => `${l.topicName}-${l.partition}@${l.leaderEpoch}:${l.logStartOffset}..${l.nextOffset}(${l.extents.length})`);
    this.o.logger.info(
      { partitions: loaded.length, walObjects: walKvs.length, walIndexReads, manifestsMs, indexesMs, ms: Date.now() - started, detail },
      'partitions loaded',
    );
  }

  /** The logs of partitions given to this broker, at their new epochs (not installed yet). */
  private buildAssigned(
    wanted: Map<string, Assignment>,
    manifests: Map<string, AssignedManifest>,
    walExtents: Map<string, Extent[]>,
  ): PartitionLog[] {
    const loaded: PartitionLog[] = [];
    for (const [k, w] of wanted) {
      const { kv, manifest, segments } = manifests.get(k)!;
      this.o.manifests.stateOf(k).revision = kv?.modRevision ?? 0;
      const extents = [...segments, ...(walExtents.get(k) ?? [])];
      const log = this.o.logs.build(w.topic, w.partition, extents, manifest?.logStartOffset ?? 0, w.epoch, manifest?.epochs);
      log.producerSnapshot = manifest?.producerState ?? null; // producer-state.ts: kept by every manifest write
      log.cleanedEnd = manifest?.cleanedEnd ?? 0;
      loaded.push(log);
    }
    return loaded;
  }

  /** The loaded partitions whose manifest was written are served. */
  private installAssigned(loaded: PartitionLog[], outcomes: CommitOutcome[]): void {
    for (let i = 0; i < loaded.length; i++) {
      const log = loaded[i]!;
      if (outcomes[i] !== 'committed') {
        this.o.logger.warn(
          { topic: log.topicName, partition: log.partition },
          'partition not served: its manifest could not be written (fenced or changed)',
        );
        continue;
      }
      this.o.logs.install(log);
    }
  }

  /**
   * Cluster mode: stops appends to a partition handed to another broker, waits until everything appended is
   * durable and every manifest write under way has finished, then drops it.
   */
  async releasePartition(topicId: string, partition: number): Promise<void> {
    const k = partitionKey(topicId, partition);
    const log = this.o.logs.get(k);
    if (!log) return;
    log.released = true;
    if (log.nextOffset > log.highWatermark) {
      this.o.flusher().flushNow();
      await log.waitDurable(log.nextOffset - 1).catch(() => {});
    }
    await this.o.manifests.serialise(async () => {
      if (this.o.logs.get(k) !== log) return;
      this.o.logs.delete(k);
      this.o.manifests.forget(k);
      this.o.garbage.releaseLocal(log);
    });
  }

  /** Cluster mode: the partition was taken away (this broker was presumed dead): unflushed appends fail. */
  drop(topicId: string, partition: number): void {
    const k = partitionKey(topicId, partition);
    const log = this.o.logs.get(k);
    if (!log) return;
    log.released = true;
    this.o.logs.delete(k);
    this.o.manifests.forget(k);
    log.abandonUnflushed(new Error(`partition ${log.topicName}-${partition} is no longer led by this broker`));
    this.o.garbage.releaseLocal(log);
  }

  /** Partitions loaded here. */
  held(): { topicId: string; partition: number }[] {
    return [...this.o.logs.values()].map((l) => ({ topicId: l.topicId, partition: l.partition }));
  }
}
