// Garbage collection of the objects the logs no longer need. WAL objects are shared by many partitions, so each
// is reference-counted by live extents and deleted (its /wal/ key, then the object) when none is left; in
// cluster mode the controller's global pass deletes them instead, from the committed manifests. A segment
// object belongs to one partition and is named by its manifest; it is deleted once a committed manifest no
// longer names it. Objects an earlier incarnation of this node left unnamed (orphans) are deleted at start.
import type { Logger } from 'pino';
import {
  deletedTopicPrefix,
  logStartPrefix,
  parsePartitionManifestKey,
  parseSegmentObjectKey,
  partitionManifestPrefix,
  segmentObjectPrefix,
  topicPrefix,
  walPrefix,
} from '../metadata/layout.ts';
import type { PartitionManifest, TopicRecord, WalRecord } from '../metadata/layout.ts';
import type { Compare, KeyValue, MetadataStore, Op } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import { MAX_KEYS_PER_REQUEST, ObjectNotFoundError } from '../storage/object-store.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { SegmentCache } from '../storage/segment-cache.ts';
import type { WalIndexEntry } from '../storage/wal-object.ts';
import { mapBounded } from './compactor.ts';
import { partitionKey } from './manifests.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import { manifestTxnMaxOpsCount, orphanSweepMaxTrackedCount } from '../limits.ts';

interface ObjectRef {
  walKey: string;
  liveExtents: number;
  createdAtMs: number;
}

export interface LogGarbageOptions {
  metadata: MetadataStore;
  objectStore: ObjectStore;
  topics: TopicRegistry;
  cache: SegmentCache;
  indexCache: IndexCache;
  logger: Logger;
  nodeId: number;
  incarnation: string;
  recoveryConcurrency: number;
  /** Cluster mode: WAL objects are collected by collectWalGlobally, not by local reference counts. */
  clustered: boolean;
  /** The compares that prove this broker still holds its fencing token. */
  fence: () => Compare[];
  stats: { walObjectsDeleted: number; segmentsDeleted: number };
}

export class LogGarbage {
  private readonly o: LogGarbageOptions;
  private readonly objects = new Map<string, ObjectRef>();
  /** Segment objects no committed manifest names any more, waiting for garbage collection. */
  private readonly deadSegments = new Set<string>();
  /** Segment objects no manifest names any more, deleted once their time comes (objectKey → not before, ms). */
  private readonly delayedSegments = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Segment objects no committed manifest named at the last orphan sweep → when a sweep first saw them so. */
  private readonly unnamedSince = new Map<string, number>();

  constructor(options: LogGarbageOptions) {
    this.o = options;
  }

  /** When a known WAL object was created; undefined when unknown. */
  walCreatedAtMs(objectKey: string): number | undefined {
    return this.objects.get(objectKey)?.createdAtMs;
  }

  /** A WAL object named by a /wal/ key read at start, with no live extent yet. */
  track(objectKey: string, walKey: string, createdAtMs: number): void {
    this.objects.set(objectKey, { walKey, liveExtents: 0, createdAtMs });
  }

  /** A committed object becomes known before any extent refers to it. */
  register(objectKey: string, walKey: string, createdAtMs: number): void {
    if (!this.objects.has(objectKey)) this.objects.set(objectKey, { walKey, liveExtents: 0, createdAtMs });
  }

  /** One more live extent in the object. */
  ref(objectKey: string): void {
    const ref = this.objects.get(objectKey);
    if (ref) ref.liveExtents++;
  }

  /** Extents leave the log: WAL chunks drop their object's reference, segments are deleted by the next GC. */
  release(dropped: readonly Extent[]): void {
    for (const e of dropped) {
      if (e.segment) {
        this.deadSegments.add(e.objectKey);
        continue;
      }
      const ref = this.objects.get(e.objectKey);
      if (ref) ref.liveExtents--;
    }
  }

