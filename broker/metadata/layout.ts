// The metadata key layout (spec/metadata.md). Every key the broker writes is built here.

/** Cluster identity: { clusterId, createdAtMs }. */
export const clusterKey = '/cluster';

/** A broker's fencing token: { nodeId, incarnation, startedAtMs }; every WAL commit compares its value. */
export function brokerKey(nodeId: number): string {
  return `/brokers/${nodeId}`;
}

export interface BrokerRecord {
  nodeId: number;
  incarnation: string;
  host: string;
  port: number;
  startedAtMs: number;
}

export const topicPrefix = '/topics/';
export function topicKey(name: string): string {
  return topicPrefix + name;
}

export interface TopicRecord {
  name: string;
  /** Kafka UUID, base64url. */
  id: string;
  partitions: number;
  /** Topic-level config overrides only (Kafka names); defaults come from the broker config. */
  configs: Record<string, string>;
  createdAtMs: number;
}

/**
 * Legacy per-partition log start offset (before partition manifests): still read at recovery, deleted when
 * the partition's manifest is first written. Nothing writes it any more.
 */
export const logStartPrefix = '/log-start/';
export function logStartKey(topicId: string, partition: number): string {
  return `${logStartPrefix}${topicId}/${partition}`;
}

export interface LogStartRecord {
  logStartOffset: number;
}

/** Topics deleted whose objects may still hold data: { id, name, partitions, deletedAtMs }. */
export const deletedTopicPrefix = '/deleted-topics/';
export function deletedTopicKey(topicId: string): string {
  return deletedTopicPrefix + topicId;
}

/** One key per flush: which object holds it. Sequence numbers are zero-padded so keys sort by sequence. */
export const walPrefix = '/wal/';
const sequenceDigits = 16;
export function walKey(sequence: number): string {
  return walPrefix + String(sequence).padStart(sequenceDigits, '0');
}
export function walSequenceOf(key: string): number {
  return Number(key.slice(walPrefix.length));
}

export interface WalRecord {
  objectKey: string;
  sizeBytes: number;
  nodeId: number;
  createdAtMs: number;
}

export function walObjectKey(sequence: number, nodeId: number, incarnation: string): string {
  return `wal/${String(sequence).padStart(sequenceDigits, '0')}-${nodeId}-${incarnation}.wal`;
}

/**
 * A partition's manifest: its segment objects and its log start offset. Written by the compactor (new
 * segments), retention and DeleteRecords (log start moves, segments dropped), each time guarded by this
 * broker's fencing token and the key's modRevision.
 */
export const partitionManifestPrefix = '/partitions/';
export function partitionManifestKey(topicId: string, partition: number): string {
  return `${partitionManifestPrefix}${topicId}/${partition}`;
}
export function parsePartitionManifestKey(key: string): { topicId: string; partition: number } | null {
  const m = /^\/partitions\/([A-Za-z0-9_-]+)\/(\d+)$/.exec(key);
  return m ? { topicId: m[1]!, partition: Number(m[2]) } : null;
}

export interface SegmentRecord {
  objectKey: string;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** Size of the whole object (batches, indexes, footer): where the footer is. */
  sizeBytes: number;
  /** Bytes of batches at the start of the object. */
  dataBytes: number;
}

export interface PartitionManifest {
  /** By offset, contiguous; the first may start below the log start offset, none ends below it. */
  segments: SegmentRecord[];
  logStartOffset: number;
  /** Idempotent producers as of the end of the segments (spec/producer-state.md); absent in older manifests. */
  producerState?: ProducerSnapshotRecord;
  /** Cluster mode: every leader epoch of the partition and the offset it began at (OffsetForLeaderEpoch). */
  epochs?: { epoch: number; startOffset: number }[];
  /** Compacted topics: where the dirty part starts (spec/compaction.md); absent when never cleaned. */
  cleanedEnd?: number;
}

const offsetDigits = 20;

/**
 * `seg/<topicId>/<partition>/<baseOffset:20 digits>-<nodeId>-<incarnation>-<n>.seg`: the writer's node id and
 * incarnation (its orphans are recognisable at its next start) and a counter unique within the incarnation (a
 * merge of segments may start at the same offset as one of them).
 */
export function segmentObjectKey(
  topicId: string,
  partition: number,
  baseOffset: number,
  nodeId: number,
  incarnation: string,
  n: number,
): string {
  return `seg/${topicId}/${partition}/${String(baseOffset).padStart(offsetDigits, '0')}-${nodeId}-${incarnation}-${n}.seg`;
}

