// The configuration's types: the BrokerConfig every module reads, ConfigError, and the reference rows.

// ---------------------------------------------------------------------------------------------------------
// Types

/** One ssl.principal.mapping.rules rule: DEFAULT, or a pattern over the whole subject with its replacement. */
export type PrincipalMappingRule =
  | { readonly default: true }
  | { readonly pattern: string; readonly replacement: string; readonly caseChange: '' | 'L' | 'U' };

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export interface Listener {
  /** Listener name as written (upper-cased). */
  readonly name: string;
  /** From listener.security.protocol.map (a name that is a protocol maps to itself by default). */
  readonly securityProtocol: SecurityProtocol;
  /** Host to bind (listeners) or to advertise (advertised.listeners). IPv6 without brackets. */
  readonly host: string;
  /** 0 (listeners only) binds an ephemeral port. */
  readonly port: number;
}

/** A parsed sasl.jaas.config: the login module and its options (which may hold secrets: never log them). */
export interface JaasConfig {
  readonly loginModule: string;
  readonly options: Readonly<Record<string, string>>;
}

/** The TLS settings of one listener (ssl.*, with its `listener.name.<l>.ssl.*` overrides). */
export interface SslSettings {
  readonly keystoreLocation: string | null;
  readonly keyPassword: string | null;
  readonly keystoreCertificateChain: string | null;
  readonly keystoreKey: string | null;
  readonly truststoreLocation: string | null;
  readonly truststoreCertificates: string | null;
  readonly enabledProtocols: readonly string[];
  readonly cipherSuites: readonly string[];
  readonly clientAuth: 'none' | 'requested' | 'required';
  readonly principalMappingRules: readonly PrincipalMappingRule[];
}

