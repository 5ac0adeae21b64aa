// The broker's internal limits: every bound on a buffer, queue, cache, batch, retry or wait that is not a
// setting. Each is named with its unit (...Ms, ...Bytes, ...Count) and says why it has its value. Settings and
// their defaults live in the configuration table (broker/config/params.ts); facts of a protocol (Kafka's, S3's,
// a file format's) stay with the protocol. Relationships between these limits and the settings are asserted
// when the configuration is loaded (assertLimits in broker/config/validate.ts).
//
// This module is part of the config layer: it imports nothing.

const KIB = 1024;
const MIB = 1024 * KIB;

// ---------------------------------------------------------------------------------------------------------
// Timers

/** setTimeout/setInterval treat a longer delay as 1 ms, so every period or delay used as a timer is capped. */
export const timerMaxMs = 2_147_483_647;

// ---------------------------------------------------------------------------------------------------------
// Metadata store (etcd's own defaults, which the embedded store enforces too so both behave alike)

/** Longest key: etcd has no key limit of its own below the request size; 4 KiB keeps keys index-friendly. */
export const metadataMaxKeyBytes = 4 * KIB;
/** Largest value: below etcd's default 1.5 MiB request limit with room for the key and the request. */
export const metadataMaxValueBytes = MIB;
/** Operations in one transaction, compares included: etcd's default --max-txn-ops. */
export const metadataMaxTxnOpsCount = 128;
/** Bytes of one transaction: etcd's default --max-request-bytes. */
export const metadataMaxTxnBytes = 1.5 * MIB;
/** Revisions of history kept for watches that resume (a slower watcher gets a compaction error). */
export const metadataWatchHistoryCount = 10_000;
/** Bytes of that history at most, so that large values cannot make it unbounded. */
export const metadataWatchHistoryBytes = 256 * MIB;
/** Manifest transactions of the log manager: below metadataMaxTxnOpsCount with room for compares. */
export const manifestTxnMaxOpsCount = 100;
/** Bytes of keys and values in one manifest transaction: below metadataMaxTxnBytes with room for the request. */
export const manifestTxnMaxBytes = MIB;
/** Group store transactions: below metadataMaxTxnOpsCount with room for compares. */
export const groupStoreTxnMaxOpsCount = 90;
/** Bytes of values in one group store transaction, below metadataMaxValueBytes-sized requests. */
export const groupStoreTxnMaxBytes = 900 * KIB;
/** Partition ownership writes per transaction, below metadataMaxTxnOpsCount with room for compares. */
export const ownershipTxnMaxChangesCount = 50;
/** Shortest etcd lease granted (etcd's own minimum is about this; shorter ones are rounded up). */
export const etcdMinLeaseTtlMs = 2000;
/** First wait before re-opening a broken etcd watch stream, doubled up to etcdWatchBackoffMaxMs. */
export const etcdWatchBackoffMinMs = 50;
/** Longest wait between attempts to re-open a watch stream: recovery within a second of etcd coming back. */
export const etcdWatchBackoffMaxMs = 1000;
/** First wait of gRPC before reconnecting to etcd (gRPC's own backoff grows to 2 minutes). */
export const etcdReconnectBackoffMinMs = 100;
/** Longest wait of gRPC between reconnects to etcd: reconnect promptly once etcd is back. */
export const etcdReconnectBackoffMaxMs = 1000;
/** Keepalive ping period of an etcd connection: notices a dead connection under a long watch (etcd refuses < 5 s). */
export const etcdKeepaliveMs = 10_000;
/** First wait before retrying a failed etcd request within its deadline. */
export const etcdRetryBackoffMinMs = 20;
/** Longest wait between retries of one etcd request: several attempts fit in a request deadline. */
export const etcdRetryBackoffMaxMs = 250;
/** How long opening the embedded store waits for SQLite's file lock before reporting the directory as locked. */
export const embeddedOpenLockTimeoutMs = 1000;
/** Partitions of one topic at most: bounds the metadata and manifests one CreateTopics can ask for. */
export const topicMaxPartitionsCount = 100_000;

// ---------------------------------------------------------------------------------------------------------
// Retries and waits of the log, coordinators and cluster

