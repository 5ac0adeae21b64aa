// KIP-951 leader discovery: a Produce (v10+) or Fetch (v16+) partition answered NOT_LEADER_OR_FOLLOWER (Fetch:
// also FENCED_LEADER_EPOCH) carries the partition's current owner and epoch as it is known here, and the
// response lists those owners' endpoints, so that clients which understand it go straight to the new owner
// instead of first refreshing their metadata. Clients that do not simply ignore the tagged fields.
import { endpointOn } from '../cluster/cluster.ts';
import type { BrokerServices } from './context.ts';

export interface LeaderIdAndEpoch {
  leaderId: number;
  leaderEpoch: number;
}

export interface NodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** Collects the owners named in one response, for its node_endpoints. */
export class LeaderHints {
  private readonly s: BrokerServices;
  private readonly nodes = new Set<number>();

  private readonly listenerName: string;

  constructor(s: BrokerServices, listenerName: string) {
    this.s = s;
    this.listenerName = listenerName;
  }

  /** The partition's owner as this broker knows it ({-1, -1} while it has none, as Kafka sends then). */
  leader(topicId: string, partition: number): LeaderIdAndEpoch {
    const owner = this.s.cluster.ownerOf(topicId, partition);
    if (owner === null || this.s.cluster.broker(owner.nodeId) === undefined) return { leaderId: -1, leaderEpoch: -1 };
    this.nodes.add(owner.nodeId);
    return { leaderId: owner.nodeId, leaderEpoch: owner.leaderEpoch };
  }

  /** Endpoints of every owner named so far, by node id. */
  endpoints(): NodeEndpoint[] {
    const out: NodeEndpoint[] = [];
    for (const id of [...this.nodes].sort((a, b) => a - b)) {
      const b = this.s.cluster.broker(id);
      const e = b === undefined ? undefined : endpointOn(b, this.listenerName);
      if (b && e) out.push({ nodeId: b.nodeId, host: e.host, port: e.port, rack: b.rack });
    }
    return out;
  }
}