/** Settings a `listener.name.<listener>.` prefix may override, resolved for one listener. */
export interface ListenerSecurity {
  readonly ssl: SslSettings;
  readonly saslEnabledMechanisms: readonly string[];
  /** connections.max.reauth.ms: a session's lifetime (KIP-368); 0 for none. */
  readonly reauthMs: number;
  /** `listener.name.<l>.plain.sasl.jaas.config` (or sasl.jaas.config): PLAIN's user_<name> credentials. */
  readonly plainJaas: JaasConfig | null;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';
export type CompressionType = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface BrokerConfig {
  // Kafka settings (Kafka's names, camelCased).
  readonly listeners: readonly Listener[];
  readonly advertisedListeners: readonly Listener[];
  readonly listenerSecurityProtocolMap: Readonly<Record<string, SecurityProtocol>>;
  /** The listener other brokers are reached on (resolved: never null after loading). */
  readonly interBrokerListenerName: string;
  readonly saslEnabledMechanisms: readonly string[];
  readonly saslJaasConfig: JaasConfig | null;
  readonly connectionFailedAuthenticationDelayMs: number;
  readonly saslServerMaxReceiveSize: number;
  readonly connectionsMaxReauthMs: number;
  readonly sslKeystoreType: 'PEM';
  readonly sslKeystoreLocation: string | null;
  readonly sslKeyPassword: string | null;
  readonly sslKeystoreCertificateChain: string | null;
  readonly sslKeystoreKey: string | null;
  readonly sslTruststoreType: 'PEM';
  readonly sslTruststoreLocation: string | null;
  readonly sslTruststoreCertificates: string | null;
  readonly sslEnabledProtocols: readonly string[];
  readonly sslCipherSuites: readonly string[];
  readonly sslClientAuth: 'none' | 'requested' | 'required';
  readonly sslPrincipalMappingRules: readonly PrincipalMappingRule[];
  /** Per listener (by name): the security settings with its `listener.name.<l>.` overrides applied. */
  readonly listenerSecurity: Readonly<Record<string, ListenerSecurity>>;
  /** -1: assigned by the cluster at first start and kept in log.dirs (cluster mode only). */
  readonly nodeId: number;
  /** broker.rack: spreads partition ownership across racks; null when unset. */
  readonly brokerRack: string | null;
  /** broker.session.timeout.ms: the membership lease; a broker silent this long loses its partitions. */
  readonly brokerSessionTimeoutMs: number;
  readonly clusterMode: 'auto' | 'single' | 'cluster';
  /** log.dirs: the data directory, absolute. */
  readonly dataDir: string;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly autoCreateTopicsEnable: boolean;
  readonly deleteTopicEnable: boolean;
  /** Effective retention time from log.retention.{ms,minutes,hours}; -1 = keep forever. */
  readonly logRetentionMs: number;
  /** -1 = no size limit. */
  readonly logRetentionBytes: number;
  readonly logRetentionCheckIntervalMs: number;
  readonly logCleanerEnable: boolean;
  readonly logCleanerThreads: number;
  readonly logCleanerDedupeBufferSize: number;
  readonly logCleanerIoMaxBytesPerSecond: number;
  readonly logCleanerBackoffMs: number;
  readonly logSegmentBytes: number;
  readonly messageMaxBytes: number;
  readonly socketRequestMaxBytes: number;
  readonly logMessageTimestampType: TimestampType;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE (no limit). */
  readonly logMessageTimestampBeforeMaxMs: number;
  readonly logMessageTimestampAfterMaxMs: number;
  readonly compressionType: CompressionType;
  readonly groupInitialRebalanceDelayMs: number;
  readonly offsetsRetentionMinutes: number;
  readonly offsetsRetentionCheckIntervalMs: number;
  readonly offsetMetadataMaxBytes: number;
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly groupMaxSize: number;
  readonly groupMaxGroups: number;
  readonly groupMaxRecordBytes: number;
  readonly groupConsumerHeartbeatIntervalMs: number;
  readonly groupConsumerSessionTimeoutMs: number;
  /** Bounds of a group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms (GROUP configs). */
  readonly groupConsumerMinSessionTimeoutMs: number;
  readonly groupConsumerMaxSessionTimeoutMs: number;
  readonly groupConsumerMinHeartbeatIntervalMs: number;
  readonly groupConsumerMaxHeartbeatIntervalMs: number;
  readonly groupConsumerMaxSize: number;
  readonly groupConsumerAssignors: string[];
  readonly groupConsumerMaxSubscribedTopics: number;
  readonly connectionsMaxIdleMs: number;
  readonly queuedMaxRequests: number;
  readonly producerIdExpirationMs: number;
  /** Idempotent producers remembered per partition (skafos.producer.state.max.producers). */
  readonly producerStateMaxProducers: number;
  /** Transactions (spec/transactions.md). */
  readonly transactionMaxTimeoutMs: number;
  readonly transactionalIdExpirationMs: number;
  readonly transactionAbortTimedOutTransactionCleanupIntervalMs: number;
  readonly transactionRemoveExpiredTransactionCleanupIntervalMs: number;
  readonly transactionPartitionVerificationEnable: boolean;
  /** Partitions per transaction at most (skafos.transaction.max.partitions). */
  readonly transactionMaxPartitions: number;
  /** The finalized `transaction.version` feature advertised by ApiVersions (skafos.transaction.version). */
  readonly transactionVersion: number;
  // Skafos settings (skafos.* keys, prefix dropped, camelCased).
  /** null: the broker generates one on first start and persists it. */
  readonly clusterId: string | null;
  readonly flushSizeBytes: number;
  readonly flushLingerMs: number;
  /** Object-store health thresholds (broker/storage/health.ts). */
  readonly storageHealthWindowMs: number;
  readonly storageHealthMinCalls: number;
  readonly storageHealthDegradedErrorRate: number;
  /** null: the store's default (broker/storage/health.ts: 2000 for S3, 1000 for the local store). */
  readonly storageHealthDegradedP99Ms: number | null;
  readonly storageHealthUnavailableErrorRate: number;
  readonly storageHealthUnavailableConsecutiveFailures: number;
  readonly storageHealthUnavailableStallMs: number;
  readonly storageHealthRecoveryHoldMs: number;
  readonly flushMaxPendingBytes: number;
  readonly cacheSegmentBytes: number;
  readonly cacheIndexBytes: number;
  readonly readaheadBytes: number;
  readonly prefetchMaxInflightBytes: number;
  readonly connectionMaxInflightBytes: number;
  readonly connectionMaxInflightRequests: number;
  readonly fetchMaxWaitCapMs: number;
  readonly metadataStore: 'embedded' | 'etcd';
  /** Normalised URL origins, e.g. http://10.0.0.1:2379. Empty unless metadataStore is etcd. */
  readonly etcdEndpoints: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdDialTimeoutMs: number;
  readonly etcdRequestTimeoutMs: number;
  /** null: no etcd authentication. */
  readonly etcdUsername: string | null;
  /** File holding the password (its first line). */
  readonly etcdPasswordFile: string | null;
  /** PEM files for https:// endpoints; null: system roots / no client certificate. */
  readonly etcdTlsCaFile: string | null;
  readonly etcdTlsCertFile: string | null;
  readonly etcdTlsKeyFile: string | null;
  readonly objectStore: 'local' | 's3';
  readonly s3Bucket: string | null;
  readonly s3Region: string;
  /** null: AWS's endpoint for s3Region. */
  readonly s3Endpoint: string | null;
  readonly s3PathStyle: boolean;
  /** Both null: credentials from the standard AWS chain (environment, profile, web identity, container, instance). */
  readonly s3AccessKeyId: string | null;
  readonly s3SecretAccessKey: string | null;
  /** null: no SSE-KMS header (the bucket's default encryption applies). */
  readonly s3SseKmsKeyId: string | null;
  /** Buckets replicated from skafos.s3.bucket (e.g. by S3 replication) that GETs try first, in order. */
  readonly s3ReadReplicas: readonly ReadReplicaConfig[];
  readonly s3MaxConcurrentRequests: number;
  readonly s3MultipartThresholdBytes: number;
  readonly s3MultipartPartBytes: number;
  readonly s3ConnectTimeoutMs: number;
  readonly s3RequestTimeoutMs: number;
  readonly s3RetryMaxAttempts: number;
  readonly s3RetryBackoffBaseMs: number;
  readonly s3RetryBackoffMaxMs: number;
  readonly s3RetryBudgetTokens: number;
  /** null: the metrics/health HTTP endpoint is disabled. */
  readonly httpListener: HostPort | null;
  readonly logLevel: LogLevel;
  readonly retentionCheckpointIntervalMs: number;
  readonly partitionCheckpointIntervalMs: number;
  readonly compactionEnable: boolean;
  readonly compactionIntervalMs: number;
  readonly compactionMinAgeMs: number;
  readonly compactionMaxAgeMs: number;
  readonly segmentCommitTimeoutMs: number;
  readonly segmentTargetBytes: number;
  /** '' when there is no authorizer (every request allowed). */
  readonly authorizerClassName: string;
  /** `super.users` as written: principals separated by semicolons. */
  readonly superUsers: string;
  readonly allowEveryoneIfNoAclFound: boolean;
  readonly authorizerLogLevel: LogLevel;
  readonly quotaWindowNum: number;
  readonly quotaWindowSizeSeconds: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** `max.connections.per.ip.overrides` as written: ip:count pairs separated by commas. */
  readonly maxConnectionsPerIpOverrides: string;
}

/** What loadConfig() reads. Nothing is read implicitly: pass `env: process.env` to honour the environment. */
export interface LoadConfigOptions {
  /** Path of a Java-properties file. */
  file?: string;
  /** `key=value` strings (as given to --set) or a key → value map. Later entries win. */
  sets?: readonly string[] | Readonly<Record<string, string>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths (log.dirs, the config file) resolve against; default process.cwd(). */
  cwd?: string;
}

export class ConfigError extends Error {
  /** The key to fix, or null when the problem is not one key (an unreadable file, a malformed line). */
  readonly key: string | null;
  /** The offending value as supplied, or null. */
  readonly value: string | null;
  /** What would have been accepted, or null. */
  readonly expected: string | null;
  /** For an unknown key: the known key it probably meant, or null. */
  readonly suggestion: string | null;
  /** Where the value came from: `--set`, `config file /x.properties:12`, `environment SKAFOS_X`, `default`. */
  readonly source: string | null;

  constructor(
    message: string,
    details: {
      key?: string | null;
      value?: string | null;
      expected?: string | null;
      suggestion?: string | null;
      source?: string | null;
    } = {},
  ) {
    super(message);
    this.name = 'ConfigError';
    this.key = details.key ?? null;
    this.value = details.value ?? null;
    this.expected = details.expected ?? null;
    this.suggestion = details.suggestion ?? null;
    this.source = details.source ?? null;
  }
}

/** One row of the configuration reference. */
export interface ConfigDescription {
  readonly key: string;
  /** The BrokerConfig field it sets, or null for inputs folded into another field (log.retention.hours). */
  readonly field: keyof BrokerConfig | null;
  /** Accepted values, e.g. `int [1, 2147483647]`. */
  readonly type: string;
  /** The default as one would write it in the file; '' for none. */
  readonly default: string;
  readonly doc: string;
  /** Environment variable that sets it. */
  readonly env: string;
}

export interface ReadReplicaConfig {
  readonly name: string;
  readonly bucket: string;
  readonly region: string;
  /** null: AWS's endpoint for the region. */
  readonly endpoint: string | null;
}
