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
}

const offsetDigits = 20;

/**
 * `seg/<topicId>/<partition>/<baseOffset:20 digits>-<nodeId>-<incarnation>-<n>.seg`: the writer's node id and
 * incarnation (its orphans are recognisable at its next start) and a counter unique within the incarnation (a
 * merge of segments may start at the same offset as one of them).
 */
export function segmentObjectKey(topicId: string, partition: number, baseOffset: number, nodeId: number, incarnation: string, n: number): string {
  return `seg/${topicId}/${partition}/${String(baseOffset).padStart(offsetDigits, '0')}-${nodeId}-${incarnation}-${n}.seg`;
}

export const segmentObjectPrefix = 'seg/';

export function parseSegmentObjectKey(key: string): { topicId: string; partition: number; baseOffset: number; nodeId: number; incarnation: string } | null {
  const m = /^seg\/([A-Za-z0-9_-]+)\/(\d+)\/(\d{20})-(\d+)-([0-9a-f]+)-\d+\.seg$/.exec(key);
  return m ? { topicId: m[1]!, partition: Number(m[2]), baseOffset: Number(m[3]), nodeId: Number(m[4]), incarnation: m[5]! } : null;
}
