// One classic consumer group as the coordinator holds it in memory: its state, generation, members, the
// selected protocol and its committed offsets. Pure data and the rules that only look at the group (protocol
// support and selection, leader election, subscribed topics); timers live in rebalance.ts, persistence in
// group-table.ts and group-store.ts.
//
// A group has a type so that KIP-848 'consumer' groups can sit beside classic ones later; only 'classic'
// exists now.
import assert from 'node:assert/strict';
import { decodeConsumerProtocolSubscription } from '../protocol/generated/index.ts';
import { Reader } from '../protocol/wire/reader.ts';

export type GroupType = 'classic' | 'consumer';

/** Kafka's classic group states, named as DescribeGroups and ListGroups report them. */
export type ClassicGroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';
export const classicGroupStates: readonly ClassicGroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

/** The protocol type of Kafka's consumers (as opposed to e.g. 'connect'). */
export const consumerProtocolType = 'consumer';

export interface MemberProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
  skipAssignment: boolean;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface ClassicMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: MemberProtocol[];
  assignment: Buffer;
  /** Set while the member waits for its JoinGroup response (a no-op once its connection has gone). */
  joinWaiter: ((r: JoinResult) => void) | null;
  /** Set while the member waits for its SyncGroup response. */
  syncWaiter: ((r: SyncResult) => void) | null;
  /** Joined and not yet answered for the first time: expires after the new-member timeout instead. */
  isNew: boolean;
  sessionTimer: NodeJS.Timeout | null;
}

export interface CommittedOffset {
  offset: number;
  /** -1 when the client sent none. */
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
  /** Explicit expiry (OffsetCommit v2-v4 retention time), or null for the broker's retention rule. */
  expireTimestampMs: number | null;
}

export class ClassicGroup {
  readonly type: GroupType = 'classic';
  readonly groupId: string;
  readonly coordinatorPartition: number;
  state: ClassicGroupState = 'Empty';
  /** When the group entered its current state (Kafka's currentStateTimestamp), for offset expiry. */
  stateTimestampMs: number;
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In join order (Kafka keeps insertion order too): the next leader is the first remaining member. */
  readonly members = new Map<string, ClassicMember>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers. */
  readonly pendingMembers = new Map<string, NodeJS.Timeout>();
  /** group.instance.id → member id. */
  readonly staticMembers = new Map<string, string>();
  /** Members of the current generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** A member joined during the initial delay: the delay may be extended. */
  newMemberAdded = false;
  /** The rebalance's join deadline (or initial delay). */
  joinTimer: NodeJS.Timeout | null = null;
  /** The join timer is the initial delay of a new group's first rebalance (joins do not complete it early). */
  inInitialDelay = false;
  /** The deadline for members of a new generation to send SyncGroup. */
  syncTimer: NodeJS.Timeout | null = null;
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** Serialises this group's metadata-store writes. */
  writeChain: Promise<unknown> = Promise.resolve();

  constructor(groupId: string, coordinatorPartition: number, nowMs: number) {
    this.groupId = groupId;
    this.coordinatorPartition = coordinatorPartition;
    this.stateTimestampMs = nowMs;
  }

  transitionTo(state: ClassicGroupState, nowMs: number): void {
    assert.ok(
      validPreviousStates[state].includes(this.state),
      `group ${this.groupId}: ${this.state} -> ${state} is not a valid transition`,
    );
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  is(state: ClassicGroupState): boolean {
    return this.state === state;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /** A static member presenting a member id other than the one the coordinator knows for its instance id. */
  isStaticMemberFenced(memberId: string, groupInstanceId: string | null): boolean {
    if (groupInstanceId === null) return false;
    const known = this.staticMembers.get(groupInstanceId);
    return known !== undefined && known !== memberId;
  }

  add(member: ClassicMember): void {
    assert.ok(!this.members.has(member.memberId));
    if (this.members.size === 0) this.protocolType = member.protocolType;
    assert.equal(this.protocolType, member.protocolType);
    this.members.set(member.memberId, member);
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    this.leaderId ??= member.memberId;
  }

  remove(memberId: string): ClassicMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId)
      this.staticMembers.delete(member.groupInstanceId);
    this.pendingSyncMembers.delete(memberId);
    if (this.leaderId === memberId) this.leaderId = this.members.keys().next().value ?? null;
    return member;
  }

