// Kafka's dynamic broker configs (DynamicBrokerConfig.AllDynamicConfigs and the sets it is made of, Kafka 4.x):
// the keys AlterConfigs/IncrementalAlterConfigs accept on a BROKER resource, which of them only per broker
// (not as a cluster-wide default), their Kafka types, and the ones Skafos applies (the BrokerConfig field each
// sets). Kept apart from broker/config.ts, which declares the static settings.
import type { BrokerConfig } from '../config.ts';

export type DynamicKeyType = 'int' | 'short' | 'long' | 'double' | 'boolean' | 'string' | 'list' | 'class' | 'password';

// SslConfigs.RECONFIGURABLE_CONFIGS: per broker, and only with a listener prefix (listener.name.<l>.<key>).
const sslReconfigurable: Record<string, DynamicKeyType> = {
  'ssl.keystore.type': 'string',
  'ssl.keystore.location': 'string',
  'ssl.keystore.password': 'password',
  'ssl.key.password': 'password',
  'ssl.truststore.type': 'string',
  'ssl.truststore.location': 'string',
  'ssl.truststore.password': 'password',
  'ssl.keystore.certificate.chain': 'password',
  'ssl.keystore.key': 'password',
  'ssl.truststore.certificates': 'password',
};

// DynamicListenerConfig.ReconfigurableConfigs (the SSL keys above are part of it too): per broker, except the
// three cluster-level listener configs.
const listenerReconfigurable: Record<string, DynamicKeyType> = {
  listeners: 'string',
  'listener.security.protocol.map': 'string',
  'principal.builder.class': 'class',
  'ssl.protocol': 'string',
  'ssl.provider': 'string',
  'ssl.cipher.suites': 'list',
  'ssl.enabled.protocols': 'list',
  'ssl.keymanager.algorithm': 'string',
  'ssl.trustmanager.algorithm': 'string',
  'ssl.endpoint.identification.algorithm': 'string',
  'ssl.secure.random.implementation': 'string',
  'ssl.client.auth': 'string',
  'ssl.engine.factory.class': 'class',
  'sasl.mechanism.inter.broker.protocol': 'string',
  'sasl.jaas.config': 'password',
  'sasl.enabled.mechanisms': 'list',
  'sasl.kerberos.service.name': 'string',
  'sasl.kerberos.kinit.cmd': 'string',
  'sasl.kerberos.ticket.renew.window.factor': 'double',
  'sasl.kerberos.ticket.renew.jitter': 'double',
  'sasl.kerberos.min.time.before.relogin': 'long',
  'sasl.kerberos.principal.to.local.rules': 'list',
  'sasl.login.refresh.window.factor': 'double',
  'sasl.login.refresh.window.jitter': 'double',
  'sasl.login.refresh.min.period.seconds': 'short',
  'sasl.login.refresh.buffer.seconds': 'short',
  'max.connections': 'int',
  'max.connection.creation.rate': 'int',
  'num.network.threads': 'int',
};

/** DynamicBrokerConfig's ClusterLevelListenerConfigs: listener configs that may also be cluster-wide defaults. */
const clusterLevelListenerKeys: ReadonlySet<string> = new Set(['max.connections', 'max.connection.creation.rate', 'num.network.threads']);

// The other sets: LogCleaner, DynamicLogConfig (the first broker synonym of every topic config), the thread
// pools, metric reporters, SocketServer, producer state, remote log, replication, config providers and the
// coordinators' buffers. All of them may be set per broker or as the cluster-wide default.
const clusterWide: Record<string, DynamicKeyType> = {
  'log.cleaner.threads': 'int',
  'log.cleaner.dedupe.buffer.size': 'long',
  'log.cleaner.io.buffer.load.factor': 'double',
  'log.cleaner.io.buffer.size': 'int',
  'log.cleaner.io.max.bytes.per.second': 'double',
  'log.cleaner.backoff.ms': 'long',
  'log.segment.bytes': 'int',
  'log.roll.ms': 'long',
  'log.roll.jitter.ms': 'long',
  'log.index.size.max.bytes': 'int',
  'log.flush.interval.messages': 'long',
  'log.flush.interval.ms': 'long',
  'log.retention.bytes': 'long',
  'log.retention.ms': 'long',
  'message.max.bytes': 'int',
  'log.index.interval.bytes': 'int',
  'log.cleaner.delete.retention.ms': 'long',
  'log.cleaner.min.compaction.lag.ms': 'long',
  'log.cleaner.max.compaction.lag.ms': 'long',
  'log.segment.delete.delay.ms': 'long',
  'log.cleaner.min.cleanable.ratio': 'double',
  'log.cleanup.policy': 'list',
  'unclean.leader.election.enable': 'boolean',
  'min.insync.replicas': 'int',
  'compression.type': 'string',
  'compression.gzip.level': 'int',
  'compression.lz4.level': 'int',
  'compression.zstd.level': 'int',
  'log.preallocate': 'boolean',
  'log.message.timestamp.type': 'string',
  'log.message.timestamp.before.max.ms': 'long',
  'log.message.timestamp.after.max.ms': 'long',
  'log.local.retention.ms': 'long',
  'log.local.retention.bytes': 'long',
  'num.io.threads': 'int',
  'num.replica.fetchers': 'int',
  'num.recovery.threads.per.data.dir': 'int',
  'background.threads': 'int',
  'metric.reporters': 'list',
  'max.connections.per.ip': 'int',
  'max.connections.per.ip.overrides': 'string',
  'producer.id.expiration.ms': 'int',
  'transaction.partition.verification.enable': 'boolean',
  'remote.log.index.file.cache.total.size.bytes': 'long',
  'remote.fetch.max.wait.ms': 'int',
  'remote.log.manager.copy.max.bytes.per.second': 'long',
  'remote.log.manager.fetch.max.bytes.per.second': 'long',
  'remote.list.offsets.request.timeout.ms': 'long',
  'remote.log.manager.copier.thread.pool.size': 'int',
  'remote.log.manager.expiration.thread.pool.size': 'int',
  'remote.log.manager.follower.thread.pool.size': 'int',
  'remote.log.reader.threads': 'int',
  'follower.fetch.last.tiered.offset.enable': 'boolean',
  'config.providers': 'list',
  'group.coordinator.cached.buffer.max.bytes': 'int',
  'share.coordinator.cached.buffer.max.bytes': 'int',
};

