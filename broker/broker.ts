// Assembles one broker: metadata store, object store, topics, logs, the Kafka listener and the ops endpoint.
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.ts';
import type { BrokerServices } from './handlers/context.ts';
import { buildHandlerTable } from './handlers/index.ts';
import { SingleBrokerCluster } from './cluster/cluster.ts';
import { LogManager } from './log/log-manager.ts';
import { topicConfigValue, topicNumber } from './log/topic-config.ts';
import { EmbeddedMetadataStore } from './metadata/embedded.ts';
import { clusterKey } from './metadata/layout.ts';
import type { MetadataStore } from './metadata/store.ts';
import { TopicRegistry } from './metadata/topics.ts';
import { startOpsServer } from './ops/http.ts';
import type { OpsServer } from './ops/http.ts';
import { Metrics } from './ops/metrics.ts';
import { startKafkaServer } from './server/server.ts';
import { ObjectStoreHealth } from './storage/health.ts';
import type { HealthState } from './storage/health.ts';
import { LocalObjectStore } from './storage/local-object-store.ts';
import { ObservedObjectStore } from './storage/observed-object-store.ts';
import { ReplicaReadObjectStore } from './storage/replica-object-store.ts';
import { S3ObjectStore } from './storage/s3-object-store.ts';
import { EtcdMetadataStore, etcdStoreOptions } from './metadata/etcd.ts';

/** How long a graceful shutdown waits for in-flight requests and the last flush. */
export const shutdownGraceMs = 30000;
const maxConcurrentFlushes = 4;
const recoveryConcurrency = 16;
const healthEvaluateIntervalMs = 1000;
const healthProbeKey = 'health/probe';

/** Bytes one compaction pass reads and builds in memory: four segments, at most 256 MiB (or one segment if larger). */
function compactionPassBytes(segmentTargetBytes: number): number {
  return Math.max(segmentTargetBytes, Math.min(4 * segmentTargetBytes, 256 * 1024 * 1024));
}

export interface RunningBroker {
  /** The Kafka listener's bound port (useful with port 0). */
  readonly port: number;
  readonly opsPort: number | null;
  readonly services: BrokerServices;
  readonly metrics: Metrics;
  close(): Promise<void>;
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

function mutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
}

