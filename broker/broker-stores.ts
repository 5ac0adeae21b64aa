// What a broker opens first: its data directory, the metadata and object stores (with read replicas and the
// health tracker), the cluster id and this broker's node id.
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { firstGeneratedNodeId, nodeIdCounterKey } from './metadata/layout.ts';
import { EmbeddedMetadataStore } from './metadata/embedded.ts';
import { clusterKey } from './metadata/layout.ts';
import type { MetadataStore } from './metadata/store.ts';
import { TopicRegistry } from './metadata/topics.ts';
import { defaultHealthThresholds, EventLoopStallMeter, localStoreHealthThresholds, ObjectStoreHealth } from './storage/health.ts';
import { LocalObjectStore } from './storage/local-object-store.ts';
import { ObservedObjectStore } from './storage/observed-object-store.ts';
import { ReplicaReadObjectStore } from './storage/replica-object-store.ts';
import { S3ObjectStore } from './storage/s3-object-store.ts';
import { EtcdMetadataStore, etcdStoreOptions } from './metadata/etcd.ts';
import { healthEvaluateIntervalMs } from './limits.ts';

/** The key the health tracker HEADs to probe an unavailable object store (it need not exist). */
const healthProbeKey = 'health/probe';

/**
 * node.id=-1 in cluster mode: the id kept in log.dirs from an earlier start, else the next one of the cluster's
 * counter (from 1001, as Kafka's generated ids), written to log.dirs before it is used.
 */
async function resolveNodeId(store: MetadataStore, configured: number, dataDir: string): Promise<number> {
  if (configured >= 0) return configured;
  const file = join(dataDir, 'node-id');
  const kept = await readFile(file, 'utf8').then(
    (t) => Number(t.trim()),
    () => null,
  );
  if (kept !== null && Number.isInteger(kept) && kept >= 0) return kept;
  for (;;) {
    const kv = await store.get(nodeIdCounterKey);
    const next = kv ? (JSON.parse(kv.value) as { next: number }).next : firstGeneratedNodeId;
    const r = await store.txn(
      [{ key: nodeIdCounterKey, target: 'modRevision', op: '=', value: kv?.modRevision ?? 0 }],
      [{ type: 'put', key: nodeIdCounterKey, value: JSON.stringify({ next: next + 1 }) }],
    );
    if (!r.succeeded) continue;
    await writeFile(file, `${next}\n`);
    return next;
  }
}

async function loadClusterId(store: MetadataStore, configured: string | null): Promise<string> {
  const existing = await store.get(clusterKey);
  if (existing) {
    const { clusterId } = JSON.parse(existing.value) as { clusterId: string };
    if (configured !== null && configured !== clusterId) {
      throw new Error(`skafos.cluster.id is ${configured} but the metadata store belongs to cluster ${clusterId}`);
    }
    return clusterId;
  }
  const clusterId = configured ?? randomBytes(16).toString('base64url');
  const value = JSON.stringify({ clusterId, createdAtMs: Date.now() });
  const r = await store.txn([{ key: clusterKey, target: 'createRevision', op: '=', value: 0 }], [{ type: 'put', key: clusterKey, value }]);
  return r.succeeded ? clusterId : loadClusterId(store, configured);
}

/** The data directory, the stores, the cluster id, the topics and this broker's node id. */
export async function openBase(config: BrokerConfig, logger: Logger) {
  await mkdir(config.dataDir, { recursive: true });
  const stores = await openStores(config, logger);
  const clusterId = await loadClusterId(stores.metadata, config.clusterId);
  const topics = new TopicRegistry(stores.metadata);
  await topics.load();
  const nodeId = await resolveNodeId(stores.metadata, config.nodeId, config.dataDir);
  return { stores, clusterId, topics, nodeId };
}

export interface Stores {
  metadata: MetadataStore;
  /** The object store as configured (its request counts are a metric). */
  rawObjectStore: LocalObjectStore | S3ObjectStore;
  replicaReads: ReplicaReadObjectStore | null;
  storageHealth: ObjectStoreHealth;
  /** What the broker uses: read replicas if any, observed by the health tracker. */
  objectStore: ObservedObjectStore;
  healthTimer: NodeJS.Timeout;
  /** Event-loop stalls, left out of the store's call latencies. */
  loopStalls: EventLoopStallMeter;
}

/** The metadata store and the object store (with its read replicas and health tracking). */
async function openStores(config: BrokerConfig, logger: Logger): Promise<Stores> {
  const metadata: MetadataStore =
    config.metadataStore === 'etcd'
      ? await EtcdMetadataStore.open(etcdStoreOptions(config))
      : await EmbeddedMetadataStore.open(config.dataDir);
  const rawObjectStore =
    config.objectStore === 's3' ? S3ObjectStore.fromConfig(config) : await LocalObjectStore.open(join(config.dataDir, 'objects'));
  const replicaReads =
    config.objectStore === 's3' && config.s3ReadReplicas.length > 0
      ? new ReplicaReadObjectStore(
          rawObjectStore,
          config.s3ReadReplicas.map((r) => ({
            name: r.name,
            store: S3ObjectStore.fromConfig(config, { bucket: r.bucket, region: r.region, endpoint: r.endpoint ?? undefined }),
          })),
        )
      : null;
  // Call latencies leave out event-loop stalls (CPU starvation, long synchronous work): they are not the store's.
  const loopStalls = new EventLoopStallMeter().start();
  const storeDefaults =
    config.objectStore === 's3' ? defaultHealthThresholds : { ...defaultHealthThresholds, ...localStoreHealthThresholds };
  const storageHealth = new ObjectStoreHealth(
    {
      windowMs: config.storageHealthWindowMs,
      minCallsForRates: config.storageHealthMinCalls,
      degradedErrorRate: config.storageHealthDegradedErrorRate,
      degradedP99Ms: config.storageHealthDegradedP99Ms ?? storeDefaults.degradedP99Ms,
      unavailableErrorRate: config.storageHealthUnavailableErrorRate,
      unavailableConsecutiveFailures: config.storageHealthUnavailableConsecutiveFailures,
      unavailableStallMs: config.storageHealthUnavailableStallMs,
      recoveryHoldMs: config.storageHealthRecoveryHoldMs,
    },
    Date.now,
    loopStalls,
  );
  const objectStore = new ObservedObjectStore(replicaReads ?? rawObjectStore, storageHealth);
  storageHealth.onTransition((tr) =>
    logger[tr.to === 'healthy' ? 'info' : 'warn']({ from: tr.from, to: tr.to, reason: tr.reason }, 'object store health changed'),
  );
  // Re-evaluated periodically too, so a stalled call is noticed without further calls.
  // While not healthy, a cheap probe (HEAD of a key that need not exist) gives the tracker fresh evidence even
  // when no traffic reaches the store (producers fail fast while it is unavailable), so recovery is noticed.
  let probing = false;
  const healthTimer = setInterval(() => {
    if (storageHealth.evaluate() === 'healthy' || probing) return;
    probing = true;
    objectStore
      .head(healthProbeKey)
      .catch(() => {})
      .finally(() => (probing = false));
  }, healthEvaluateIntervalMs);
  healthTimer.unref();
  return { metadata, rawObjectStore, replicaReads, storageHealth, objectStore, healthTimer, loopStalls };
}
