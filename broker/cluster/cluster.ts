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
import type { ListenerEndpoint } from '../metadata/layout.ts';

export type { ListenerEndpoint };

export interface BrokerEndpoint {
  nodeId: number;
  /** The inter-broker listener's advertised endpoint. */
  host: string;
  port: number;
  rack: string | null;
  /** Every advertised listener; undefined for a broker registered before named listeners (host/port is its one). */
  listeners?: readonly ListenerEndpoint[];
}

/**
 * Where a client connected on listener `name` reaches broker `b`: the broker's advertised endpoint of the same
 * listener, as Kafka answers (undefined when that broker has no such listener: Kafka leaves it out).
 */
export function endpointOn(b: BrokerEndpoint, name: string): { host: string; port: number } | undefined {
  if (b.listeners === undefined) return b;
  for (const l of b.listeners) if (l.name === name) return l;
  return undefined;
}

/** `brokers` as described to a client of listener `name`: those with an endpoint on it, mapped by `f`. */
export function brokersOn<T>(
  brokers: readonly BrokerEndpoint[],
  name: string,
  f: (b: BrokerEndpoint, endpoint: { host: string; port: number }) => T,
): T[] {
  const out: T[] = [];
  for (const b of brokers) {
    const e = endpointOn(b, name);
    if (e !== undefined) out.push(f(b, e));
  }
  return out;
}

/**
 * The advertised listeners with the ports bound for port-0 listeners filled in, and the inter-broker one's
 * endpoint (host and port of BrokerEndpoint).
 */
export function withBoundPorts(
  listeners: readonly ListenerEndpoint[],
  boundPorts: ReadonlyMap<string, number>,
  interBrokerListener: string,
): { listeners: ListenerEndpoint[]; host: string; port: number } {
  const out = listeners.map((l) => (l.port === 0 ? { ...l, port: boundPorts.get(l.name) ?? 0 } : l));
  const inter = out.find((l) => l.name === interBrokerListener) ?? out[0]!;
  return { listeners: out, host: inter.host, port: inter.port };
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

  /** Advertised ports may only be known once the listeners are bound (port 0). */
  setBoundPorts(boundPorts: ReadonlyMap<string, number>, interBrokerListener: string): void {
    Object.assign(this.self, withBoundPorts(this.self.listeners ?? [], boundPorts, interBrokerListener));
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
