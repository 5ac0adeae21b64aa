// The partitions this broker leads, as one surface over the modules that do the work: recovery from partition
// manifests (segments) and the WAL objects named in metadata (recovery.ts; in cluster mode per partition as it
// is assigned, assignments.ts), appends through the flusher, reads through the L1 segment cache (and, for
// segments, the L2 index cache) with read-ahead (reads.ts), segment compaction (compactor.ts), retention,
// DeleteRecords and topic deletion (log-start.ts).
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
import { brokerKey, nodeWalKey } from '../metadata/layout.ts';
import type { BrokerRecord, TopicRecord } from '../metadata/layout.ts';
import type { Compare, KeyValue, MetadataStore } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import { IndexCache } from '../storage/index-cache.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { SegmentCache } from '../storage/segment-cache.ts';
import { Compactor, defaultCompactionSettings } from './compactor.ts';
import type { CompactionHost, CompactionSettings } from './compactor.ts';
import { Flusher } from './flusher.ts';
import { LogCleaner } from './log-cleaner.ts';
import type { CleanerHost, CleanerSettings, CleaningPolicy } from './log-cleaner.ts';
import type { ProducerStateManager } from './producer-state.ts';
import type { FlusherOptions } from './flusher.ts';
import { ManifestWriter, partitionKey } from './manifests.ts';
import type { PartitionLog } from './partition-log.ts';
import type { Extent } from './partition-log.ts';
import { LogReads } from './reads.ts';
import { readRecoveryKeys, recoverManifests, recoverWal, trackClusterWal } from './recovery.ts';
import type { RecoveredManifests } from './recovery.ts';
import { LogStarts } from './log-start.ts';
import { Assignments } from './assignments.ts';
import { PartitionLogs } from './partition-logs.ts';
import { LogGarbage } from './wal-gc.ts';
import { WalIndexWarmer } from './wal-index-warmer.ts';
import { walIndexWarmMaxInflightCount, walIndexWarmMaxQueuedCount } from '../limits.ts';
import { configDefaults } from '../config.ts';

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
  /**
   * The log cleaner of compacted topics (log-cleaner.ts): its settings, a topic's cleaning policy, and the
   * partition's producer state (rebuilt if needed); it starts with startCompaction(). None: no cleaning.
   */
  cleaner?: {
    settings: CleanerSettings;
    policyOf: (topic: TopicRecord) => CleaningPolicy;
    producerState: (log: PartitionLog) => Promise<ProducerStateManager | null>;
  };
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

export class LogManager {
  private readonly o: LogManagerOptions;
  private readonly logs: PartitionLogs;
  private readonly assignments: Assignments;
  private readonly manifests: ManifestWriter;
  private readonly garbage: LogGarbage;
  private readonly reads: LogReads;
  private readonly logStarts: LogStarts;
  readonly cache: SegmentCache;
  readonly indexCache: IndexCache;
  readonly compactor: Compactor;
  /** The log cleaner of compacted topics, when configured. */
  readonly cleaner: LogCleaner | null;
  readonly incarnation = randomBytes(6).toString('hex');
  readonly stats: LogManagerStats = { walObjectsDeleted: 0, segmentsDeleted: 0, manifestCommits: 0, manifestsRefused: 0 };
  private brokerRecordText = '';
  private flusherInstance: Flusher | null = null;
  private fencedError: Error | null = null;
  /** Cluster mode: other brokers' WAL indexes read as their objects are committed (wal-index-warmer.ts). */
  walIndexWarmer: WalIndexWarmer | null = null;
  /** Set when shutdown's deadline passes: metadata retries stop. */
  private aborted = false;

  constructor(options: LogManagerOptions) {
    this.o = options;
    this.cache = new SegmentCache(options.objectStore, options.cacheSegmentBytes, options.prefetchMaxInflightBytes);
    this.indexCache = new IndexCache(options.objectStore, options.cacheIndexBytes ?? configDefaults.cacheIndexBytes);
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
    this.logs = new PartitionLogs(this.garbage);
    this.logStarts = new LogStarts({
      logs: this.logs,
      manifests: this.manifests,
      garbage: this.garbage,
      indexCache: this.indexCache,
      metadata: options.metadata,
      topics: options.topics,
      retentionOf: options.retentionOf,
    });
    this.assignments = new Assignments({
      ...options,
      logs: this.logs,
      manifests: this.manifests,
      garbage: this.garbage,
      indexCache: this.indexCache,
      flusher: () => this.flusher,
    });
    this.compactor = new Compactor(this.compactionHost(), options.compaction);
    this.cleaner = options.cleaner ? new LogCleaner(this.cleanerHost(options.cleaner), options.cleaner.settings) : null;
    // A segment read window (one L1 cache entry): the read-ahead size, at least one index interval.
    const windowBytes = Math.max(options.readaheadBytes, this.compactor.settings.indexIntervalBytes);
    this.reads = new LogReads(this.cache, this.indexCache, windowBytes, options.readaheadBytes);
  }

