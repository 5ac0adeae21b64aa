// The partitions this broker leads: recovery from partition manifests (segments) and the WAL objects named in
// metadata (recovery.ts), appends through the flusher, reads through the L1 segment cache (and, for segments,
// the L2 index cache) with read-ahead (reads.ts), segment compaction, retention, DeleteRecords and topic
// deletion.
//
// WAL objects are shared by many partitions, so each is reference-counted by live extents and deleted (its
// /wal/ key, then the object) when none is left (wal-gc.ts). A segment object belongs to one partition and is
// named by its manifest (/partitions/<topicId>/<partition>); it is deleted once a committed manifest no longer
// names it. Every manifest write — compaction, retention, DeleteRecords — runs through one chain
// (ManifestWriter.serialise, manifests.ts), guarded by the fencing token and the manifest's modRevision, and is
// applied in memory only once committed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { brokerKey, deletedTopicPrefix, logStartPrefix, nodeWalKey, partitionManifestPrefix, walPrefix } from '../metadata/layout.ts';
import type { BrokerRecord, TopicRecord, WalRecord } from '../metadata/layout.ts';
import type { Compare, KeyValue, MetadataStore } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import { IndexCache } from '../storage/index-cache.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { SegmentCache } from '../storage/segment-cache.ts';
import { Compactor, defaultCompactionSettings, mapBounded } from './compactor.ts';
import type { CommitOutcome, CompactedPartition, CompactionHost, CompactionSettings } from './compactor.ts';
import { Flusher } from './flusher.ts';
import type { FlusherOptions } from './flusher.ts';
import { ManifestWriter, partitionKey } from './manifests.ts';
import type { ManifestUpdate } from './manifests.ts';
import { PartitionLog } from './partition-log.ts';
import type { EpochStart, Extent } from './partition-log.ts';
import { LogReads } from './reads.ts';
import {
  readAssignedManifests,
  readRecoveryKeys,
  readWalIndex,
  recoverManifests,
  recoverWal,
  trackClusterWal,
  walExtentsOf,
} from './recovery.ts';
import type { AssignedManifest, RecoveredManifests } from './recovery.ts';
import { retainedLogStart } from './retention.ts';
import { LogGarbage } from './wal-gc.ts';
import { WalIndexWarmer } from './wal-index-warmer.ts';

export interface LogManagerOptions {
  metadata: MetadataStore;
  objectStore: ObjectStore;
  topics: TopicRegistry;
  nodeId: number;
  host: string;
  port: number;
  flushSizeBytes: number;
  flushLingerMs: number;
  maxConcurrentFlushes: number;
  cacheSegmentBytes: number;
  /** L2 cache of parsed segment and WAL indexes; default 64 MiB. */
  cacheIndexBytes?: number;
  readaheadBytes: number;
  /** Bytes loaded ahead of need at once (SegmentCache); default 64 MiB. */
  prefetchMaxInflightBytes?: number;
  recoveryConcurrency: number;
  logger: Logger;
  /** Retention settings of a topic (its overrides over the broker defaults). */
  retentionOf: (topic: TopicRecord) => { retentionMs: number; retentionBytes: number; deleteEnabled: boolean };
  /** Compaction settings over defaultCompactionSettings; the background pass starts with startCompaction(). */
  compaction?: Partial<CompactionSettings>;
  /**
   * Cluster mode: partitions are loaded only when this broker is given them (acquire) and dropped when handed
   * over (release); flushes commit under /wal/n<nodeId>/; `extraFence` (membership) guards every commit; WAL
   * objects are garbage-collected by the controller's global pass, not by local reference counts.
   */
  cluster?: { extraFence: () => Compare[] };
}

export interface LogManagerStats {
  /** WAL objects deleted (with their /wal/ keys) because nothing in them was live any more. */
  walObjectsDeleted: number;
  /** Segment objects deleted (retention, DeleteRecords, topic deletion, merged into bigger segments). */
  segmentsDeleted: number;
  /** Manifest transactions committed. */
  manifestCommits: number;
  /** Manifest updates refused (fenced, or the key changed under this broker). */
  manifestsRefused: number;
}

/** WAL objects of other brokers waiting for their index to be read ahead of a failover, at most. */
const walIndexWarmMaxQueued = 10_000;
/** Those index reads in flight, at most. */
const walIndexWarmConcurrency = 4;

/** A partition given to this broker (acquire). */
interface Assignment {
  topic: TopicRecord;
  partition: number;
  epoch: number;
}