  /**
   * Segments a committed manifest no longer names, deleted by the first collection at least `delayMs` from now
   * (the log cleaner's replaced segments: file.delete.delay.ms, longer than reads in flight). A restart before
   * then finds them named by no manifest and deletes them as orphans.
   */
  releaseLater(dropped: readonly Extent[], delayMs: number): void {
    const due = Date.now() + Math.max(0, delayMs);
    for (const e of dropped) if (e.segment) this.delayedSegments.set(e.objectKey, due);
  }

  /** In cluster mode a partition's WAL chunks stay until the global collection; only its cache use goes. */
  releaseLocal(log: PartitionLog): void {
    for (const e of log.extents) {
      if (e.segment) continue;
      const ref = this.objects.get(e.objectKey);
      if (ref) ref.liveExtents--;
    }
  }

  /**
   * Deletes what nothing live refers to. WAL objects: the /wal/ keys first (guarded by the fencing token), then
   * the objects; a crash between the two leaves key-less objects of this node, which its next start deletes (a
   * key naming a missing object would instead stop recovery from telling garbage from loss). Segments: their
   * manifest no longer names them, so the object goes. One collection at a time.
   */
  collect(): Promise<void> {
    const run = this.chain.then(() => this.collectNow());
    this.chain = run.catch(() => {});
    return run;
  }

  /** After a commit: what it released is collected now, or by a later collection if this one fails. */
  async collectLogged(): Promise<void> {
    try {
      await this.collect();
    } catch (err) {
      this.o.logger.warn({ err }, 'garbage collection failed; retried at the next one');
    }
  }

  private async collectNow(): Promise<void> {
    if (!(await this.collectWal())) return;
    await this.collectSegments();
  }

  /** WAL objects without a live extent; false when fenced. */
  private async collectWal(): Promise<boolean> {
    const dead = this.o.clustered ? [] : [...this.objects.entries()].filter(([, ref]) => ref.liveExtents <= 0);
    for (let i = 0; i < dead.length; i += manifestTxnMaxOpsCount) {
      const chunk = dead.slice(i, i + manifestTxnMaxOpsCount);
      const result = await this.o.metadata.txn(
        this.o.fence(),
        chunk.map(([, ref]): Op => ({ type: 'delete', key: ref.walKey })),
      );
      if (!result.succeeded) return false; // fenced: the token holder collects
      const keys = chunk.map(([k]) => k);
      for (const k of keys) this.objects.delete(k);
      try {
        await this.o.objectStore.delete(keys);
      } catch (err) {
        this.o.logger.warn({ err, objects: keys.length }, 'deleting WAL objects failed; the next start deletes them');
      }
      for (const k of keys) {
        this.o.cache.evictObject(k);
        this.o.indexCache.evict(k);
      }
      this.o.stats.walObjectsDeleted += keys.length;
    }
    return true;
  }

  private async collectSegments(): Promise<void> {
    const now = Date.now();
    for (const [k, due] of this.delayedSegments) {
      if (due > now) continue;
      this.delayedSegments.delete(k);
      this.deadSegments.add(k);
    }
    const segments = [...this.deadSegments];
    if (segments.length === 0) return;
    try {
      for (let i = 0; i < segments.length; i += MAX_KEYS_PER_REQUEST)
        await this.o.objectStore.delete(segments.slice(i, i + MAX_KEYS_PER_REQUEST));
    } catch (err) {
      this.o.logger.warn({ err, segments: segments.length }, 'deleting segments failed; retried at the next collection');
      return;
    }
    for (const k of segments) {
      this.deadSegments.delete(k);
      this.o.cache.evictObject(k);
      this.o.indexCache.evict(k);
    }
    this.o.stats.segmentsDeleted += segments.length;
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
    const { manifests, deletedTopics, deletedTopicSegments } = committedManifests(manifestKvs, deletedKvs, liveTopics);
    await this.releaseDeletedTopics(deletedTopics, deletedTopicSegments);
    const dead = await this.deadWalObjects(walKvs, manifests, liveTopics, minAgeMs);
    return this.deleteWalObjects(dead);
  }