export async function startBroker(config: BrokerConfig, logger: Logger): Promise<RunningBroker> {
  const listener = config.listeners[0]!;
  const advertised = config.advertisedListeners[0] ?? listener;
  await mkdir(config.dataDir, { recursive: true });
  const metadata: MetadataStore = config.metadataStore === 'etcd'
    ? await EtcdMetadataStore.open(etcdStoreOptions(config))
    : await EmbeddedMetadataStore.open(config.dataDir);
  const rawObjectStore = config.objectStore === 's3' ? S3ObjectStore.fromConfig(config) : await LocalObjectStore.open(join(config.dataDir, 'objects'));
  const replicaReads = config.objectStore === 's3' && config.s3ReadReplicas.length > 0
    ? new ReplicaReadObjectStore(rawObjectStore, config.s3ReadReplicas.map((r) => ({
      name: r.name,
      store: S3ObjectStore.fromConfig(config, { bucket: r.bucket, region: r.region, endpoint: r.endpoint ?? undefined }),
    })))
    : null;
  const storageHealth = new ObjectStoreHealth({
    windowMs: config.storageHealthWindowMs,
    minCallsForRates: config.storageHealthMinCalls,
    degradedErrorRate: config.storageHealthDegradedErrorRate,
    degradedP99Ms: config.storageHealthDegradedP99Ms,
    unavailableErrorRate: config.storageHealthUnavailableErrorRate,
    unavailableConsecutiveFailures: config.storageHealthUnavailableConsecutiveFailures,
    unavailableStallMs: config.storageHealthUnavailableStallMs,
    recoveryHoldMs: config.storageHealthRecoveryHoldMs,
  });
  const objectStore = new ObservedObjectStore(replicaReads ?? rawObjectStore, storageHealth);
  storageHealth.onTransition((tr) => logger[tr.to === 'healthy' ? 'info' : 'warn']({ from: tr.from, to: tr.to, reason: tr.reason }, 'object store health changed'));
  // Re-evaluated periodically too, so a stalled call is noticed without further calls.
  // While not healthy, a cheap probe (HEAD of a key that need not exist) gives the tracker fresh evidence even
  // when no traffic reaches the store (producers fail fast while it is unavailable), so recovery is noticed.
  let probing = false;
  const healthTimer = setInterval(() => {
    if (storageHealth.evaluate() === 'healthy' || probing) return;
    probing = true;
    objectStore.head(healthProbeKey).catch(() => {}).finally(() => (probing = false));
  }, healthEvaluateIntervalMs);
  healthTimer.unref();
  const clusterId = await loadClusterId(metadata, config.clusterId);
  const topics = new TopicRegistry(metadata);
  await topics.load();
  const logs = new LogManager({
    metadata, objectStore, topics, nodeId: config.nodeId, host: advertised.host, port: advertised.port,
    flushSizeBytes: config.flushSizeBytes, flushLingerMs: config.flushLingerMs, maxConcurrentFlushes,
    cacheSegmentBytes: config.cacheSegmentBytes, cacheIndexBytes: config.cacheIndexBytes, readaheadBytes: config.readaheadBytes, recoveryConcurrency,
    compaction: {
      intervalMs: config.compactionIntervalMs, targetBytes: config.segmentTargetBytes, minAgeMs: config.compactionMinAgeMs,
      maxAgeMs: config.compactionMaxAgeMs, maxPassBytes: compactionPassBytes(config.segmentTargetBytes),
    },
    logger: logger.child({ component: 'log' }),
    retentionOf: (topic) => ({
      retentionMs: topicNumber(topic, 'retention.ms', config),
      retentionBytes: topicNumber(topic, 'retention.bytes', config),
      deleteEnabled: topicConfigValue(topic, 'cleanup.policy', config).split(',').map((p) => p.trim()).includes('delete'),
    }),
  });
  await logs.start();
  if (config.compactionEnable) logs.startCompaction();

  const cluster = new SingleBrokerCluster({ nodeId: config.nodeId, host: advertised.host, port: advertised.port, rack: null }, () => logs.fence());
  const services: BrokerServices = {
    config, nodeId: config.nodeId, clusterId, advertisedHost: advertised.host, advertisedPort: advertised.port,
    logs, cluster, topics, metadata, logger, storageHealth, adminLock: mutex(),
  };
  const server = await startKafkaServer({
    host: listener.host, port: listener.port, handlers: buildHandlerTable(), services, logger: logger.child({ component: 'net' }),
    idleTimeoutMs: config.connectionsMaxIdleMs,
    limits: { maxFrameBytes: config.socketRequestMaxBytes, maxInFlightRequests: config.connectionMaxInflightRequests, maxInFlightBytes: config.connectionMaxInflightBytes },
  });
  // With port 0 the advertised port follows the bound one.
  if (advertised.port === 0) {
    services.advertisedPort = server.port;
    cluster.setAdvertisedPort(server.port);
  }

  const metrics = new Metrics({ version: '0.1.0' });
  registerMetrics(metrics, services, rawObjectStore, replicaReads, () => server.connectionCount);
  let ops: OpsServer | null = null;
  if (config.httpListener) {
    ops = await startOpsServer({
      listener: config.httpListener, registry: metrics.registry, logger: logger.child({ component: 'ops' }),
      isLive: () => true,
      isReady: () => {
        if (logs.fenced) return { ready: false, reason: `fenced: ${logs.fenced.message}` };
        if (storageHealth.state === 'unavailable') return { ready: false, reason: `object store unavailable: ${storageHealth.stateReason}` };
        return { ready: true };
      },
    });
  }

  let retentionRunning = false;
  const retentionTimer = setInterval(() => {
    if (retentionRunning) return;
    retentionRunning = true;
    logs.enforceRetention(Date.now()).catch((err) => logger.warn({ err }, 'retention pass failed')).finally(() => (retentionRunning = false));
  }, config.logRetentionCheckIntervalMs);
  retentionTimer.unref();

  logger.info({ clusterId, nodeId: config.nodeId, dataDir: config.dataDir, port: server.port }, 'broker started');
  let closing: Promise<void> | null = null;
  return {
    port: server.port,
    opsPort: ops?.address.port ?? null,
    services,
    metrics,
    close() {
      closing ??= (async () => {
        logger.info('shutting down: answering in-flight requests and flushing');
        clearInterval(retentionTimer);
        clearInterval(healthTimer);
        const serverClosed = server.close(shutdownGraceMs);
        logs.flusher.flushNow();
        await serverClosed;
        await logs.close(shutdownGraceMs);
        await ops?.close();
        await objectStore.close();
        await metadata.close();
        logger.info('broker stopped');
      })();
      return closing;
    },
  };
}

const healthStateValue: Record<HealthState, number> = { healthy: 0, degraded: 1, unavailable: 2 };