const types: Record<string, DynamicKeyType> = { ...clusterWide, ...listenerReconfigurable, ...sslReconfigurable };

/** Every dynamic broker config (Kafka's AllDynamicConfigs), in name order. */
export const dynamicBrokerKeys: readonly string[] = Object.keys(types).sort();
const dynamicSet: ReadonlySet<string> = new Set(dynamicBrokerKeys);

export function isDynamicBrokerKey(name: string): boolean {
  return dynamicSet.has(name);
}

/** The Kafka type of a dynamic key (a listener-prefixed key: its base key's). */
export function dynamicKeyType(name: string): DynamicKeyType | undefined {
  return types[listenerBase(name) ?? name];
}

const listenerPrefixed = /^listener\.name\.[^.]*\.(.*)$/;

/** The base key of `listener.name.<listener>.<key>`, or null. */
export function listenerBase(name: string): string | null {
  return listenerPrefixed.exec(name)?.[1] ?? null;
}

/** Kafka's PerBrokerConfigs plus per-listener configs: keys refused as cluster-wide defaults. */
export function isPerBrokerOnly(name: string): boolean {
  const base = listenerBase(name);
  if (base !== null) return !clusterLevelListenerKeys.has(base);
  return (name in listenerReconfigurable || name in sslReconfigurable) && !clusterLevelListenerKeys.has(name);
}

/** SSL keys that may change only per listener (with the listener prefix). */
export function needsListenerPrefix(name: string): boolean {
  return name in sslReconfigurable;
}

/**
 * Keys Kafka knows as broker configs but not as dynamic ones (Kafka's nonDynamicProps: refused with "Cannot
 * update these configs dynamically"). Kafka refuses only its own keys: a key it does not know at all is
 * accepted and stored. `known` tells whether Skafos or Kafka has a static broker config of that name.
 */
export function isNonDynamic(name: string, known: (name: string) => boolean): boolean {
  return !dynamicSet.has(name) && listenerBase(name) === null && known(name);
}

function toLong(v: string): number {
  const n = BigInt(v.trim());
  return n >= BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/**
 * The dynamic keys Skafos applies, and the BrokerConfig field each sets (values validated when stored). Topic
 * configs without an override follow them, as do the handlers reading these fields.
 */
export const appliedDynamicKeys: Readonly<Record<string, (v: string) => Partial<BrokerConfig>>> = {
  'log.retention.ms': (v) => ({ logRetentionMs: toLong(v) }),
  'log.retention.bytes': (v) => ({ logRetentionBytes: toLong(v) }),
  'log.segment.bytes': (v) => ({ logSegmentBytes: Number(v.trim()) }),
  'message.max.bytes': (v) => ({ messageMaxBytes: Number(v.trim()) }),
  'compression.type': (v) => ({ compressionType: v.trim() as BrokerConfig['compressionType'] }),
  'log.message.timestamp.type': (v) => ({ logMessageTimestampType: v.trim() as BrokerConfig['logMessageTimestampType'] }),
  'log.message.timestamp.before.max.ms': (v) => ({ logMessageTimestampBeforeMaxMs: toLong(v) }),
  'log.message.timestamp.after.max.ms': (v) => ({ logMessageTimestampAfterMaxMs: toLong(v) }),
  'transaction.partition.verification.enable': (v) => ({ transactionPartitionVerificationEnable: v.trim().toLowerCase() === 'true' }),
  'producer.id.expiration.ms': (v) => ({ producerIdExpirationMs: Number(v.trim()) }),
  'max.connections': (v) => ({ maxConnections: Number(v.trim()) }),
  'max.connections.per.ip': (v) => ({ maxConnectionsPerIp: Number(v.trim()) }),
  'max.connections.per.ip.overrides': (v) => ({ maxConnectionsPerIpOverrides: v.trim() }),
};

/**
 * Kafka broker configs that topic configs fall back to and that Skafos has no setting for (log.cleanup.policy
 * and the like): applied through the topic configs (topicConfigValue), not through a BrokerConfig field.
 */
export interface DynamicallyConfigured {
  /** Dynamic values of such keys by Kafka name (per-broker over cluster-wide default). */
  readonly dynamicKafkaDefaults?: Readonly<Record<string, string>>;
}