export class LogManager {
  private readonly o: LogManagerOptions;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly manifests: ManifestWriter;
  private readonly garbage: LogGarbage;
  private readonly reads: LogReads;
  readonly cache: SegmentCache;
  readonly indexCache: IndexCache;
  readonly compactor: Compactor;
  readonly incarnation = randomBytes(6).toString('hex');
  readonly stats: LogManagerStats = { walObjectsDeleted: 0, segmentsDeleted: 0, manifestCommits: 0, manifestsRefused: 0 };
  private brokerRecordText = '';
  private flusherInstance: Flusher | null = null;
  private readonly hwListeners = new Set<(log: PartitionLog) => void>();
  private fencedError: Error | null = null;
  /** Cluster mode: other brokers' WAL indexes read as their objects are committed (wal-index-warmer.ts). */
  walIndexWarmer: WalIndexWarmer | null = null;
  /** Set when shutdown's deadline passes: metadata retries stop. */
  private aborted = false;

  constructor(options: LogManagerOptions) {
    this.o = options;
    this.cache = new SegmentCache(options.objectStore, options.cacheSegmentBytes, options.prefetchMaxInflightBytes);
    this.indexCache = new IndexCache(options.objectStore, options.cacheIndexBytes ?? 64 * 1024 * 1024);
    const clustered = options.cluster !== undefined;
    this.manifests = new ManifestWriter({
      metadata: options.metadata,
      logger: options.logger,
      fence: () => this.fence(),
      clustered,
      isAborted: () => this.aborted,
      stats: this.stats,
    });
    this.garbage = new LogGarbage({
      metadata: options.metadata,
      objectStore: options.objectStore,
      topics: options.topics,
      cache: this.cache,
      indexCache: this.indexCache,
      logger: options.logger,
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      recoveryConcurrency: options.recoveryConcurrency,
      clustered,
      fence: () => this.fence(),
      stats: this.stats,
    });
    const host: CompactionHost = {
      objectStore: options.objectStore,
      cache: this.cache,
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      logger: options.logger,
      partitions: () => [...this.logs.values()],
      walCreatedAtMs: (objectKey) => this.garbage.walCreatedAtMs(objectKey),
      fenced: () => this.fencedError,
      commitCompaction: (parts) => this.commitCompaction(parts),
    };
    this.compactor = new Compactor(host, options.compaction);
    // A segment read window (one L1 cache entry): the read-ahead size, at least one index interval.
    const windowBytes = Math.max(options.readaheadBytes, this.compactor.settings.indexIntervalBytes);
    this.reads = new LogReads(this.cache, this.indexCache, windowBytes, options.readaheadBytes);
  }

  get flusher(): Flusher {
    assert.ok(this.flusherInstance, 'log manager started');
    return this.flusherInstance;
  }

  /** Non-null once this broker has lost the right to acknowledge writes. */
  get fenced(): Error | null {
    return this.fencedError;
  }

  async start(): Promise<void> {
    await this.takeFencingToken();
    const started = Date.now();
    const getsBefore = this.indexCache.stats.gets;
    const keys = await readRecoveryKeys(this.o.metadata);
    const recovered = recoverManifests(keys, this.o.topics, this.manifests, this.o.logger);
    if (this.o.cluster) {
      await this.startClustered(keys.walKvs, recovered, started);
      return;
    }
    const wal = await recoverWal(keys.walKvs, recovered.segmentsByPartition, {
      ...this.o,
      indexCache: this.indexCache,
      garbage: this.garbage,
    });
    this.createRecoveredLogs(recovered, wal.extents);
    this.flusherInstance = this.createFlusher(wal.maxSequence + 1, (objectKey, walKey, record) =>
      this.garbage.register(objectKey, walKey, record.createdAtMs),
    );
    const recoveryGets = this.indexCache.stats.gets - getsBefore;
    const recoveredMs = Date.now() - started;
    await this.garbage.releaseDeletedTopics(recovered.deletedTopics, recovered.deletedTopicSegments);
    await this.garbage.collect();
    const orphans = await this.garbage.deleteOrphanObjects(recovered.referenced);
    this.o.logger.info(
      {
        segments: recovered.segmentCount,
        walObjects: wal.walObjects,
        walChunksInSegments: wal.walChunksInSegments,
        recoveryGets,
        orphansDeleted: orphans,
        partitions: this.logs.size,
        ms: recoveredMs,
      },
      'log recovered',
    );
  }

