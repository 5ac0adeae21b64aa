// What the logs are made of, as metadata and the WAL indexes say: at start, every partition's manifest
// (segments, log start, producer snapshot) and the WAL chunks not already in a segment; in cluster mode, the
// same for the partitions this broker is given. LogManager builds the partition logs from it.
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import {
  deletedTopicPrefix,
  logStartPrefix,
  nodeWalPrefix,
  parsePartitionManifestKey,
  partitionManifestKey,
  partitionManifestPrefix,
  walPrefix,
  walSequenceOf,
} from '../metadata/layout.ts';
import type { LogStartRecord, PartitionManifest, ProducerSnapshotRecord, TopicRecord, WalRecord } from '../metadata/layout.ts';
import type { KeyValue, MetadataStore } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import { ObjectNotFoundError } from '../storage/object-store.ts';
import type { WalIndexEntry } from '../storage/wal-object.ts';
import { mapBounded } from './compactor.ts';
import { partitionKey, segmentExtents } from './manifests.ts';
import type { ManifestWriter } from './manifests.ts';
import type { Extent } from './partition-log.ts';
import type { LogGarbage } from './wal-gc.ts';

/** The metadata keys recovery reads at start. */
export interface RecoveryKeys {
  manifestKvs: KeyValue[];
  legacyKvs: KeyValue[];
  deletedKvs: KeyValue[];
  walKvs: KeyValue[];
}

export async function readRecoveryKeys(metadata: MetadataStore): Promise<RecoveryKeys> {
  const [manifestKvs, legacyKvs, deletedKvs, walKvs] = await Promise.all([
    metadata.getPrefix(partitionManifestPrefix),
    metadata.getPrefix(logStartPrefix),
    metadata.getPrefix(deletedTopicPrefix),
    metadata.getPrefix(walPrefix),
  ]);
  return { manifestKvs, legacyKvs, deletedKvs, walKvs };
}

/** What the manifests (and legacy /log-start/ keys) say at start. */
export interface RecoveredManifests {
  segmentsByPartition: Map<string, Extent[]>;
  logStarts: Map<string, number>;
  /** Producer-state snapshots of the manifests (producer-state.ts); state itself is rebuilt on first use. */
  producerSnapshots: Map<string, ProducerSnapshotRecord>;
  /** Compacted partitions' first dirty offsets (spec/compaction.md). */
  cleanedEnds: Map<string, number>;
  /** Every segment object a manifest names: never an orphan. */
  referenced: Set<string>;
  deletedTopics: Set<string>;
  deletedTopicSegments: Map<string, string[]>;
  segmentCount: number;
}

/** Step 1 of recovery. Manifests: segments and log start offsets; their revisions go to `states`. */
export function recoverManifests(keys: RecoveryKeys, topics: TopicRegistry, states: ManifestWriter, logger: Logger): RecoveredManifests {
  const r: RecoveredManifests = {
    segmentsByPartition: new Map(),
    logStarts: new Map(),
    producerSnapshots: new Map(),
    cleanedEnds: new Map(),
    referenced: new Set(),
    deletedTopics: new Set(keys.deletedKvs.map((kv) => kv.key.slice(deletedTopicPrefix.length))),
    deletedTopicSegments: new Map(),
    segmentCount: 0,
  };
  for (const kv of keys.manifestKvs) {
    const id = parsePartitionManifestKey(kv.key);
    if (!id) continue;
    const manifest = JSON.parse(kv.value) as PartitionManifest;
    for (const s of manifest.segments) r.referenced.add(s.objectKey);
    if (!topics.byId(id.topicId)) {
      if (r.deletedTopics.has(id.topicId)) {
        const list = r.deletedTopicSegments.get(id.topicId) ?? [];
        list.push(...manifest.segments.map((s) => s.objectKey));
        r.deletedTopicSegments.set(id.topicId, list);
      } else {
        logger.warn({ key: kv.key }, 'manifest of an unknown topic left alone');
      }
      continue;
    }
    const k = partitionKey(id.topicId, id.partition);
    states.loaded(k, kv.modRevision);
    r.logStarts.set(k, manifest.logStartOffset);
    if (manifest.producerState) r.producerSnapshots.set(k, manifest.producerState);
    if (manifest.cleanedEnd !== undefined) r.cleanedEnds.set(k, manifest.cleanedEnd);
    const segments = segmentExtents(manifest);
    for (let i = 1; i < segments.length; i++) {
      assert.equal(segments[i]!.baseOffset, segments[i - 1]!.lastOffset + 1, `${kv.key}: segments are contiguous`);
    }
    r.segmentCount += segments.length;
    r.segmentsByPartition.set(k, segments);
  }
  for (const kv of keys.legacyKvs) {
    const [topicId, partition] = kv.key.slice(logStartPrefix.length).split('/');
    const k = partitionKey(topicId!, Number(partition));
    r.logStarts.set(k, Math.max(r.logStarts.get(k) ?? 0, (JSON.parse(kv.value) as LogStartRecord).logStartOffset));
    states.stateOf(k).legacyLogStart = true;
  }
  return r;
}

