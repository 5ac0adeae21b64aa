// The group coordinator for classic consumer groups (spec/groups.md): Kafka's GroupCoordinator state machine
// (Empty → PreparingRebalance → CompletingRebalance → Stable, and Dead), its timers (session, rebalance,
// initial delay, pending sync), committed offsets and their expiry, over the metadata store.
//
// A broker serves the groups of the coordinator partitions the cluster says it owns. Everything else answers
// NOT_COORDINATOR; a partition being loaded answers COORDINATOR_LOAD_IN_PROGRESS. Group state is written at
// each generation change (assignment, group emptied, static member replaced, deletion), never per heartbeat;
// a group reloaded elsewhere comes back Stable (or Empty) with its members, whose timers start afresh.
//
// This module loads and unloads the coordinator partitions and answers the admin APIs; the parts: the groups
// held and their writes (group-table.ts), the state machine and its timers (rebalance.ts), the membership
// requests (membership.ts) and the committed offsets (offsets.ts).
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ClassicGroup } from './classic-group.ts';
import type { ClassicGroupState, CommittedOffset, JoinResult, SyncResult } from './classic-group.ts';
import type { GroupRecord } from './group-store.ts';
import { ClassicGroupTable } from './group-table.ts';
import type { ConsumerGroupCoordinator } from './consumer-coordinator.ts';
import type { ClassicDescription } from './consumer-describe.ts';
import { ClassicMembership } from './membership.ts';
import type { JoinParams, LeaveMember, SyncParams } from './membership.ts';
import { GroupOffsets } from './offsets.ts';
import type { FetchedOffset, OffsetCommitEntry } from './offsets.ts';
import { Rebalancer, empty } from './rebalance.ts';
import { coordinatorCloseWaitMs } from '../limits.ts';

export interface CoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  /** Members per group (group.max.size). */
  maxGroupSize: number;
  /** Groups this broker holds in memory. */
  maxGroups: number;
  /** Largest stored group record. */
  maxRecordBytes: number;
  offsetsRetentionMs: number;
  retentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  /** How long a new member may wait for its first JoinGroup response (Kafka: 5 minutes). */
  newMemberJoinTimeoutMs?: number;
}

/** DescribeGroups' view of a group: the same shape for classic groups and KIP-848 groups described as classic. */
export type GroupDescription = ClassicDescription;

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: string;
}

const defaultNewMemberJoinTimeoutMs = 5 * 60 * 1000;

export class GroupCoordinator {
  private readonly cluster: Cluster;
  private readonly table: ClassicGroupTable;
  private readonly groups: Map<string, ClassicGroup>;
  private readonly rebalance: Rebalancer;
  private readonly membership: ClassicMembership;
  private readonly offsets: GroupOffsets;
  private readonly logger: Logger;
  private readonly o: Required<CoordinatorOptions>;
  private readonly now: () => number;
  private closed = false;

  attachConsumerGroups(consumerGroups: ConsumerGroupCoordinator): void {
    this.table.consumerGroups = consumerGroups;
  }

  constructor(args: { metadata: MetadataStore; cluster: Cluster; logger: Logger; options: CoordinatorOptions; now?: () => number }) {
    this.cluster = args.cluster;
    this.logger = args.logger;
    this.o = { newMemberJoinTimeoutMs: defaultNewMemberJoinTimeoutMs, ...args.options };
    this.now = args.now ?? Date.now;
    const { logger, now } = this;
    this.table = new ClassicGroupTable({
      metadata: args.metadata,
      cluster: this.cluster,
      logger,
      maxGroups: this.o.maxGroups,
      now,
      load: (partition, isCurrent) => this.loadPartition(partition, isCurrent),
      unload: (partition) => this.unloadPartition(partition),
    });
    this.groups = this.table.groups;
    this.rebalance = new Rebalancer({ table: this.table, logger, options: this.o, now });
    this.membership = new ClassicMembership({ table: this.table, rebalance: this.rebalance, logger, options: this.o, now });
    this.offsets = new GroupOffsets({
      table: this.table,
      scheduleSession: (g, m) => this.rebalance.scheduleSession(g, m),
      logger,
      options: this.o,
      now,
    });
  }