  /** Takes the fencing token first: from here on, commits of any older incarnation of this node fail. */
  private async takeFencingToken(): Promise<void> {
    const record: BrokerRecord = {
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      host: this.o.host,
      port: this.o.port,
      startedAtMs: Date.now(),
    };
    this.brokerRecordText = JSON.stringify(record);
    await this.o.metadata.txn([], [{ type: 'put', key: brokerKey(this.o.nodeId), value: this.brokerRecordText }]);
  }

  /** Every partition of every topic, from its segments and WAL chunks. */
  private createRecoveredLogs(recovered: RecoveredManifests, walExtents: Map<string, Extent[]>): void {
    for (const topic of this.o.topics.all()) {
      for (let p = 0; p < topic.partitions; p++) {
        const k = partitionKey(topic.id, p);
        const extents = [...(recovered.segmentsByPartition.get(k) ?? []), ...(walExtents.get(k) ?? [])];
        const log = this.createLog(topic, p, extents, recovered.logStarts.get(k) ?? 0);
        log.producerSnapshot = recovered.producerSnapshots.get(k) ?? null;
      }
    }
  }

  private createFlusher(
    firstSequence: number,
    onCommitted: FlusherOptions['onCommitted'],
    walKeyOf?: (sequence: number) => string,
  ): Flusher {
    return new Flusher({
      objectStore: this.o.objectStore,
      metadata: this.o.metadata,
      cache: this.cache,
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      fence: () => this.fence(),
      flushSizeBytes: this.o.flushSizeBytes,
      flushLingerMs: this.o.flushLingerMs,
      maxConcurrentFlushes: this.o.maxConcurrentFlushes,
      firstSequence,
      logger: this.o.logger,
      ...(walKeyOf === undefined ? {} : { walKeyOf }),
      onFenced: (e) => (this.fencedError = e),
      onCommitted,
    });
  }

