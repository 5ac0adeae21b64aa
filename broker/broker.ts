import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BrokerConfig } from './config.ts';
import type { BrokerServices } from './handlers/context.ts';
import { buildHandlerTable } from './handlers/index.ts';
import { GroupCoordinator } from './groups/coordinator.ts';
import { TxnService } from './txn/service.ts';
import { ConsumerGroupCoordinator } from './groups/consumer-coordinator.ts';
import { SingleBrokerCluster } from './cluster/cluster.ts';
import type { Cluster, ListenerEndpoint } from './cluster/cluster.ts';
import type { KafkaServer } from './server/server.ts';
import { EtcdCluster } from './cluster/etcd-cluster.ts';
import { clusterEnabled } from './config.ts';
import { LogManager } from './log/log-manager.ts';
import { topicConfigValue, topicNumber } from './log/topic-config.ts';
import type { MetadataStore } from './metadata/store.ts';
import type { TopicRegistry } from './metadata/topics.ts';
import { ConfigDocuments } from './metadata/config-docs.ts';
import { AclStore } from './metadata/acl-store.ts';
import { Authorizer } from './security/authorizer.ts';
import { ClientQuotas } from './security/quotas.ts';
import { ScramCredentialStore } from './metadata/scram-credentials.ts';
import { DynamicBrokerConfig } from './metadata/dynamic-broker-config.ts';
import {
  clientQuotaKey,
  clientQuotaPrefix,
  groupConfigKey,
  groupConfigPrefix,
  parseClientQuotaKey,
  parseGroupConfigKey,
} from './metadata/layout.ts';
import { startOpsServer } from './ops/http.ts';
import type { OpsServer } from './ops/http.ts';
import { Metrics } from './ops/metrics.ts';
import { registerMetrics } from './broker-metrics.ts';
import { startKafkaServer } from './server/server.ts';
import type { ObjectStoreHealth } from './storage/health.ts';
import type { ObservedObjectStore } from './storage/observed-object-store.ts';
import {
  aclMaxCount,
  cleanerMaxDecompressedBatchBytes,
  cleanerPassMaxBytes,
  clientQuotaMaxEntitiesCount,
  flushMaxInflightCount,
  orphanSweepMaxIntervalMs,
  recoveryMaxInflightCount,
  shutdownGraceMs,
  walCollectionIntervalMs,
  walCollectionMinAgeMs,
} from './limits.ts';
import { compactionPassBytes } from './log/compactor.ts';
import { orphanSegmentMinAgeMs } from './log/wal-gc.ts';
import { loadProducerState } from './log/append.ts';
import { openBase } from './broker-stores.ts';
import type { Stores } from './broker-stores.ts';