  /** Subscribes to coordinator changes and loads the partitions this broker owns; resolves once they are loaded. */
  async start(): Promise<void> {
    this.table.partitions.start();
    this.offsets.start();
    await this.loadsSettled();
  }

  /** Resolves when no partition load is in flight. */
  async loadsSettled(): Promise<void> {
    await this.table.partitions.loadsSettled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.offsets.close();
    this.table.partitions.close();
    for (const g of [...this.groups.values()]) this.rebalance.unloadGroup(g);
    await this.table.settle(coordinatorCloseWaitMs);
  }

  // ---- loading ----

  private async loadPartition(partition: number, isCurrent: () => boolean): Promise<void> {
    const data = await this.table.store.loadPartition(partition);
    if (isCurrent()) this.installPartition(partition, data.groups, data.offsets);
  }

  private installPartition(
    partition: number,
    records: Map<string, GroupRecord>,
    offsets: Map<string, { topic: string; partition: number; record: CommittedOffset }[]>,
  ): void {
    const now = this.now();
    for (const [groupId, r] of records) {
      assert.equal(coordinatorPartitionOf(groupId), partition);
      const g = new ClassicGroup(groupId, partition, r.stateTimestampMs ?? now);
      g.generationId = r.generationId;
      g.protocolType = r.protocolType;
      g.protocolName = r.protocolName;
      for (const m of r.members) {
        g.add({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          sessionTimeoutMs: m.sessionTimeoutMs,
          protocolType: r.protocolType ?? '',
          protocols: [{ name: r.protocolName ?? '', metadata: Buffer.from(m.subscription, 'base64') }],
          assignment: Buffer.from(m.assignment, 'base64'),
          joinWaiter: null,
          syncWaiter: null,
          isNew: false,
          sessionTimer: null,
        });
      }
      g.protocolType = r.protocolType;
      g.leaderId = r.leaderId !== null && g.has(r.leaderId) ? r.leaderId : g.leaderId;
      // As Kafka loads a group: Stable with its members (their sessions start now), or Empty.
      g.state = g.members.size > 0 ? 'Stable' : 'Empty';
      this.groups.set(groupId, g);
      for (const m of g.members.values()) this.rebalance.scheduleSession(g, m, m.sessionTimeoutMs);
    }
    for (const [groupId, list] of offsets) {
      let g = this.groups.get(groupId);
      if (!g) {
        g = new ClassicGroup(groupId, partition, now);
        this.groups.set(groupId, g);
      }
      for (const o of list) g.setOffset(o.topic, o.partition, o.record);
    }
  }

  private unloadPartition(partition: number): void {
    for (const g of [...this.groups.values()]) if (g.coordinatorPartition === partition) this.rebalance.unloadGroup(g);
  }

  // ---- the membership protocol (membership.ts) ----

  joinGroup(j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    return this.membership.joinGroup(j, signal);
  }

  syncGroup(s: SyncParams, signal: AbortSignal): Promise<SyncResult> | SyncResult {
    return this.membership.syncGroup(s, signal);
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    return this.membership.heartbeat(groupId, memberId, groupInstanceId, generationId);
  }

  leaveGroup(groupId: string, leaving: LeaveMember[]): { errorCode: number; members: (LeaveMember & { errorCode: number })[] } {
    return this.membership.leaveGroup(groupId, leaving);
  }

  // ---- committed offsets (offsets.ts) ----

  /** Error codes in the order of `entries`. */
  commitOffsets(req: {
    groupId: string;
    memberId: string;
    groupInstanceId: string | null;
    generationId: number;
    /** The answer to a commit with a generation >= 0 for a group that does not exist (default ILLEGAL_GENERATION). */
    unknownGroupCode?: number;
    entries: OffsetCommitEntry[];
  }): Promise<number[]> {
    return this.offsets.commitOffsets(req);
  }