  /**
   * Cluster mode: no partition is loaded until this broker is given it. Every WAL key is registered (so orphans
   * of this node's earlier incarnations are told apart); the flusher continues this node's own sequence.
   */
  private async startClustered(walKvs: KeyValue[], recovered: RecoveredManifests, started: number): Promise<void> {
    // Follow other brokers' WAL objects from here on (the watch starts at the next revision; a key committed
    // between the read at start and this revision is read at failover instead, as before warming).
    this.walIndexWarmer = new WalIndexWarmer({
      metadata: this.o.metadata,
      indexCache: this.indexCache,
      nodeId: this.o.nodeId,
      logger: this.o.logger,
      maxQueued: walIndexWarmMaxQueued,
      concurrency: walIndexWarmConcurrency,
    });
    this.walIndexWarmer.start(walKvs, (await this.o.metadata.revision()) + 1);
    const maxSequence = trackClusterWal(walKvs, this.o.nodeId, this.garbage);
    this.flusherInstance = this.createFlusher(
      maxSequence + 1,
      (objectKey, walKey, wal, entries) => {
        this.garbage.register(objectKey, walKey, wal.createdAtMs);
        // Kept for a failover in which this broker takes over another's partitions (wal-index-warmer.ts).
        this.indexCache.insertWal(objectKey, entries);
      },
      (sequence) => nodeWalKey(this.o.nodeId, sequence),
    );
    await this.garbage.releaseDeletedTopics(recovered.deletedTopics, recovered.deletedTopicSegments);
    const orphans = await this.garbage.deleteOrphanObjects(recovered.referenced);
    this.o.logger.info(
      { walObjects: walKvs.length, orphansDeleted: orphans, ms: Date.now() - started },
      'log started in cluster mode: partitions load as they are assigned',
    );
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
    const indexMissesBefore = this.indexCache.stats.misses;
    const manifests = await readAssignedManifests(this.o.metadata, wanted, this.o.recoveryConcurrency);
    const walKvs = await this.o.metadata.getPrefix(walPrefix);
    const manifestsMs = Date.now() - started;
    const indexes = await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      this.garbage.register(wal.objectKey, kv.key, wal.createdAtMs);
      return readWalIndex(this.indexCache, kv, wal); // entries null: collected meanwhile, every chunk in it was dead
    });
    const { extents: walExtents } = walExtentsOf(
      indexes,
      (k) => manifests.get(k)?.segments,
      (_topicId, k) => wanted.has(k),
    );
    const indexesMs = Date.now() - started - manifestsMs;
    const walIndexReads = this.indexCache.stats.misses - indexMissesBefore;
    const loaded = this.buildAssigned(wanted, manifests, walExtents);
    // The new epochs' starts, durably, before any append at them.
    const outcomes = await this.manifests.serialise(() =>
      this.manifests.commit(loaded.map((log) => this.manifests.update(log, log.extents, log.logStartOffset))),
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
      this.manifests.stateOf(k).revision = kv?.modRevision ?? 0;
      const extents = [...segments, ...(walExtents.get(k) ?? [])];
      const log = this.buildLog(w.topic, w.partition, extents, manifest?.logStartOffset ?? 0, w.epoch, manifest?.epochs);
      log.producerSnapshot = manifest?.producerState ?? null; // producer-state.ts: kept by every manifest write
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
      this.installLog(log);
    }
  }

  /**
   * Cluster mode: stops appends to a partition handed to another broker, waits until everything appended is
   * durable and every manifest write under way has finished, then drops it.
   */
  async releasePartition(topicId: string, partition: number): Promise<void> {
    const k = partitionKey(topicId, partition);
    const log = this.logs.get(k);
    if (!log) return;
    log.released = true;
    if (log.nextOffset > log.highWatermark) {
      this.flusher.flushNow();
      await log.waitDurable(log.nextOffset - 1).catch(() => {});
    }
    await this.manifests.serialise(async () => {
      if (this.logs.get(k) !== log) return;
      this.logs.delete(k);
      this.manifests.forget(k);
      this.garbage.releaseLocal(log);
    });
  }

  /** Cluster mode: the partition was taken away (this broker was presumed dead): unflushed appends fail. */
  drop(topicId: string, partition: number): void {
    const k = partitionKey(topicId, partition);
    const log = this.logs.get(k);
    if (!log) return;
    log.released = true;
    this.logs.delete(k);
    this.manifests.forget(k);
    log.abandonUnflushed(new Error(`partition ${log.topicName}-${partition} is no longer led by this broker`));
    this.garbage.releaseLocal(log);
  }

  /** Partitions loaded here. */
  held(): { topicId: string; partition: number }[] {
    return [...this.logs.values()].map((l) => ({ topicId: l.topicId, partition: l.partition }));
  }

  /**
   * Cluster mode, run by the controller: deletes WAL objects every chunk of which is dead, as the committed
   * manifests say; objects younger than `minAgeMs` are left alone (LogGarbage.collectWalGlobally).
   */
  collectWalGlobally(minAgeMs: number): Promise<number> {
    return this.garbage.collectWalGlobally(minAgeMs);
  }

  /** The compares that prove this broker still holds its fencing token. */
  fence(): Compare[] {
    const token: Compare = { key: brokerKey(this.o.nodeId), target: 'value', op: '=', value: this.brokerRecordText };
    return this.o.cluster ? [token, ...this.o.cluster.extraFence()] : [token];
  }

  /** Starts background compaction (every compaction interval). */
  startCompaction(): void {
    this.compactor.start();
  }

  private createLog(topic: TopicRecord, partition: number, extents: Extent[], logStartOffset: number): PartitionLog {
    const log = this.buildLog(topic, partition, extents, logStartOffset, 0, undefined);
    this.installLog(log);
    return log;
  }

  private installLog(log: PartitionLog): void {
    for (const e of log.extents) if (!e.segment) this.garbage.ref(e.objectKey);
    this.logs.set(partitionKey(log.topicId, log.partition), log);
  }

  private buildLog(
    topic: TopicRecord,
    partition: number,
    extents: Extent[],
    logStartOffset: number,
    leaderEpoch: number,
    epochHistory: readonly EpochStart[] | undefined,
  ): PartitionLog {
    return new PartitionLog({
      topicId: topic.id,
      topicName: topic.name,
      partition,
      leaderEpoch,
      logStartOffset,
      epochHistory,
      // Extents wholly below the log start are dead: never part of the log, never referenced.
      extents: extents.filter((e) => e.lastOffset >= logStartOffset),
      onHighWatermark: (l) => {
        const last = l.extents[l.extents.length - 1];
        if (last) this.garbage.ref(last.objectKey);
        for (const listener of this.hwListeners) listener(l);
      },
    });
  }

  /** Existing partition logs for a topic's current partition count (new partitions get empty logs). */
  ensurePartitions(topic: TopicRecord): void {
    if (this.o.cluster) return; // partitions load when assigned
    for (let p = 0; p < topic.partitions; p++) {
      if (!this.logs.has(partitionKey(topic.id, p))) this.createLog(topic, p, [], 0);
    }
  }

  partition(topicId: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topicId, partition));
  }

  onHighWatermark(listener: (log: PartitionLog) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  /**
   * Appends validated, offset-less batches; resolves when they are durable. `patch` assigns offsets in place.
   */
  append(
    log: PartitionLog,
    records: Buffer,
    batchCount: number,
    logAppendTimeMs: number | null,
    patch: (records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null) => void,
  ): { baseOffset: number; durable: Promise<void> } {
    if (this.fencedError) throw this.fencedError;
    const { baseOffset, lastOffset } = log.append(records, batchCount, logAppendTimeMs, patch);
    const durable = log.waitDurable(lastOffset);
    this.flusher.appended(log, records.length);
    return { baseOffset, durable };
  }

  // ---- reads (reads.ts) ----

  /**
   * Whole batches from `fetchOffset` on, below `maxOffsetExclusive`, up to `maxBytes` — exceeded only by the
   * first batch when `minOneBatch` (Kafka's rule that a fetch always makes progress). null when none.
   */
  read(log: PartitionLog, fetchOffset: number, maxBytes: number, minOneBatch: boolean, maxOffsetExclusive: number): Promise<Buffer | null> {
    return this.reads.read(log, fetchOffset, maxBytes, minOneBatch, maxOffsetExclusive);
  }

  /** As read, as the slices of the chunks and windows that hold the batches, in order, not joined (Fetch). */
  readParts(
    log: PartitionLog,
    fetchOffset: number,
    maxBytes: number,
    minOneBatch: boolean,
    maxOffsetExclusive: number,
  ): Promise<Buffer[] | null> {
    return this.reads.readParts(log, fetchOffset, maxBytes, minOneBatch, maxOffsetExclusive);
  }

  /** Starts loading, without waiting, the ranges that reads from `offset` on will need (read-ahead). */
  prefetch(log: PartitionLog, offset: number, bytes: number, endOffset = log.highWatermark): void {
    this.reads.prefetch(log, offset, bytes, endOffset);
  }

  /** prefetch for several partitions at once, adjacent ranges of one object read with one GET. */
  prefetchMany(wants: readonly { log: PartitionLog; offset: number; bytes: number; endOffset: number }[]): void {
    this.reads.prefetchMany(wants);
  }

  /** The first batch at or above the log start whose max timestamp is >= `timestampMs`, with its data. */
  findBatchByTimestamp(log: PartitionLog, timestampMs: number): Promise<{ batch: Buffer } | null> {
    return this.reads.findBatchByTimestamp(log, timestampMs);
  }

  /** The batch holding `offset` (ListOffsets MAX_TIMESTAMP refinement). */
  batchAt(log: PartitionLog, offset: number): Promise<Buffer | null> {
    return this.reads.batchAt(log, offset);
  }

  // ---- manifest writes (manifests.ts): compaction, DeleteRecords, topic deletion, retention ----

  /** Compaction's commit: the partitions' new manifests, then their runs replaced by the new segments. */
  private commitCompaction(parts: CompactedPartition[]): Promise<CommitOutcome[]> {
    return this.manifests.serialise(async () => {
      const outcomes: CommitOutcome[] = parts.map(() => 'refused');
      const updates: ManifestUpdate[] = [];
      const updateOf: number[] = [];
      for (let i = 0; i < parts.length; i++) {
        const after = this.afterCompaction(parts[i]!);
        if (after === null) continue;
        updates.push(this.manifests.update(parts[i]!.log, after, parts[i]!.log.logStartOffset, parts[i]!.producerSnapshot));
        updateOf.push(i);
      }
      const results = await this.manifests.commit(updates);
      for (let u = 0; u < updates.length; u++) {
        const i = updateOf[u]!;
        outcomes[i] = results[u]!;
        if (results[u] !== 'committed') continue;
        const { log, segments } = parts[i]!;
        if (parts[i]!.producerSnapshot) log.producerSnapshot = parts[i]!.producerSnapshot;
        for (const s of segments) {
          log.replaceRun(s.run, s.extent);
          this.indexCache.insertSegment(s.extent.objectKey, s.index);
          this.garbage.release(s.run);
        }
      }
      await this.garbage.collectLogged();
      return outcomes;
    });
  }

  /** The partition's extents with its compacted runs replaced by their segments; null when its work is void. */
  private afterCompaction({ log, segments }: CompactedPartition): Extent[] | null {
    // Topic deleted, or retention dropped part of a run since it was planned: this partition's work is void.
    if (this.logs.get(partitionKey(log.topicId, log.partition)) !== log) return null;
    const after = [...log.extents];
    for (const s of segments) {
      const at = after.indexOf(s.run[0]!);
      if (at < 0 || s.run.some((e, k) => after[at + k] !== e)) return null;
      after.splice(at, s.run.length, s.extent);
    }
    return after;
  }

  /** DeleteRecords: moves the log start offset durably, then drops what lies wholly below it. */
  deleteRecordsBefore(log: PartitionLog, offset: number): Promise<number> {
    return this.manifests.serialise(() => this.deleteRecordsBeforeNow(log, offset));
  }

  private async deleteRecordsBeforeNow(log: PartitionLog, offset: number): Promise<number> {
    assert.ok(offset <= log.highWatermark && offset >= 0);
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const [outcome] = await this.manifests.commit([this.manifests.update(log, log.extents, offset)]);
    if (outcome !== 'committed') throw new Error('this broker no longer holds its fencing token');
    this.garbage.release(log.advanceLogStart(offset));
    await this.garbage.collectLogged();
    return log.logStartOffset;
  }

  /** A deleted topic's logs go; its share of WAL objects is released, its segments and manifests deleted. */
  async dropTopic(topic: TopicRecord): Promise<void> {
    const dropped: PartitionLog[] = [];
    for (let p = 0; p < topic.partitions; p++) {
      const k = partitionKey(topic.id, p);
      const log = this.logs.get(k);
      if (!log) continue;
      this.logs.delete(k);
      log.abandonUnflushed(new Error(`topic ${topic.name} was deleted`));
      dropped.push(log);
    }
    // After any compaction commit or log start move of these partitions under way (they may still change them).
    await this.manifests.serialise(async () => {
      for (const log of dropped) {
        this.garbage.release(log.extents);
        this.manifests.forget(partitionKey(log.topicId, log.partition));
      }
      await this.o.metadata.txn(
        [],
        [
          { type: 'deletePrefix', prefix: `${partitionManifestPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${logStartPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${deletedTopicPrefix}${topic.id}` },
        ],
      );
      await this.garbage.collectLogged();
    });
  }

  /** Time and size retention over every partition; the log start offset moves to the first kept extent. */
  enforceRetention(nowMs: number): Promise<void> {
    return this.manifests.serialise(() => this.enforceRetentionNow(nowMs));
  }

  private async enforceRetentionNow(nowMs: number): Promise<void> {
    const updates: ManifestUpdate[] = [];
    const moved: { log: PartitionLog; offset: number }[] = [];
    for (const log of this.logs.values()) {
      const topic = this.o.topics.byId(log.topicId);
      if (!topic) continue;
      const { retentionMs, retentionBytes, deleteEnabled } = this.o.retentionOf(topic);
      if (!deleteEnabled) continue;
      const newStart = retainedLogStart(log, retentionMs, retentionBytes, nowMs);
      if (newStart > log.logStartOffset) {
        moved.push({ log, offset: newStart });
        updates.push(this.manifests.update(log, log.extents, newStart));
      }
    }
    if (updates.length === 0) return;
    const outcomes = await this.manifests.commit(updates);
    for (let i = 0; i < moved.length; i++) {
      if (outcomes[i] !== 'committed') continue;
      const { log, offset } = moved[i]!;
      this.garbage.release(log.advanceLogStart(offset));
    }
    await this.garbage.collectLogged();
  }

  /** Deletes what nothing live refers to, one collection at a time (LogGarbage.collect). */
  collectGarbage(): Promise<void> {
    return this.garbage.collect();
  }

  /**
   * Graceful shutdown: compaction stops (a pass under way gives up before committing), then every pending
   * append is flushed; at most `deadlineMs` in all, after which retries stop.
   */
  async close(deadlineMs: number): Promise<void> {
    this.walIndexWarmer?.stop();
    const deadline = Date.now() + deadlineMs;
    const timer = setTimeout(() => (this.aborted = true), deadlineMs);
    try {
      await this.compactor.stop(deadlineMs);
      if (this.flusherInstance) await this.flusherInstance.close(Math.max(0, deadline - Date.now()));
      let wait: NodeJS.Timeout | undefined;
      await Promise.race([this.manifests.idle, new Promise((resolve) => (wait = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(wait);
    } finally {
      clearTimeout(timer);
    }
  }
}

export { defaultCompactionSettings };
