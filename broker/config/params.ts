// The configuration table: every key the broker reads, with its BrokerConfig field, value type, default and
// documentation. It is the one source of every user-facing default (configDefaults in load.ts parses them).
// The table is one long data array on purpose: one row per key, in the order of the reference and of
// formatConfig, so that a key's type, default and documentation are read and reviewed in one place.
import { timerMaxMs } from '../limits.ts';
import type { BrokerConfig } from './types.ts';
import {
  bool,
  consumerAssignors,
  dataDir,
  endpointUrl,
  etcdEndpoints,
  FILE_PATH,
  FILE_PATH_DESCRIBE,
  fraction,
  GIB,
  httpListener,
  INT_MAX,
  int,
  KIB,
  cipherSuiteList,
  jaasConfig,
  principalMappingRules,
  tlsProtocolList,
  listenerList,
  saslMechanismList,
  securityProtocolMap,
  long,
  MIB,
  oneOf,
  optional,
  readReplicaList,
  text,
} from './values.ts';
import type { KafkaConfigType, ValueType } from './values.ts';

export interface Param {
  readonly key: string;
  /** null: folded into another field by resolveConfig(). */
  readonly field: keyof BrokerConfig | null;
  readonly type: ValueType<unknown>;
  /** Raw default as written in a file; null = unset (parse is not called; the field is null/derived). */
  readonly default: string | null;
  readonly doc: string;
  /** Kafka's type of the key (DescribeConfigs' configType): the value type's unless the row says otherwise. */
  readonly kafkaType: KafkaConfigType;
}

function p(
  key: string,
  field: keyof BrokerConfig | null,
  type: ValueType<unknown>,
  dflt: string | null,
  doc: string,
  kafkaType: KafkaConfigType = type.kafkaType,
): Param {
  return { key, field, type, default: dflt, doc, kafkaType };
}

/**
 * skafos.flush.linger.ms when it is not set, per skafos.object.store: S3 charges per PUT, so it keeps a 250 ms
 * floor; a local disk does not, so the embedded default uses group commit with no floor.
 */
export const flushLingerMsDefaults: Readonly<Record<BrokerConfig['objectStore'], number>> = Object.freeze({ s3: 250, local: 0 });

