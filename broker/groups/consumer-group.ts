// One KIP-848 consumer group as the coordinator holds it (spec/groups.md, "The consumer protocol"): the group
// epoch, the target assignment and its epoch, the members with their epochs and current assignments, and the
// per-member reconciliation (Kafka's CurrentAssignmentBuilder): a member first gives up what it no longer has
// in the target, then moves to the target epoch and receives the target's partitions that no other member
// still holds. Pure data and rules; timers and the request checks are in consumer-membership.ts, the store in consumer-store.ts.
import type { TopicAssignment } from './assignors.ts';

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';
export const consumerGroupStates: readonly ConsumerGroupState[] = ['Empty', 'Assigning', 'Reconciling', 'Stable', 'Dead'];

/** Kafka's MemberState: stable, waiting for the member to revoke, or waiting for other members to release. */
export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';

/** Member epoch of a static member that left temporarily (ConsumerGroupHeartbeat memberEpoch -2). */
export const leaveGroupStaticMemberEpoch = -2;
export const leaveGroupMemberEpoch = -1;

export interface ConsumerMember {
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
  /** What the member may use now (what the last response handed it). */
  assigned: TopicAssignment;
  /** What the member must give up before it moves on. */
  pendingRevocation: TopicAssignment;
  sessionTimer: NodeJS.Timeout | null;
  /** Rebalance-timeout deadline while the member has partitions to revoke. */
  revocationTimer: NodeJS.Timeout | null;
}

export function cloneAssignment(a: TopicAssignment): TopicAssignment {
  return new Map([...a].map(([t, s]) => [t, new Set(s)]));
}

export function assignmentEquals(a: TopicAssignment, b: TopicAssignment): boolean {
  const norm = (x: TopicAssignment) => [...x].filter(([, s]) => s.size > 0);
  const an = norm(a);
  const bn = norm(b);
  if (an.length !== bn.length) return false;
  for (const [t, s] of an) {
    const o = b.get(t);
    if (!o || o.size !== s.size) return false;
    for (const p of s) if (!o.has(p)) return false;
  }
  return true;
}

export function assignmentSize(a: TopicAssignment): number {
  let n = 0;
  for (const s of a.values()) n += s.size;
  return n;
}

/** a ⊆ b. */
export function isSubset(a: TopicAssignment, b: TopicAssignment): boolean {
  for (const [t, s] of a) {
    if (s.size === 0) continue;
    const o = b.get(t);
    if (!o) return false;
    for (const p of s) if (!o.has(p)) return false;
  }
  return true;
}

function intersects(a: TopicAssignment, b: TopicAssignment): boolean {
  for (const [t, s] of a) {
    const o = b.get(t);
    if (o) for (const p of s) if (o.has(p)) return true;
  }
  return false;
}

export function assignmentToJson(a: TopicAssignment): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [t, s] of a) if (s.size > 0) out[t] = [...s].sort((x, y) => x - y);
  return out;
}

export function assignmentFromJson(o: Record<string, number[]> | undefined): TopicAssignment {
  return new Map(Object.entries(o ?? {}).map(([t, ps]) => [t, new Set(ps)]));
}

export class ConsumerGroup {
  readonly type = 'consumer' as const;
  readonly groupId: string;
  readonly coordinatorPartition: number;
  groupEpoch = 0;
  /** Epoch of the target assignment (Kafka's assignment epoch). */
  assignmentEpoch = 0;
  /** Name of the assignor that computed the target assignment. */
  assignorName: string;
  /** Fingerprint of the subscribed topics' ids and partition counts when the group epoch was last bumped. */
  subscriptionFingerprint = '';
  /** In join order. */
  readonly members = new Map<string, ConsumerMember>();
  /** instance id → member id. */
  readonly staticMembers = new Map<string, string>();
  readonly targetAssignment = new Map<string, TopicAssignment>();
  /** "topicId\0partition" → member id of the member that holds it (assigned or pending revocation). */
  readonly partitionOwners = new Map<string, string>();
  /** Serialises this group's metadata-store writes. */
  writeChain: Promise<unknown> = Promise.resolve();
  /** Set once deleted (DeleteGroups, or replaced by a classic group). */
  dead = false;

  constructor(groupId: string, coordinatorPartition: number, defaultAssignor: string) {
    this.groupId = groupId;
    this.coordinatorPartition = coordinatorPartition;
    this.assignorName = defaultAssignor;
  }

