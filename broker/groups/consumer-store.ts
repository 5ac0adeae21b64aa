// The store of KIP-848 consumer groups (keys: broker/metadata/layout.ts): one key per group with its whole
// state, written in issue order and fenced by the coordinator partition's ownership. A store failure becomes
// the error code to answer (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, UNKNOWN_SERVER_ERROR).
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { consumerGroupKey, consumerGroupPartitionPrefix, groupKey, parseConsumerGroupKey } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ConsumerGroup, assignmentFromJson, assignmentToJson } from './consumer-group.ts';
import type { ConsumerMember, MemberState } from './consumer-group.ts';

/** The stored form of a consumer group (one key per group). */
export interface StoredConsumerGroup {
  groupId: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  subscriptionFingerprint: string;
  members: {
    memberId: string;
    instanceId: string | null;
    rackId: string | null;
    clientId: string;
    clientHost: string;
    rebalanceTimeoutMs: number;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    serverAssignor: string | null;
    memberEpoch: number;
    previousMemberEpoch: number;
    state: MemberState;
    assigned: Record<string, number[]>;
    pendingRevocation: Record<string, number[]>;
    target: Record<string, number[]>;
  }[];
}

class FencedError extends Error {}
class RecordTooLargeError extends Error {}

function storeErrorCode(e: unknown): number {
  if (e instanceof FencedError) return ErrorCode.NOT_COORDINATOR;
  if (e instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** The stored form of a group. */
export function storedGroupOf(g: ConsumerGroup): StoredConsumerGroup {
  return {
    groupId: g.groupId,
    groupEpoch: g.groupEpoch,
    assignmentEpoch: g.assignmentEpoch,
    assignorName: g.assignorName,
    subscriptionFingerprint: g.subscriptionFingerprint,
    members: [...g.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      subscribedTopicNames: m.subscribedTopicNames,
      subscribedTopicRegex: m.subscribedTopicRegex,
      serverAssignor: m.serverAssignor,
      memberEpoch: m.memberEpoch,
      previousMemberEpoch: m.previousMemberEpoch,
      state: m.state,
      assigned: assignmentToJson(m.assigned),
      pendingRevocation: assignmentToJson(m.pendingRevocation),
      target: assignmentToJson(g.targetAssignment.get(m.memberId) ?? new Map()),
    })),
  };
}

/** A stored group as the coordinator holds it; its members' timers are not started. */
export function restoreGroup(partition: number, r: StoredConsumerGroup): ConsumerGroup {
  const g = new ConsumerGroup(r.groupId, partition, r.assignorName);
  g.groupEpoch = r.groupEpoch;
  g.assignmentEpoch = r.assignmentEpoch;
  g.subscriptionFingerprint = r.subscriptionFingerprint;
  for (const s of r.members) {
    const m: ConsumerMember = {
      memberId: s.memberId,
      instanceId: s.instanceId,
      rackId: s.rackId,
      clientId: s.clientId,
      clientHost: s.clientHost,
      rebalanceTimeoutMs: s.rebalanceTimeoutMs,
      subscribedTopicNames: s.subscribedTopicNames,
      subscribedTopicRegex: s.subscribedTopicRegex,
      serverAssignor: s.serverAssignor,
      memberEpoch: s.memberEpoch,
      previousMemberEpoch: s.previousMemberEpoch,
      state: s.state,
      assigned: assignmentFromJson(s.assigned),
      pendingRevocation: assignmentFromJson(s.pendingRevocation),
      sessionTimer: null,
      revocationTimer: null,
    };
    g.addMember(m);
    g.targetAssignment.set(m.memberId, assignmentFromJson(s.target));
  }
  return g;
}

export class ConsumerGroupStore {
  /** Writes in flight, for close to wait for. */
  readonly writes = new Set<Promise<unknown>>();
  private readonly metadata: MetadataStore;
  private readonly cluster: Cluster;
  private readonly logger: Logger;
  private readonly maxRecordBytes: number;
  private readonly owns: (partition: number) => boolean;

  constructor(args: {
    metadata: MetadataStore;
    cluster: Cluster;
    logger: Logger;
    /** Largest stored group state. */
    maxRecordBytes: number;
    /** Whether this broker owns a coordinator partition now (only the owner writes). */
    owns: (partition: number) => boolean;
  }) {
    this.metadata = args.metadata;
    this.cluster = args.cluster;
    this.logger = args.logger;
    this.maxRecordBytes = args.maxRecordBytes;
    this.owns = args.owns;
  }

  /** The stored groups of a coordinator partition, unparsed. */
  async load(partition: number): Promise<{ key: string; value: string }[]> {
    return this.metadata.getPrefix(consumerGroupPartitionPrefix(partition));
  }

  /** A loaded key's group, or null when the key is not a consumer group's. */
  static parse(kv: { key: string; value: string }): StoredConsumerGroup | null {
    const k = parseConsumerGroupKey(kv.key);
    if (!k) return null;
    return JSON.parse(kv.value) as StoredConsumerGroup;
  }

  /**
   * Writes the group's whole state (in issue order, fenced by the coordinator partition's ownership). `extra`
   * ops go in the same transaction. Resolves to an error code.
   */
  persist(g: ConsumerGroup, opts: { delete?: boolean; replaceClassic?: boolean } = {}): Promise<number> {
    const key = consumerGroupKey(g.coordinatorPartition, g.groupId);
    const value = opts.delete ? null : JSON.stringify(storedGroupOf(g));
    const partition = g.coordinatorPartition;
    const write = async () => {
      if (!this.owns(partition)) throw new FencedError();
      if (value !== null && Buffer.byteLength(value) > this.maxRecordBytes) throw new RecordTooLargeError();
      const ops: Parameters<MetadataStore['txn']>[1] = value === null ? [{ type: 'delete', key }] : [{ type: 'put', key, value }];
      // A consumer group that takes over an empty classic group's id removes its classic record.
      if (opts.replaceClassic) ops.push({ type: 'delete', key: groupKey(partition, g.groupId) });
      const r = await this.metadata.txn(this.cluster.coordinatorFence('group', partition), ops);
      if (!r.succeeded) throw new FencedError();
    };
    const run = g.writeChain.then(write).then(
      () => ErrorCode.NONE,
      (err: unknown) => {
        const code = storeErrorCode(err);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) this.logger.error({ err, group: g.groupId }, 'consumer group write failed');
        else this.logger.warn({ err, group: g.groupId }, 'consumer group write refused');
        return code;
      },
    );
    g.writeChain = run;
    this.writes.add(run);
    void run.finally(() => this.writes.delete(run));
    return run;
  }
}