  /** What the compactor needs from the log manager. */
  private compactionHost(): CompactionHost {
    return {
      objectStore: this.o.objectStore,
      cache: this.cache,
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      logger: this.o.logger,
      partitions: () => [...this.logs.values()],
      walCreatedAtMs: (objectKey) => this.garbage.walCreatedAtMs(objectKey),
      fenced: () => this.fencedError,
      commitCompaction: (parts) => this.logStarts.commitCompaction(parts),
    };
  }

  /** What the log cleaner needs from the log manager. */
  private cleanerHost(c: NonNullable<LogManagerOptions['cleaner']>): CleanerHost {
    return {
      objectStore: this.o.objectStore,
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      logger: this.o.logger,
      partitions: () => [...this.logs.values()],
      topic: (log) => this.o.topics.byId(log.topicId),
      policy: c.policyOf,
      producerState: c.producerState,
      fenced: () => this.fencedError,
      commitCleaning: (part) => this.logStarts.commitCleaning(part),
    };
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
        const log = this.logs.create(topic, p, extents, recovered.logStarts.get(k) ?? 0);
        log.producerSnapshot = recovered.producerSnapshots.get(k) ?? null;
        log.cleanedEnd = recovered.cleanedEnds.get(k) ?? 0;
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
      maxQueued: walIndexWarmMaxQueuedCount,
      concurrency: walIndexWarmMaxInflightCount,
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

  // ---- cluster mode (assignments.ts) ----

  /** Loads partitions this broker has just been given, at their new leader epochs (Assignments.acquire). */
  acquire(parts: { topicId: string; partition: number; epoch: number }[]): Promise<void> {
    return this.assignments.acquire(parts);
  }

  /** Hands a partition over once everything appended to it is durable (Assignments.releasePartition). */
  releasePartition(topicId: string, partition: number): Promise<void> {
    return this.assignments.releasePartition(topicId, partition);
  }

  /** The partition was taken away (this broker was presumed dead): unflushed appends fail. */
  drop(topicId: string, partition: number): void {
    this.assignments.drop(topicId, partition);
  }

  /** Partitions loaded here. */
  held(): { topicId: string; partition: number }[] {
    return this.assignments.held();
  }

  /**
   * Cluster mode, run by the controller: deletes WAL objects every chunk of which is dead, as the committed
   * manifests say; objects younger than `minAgeMs` are left alone (LogGarbage.collectWalGlobally).
   */
  collectWalGlobally(minAgeMs: number): Promise<number> {
    return this.garbage.collectWalGlobally(minAgeMs);
  }

  /** The orphan sweep, by any broker: segment objects no manifest has named for `minAgeMs` (LogGarbage.collectOrphanSegments). */
  collectOrphanSegments(minAgeMs: number, nowMs?: number): Promise<number> {
    return this.garbage.collectOrphanSegments(minAgeMs, nowMs);
  }

  /** The compares that prove this broker still holds its fencing token. */
  fence(): Compare[] {
    const token: Compare = { key: brokerKey(this.o.nodeId), target: 'value', op: '=', value: this.brokerRecordText };
    return this.o.cluster ? [token, ...this.o.cluster.extraFence()] : [token];
  }

  /** Starts background compaction (every compaction interval). */
  startCompaction(): void {
    this.compactor.start();
    this.cleaner?.start();
  }

  /** Existing partition logs for a topic's current partition count (new partitions get empty logs). */
  ensurePartitions(topic: TopicRecord): void {
    if (this.o.cluster) return; // partitions load when assigned
    for (let p = 0; p < topic.partitions; p++) {
      if (!this.logs.has(partitionKey(topic.id, p))) this.logs.create(topic, p, [], 0);
    }
  }

  partition(topicId: string, partition: number): PartitionLog | undefined {
    return this.logs.get(partitionKey(topicId, partition));
  }

  onHighWatermark(listener: (log: PartitionLog) => void): () => void {
    return this.logs.onHighWatermark(listener);
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

  // ---- segments and log starts through manifest writes (log-start.ts) ----

  /** DeleteRecords: moves the log start offset durably, then drops what lies wholly below it. */
  deleteRecordsBefore(log: PartitionLog, offset: number): Promise<number> {
    return this.logStarts.deleteRecordsBefore(log, offset);
  }

  /** A deleted topic's logs go; its share of WAL objects is released, its segments and manifests deleted. */
  dropTopic(topic: TopicRecord): Promise<void> {
    return this.logStarts.dropTopic(topic);
  }

  /** Time and size retention over every partition; the log start offset moves to the first kept extent. */
  enforceRetention(nowMs: number): Promise<void> {
    return this.logStarts.enforceRetention(nowMs);
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
      await Promise.all([this.compactor.stop(deadlineMs), this.cleaner?.stop(deadlineMs)]);
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
