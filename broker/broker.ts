// Assembles one broker: metadata store, object store, topics, logs, the Kafka listener and the ops endpoint.
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.ts';
import type { BrokerServices } from './handlers/context.ts';
import { buildHandlerTable } from './handlers/index.ts';
import { GroupCoordinator } from './groups/coordinator.ts';
import { TxnService } from './txn/service.ts';
import { ConsumerGroupCoordinator } from './groups/consumer-coordinator.ts';
import { SingleBrokerCluster } from './cluster/cluster.ts';
import type { Cluster } from './cluster/cluster.ts';
import { EtcdCluster } from './cluster/etcd-cluster.ts';
import { clusterEnabled } from './config.ts';
import { readFile, writeFile } from 'node:fs/promises';
import { firstGeneratedNodeId, nodeIdCounterKey } from './metadata/layout.ts';
import { LogManager } from './log/log-manager.ts';
import { producerStateStats } from './log/producer-state.ts';
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

/** How often the controller looks for WAL objects nothing needs any more (cluster mode). */
const walCollectionIntervalMs = 30_000;
/** A WAL object younger than this is never collected by the global pass. */
const walCollectionMinAgeMs = 60_000;

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

export interface RunningBroker {
  /** The Kafka listener's bound port (useful with port 0). */
  readonly port: number;
  readonly opsPort: number | null;
  readonly services: BrokerServices;
  readonly metrics: Metrics;
  /** Resolves if the broker can no longer serve (cluster membership lost): the process should restart it. */
  readonly failed: Promise<Error>;
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
  const clusterId = await loadClusterId(metadata, config.clusterId);
  const topics = new TopicRegistry(metadata);
  await topics.load();
  const clustered = clusterEnabled(config);
  const nodeId = await resolveNodeId(metadata, config.nodeId, config.dataDir);
  let reportFailure!: (e: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const etcdCluster = clustered
    ? new EtcdCluster({
        store: metadata,
        topics,
        sessionTimeoutMs: config.brokerSessionTimeoutMs,
        logger: logger.child({ component: 'cluster' }),
        self: {
          nodeId,
          host: advertised.host,
          port: advertised.port,
          rack: config.brokerRack,
          incarnation: randomBytes(6).toString('hex'),
        },
        onMembershipLost: (e) => reportFailure(e),
      })
    : null;
  const logs = new LogManager({
    metadata,
    objectStore,
    topics,
    nodeId,
    cluster: etcdCluster ? { extraFence: () => etcdCluster.fence() } : undefined,
    host: advertised.host,
    port: advertised.port,
    flushSizeBytes: config.flushSizeBytes,
    flushLingerMs: config.flushLingerMs,
    maxConcurrentFlushes,
    cacheSegmentBytes: config.cacheSegmentBytes,
    cacheIndexBytes: config.cacheIndexBytes,
    readaheadBytes: config.readaheadBytes,
    prefetchMaxInflightBytes: config.prefetchMaxInflightBytes,
    recoveryConcurrency,
    compaction: {
      intervalMs: config.compactionIntervalMs,
      targetBytes: config.segmentTargetBytes,
      minAgeMs: config.compactionMinAgeMs,
      maxAgeMs: config.compactionMaxAgeMs,
      maxPassBytes: compactionPassBytes(config.segmentTargetBytes),
      producerState: { expirationMs: config.producerIdExpirationMs, maxProducers: config.producerStateMaxProducers },
    },
    logger: logger.child({ component: 'log' }),
    retentionOf: (topic) => ({
      retentionMs: topicNumber(topic, 'retention.ms', config),
      retentionBytes: topicNumber(topic, 'retention.bytes', config),
      deleteEnabled: topicConfigValue(topic, 'cleanup.policy', config)
        .split(',')
        .map((p) => p.trim())
        .includes('delete'),
    }),
  });
  await logs.start();
  if (config.compactionEnable) logs.startCompaction();

  const single = etcdCluster
    ? null
    : new SingleBrokerCluster({ nodeId, host: advertised.host, port: advertised.port, rack: config.brokerRack }, () => logs.fence());
  const cluster: Cluster = etcdCluster ?? single!;
  const groups = new GroupCoordinator({
    metadata,
    cluster,
    logger: logger.child({ component: 'groups' }),
    options: {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      maxGroupSize: config.groupMaxSize,
      maxGroups: config.groupMaxGroups,
      maxRecordBytes: config.groupMaxRecordBytes,
      offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
      retentionCheckIntervalMs: config.offsetsRetentionCheckIntervalMs,
      offsetMetadataMaxBytes: config.offsetMetadataMaxBytes,
    },
  });
  const consumerGroups = new ConsumerGroupCoordinator({
    metadata,
    cluster,
    topics,
    logger: logger.child({ component: 'consumer-groups' }),
    options: {
      heartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
      sessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
      maxSize: config.groupConsumerMaxSize,
      assignors: config.groupConsumerAssignors,
      maxSubscribedTopics: config.groupConsumerMaxSubscribedTopics,
      maxRecordBytes: config.groupMaxRecordBytes,
      maxGroups: config.groupMaxGroups,
      cleanupIntervalMs: config.offsetsRetentionCheckIntervalMs,
    },
  });
  consumerGroups.setClassicGroups(groups);
  groups.attachConsumerGroups(consumerGroups);
  await Promise.all([groups.start(), consumerGroups.start()]);
  const txn = new TxnService({ metadata, cluster, logger: logger.child({ component: 'txn' }), config, groups });
  const services: BrokerServices = {
    config,
    nodeId,
    clusterId,
    advertisedHost: advertised.host,
    advertisedPort: advertised.port,
    logs,
    cluster,
    topics,
    metadata,
    logger,
    storageHealth,
    adminLock: mutex(),
    groups,
    consumerGroups,
    txn,
  };
  await txn.start(services);
  const server = await startKafkaServer({
    host: listener.host,
    port: listener.port,
    handlers: buildHandlerTable(),
    services,
    logger: logger.child({ component: 'net' }),
    idleTimeoutMs: config.connectionsMaxIdleMs,
    limits: {
      maxFrameBytes: config.socketRequestMaxBytes,
      maxInFlightRequests: config.connectionMaxInflightRequests,
      maxInFlightBytes: config.connectionMaxInflightBytes,
    },
  });
  // With port 0 the advertised port follows the bound one.
  if (advertised.port === 0) {
    services.advertisedPort = server.port;
    (etcdCluster ?? single!).setAdvertisedPort(server.port);
  }
  let walTimer: NodeJS.Timeout | null = null;
  if (etcdCluster) {
    await etcdCluster.join();
    await etcdCluster.start({
      acquire: (parts) => logs.acquire(parts),
      release: (topicId, partition) => logs.releasePartition(topicId, partition),
      drop: (topicId, partition) => logs.drop(topicId, partition),
      holds: (topicId, partition) => logs.partition(topicId, partition) !== undefined,
      held: () => logs.held(),
    });
    // A topic deleted through another broker: this broker's groups forget its committed offsets too.
    etcdCluster.onTopicDeleted((name) => {
      groups.onTopicDeleted(name).catch((err) => logger.warn({ err, topic: name }, 'removing offsets of a deleted topic failed'));
    });
    let collecting = false;
    walTimer = setInterval(() => {
      if (collecting || etcdCluster.controllerId() !== nodeId) return;
      collecting = true;
      logs
        .collectWalGlobally(walCollectionMinAgeMs)
        .catch((err) => logger.warn({ err }, 'WAL collection failed'))
        .finally(() => (collecting = false));
    }, walCollectionIntervalMs);
    walTimer.unref();
  }

  const metrics = new Metrics({ version: '0.1.0' });
  registerMetrics(metrics, services, rawObjectStore, replicaReads, () => server.connectionCount);
  let ops: OpsServer | null = null;
  if (config.httpListener) {
    ops = await startOpsServer({
      listener: config.httpListener,
      registry: metrics.registry,
      logger: logger.child({ component: 'ops' }),
      isLive: () => true,
      isReady: () => {
        if (logs.fenced) return { ready: false, reason: `fenced: ${logs.fenced.message}` };
        if (storageHealth.state === 'unavailable')
          return { ready: false, reason: `object store unavailable: ${storageHealth.stateReason}` };
        return { ready: true };
      },
    });
  }

  let retentionRunning = false;
  const retentionTimer = setInterval(() => {
    if (retentionRunning) return;
    retentionRunning = true;
    logs
      .enforceRetention(Date.now())
      .catch((err) => logger.warn({ err }, 'retention pass failed'))
      .finally(() => (retentionRunning = false));
  }, config.logRetentionCheckIntervalMs);
  retentionTimer.unref();

  logger.info({ clusterId, nodeId, clustered, dataDir: config.dataDir, port: server.port }, 'broker started');
  let closing: Promise<void> | null = null;
  return {
    port: server.port,
    opsPort: ops?.address.port ?? null,
    services,
    metrics,
    failed,
    close() {
      closing ??= (async () => {
        if (etcdCluster) {
          logger.info('shutting down: handing partitions over to other brokers');
          const handedOver = await etcdCluster.drain(shutdownGraceMs / 2);
          logger.info({ handedOver }, handedOver ? 'every partition handed over' : 'no handover (no other broker, or it timed out)');
        }
        logger.info('shutting down: answering in-flight requests and flushing');
        clearInterval(retentionTimer);
        clearInterval(healthTimer);
        if (walTimer) clearInterval(walTimer);
        const serverClosed = server.close(shutdownGraceMs);
        // Delayed JoinGroup/SyncGroup responses are answered (NOT_COORDINATOR) rather than held to the grace period.
        const groupsClosed = Promise.all([groups.close(), consumerGroups.close(), txn.close()]);
        logs.flusher.flushNow();
        await serverClosed;
        await groupsClosed;
        await logs.close(shutdownGraceMs);
        await etcdCluster?.close();
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

function registerMetrics(
  metrics: Metrics,
  s: BrokerServices,
  store: { stats(): { requests: Record<string, number> } },
  replicas: ReplicaReadObjectStore | null,
  connections: () => number,
): void {
  if (replicas) {
    metrics.gauge({
      name: 'read_replica',
      help: 'Read replicas: hits, fallbacks on missing objects and on errors, and replication lag seen (ms).',
      labelNames: ['replica', 'figure'],
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
  metrics.gauge({
    name: 'object_store_health_state',
    help: 'Object store health: 0 healthy, 1 degraded, 2 unavailable.',
    collect() {
      this.set(healthStateValue[h.evaluate()]);
    },
  });
  metrics.gauge({
    name: 'object_store_health_transitions',
    help: 'Health state changes since start.',
    collect() {
      this.set(h.transitions.length);
    },
  });
  metrics.gauge({
    name: 'object_store_window',
    help: 'Object store calls in the health window: calls, failures, error rate, p99 latency (ms).',
    labelNames: ['figure'],
    collect() {
      const w = h.window();
      this.set({ figure: 'calls' }, w.calls);
      this.set({ figure: 'failures' }, w.failures);
      this.set({ figure: 'error_rate' }, w.errorRate);
      this.set({ figure: 'p99_ms' }, w.p99Ms);
    },
  });
  metrics.gauge({
    name: 'object_store_health_threshold',
    help: 'Configured health thresholds.',
    labelNames: ['threshold'],
    collect() {
      for (const [k, v] of Object.entries(h.thresholds)) this.set({ threshold: k }, v);
    },
  });
  const flush = () => s.logs.flusher.stats;
  metrics.gauge({
    name: 'connections',
    help: 'Open Kafka client connections.',
    collect() {
      this.set(connections());
    },
  });
  metrics.gauge({
    name: 'topics',
    help: 'Topics.',
    collect() {
      this.set(s.topics.all().length);
    },
  });
  metrics.gauge({
    name: 'consumer_groups',
    help: 'Consumer groups this broker coordinates (in memory).',
    collect() {
      this.set(s.groups.groupCount);
    },
  });
  metrics.gauge({
    name: 'unflushed_bytes',
    help: 'Bytes appended and not yet durable.',
    collect() {
      this.set(s.logs.flusher.unflushedBytes);
    },
  });
  metrics.gauge({
    name: 'flushes',
    help: 'WAL objects written since start.',
    collect() {
      this.set(flush().flushes);
    },
  });
  metrics.gauge({
    name: 'flush_object_bytes',
    help: 'Bytes of WAL objects written since start.',
    collect() {
      this.set(flush().objectBytes);
    },
  });
  metrics.gauge({
    name: 'segment_cache_bytes',
    help: 'Bytes held by the L1 segment cache.',
    collect() {
      this.set(s.logs.cache.sizeBytes);
    },
  });
  metrics.gauge({
    name: 'segment_cache_hits',
    help: 'L1 segment cache hits since start.',
    collect() {
      this.set(s.logs.cache.stats.hits);
    },
  });
  metrics.gauge({
    name: 'segment_cache_misses',
    help: 'L1 segment cache misses since start.',
    collect() {
      this.set(s.logs.cache.stats.misses);
    },
  });
  const compaction = () => s.logs.compactor.stats;
  metrics.gauge({
    name: 'compaction_segments_written',
    help: 'Segment objects written by compaction and committed, since start.',
    collect() {
      this.set(compaction().segmentsWritten);
    },
  });
  metrics.gauge({
    name: 'compaction_bytes',
    help: 'Bytes of record batches moved into committed segments, since start.',
    collect() {
      this.set(compaction().bytesCompacted);
    },
  });
  metrics.gauge({
    name: 'idempotent_producers',
    help: 'Idempotent producers since start: duplicates answered with their original offset, out_of_order and invalid_epoch refusals, producers evicted, producer-state rebuilds and the batches, bytes and ms they took.',
    labelNames: ['figure'],
    collect() {
      for (const [figure, value] of Object.entries(producerStateStats)) this.set({ figure }, value);
    },
  });
  metrics.gauge({
    name: 'compaction_passes',
    help: 'Compaction passes that found work, since start.',
    collect() {
      this.set(compaction().passes);
    },
  });
  metrics.gauge({
    name: 'compaction_failed_passes',
    help: 'Compaction passes that failed (retried at the next interval), since start.',
    collect() {
      this.set(compaction().failedPasses);
    },
  });
  metrics.gauge({
    name: 'compaction_segments_abandoned',
    help: 'Segment objects written whose commit was refused or abandoned, since start.',
    collect() {
      this.set(compaction().segmentsAbandoned);
    },
  });
  metrics.gauge({
    name: 'wal_objects_deleted',
    help: 'WAL objects deleted (with their metadata keys) once nothing in them was live, since start.',
    collect() {
      this.set(s.logs.stats.walObjectsDeleted);
    },
  });
  metrics.gauge({
    name: 'segments_deleted',
    help: 'Segment objects deleted (retention, DeleteRecords, topic deletion, merges), since start.',
    collect() {
      this.set(s.logs.stats.segmentsDeleted);
    },
  });
  metrics.gauge({
    name: 'wal_indexes_warmed',
    help: "Cluster mode: other brokers' WAL object indexes read ahead of a failover, since start.",
    collect() {
      this.set(s.logs.walIndexWarmer?.stats.warmed ?? 0);
    },
  });
  metrics.gauge({
    name: 'wal_indexes_warm_dropped',
    help: 'Cluster mode: WAL objects dropped from the full warming queue (a failover reads their index itself), since start.',
    collect() {
      this.set(s.logs.walIndexWarmer?.stats.dropped ?? 0);
    },
  });
  metrics.gauge({
    name: 'index_cache_bytes',
    help: 'Bytes held by the L2 index cache.',
    collect() {
      this.set(s.logs.indexCache.sizeBytes);
    },
  });
  metrics.gauge({
    name: 'index_cache_hits',
    help: 'L2 index cache hits since start.',
    collect() {
      this.set(s.logs.indexCache.stats.hits);
    },
  });
  metrics.gauge({
    name: 'index_cache_misses',
    help: 'L2 index cache misses since start.',
    collect() {
      this.set(s.logs.indexCache.stats.misses);
    },
  });
  metrics.gauge({
    name: 'object_store_requests',
    help: 'Object store requests since start, by operation.',
    labelNames: ['op'],
    collect() {
      const st = store.stats();
      for (const [op, n] of Object.entries(st.requests)) this.set({ op }, n);
    },
  });
}
