// The coordinator of KIP-848 consumer groups (spec/groups.md, "The consumer protocol"): ConsumerGroupHeartbeat
// (join, reconcile, leave, static membership), ConsumerGroupDescribe, the server-side assignors, session and
// revocation timers, and the store of each group's state. It serves the same coordinator partitions as the
// classic GroupCoordinator (coordinator.ts), which keeps the committed offsets of both kinds of group and asks
// this one (the hooks at the end) before it lets a classic request touch a group id that is a consumer group.
//
// This module loads and unloads the coordinator partitions and answers the classic coordinator's hooks; the
// parts: the member protocol and its timers (consumer-membership.ts), subscriptions and the target assignment
// (consumer-assignment.ts), the store (consumer-store.ts) and the describe APIs (consumer-describe.ts).
import { CoordinatorPartitions } from '../cluster/coordinator-partitions.ts';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { assignorNamed } from './assignors.ts';
import type { GroupConfigLookup } from './group-config.ts';
import { ConsumerAssignment } from './consumer-assignment.ts';
import type { TopicLookup } from './consumer-assignment.ts';
import { classicDescriptionOf, describeConsumerGroup } from './consumer-describe.ts';
import type { ClassicDescription, DescribedConsumerGroup } from './consumer-describe.ts';
import type { ConsumerGroup, ConsumerGroupState } from './consumer-group.ts';
import { ConsumerMembership } from './consumer-membership.ts';
import type { ClassicGroupLookup, HeartbeatParams, HeartbeatResult } from './consumer-membership.ts';
import { ConsumerGroupStore, restoreGroup } from './consumer-store.ts';
import type { StoredConsumerGroup } from './consumer-store.ts';
import { coordinatorCloseWaitMs, coordinatorLoadRetryMs } from '../limits.ts';

export interface ConsumerGroupOptions {
  /** group.consumer.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** group.consumer.session.timeout.ms */
  sessionTimeoutMs: number;
  /** group.consumer.max.size */
  maxSize: number;
  /** group.consumer.assignors: the first is the default. */
  assignors: string[];
  /** Topic names plus regex length a member may subscribe with. */
  maxSubscribedTopics: number;
  /** Largest stored group state. */
  maxRecordBytes: number;
  /** Consumer groups this broker holds. */
  maxGroups: number;
  /** Per-group consumer.session.timeout.ms and consumer.heartbeat.interval.ms (GROUP configs). */
  groupConfigs?: GroupConfigLookup;
  /** How often empty groups without offsets are looked for (offsets.retention.check.interval.ms); none: never. */
  cleanupIntervalMs?: number;
}

export class ConsumerGroupCoordinator {
  private readonly cluster: Cluster;
  private readonly topics: TopicLookup;
  private readonly logger: Logger;
  private readonly o: ConsumerGroupOptions;
  private classic: ClassicGroupLookup | null = null;
  private readonly groups = new Map<string, ConsumerGroup>();
  /** The coordinator partitions served here: loading on arrival, unloading on departure. */
  private readonly partitions: CoordinatorPartitions;
  private readonly store: ConsumerGroupStore;
  private readonly assignment: ConsumerAssignment;
  private readonly membership: ConsumerMembership;
  private cleanupTimer: NodeJS.Timeout | null = null;
  /** Empty groups seen by the last cleanup pass. */
  private readonly emptySeen = new Set<string>();
  private closed = false;

  constructor(args: { metadata: MetadataStore; cluster: Cluster; topics: TopicLookup; logger: Logger; options: ConsumerGroupOptions }) {
    this.cluster = args.cluster;
    this.topics = args.topics;
    this.logger = args.logger;
    this.o = args.options;
    for (const name of this.o.assignors) if (!assignorNamed(name)) throw new Error(`unknown consumer group assignor ${name}`);
    this.partitions = new CoordinatorPartitions({
      cluster: this.cluster,
      kind: 'group',
      logger: this.logger,
      what: 'consumer groups',
      retryMs: coordinatorLoadRetryMs,
      load: (partition, _epoch, isCurrent) => this.loadPartition(partition, isCurrent),
      unload: (partition) => this.unloadPartition(partition),
    });
    this.store = new ConsumerGroupStore({
      metadata: args.metadata,
      cluster: this.cluster,
      logger: this.logger,
      maxRecordBytes: this.o.maxRecordBytes,
      owns: (partition) => this.owns(partition),
    });
    this.assignment = new ConsumerAssignment(this.topics, this.defaultAssignor);
    this.membership = new ConsumerMembership({
      groups: this.groups,
      store: this.store,
      assignment: this.assignment,
      logger: this.logger,
      options: this.o,
      status: (groupId) => this.status(groupId),
    });
  }

