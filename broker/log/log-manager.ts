// The partitions this broker leads: recovery from partition manifests (segments) and the WAL objects named in
// metadata, appends through the flusher, reads through the L1 segment cache (and, for segments, the L2 index
// cache) with read-ahead, segment compaction, retention, DeleteRecords and topic deletion.
//
// WAL objects are shared by many partitions, so each is reference-counted by live extents and deleted (its
// /wal/ key, then the object) when none is left. A segment object belongs to one partition and is named by its
// manifest (/partitions/<topicId>/<partition>); it is deleted once a committed manifest no longer names it.
// Every manifest write — compaction, retention, DeleteRecords — runs through one chain (serialiseLogStart),
// guarded by the fencing token and the manifest's modRevision, and is applied in memory only once committed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { readBaseOffset, readBatchLength, readLastOffsetDelta, readMaxTimestampMs } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import {
  brokerKey,
  deletedTopicPrefix,
  logStartKey,
  logStartPrefix,
  nodeWalKey,
  nodeWalPrefix,
  parsePartitionManifestKey,
  parseSegmentObjectKey,
  partitionManifestKey,
  partitionManifestPrefix,
  segmentObjectPrefix,
  topicPrefix,
  walPrefix,
  walSequenceOf,
} from '../metadata/layout.ts';
import type {
  BrokerRecord,
  LogStartRecord,
  PartitionManifest,
  ProducerSnapshotRecord,
  SegmentRecord,
  TopicRecord,
  WalRecord,
} from '../metadata/layout.ts';
import { InvalidMetadataRequestError } from '../metadata/errors.ts';
import type { Compare, KeyValue, MetadataStore, Op } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import { IndexCache } from '../storage/index-cache.ts';
import { ObjectNotFoundError } from '../storage/object-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { SegmentCache } from '../storage/segment-cache.ts';
import type { WalIndexEntry } from '../storage/wal-object.ts';
import { Compactor, defaultCompactionSettings, mapBounded } from './compactor.ts';
import type { CommitOutcome, CompactedPartition, CompactionHost, CompactionSettings } from './compactor.ts';
import { Flusher } from './flusher.ts';
import { WalIndexWarmer } from './wal-index-warmer.ts';
import { PartitionLog } from './partition-log.ts';
import type { EpochStart, Extent } from './partition-log.ts';
import { RetryAbortedError, retryForever } from './retry.ts';

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

interface ObjectRef {
  walKey: string;
  liveExtents: number;
  createdAtMs: number;
}

/** What this broker knows of a partition's manifest key. */
interface ManifestState {
  /** modRevision of the key as last read or written; 0 while it does not exist. */
  revision: number;
  /** A legacy /log-start/ key exists: the next manifest write deletes it. */
  legacyLogStart: boolean;
}

interface ManifestUpdate {
  key: string;
  log: PartitionLog;
  state: ManifestState;
  value: string;
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

/** Most operations in one metadata transaction (the store allows 128, compares included). */
const maxOpsPerTxn = 100;
/** Bytes of keys and values in one manifest transaction at most (the store allows 1.5 MiB). */
const maxTxnBytes = 1024 * 1024;

const metadataRetriable = (e: unknown) => !(e instanceof InvalidMetadataRequestError) && (e as Error).name !== 'MetadataStoreClosedError';

/** WAL objects of other brokers waiting for their index to be read ahead of a failover, at most. */
const walIndexWarmMaxQueued = 10_000;
/** Those index reads in flight, at most. */
const walIndexWarmConcurrency = 4;

export class LogManager {
  private readonly o: LogManagerOptions;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly objects = new Map<string, ObjectRef>();
  private readonly manifests = new Map<string, ManifestState>();
  /** Segment objects no committed manifest names any more, waiting for garbage collection. */
  private readonly deadSegments = new Set<string>();
  readonly cache: SegmentCache;
  readonly indexCache: IndexCache;
  readonly compactor: Compactor;
  readonly incarnation = randomBytes(6).toString('hex');
  readonly stats: LogManagerStats = { walObjectsDeleted: 0, segmentsDeleted: 0, manifestCommits: 0, manifestsRefused: 0 };
  /** Bytes of a segment read window (one L1 cache entry): the read-ahead size, at least one index interval. */
  private readonly windowBytes: number;
  private brokerRecordText = '';
  private flusherInstance: Flusher | null = null;
  private readonly hwListeners = new Set<(log: PartitionLog) => void>();
  private fencedError: Error | null = null;
  /** Cluster mode: other brokers' WAL indexes read as their objects are committed (wal-index-warmer.ts). */
  walIndexWarmer: WalIndexWarmer | null = null;
  /** Every manifest write (compaction, DeleteRecords, retention) and topic deletion: one at a time. */
  private logStartChain: Promise<unknown> = Promise.resolve();
  private gcChain: Promise<unknown> = Promise.resolve();
  /** Set when shutdown's deadline passes: metadata retries stop. */
  private aborted = false;

  constructor(options: LogManagerOptions) {
    this.o = options;
    this.cache = new SegmentCache(options.objectStore, options.cacheSegmentBytes, options.prefetchMaxInflightBytes);
    this.indexCache = new IndexCache(options.objectStore, options.cacheIndexBytes ?? 64 * 1024 * 1024);
    const host: CompactionHost = {
      objectStore: options.objectStore,
      cache: this.cache,
      nodeId: options.nodeId,
      incarnation: this.incarnation,
      logger: options.logger,
      partitions: () => [...this.logs.values()],
      walCreatedAtMs: (objectKey) => this.objects.get(objectKey)?.createdAtMs,
      fenced: () => this.fencedError,
      commitCompaction: (parts) => this.commitCompaction(parts),
    };
    this.compactor = new Compactor(host, options.compaction);
    this.windowBytes = Math.max(options.readaheadBytes, this.compactor.settings.indexIntervalBytes);
  }

