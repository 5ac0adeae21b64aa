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

/** Per-partition log start offset, written only when DeleteRecords or retention moves it. */
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
