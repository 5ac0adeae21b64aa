// Validation across keys: settings that go together, sizes that must nest, and the relationships between the
// configuration and the broker's internal limits (assertLimits). Every failure is a ConfigError naming the keys.
import {
  groupStoreTxnMaxBytes,
  groupStoreTxnMaxOpsCount,
  manifestTxnMaxBytes,
  manifestTxnMaxOpsCount,
  metadataMaxTxnBytes,
  metadataMaxTxnOpsCount,
  metadataMaxValueBytes,
  ownershipTxnMaxChangesCount,
} from '../limits.ts';
import { rawOf } from './format.ts';
import { envName, unusedKeys } from './params.ts';
import type { BrokerConfig } from './types.ts';
import { ConfigError } from './types.ts';
import { formatListeners } from './values.ts';

/** Throws the ConfigError for `key`: its value, where it came from, and `message`. */
type Fail = (key: string, message: string) => never;

/** skafos.cluster.mode resolved: whether brokers share etcd and divide partitions between them. */
export function clusterEnabled(c: Pick<BrokerConfig, 'clusterMode' | 'metadataStore'>): boolean {
  return c.clusterMode === 'cluster' || (c.clusterMode === 'auto' && c.metadataStore === 'etcd');
}

/** A Fail for `config`: `sources` and `raws` say where each supplied key came from and how it was written. */
function failWith(c: BrokerConfig, sources: ReadonlyMap<string, string>, raws: ReadonlyMap<string, string>): Fail {
  return (key, message) => {
    const source = sources.get(key) ?? 'default';
    const value = raws.get(key) ?? rawOf(c, key);
    throw new ConfigError(`invalid ${key} ${JSON.stringify(value)} (${source}): ${message}`, {
      key,
      value,
      expected: message,
      source,
    });
  };
}

/** Checks the settings against each other; throws a ConfigError for the first problem found. */
export function crossValidate(c: BrokerConfig, sources: ReadonlyMap<string, string>, raws: ReadonlyMap<string, string>): void {
  const fail = failWith(c, sources, raws);
  validateStores(c, sources, fail);
  validateS3(c, fail);
  validateEtcd(c, fail);
  assertLimits(c, fail);
  validateListeners(c, sources, fail);
}

function missing(key: string, because: string): never {
  throw new ConfigError(`${key} is required when ${because} (set it in the config file, with --set or ${envName(key)})`, {
    key,
    expected: 'a value',
  });
}

/** What a store needs must be set, and settings of the store not chosen are a mistake, not a no-op. */
function validateStores(c: BrokerConfig, sources: ReadonlyMap<string, string>, fail: Fail): void {
  if (c.objectStore === 's3' && c.s3Bucket === null) missing('skafos.s3.bucket', 'skafos.object.store=s3');
  if (c.metadataStore === 'etcd' && c.etcdEndpoints.length === 0) missing('skafos.etcd.endpoints', 'skafos.metadata.store=etcd');
  if (c.clusterMode === 'cluster' && c.metadataStore !== 'etcd')
    fail('skafos.cluster.mode', 'cluster mode needs a shared metadata store: set skafos.metadata.store=etcd');
  if (c.nodeId === -1 && !clusterEnabled(c)) fail('node.id', '-1 (assigned by the cluster) needs cluster mode');
  for (const key of unusedKeys(c)) {
    if (sources.has(key)) {
      const [store, choice] = key.startsWith('skafos.s3.')
        ? ['skafos.object.store', c.objectStore]
        : ['skafos.metadata.store', c.metadataStore];
      fail(key, `set, but ${store} is ${choice}; set ${store}=${key.startsWith('skafos.s3.') ? 's3' : 'etcd'} or remove it`);
    }
  }
}

/** S3 settings that go together. */
function validateS3(c: BrokerConfig, fail: Fail): void {
  if ((c.s3AccessKeyId === null) !== (c.s3SecretAccessKey === null)) {
    const [set, unset] =
      c.s3AccessKeyId === null
        ? ['skafos.s3.secret.access.key', 'skafos.s3.access.key.id']
        : ['skafos.s3.access.key.id', 'skafos.s3.secret.access.key'];
    fail(set, `${unset} must be set too (or neither, for the standard AWS credential chain)`);
  }
  if (c.s3RetryBackoffBaseMs > c.s3RetryBackoffMaxMs) {
    fail('skafos.s3.retry.backoff.base.ms', `must not exceed skafos.s3.retry.backoff.max.ms (${c.s3RetryBackoffMaxMs})`);
  }
}