/** First backoff of log/retry.ts, doubled (with jitter) up to retryMaxBackoffMs. */
export const retryInitialBackoffMs = 50;
/** Longest backoff of log/retry.ts: a transient failure is retried at least once a second. */
export const retryMaxBackoffMs = 1000;
/** Wait before following the WAL index again after its watch ended with an error. */
export const walIndexRewatchDelayMs = 1000;
/** Attempts at taking a producer id block when other brokers keep winning the race. */
export const producerIdBlockMaxAttemptsCount = 20;
/** Wait before a group or transaction coordinator retries loading its partition after a failure. */
export const coordinatorLoadRetryMs = 1000;
/** How long closing a coordinator waits for its in-flight writes before it gives up on them. */
export const coordinatorCloseWaitMs = 5000;
/** How long a consumer group's resolved subscription (topic ids, partition counts) is reused between heartbeats. */
export const groupSubscriptionRefreshMs = 1000;
/** The members' protocol metadata of a group may take this many times group.max.record.bytes. */
export const groupMaxMetadataRecordsCount = 4;
/** Deadline of a KIP-890 verification request to the transaction coordinator. */
export const txnVerifyTimeoutMs = 10_000;
/** Deadline of a request to another broker when the caller gives none. */
export const interBrokerRequestTimeoutMs = 30_000;
/** Deadline of one WriteTxnMarkers request to a partition leader. */
export const txnMarkerRequestTimeoutMs = 30_000;
/** Longest backoff between attempts at writing transaction markers. */
export const txnMarkerMaxBackoffMs = 1000;
/** First backoff of a transaction coordinator retrying the completion of a transaction's state. */
export const txnCompleteRetryBackoffMinMs = 100;
/** Longest backoff of that retry. */
export const txnCompleteRetryBackoffMaxMs = 2000;
/** Wait after an ownership change before reconciling, so that a burst of changes is handled once. */
export const clusterReconcileDebounceMs = 20;
/** How often the cluster controller rebalances ownership. */
export const clusterControllerIntervalMs = 2000;
/** How long a graceful shutdown waits for in-flight requests and the last flush. */
export const shutdownGraceMs = 30_000;

// ---------------------------------------------------------------------------------------------------------
// Log: flushing, recovery, compaction, producer state

/** WAL flushes in flight at once: enough to overlap object store latency, few enough to bound memory. */
export const flushMaxInflightCount = 4;
/** Partitions recovered at once at start. */
export const recoveryMaxInflightCount = 16;
/** WAL objects of other brokers waiting for their index to be read ahead of a failover, at most. */
export const walIndexWarmMaxQueuedCount = 10_000;
/** Those index reads in flight, at most. */
export const walIndexWarmMaxInflightCount = 4;
/** How often the controller looks for WAL objects nothing needs any more (cluster mode). */
export const walCollectionIntervalMs = 30_000;
/** A WAL object younger than this is never collected by the global pass. */
export const walCollectionMinAgeMs = 60_000;
/** Segment objects the orphan sweep remembers as unnamed at once (each waits its age); more wait for a later sweep. */
export const orphanSweepMaxTrackedCount = 100_000;
/** The orphan sweep runs this often at most, and at least every half of its minimum age. */
export const orphanSweepMaxIntervalMs = 300_000;
/** Segments one compaction pass builds in memory (when they fit compactionPassMaxBytes). */
export const compactionPassSegmentsCount = 4;
/** Bytes one compaction pass reads and builds in memory, unless one segment is larger. */
export const compactionPassMaxBytes = 256 * MIB;
/** Bytes of segments one log cleaning holds in memory (about twice with its output); beyond it: uncleanable. */
export const cleanerPassMaxBytes = 256 * MIB;
/** Largest decompressed records section of one batch the log cleaner opens (as Produce's check of timestamps). */
export const cleanerMaxDecompressedBatchBytes = 64 * MIB;
/** Beyond this many segments, a partition's adjacent small segments are merged (bounds its manifest). */
export const compactionMaxSegmentsPerPartitionCount = 1000;
/** Object store requests of one compaction pass in flight at once. */
export const compactionMaxInflightCount = 8;
/** Ranges of one object closer than this are read with one GET (the bytes between count against the budget). */
export const compactionCoalesceGapBytes = 256 * KIB;
/** Aborted transactions remembered per partition (they live in the manifest's snapshot); older ones are forgotten. */
export const producerStateMaxAbortedTxnsCount = 10_000;
/** How often a partition looks for expired producers. */
export const producerStateExpiryCheckIntervalMs = 60_000;
/** Bytes asked for per read while rebuilding producer state (whole chunks or read windows come back anyway). */
export const producerStateLoadReadBytes = 8 * MIB;

