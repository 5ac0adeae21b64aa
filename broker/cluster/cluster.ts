// The cluster as one broker sees it: which brokers are live, which broker owns each partition (data
// partitions and the coordinator partitions of groups and transactions), and the compares that keep a
// broker's writes fenced once it has lost its place. Handlers, the group coordinator and the log ask this;
// they never read membership keys themselves.
//
// Coordinator partitions are virtual: a group (or transactional id) maps to one of `coordinatorPartitionCount`
// partitions exactly as Kafka maps it to a partition of __consumer_offsets (or __transaction_state), and that
// partition is owned like any other. The coordinator keeps its state in the metadata store; ownership only
// says which broker serves it.
import type { Compare } from '../metadata/store.ts';

export interface BrokerEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionOwner {
  nodeId: number;
  /** Bumped every time ownership of the partition changes. */
  leaderEpoch: number;
}

export type CoordinatorKind = 'group' | 'transaction';

/** Kafka's defaults (offsets.topic.num.partitions, transaction.state.log.num.partitions). */
export const coordinatorPartitionCount = 50;

/** Java's String.hashCode over UTF-16 code units, as a signed 32-bit integer. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** The coordinator partition of a group id or transactional id (Kafka: Utils.abs(hashCode) % partitions). */
export function coordinatorPartitionOf(key: string): number {
  return (javaStringHash(key) & 0x7fffffff) % coordinatorPartitionCount;
}

export interface CoordinatorChange {
  kind: CoordinatorKind;
  partition: number;
  /** True: this broker now serves the partition (load its state); false: it no longer does (drop it). */
  owned: boolean;
  /** Ownership epoch of the partition after the change. */
  epoch: number;
}

export interface Cluster {
  readonly nodeId: number;
  /** Live brokers, by node id ascending; always includes this broker while it is a member. */
  liveBrokers(): BrokerEndpoint[];
  broker(nodeId: number): BrokerEndpoint | undefined;
  /** The broker named as controller in Metadata and DescribeCluster. */
  controllerId(): number;
  /** The owner of a data partition, or null while it has none (no live broker, or a handover in progress). */
  ownerOf(topicId: string, partition: number): PartitionOwner | null;
  /** Owner of a coordinator partition, or null while it has none. */
  coordinatorOwner(kind: CoordinatorKind, partition: number): PartitionOwner | null;
  /**
   * Compares that hold while this broker is still a live member of the cluster (its lease is alive): every
   * metadata write that only the owner of something may make includes them, so a broker that was paused past
   * its lease cannot write after its successor took over.
   */
  fence(): Compare[];
  /**
   * fence() plus: the coordinator partition is still owned by this broker exactly as when it took it over (no
   * handover begun). Coordinator state writes carry these, so a coordinator that is handing a partition over,
   * or has lost it, cannot write after its successor has loaded.
   */
  coordinatorFence(kind: CoordinatorKind, partition: number): Compare[];
  /** Called after coordinator partitions move to or from this broker; returns an unsubscribe function. */
  onCoordinatorChange(listener: (changes: CoordinatorChange[]) => void): () => void;
  /** Coordinator partitions this broker serves now. */
  ownedCoordinatorPartitions(kind: CoordinatorKind): number[];
}

/**
 * The embedded default: one broker that owns everything, forever, at epoch 0. Its fence is the broker's own
 * fencing token (a second process started on the same data directory takes it over).
 */
export class SingleBrokerCluster implements Cluster {
  readonly nodeId: number;
  private readonly self: BrokerEndpoint;
  private readonly fenceCompares: () => Compare[];

  constructor(self: BrokerEndpoint, fence: () => Compare[]) {
    this.nodeId = self.nodeId;
    this.self = self;
    this.fenceCompares = fence;
  }

  /** The advertised port may only be known once the listener is bound (port 0). */
  setAdvertisedPort(port: number): void {
    this.self.port = port;
  }

  liveBrokers(): BrokerEndpoint[] {
    return [this.self];
  }

  broker(nodeId: number): BrokerEndpoint | undefined {
    return nodeId === this.nodeId ? this.self : undefined;
  }

  controllerId(): number {
    return this.nodeId;
  }

  ownerOf(): PartitionOwner {
    return { nodeId: this.nodeId, leaderEpoch: 0 };
  }

  coordinatorOwner(): PartitionOwner {
    return { nodeId: this.nodeId, leaderEpoch: 0 };
  }

  fence(): Compare[] {
    return this.fenceCompares();
  }

  coordinatorFence(): Compare[] {
    return this.fenceCompares();
  }

  onCoordinatorChange(): () => void {
    return () => {};
  }

  ownedCoordinatorPartitions(): number[] {
    return Array.from({ length: coordinatorPartitionCount }, (_, i) => i);
  }
}