  /** Kafka's ConsumerGroup state, derived from the epochs. */
  get state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch !== this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'stable') return 'Reconciling';
    }
    return 'Stable';
  }

  addMember(m: ConsumerMember): void {
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
    this.claim(m);
  }

  removeMember(memberId: string): ConsumerMember | undefined {
    const m = this.members.get(memberId);
    if (!m) return undefined;
    this.release(m);
    this.members.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId) this.staticMembers.delete(m.instanceId);
    this.targetAssignment.delete(memberId);
    return m;
  }

  staticMember(instanceId: string): ConsumerMember | undefined {
    const id = this.staticMembers.get(instanceId);
    return id === undefined ? undefined : this.members.get(id);
  }

  /** Member ids subscribed to a topic name (directly; regex matches are resolved by the coordinator). */
  private claim(m: ConsumerMember): void {
    for (const a of [m.assigned, m.pendingRevocation]) {
      for (const [t, s] of a) for (const p of s) this.partitionOwners.set(`${t}\u0000${p}`, m.memberId);
    }
  }

  private release(m: ConsumerMember): void {
    for (const a of [m.assigned, m.pendingRevocation]) {
      for (const [t, s] of a) {
        for (const p of s) {
          const k = `${t}\u0000${p}`;
          if (this.partitionOwners.get(k) === m.memberId) this.partitionOwners.delete(k);
        }
      }
    }
  }

  /** Replaces a member's current assignment, keeping the ownership index in step. */
  setMemberAssignment(m: ConsumerMember, assigned: TopicAssignment, pendingRevocation: TopicAssignment): void {
    this.release(m);
    m.assigned = assigned;
    m.pendingRevocation = pendingRevocation;
    this.claim(m);
  }

  ownerOf(topicId: string, partition: number): string | undefined {
    return this.partitionOwners.get(`${topicId}\u0000${partition}`);
  }

  /**
   * Kafka's CurrentAssignmentBuilder: moves a member towards the target assignment. `owned` is what the member
   * reported it still owns (null: not reported in this heartbeat). Returns true when the member changed.
   */
  reconcile(m: ConsumerMember, owned: TopicAssignment | null): boolean {
    const target = this.targetAssignment.get(m.memberId) ?? new Map();
    const before = { epoch: m.memberEpoch, state: m.state, assigned: m.assigned, pending: m.pendingRevocation };
    if (m.state === 'unrevoked_partitions') {
      // Still waiting: the member has not reported that it gave the partitions up.
      if (owned === null || intersects(owned, m.pendingRevocation)) return false;
    } else if (m.state === 'stable' && m.memberEpoch === this.assignmentEpoch) {
      return false;
    }
    const kept: TopicAssignment = new Map();
    const revoke: TopicAssignment = new Map();
    for (const [t, s] of m.assigned) {
      for (const p of s) {
        const into = target.get(t)?.has(p) ? kept : revoke;
        let set = into.get(t);
        if (!set) into.set(t, (set = new Set()));
        set.add(p);
      }
    }
    if (revoke.size > 0) {
      // Revocation first: keep the epoch; the member gets its new assignment once it acknowledged.
      this.setMemberAssignment(m, kept, revoke);
      m.state = 'unrevoked_partitions';
    } else {
      const assigned = cloneAssignment(kept);
      let unreleased = false;
      for (const [t, s] of target) {
        for (const p of s) {
          if (assigned.get(t)?.has(p)) continue;
          const holder = this.ownerOf(t, p);
          if (holder !== undefined && holder !== m.memberId) {
            unreleased = true;
            continue;
          }
          let set = assigned.get(t);
          if (!set) assigned.set(t, (set = new Set()));
          set.add(p);
        }
      }
      this.setMemberAssignment(m, assigned, new Map());
      if (m.memberEpoch !== this.assignmentEpoch) {
        m.previousMemberEpoch = m.memberEpoch;
        m.memberEpoch = this.assignmentEpoch;
      }
      m.state = unreleased ? 'unreleased_partitions' : 'stable';
    }
    return (
      before.epoch !== m.memberEpoch ||
      before.state !== m.state ||
      !assignmentEquals(before.assigned, m.assigned) ||
      !assignmentEquals(before.pending, m.pendingRevocation)
    );
  }
}