export interface RunningBroker {
  /** The first Kafka listener's bound port (useful with port 0). */
  readonly port: number;
  /** Every Kafka listener's bound port, by listener name. */
  readonly ports: ReadonlyMap<string, number>;
  readonly opsPort: number | null;
  readonly services: BrokerServices;
  readonly metrics: Metrics;
  /** Resolves if the broker can no longer serve (cluster membership lost): the process should restart it. */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
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
  // Other brokers reach this one on the inter-broker listener; clients get the advertised endpoints of the listener
  // they connected on (cluster.endpointOn).
  const advertisedListeners = config.advertisedListeners.map((l) => ({ name: l.name, host: l.host, port: l.port }));
  const advertised = advertisedListeners.find((l) => l.name === config.interBrokerListenerName) ?? advertisedListeners[0]!;
  const { stores, clusterId, topics, nodeId } = await openBase(config, logger);
  const { metadata, storageHealth } = stores;
  const clustered = clusterEnabled(config);
  let reportFailure!: (e: Error) => void;
  const failed = new Promise<Error>((resolve) => (reportFailure = resolve));
  const etcdCluster = clustered
    ? newEtcdCluster(config, logger, metadata, topics, nodeId, { ...advertised, listeners: advertisedListeners }, reportFailure)
    : null;
  // Dynamic broker configs (this broker's and the cluster-wide defaults), followed through the metadata store.
  const dynamicConfig = new DynamicBrokerConfig({ store: metadata, config, nodeId });
  await dynamicConfig.start();
  const logs = await startLogs(config, logger, metadata, stores.objectStore, topics, nodeId, advertised, etcdCluster, dynamicConfig);
  const single = etcdCluster
    ? null
    : new SingleBrokerCluster(
        { nodeId, host: advertised.host, port: advertised.port, rack: config.brokerRack, listeners: advertisedListeners },
        () => logs.fence(),
      );
  const cluster: Cluster = etcdCluster ?? single!;
  const groupConfigs = await startGroupConfigs(config, metadata);
  const { groups, consumerGroups } = await startGroupCoordinators(config, logger, metadata, cluster, topics, groupConfigs);
  const txn = new TxnService({ metadata, cluster, logger: logger.child({ component: 'txn' }), config, groups });
  const authorizer = await startAuthorizer(config, metadata, logger);
  const quotas = await startClientQuotas(metadata, () => services.config);
  const services: BrokerServices = {
    config: dynamicConfig.current,
    dynamicConfig,
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
    groupConfigs,
    authorizer,
    quotas,
    scramCredentials: new ScramCredentialStore(metadata),
  };
  followDynamicConfig(dynamicConfig, services, logger);
  await txn.start(services);
  const server = await listen(config, services, logger);
  // With port 0 the advertised port follows the bound one.
  if (advertisedListeners.some((l) => l.port === 0)) {
    (etcdCluster ?? single!).setBoundPorts(server.ports, config.interBrokerListenerName);
    if (advertised.port === 0) services.advertisedPort = server.ports.get(advertised.name) ?? 0;
  }
  const walTimer = etcdCluster ? await joinCluster(etcdCluster, logs, groups, nodeId, logger) : null;
  const metrics = new Metrics({ version: '0.1.0' });
  registerMetrics(metrics, services, stores.rawObjectStore, stores.replicaReads, () => server.connectionCount);
  const ops = config.httpListener ? await startOps(config.httpListener, metrics, logs, storageHealth, logger) : null;
  const retentionTimer = startRetention(config, logs, logger);
  const orphanTimer = startOrphanSweep(config, logs, () => !etcdCluster || etcdCluster.controllerId() === nodeId, logger);
  logger.info({ clusterId, nodeId, clustered, dataDir: config.dataDir, port: server.port }, 'broker started');
  return running({
    server,
    ops,
    services,
    metrics,
    failed,
    logger,
    etcdCluster,
    logs,
    stores,
    groups,
    consumerGroups,
    txn,
    groupConfigs,
    dynamicConfig,
    timers: [retentionTimer, orphanTimer, stores.healthTimer, walTimer],
  });
}

/** GROUP config resources, cluster-wide: followed so that a change made through any broker applies here. */
async function startGroupConfigs(config: BrokerConfig, metadata: MetadataStore): Promise<ConfigDocuments> {
  const groupConfigs = new ConfigDocuments({
    store: metadata,
    prefix: groupConfigPrefix,
    keyOf: groupConfigKey,
    nameOf: parseGroupConfigKey,
    maxDocuments: config.groupMaxGroups,
  });
  await groupConfigs.start();
  return groupConfigs;
}

/** The authorizer when `authorizer.class.name` is set, following the cluster's ACLs; null otherwise. */
async function startAuthorizer(config: BrokerConfig, metadata: MetadataStore, logger: Logger): Promise<Authorizer | null> {
  if (config.authorizerClassName === '') return null;
  // Its own level (as Kafka's kafka.authorizer.logger), except under a silenced root logger (tests).
  const level = logger.level === 'silent' ? 'silent' : config.authorizerLogLevel;
  const authorizerLogger = logger.child({ component: 'authorizer', logger: 'kafka.authorizer.logger' }, { level });
  const authorizer = new Authorizer({
    superUsers: config.superUsers
      .split(';')
      .map((u) => u.trim())
      .filter((u) => u !== ''),
    allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound,
    logger: authorizerLogger,
  });
  await authorizer.start(new AclStore(metadata, aclMaxCount));
  return authorizer;
}

/** Client quotas, cluster-wide: followed so that a quota set through any broker applies here. */
async function startClientQuotas(metadata: MetadataStore, config: () => BrokerConfig): Promise<ClientQuotas> {
  const docs = new ConfigDocuments({
    store: metadata,
    prefix: clientQuotaPrefix,
    keyOf: clientQuotaKey,
    nameOf: parseClientQuotaKey,
    maxDocuments: clientQuotaMaxEntitiesCount,
  });
  let quotas: ClientQuotas | null = null;
  await docs.start(() => quotas?.refresh());
  quotas = new ClientQuotas(docs, () => ({ windowNum: config().quotaWindowNum, windowSizeMs: config().quotaWindowSizeSeconds * 1000 }));
  return quotas;
}