  /** The classic coordinator, for the one-group-per-id rule. */
  setClassicGroups(classic: ClassicGroupLookup): void {
    this.classic = classic;
    this.membership.setClassicGroups(classic);
  }

  get defaultAssignor(): string {
    return this.o.assignors[0] ?? 'uniform';
  }

  async start(): Promise<void> {
    this.partitions.start();
    if (this.o.cleanupIntervalMs !== undefined) {
      this.cleanupTimer = setInterval(() => void this.removeEmptyGroups(), this.o.cleanupIntervalMs);
      this.cleanupTimer.unref();
    }
    await this.loadsSettled();
  }

  async loadsSettled(): Promise<void> {
    await this.partitions.loadsSettled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.partitions.close();
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    for (const g of [...this.groups.values()]) this.unloadGroup(g);
    await this.partitions.settle(this.store.writes, coordinatorCloseWaitMs);
  }

  // ---- ownership and loading (CoordinatorPartitions) ----

  private owns(partition: number): boolean {
    return this.partitions.owns(partition);
  }

  private status(groupId: string): number {
    return this.partitions.status(groupId);
  }

  private async loadPartition(partition: number, isCurrent: () => boolean): Promise<void> {
    const kvs = await this.store.load(partition);
    if (!isCurrent()) return;
    for (const kv of kvs) {
      const r = ConsumerGroupStore.parse(kv);
      if (!r) continue;
      this.install(partition, r);
    }
  }

  private install(partition: number, r: StoredConsumerGroup): void {
    const g = restoreGroup(partition, r);
    this.groups.set(g.groupId, g);
    // As after a failover in Kafka: every member's session starts afresh.
    for (const m of g.members.values()) {
      this.membership.scheduleSession(g, m);
      if (m.state === 'unrevoked_partitions') this.membership.scheduleRevocation(g, m);
    }
  }

  private unloadPartition(partition: number): void {
    for (const g of [...this.groups.values()]) if (g.coordinatorPartition === partition) this.unloadGroup(g);
  }

  private unloadGroup(g: ConsumerGroup): void {
    for (const m of g.members.values()) this.membership.clearTimers(m);
    this.groups.delete(g.groupId);
    this.assignment.forget(g.groupId);
  }

  // ---- ConsumerGroupHeartbeat (consumer-membership.ts) ----

  heartbeat(h: HeartbeatParams): Promise<HeartbeatResult> {
    return this.membership.heartbeat(h);
  }

  // ---- ConsumerGroupDescribe ----

  describe(groupId: string): DescribedConsumerGroup {
    const base = { groupId, groupState: '', groupEpoch: 0, assignmentEpoch: 0, assignorName: '', members: [] };
    if (groupId === '') return { ...base, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: null };
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return { ...base, errorCode: status, errorMessage: null };
    const g = this.groups.get(groupId);
    if (!g) {
      const classic = this.classic?.groupState(groupId);
      const message =
        classic !== undefined && classic !== 'Dead' ? `Group ${groupId} is not a consumer group.` : `Group ${groupId} not found.`;
      return { ...base, errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: message };
    }
    return describeConsumerGroup(g, this.topics, this.assignment.chooseAssignor(g));
  }

  // ---- hooks for the classic coordinator (one group per id; offsets; admin APIs) ----

  /** The group id is a consumer group this broker holds. */
  hasGroup(groupId: string): boolean {
    const g = this.groups.get(groupId);
    return g !== undefined && !g.dead;
  }

  hasMembers(groupId: string): boolean {
    return (this.groups.get(groupId)?.members.size ?? 0) > 0;
  }

  /** OffsetDelete: names of the topics the members of a consumer group subscribe to; null when it has none. */
  subscribedTopics(groupId: string): Set<string> | null {
    const g = this.groups.get(groupId);
    if (!g || g.dead || g.members.size === 0) return null;
    const names = new Set<string>();
    for (const m of g.members.values()) for (const t of this.assignment.memberTopics(m, null).values()) names.add(t.name);
    return names;
  }

  /**
   * Kafka deletes an empty consumer group once it has no committed offsets left: every `intervalMs`, empty
   * groups of which the classic coordinator holds no offsets (no group of that id there) are deleted.
   */
  async removeEmptyGroups(): Promise<void> {
    for (const g of [...this.groups.values()]) {
      if (g.dead || g.members.size > 0 || !this.partitions.isLoaded(g.coordinatorPartition)) continue;
      const classic = this.classic?.groupState(g.groupId);
      if (classic !== undefined && classic !== 'Dead') continue;
      if (this.emptySeen.has(g.groupId)) {
        this.logger.info({ group: g.groupId }, 'empty consumer group without offsets deleted');
        await this.deleteGroup(g.groupId);
      } else {
        // Empty for a whole interval first.
        this.emptySeen.add(g.groupId);
      }
    }
    for (const id of [...this.emptySeen]) if (!this.groups.get(id) || this.hasMembers(id)) this.emptySeen.delete(id);
  }