export const segmentObjectPrefix = 'seg/';

export function parseSegmentObjectKey(
  key: string,
): { topicId: string; partition: number; baseOffset: number; nodeId: number; incarnation: string } | null {
  const m = /^seg\/([A-Za-z0-9_-]+)\/(\d+)\/(\d{20})-(\d+)-([0-9a-f]+)-\d+\.seg$/.exec(key);
  return m ? { topicId: m[1]!, partition: Number(m[2]), baseOffset: Number(m[3]), nodeId: Number(m[4]), incarnation: m[5]! } : null;
}

// ---- Cluster mode (spec/cluster.md) ----

/** A live broker: { nodeId, host, port, rack, incarnation, draining, startedAtMs }, attached to its lease. */
export const memberPrefix = '/members/';
export function memberKey(nodeId: number): string {
  return memberPrefix + nodeId;
}

/** One advertised listener of a broker: what clients connected on that listener are told. */
export interface ListenerEndpoint {
  name: string;
  host: string;
  port: number;
}

export interface MemberRecord {
  nodeId: number;
  /** The inter-broker listener's advertised endpoint (what other brokers connect to). */
  host: string;
  port: number;
  /** Every advertised listener (absent in records of brokers from before named listeners). */
  listeners?: ListenerEndpoint[];
  rack: string | null;
  incarnation: string;
  /** Shutting down: hands its partitions over and gets none. */
  draining: boolean;
  startedAtMs: number;
}

/** Ownership of one partition: /owners/<topicId or coordinator table>/<partition> = OwnerSlot. */
export const ownerPrefix = '/owners/';
export function ownerKey(table: string, partition: number): string {
  return `${ownerPrefix}${table}/${partition}`;
}
export function parseOwnerKey(key: string): { table: string; partition: number } | null {
  const m = /^\/owners\/([A-Za-z0-9_-]+)\/(\d+)$/.exec(key);
  return m ? { table: m[1]!, partition: Number(m[2]) } : null;
}

/** Node ids handed out to brokers started without node.id: { next }. */
export const nodeIdCounterKey = '/node-ids';
/** Kafka starts generated broker ids above reserved.broker.max.id (1000). */
export const firstGeneratedNodeId = 1001;

/** Cluster mode: each broker commits its flushes under its own sequence, `/wal/n<nodeId>/<sequence>`. */
export function nodeWalPrefix(nodeId: number): string {
  return `${walPrefix}n${nodeId}/`;
}
export function nodeWalKey(nodeId: number, sequence: number): string {
  return nodeWalPrefix(nodeId) + String(sequence).padStart(sequenceDigits, '0');
}

/**
 * Consumer groups (spec/groups.md). Keys carry the group's coordinator partition so that a broker gaining a
 * coordinator partition loads its groups with one prefix read. Group ids are arbitrary unicode (even '/'), so
 * they appear base64url-encoded (UTF-8); topic names are Kafka-legal ([A-Za-z0-9._-]) and appear as they are.
 */
export const groupPrefix = '/groups/';
export function groupIdSegment(groupId: string): string {
  return Buffer.from(groupId, 'utf8').toString('base64url');
}
export function groupPartitionPrefix(coordinatorPartition: number): string {
  return `${groupPrefix}${coordinatorPartition}/`;
}
/** One document per group: its type, generation, protocol, leader and members (GroupRecord in broker/groups). */
export function groupKey(coordinatorPartition: number, groupId: string): string {
  return groupPartitionPrefix(coordinatorPartition) + groupIdSegment(groupId);
}