/** Handlers see dynamic broker config changes through `services.config`, swapped whole on each change. */
function followDynamicConfig(dynamicConfig: DynamicBrokerConfig, services: BrokerServices, logger: Logger): void {
  dynamicConfig.onChange((c) => {
    services.config = c;
    logger.info({ perBroker: dynamicConfig.perBroker(), defaults: dynamicConfig.defaults() }, 'dynamic broker configs applied');
  });
}

/** The running broker: its ports and services, and a close that shuts everything down once, in order. */
function running(r: {
  server: Awaited<ReturnType<typeof listen>>;
  ops: Awaited<ReturnType<typeof startOps>> | null;
  services: BrokerServices;
  metrics: Metrics;
  failed: Promise<Error>;
  logger: Logger;
  etcdCluster: EtcdCluster | null;
  logs: LogManager;
  stores: Stores;
  groups: GroupCoordinator;
  consumerGroups: ConsumerGroupCoordinator;
  txn: TxnService;
  groupConfigs: ConfigDocuments;
  dynamicConfig: DynamicBrokerConfig;
  timers: (NodeJS.Timeout | null)[];
}): RunningBroker {
  let closing: Promise<void> | null = null;
  return {
    port: r.server.port,
    ports: r.server.ports,
    opsPort: r.ops?.address.port ?? null,
    services: r.services,
    metrics: r.metrics,
    failed: r.failed,
    close() {
      closing ??= shutdown(r.logger, {
        etcdCluster: r.etcdCluster,
        timers: r.timers,
        server: r.server,
        logs: r.logs,
        coordinators: [
          r.groups,
          r.consumerGroups,
          r.txn,
          { close: async () => r.groupConfigs.close() },
          { close: async () => r.dynamicConfig.close() },
          { close: async () => r.services.authorizer?.close() },
          { close: async () => r.services.quotas.documents.close() },
        ],
        ops: r.ops,
        stores: r.stores,
      });
      return closing;
    },
  };
}

/** Cluster mode: this broker's membership of the cluster (joined once the listener is up). */
function newEtcdCluster(
  config: BrokerConfig,
  logger: Logger,
  metadata: MetadataStore,
  topics: TopicRegistry,
  nodeId: number,
  advertised: { host: string; port: number; listeners: ListenerEndpoint[] },
  reportFailure: (e: Error) => void,
): EtcdCluster {
  return new EtcdCluster({
    store: metadata,
    topics,
    sessionTimeoutMs: config.brokerSessionTimeoutMs,
    logger: logger.child({ component: 'cluster' }),
    self: {
      nodeId,
      host: advertised.host,
      port: advertised.port,
      listeners: advertised.listeners,
      rack: config.brokerRack,
      incarnation: randomBytes(6).toString('hex'),
    },
    onMembershipLost: (e) => reportFailure(e),
  });
}