function registerMetrics(metrics: Metrics, s: BrokerServices, store: { stats(): { requests: Record<string, number> } }, replicas: ReplicaReadObjectStore | null, connections: () => number): void {
  if (replicas) {
    metrics.gauge({
      name: 'read_replica', help: 'Read replicas: hits, fallbacks on missing objects and on errors, and replication lag seen (ms).', labelNames: ['replica', 'figure'],
      collect() {
        for (const r of replicas.stats) {
          this.set({ replica: r.name, figure: 'hits' }, r.hits);
          this.set({ replica: r.name, figure: 'miss_fallbacks' }, r.missFallbacks);
          this.set({ replica: r.name, figure: 'error_fallbacks' }, r.errorFallbacks);
          this.set({ replica: r.name, figure: 'max_observed_lag_ms' }, r.maxObservedLagMs);
          this.set({ replica: r.name, figure: 'last_observed_lag_ms' }, r.lastObservedLagMs);
        }
      },
    });
  }
  const h = s.storageHealth;
  metrics.gauge({ name: 'object_store_health_state', help: 'Object store health: 0 healthy, 1 degraded, 2 unavailable.', collect() { this.set(healthStateValue[h.evaluate()]); } });
  metrics.gauge({ name: 'object_store_health_transitions', help: 'Health state changes since start.', collect() { this.set(h.transitions.length); } });
  metrics.gauge({
    name: 'object_store_window', help: 'Object store calls in the health window: calls, failures, error rate, p99 latency (ms).', labelNames: ['figure'],
    collect() {
      const w = h.window();
      this.set({ figure: 'calls' }, w.calls);
      this.set({ figure: 'failures' }, w.failures);
      this.set({ figure: 'error_rate' }, w.errorRate);
      this.set({ figure: 'p99_ms' }, w.p99Ms);
    },
  });
  metrics.gauge({
    name: 'object_store_health_threshold', help: 'Configured health thresholds.', labelNames: ['threshold'],
    collect() {
      for (const [k, v] of Object.entries(h.thresholds)) this.set({ threshold: k }, v);
    },
  });
  const flush = () => s.logs.flusher.stats;
  metrics.gauge({ name: 'connections', help: 'Open Kafka client connections.', collect() { this.set(connections()); } });
  metrics.gauge({ name: 'topics', help: 'Topics.', collect() { this.set(s.topics.all().length); } });
  metrics.gauge({ name: 'unflushed_bytes', help: 'Bytes appended and not yet durable.', collect() { this.set(s.logs.flusher.unflushedBytes); } });
  metrics.gauge({ name: 'flushes', help: 'WAL objects written since start.', collect() { this.set(flush().flushes); } });
  metrics.gauge({ name: 'flush_object_bytes', help: 'Bytes of WAL objects written since start.', collect() { this.set(flush().objectBytes); } });
  metrics.gauge({ name: 'segment_cache_bytes', help: 'Bytes held by the L1 segment cache.', collect() { this.set(s.logs.cache.sizeBytes); } });
  metrics.gauge({ name: 'segment_cache_hits', help: 'L1 segment cache hits since start.', collect() { this.set(s.logs.cache.stats.hits); } });
  metrics.gauge({ name: 'segment_cache_misses', help: 'L1 segment cache misses since start.', collect() { this.set(s.logs.cache.stats.misses); } });
  const compaction = () => s.logs.compactor.stats;
  metrics.gauge({ name: 'compaction_segments_written', help: 'Segment objects written by compaction and committed, since start.', collect() { this.set(compaction().segmentsWritten); } });
  metrics.gauge({ name: 'compaction_bytes', help: 'Bytes of record batches moved into committed segments, since start.', collect() { this.set(compaction().bytesCompacted); } });
  metrics.gauge({ name: 'compaction_passes', help: 'Compaction passes that found work, since start.', collect() { this.set(compaction().passes); } });
  metrics.gauge({ name: 'compaction_failed_passes', help: 'Compaction passes that failed (retried at the next interval), since start.', collect() { this.set(compaction().failedPasses); } });
  metrics.gauge({ name: 'compaction_segments_abandoned', help: 'Segment objects written whose commit was refused or abandoned, since start.', collect() { this.set(compaction().segmentsAbandoned); } });
  metrics.gauge({ name: 'wal_objects_deleted', help: 'WAL objects deleted (with their metadata keys) once nothing in them was live, since start.', collect() { this.set(s.logs.stats.walObjectsDeleted); } });
  metrics.gauge({ name: 'segments_deleted', help: 'Segment objects deleted (retention, DeleteRecords, topic deletion, merges), since start.', collect() { this.set(s.logs.stats.segmentsDeleted); } });
  metrics.gauge({ name: 'index_cache_bytes', help: 'Bytes held by the L2 index cache.', collect() { this.set(s.logs.indexCache.sizeBytes); } });
  metrics.gauge({ name: 'index_cache_hits', help: 'L2 index cache hits since start.', collect() { this.set(s.logs.indexCache.stats.hits); } });
  metrics.gauge({ name: 'index_cache_misses', help: 'L2 index cache misses since start.', collect() { this.set(s.logs.indexCache.stats.misses); } });
  metrics.gauge({
    name: 'object_store_requests', help: 'Object store requests since start, by operation.', labelNames: ['op'],
    collect() {
      const st = store.stats();
      for (const [op, n] of Object.entries(st.requests)) this.set({ op }, n);
    },
  });
}