export const offsetPrefix = '/offsets/';
export function offsetPartitionPrefix(coordinatorPartition: number): string {
  return `${offsetPrefix}${coordinatorPartition}/`;
}
/** Every committed offset of one group. */
export function groupOffsetsPrefix(coordinatorPartition: number, groupId: string): string {
  return `${offsetPartitionPrefix(coordinatorPartition)}${groupIdSegment(groupId)}/`;
}
/** One committed offset: { offset, leaderEpoch, metadata, commitTimestampMs, expireTimestampMs }. */
export function offsetKey(coordinatorPartition: number, groupId: string, topic: string, partition: number): string {
  return `${groupOffsetsPrefix(coordinatorPartition, groupId)}${topic}/${partition}`;
}
export function parseOffsetKey(key: string): { coordinatorPartition: number; groupId: string; topic: string; partition: number } | null {
  const m = /^\/offsets\/(\d+)\/([A-Za-z0-9_-]*)\/([^/]+)\/(\d+)$/.exec(key);
  return m
    ? {
        coordinatorPartition: Number(m[1]),
        groupId: Buffer.from(m[2]!, 'base64url').toString('utf8'),
        topic: m[3]!,
        partition: Number(m[4]),
      }
    : null;
}
export function parseGroupKey(key: string): { coordinatorPartition: number; groupId: string } | null {
  const m = /^\/groups\/(\d+)\/([A-Za-z0-9_-]*)$/.exec(key);
  return m ? { coordinatorPartition: Number(m[1]), groupId: Buffer.from(m[2]!, 'base64url').toString('utf8') } : null;
}

/**
 * Producer ids are handed out in blocks: this key holds the first id of the next block ({ nextBlockStart });
 * a broker takes a block with a transaction comparing the key's modRevision, so ids are unique across the
 * cluster and never reused, whatever crashes (spec/producer-state.md).
 */
export const producerIdBlockKey = '/producer-ids/block';

export interface ProducerIdBlockRecord {
  nextBlockStart: number;
}

/**
 * Idempotent producers' state after every batch below `offset` (broker/log/producer-state.ts). One flat array
 * per producer: producerId, epoch, lastTimestamp, then per batch (oldest first) firstSeq, lastSeq,
 * firstOffset, lastOffset, timestamp.
 */
export interface ProducerSnapshotRecord {
  offset: number;
  producers: number[][];
  /**
   * Transactions (spec/transactions.md), flat triples: producerId, first offset of its open transaction (-1 if
   * none), coordinator epoch of its last marker (-1 if none); only producers with one of them set.
   */
  txns?: number[];
  /** The aborted-transaction index, flat triples by marker offset ascending: producerId, firstOffset, marker offset. */
  aborted?: number[];
}

/**
 * KIP-848 consumer groups (broker/groups/consumer-store.ts): one key per group with its whole state
 * (group epoch, target assignment and its epoch, members with their subscriptions, epochs and assignments),
 * under the group's coordinator partition like the classic `/groups/` keys. Committed offsets of consumer
 * groups are the same `/offsets/` keys as classic groups'.
 */
export function consumerGroupPartitionPrefix(coordinatorPartition: number): string {
  return `/consumer-groups/${coordinatorPartition}/`;
}
export function consumerGroupKey(coordinatorPartition: number, groupId: string): string {
  return consumerGroupPartitionPrefix(coordinatorPartition) + groupIdSegment(groupId);
}
export function parseConsumerGroupKey(key: string): { coordinatorPartition: number; groupId: string } | null {
  const m = /^\/consumer-groups\/(\d+)\/([A-Za-z0-9_-]*)$/.exec(key);
  return m ? { coordinatorPartition: Number(m[1]), groupId: Buffer.from(m[2]!, 'base64url').toString('utf8') } : null;
}

/**
 * Transactions (spec/transactions.md). One document per transactional id, under its coordinator partition so
 * that a broker gaining a partition loads its transactional ids with one prefix read (TxnRecord in
 * broker/txn/coordinator.ts). Transactional ids appear base64url-encoded (UTF-8), like group ids.
 */
export const txnPrefix = '/transactions/';
export function txnPartitionPrefix(coordinatorPartition: number): string {
  return `${txnPrefix}${coordinatorPartition}/`;
}
export function txnKey(coordinatorPartition: number, transactionalId: string): string {
  return txnPartitionPrefix(coordinatorPartition) + Buffer.from(transactionalId, 'utf8').toString('base64url');
}

/**
 * Offsets committed inside a transaction (TxnOffsetCommit), not visible until its COMMIT marker reaches the
 * group's coordinator: one document per (group, producer id), under the group's coordinator partition.
 */
export const txnOffsetsPrefix = '/txn-offsets/';
export function txnOffsetsPartitionPrefix(coordinatorPartition: number): string {
  return `${txnOffsetsPrefix}${coordinatorPartition}/`;
}
export function txnOffsetsKey(coordinatorPartition: number, groupId: string, producerId: number): string {
  return `${txnOffsetsPartitionPrefix(coordinatorPartition)}${Buffer.from(groupId, 'utf8').toString('base64url')}/${producerId}`;
}