  /** TxnOffsetCommit's group-level check (Kafka: validateOffsetCommit for a transactional commit). */
  validateTxnOffsetCommit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    return this.offsets.validateTxnOffsetCommit(groupId, generationId, memberId, groupInstanceId);
  }

  /** Applies the offsets of a committed transaction (checked at TxnOffsetCommit): NONE or the error code. */
  applyTxnOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number> {
    return this.offsets.applyTxnOffsets(groupId, entries);
  }

  /** `topics` null: every committed offset of the group. */
  fetchOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[] | null,
  ): { errorCode: number; topics: { name: string; partitions: FetchedOffset[] }[] } {
    return this.offsets.fetchOffsets(groupId, topics);
  }

  /** OffsetDelete: the group-level error, or per-partition codes in request order. */
  deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): Promise<{ errorCode: number; codes: number[] }> {
    return this.offsets.deleteOffsets(groupId, partitions);
  }

  /** Removes expired offsets (Kafka's rules, spec/groups.md) and then empty groups left without offsets. */
  expireOffsets(): Promise<void> {
    return this.offsets.expireOffsets();
  }

  /** A deleted topic's committed offsets go from every group this broker serves. */
  onTopicDeleted(topic: string): Promise<void> {
    return this.offsets.onTopicDeleted(topic);
  }

  // ---- admin APIs ----

  describeGroup(groupId: string): GroupDescription {
    const dead: GroupDescription = { errorCode: ErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    const status = this.table.status(groupId);
    if (status !== ErrorCode.NONE) return { ...dead, errorCode: status, state: '' };
    const consumer = this.table.consumerGroups?.describeAsClassic(groupId);
    if (consumer) return consumer;
    const g = this.groups.get(groupId);
    if (!g) return dead;
    const stable = g.is('Stable');
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName ?? '') : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? g.memberMetadata(m) : empty,
        assignment: stable ? m.assignment : empty,
      })),
    };
  }

  /** Groups of the loaded partitions; COORDINATOR_LOAD_IN_PROGRESS (with what is loaded) while some load. */
  listGroups(states: string[], types: string[]): { errorCode: number; groups: ListedGroup[] } {
    const wantStates = new Set(states.map((s) => s.toLowerCase()));
    const wantTypes = new Set(types.map((s) => s.toLowerCase()));
    const groups: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      if (!this.table.partitions.isLoaded(g.coordinatorPartition) || g.is('Dead') || this.table.consumerGroups?.hasGroup(g.groupId))
        continue;
      if (wantStates.size > 0 && !wantStates.has(g.state.toLowerCase())) continue;
      if (wantTypes.size > 0 && !wantTypes.has(g.type)) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state, type: g.type });
    }
    groups.push(...(this.table.consumerGroups?.listGroups(states, types) ?? []));
    const loading = this.cluster.ownedCoordinatorPartitions('group').some((p) => !this.table.partitions.isLoaded(p));
    return { errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups };
  }

  async deleteGroups(groupIds: string[]): Promise<number[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const status = this.table.status(groupId);
        if (status !== ErrorCode.NONE) return status;
        if (this.table.consumerGroups?.hasGroup(groupId)) {
          // A consumer group: its record goes, then its offsets (held here) with the classic path below.
          const code = await this.table.consumerGroups.deleteGroup(groupId);
          if (code !== ErrorCode.NONE || !this.groups.get(groupId)?.is('Empty')) return code;
        }
        const g = this.groups.get(groupId);
        if (!g || g.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
        if (!g.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
        const code = await this.table.removeGroup(g);
        this.logger.info({ group: groupId, errorCode: code }, 'group deleted');
        return code;
      }),
    );
  }

  /** For tests and metrics: a group's state, or undefined when it is not in memory. */
  groupState(groupId: string): ClassicGroupState | undefined {
    return this.groups.get(groupId)?.state;
  }

  get groupCount(): number {
    return this.groups.size;
  }
}