/** A WAL object named by a /wal/ key, and its index (null when the object is missing). */
export interface WalIndexRead {
  kv: KeyValue;
  wal: WalRecord;
  entries: WalIndexEntry[] | null;
}

/** The index of the WAL object `kv` names; entries null when the object is missing. */
export async function readWalIndex(indexCache: IndexCache, kv: KeyValue, wal: WalRecord): Promise<WalIndexRead> {
  try {
    return { kv, wal, entries: await indexCache.wal(wal.objectKey, wal.sizeBytes) };
  } catch (err) {
    if (!(err instanceof ObjectNotFoundError)) throw err;
    return { kv, wal, entries: null };
  }
}

export interface RecoveredWal {
  extents: Map<string, Extent[]>;
  maxSequence: number;
  walObjects: number;
  walChunksInSegments: number;
}

/**
 * Step 2 of recovery (not in cluster mode). The WAL objects still named by /wal/ keys (tracked in `garbage`):
 * chunks not already in a segment.
 */
export async function recoverWal(
  walKvs: KeyValue[],
  segmentsByPartition: Map<string, Extent[]>,
  o: { indexCache: IndexCache; recoveryConcurrency: number; topics: TopicRegistry; garbage: LogGarbage; logger: Logger },
): Promise<RecoveredWal> {
  const indexes = await mapBounded(walKvs, o.recoveryConcurrency, async (kv) => {
    const read = await readWalIndex(o.indexCache, kv, JSON.parse(kv.value) as WalRecord);
    // Only garbage collection deletes WAL objects, and only when nothing in them is live; an older version
    // deleted the object before its key, so a crash could leave the key alone.
    if (read.entries === null) o.logger.warn({ key: kv.key, objectKey: read.wal.objectKey }, 'WAL key names a missing object; skipped');
    return read;
  });
  let maxSequence = 0;
  let walObjects = 0;
  for (const { kv, wal, entries } of indexes) {
    maxSequence = Math.max(maxSequence, walSequenceOf(kv.key));
    if (entries === null) continue;
    walObjects++;
    o.garbage.track(wal.objectKey, kv.key, wal.createdAtMs);
  }
  const { extents, chunksInSegments } = walExtentsOf(
    indexes,
    (k) => segmentsByPartition.get(k),
    (topicId) => !!o.topics.byId(topicId),
  );
  return { extents, maxSequence, walObjects, walChunksInSegments: chunksInSegments };
}

/** Cluster mode: every WAL object named by a /wal/ key, tracked; the highest sequence of this node's own keys. */
export function trackClusterWal(walKvs: KeyValue[], nodeId: number, garbage: LogGarbage): number {
  const ownPrefix = nodeWalPrefix(nodeId);
  let maxSequence = 0;
  for (const kv of walKvs) {
    const wal = JSON.parse(kv.value) as WalRecord;
    garbage.track(wal.objectKey, kv.key, wal.createdAtMs);
    if (kv.key.startsWith(ownPrefix)) maxSequence = Math.max(maxSequence, Number(kv.key.slice(ownPrefix.length)));
  }
  return maxSequence;
}