  get flusher(): Flusher {
    assert.ok(this.flusherInstance, 'log manager started');
    return this.flusherInstance;
  }

  /** Non-null once this broker has lost the right to acknowledge writes. */
  get fenced(): Error | null {
    return this.fencedError;
  }

  private static key(topicId: string, partition: number): string {
    return `${topicId}:${partition}`;
  }

  async start(): Promise<void> {
    const { metadata, logger } = this.o;
    // Take the fencing token first: from here on, commits of any older incarnation of this node fail.
    const record: BrokerRecord = {
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      host: this.o.host,
      port: this.o.port,
      startedAtMs: Date.now(),
    };
    this.brokerRecordText = JSON.stringify(record);
    await metadata.txn([], [{ type: 'put', key: brokerKey(this.o.nodeId), value: this.brokerRecordText }]);

    const started = Date.now();
    const getsBefore = this.indexCache.stats.gets;
    const [manifestKvs, legacyKvs, deletedKvs, walKvs] = await Promise.all([
      metadata.getPrefix(partitionManifestPrefix),
      metadata.getPrefix(logStartPrefix),
      metadata.getPrefix(deletedTopicPrefix),
      metadata.getPrefix(walPrefix),
    ]);

    // 1. Manifests: segments and log start offsets.
    const segmentsByPartition = new Map<string, Extent[]>();
    const logStarts = new Map<string, number>();
    /** Producer-state snapshots of the manifests (producer-state.ts); state itself is rebuilt on first use. */
    const producerSnapshots = new Map<string, ProducerSnapshotRecord>();
    /** Every segment object a manifest names: never an orphan. */
    const referenced = new Set<string>();
    const deletedTopics = new Set(deletedKvs.map((kv) => kv.key.slice(deletedTopicPrefix.length)));
    const deletedTopicSegments = new Map<string, string[]>();
    let segmentCount = 0;
    for (const kv of manifestKvs) {
      const id = parsePartitionManifestKey(kv.key);
      if (!id) continue;
      const manifest = JSON.parse(kv.value) as PartitionManifest;
      for (const s of manifest.segments) referenced.add(s.objectKey);
      if (!this.o.topics.byId(id.topicId)) {
        if (deletedTopics.has(id.topicId)) {
          const list = deletedTopicSegments.get(id.topicId) ?? [];
          list.push(...manifest.segments.map((s) => s.objectKey));
          deletedTopicSegments.set(id.topicId, list);
        } else {
          logger.warn({ key: kv.key }, 'manifest of an unknown topic left alone');
        }
        continue;
      }
      const k = LogManager.key(id.topicId, id.partition);
      this.manifests.set(k, { revision: kv.modRevision, legacyLogStart: false });
      logStarts.set(k, manifest.logStartOffset);
      if (manifest.producerState) producerSnapshots.set(k, manifest.producerState);
      const segments = manifest.segments.map(
        (s): Extent => ({
          baseOffset: s.baseOffset,
          lastOffset: s.lastOffset,
          maxTimestamp: s.maxTimestamp,
          objectKey: s.objectKey,
          position: 0,
          lengthBytes: s.dataBytes,
          segment: true,
          objectSizeBytes: s.sizeBytes,
        }),
      );
      for (let i = 1; i < segments.length; i++) {
        assert.equal(segments[i]!.baseOffset, segments[i - 1]!.lastOffset + 1, `${kv.key}: segments are contiguous`);
      }
      segmentCount += segments.length;
      segmentsByPartition.set(k, segments);
    }
    for (const kv of legacyKvs) {
      const [topicId, partition] = kv.key.slice(logStartPrefix.length).split('/');
      const k = LogManager.key(topicId!, Number(partition));
      logStarts.set(k, Math.max(logStarts.get(k) ?? 0, (JSON.parse(kv.value) as LogStartRecord).logStartOffset));
      const state = this.manifests.get(k) ?? { revision: 0, legacyLogStart: false };
      state.legacyLogStart = true;
      this.manifests.set(k, state);
    }

    if (this.o.cluster) {
      await this.startClustered(walKvs, referenced, deletedTopics, deletedTopicSegments, started);
      return;
    }

    // 2. The WAL objects still named by /wal/ keys: chunks not already in a segment.
    const walExtents = new Map<string, Extent[]>();
    const indexes = await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      try {
        return { kv, wal, entries: await this.indexCache.wal(wal.objectKey, wal.sizeBytes) };
      } catch (err) {
        // Only garbage collection deletes WAL objects, and only when nothing in them is live; an older version
        // deleted the object before its key, so a crash could leave the key alone.
        if (!(err instanceof ObjectNotFoundError)) throw err;
        logger.warn({ key: kv.key, objectKey: wal.objectKey }, 'WAL key names a missing object; skipped');
        return { kv, wal, entries: null };
      }
    });
    let maxSequence = 0;
    let walObjects = 0;
    let walChunksInSegments = 0;
    for (const { kv, wal, entries } of indexes) {
      maxSequence = Math.max(maxSequence, walSequenceOf(kv.key));
      if (entries === null) continue;
      walObjects++;
      this.objects.set(wal.objectKey, { walKey: kv.key, liveExtents: 0, createdAtMs: wal.createdAtMs });
      for (const e of entries) {
        if (!this.o.topics.byId(e.topicId)) continue;
        const k = LogManager.key(e.topicId, e.partition);
        if (LogManager.coveredBySegments(segmentsByPartition.get(k), e, kv.key)) {
          walChunksInSegments++;
          continue;
        }
        let list = walExtents.get(k);
        if (!list) walExtents.set(k, (list = []));
        list.push({
          baseOffset: e.baseOffset,
          lastOffset: e.lastOffset,
          maxTimestamp: e.maxTimestamp,
          objectKey: wal.objectKey,
          position: e.position,
          lengthBytes: e.lengthBytes,
          segment: false,
          objectSizeBytes: wal.sizeBytes,
        });
      }
    }
    for (const topic of this.o.topics.all()) {
      for (let p = 0; p < topic.partitions; p++) {
        const k = LogManager.key(topic.id, p);
        const log = this.createLog(topic, p, [...(segmentsByPartition.get(k) ?? []), ...(walExtents.get(k) ?? [])], logStarts.get(k) ?? 0);
        log.producerSnapshot = producerSnapshots.get(k) ?? null;
      }
    }
    this.flusherInstance = new Flusher({
      objectStore: this.o.objectStore,
      metadata,
      cache: this.cache,
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      fence: () => this.fence(),
      flushSizeBytes: this.o.flushSizeBytes,
      flushLingerMs: this.o.flushLingerMs,
      maxConcurrentFlushes: this.o.maxConcurrentFlushes,
      firstSequence: maxSequence + 1,
      logger,
      onFenced: (e) => (this.fencedError = e),
      onCommitted: (objectKey, walKey, wal) => this.registerObject(objectKey, walKey, wal.createdAtMs),
    });
    const recoveryGets = this.indexCache.stats.gets - getsBefore;
    const recoveredMs = Date.now() - started;
    await this.releaseDeletedTopics(deletedTopics, deletedTopicSegments);
    await this.collectGarbage();
    const orphans = await this.deleteOrphanObjects(referenced);
    logger.info(
      {
        segments: segmentCount,
        walObjects,
        walChunksInSegments,
        recoveryGets,
        orphansDeleted: orphans,
        partitions: this.logs.size,
        ms: recoveredMs,
      },
      'log recovered',
    );
  }

  /**
   * Cluster mode: no partition is loaded until this broker is given it. Every WAL key is registered (so orphans
   * of this node's earlier incarnations are told apart); the flusher continues this node's own sequence.
   */
  private async startClustered(
    walKvs: KeyValue[],
    referenced: Set<string>,
    deletedTopics: Set<string>,
    deletedTopicSegments: Map<string, string[]>,
    started: number,
  ): Promise<void> {
    const ownPrefix = nodeWalPrefix(this.o.nodeId);
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
    let maxSequence = 0;
    for (const kv of walKvs) {
      const wal = JSON.parse(kv.value) as WalRecord;
      this.objects.set(wal.objectKey, { walKey: kv.key, liveExtents: 0, createdAtMs: wal.createdAtMs });
      if (kv.key.startsWith(ownPrefix)) maxSequence = Math.max(maxSequence, Number(kv.key.slice(ownPrefix.length)));
    }
    this.flusherInstance = new Flusher({
      objectStore: this.o.objectStore,
      metadata: this.o.metadata,
      cache: this.cache,
      nodeId: this.o.nodeId,
      incarnation: this.incarnation,
      fence: () => this.fence(),
      flushSizeBytes: this.o.flushSizeBytes,
      flushLingerMs: this.o.flushLingerMs,
      maxConcurrentFlushes: this.o.maxConcurrentFlushes,
      firstSequence: maxSequence + 1,
      logger: this.o.logger,
      walKeyOf: (sequence) => nodeWalKey(this.o.nodeId, sequence),
      onFenced: (e) => (this.fencedError = e),
      onCommitted: (objectKey, walKey, wal, entries) => {
        this.registerObject(objectKey, walKey, wal.createdAtMs);
        // Kept for a failover in which this broker takes over another's partitions (wal-index-warmer.ts).
        this.indexCache.insertWal(objectKey, entries);
      },
    });
    await this.releaseDeletedTopics(deletedTopics, deletedTopicSegments);
    const orphans = await this.deleteOrphanObjects(referenced);
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
    const { metadata } = this.o;
    const wanted = new Map<string, { topic: TopicRecord; partition: number; epoch: number }>();
    for (const p of parts) {
      const topic = this.o.topics.byId(p.topicId);
      if (topic && p.partition < topic.partitions)
        wanted.set(LogManager.key(p.topicId, p.partition), { topic, partition: p.partition, epoch: p.epoch });
    }
    if (wanted.size === 0) return;
    const started = Date.now();
    const indexMissesBefore = this.indexCache.stats.misses;
    const manifests = new Map<string, { kv: KeyValue | null }>();
    await mapBounded([...wanted.entries()], this.o.recoveryConcurrency, async ([k, w]) => {
      manifests.set(k, { kv: await metadata.get(partitionManifestKey(w.topic.id, w.partition)) });
    });
    const walKvs = await metadata.getPrefix(walPrefix);
    const segmentsOf = new Map<string, Extent[]>();
    const parsed = new Map<string, PartitionManifest | null>();
    for (const [k, { kv }] of manifests) {
      const manifest = kv ? (JSON.parse(kv.value) as PartitionManifest) : null;
      parsed.set(k, manifest);
      segmentsOf.set(
        k,
        (manifest?.segments ?? []).map(
          (s): Extent => ({
            baseOffset: s.baseOffset,
            lastOffset: s.lastOffset,
            maxTimestamp: s.maxTimestamp,
            objectKey: s.objectKey,
            position: 0,
            lengthBytes: s.dataBytes,
            segment: true,
            objectSizeBytes: s.sizeBytes,
          }),
        ),
      );
    }
    const walExtents = new Map<string, Extent[]>();
    const manifestsMs = Date.now() - started;
    const indexes = await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      this.registerObject(wal.objectKey, kv.key, wal.createdAtMs);
      try {
        return { kv, wal, entries: await this.indexCache.wal(wal.objectKey, wal.sizeBytes) };
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError)) throw err;
        return { kv, wal, entries: null }; // collected meanwhile: every chunk in it was dead
      }
    });
    for (const { kv, wal, entries } of indexes) {
      if (entries === null) continue;
      for (const e of entries) {
        const k = LogManager.key(e.topicId, e.partition);
        if (!wanted.has(k) || LogManager.coveredBySegments(segmentsOf.get(k), e, kv.key)) continue;
        let list = walExtents.get(k);
        if (!list) walExtents.set(k, (list = []));
        list.push({
          baseOffset: e.baseOffset,
          lastOffset: e.lastOffset,
          maxTimestamp: e.maxTimestamp,
          objectKey: wal.objectKey,
          position: e.position,
          lengthBytes: e.lengthBytes,
          segment: false,
          objectSizeBytes: wal.sizeBytes,
        });
      }
    }
    const indexesMs = Date.now() - started - manifestsMs;
    const walIndexReads = this.indexCache.stats.misses - indexMissesBefore;
    const loaded: PartitionLog[] = [];
    for (const [k, w] of wanted) {
      const manifest = parsed.get(k) ?? null;
      const state = this.manifests.get(k) ?? { revision: 0, legacyLogStart: false };
      state.revision = manifests.get(k)!.kv?.modRevision ?? 0;
      this.manifests.set(k, state);
      const log = this.buildLog(
        w.topic,
        w.partition,
        [...segmentsOf.get(k)!, ...(walExtents.get(k) ?? [])],
        manifest?.logStartOffset ?? 0,
        w.epoch,
        manifest?.epochs,
      );
      log.producerSnapshot = manifest?.producerState ?? null; // producer-state.ts: kept by every manifest write
      loaded.push(log);
    }
    // The new epochs' starts, durably, before any append at them.
    const outcomes = await this.serialiseLogStart(() =>
      this.commitManifests(loaded.map((log) => this.manifestUpdate(log, log.extents, log.logStartOffset))),
    );
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
    // Per partition (first few): where its log starts and ends, so an operator can follow a failover.
    const detail = loaded
      .slice(0, 16)
      .map((l) => `${l.topicName}-${l.partition}@${l.leaderEpoch}:${l.logStartOffset}..${l.nextOffset}(${l.extents.length})`);
    this.o.logger.info(
      {
        partitions: loaded.length,
        walObjects: walKvs.length,
        walIndexReads,
        manifestsMs,
        indexesMs,
        ms: Date.now() - started,
        detail,
      },
      'partitions loaded',
    );
  }

  /**
   * Cluster mode: stops appends to a partition handed to another broker, waits until everything appended is
   * durable and every manifest write under way has finished, then drops it.
   */
  async releasePartition(topicId: string, partition: number): Promise<void> {
    const k = LogManager.key(topicId, partition);
    const log = this.logs.get(k);
    if (!log) return;
    log.released = true;
    if (log.nextOffset > log.highWatermark) {
      this.flusher.flushNow();
      await log.waitDurable(log.nextOffset - 1).catch(() => {});
    }
    await this.serialiseLogStart(async () => {
      if (this.logs.get(k) !== log) return;
      this.logs.delete(k);
      this.manifests.delete(k);
      this.releaseLocal(log);
    });
  }

  /** Cluster mode: the partition was taken away (this broker was presumed dead): unflushed appends fail. */
  drop(topicId: string, partition: number): void {
    const k = LogManager.key(topicId, partition);
    const log = this.logs.get(k);
    if (!log) return;
    log.released = true;
    this.logs.delete(k);
    this.manifests.delete(k);
    log.abandonUnflushed(new Error(`partition ${log.topicName}-${partition} is no longer led by this broker`));
    this.releaseLocal(log);
  }

  /** Partitions loaded here. */
  held(): { topicId: string; partition: number }[] {
    return [...this.logs.values()].map((l) => ({ topicId: l.topicId, partition: l.partition }));
  }

  /** In cluster mode a partition's WAL chunks stay until the global collection; only its cache use goes. */
  private releaseLocal(log: PartitionLog): void {
    for (const e of log.extents) {
      if (e.segment) continue;
      const ref = this.objects.get(e.objectKey);
      if (ref) ref.liveExtents--;
    }
  }

  /**
   * Cluster mode, run by the controller: deletes WAL objects every chunk of which is dead — below its
   * partition's log start, inside one of its segments, or of a topic that no longer exists — as the committed
   * manifests say (owners only ever move log starts forward and replace WAL chunks by segments). Objects younger
   * than `minAgeMs` are left alone. Deleted topics' segments and manifests go too.
   */
  async collectWalGlobally(minAgeMs: number): Promise<number> {
    const { metadata } = this.o;
    // Topics are read last: a WAL chunk or manifest read earlier belongs to a topic created before, so a topic
    // missing from this later read was deleted, not created meanwhile.
    const [walKvs, manifestKvs, deletedKvs] = await Promise.all([
      metadata.getPrefix(walPrefix),
      metadata.getPrefix(partitionManifestPrefix),
      metadata.getPrefix(deletedTopicPrefix),
    ]);
    const topicKvs = await metadata.getPrefix(topicPrefix);
    const liveTopics = new Set(topicKvs.map((kv) => (JSON.parse(kv.value) as TopicRecord).id));
    const manifests = new Map<string, PartitionManifest>();
    const deletedTopicSegments = new Map<string, string[]>();
    for (const kv of manifestKvs) {
      const id = parsePartitionManifestKey(kv.key);
      if (!id) continue;
      const m = JSON.parse(kv.value) as PartitionManifest;
      manifests.set(LogManager.key(id.topicId, id.partition), m);
      if (!liveTopics.has(id.topicId)) {
        const list = deletedTopicSegments.get(id.topicId) ?? [];
        list.push(...m.segments.map((s) => s.objectKey));
        deletedTopicSegments.set(id.topicId, list);
      }
    }
    const deletedTopics = new Set(
      [...deletedKvs.map((kv) => kv.key.slice(deletedTopicPrefix.length)), ...deletedTopicSegments.keys()].filter(
        (id) => !liveTopics.has(id),
      ),
    );
    await this.releaseDeletedTopics(deletedTopics, deletedTopicSegments);
    const now = Date.now();
    const dead: { key: string; objectKey: string }[] = [];
    await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      if (now - wal.createdAtMs < minAgeMs) return;
      let entries: WalIndexEntry[];
      try {
        entries = await this.indexCache.wal(wal.objectKey, wal.sizeBytes);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) dead.push({ key: kv.key, objectKey: wal.objectKey });
        return;
      }
      const allDead = entries.every((e) => {
        if (!liveTopics.has(e.topicId)) return true;
        const m = manifests.get(LogManager.key(e.topicId, e.partition));
        if (!m) return false;
        if (e.lastOffset < m.logStartOffset) return true;
        return m.segments.some((s) => s.baseOffset <= e.baseOffset && e.lastOffset <= s.lastOffset);
      });
      if (allDead) dead.push({ key: kv.key, objectKey: wal.objectKey });
    });
    let deleted = 0;
    for (let i = 0; i < dead.length; i += maxOpsPerTxn) {
      const chunk = dead.slice(i, i + maxOpsPerTxn);
      const result = await metadata.txn(
        this.fence(),
        chunk.map((d): Op => ({ type: 'delete', key: d.key })),
      );
      if (!result.succeeded) return deleted;
      const keys = chunk.map((d) => d.objectKey);
      for (const k of keys) {
        this.objects.delete(k);
        this.cache.evictObject(k);
        this.indexCache.evict(k);
      }
      try {
        await this.o.objectStore.delete(keys);
      } catch (err) {
        this.o.logger.warn({ err, objects: keys.length }, "deleting WAL objects failed; their writer's next start deletes them");
      }
      deleted += keys.length;
      this.stats.walObjectsDeleted += keys.length;
    }
    return deleted;
  }

  /**
   * Whether a WAL chunk is already in one of the partition's segments (then the segment is read instead). A
   * segment is a union of whole chunks, so a chunk is either inside one or clear of all: a partial overlap is
   * corruption, and recovery stops rather than serve a log with two versions of some offsets.
   */
  private static coveredBySegments(segments: Extent[] | undefined, e: WalIndexEntry, walKey: string): boolean {
    if (!segments || segments.length === 0) return false;
    let lo = 0;
    let hi = segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segments[mid]!.baseOffset <= e.baseOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    const s = found >= 0 ? segments[found] : undefined;
    if (s && e.lastOffset <= s.lastOffset) return true;
    const next = segments[found + 1];
    assert.ok(
      !(s && e.baseOffset <= s.lastOffset) && !(next && e.lastOffset >= next.baseOffset),
      `${walKey}: chunk ${e.baseOffset}..${e.lastOffset} of ${e.topicId}-${e.partition} overlaps a segment partially`,
    );
    return false;
  }

  /** Data of topics deleted while their data was not yet released (a crash between the two): segments, then keys. */
  private async releaseDeletedTopics(deletedTopics: Set<string>, segments: Map<string, string[]>): Promise<void> {
    for (const topicId of deletedTopics) {
      if (this.o.topics.byId(topicId)) continue;
      const keys = segments.get(topicId) ?? [];
      for (let i = 0; i < keys.length; i += 1000) await this.o.objectStore.delete(keys.slice(i, i + 1000));
      this.stats.segmentsDeleted += keys.length;
      await this.o.metadata.txn(
        [],
        [
          { type: 'deletePrefix', prefix: `${partitionManifestPrefix}${topicId}/` },
          { type: 'deletePrefix', prefix: `${logStartPrefix}${topicId}/` },
          { type: 'delete', key: `${deletedTopicPrefix}${topicId}` },
        ],
      );
    }
  }

  /**
   * Objects this node PUT in an earlier incarnation that nothing names: WAL objects whose commit never happened
   * (a crash between the PUT and the commit) or whose /wal/ key garbage collection deleted just before a crash,
   * and segments whose manifest commit never happened or whose deletion a crash interrupted. No earlier
   * incarnation can commit any more (this one holds the fencing token), so they are deleted.
   */
  private async deleteOrphanObjects(referencedSegments: Set<string>): Promise<number> {
    const walSuffix = `-${this.o.nodeId}-`;
    let deleted = await this.sweep('wal/', (k) => !this.objects.has(k) && k.includes(walSuffix) && !k.includes(`-${this.incarnation}.`));
    deleted += await this.sweep(segmentObjectPrefix, (k) => {
      const s = parseSegmentObjectKey(k);
      return s !== null && s.nodeId === this.o.nodeId && s.incarnation !== this.incarnation && !referencedSegments.has(k);
    });
    return deleted;
  }

  private async sweep(prefix: string, isOrphan: (key: string) => boolean): Promise<number> {
    let deleted = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.o.objectStore.list(prefix, { startAfter, limit: 1000 });
      if (page.length === 0) return deleted;
      startAfter = page[page.length - 1]!.key;
      const orphans = page.map((o) => o.key).filter(isOrphan);
      if (orphans.length > 0) {
        await this.o.objectStore.delete(orphans);
        deleted += orphans.length;
      }
    }
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
    for (const e of log.extents) if (!e.segment) this.refObject(e.objectKey);
    this.logs.set(LogManager.key(log.topicId, log.partition), log);
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
        if (last) this.refObject(last.objectKey);
        for (const listener of this.hwListeners) listener(l);
      },
    });
  }

  private refObject(objectKey: string): void {
    const ref = this.objects.get(objectKey);
    if (ref) ref.liveExtents++;
  }

  /** A committed object becomes known before any extent refers to it. */
  private registerObject(objectKey: string, walKey: string, createdAtMs: number): void {
    if (!this.objects.has(objectKey)) this.objects.set(objectKey, { walKey, liveExtents: 0, createdAtMs });
  }

  /** Existing partition logs for a topic's current partition count (new partitions get empty logs). */
  ensurePartitions(topic: TopicRecord): void {
    if (this.o.cluster) return; // partitions load when assigned
    for (let p = 0; p < topic.partitions; p++) {
      if (!this.logs.has(LogManager.key(topic.id, p))) this.createLog(topic, p, [], 0);
    }
  }

  partition(topicId: string, partition: number): PartitionLog | undefined {
    return this.logs.get(LogManager.key(topicId, partition));
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

  /**
   * Whole batches holding `offset`: a WAL chunk entirely, or the read window of a segment that holds it (found
   * with the segment's offset index). null when no extent holds it. Extents can be replaced (compaction) or
   * dropped (retention) while a read waits, and their objects deleted: then the offset is looked up again.
   */
  private async chunkAt(log: PartitionLog, offset: number): Promise<Buffer | null> {
    for (let attempt = 0; ; attempt++) {
      const i = log.findExtent(offset);
      if (i < 0) return null;
      const e = log.extents[i]!;
      try {
        if (!e.segment) return await this.cache.get(e.objectKey, e.position, e.lengthBytes);
        const index = await this.indexCache.segment(e.objectKey, e.objectSizeBytes);
        const w = index.windowFor(offset - e.baseOffset, this.windowBytes);
        return await this.cache.get(e.objectKey, w.position, w.lengthBytes);
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
      const data = await this.chunkAt(log, offset);
      if (data === null) break;
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
      if (next === offset) break; // nothing at or after offset in this chunk (cannot happen with a contiguous log)
      offset = next;
    }
    this.prefetch(log, offset, this.o.readaheadBytes);
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
      const data = await this.chunkAt(log, offset);
      if (data === null) return null;
      let next = offset;
      for (let pos = 0; pos < data.length; ) {
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos);
        const last = readBaseOffset(data, pos) + readLastOffsetDelta(data, pos);
        if (last >= offset && last >= log.logStartOffset && readMaxTimestampMs(data, pos) >= timestampMs)
          return { batch: data.subarray(pos, pos + size) };
        next = Math.max(next, last + 1);
        pos += size;
      }
      if (next === offset) return null;
      offset = next;
    }
  }

  /** The batch holding `offset` (ListOffsets MAX_TIMESTAMP refinement). */
  async batchAt(log: PartitionLog, offset: number): Promise<Buffer | null> {
    return this.read(log, offset, 1, true, log.highWatermark);
  }

  private serialiseLogStart<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.logStartChain.then(fn, fn);
    this.logStartChain = run.catch(() => {});
    return run;
  }

  private static segmentRecords(extents: readonly Extent[], logStartOffset: number): SegmentRecord[] {
    return extents
      .filter((e) => e.segment && e.lastOffset >= logStartOffset)
      .map((e) => ({
        objectKey: e.objectKey,
        baseOffset: e.baseOffset,
        lastOffset: e.lastOffset,
        maxTimestamp: e.maxTimestamp,
        sizeBytes: e.objectSizeBytes,
        dataBytes: e.lengthBytes,
      }));
  }

  private manifestUpdate(
    log: PartitionLog,
    extents: readonly Extent[],
    logStartOffset: number,
    producerSnapshot = log.producerSnapshot,
  ): ManifestUpdate {
    const k = LogManager.key(log.topicId, log.partition);
    let state = this.manifests.get(k);
    if (!state) this.manifests.set(k, (state = { revision: 0, legacyLogStart: false }));
    const manifest: PartitionManifest = { segments: LogManager.segmentRecords(extents, logStartOffset), logStartOffset };
    if (this.o.cluster) manifest.epochs = log.epochStarts;
    if (producerSnapshot) manifest.producerState = producerSnapshot;
    return { key: partitionManifestKey(log.topicId, log.partition), log, state, value: JSON.stringify(manifest) };
  }

  /**
   * Writes manifests, several per transaction (at most maxOpsPerTxn operations and maxTxnBytes), each guarded
   * by the fencing token and its modRevision; a legacy /log-start/ key goes in the same transaction. Per update:
   * committed; refused (it did not and never will commit); or unknown (shutdown while retrying, or an error
   * after an attempt that may have committed — then nothing built on it may be deleted).
   */
  private async commitManifests(updates: ManifestUpdate[]): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = updates.map(() => 'refused');
    for (let i = 0; i < updates.length; ) {
      const chunk: ManifestUpdate[] = [];
      const first = i;
      let ops = 0;
      let bytes = 0;
      while (i < updates.length) {
        const u = updates[i]!;
        const n = u.state.legacyLogStart ? 2 : 1;
        const b = 2 * u.key.length + u.value.length;
        if (chunk.length > 0 && (ops + n > maxOpsPerTxn || bytes + b > maxTxnBytes)) break;
        chunk.push(u);
        ops += n;
        bytes += b;
        i++;
      }
      const compares: Compare[] = [
        ...this.fence(),
        ...chunk.map((u): Compare => ({ key: u.key, target: 'modRevision', op: '=', value: u.state.revision })),
      ];
      const txnOps: Op[] = chunk.flatMap((u): Op[] => [
        { type: 'put', key: u.key, value: u.value },
        ...(u.state.legacyLogStart ? [{ type: 'delete', key: logStartKey(u.log.topicId, u.log.partition) } as Op] : []),
      ]);
      let retried = false;
      let outcome: CommitOutcome;
      let revision = 0;
      try {
        const result = await retryForever('commit partition manifests', () => this.o.metadata.txn(compares, txnOps), {
          logger: this.o.logger,
          isClosed: () => this.aborted,
          isRetriable: metadataRetriable,
          onRetry: () => (retried = true),
        });
        revision = result.revision;
        outcome = result.succeeded ? 'committed' : 'refused';
        if (!result.succeeded && retried) {
          // An attempt that failed in transit may have committed: then the key holds exactly this value.
          const kv = await retryForever('read partition manifest', () => this.o.metadata.get(chunk[0]!.key), {
            logger: this.o.logger,
            isClosed: () => this.aborted,
            isRetriable: metadataRetriable,
          });
          if (kv?.value === chunk[0]!.value) {
            outcome = 'committed';
            revision = kv.modRevision;
          } else {
            outcome = 'unknown';
          }
        }
      } catch (err) {
        outcome = err instanceof InvalidMetadataRequestError && !retried ? 'refused' : 'unknown';
        if (!(err instanceof RetryAbortedError)) this.o.logger.error({ err, manifests: chunk.length }, 'manifest commit failed');
      }
      for (let j = 0; j < chunk.length; j++) outcomes[first + j] = outcome;
      if (outcome === 'committed') {
        this.stats.manifestCommits++;
        for (const u of chunk) {
          u.state.revision = revision;
          u.state.legacyLogStart = false;
        }
      } else {
        this.stats.manifestsRefused += chunk.length;
        this.o.logger.warn(
          { outcome, manifests: chunk.length },
          'manifest commit not applied: fenced, or a manifest changed under this broker',
        );
        return outcomes; // the rest was never sent: refused
      }
    }
    return outcomes;
  }

  /** Compaction's commit: the partitions' new manifests, then their runs replaced by the new segments. */
  private commitCompaction(parts: CompactedPartition[]): Promise<CommitOutcome[]> {
    return this.serialiseLogStart(async () => {
      const outcomes: CommitOutcome[] = parts.map(() => 'refused');
      const updates: ManifestUpdate[] = [];
      const updateOf: number[] = [];
      for (let i = 0; i < parts.length; i++) {
        const { log, segments } = parts[i]!;
        // Topic deleted, or retention dropped part of a run since it was planned: this partition's work is void.
        if (this.logs.get(LogManager.key(log.topicId, log.partition)) !== log) continue;
        const after = [...log.extents];
        let valid = true;
        for (const s of segments) {
          const at = after.indexOf(s.run[0]!);
          if (at < 0 || s.run.some((e, k) => after[at + k] !== e)) {
            valid = false;
            break;
          }
          after.splice(at, s.run.length, s.extent);
        }
        if (!valid) continue;
        updates.push(this.manifestUpdate(log, after, log.logStartOffset, parts[i]!.producerSnapshot));
        updateOf.push(i);
      }
      const results = await this.commitManifests(updates);
      for (let u = 0; u < updates.length; u++) {
        const i = updateOf[u]!;
        outcomes[i] = results[u]!;
        if (results[u] !== 'committed') continue;
        const { log, segments } = parts[i]!;
        if (parts[i]!.producerSnapshot) log.producerSnapshot = parts[i]!.producerSnapshot;
        for (const s of segments) {
          log.replaceRun(s.run, s.extent);
          this.indexCache.insertSegment(s.extent.objectKey, s.index);
          this.release(s.run);
        }
      }
      await this.collectGarbageLogged();
      return outcomes;
    });
  }

  /** DeleteRecords: moves the log start offset durably, then drops what lies wholly below it. */
  deleteRecordsBefore(log: PartitionLog, offset: number): Promise<number> {
    return this.serialiseLogStart(() => this.deleteRecordsBeforeNow(log, offset));
  }

  private async deleteRecordsBeforeNow(log: PartitionLog, offset: number): Promise<number> {
    assert.ok(offset <= log.highWatermark && offset >= 0);
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const [outcome] = await this.commitManifests([this.manifestUpdate(log, log.extents, offset)]);
    if (outcome !== 'committed') throw new Error('this broker no longer holds its fencing token');
    this.release(log.advanceLogStart(offset));
    await this.collectGarbageLogged();
    return log.logStartOffset;
  }

  /** Extents leave the log: WAL chunks drop their object's reference, segments are deleted by the next GC. */
  private release(dropped: readonly Extent[]): void {
    for (const e of dropped) {
      if (e.segment) {
        this.deadSegments.add(e.objectKey);
        continue;
      }
      const ref = this.objects.get(e.objectKey);
      if (ref) ref.liveExtents--;
    }
  }

  /** A deleted topic's logs go; its share of WAL objects is released, its segments and manifests deleted. */
  async dropTopic(topic: TopicRecord): Promise<void> {
    const dropped: PartitionLog[] = [];
    for (let p = 0; p < topic.partitions; p++) {
      const k = LogManager.key(topic.id, p);
      const log = this.logs.get(k);
      if (!log) continue;
      this.logs.delete(k);
      log.abandonUnflushed(new Error(`topic ${topic.name} was deleted`));
      dropped.push(log);
    }
    // After any compaction commit or log start move of these partitions under way (they may still change them).
    await this.serialiseLogStart(async () => {
      for (const log of dropped) {
        this.release(log.extents);
        this.manifests.delete(LogManager.key(log.topicId, log.partition));
      }
      await this.o.metadata.txn(
        [],
        [
          { type: 'deletePrefix', prefix: `${partitionManifestPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${logStartPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${deletedTopicPrefix}${topic.id}` },
        ],
      );
      await this.collectGarbageLogged();
    });
  }

  /** Time and size retention over every partition; the log start offset moves to the first kept extent. */
  enforceRetention(nowMs: number): Promise<void> {
    return this.serialiseLogStart(() => this.enforceRetentionNow(nowMs));
  }

  private async enforceRetentionNow(nowMs: number): Promise<void> {
    const updates: ManifestUpdate[] = [];
    const moved: { log: PartitionLog; offset: number }[] = [];
    for (const log of this.logs.values()) {
      const topic = this.o.topics.byId(log.topicId);
      if (!topic) continue;
      const { retentionMs, retentionBytes, deleteEnabled } = this.o.retentionOf(topic);
      if (!deleteEnabled) continue;
      let size = 0;
      for (const e of log.extents) if (e.lastOffset >= log.logStartOffset) size += e.lengthBytes;
      let newStart = log.logStartOffset;
      for (const e of log.extents) {
        if (e.lastOffset < log.logStartOffset) continue;
        const expired = retentionMs >= 0 && e.maxTimestamp >= 0 && e.maxTimestamp < nowMs - retentionMs;
        const oversize = retentionBytes >= 0 && size - e.lengthBytes >= retentionBytes;
        if (!expired && !oversize) break;
        size -= e.lengthBytes;
        newStart = e.lastOffset + 1;
      }
      if (newStart > log.logStartOffset) {
        moved.push({ log, offset: newStart });
        updates.push(this.manifestUpdate(log, log.extents, newStart));
      }
    }
    if (updates.length === 0) return;
    const outcomes = await this.commitManifests(updates);
    for (let i = 0; i < moved.length; i++) {
      if (outcomes[i] !== 'committed') continue;
      const { log, offset } = moved[i]!;
      this.release(log.advanceLogStart(offset));
    }
    await this.collectGarbageLogged();
  }

  /**
   * Deletes what nothing live refers to. WAL objects: the /wal/ keys first (guarded by the fencing token), then
   * the objects; a crash between the two leaves key-less objects of this node, which its next start deletes (a
   * key naming a missing object would instead stop recovery from telling garbage from loss). Segments: their
   * manifest no longer names them, so the object goes. One collection at a time.
   */
  collectGarbage(): Promise<void> {
    const run = this.gcChain.then(() => this.collectGarbageNow());
    this.gcChain = run.catch(() => {});
    return run;
  }

  /** After a commit: what it released is collected now, or by a later collection if this one fails. */
  private async collectGarbageLogged(): Promise<void> {
    try {
      await this.collectGarbage();
    } catch (err) {
      this.o.logger.warn({ err }, 'garbage collection failed; retried at the next one');
    }
  }

  private async collectGarbageNow(): Promise<void> {
    const dead = this.o.cluster ? [] : [...this.objects.entries()].filter(([, ref]) => ref.liveExtents <= 0);
    for (let i = 0; i < dead.length; i += maxOpsPerTxn) {
      const chunk = dead.slice(i, i + maxOpsPerTxn);
      const result = await this.o.metadata.txn(
        this.fence(),
        chunk.map(([, ref]): Op => ({ type: 'delete', key: ref.walKey })),
      );
      if (!result.succeeded) return; // fenced: the token holder collects
      const keys = chunk.map(([k]) => k);
      for (const k of keys) this.objects.delete(k);
      try {
        await this.o.objectStore.delete(keys);
      } catch (err) {
        this.o.logger.warn({ err, objects: keys.length }, 'deleting WAL objects failed; the next start deletes them');
      }
      for (const k of keys) {
        this.cache.evictObject(k);
        this.indexCache.evict(k);
      }
      this.stats.walObjectsDeleted += keys.length;
    }
    const segments = [...this.deadSegments];
    if (segments.length === 0) return;
    try {
      for (let i = 0; i < segments.length; i += 1000) await this.o.objectStore.delete(segments.slice(i, i + 1000));
    } catch (err) {
      this.o.logger.warn({ err, segments: segments.length }, 'deleting segments failed; retried at the next collection');
      return;
    }
    for (const k of segments) {
      this.deadSegments.delete(k);
      this.cache.evictObject(k);
      this.indexCache.evict(k);
    }
    this.stats.segmentsDeleted += segments.length;
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
      await Promise.race([this.logStartChain, new Promise((resolve) => (wait = setTimeout(resolve, Math.max(0, deadline - Date.now()))))]);
      clearTimeout(wait);
    } finally {
      clearTimeout(timer);
    }
  }
}

export { defaultCompactionSettings };