/** etcd settings that go together. */
function validateEtcd(c: BrokerConfig, fail: Fail): void {
  if (c.etcdPasswordFile !== null && c.etcdUsername === null) fail('skafos.etcd.password.file', 'skafos.etcd.username must be set too');
  if (c.etcdUsername !== null && c.etcdPasswordFile === null) fail('skafos.etcd.username', 'skafos.etcd.password.file must be set too');
  if ((c.etcdTlsCertFile === null) !== (c.etcdTlsKeyFile === null)) {
    const [set, unset] =
      c.etcdTlsCertFile === null
        ? ['skafos.etcd.tls.key.file', 'skafos.etcd.tls.cert.file']
        : ['skafos.etcd.tls.cert.file', 'skafos.etcd.tls.key.file'];
    fail(set, `${unset} must be set too (or neither)`);
  }
  if ((c.etcdTlsCaFile !== null || c.etcdTlsCertFile !== null) && !c.etcdEndpoints.every((e) => e.startsWith('https:'))) {
    fail(
      c.etcdTlsCaFile !== null ? 'skafos.etcd.tls.ca.file' : 'skafos.etcd.tls.cert.file',
      'TLS needs every skafos.etcd.endpoints URL to be https://',
    );
  }
}

/** A Fail for a config whose sources are unknown (a config built in code): every value counts as a default. */
function failPlain(c: BrokerConfig): Fail {
  return failWith(c, new Map(), new Map());
}

/**
 * The relationships between settings, and between settings and the internal limits of broker/limits.ts, that
 * must hold for the broker to work (TigerBeetle style: asserted once at start, not discovered under load).
 * loadConfig calls it; `fail` defaults to a ConfigError naming the key, as loadConfig's errors do.
 */
export function assertLimits(c: BrokerConfig, fail: Fail = failPlain(c)): void {
  // Sizes that must nest.
  if (c.messageMaxBytes > c.socketRequestMaxBytes) {
    fail('message.max.bytes', `must not exceed socket.request.max.bytes (${c.socketRequestMaxBytes})`);
  }
  if (c.messageMaxBytes > c.flushMaxPendingBytes) {
    fail(
      'message.max.bytes',
      `must not exceed skafos.flush.max.pending.bytes (${c.flushMaxPendingBytes}), or a maximal batch could never be accepted`,
    );
  }
  if (c.flushSizeBytes > c.flushMaxPendingBytes) {
    fail('skafos.flush.size.bytes', `must not exceed skafos.flush.max.pending.bytes (${c.flushMaxPendingBytes})`);
  }
  if (c.compactionMinAgeMs > c.compactionMaxAgeMs) {
    fail('skafos.compaction.min.age.ms', `must not exceed skafos.compaction.max.age.ms (${c.compactionMaxAgeMs})`);
  }
  if (c.storageHealthDegradedErrorRate > c.storageHealthUnavailableErrorRate) {
    fail(
      'skafos.storage.health.degraded.error.rate',
      `must not exceed skafos.storage.health.unavailable.error.rate (${c.storageHealthUnavailableErrorRate})`,
    );
  }
  if (c.socketRequestMaxBytes > c.connectionMaxInflightBytes) {
    fail(
      'socket.request.max.bytes',
      `must not exceed skafos.connection.max.inflight.bytes (${c.connectionMaxInflightBytes}), or a maximal request could never be read`,
    );
  }
  assertInternalLimits(c, fail);
}

/** Settings bounded by an internal limit (their ranges keep them inside today; this keeps the two in step). */
function assertInternalLimits(c: BrokerConfig, fail: Fail): void {
  if (c.groupMaxRecordBytes > metadataMaxValueBytes) {
    fail('skafos.group.max.record.bytes', `must not exceed the metadata store's value limit (${metadataMaxValueBytes} bytes)`);
  }
  // Internal limits against each other: a violation is a programming error, reported as one.
  for (const [name, value, bound, boundName] of [
    ['manifestTxnMaxOpsCount', manifestTxnMaxOpsCount, metadataMaxTxnOpsCount, 'metadataMaxTxnOpsCount'],
    ['groupStoreTxnMaxOpsCount', groupStoreTxnMaxOpsCount, metadataMaxTxnOpsCount, 'metadataMaxTxnOpsCount'],
    ['ownershipTxnMaxChangesCount', ownershipTxnMaxChangesCount, metadataMaxTxnOpsCount, 'metadataMaxTxnOpsCount'],
    ['manifestTxnMaxBytes', manifestTxnMaxBytes, metadataMaxTxnBytes, 'metadataMaxTxnBytes'],
    ['groupStoreTxnMaxBytes', groupStoreTxnMaxBytes, metadataMaxTxnBytes, 'metadataMaxTxnBytes'],
  ] as const) {
    if (value >= bound) throw new Error(`broker/limits.ts: ${name} (${value}) must stay below ${boundName} (${bound})`);
  }
}