/** The partition logs, recovered, with compaction started if enabled. */
async function startLogs(
  config: BrokerConfig,
  logger: Logger,
  metadata: MetadataStore,
  objectStore: ObservedObjectStore,
  topics: TopicRegistry,
  nodeId: number,
  advertised: { host: string; port: number },
  etcdCluster: EtcdCluster | null,
  dynamicConfig: DynamicBrokerConfig,
): Promise<LogManager> {
  const logs: LogManager = new LogManager({
    metadata,
    objectStore,
    topics,
    nodeId,
    cluster: etcdCluster ? { extraFence: () => etcdCluster.fence() } : undefined,
    host: advertised.host,
    port: advertised.port,
    flushSizeBytes: config.flushSizeBytes,
    flushLingerMs: config.flushLingerMs,
    maxConcurrentFlushes: flushMaxInflightCount,
    cacheSegmentBytes: config.cacheSegmentBytes,
    cacheIndexBytes: config.cacheIndexBytes,
    readaheadBytes: config.readaheadBytes,
    prefetchMaxInflightBytes: config.prefetchMaxInflightBytes,
    recoveryConcurrency: recoveryMaxInflightCount,
    compaction: {
      intervalMs: config.compactionIntervalMs,
      targetBytes: config.segmentTargetBytes,
      minAgeMs: config.compactionMinAgeMs,
      maxAgeMs: config.compactionMaxAgeMs,
      maxPassBytes: compactionPassBytes(config.segmentTargetBytes),
      commitTimeoutMs: config.segmentCommitTimeoutMs,
      producerState: { expirationMs: config.producerIdExpirationMs, maxProducers: config.producerStateMaxProducers },
    },
    cleaner: {
      settings: {
        enable: config.logCleanerEnable,
        intervalMs: config.logCleanerBackoffMs,
        threads: config.logCleanerThreads,
        dedupeBufferBytes: config.logCleanerDedupeBufferSize,
        ioMaxBytesPerSecond:
          config.logCleanerIoMaxBytesPerSecond >= Number.MAX_SAFE_INTEGER ? Infinity : config.logCleanerIoMaxBytesPerSecond,
        maxPassBytes: cleanerPassMaxBytes,
        maxDecompressedBytes: cleanerMaxDecompressedBatchBytes,
        commitTimeoutMs: config.segmentCommitTimeoutMs,
      },
      policyOf: (topic) => ({
        compact: topicConfigValue(topic, 'cleanup.policy', dynamicConfig.current).includes('compact'),
        deleteRetentionMs: topicNumber(topic, 'delete.retention.ms', dynamicConfig.current),
        minCompactionLagMs: topicNumber(topic, 'min.compaction.lag.ms', dynamicConfig.current),
        maxCompactionLagMs: topicNumber(topic, 'max.compaction.lag.ms', dynamicConfig.current),
        minCleanableDirtyRatio: topicNumber(topic, 'min.cleanable.dirty.ratio', dynamicConfig.current),
        fileDeleteDelayMs: topicNumber(topic, 'file.delete.delay.ms', dynamicConfig.current),
      }),
      producerState: (log) => loadProducerState({ config: dynamicConfig.current, logs, logger }, log),
    },
    logger: logger.child({ component: 'log' }),
    retentionOf: (topic) => ({
      retentionMs: topicNumber(topic, 'retention.ms', dynamicConfig.current),
      retentionBytes: topicNumber(topic, 'retention.bytes', dynamicConfig.current),
      deleteEnabled: topicConfigValue(topic, 'cleanup.policy', dynamicConfig.current)
        .split(',')
        .map((p) => p.trim())
        .includes('delete'),
    }),
  });
  await logs.start();
  if (config.compactionEnable) logs.startCompaction();
  return logs;
}

/** The classic and KIP-848 group coordinators, each told of the other, with their owned partitions loaded. */
async function startGroupCoordinators(
  config: BrokerConfig,
  logger: Logger,
  metadata: MetadataStore,
  cluster: Cluster,
  topics: TopicRegistry,
  groupConfigs: ConfigDocuments,
): Promise<{ groups: GroupCoordinator; consumerGroups: ConsumerGroupCoordinator }> {
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
      groupConfigs,
    },
  });
  consumerGroups.setClassicGroups(groups);
  groups.attachConsumerGroups(consumerGroups);
  await Promise.all([groups.start(), consumerGroups.start()]);
  return { groups, consumerGroups };
}

/** The Kafka listeners: one server per listener, seen as one (its first listener's port, every connection). */
async function listen(
  config: BrokerConfig,
  services: BrokerServices,
  logger: Logger,
): Promise<KafkaServer & { ports: Map<string, number> }> {
  const handlers = buildHandlerTable();
  const servers: KafkaServer[] = [];
  const ports = new Map<string, number>();
  try {
    for (const listener of config.listeners) {
      const server = await startKafkaServer({
        listener,
        handlers,
        services,
        logger: logger.child({ component: 'net' }),
        idleTimeoutMs: config.connectionsMaxIdleMs,
        limits: {
          maxFrameBytes: config.socketRequestMaxBytes,
          maxInFlightRequests: config.connectionMaxInflightRequests,
          maxInFlightBytes: config.connectionMaxInflightBytes,
        },
      });
      servers.push(server);
      ports.set(listener.name, server.port);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close(0)));
    throw err;
  }
  return {
    port: servers[0]!.port,
    ports,
    get connectionCount() {
      let n = 0;
      for (const s of servers) n += s.connectionCount;
      return n;
    },
    async close(graceMs: number) {
      await Promise.all(servers.map((s) => s.close(graceMs)));
    },
  };
}