/** A partition given to this broker: its manifest key as read (null when missing), parsed, and its segments. */
export interface AssignedManifest {
  kv: KeyValue | null;
  manifest: PartitionManifest | null;
  segments: Extent[];
}

/**
 * The manifests of the partitions given to this broker, by partition key. A topic of which at least half the
 * partitions are wanted (new topics, a failover) is read with one range read, not one read per partition: 200
 * reads of a new topic's absent manifests took most of a second on a loaded machine.
 */
export async function readAssignedManifests(
  metadata: MetadataStore,
  wanted: Map<string, { topic: TopicRecord; partition: number }>,
  concurrency: number,
): Promise<Map<string, AssignedManifest>> {
  const kvs = new Map<string, { kv: KeyValue | null }>();
  const byTopic = new Map<string, { topic: TopicRecord; keys: string[] }>();
  for (const [k, w] of wanted) {
    let t = byTopic.get(w.topic.id);
    if (!t) byTopic.set(w.topic.id, (t = { topic: w.topic, keys: [] }));
    t.keys.push(k);
  }
  const singles: [string, { topic: TopicRecord; partition: number }][] = [];
  const ranged: string[] = [];
  for (const [topicId, t] of byTopic) {
    if (t.keys.length * 2 >= t.topic.partitions) ranged.push(topicId);
    else for (const k of t.keys) singles.push([k, wanted.get(k)!]);
  }
  await mapBounded(ranged, concurrency, async (topicId) => {
    for (const k of byTopic.get(topicId)!.keys) kvs.set(k, { kv: null });
    for (const kv of await metadata.getPrefix(`${partitionManifestPrefix}${topicId}/`)) {
      const id = parsePartitionManifestKey(kv.key);
      if (!id || id.topicId !== topicId) continue;
      const k = partitionKey(id.topicId, id.partition);
      if (wanted.has(k)) kvs.set(k, { kv });
    }
  });
  await mapBounded(singles, concurrency, async ([k, w]) => {
    kvs.set(k, { kv: await metadata.get(partitionManifestKey(w.topic.id, w.partition)) });
  });
  const out = new Map<string, AssignedManifest>();
  for (const [k, { kv }] of kvs) {
    const manifest = kv ? (JSON.parse(kv.value) as PartitionManifest) : null;
    out.set(k, { kv, manifest, segments: segmentExtents(manifest) });
  }
  return out;
}

/**
 * The WAL chunks of the wanted partitions that are not in one of their segments, as extents by partition key,
 * and how many chunks of wanted partitions were in segments.
 */
export function walExtentsOf(
  indexes: readonly WalIndexRead[],
  segmentsOf: (k: string) => Extent[] | undefined,
  wanted: (topicId: string, k: string) => boolean,
): { extents: Map<string, Extent[]>; chunksInSegments: number } {
  const extents = new Map<string, Extent[]>();
  let chunksInSegments = 0;
  for (const { kv, wal, entries } of indexes) {
    if (entries === null) continue;
    for (const e of entries) {
      const k = partitionKey(e.topicId, e.partition);
      if (!wanted(e.topicId, k)) continue;
      if (coveredBySegments(segmentsOf(k), e, kv.key)) {
        chunksInSegments++;
        continue;
      }
      let list = extents.get(k);
      if (!list) extents.set(k, (list = []));
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
  return { extents, chunksInSegments };
}

/**
 * Whether a WAL chunk is already in one of the partition's segments (then the segment is read instead). A
 * segment is a union of whole chunks, so a chunk is either inside one or clear of all: a partial overlap is
 * corruption, and recovery stops rather than serve a log with two versions of some offsets.
 */
function coveredBySegments(segments: Extent[] | undefined, e: WalIndexEntry, walKey: string): boolean {
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