// ---------------------------------------------------------------------------------------------------------
// Object store

/** How often the object store health is evaluated. */
export const healthEvaluateIntervalMs = 1000;
/** Width of one bucket of the health window (the window is counted in whole buckets). */
export const healthBucketMs = 1000;
/** Consecutive successful calls after which failures in the health window are forgotten. */
export const healthRecoverySuccessesCount = 5;
/** Health transitions kept for /readyz and the logs. */
export const healthMaxTransitionsCount = 100;
/** Tokens one retry of a remote store spends from its retry budget (refilled one per success: 1 retry per 5 calls). */
export const retryCostTokens = 5;
/** Tokens one successful request to a remote store earns back. */
export const retrySuccessRefillTokens = 1;
/** How long an erring read replica is skipped. */
export const replicaSkipMs = 30_000;
/** Objects this broker wrote are remembered this long, to measure replication lag on replica misses. */
export const replicaRecentPutMemoryMs = 600_000;
/** Those objects remembered at most. */
export const replicaRecentPutsMaxCount = 100_000;
/** Idle keep-alive probe period of the S3 client's sockets. */
export const s3KeepAliveMs = 10_000;
/** Local object store operations in flight at once (each may hold a file descriptor). */
export const localStoreMaxInflightCount = 32;
/** Temporary files of the local object store older than this are left-overs of a crash and are removed. */
export const localStoreStaleTempFileMs = 60 * 60 * 1000;
/** stat calls one local list runs at a time (inside its single operation slot; they hold no descriptor). */
export const localStoreListStatMaxInflightCount = 8;
/** Directories the local store remembers as durable (fsynced), at most. */
export const localStoreDurableDirsMaxCount = 10_000;
/** Bytes read from an object's end on an index miss: the footer and usually the whole index. */
export const indexTailBytes = 16 * KIB;

// ---------------------------------------------------------------------------------------------------------
// Requests

/** Records in one produced batch at most: bounds the work of validating one batch. */
export const maxRecordsPerBatch = 1 << 24;
/** How long producers are asked to back off while the object store is degraded. */
export const degradedThrottleMs = 500;
/** Memory decompressing one batch for a ListOffsets timestamp lookup may take. */
export const listOffsetsMaxDecompressedBytes = 64 * MIB;
/** Cap on one fetch response (Kafka's fetch.max.bytes default, 55 MiB). */
export const fetchResponseMaxBytes = 55 * MIB;
/** Partitions one DescribeTopicPartitions response describes at most (Kafka's max.request.partition.size.limit). */
export const describeTopicPartitionsMaxCount = 2000;
/** Headers and whole requests of the HTTP endpoint must arrive within this; probes and scrapes are tiny. */
export const httpRequestTimeoutMs = 10_000;

/** Authorization decisions the authorizer caches (by principal, client, operation, resource); beyond it the cache starts over. */
export const authorizerCacheMaxCount = 100_000;
/** Most ACLs a cluster holds (CreateAcls beyond it fails): the authorizer indexes them all in memory. */
export const aclMaxCount = 100_000;
/** Quota sensors (rates of a user/client-id) one broker keeps; beyond it the oldest go. */
export const quotaMaxSensorsCount = 100_000;
/** Client quota entities a cluster holds (AlterClientQuotas beyond it fails). */
export const clientQuotaMaxEntitiesCount = 10_000;
/** How often the TLS keystore and truststore files are checked for a change (certificate rotation). */
export const tlsFileCheckIntervalMs = 1000;