export const PARAMS: readonly Param[] = [
  // Kafka keys
  p(
    'listeners',
    'listeners',
    listenerList('bind'),
    'PLAINTEXT://127.0.0.1:9092',
    'Addresses the Kafka protocol listens on, NAME://host:port each, the security protocol of NAME given by listener.security.protocol.map (docs/security.md). `PLAINTEXT://:9092` binds all IPv4 interfaces, `[::]` all IPv6 ones.',
  ),
  p(
    'advertised.listeners',
    'advertisedListeners',
    listenerList('advertise'),
    null,
    'Addresses given to clients in Metadata responses. Default: `listeners` (which then must not bind 0.0.0.0 or [::]; with port 0 the bound port is advertised).',
  ),
  p(
    'listener.security.protocol.map',
    'listenerSecurityProtocolMap',
    securityProtocolMap,
    'SASL_SSL:SASL_SSL,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT',
    'The security protocol of each listener name: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT (SASL authentication) or SASL_SSL (both). A listener whose name is not mapped must be named after a protocol.',
  ),
  p(
    'inter.broker.listener.name',
    'interBrokerListenerName',
    optional(text(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a listener name')),
    null,
    'Cluster mode: the listener other brokers use to reach this one (transaction markers, transaction verification). Default: the listener named PLAINTEXT, else the first. It must be a PLAINTEXT listener for now (the broker-to-broker client speaks neither TLS nor SASL).',
  ),
  p(
    'sasl.enabled.mechanisms',
    'saslEnabledMechanisms',
    saslMechanismList,
    'SCRAM-SHA-256,SCRAM-SHA-512',
    "SASL mechanisms SASL_PLAINTEXT and SASL_SSL listeners accept (overridable per listener with `listener.name.<listener>.sasl.enabled.mechanisms`). Kafka's default, GSSAPI (Kerberos), is not supported. PLAIN checks `sasl.jaas.config`'s user_<name> entries, then the SCRAM credentials.",
  ),
  p(
    'sasl.jaas.config',
    'saslJaasConfig',
    jaasConfig,
    null,
    'PLAIN credentials, as Kafka writes them: `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="secret";`. Usually given per listener and mechanism: `listener.name.<listener>.plain.sasl.jaas.config`. Never reported by DescribeConfigs or logged.',
  ),
  p(
    'connection.failed.authentication.delay.ms',
    'connectionFailedAuthenticationDelayMs',
    int(0, timerMaxMs),
    '100',
    'A connection that failed authentication gets its failure response and is closed this long after the failure (slows down password guessing).',
  ),
  p(
    'ssl.keystore.type',
    'sslKeystoreType',
    oneOf('PEM'),
    'PEM',
    "Format of the broker's key and certificate: PEM only (Kafka's default JKS and PKCS12 are not read; convert them with openssl or keytool).",
  ),
  p(
    'ssl.keystore.location',
    'sslKeystoreLocation',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    "PEM file with the broker's private key and certificate chain, for SSL and SASL_SSL listeners. Re-read when it changes (certificate rotation without a restart).",
  ),
  p(
    'ssl.key.password',
    'sslKeyPassword',
    optional(text(/^[\s\S]*$/, 'any text')),
    null,
    'Password of an encrypted private key (ssl.keystore.location or ssl.keystore.key). Never reported by DescribeConfigs or logged.',
    'password',
  ),
  p(
    'ssl.keystore.certificate.chain',
    'sslKeystoreCertificateChain',
    optional(text(/-----BEGIN CERTIFICATE-----/, 'PEM certificates')),
    null,
    "The broker's certificate chain given inline (PEM), instead of ssl.keystore.location.",
  ),
  p(
    'ssl.keystore.key',
    'sslKeystoreKey',
    optional(text(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a PEM private key')),
    null,
    "The broker's private key given inline (PEM), with ssl.keystore.certificate.chain. Never reported by DescribeConfigs or logged.",
    'password',
  ),
  p('ssl.truststore.type', 'sslTruststoreType', oneOf('PEM'), 'PEM', 'Format of the trusted certificates: PEM only.'),
  p(
    'ssl.truststore.location',
    'sslTruststoreLocation',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'PEM file of the certificate authorities client certificates are checked against (ssl.client.auth). Re-read when it changes.',
  ),
  p(
    'ssl.truststore.certificates',
    'sslTruststoreCertificates',
    optional(text(/-----BEGIN CERTIFICATE-----/, 'PEM certificates')),
    null,
    'The trusted certificates given inline (PEM), instead of ssl.truststore.location.',
  ),
  p('ssl.enabled.protocols', 'sslEnabledProtocols', tlsProtocolList, 'TLSv1.2,TLSv1.3', 'TLS versions accepted.'),
  p(
    'ssl.cipher.suites',
    'sslCipherSuites',
    cipherSuiteList,
    '',
    "Cipher suites accepted, by their OpenSSL or IANA TLS 1.3 names (TLS_AES_128_GCM_SHA256); empty: Node's defaults.",
  ),
  p(
    'ssl.client.auth',
    'sslClientAuth',
    oneOf('none', 'requested', 'required'),
    'none',
    '`required`: a client must present a certificate signed by a CA of the truststore (mTLS), else the TLS handshake fails; `requested`: one is asked for but not required. On SSL listeners the certificate subject is the principal (ssl.principal.mapping.rules).',
  ),
  p(
    'ssl.principal.mapping.rules',
    'sslPrincipalMappingRules',
    principalMappingRules,
    'DEFAULT',
    'How the subject of a client certificate (RFC 2253, e.g. `CN=alice,OU=eng,O=Example`) becomes the principal name: rules `RULE:pattern/replacement/` (optionally `/L` or `/U` to lower- or upper-case), tried in order, or `DEFAULT` (the whole subject), as Kafka.',
  ),
  p(
    'connections.max.reauth.ms',
    'connectionsMaxReauthMs',
    long(0, timerMaxMs),
    '0',
    'SASL listeners (KIP-368): an authenticated session lasts this long; the client must re-authenticate on the connection before it ends (SaslAuthenticate v1+ tells it the lifetime), else the connection is closed at its next request. 0: sessions do not expire. Overridable per listener.',
  ),
  p(
    'sasl.server.max.receive.size',
    'saslServerMaxReceiveSize',
    int(1, INT_MAX),
    '524288',
    'Largest request accepted on a SASL listener before authentication (the SASL tokens); a larger one closes the connection.',
  ),
  p(
    'node.id',
    'nodeId',
    int(0, INT_MAX, [-1]),
    '1',
    "This broker's id, unique in the cluster. In cluster mode, -1 has the cluster assign one (from 1001 up) at first start, kept in log.dirs for later starts. A broker started with the id of a live one takes the id over and the other one stops.",
  ),
  p(
    'broker.rack',
    'brokerRack',
    optional(text(/^[A-Za-z0-9._:-]{1,128}$/, 'a rack name: letters, digits and . _ : -')),
    null,
    'Rack (or availability zone) of this broker: partition ownership is spread across racks.',
  ),
  p(
    'broker.session.timeout.ms',
    'brokerSessionTimeoutMs',
    int(1000, timerMaxMs),
    '9000',
    'Cluster mode: the membership lease. A broker that has not renewed it for this long (killed, paused, cut off from etcd) is out of the cluster and its partitions move to others; it can no longer commit anything.',
  ),
  p(
    'skafos.cluster.mode',
    'clusterMode',
    oneOf('auto', 'single', 'cluster'),
    'auto',
    '`cluster`: brokers sharing one etcd divide partitions and coordinators between them (membership under a lease, ownership with fencing; spec/cluster.md). `single`: this broker leads every partition (one broker per metadata store). `auto`: cluster with skafos.metadata.store=etcd, single otherwise.',
  ),
  p(
    'log.dirs',
    'dataDir',
    dataDir,
    './data',
    "The data directory: the local object store and the embedded metadata store keep their files here. One directory (Kafka's comma list is refused); a relative path resolves against the working directory at start.",
  ),
  p('num.partitions', 'numPartitions', int(1), '1', 'Partitions of auto-created topics, and of CreateTopics requests that give none.'),
  p(
    'default.replication.factor',
    'defaultReplicationFactor',
    int(1, 32767),
    '1',
    'Replication factor recorded for topics created without one. Values above 1 are accepted for client compatibility: durability comes from the object store, which replicates every segment, so the broker keeps no extra copies.',
  ),
  p(
    'auto.create.topics.enable',
    'autoCreateTopicsEnable',
    bool,
    'true',
    'Create a topic when a client asks for metadata of, or produces to, a missing one.',
  ),
  p('delete.topic.enable', 'deleteTopicEnable', bool, 'true', 'Allow DeleteTopics; when false it fails with TOPIC_DELETION_DISABLED.'),
  p(
    'log.retention.ms',
    null,
    long(0, Number.MAX_SAFE_INTEGER, [-1]),
    null,
    'Time to keep a segment after its newest record; -1 keeps data forever. Precedence as in Kafka: log.retention.ms, then log.retention.minutes, then log.retention.hours. Across layers, the highest layer that sets any of the three decides.',
  ),
  p(
    'log.retention.minutes',
    null,
    int(0, INT_MAX, [-1]),
    null,
    'Retention in minutes, used when log.retention.ms is not set in the same layer; -1 = forever.',
  ),
  p(
    'log.retention.hours',
    null,
    int(0, INT_MAX, [-1]),
    '168',
    'Retention in hours, used when neither log.retention.ms nor log.retention.minutes is set; -1 = forever.',
  ),
  p(
    'log.retention.bytes',
    'logRetentionBytes',
    long(0, Number.MAX_SAFE_INTEGER, [-1]),
    '-1',
    'Maximum bytes kept per partition before the oldest segments are deleted; -1 = no size limit.',
  ),
  p(
    'log.retention.check.interval.ms',
    'logRetentionCheckIntervalMs',
    long(1, timerMaxMs),
    '300000',
    'How often segments are checked for deletion under the retention policy.',
  ),
  p(
    'log.cleaner.enable',
    'logCleanerEnable',
    bool,
    'true',
    'Run the log cleaner, which compacts topics whose cleanup.policy includes compact (spec/compaction.md). It cleans segment objects, so it runs only with skafos.compaction.enable.',
  ),
  p(
    'log.cleaner.threads',
    'logCleanerThreads',
    int(1, 64),
    '1',
    'Partitions the log cleaner cleans at once; they share log.cleaner.dedupe.buffer.size.',
  ),
  p(
    'log.cleaner.dedupe.buffer.size',
    'logCleanerDedupeBufferSize',
    long(24 * 1024, 16 * GIB),
    String(128 * MIB),
    "Memory of the log cleaners' key maps, all threads together: 24 bytes per key (its MD5 and offset), used to 90 %. A partition whose dirty part has more keys is cleaned in several passes.",
  ),
  p(
    'log.cleaner.io.max.bytes.per.second',
    'logCleanerIoMaxBytesPerSecond',
    long(1),
    String(Number.MAX_SAFE_INTEGER),
    'Bytes per second the log cleaner reads and writes, all threads together (the default is unbounded).',
    'double',
  ),
  p(
    'log.cleaner.backoff.ms',
    'logCleanerBackoffMs',
    long(1, timerMaxMs),
    '15000',
    'How often the log cleaner looks for partitions to clean.',
  ),
  p('log.segment.bytes', 'logSegmentBytes', int(1048576), String(GIB), "Size at which a partition's log rolls to a new segment."),
  p(
    'message.max.bytes',
    'messageMaxBytes',
    int(0),
    '1048588',
    'Largest record batch the broker accepts (after compression). Must not exceed socket.request.max.bytes or skafos.flush.max.pending.bytes.',
  ),
  p(
    'socket.request.max.bytes',
    'socketRequestMaxBytes',
    int(1),
    String(100 * MIB),
    'Largest request the broker reads; a bigger one closes the connection.',
  ),
  p(
    'producer.id.expiration.ms',
    'producerIdExpirationMs',
    long(1, Number.MAX_SAFE_INTEGER),
    '86400000',
    "A partition forgets an idempotent producer whose last batch is older than this (by the batch's max timestamp); its next batch is then accepted with any sequence.",
  ),
  p(
    'transaction.partition.verification.enable',
    'transactionPartitionVerificationEnable',
    bool,
    'true',
    "KIP-890: before the first transactional batch of a transaction is appended to a partition, ask the transaction coordinator whether the partition is in the producer's ongoing transaction; refused batches cannot leave a hanging transaction.",
  ),
  p(
    'transaction.max.timeout.ms',
    'transactionMaxTimeoutMs',
    int(1, timerMaxMs),
    '900000',
    'Largest transaction.timeout.ms a transactional producer may ask for; InitProducerId with a longer one gets INVALID_TRANSACTION_TIMEOUT.',
  ),
  p(
    'transactional.id.expiration.ms',
    'transactionalIdExpirationMs',
    long(1, Number.MAX_SAFE_INTEGER),
    '604800000',
    'A transactional id with no transaction in progress and no update for this long is forgotten by its coordinator.',
  ),
  p(
    'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    'transactionAbortTimedOutTransactionCleanupIntervalMs',
    int(1, timerMaxMs),
    '10000',
    'How often the transaction coordinator aborts transactions open longer than their timeout (fencing their producer).',
  ),
  p(
    'transaction.remove.expired.transaction.cleanup.interval.ms',
    'transactionRemoveExpiredTransactionCleanupIntervalMs',
    int(1, timerMaxMs),
    '3600000',
    'How often the transaction coordinator removes expired transactional ids (transactional.id.expiration.ms).',
  ),
  p(
    'log.message.timestamp.type',
    'logMessageTimestampType',
    oneOf('CreateTime', 'LogAppendTime'),
    'CreateTime',
    "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock.",
  ),
  p(
    'log.message.timestamp.before.max.ms',
    'logMessageTimestampBeforeMaxMs',
    long(0),
    '9223372036854775807',
    "With CreateTime: reject a batch whose timestamp is further than this behind the broker's clock. Values above 2^53-1 (Kafka's Long.MAX_VALUE default) mean no limit.",
  ),
  p(
    'log.message.timestamp.after.max.ms',
    'logMessageTimestampAfterMaxMs',
    long(0),
    '3600000',
    "With CreateTime: reject a batch whose timestamp is further than this ahead of the broker's clock.",
  ),
  p(
    'compression.type',
    'compressionType',
    oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'),
    'producer',
    'Compression of stored batches; `producer` keeps what the producer sent.',
  ),
  p(
    'group.initial.rebalance.delay.ms',
    'groupInitialRebalanceDelayMs',
    int(0, timerMaxMs),
    '3000',
    'How long the coordinator waits for more members to join an empty consumer group before the first rebalance.',
  ),
  p(
    'offsets.retention.minutes',
    'offsetsRetentionMinutes',
    int(1),
    '10080',
    'Committed offsets of a group with no members are deleted after this long.',
  ),
  p(
    'offsets.retention.check.interval.ms',
    'offsetsRetentionCheckIntervalMs',
    long(1, timerMaxMs),
    '600000',
    'How often the group coordinator looks for expired committed offsets.',
  ),
  p(
    'offset.metadata.max.bytes',
    'offsetMetadataMaxBytes',
    int(0),
    '4096',
    'Largest metadata string an OffsetCommit may attach to an offset; longer ones fail with OFFSET_METADATA_TOO_LARGE.',
  ),
  p(
    'group.min.session.timeout.ms',
    'groupMinSessionTimeoutMs',
    int(0, timerMaxMs),
    '6000',
    'Smallest session timeout a consumer group member may ask for (JoinGroup answers INVALID_SESSION_TIMEOUT below it).',
  ),
  p(
    'group.max.session.timeout.ms',
    'groupMaxSessionTimeoutMs',
    int(0, timerMaxMs),
    '1800000',
    'Largest session timeout a consumer group member may ask for (JoinGroup answers INVALID_SESSION_TIMEOUT above it).',
  ),
  p(
    'group.max.size',
    'groupMaxSize',
    int(1),
    '1000',
    'Most members a classic consumer group may have; further members get GROUP_MAX_SIZE_REACHED. Kafka has no limit by default; Skafos bounds the memory a group holds.',
  ),
  p(
    'skafos.group.max.groups',
    'groupMaxGroups',
    int(1),
    '100000',
    'Most consumer groups one broker serves; new groups beyond it get COORDINATOR_NOT_AVAILABLE until expired or deleted groups make room.',
  ),
  p(
    'skafos.group.max.record.bytes',
    'groupMaxRecordBytes',
    int(1024, 1000 * 1024),
    String(768 * 1024),
    'Largest stored group state (members, subscriptions, assignments); a SyncGroup whose assignment would exceed it fails with UNKNOWN_SERVER_ERROR, as Kafka fails an oversized group record.',
  ),
  p(
    'group.consumer.heartbeat.interval.ms',
    'groupConsumerHeartbeatIntervalMs',
    int(1, timerMaxMs),
    '5000',
    'Heartbeat interval the coordinator gives members of `consumer` (KIP-848) groups.',
  ),
  p(
    'group.consumer.session.timeout.ms',
    'groupConsumerSessionTimeoutMs',
    int(1, timerMaxMs),
    '45000',
    'A member of a `consumer` (KIP-848) group that sends no ConsumerGroupHeartbeat for this long is removed from the group.',
  ),
  p(
    'group.consumer.min.session.timeout.ms',
    'groupConsumerMinSessionTimeoutMs',
    int(1, timerMaxMs),
    '45000',
    'Smallest consumer.session.timeout.ms a `consumer` (KIP-848) group may be configured with (IncrementalAlterConfigs on a GROUP resource).',
  ),
  p(
    'group.consumer.max.session.timeout.ms',
    'groupConsumerMaxSessionTimeoutMs',
    int(1, timerMaxMs),
    '60000',
    'Largest consumer.session.timeout.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.min.heartbeat.interval.ms',
    'groupConsumerMinHeartbeatIntervalMs',
    int(1, timerMaxMs),
    '5000',
    'Smallest consumer.heartbeat.interval.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.max.heartbeat.interval.ms',
    'groupConsumerMaxHeartbeatIntervalMs',
    int(1, timerMaxMs),
    '15000',
    'Largest consumer.heartbeat.interval.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.max.size',
    'groupConsumerMaxSize',
    int(1),
    '1000',
    'Most members a `consumer` (KIP-848) group may have; further members get GROUP_MAX_SIZE_REACHED. Kafka has no limit by default; Skafos bounds the memory and the stored state of a group.',
  ),
  p(
    'group.consumer.assignors',
    'groupConsumerAssignors',
    consumerAssignors,
    'uniform,range',
    'Server-side assignors of `consumer` (KIP-848) groups; a member may name one with group.remote.assignor, others get UNSUPPORTED_ASSIGNOR. The first is the default.',
  ),
  p(
    'skafos.group.consumer.max.subscribed.topics',
    'groupConsumerMaxSubscribedTopics',
    int(1),
    '10000',
    'Most topic names (plus a regex) one member of a `consumer` (KIP-848) group may subscribe to; a larger subscription gets INVALID_REQUEST.',
  ),
  p(
    'connections.max.idle.ms',
    'connectionsMaxIdleMs',
    long(1, timerMaxMs),
    '600000',
    'Close client connections idle for longer than this.',
  ),
  p(
    'queued.max.requests',
    'queuedMaxRequests',
    int(1),
    '500',
    'Requests read but not yet answered, across all connections, before the broker stops reading from sockets.',
  ),
  // Skafos keys
  p(
    'skafos.cluster.id',
    'clusterId',
    optional(text(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 characters of A-Z a-z 0-9 _ -')),
    null,
    'Cluster id reported to clients. Default: generated on the first start and persisted in the metadata store; set it only to pin a known id.',
  ),
  p(
    'skafos.flush.size.bytes',
    'flushSizeBytes',
    int(1, GIB),
    String(8 * MIB),
    "A partition's buffered produce data is written to the object store once it reaches this size.",
  ),
  p(
    'skafos.storage.health.window.ms',
    'storageHealthWindowMs',
    int(1000, timerMaxMs),
    '30000',
    'Sliding window over which object-store call latency and errors are judged.',
  ),
  p(
    'skafos.storage.health.min.calls',
    'storageHealthMinCalls',
    int(1),
    '20',
    'Below this many calls in the window, error rates are not judged (latency, consecutive failures and stalls still are).',
  ),
  p(
    'skafos.storage.health.degraded.error.rate',
    'storageHealthDegradedErrorRate',
    fraction(),
    '0.05',
    'Share of failed or throttled object-store calls at which the store is degraded: producers get throttle_time_ms.',
  ),
  p(
    'skafos.storage.health.degraded.p99.ms',
    'storageHealthDegradedP99Ms',
    optional(int(1, timerMaxMs)),
    null,
    "p99 object-store call latency at which the store is degraded; empty for the store's default: 2000 with skafos.object.store=s3, 1000 with local (a disk answers in milliseconds). Event-loop stalls are not counted as store latency.",
  ),
  p(
    'skafos.storage.health.unavailable.error.rate',
    'storageHealthUnavailableErrorRate',
    fraction(),
    '0.5',
    'Share of failed calls at which the store is unavailable: Produce fails fast with NOT_ENOUGH_REPLICAS, /readyz answers 503.',
  ),
  p(
    'skafos.storage.health.unavailable.consecutive.failures',
    'storageHealthUnavailableConsecutiveFailures',
    int(1),
    '10',
    'Consecutive failed object-store calls after which the store is unavailable.',
  ),
  p(
    'skafos.storage.health.unavailable.stall.ms',
    'storageHealthUnavailableStallMs',
    int(1, timerMaxMs),
    '15000',
    'An object-store call in flight this long makes the store unavailable (a stalled connection).',
  ),
  p(
    'skafos.storage.health.recovery.hold.ms',
    'storageHealthRecoveryHoldMs',
    int(0, timerMaxMs),
    '5000',
    'A worse health state is left only after this long without signals of it.',
  ),
  p(
    'skafos.flush.linger.ms',
    'flushLingerMs',
    int(0, timerMaxMs),
    null,
    `Cost floor of the WAL flush. Produce data is written as soon as the previous flush has committed (group commit), but below skafos.flush.size.bytes no sooner than this long after the previous flush started, so at most 3600000 / this value objects (PUTs) per hour beyond those of full objects; data that has waited this long is written even while another flush is in flight. Unset: ${flushLingerMsDefaults.s3} with skafos.object.store=s3 (at most 14,400 PUTs per hour; at $0.005 per 1,000 PUTs, $0.072 per hour, $52 per 30 days), ${flushLingerMsDefaults.local} with local (no floor: acknowledged after one local write and one metadata commit). With s3, 50 allows 72,000 PUTs per hour ($0.36 per hour, $259 per 30 days at that price) and 0 one PUT per flush. See docs/tuning.md.`,
  ),
  p(
    'skafos.flush.max.pending.bytes',
    'flushMaxPendingBytes',
    long(1),
    String(64 * MIB),
    'Produce data buffered or being written, broker-wide; beyond it produce requests wait (backpressure). At least skafos.flush.size.bytes and message.max.bytes.',
  ),
  p(
    'skafos.cache.segment.bytes',
    'cacheSegmentBytes',
    long(0),
    String(256 * MIB),
    'L1 cache of hot segment data in memory; 0 disables it.',
  ),
  p('skafos.cache.index.bytes', 'cacheIndexBytes', long(0), String(64 * MIB), 'L2 cache of segment indexes in memory; 0 disables it.'),
  p(
    'skafos.readahead.bytes',
    'readaheadBytes',
    long(0),
    String(4 * MIB),
    'Bytes fetched from the object store beyond what a fetch needs, for the next sequential fetch; 0 disables read-ahead.',
  ),
  p(
    'skafos.prefetch.max.inflight.bytes',
    'prefetchMaxInflightBytes',
    long(0),
    String(64 * MIB),
    'Object-store bytes being loaded ahead of need at once, broker-wide: read-ahead, and the ranges of every partition a fetch is about to read (loaded together rather than one after another). Beyond it, reads load on demand; 0 disables both.',
  ),
  p(
    'skafos.connection.max.inflight.bytes',
    'connectionMaxInflightBytes',
    long(1),
    String(100 * MIB),
    'Request bytes read but not yet answered on one connection before the broker stops reading from it. At least socket.request.max.bytes.',
  ),
  p(
    'skafos.connection.max.inflight.requests',
    'connectionMaxInflightRequests',
    int(1, 65535),
    '100',
    'Requests read but not yet answered on one connection before the broker stops reading from it.',
  ),
  p(
    'skafos.producer.state.max.producers',
    'producerStateMaxProducers',
    int(1, 2000),
    '1000',
    "Idempotent producers remembered per partition; beyond it the least recently written one is forgotten (its retries are no longer recognised as duplicates). Bounds the producer-state snapshot in each partition manifest (about 300 bytes per producer; at most 2000 so that a manifest stays within the metadata store's value limits; spec/producer-state.md).",
  ),
  p(
    'skafos.transaction.max.partitions',
    'transactionMaxPartitions',
    int(1, 10000),
    '1000',
    "Partitions (and consumer groups) one transaction may span; AddPartitionsToTxn beyond it gets INVALID_REQUEST. Bounds the transaction's document in the metadata store.",
  ),
  p(
    'skafos.transaction.version',
    'transactionVersion',
    int(0, 2),
    '2',
    "The finalized level of Kafka's `transaction.version` feature that ApiVersions advertises (Kafka sets it with `kafka-storage format --feature` or `kafka-features upgrade/downgrade`). 2 (Kafka 4's default): clients that support it use transactions version 2 (KIP-890 part 2: EndTxn v5 with an epoch bump per transaction, partitions and offsets added implicitly by Produce v12 and TxnOffsetCommit v5). 0 or 1: clients keep to version 1 (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn v4). Requests are served by their version whatever the level, as in Kafka. Set the same value on every broker; it is read at start (the finalized-features epoch is the broker's start time, so clients adopt the level of a restarted broker).",
  ),
  p(
    'skafos.fetch.max.wait.cap.ms',
    'fetchMaxWaitCapMs',
    int(0, timerMaxMs),
    '30000',
    "Upper bound on a Fetch request's max_wait_ms: longer waits are shortened to this.",
  ),
  p(
    'skafos.metadata.store',
    'metadataStore',
    oneOf('embedded', 'etcd'),
    'embedded',
    'Where cluster metadata lives: `embedded` (in log.dirs; single broker) or `etcd` (shared by all brokers).',
  ),
  p(
    'skafos.etcd.endpoints',
    'etcdEndpoints',
    etcdEndpoints,
    null,
    'etcd client URLs, comma-separated (e.g. http://10.0.0.1:2379,http://10.0.0.2:2379). Required with skafos.metadata.store=etcd, refused otherwise.',
  ),
  p(
    'skafos.etcd.prefix',
    'etcdPrefix',
    text(
      /^\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/,
      'a key prefix like /skafos or /clusters/prod: starts with /, no trailing /, segments of A-Z a-z 0-9 . _ -',
    ),
    '/skafos',
    'Prefix of every key this cluster writes in etcd (/skafos/topics/... for /skafos). Clusters sharing an etcd need prefixes that do not nest: /skafos/prod and /skafos/staging, not /skafos and /skafos/prod.',
  ),
  p(
    'skafos.etcd.dial.timeout.ms',
    'etcdDialTimeoutMs',
    int(1, timerMaxMs),
    '5000',
    'At start, the broker gives up (and exits) if etcd has not answered within this time.',
  ),
  p(
    'skafos.etcd.request.timeout.ms',
    'etcdRequestTimeoutMs',
    int(1, timerMaxMs),
    '5000',
    'Deadline of every metadata operation, retries included: a request that certainly did not reach etcd (no connection, no leader) is retried on another endpoint until then; afterwards the operation fails with a retriable error. Outages never make an operation hang longer.',
  ),
  p(
    'skafos.etcd.username',
    'etcdUsername',
    optional(text(/^[A-Za-z0-9._@-]{1,128}$/, 'a user name: letters, digits and . _ @ -')),
    null,
    'etcd user for password authentication, with skafos.etcd.password.file. Its role needs read-write on the prefix range `<skafos.etcd.prefix>/`. Default: no authentication.',
  ),
  p(
    'skafos.etcd.password.file',
    'etcdPasswordFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'File whose first line is the password of skafos.etcd.username (kept out of the configuration).',
  ),
  p(
    'skafos.etcd.tls.ca.file',
    'etcdTlsCaFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    "PEM file of the CA that signed etcd's certificate, for https:// endpoints. Default: the system's roots.",
  ),
  p(
    'skafos.etcd.tls.cert.file',
    'etcdTlsCertFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'PEM client certificate for etcd (client-certificate authentication), with skafos.etcd.tls.key.file.',
  ),
  p(
    'skafos.etcd.tls.key.file',
    'etcdTlsKeyFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'PEM private key of skafos.etcd.tls.cert.file.',
  ),
  p(
    'skafos.object.store',
    'objectStore',
    oneOf('local', 's3'),
    'local',
    'Where segments live: `local` (files under log.dirs; single broker, for development) or `s3` (S3 or an S3-compatible store).',
  ),
  p(
    'skafos.s3.bucket',
    's3Bucket',
    optional(
      text(
        /^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
        'an S3 bucket name: 3 to 63 characters of a-z 0-9 . -, starting and ending with a letter or digit',
      ),
    ),
    null,
    'Bucket holding the segments. Required with skafos.object.store=s3.',
  ),
  p(
    'skafos.s3.region',
    's3Region',
    text(/^[a-z0-9-]{1,64}$/, 'a region name such as us-east-1'),
    'us-east-1',
    'Region used to sign requests (and to pick the AWS endpoint).',
  ),
  p(
    'skafos.s3.endpoint',
    's3Endpoint',
    endpointUrl,
    null,
    'Endpoint of an S3-compatible store (MinIO, R2, ...), e.g. http://127.0.0.1:9000. Default: AWS.',
  ),
  p(
    'skafos.s3.path.style',
    's3PathStyle',
    bool,
    'false',
    'Address the bucket in the path (endpoint/bucket/key) instead of the host name; most S3-compatible stores need true.',
  ),
  p(
    'skafos.s3.access.key.id',
    's3AccessKeyId',
    optional(text(/^[A-Za-z0-9/+=._~-]{1,256}$/, 'an access key id: letters, digits and / + = . _ ~ -')),
    null,
    'Static credentials, with skafos.s3.secret.access.key (both or neither). Default: the standard AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity, ECS/EKS container and EC2 instance roles), which is preferable to a secret in a config file.',
  ),
  p(
    'skafos.s3.secret.access.key',
    's3SecretAccessKey',
    optional(text(/^[A-Za-z0-9/+=._~-]{1,512}$/, 'a secret access key: letters, digits and / + = . _ ~ -')),
    null,
    'Secret of skafos.s3.access.key.id. Never reported by DescribeConfigs.',
  ),
  p(
    'skafos.s3.sse.kms.key.id',
    's3SseKmsKeyId',
    optional(text(/^[A-Za-z0-9:/_.+=@-]{1,2048}$/, 'a KMS key id, key ARN, alias name (alias/...) or alias ARN')),
    null,
    "Encrypt every object written with SSE-KMS under this key. Default: no encryption header (the bucket's default encryption applies).",
  ),
  p(
    'skafos.s3.read.replicas',
    's3ReadReplicas',
    readReplicaList,
    '',
    'Read replicas of skafos.s3.bucket (cross-region replication), tried first for GETs in this order; an object missing there (replication lag) or a replica that errs falls back to the next and finally to skafos.s3.bucket; an erring replica is skipped for 30 s. Same credentials as skafos.s3.bucket.',
  ),
  p(
    'skafos.s3.max.concurrent.requests',
    's3MaxConcurrentRequests',
    int(1, 4096),
    '64',
    'S3 requests in flight at once (each holds one kept-alive connection); more wait in FIFO order. Multipart parts count one each.',
  ),
  p(
    'skafos.s3.multipart.threshold.bytes',
    's3MultipartThresholdBytes',
    long(5 * MIB, 5 * GIB),
    String(32 * MIB),
    'Objects larger than this are written with a multipart upload, parts in parallel; smaller ones with one PUT. Conditional writes (If-None-Match) always use one PUT up to 5 GiB.',
  ),
  p(
    'skafos.s3.multipart.part.bytes',
    's3MultipartPartBytes',
    long(5 * MIB, 5 * GIB),
    String(8 * MIB),
    "Size of a multipart upload's parts (the last may be smaller); raised for an object that would need more than 10000 parts.",
  ),
  p(
    'skafos.s3.connect.timeout.ms',
    's3ConnectTimeoutMs',
    int(1, timerMaxMs),
    '5000',
    'An S3 connection not established within this time fails the attempt (which may be retried).',
  ),
  p(
    'skafos.s3.request.timeout.ms',
    's3RequestTimeoutMs',
    int(1, timerMaxMs),
    '30000',
    'An S3 request whose connection moves no bytes for this long (a stalled connection) fails the attempt (which may be retried).',
  ),
  p(
    'skafos.s3.retry.max.attempts',
    's3RetryMaxAttempts',
    int(1, 100),
    '6',
    'Attempts per S3 request, the first included, for retryable failures: throttling (503 SlowDown, 429), other 5xx, 409 ConditionalRequestConflict, timeouts and network errors.',
  ),
  p(
    'skafos.s3.retry.backoff.base.ms',
    's3RetryBackoffBaseMs',
    int(1, timerMaxMs),
    '100',
    'The wait before retry n is random in [0, min(skafos.s3.retry.backoff.max.ms, this × 2^(n-1))] (exponential backoff, full jitter).',
  ),
  p(
    'skafos.s3.retry.backoff.max.ms',
    's3RetryBackoffMaxMs',
    int(1, timerMaxMs),
    '5000',
    'Upper bound on the wait before one retry. At least skafos.s3.retry.backoff.base.ms.',
  ),
  p(
    'skafos.s3.retry.budget.tokens',
    's3RetryBudgetTokens',
    int(0, 1_000_000),
    '500',
    'Retry budget shared by all S3 requests: a token bucket of this size, starting full, from which a retry takes 5 tokens and to which a successful request adds 1. When it is empty, failures are not retried, so a store that fails everything gets one attempt per call and calls fail fast. 0 disables retries.',
  ),
  p(
    'skafos.http.listener',
    'httpListener',
    httpListener,
    '127.0.0.1:9644',
    'Address of the operations HTTP endpoint (/metrics, /healthz, /readyz); empty disables it.',
  ),
  p(
    'skafos.log.level',
    'logLevel',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'info',
    'Level of the structured (JSON, stdout) log.',
  ),
  p(
    'skafos.retention.checkpoint.interval.ms',
    'retentionCheckpointIntervalMs',
    int(1, timerMaxMs),
    '10000',
    'How often retention progress is checkpointed.',
  ),
  p(
    'skafos.partition.checkpoint.interval.ms',
    'partitionCheckpointIntervalMs',
    int(1, timerMaxMs),
    '5000',
    "How often each partition's state is checkpointed.",
  ),
  p(
    'skafos.compaction.enable',
    'compactionEnable',
    bool,
    'true',
    "Merge each partition's older WAL data into per-partition segment objects in the background, so WAL objects and their metadata keys are deleted, start-up reads small per-partition manifests instead of every WAL object's index, and old data is read through segment indexes.",
  ),
  p(
    'skafos.compaction.interval.ms',
    'compactionIntervalMs',
    int(100, timerMaxMs),
    '15000',
    "How often the compactor looks for data to merge into segments; also the most often compaction rewrites one partition's manifest.",
  ),
  p(
    'skafos.compaction.min.age.ms',
    'compactionMinAgeMs',
    long(0, timerMaxMs),
    '30000',
    'WAL data younger than this is never compacted (recent data stays where tailing consumers read it from memory). At most skafos.compaction.max.age.ms.',
  ),
  p(
    'skafos.compaction.max.age.ms',
    'compactionMaxAgeMs',
    long(0, timerMaxMs),
    '600000',
    'WAL data this old is compacted even when a partition has less than skafos.segment.target.bytes of it, which bounds how long WAL objects live.',
  ),
  p(
    'skafos.segment.commit.timeout.ms',
    'segmentCommitTimeoutMs',
    long(1, timerMaxMs),
    '60000',
    'A compaction or log cleaning sends the manifest commit of the segment objects it wrote no later than this after it began writing them, or abandons them. Any broker (the controller in cluster mode) deletes a segment object no manifest names once it has seen it so for this plus twice skafos.etcd.request.timeout.ms with etcd (spec/compaction.md, orphans).',
  ),
  p(
    'skafos.segment.target.bytes',
    'segmentTargetBytes',
    int(64 * KIB, GIB),
    String(16 * MIB),
    'Size at which the compactor cuts a segment object (a run of whole flushed chunks reaching it; one large chunk can take a segment over it). Segments are built in memory: a compaction pass holds up to four (at most 256 MiB, or one segment when larger). Partitions with more than 1000 segments have adjacent small ones merged up to this size, which bounds their manifest.',
  ),
  // Authorization (docs/security.md)
  p(
    'authorizer.class.name',
    'authorizerClassName',
    oneOf('', 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'kafka.security.authorizer.AclAuthorizer'),
    '',
    "The authorizer: empty (the default) authorizes every request and the ACL APIs answer SECURITY_DISABLED; Kafka's StandardAuthorizer or AclAuthorizer class name turns on Skafos's ACL authorizer (StandardAuthorizer semantics, ACLs kept in the metadata store and shared by the cluster).",
  ),
  p(
    'super.users',
    'superUsers',
    text(/^$|^[^;:]+:[^;]*(;[^;:]+:[^;]*)*$/, 'principals separated by semicolons, e.g. User:admin;User:ops'),
    '',
    'Principals that may do everything, whatever the ACLs say, separated by semicolons (User:admin;User:ops).',
  ),
  p(
    'allow.everyone.if.no.acl.found',
    'allowEveryoneIfNoAclFound',
    bool,
    'false',
    'With an authorizer: allow every principal to act on a resource that no ACL at all mentions (by literal name, the wildcard or a prefix). Off by default: such resources are refused to all but super users.',
    'boolean',
  ),
  // Client quotas (docs/security.md)
  p('quota.window.num', 'quotaWindowNum', int(1, 1000), '11', 'Number of samples a client quota rate is measured over (as Kafka).'),
  p(
    'quota.window.size.seconds',
    'quotaWindowSizeSeconds',
    int(1, 3600),
    '1',
    'Length of one sample of a client quota rate, in seconds (as Kafka).',
  ),
  p(
    'max.connections',
    'maxConnections',
    int(0, INT_MAX),
    String(INT_MAX),
    'Most client connections the broker holds; a new connection beyond it is closed at once (Kafka instead stops accepting until one closes).',
  ),
  p(
    'max.connections.per.ip',
    'maxConnectionsPerIp',
    int(0, INT_MAX),
    String(INT_MAX),
    'Most connections from one IP address; a new connection beyond it is closed at once. max.connections.per.ip.overrides sets other limits for given addresses.',
  ),
  p(
    'max.connections.per.ip.overrides',
    'maxConnectionsPerIpOverrides',
    text(
      /^$|^\s*[^,:]*(:[^,:]*)*:\d+\s*(,\s*[^,:]*(:[^,:]*)*:\d+\s*)*$/,
      'ip:count pairs separated by commas, e.g. 10.0.0.1:200,10.0.0.2:0',
    ),
    '',
    'Per-IP connection limits overriding max.connections.per.ip: ip:count pairs separated by commas (IP addresses, not host names).',
  ),
  p(
    'skafos.authorizer.log.level',
    'authorizerLogLevel',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'info',
    "Level of the authorizer's decision log (as Kafka's kafka.authorizer.logger): denials are logged at info and grants at debug, so info logs every denial and debug every decision.",
  ),
];

export const PARAM_BY_KEY = new Map(PARAMS.map((param) => [param.key, param]));

/** Keys whose values are secrets: DescribeConfigs reports them as sensitive, without the value (as Kafka does). */
export const SENSITIVE_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'skafos.s3.secret.access.key',
  'sasl.jaas.config',
  'ssl.key.password',
  'ssl.keystore.key',
]);

export const SKAFOS_PREFIX = 'skafos.';
const ENV_PREFIX = 'SKAFOS_';

/** The environment variable for a key: skafos.s3.bucket → SKAFOS_S3_BUCKET, log.segment.bytes → SKAFOS_LOG_SEGMENT_BYTES. */
export function envName(key: string): string {
  const bare = key.startsWith(SKAFOS_PREFIX) ? key.slice(SKAFOS_PREFIX.length) : key;
  return ENV_PREFIX + bare.toUpperCase().replaceAll('.', '_');
}

/** The literal form, SKAFOS_SKAFOS_S3_BUCKET, also accepted for skafos.* keys. */
export function literalEnvName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replaceAll('.', '_');
}

// Self-checks at load: the table is the only source of truth, so keep it consistent.
{
  const envs = new Map<string, string>();
  const fields = new Set<string>();
  for (const param of PARAMS) {
    for (const name of new Set([envName(param.key), literalEnvName(param.key)])) {
      const other = envs.get(name);
      if (other !== undefined) throw new Error(`config table: ${param.key} and ${other} share ${name}`);
      envs.set(name, param.key);
    }
    if (param.field !== null) {
      if (fields.has(param.field)) throw new Error(`config table: field ${param.field} set by two keys`);
      fields.add(param.field);
    }
  }
}

/** Kafka keys people copy from server.properties that mean nothing here: a specific hint instead of a guess. */
export const KAFKA_ONLY_KEYS: Readonly<Record<string, string>> = {
  'broker.id': 'use node.id',
  'log.dir': 'use log.dirs',
  'zookeeper.connect': 'Skafos has no ZooKeeper; cluster metadata lives in skafos.metadata.store',
  'process.roles': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.quorum.voters': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.quorum.bootstrap.servers': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.listener.names': 'Skafos has no KRaft controllers',
  'num.network.threads': 'Skafos has no network or I/O thread pools to size',
  'num.io.threads': 'Skafos has no network or I/O thread pools to size',
  'num.recovery.threads.per.data.dir': 'segments live in the object store; there is no local log recovery',
  'offsets.topic.replication.factor': 'durability comes from the object store',
  'transaction.state.log.replication.factor': 'durability comes from the object store',
  'transaction.state.log.min.isr': 'durability comes from the object store',
  'min.insync.replicas': 'durability comes from the object store',
  'log.flush.interval.messages': 'flushing is governed by skafos.flush.size.bytes and skafos.flush.linger.ms',
  'log.flush.interval.ms': 'flushing is governed by skafos.flush.size.bytes and skafos.flush.linger.ms',
  'socket.send.buffer.bytes': 'socket buffers are left to the operating system',
  'socket.receive.buffer.bytes': 'socket buffers are left to the operating system',
};

/** Keys that belong to the object store or metadata store not selected. */
export function unusedKeys(c: BrokerConfig): string[] {
  const keys: string[] = [];
  if (c.objectStore !== 's3') keys.push(...PARAMS.filter((param) => param.key.startsWith('skafos.s3.')).map((param) => param.key));
  if (c.metadataStore !== 'etcd') keys.push(...PARAMS.filter((param) => param.key.startsWith('skafos.etcd.')).map((param) => param.key));
  return keys;
}

/** Kafka's type of a key of the table (DescribeConfigs' configType), or undefined for an unknown key. */
export function brokerConfigKafkaType(key: string): KafkaConfigType | undefined {
  return PARAM_BY_KEY.get(key)?.kafkaType;
}