  /** For tests: a consumer group's state, or undefined. */
  groupState(groupId: string): ConsumerGroupState | undefined {
    return this.groups.get(groupId)?.state;
  }

  /** For tests: the group as the coordinator holds it. */
  group(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  /**
   * A classic JoinGroup for this id. null: not a consumer group here (go on). Otherwise an error code: NONE
   * once an empty consumer group was removed so that a classic group may take the id (Kafka's downgrade of an
   * empty group), INCONSISTENT_GROUP_PROTOCOL while it has members.
   */
  onClassicJoin(groupId: string): Promise<number> | null {
    const p = coordinatorPartitionOf(groupId);
    if (this.owns(p) && !this.partitions.isLoaded(p) && !this.closed) return Promise.resolve(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    const g = this.groups.get(groupId);
    if (!g || g.dead) return null;
    if (g.members.size > 0) return Promise.resolve(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    return this.deleteGroup(groupId);
  }

  /**
   * OffsetCommit checks for a consumer group (KIP-848): null when the id is not a consumer group here. A negative
   * epoch is accepted while the group has no members (admin and simple consumers); otherwise the member must
   * exist (UNKNOWN_MEMBER_ID) and send its current epoch (STALE_MEMBER_EPOCH).
   */
  validateOffsetCommit(
    groupId: string,
    memberId: string,
    instanceId: string | null,
    memberEpoch: number,
    transactional = false,
  ): number | null {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return null;
    // As Kafka's ConsumerGroup.validateOffsetCommit (the instance id is only looked at for TxnOffsetCommit).
    if (memberEpoch < 0 && g.members.size === 0) return ErrorCode.NONE;
    // TxnOffsetCommit need not name a member (producers using sendOffsetsToTransaction with a group id only).
    if (transactional && memberEpoch === -1 && memberId === '' && instanceId === null) return ErrorCode.NONE;
    const m = g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  /** A current member of a consumer group (OffsetCommit before v9 from one is UNSUPPORTED_VERSION). */
  isMember(groupId: string, memberId: string): boolean {
    const g = this.groups.get(groupId);
    return g !== undefined && !g.dead && g.members.has(memberId);
  }

  /**
   * OffsetFetch v9 checks for a consumer group (Kafka's ConsumerGroup.validateOffsetFetch): null when the id is
   * not a consumer group here; no member id with a negative epoch is accepted (admin clients); otherwise the
   * member must exist (UNKNOWN_MEMBER_ID) with its current epoch (STALE_MEMBER_EPOCH).
   */
  validateOffsetFetch(groupId: string, memberId: string | null, memberEpoch: number): number | null {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return null;
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE;
    const m = memberId === null ? undefined : g.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    return memberEpoch === m.memberEpoch ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }

  /** ListGroups entries of the consumer groups (loaded partitions only), filtered as ListGroups asks. */
  listGroups(states: string[], types: string[]): { groupId: string; protocolType: string; state: string; type: string }[] {
    const wantStates = new Set(states.map((s) => s.toLowerCase()));
    const wantTypes = new Set(types.map((s) => s.toLowerCase()));
    if (wantTypes.size > 0 && !wantTypes.has('consumer')) return [];
    const out = [];
    for (const g of this.groups.values()) {
      if (!this.partitions.isLoaded(g.coordinatorPartition) || g.dead) continue;
      if (wantStates.size > 0 && !wantStates.has(g.state.toLowerCase())) continue;
      out.push({ groupId: g.groupId, protocolType: 'consumer', state: g.state, type: 'consumer' });
    }
    return out;
  }

  /**
   * DescribeGroups (the classic API) on a consumer group, as Kafka 4 answers it: protocol type `consumer`, the
   * assignor as protocol, each member's subscription and assignment in the consumer protocol's encoding.
   */
  describeAsClassic(groupId: string): ClassicDescription | null {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return null;
    return classicDescriptionOf(g, this.topics);
  }

  /** DeleteGroups of a consumer group: NON_EMPTY_GROUP with members, else its record goes (offsets: the caller). */
  async deleteGroup(groupId: string): Promise<number> {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    g.dead = true;
    const code = await this.store.persist(g, { delete: true });
    if (this.groups.get(groupId) !== g) return code;
    if (code === ErrorCode.NONE) {
      this.groups.delete(groupId);
      this.assignment.forget(groupId);
    } else {
      g.dead = false;
    }
    return code;
  }
}