/** Security protocols a listener may have today (the others are refused rather than served unprotected). */
const IMPLEMENTED_PROTOCOLS: ReadonlySet<string> = new Set(['PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL']);

/** Listeners: advertised ones must exist and be routable, and the HTTP listener must not take a Kafka port. */
function validateListeners(c: BrokerConfig, sources: ReadonlyMap<string, string>, fail: Fail): void {
  for (const key of ['listeners', 'advertised.listeners'] as const) {
    for (const l of key === 'listeners' ? c.listeners : c.advertisedListeners) {
      if (c.listenerSecurityProtocolMap[l.name] === undefined) {
        fail(key, `listener ${l.name} is not in listener.security.protocol.map`);
      }
    }
  }
  const inter = c.listeners.find((l) => l.name === c.interBrokerListenerName);
  if (inter === undefined) fail('inter.broker.listener.name', `listener ${c.interBrokerListenerName} is not in listeners`);
  else if (inter.securityProtocol !== 'PLAINTEXT' && clusterEnabled(c)) {
    fail(
      'inter.broker.listener.name',
      `listener ${inter.name} is ${inter.securityProtocol}; the broker-to-broker client speaks PLAINTEXT only`,
    );
  }
  if (inter !== undefined && !c.advertisedListeners.some((l) => l.name === inter.name)) {
    fail('inter.broker.listener.name', `listener ${inter.name} is not in advertised.listeners`);
  }
  for (const l of c.listeners) {
    if (!IMPLEMENTED_PROTOCOLS.has(l.securityProtocol)) fail('listeners', `listener ${l.name}: ${l.securityProtocol} is not supported yet`);
    if (l.securityProtocol === 'SSL' || l.securityProtocol === 'SASL_SSL') {
      const ssl = c.listenerSecurity[l.name]!.ssl;
      const inline = ssl.keystoreCertificateChain !== null || ssl.keystoreKey !== null;
      if (ssl.keystoreLocation === null && !inline) {
        fail(
          'ssl.keystore.location',
          `listener ${l.name} is ${l.securityProtocol}: set ssl.keystore.location (or ssl.keystore.certificate.chain and ssl.keystore.key)`,
        );
      }
      if (inline && (ssl.keystoreCertificateChain === null || ssl.keystoreKey === null)) {
        fail('ssl.keystore.key', `listener ${l.name}: ssl.keystore.certificate.chain and ssl.keystore.key go together`);
      }
      if (ssl.clientAuth !== 'none' && ssl.truststoreLocation === null && ssl.truststoreCertificates === null) {
        fail(
          'ssl.truststore.location',
          `listener ${l.name}: ssl.client.auth=${ssl.clientAuth} needs ssl.truststore.location or ssl.truststore.certificates`,
        );
      }
    }
    if (l.securityProtocol.startsWith('SASL_') && c.listenerSecurity[l.name]!.saslEnabledMechanisms.length === 0) {
      fail('sasl.enabled.mechanisms', `listener ${l.name} is ${l.securityProtocol} but has no SASL mechanism enabled`);
    }
  }
  for (const a of c.advertisedListeners) {
    if (!c.listeners.some((l) => l.name === a.name)) fail('advertised.listeners', `listener ${a.name} is not in listeners`);
  }
  if (!sources.has('advertised.listeners')) {
    for (const l of c.listeners) {
      if (l.host === '0.0.0.0' || l.host === '::') {
        fail('listeners', `binds the non-routable meta-address ${l.host}, so advertised.listeners must be set`);
      }
    }
  }
  if (c.httpListener !== null) {
    const h = c.httpListener;
    for (const l of c.listeners) {
      if (h.port !== 0 && h.port === l.port && hostsOverlap(h.host, l.host)) {
        fail('skafos.http.listener', `port ${h.port} is also used by listeners (${formatListeners([l])})`);
      }
    }
  }
}

function hostsOverlap(a: string, b: string): boolean {
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  return a === b || wild(a) || wild(b);
}