/** Cluster mode: joins the cluster, takes partitions, follows topic deletions; the controller's WAL collection timer. */
async function joinCluster(
  etcdCluster: EtcdCluster,
  logs: LogManager,
  groups: GroupCoordinator,
  nodeId: number,
  logger: Logger,
): Promise<NodeJS.Timeout> {
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
  const walTimer = setInterval(() => {
    if (collecting || etcdCluster.controllerId() !== nodeId) return;
    collecting = true;
    logs
      .collectWalGlobally(walCollectionMinAgeMs)
      .catch((err) => logger.warn({ err }, 'WAL collection failed'))
      .finally(() => (collecting = false));
  }, walCollectionIntervalMs);
  walTimer.unref();
  return walTimer;
}

/** The ops endpoint: metrics, liveness and readiness (not ready while fenced or the object store is unavailable). */
function startOps(
  httpListener: NonNullable<BrokerConfig['httpListener']>,
  metrics: Metrics,
  logs: LogManager,
  storageHealth: ObjectStoreHealth,
  logger: Logger,
): Promise<OpsServer> {
  return startOpsServer({
    listener: httpListener,
    registry: metrics.registry,
    logger: logger.child({ component: 'ops' }),
    isLive: () => true,
    isReady: () => {
      if (logs.fenced) return { ready: false, reason: `fenced: ${logs.fenced.message}` };
      if (storageHealth.state === 'unavailable') return { ready: false, reason: `object store unavailable: ${storageHealth.stateReason}` };
      return { ready: true };
    },
  });
}

/** The periodic retention pass (log.retention.check.interval.ms). */
function startRetention(config: BrokerConfig, logs: LogManager, logger: Logger): NodeJS.Timeout {
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
  return retentionTimer;
}

/**
 * The orphan sweep (LogGarbage.collectOrphanSegments): segment objects no manifest names, whoever wrote them,
 * deleted once unnamed for longer than any commit of them can take. Run by the controller in cluster mode, by
 * the broker in embedded mode, every half of that age (at most orphanSweepMaxIntervalMs).
 */
function startOrphanSweep(config: BrokerConfig, logs: LogManager, isSweeper: () => boolean, logger: Logger): NodeJS.Timeout {
  // The embedded store commits in-process (a transaction is applied when txn() resolves): no request deadline.
  const requestTimeoutMs = config.metadataStore === 'etcd' ? config.etcdRequestTimeoutMs : 0;
  const minAgeMs = orphanSegmentMinAgeMs(config.segmentCommitTimeoutMs, requestTimeoutMs);
  let running = false;
  const timer = setInterval(
    () => {
      if (running || !isSweeper()) return;
      running = true;
      logs
        .collectOrphanSegments(minAgeMs)
        .catch((err) => logger.warn({ err }, 'orphan segment sweep failed'))
        .finally(() => (running = false));
    },
    Math.min(orphanSweepMaxIntervalMs, Math.max(10, Math.floor(minAgeMs / 2))),
  );
  timer.unref();
  return timer;
}

/**
 * Graceful shutdown: partitions handed over (cluster mode), requests answered, waiting group members told,
 * the last flush, then everything closed in reverse order of opening.
 */
async function shutdown(
  logger: Logger,
  b: {
    etcdCluster: EtcdCluster | null;
    timers: (NodeJS.Timeout | null)[];
    server: KafkaServer;
    logs: LogManager;
    /** The group and transaction coordinators. */
    coordinators: { close(): Promise<void> }[];
    ops: OpsServer | null;
    stores: Stores;
  },
): Promise<void> {
  const { etcdCluster, server, logs, ops } = b;
  if (etcdCluster) {
    logger.info('shutting down: handing partitions over to other brokers');
    const handedOver = await etcdCluster.drain(shutdownGraceMs / 2);
    logger.info({ handedOver }, handedOver ? 'every partition handed over' : 'no handover (no other broker, or it timed out)');
  }
  logger.info('shutting down: answering in-flight requests and flushing');
  for (const t of b.timers) if (t) clearInterval(t);
  b.stores.loopStalls.stop();
  const serverClosed = server.close(shutdownGraceMs);
  // Delayed JoinGroup/SyncGroup responses are answered (NOT_COORDINATOR) rather than held to the grace period.
  const groupsClosed = Promise.all(b.coordinators.map((c) => c.close()));
  logs.flusher.flushNow();
  await serverClosed;
  await groupsClosed;
  await logs.close(shutdownGraceMs);
  await etcdCluster?.close();
  await ops?.close();
  await b.stores.objectStore.close();
  await b.stores.metadata.close();
  logger.info('broker stopped');
}