/**
 * Dynamic configs of one consumer group (Kafka's GROUP config resources, KIP-848): `{ configs }`, the group's
 * overrides by Kafka name. Cluster-wide, not under a coordinator partition (Kafka keeps them in the cluster's
 * metadata, and a group need not exist to have configs); group ids appear base64url-encoded.
 */
export const groupConfigPrefix = '/group-configs/';
export function groupConfigKey(groupId: string): string {
  return groupConfigPrefix + groupIdSegment(groupId);
}
export function parseGroupConfigKey(key: string): string | null {
  const m = /^\/group-configs\/([A-Za-z0-9_-]*)$/.exec(key);
  return m ? Buffer.from(m[1]!, 'base64url').toString('utf8') : null;
}

export interface GroupConfigRecord {
  configs: Record<string, string>;
}

/**
 * Dynamic broker configs (AlterConfigs/IncrementalAlterConfigs on BROKER resources): `{ configs }` by Kafka name,
 * `/broker-configs/default` for the cluster-wide default (resource name '') and `/broker-configs/<nodeId>` for
 * one broker's own. Every broker follows the prefix and applies its own and the default.
 */
export const brokerConfigPrefix = '/broker-configs/';
export function brokerConfigKey(resourceName: string): string {
  return brokerConfigPrefix + (resourceName === '' ? 'default' : resourceName);
}
export function parseBrokerConfigKey(key: string): string | null {
  const m = /^\/broker-configs\/(default|\d+)$/.exec(key);
  return m ? (m[1] === 'default' ? '' : m[1]!) : null;
}

/**
 * ACLs (CreateAcls), one key per resource pattern: `/acls/<resourceType>/<patternType>/<name, base64url>` holding
 * `{ acls }`, the pattern's entries (principal, host, operation, permission; Kafka's codes). Cluster-wide: every
 * broker follows the prefix and authorizes with the same ACLs.
 */
export const aclPrefix = '/acls/';
export function aclKey(resourceType: number, patternType: number, name: string): string {
  return `${aclPrefix}${resourceType}/${patternType}/${Buffer.from(name, 'utf8').toString('base64url')}`;
}
export function parseAclKey(key: string): { resourceType: number; patternType: number; name: string } | null {
  const m = /^\/acls\/(\d+)\/(\d+)\/([A-Za-z0-9_-]*)$/.exec(key);
  return m ? { resourceType: Number(m[1]), patternType: Number(m[2]), name: Buffer.from(m[3]!, 'base64url').toString('utf8') } : null;
}

export interface AclEntryRecord {
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

export interface AclRecord {
  acls: AclEntryRecord[];
}

/**
 * Client quotas (AlterClientQuotas, KIP-546), one key per entity: `/client-quotas/<base64url(entity)>` holding
 * `{ configs }`, the entity's quotas by Kafka name (`producer_byte_rate`, ...) as decimal strings. The entity is
 * the JSON of its sorted [type, name] pairs (`[["client-id",null],["user","alice"]]`, null for the default).
 * Cluster-wide: every broker follows the prefix.
 */
export const clientQuotaPrefix = '/client-quotas/';
export function clientQuotaKey(entity: string): string {
  return clientQuotaPrefix + Buffer.from(entity, 'utf8').toString('base64url');
}
export function parseClientQuotaKey(key: string): string | null {
  const m = /^\/client-quotas\/([A-Za-z0-9_-]+)$/.exec(key);
  return m ? Buffer.from(m[1]!, 'base64url').toString('utf8') : null;
}

/**
 * SCRAM credentials (KIP-554): /scram/<mechanism>/<user, base64url> = ScramCredentialRecord. Salted values only
 * (salt, StoredKey, ServerKey, iterations): the password is never stored, nor anything it can be read back from.
 */
export const scramPrefix = '/scram/';
export function scramMechanismPrefix(mechanism: string): string {
  return `${scramPrefix}${mechanism}/`;
}
export function scramKey(mechanism: string, user: string): string {
  return scramMechanismPrefix(mechanism) + Buffer.from(user, 'utf8').toString('base64url');
}
export function parseScramKey(key: string): { mechanism: string; user: string } | null {
  if (!key.startsWith(scramPrefix)) return null;
  const rest = key.slice(scramPrefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  return { mechanism: rest.slice(0, slash), user: Buffer.from(rest.slice(slash + 1), 'base64url').toString('utf8') };
}
export interface ScramCredentialRecord {
  /** base64 */
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}