  /** The WAL objects of `walKvs`, at least `minAgeMs` old, every chunk of which is dead (as `manifests` say). */
  private async deadWalObjects(
    walKvs: KeyValue[],
    manifests: Map<string, PartitionManifest>,
    liveTopics: Set<string>,
    minAgeMs: number,
  ): Promise<{ key: string; objectKey: string }[]> {
    const now = Date.now();
    const dead: { key: string; objectKey: string }[] = [];
    await mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      if (now - wal.createdAtMs < minAgeMs) return;
      let entries: WalIndexEntry[];
      try {
        entries = await this.o.indexCache.wal(wal.objectKey, wal.sizeBytes);
      } catch (err) {
        if (err instanceof ObjectNotFoundError) dead.push({ key: kv.key, objectKey: wal.objectKey });
        return;
      }
      const allDead = entries.every((e) => {
        if (!liveTopics.has(e.topicId)) return true;
        const m = manifests.get(partitionKey(e.topicId, e.partition));
        if (!m) return false;
        if (e.lastOffset < m.logStartOffset) return true;
        return m.segments.some((s) => s.baseOffset <= e.baseOffset && e.lastOffset <= s.lastOffset);
      });
      if (allDead) dead.push({ key: kv.key, objectKey: wal.objectKey });
    });
    return dead;
  }

  /** Deletes WAL objects: their /wal/ keys (guarded by the fence), then the objects. How many went. */
  private async deleteWalObjects(dead: { key: string; objectKey: string }[]): Promise<number> {
    let deleted = 0;
    for (let i = 0; i < dead.length; i += manifestTxnMaxOpsCount) {
      const chunk = dead.slice(i, i + manifestTxnMaxOpsCount);
      const result = await this.o.metadata.txn(
        this.o.fence(),
        chunk.map((d): Op => ({ type: 'delete', key: d.key })),
      );
      if (!result.succeeded) return deleted;
      const keys = chunk.map((d) => d.objectKey);
      for (const k of keys) {
        this.objects.delete(k);
        this.o.cache.evictObject(k);
        this.o.indexCache.evict(k);
      }
      try {
        await this.o.objectStore.delete(keys);
      } catch (err) {
        this.o.logger.warn({ err, objects: keys.length }, "deleting WAL objects failed; their writer's next start deletes them");
      }
      deleted += keys.length;
      this.o.stats.walObjectsDeleted += keys.length;
    }
    return deleted;
  }

  /** Data of topics deleted while their data was not yet released (a crash between the two): segments, then keys. */
  async releaseDeletedTopics(deletedTopics: Set<string>, segments: Map<string, string[]>): Promise<void> {
    for (const topicId of deletedTopics) {
      if (this.o.topics.byId(topicId)) continue;
      const keys = segments.get(topicId) ?? [];
      for (let i = 0; i < keys.length; i += MAX_KEYS_PER_REQUEST) await this.o.objectStore.delete(keys.slice(i, i + MAX_KEYS_PER_REQUEST));
      this.o.stats.segmentsDeleted += keys.length;
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
   * The orphan sweep, by any broker (the controller in cluster mode): deletes the segment objects that no
   * committed manifest has named at any sweep for at least `minAgeMs` (orphanSegmentMinAgeMs): a compaction's
   * or cleaning's PUTs whose commit never came (a crash, a lost partition, a failed delete), whoever wrote
   * them, and segments replaced by a swap or a merge whose deletion a crash interrupted. Manifests are read
   * before the objects are listed, so an object committed meanwhile is only seen as unnamed once; it is named at
   * the next sweep. Safe because a segment's commit is never sent later than skafos.segment.commit.timeout.ms
   * after its PUT began (and lands within the metadata request timeout), which minAgeMs exceeds. Objects this
   * broker still releases itself (file.delete.delay.ms, the next collection) are left to it. How many went.
   */
  async collectOrphanSegments(minAgeMs: number, nowMs: number = Date.now()): Promise<number> {
    const manifestKvs = await this.o.metadata.getPrefix(partitionManifestPrefix);
    const named = new Set<string>();
    for (const kv of manifestKvs) for (const s of (JSON.parse(kv.value) as PartitionManifest).segments) named.add(s.objectKey);
    const seen = new Set<string>();
    let deleted = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.o.objectStore.list(segmentObjectPrefix, { startAfter, limit: MAX_KEYS_PER_REQUEST });
      if (page.length === 0) break;
      startAfter = page[page.length - 1]!.key;
      const due: string[] = [];
      for (const { key } of page) {
        if (named.has(key) || this.deadSegments.has(key) || this.delayedSegments.has(key)) continue;
        seen.add(key);
        const since = this.unnamedSince.get(key);
        if (since === undefined) {
          if (this.unnamedSince.size < orphanSweepMaxTrackedCount) this.unnamedSince.set(key, nowMs);
        } else if (nowMs - since >= minAgeMs) due.push(key);
      }
      if (due.length === 0) continue;
      await this.o.objectStore.delete(due);
      for (const k of due) {
        this.unnamedSince.delete(k);
        this.o.cache.evictObject(k);
        this.o.indexCache.evict(k);
      }
      deleted += due.length;
      this.o.stats.segmentsDeleted += due.length;
    }
    // Named again, or gone: forgotten.
    for (const k of this.unnamedSince.keys()) if (!seen.has(k)) this.unnamedSince.delete(k);
    if (deleted > 0) this.o.logger.info({ segments: deleted }, 'orphan segment objects deleted');
    return deleted;
  }

  /**
   * Objects this node PUT in an earlier incarnation that nothing names: WAL objects whose commit never happened
   * (a crash between the PUT and the commit) or whose /wal/ key garbage collection deleted just before a crash,
   * and segments whose manifest commit never happened or whose deletion a crash interrupted. No earlier
   * incarnation can commit any more (this one holds the fencing token), so they are deleted.
   */
  async deleteOrphanObjects(referencedSegments: Set<string>): Promise<number> {
    const walSuffix = `-${this.o.nodeId}-`;
    let deleted = await this.sweep('wal/', (k) => !this.objects.has(k) && k.includes(walSuffix) && !k.includes(`-${this.o.incarnation}.`));
    deleted += await this.sweep(segmentObjectPrefix, (k) => {
      const s = parseSegmentObjectKey(k);
      return s !== null && s.nodeId === this.o.nodeId && s.incarnation !== this.o.incarnation && !referencedSegments.has(k);
    });
    return deleted;
  }

  private async sweep(prefix: string, isOrphan: (key: string) => boolean): Promise<number> {
    let deleted = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.o.objectStore.list(prefix, { startAfter, limit: MAX_KEYS_PER_REQUEST });
      if (page.length === 0) return deleted;
      startAfter = page[page.length - 1]!.key;
      const orphans = page.map((o) => o.key).filter(isOrphan);
      if (orphans.length > 0) {
        await this.o.objectStore.delete(orphans);
        deleted += orphans.length;
      }
    }
  }
}