  /** Replaces a static member's id (a restarted instance): same place, same assignment, new id. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): ClassicMember {
    const old = this.members.get(oldMemberId);
    assert.ok(old, `static member ${groupInstanceId} has no member ${oldMemberId}`);
    const entries = [...this.members.entries()];
    this.members.clear();
    const replaced: ClassicMember = { ...old, memberId: newMemberId, joinWaiter: null, syncWaiter: null, sessionTimer: null };
    for (const [id, m] of entries) this.members.set(id === oldMemberId ? newMemberId : id, id === oldMemberId ? replaced : m);
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return replaced;
  }

  awaitingJoinCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.joinWaiter !== null) n++;
    return n;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.awaitingJoinCount() && this.pendingMembers.size === 0;
  }

  notYetRejoined(): ClassicMember[] {
    return [...this.members.values()].filter((m) => m.joinWaiter === null);
  }

  /** If the leader has not rejoined, the first member that has becomes leader; false when none has. */
  maybeElectNewJoinedLeader(): boolean {
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    if (leader && leader.joinWaiter !== null) return true;
    for (const m of this.members.values()) {
      if (m.joinWaiter !== null) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Protocol names every member supports, with how many members support each. */
  private supportCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.members.values()) for (const p of m.protocols) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
    return counts;
  }

  /** Kafka's supportsProtocols: a new or rejoining member is compatible with the group. */
  supportsProtocols(protocolType: string, protocolNames: string[]): boolean {
    if (this.is('Empty') || this.members.size === 0) return protocolType !== '' && protocolNames.length > 0;
    if (this.protocolType !== protocolType) return false;
    const counts = this.supportCounts();
    return protocolNames.some((name) => counts.get(name) === this.members.size);
  }

  /**
   * Kafka's selectProtocol: among the protocols every member supports, each member votes for the first one
   * of its own preference list; the most votes win (ties go to the earlier preference of the leader).
   */
  selectProtocol(): string {
    assert.ok(this.members.size > 0, 'cannot select a protocol for an empty group');
    const counts = this.supportCounts();
    const candidates = new Set([...counts].filter(([, n]) => n === this.members.size).map(([name]) => name));
    assert.ok(candidates.size > 0, `group ${this.groupId}: members share no protocol`);
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const vote = m.protocols.find((p) => candidates.has(p.name))!.name;
      votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    const leader = (this.leaderId !== null ? this.members.get(this.leaderId) : undefined) ?? this.members.values().next().value!;
    let best: string | null = null;
    let bestVotes = -1;
    for (const p of leader.protocols) {
      const n = votes.get(p.name) ?? 0;
      if (candidates.has(p.name) && n > bestVotes) {
        best = p.name;
        bestVotes = n;
      }
    }
    return best!;
  }

  /** The metadata a member sent for the group's selected protocol. */
  memberMetadata(member: ClassicMember): Buffer {
    const p = member.protocols.find((x) => x.name === this.protocolName);
    return p?.metadata ?? Buffer.alloc(0);
  }

  /** What the leader gets in its JoinGroup response: every member with its metadata for the chosen protocol. */
  currentMemberMetadata(): JoinResult['members'] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: this.memberMetadata(m),
    }));
  }

  /**
   * Topics the members subscribe to, decoded from their consumer-protocol metadata; null when the group does
   * not use the consumer protocol or some metadata does not decode (then every topic counts as subscribed).
   */
  subscribedTopics(): Set<string> | null {
    if (this.protocolType !== consumerProtocolType || this.protocolName === null) return null;
    const topics = new Set<string>();
    for (const m of this.members.values()) {
      const parsed = consumerSubscriptionTopics(this.memberMetadata(m));
      if (parsed === null) return null;
      for (const t of parsed) topics.add(t);
    }
    return topics;
  }

  isSubscribedToTopic(topic: string): boolean {
    const topics = this.subscribedTopics();
    return topics === null ? true : topics.has(topic);
  }

  offsetCount(): number {
    let n = 0;
    for (const p of this.offsets.values()) n += p.size;
    return n;
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, o: CommittedOffset): void {
    let t = this.offsets.get(topic);
    if (!t) this.offsets.set(topic, (t = new Map()));
    t.set(partition, o);
  }

  deleteOffset(topic: string, partition: number): void {
    const t = this.offsets.get(topic);
    if (!t) return;
    t.delete(partition);
    if (t.size === 0) this.offsets.delete(topic);
  }
}

const validPreviousStates: Record<ClassicGroupState, readonly ClassicGroupState[]> = {
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  Empty: ['PreparingRebalance'],
};

/** Topics of a ConsumerProtocolSubscription (any version), or null when it does not decode. */
export function consumerSubscriptionTopics(metadata: Buffer): string[] | null {
  try {
    const r = new Reader(metadata);
    const version = r.int16();
    // Versions above the newest known decode as the newest (Kafka's consumers do the same).
    return decodeConsumerProtocolSubscription(r, Math.min(Math.max(version, 0), 3)).topics;
  } catch {
    return null;
  }
}