/** The committed manifests by partition, and the topics deleted (not in `liveTopics`) with their segments. */
function committedManifests(
  manifestKvs: KeyValue[],
  deletedKvs: KeyValue[],
  liveTopics: Set<string>,
): { manifests: Map<string, PartitionManifest>; deletedTopics: Set<string>; deletedTopicSegments: Map<string, string[]> } {
  const manifests = new Map<string, PartitionManifest>();
  const deletedTopicSegments = new Map<string, string[]>();
  for (const kv of manifestKvs) {
    const id = parsePartitionManifestKey(kv.key);
    if (!id) continue;
    const m = JSON.parse(kv.value) as PartitionManifest;
    manifests.set(partitionKey(id.topicId, id.partition), m);
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
  return { manifests, deletedTopics, deletedTopicSegments };
}

/**
 * How long the orphan sweep waits after first seeing a segment object unnamed. A commit naming it is sent at
 * most `commitTimeoutMs` after its PUT began (so before the sweep saw it) and, sent, is applied or failed
 * within `metadataRequestTimeoutMs`; twice that leaves a margin for clocks running at different rates.
 */
export function orphanSegmentMinAgeMs(commitTimeoutMs: number, metadataRequestTimeoutMs: number): number {
  return commitTimeoutMs + 2 * metadataRequestTimeoutMs;
}
