// The group coordinator for classic consumer groups (spec/groups.md): Kafka's GroupCoordinator state machine
// (Empty → PreparingRebalance → CompletingRebalance → Stable, and Dead), its timers (session, rebalance,
// initial delay, pending sync), committed offsets and their expiry, over the metadata store.
//
// A broker serves the groups of the coordinator partitions the cluster says it owns. Everything else answers
// NOT_COORDINATOR; a partition being loaded answers COORDINATOR_LOAD_IN_PROGRESS. Group state is written at
// each generation change (assignment, group emptied, static member replaced, deletion), never per heartbeat;
// a group reloaded elsewhere comes back Stable (or Empty) with its members, whose timers start afresh.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { CoordinatorPartitions } from '../cluster/coordinator-partitions.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ClassicGroup, consumerProtocolType } from './classic-group.ts';
import type { ClassicGroupState, ClassicMember, CommittedOffset, JoinResult, MemberProtocol, SyncResult } from './classic-group.ts';
import { FencedWriteError, GroupStore, groupRecordOf, offsetRecordOf } from './group-store.ts';
import type { GroupRecord } from './group-store.ts';
import type { ConsumerGroupCoordinator } from './consumer-coordinator.ts';

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

export interface JoinParams {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  /** v4+: a new member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
  /** v9+: a static leader rejoining a stable group gets the members with skipAssignment. */
  supportSkipAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: MemberProtocol[];
}

export interface SyncParams {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: { memberId: string; assignment: Buffer }[];
}

export interface LeaveMember {
  memberId: string;
  groupInstanceId: string | null;
}

export interface OffsetCommitEntry {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestampMs: number;
  expireTimestampMs: number | null;
}

export interface FetchedOffset {
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string;
  errorCode: number;
}

export interface GroupDescription {
  errorCode: number;
  groupId: string;
  state: string;
  protocolType: string;
  protocolData: string;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    metadata: Buffer;
    assignment: Buffer;
  }[];
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: string;
}

const defaultNewMemberJoinTimeoutMs = 5 * 60 * 1000;
const loadRetryMs = 1000;
const closeWaitMs = 5000;
/** The members' protocol metadata of a group may take this many times group.max.record.bytes (several protocols each). */
const maxMetadataRecords = 4;
const empty = Buffer.alloc(0);

function joinError(errorCode: number, memberId = ''): JoinResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leaderId: '',
    memberId,
    members: [],
    skipAssignment: false,
  };
}

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: empty };
}

function sameProtocols(a: MemberProtocol[], b: MemberProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}

/** A store failure as the error code Kafka gives for a failed write of the coordinator's log. */
function storeErrorCode(e: unknown): number {
  if (e instanceof FencedWriteError) return ErrorCode.NOT_COORDINATOR;
  if (e instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

export class GroupCoordinator {
  private readonly cluster: Cluster;
  private readonly store: GroupStore;
  private readonly logger: Logger;
  private readonly o: Required<CoordinatorOptions>;
  private readonly now: () => number;
  private readonly groups = new Map<string, ClassicGroup>();
  /** The coordinator partitions served here: loading on arrival, unloading on departure. */
  private readonly partitions: CoordinatorPartitions;
  private readonly writes = new Set<Promise<unknown>>();
  private retentionTimer: NodeJS.Timeout | null = null;
  private expiring = false;
  private closed = false;
  /** KIP-848 consumer groups: a group id is one group, classic or consumer (consumer-coordinator.ts). */
  private consumerGroups: ConsumerGroupCoordinator | null = null;

  attachConsumerGroups(consumerGroups: ConsumerGroupCoordinator): void {
    this.consumerGroups = consumerGroups;
  }

  constructor(args: { metadata: MetadataStore; cluster: Cluster; logger: Logger; options: CoordinatorOptions; now?: () => number }) {
    this.cluster = args.cluster;
    this.store = new GroupStore(args.metadata, (partition) => args.cluster.coordinatorFence('group', partition));
    this.logger = args.logger;
    this.o = { newMemberJoinTimeoutMs: defaultNewMemberJoinTimeoutMs, ...args.options };
    this.now = args.now ?? Date.now;
    this.partitions = new CoordinatorPartitions({
      cluster: this.cluster,
      kind: 'group',
      logger: this.logger,
      what: 'group coordinator partition',
      retryMs: loadRetryMs,
      load: (partition, _epoch, isCurrent) => this.loadPartition(partition, isCurrent),
      unload: (partition) => this.unloadPartition(partition),
    });
  }

  /** Subscribes to coordinator changes and loads the partitions this broker owns; resolves once they are loaded. */
  async start(): Promise<void> {
    this.partitions.start();
    this.retentionTimer = setInterval(() => void this.expireOffsets(), this.o.retentionCheckIntervalMs);
    this.retentionTimer.unref();
    await this.loadsSettled();
  }

  /** Resolves when no partition load is in flight. */
  async loadsSettled(): Promise<void> {
    await this.partitions.loadsSettled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.partitions.close();
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    for (const g of [...this.groups.values()]) this.unloadGroup(g);
    await this.partitions.settle(this.writes, closeWaitMs);
  }

  // ---- ownership and loading ----

  private owns(partition: number): boolean {
    return this.partitions.owns(partition);
  }

  /** NONE when this broker serves the group now, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  private status(groupId: string): number {
    return this.partitions.status(groupId);
  }

  private async loadPartition(partition: number, isCurrent: () => boolean): Promise<void> {
    const data = await this.store.loadPartition(partition);
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
      for (const m of g.members.values()) this.scheduleSession(g, m, m.sessionTimeoutMs);
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
    for (const g of [...this.groups.values()]) if (g.coordinatorPartition === partition) this.unloadGroup(g);
  }

  /** Drops a group from memory: timers stopped, waiting members told to find the coordinator again. */
  private unloadGroup(g: ClassicGroup): void {
    this.clearGroupTimers(g);
    for (const m of g.members.values()) {
      this.clearSession(m);
      this.completeJoin(m, joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
      this.completeSync(m, syncError(ErrorCode.NOT_COORDINATOR));
    }
    this.groups.delete(g.groupId);
  }

  // ---- timers ----

  private clearGroupTimers(g: ClassicGroup): void {
    if (g.joinTimer) clearTimeout(g.joinTimer);
    if (g.syncTimer) clearTimeout(g.syncTimer);
    g.joinTimer = g.syncTimer = null;
    g.inInitialDelay = false;
    for (const t of g.pendingMembers.values()) clearTimeout(t);
    g.pendingMembers.clear();
  }

  private clearSession(m: ClassicMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    m.sessionTimer = null;
  }

  /** Kafka's completeAndScheduleNextHeartbeatExpiration: the member is alive; its session restarts. */
  private scheduleSession(g: ClassicGroup, m: ClassicMember, timeoutMs = m.sessionTimeoutMs): void {
    this.clearSession(m);
    const memberId = m.memberId;
    m.sessionTimer = setTimeout(() => this.onSessionExpired(g, memberId), timeoutMs);
  }

  private onSessionExpired(g: ClassicGroup, memberId: string): void {
    const m = g.members.get(memberId);
    if (!m || this.groups.get(g.groupId) !== g) return;
    m.sessionTimer = null;
    // A member waiting for a JoinGroup or SyncGroup response is alive (unless it never got its first answer).
    if (!m.isNew && (m.joinWaiter !== null || m.syncWaiter !== null)) {
      this.scheduleSession(g, m);
      return;
    }
    this.logger.info({ group: g.groupId, member: memberId }, 'group member session expired');
    this.removeMemberAndUpdateGroup(g, m);
  }

  private addPendingMember(g: ClassicGroup, memberId: string, sessionTimeoutMs: number): void {
    const t = setTimeout(() => {
      if (!g.pendingMembers.delete(memberId)) return;
      if (g.is('PreparingRebalance')) this.checkJoinComplete(g);
      else this.maybeDropUnusedGroup(g);
    }, sessionTimeoutMs);
    g.pendingMembers.set(memberId, t);
  }

  private removePendingMember(g: ClassicGroup, memberId: string): void {
    const t = g.pendingMembers.get(memberId);
    if (t) clearTimeout(t);
    g.pendingMembers.delete(memberId);
  }

  // ---- JoinGroup ----

  joinGroup(j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    if (j.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, j.memberId);
    const status = this.status(j.groupId);
    if (status !== ErrorCode.NONE) return joinError(status, j.memberId);
    // A consumer group's id: INCONSISTENT_GROUP_PROTOCOL while it has members; an empty one gives the id up.
    const consumer = this.consumerGroups?.onClassicJoin(j.groupId);
    if (consumer) return consumer.then((code) => (code === ErrorCode.NONE ? this.joinGroup(j, signal) : joinError(code, j.memberId)));
    if (j.sessionTimeoutMs < this.o.minSessionTimeoutMs || j.sessionTimeoutMs > this.o.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, j.memberId);
    }
    const isUnknown = j.memberId === '';
    let g = this.groups.get(j.groupId);
    if (!g) {
      if (!isUnknown) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
      if (this.groups.size >= this.o.maxGroups) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, j.memberId);
      g = new ClassicGroup(j.groupId, coordinatorPartitionOf(j.groupId), this.now());
      this.groups.set(j.groupId, g);
    }
    const known = g.has(j.memberId) || g.pendingMembers.has(j.memberId);
    const staticKnown = j.groupInstanceId !== null && g.staticMemberId(j.groupInstanceId) !== undefined;
    if (!known && !staticKnown && g.members.size + g.pendingMembers.size >= this.o.maxGroupSize) {
      this.maybeDropUnusedGroup(g);
      return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, j.memberId);
    }
    // Members' protocol metadata is held in memory for the whole group: bounded by a few stored records' worth.
    const bytesOf = (protocols: MemberProtocol[]) => protocols.reduce((n, p) => n + p.name.length + p.metadata.length, 0);
    let groupBytes = bytesOf(j.protocols);
    for (const m of g.members.values()) if (m.memberId !== j.memberId) groupBytes += bytesOf(m.protocols);
    if (groupBytes > maxMetadataRecords * this.o.maxRecordBytes) {
      this.maybeDropUnusedGroup(g);
      return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, j.memberId);
    }
    const result = isUnknown ? this.joinNewMember(g, j, signal) : this.joinCurrentMember(g, j, signal);
    if (g.is('PreparingRebalance')) this.checkJoinComplete(g);
    else if (!(result instanceof Promise)) this.maybeDropUnusedGroup(g);
    return result;
  }

  /** A group created by a join that failed before any member was added. */
  private maybeDropUnusedGroup(g: ClassicGroup): void {
    if (this.groups.get(g.groupId) !== g) return;
    if (g.is('Empty') && g.members.size === 0 && g.pendingMembers.size === 0 && g.offsetCount() === 0 && g.generationId === 0)
      this.groups.delete(g.groupId);
  }

  private joinNewMember(g: ClassicGroup, j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    if (g.is('Dead')) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (
      !g.supportsProtocols(
        j.protocolType,
        j.protocols.map((p) => p.name),
      )
    )
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const newMemberId = `${j.clientId}-${randomUUID()}`;
    if (j.groupInstanceId !== null) return this.joinStaticMember(g, newMemberId, j, signal);
    if (j.requireKnownMemberId) {
      this.addPendingMember(g, newMemberId, j.sessionTimeoutMs);
      return joinError(ErrorCode.MEMBER_ID_REQUIRED, newMemberId);
    }
    return this.addMemberAndRebalance(g, newMemberId, j, signal);
  }

  private joinStaticMember(g: ClassicGroup, newMemberId: string, j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    const instanceId = j.groupInstanceId!;
    const oldMemberId = g.staticMemberId(instanceId);
    if (oldMemberId === undefined) return this.addMemberAndRebalance(g, newMemberId, j, signal);
    if (g.is('Empty') || g.is('Dead')) return joinError(ErrorCode.UNKNOWN_MEMBER_ID);
    const oldMember = g.members.get(oldMemberId)!;
    const oldLeaderId = g.leaderId ?? '';
    const old = {
      protocols: oldMember.protocols,
      rebalanceTimeoutMs: oldMember.rebalanceTimeoutMs,
      sessionTimeoutMs: oldMember.sessionTimeoutMs,
    };
    // The old incarnation is fenced: whatever it waits for fails with FENCED_INSTANCE_ID.
    this.clearSession(oldMember);
    this.completeJoin(oldMember, joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    this.completeSync(oldMember, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const member = g.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    member.protocols = j.protocols;
    member.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    member.sessionTimeoutMs = j.sessionTimeoutMs;
    member.clientId = j.clientId;
    member.clientHost = j.clientHost;
    this.scheduleSession(g, member);
    switch (g.state) {
      case 'Stable': {
        if (g.selectProtocol() !== g.protocolName) {
          const p = this.waitJoin(member, signal);
          this.prepareRebalance(g, 'a static member rejoined with protocols that change the selected one');
          return p;
        }
        // Nothing to rebalance: persist the new member id and answer with the current generation.
        const generationId = g.generationId;
        return this.persistGroup(g).then((code) => {
          if (code !== ErrorCode.NONE) {
            if (g.members.get(newMemberId) === member && g.generationId === generationId) {
              const back = g.replaceStaticMember(instanceId, newMemberId, oldMemberId);
              back.protocols = old.protocols;
              back.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
              back.sessionTimeoutMs = old.sessionTimeoutMs;
              this.clearSession(member);
              this.scheduleSession(g, back);
            }
            return joinError(code);
          }
          const isLeader = g.isLeader(newMemberId);
          if (j.supportSkipAssignment && isLeader) {
            return {
              errorCode: ErrorCode.NONE,
              generationId: g.generationId,
              protocolType: g.protocolType,
              protocolName: g.protocolName,
              leaderId: newMemberId,
              memberId: newMemberId,
              members: g.currentMemberMetadata(),
              skipAssignment: true,
            };
          }
          // The old leader id, so that a rejoining leader does not compute an assignment a stable group ignores.
          return {
            errorCode: ErrorCode.NONE,
            generationId: g.generationId,
            protocolType: g.protocolType,
            protocolName: g.protocolName,
            leaderId: oldLeaderId,
            memberId: newMemberId,
            members: [],
            skipAssignment: false,
          };
        });
      }
      case 'CompletingRebalance': {
        const p = this.waitJoin(member, signal);
        this.prepareRebalance(g, 'a static member rejoined while the group was completing a rebalance');
        return p;
      }
      case 'PreparingRebalance':
        return this.waitJoin(member, signal);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private joinCurrentMember(g: ClassicGroup, j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    if (g.pendingMembers.has(j.memberId)) {
      if (j.groupInstanceId !== null) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
      this.removePendingMember(g, j.memberId);
      return this.addMemberAndRebalance(g, j.memberId, j, signal);
    }
    if (g.is('Dead')) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, j.memberId);
    if (g.isStaticMemberFenced(j.memberId, j.groupInstanceId)) return joinError(ErrorCode.FENCED_INSTANCE_ID, j.memberId);
    if (!g.has(j.memberId)) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
    if (
      !g.supportsProtocols(
        j.protocolType,
        j.protocols.map((p) => p.name),
      )
    )
      return joinError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL, j.memberId);
    const member = g.members.get(j.memberId)!;
    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(g, member, j, signal);
      case 'CompletingRebalance':
        if (sameProtocols(member.protocols, j.protocols)) {
          // It lost the first response: the same answer again.
          this.scheduleSession(g, member);
          return this.currentJoinResult(g, member, g.isLeader(member.memberId));
        }
        return this.updateMemberAndRebalance(g, member, j, signal);
      case 'Stable':
        // The leader's join forces a rebalance (e.g. the topics' partitions changed); so does new metadata.
        if (g.isLeader(member.memberId) || !sameProtocols(member.protocols, j.protocols))
          return this.updateMemberAndRebalance(g, member, j, signal);
        this.scheduleSession(g, member);
        return this.currentJoinResult(g, member, false);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
    }
  }

  private currentJoinResult(g: ClassicGroup, m: ClassicMember, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leaderId: g.leaderId ?? '',
      memberId: m.memberId,
      members: withMembers ? g.currentMemberMetadata() : [],
      skipAssignment: false,
    };
  }

  private addMemberAndRebalance(g: ClassicGroup, memberId: string, j: JoinParams, signal: AbortSignal): Promise<JoinResult> {
    const member: ClassicMember = {
      memberId,
      groupInstanceId: j.groupInstanceId,
      clientId: j.clientId,
      clientHost: j.clientHost,
      rebalanceTimeoutMs: j.rebalanceTimeoutMs,
      sessionTimeoutMs: j.sessionTimeoutMs,
      protocolType: j.protocolType,
      protocols: j.protocols,
      assignment: empty,
      joinWaiter: null,
      syncWaiter: null,
      isNew: true,
      sessionTimer: null,
    };
    g.add(member);
    if (g.is('PreparingRebalance') && g.generationId === 0) g.newMemberAdded = true;
    const p = this.waitJoin(member, signal);
    this.scheduleSession(g, member, this.o.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(g, `member ${memberId} joined`);
    return p;
  }

  private updateMemberAndRebalance(g: ClassicGroup, member: ClassicMember, j: JoinParams, signal: AbortSignal): Promise<JoinResult> {
    member.protocols = j.protocols;
    member.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    member.sessionTimeoutMs = j.sessionTimeoutMs;
    const p = this.waitJoin(member, signal);
    this.scheduleSession(g, member);
    this.maybePrepareRebalance(g, `member ${member.memberId} rejoined`);
    return p;
  }

  /** The member waits for the rebalance; if its connection goes, the member still counts as joining. */
  private waitJoin(member: ClassicMember, signal: AbortSignal): Promise<JoinResult> {
    // A previous request of the same member still waiting is superseded.
    this.completeJoin(member, joinError(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    return new Promise((resolve) => {
      const onAbort = () => {
        if (member.joinWaiter === waiter) member.joinWaiter = () => {};
        resolve(joinError(ErrorCode.UNKNOWN_SERVER_ERROR, member.memberId));
      };
      const waiter = (r: JoinResult) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      member.joinWaiter = waiter;
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private completeJoin(m: ClassicMember, r: JoinResult): void {
    const w = m.joinWaiter;
    m.joinWaiter = null;
    w?.(r);
  }

  private completeSync(m: ClassicMember, r: SyncResult): void {
    const w = m.syncWaiter;
    m.syncWaiter = null;
    w?.(r);
  }

  private maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.is('Stable') || g.is('CompletingRebalance') || g.is('Empty')) this.prepareRebalance(g, reason);
  }

  private rebalanceTimeoutMs(g: ClassicGroup): number {
    let t = 0;
    for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  private prepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(g, ErrorCode.REBALANCE_IN_PROGRESS);
    if (g.syncTimer) clearTimeout(g.syncTimer);
    g.syncTimer = null;
    g.pendingSyncMembers.clear();
    const initial = g.is('Empty');
    g.transitionTo('PreparingRebalance', this.now());
    this.logger.info({ group: g.groupId, generation: g.generationId, reason }, 'preparing to rebalance group');
    if (initial) {
      g.newMemberAdded = false;
      const delay = this.o.initialRebalanceDelayMs;
      this.scheduleInitialDelay(g, delay, Math.max(this.rebalanceTimeoutMs(g) - delay, 0));
    } else {
      this.scheduleJoinDeadline(g, this.rebalanceTimeoutMs(g));
    }
  }

  private scheduleInitialDelay(g: ClassicGroup, delayMs: number, remainingMs: number): void {
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.inInitialDelay = true;
    g.joinTimer = setTimeout(() => {
      g.joinTimer = null;
      g.inInitialDelay = false;
      if (this.groups.get(g.groupId) !== g || !g.is('PreparingRebalance')) return;
      if (g.newMemberAdded && remainingMs > 0) {
        // Members are still arriving: wait a bit longer, within the rebalance timeout.
        g.newMemberAdded = false;
        const next = Math.min(this.o.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelay(g, next, Math.max(remainingMs - next, 0));
        return;
      }
      this.completeRebalanceJoin(g);
    }, delayMs);
  }

  private scheduleJoinDeadline(g: ClassicGroup, timeoutMs: number): void {
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.inInitialDelay = false;
    g.joinTimer = setTimeout(() => {
      g.joinTimer = null;
      if (this.groups.get(g.groupId) === g && g.is('PreparingRebalance')) this.completeRebalanceJoin(g);
    }, timeoutMs);
  }

  private checkJoinComplete(g: ClassicGroup): void {
    if (g.is('PreparingRebalance') && !g.inInitialDelay && g.hasAllMembersJoined()) this.completeRebalanceJoin(g);
  }

  /** Kafka's onCompleteJoin: the join phase ends (everyone joined, or the deadline passed). */
  private completeRebalanceJoin(g: ClassicGroup): void {
    assert.ok(g.is('PreparingRebalance'));
    if (g.joinTimer) clearTimeout(g.joinTimer);
    g.joinTimer = null;
    g.inInitialDelay = false;
    // Dynamic members that did not rejoin are gone; static ones keep their place until their session expires.
    for (const m of g.notYetRejoined()) {
      if (m.groupInstanceId !== null) continue;
      this.clearSession(m);
      this.completeSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      g.remove(m.memberId);
    }
    if (!g.maybeElectNewJoinedLeader() && g.members.size > 0) {
      // Only static members that have not rejoined: wait another rebalance timeout for them.
      this.scheduleJoinDeadline(g, this.rebalanceTimeoutMs(g));
      return;
    }
    const now = this.now();
    g.generationId++;
    if (g.members.size === 0) {
      g.protocolName = null;
      g.transitionTo('Empty', now);
      this.logger.info({ group: g.groupId, generation: g.generationId }, 'group is empty');
      void this.persistGroup(g);
      return;
    }
    g.protocolName = g.selectProtocol();
    g.transitionTo('CompletingRebalance', now);
    for (const id of g.members.keys()) g.pendingSyncMembers.add(id);
    this.logger.info(
      { group: g.groupId, generation: g.generationId, members: g.members.size, protocol: g.protocolName },
      'group rebalanced; awaiting assignment',
    );
    for (const m of g.members.values()) {
      if (m.joinWaiter === null) continue;
      this.completeJoin(m, this.currentJoinResult(g, m, g.isLeader(m.memberId)));
      m.isNew = false;
      this.scheduleSession(g, m);
    }
    this.schedulePendingSync(g);
  }

  private schedulePendingSync(g: ClassicGroup): void {
    if (g.syncTimer) clearTimeout(g.syncTimer);
    const generationId = g.generationId;
    g.syncTimer = setTimeout(() => {
      g.syncTimer = null;
      if (this.groups.get(g.groupId) !== g || g.generationId !== generationId) return;
      if (!(g.is('CompletingRebalance') || g.is('Stable')) || g.pendingSyncMembers.size === 0) return;
      // Members that never sent SyncGroup within the rebalance timeout are removed.
      for (const id of [...g.pendingSyncMembers]) {
        const m = g.members.get(id);
        if (!m) continue;
        this.clearSession(m);
        this.completeSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        g.remove(id);
      }
      g.pendingSyncMembers.clear();
      this.prepareRebalance(g, 'members did not send SyncGroup in time');
    }, this.rebalanceTimeoutMs(g));
  }

  private resetAndPropagateAssignmentError(g: ClassicGroup, errorCode: number): void {
    for (const m of g.members.values()) {
      m.assignment = empty;
      if (m.syncWaiter) {
        this.completeSync(m, { errorCode, protocolType: g.protocolType, protocolName: g.protocolName, assignment: empty });
        this.scheduleSession(g, m);
      }
    }
  }

  private removeMemberAndUpdateGroup(g: ClassicGroup, m: ClassicMember): void {
    this.clearSession(m);
    this.completeJoin(m, joinError(ErrorCode.UNKNOWN_MEMBER_ID));
    this.completeSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    g.remove(m.memberId);
    switch (g.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.prepareRebalance(g, `member ${m.memberId} left`);
        break;
      case 'PreparingRebalance':
        this.checkJoinComplete(g);
        break;
      default:
        break;
    }
  }

  // ---- SyncGroup ----

  syncGroup(s: SyncParams, signal: AbortSignal): Promise<SyncResult> | SyncResult {
    if (s.groupId === '') return syncError(ErrorCode.INVALID_GROUP_ID);
    const status = this.status(s.groupId);
    if (status !== ErrorCode.NONE) return syncError(status);
    const g = this.groups.get(s.groupId);
    if (!g) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (g.is('Dead')) return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (g.isStaticMemberFenced(s.memberId, s.groupInstanceId)) return syncError(ErrorCode.FENCED_INSTANCE_ID);
    if (!g.has(s.memberId)) return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
    if (s.generationId !== g.generationId) return syncError(ErrorCode.ILLEGAL_GENERATION);
    if ((s.protocolType !== null && s.protocolType !== g.protocolType) || (s.protocolName !== null && s.protocolName !== g.protocolName)) {
      return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    const m = g.members.get(s.memberId)!;
    switch (g.state) {
      case 'Empty':
        return syncError(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        g.pendingSyncMembers.delete(m.memberId);
        this.scheduleSession(g, m);
        return { errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment };
      case 'CompletingRebalance': {
        g.pendingSyncMembers.delete(m.memberId);
        const p = this.waitSync(m, signal);
        this.scheduleSession(g, m);
        if (g.isLeader(m.memberId)) this.applyLeaderAssignment(g, s.assignments);
        return p;
      }
      default:
        return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
  }

  private waitSync(member: ClassicMember, signal: AbortSignal): Promise<SyncResult> {
    this.completeSync(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    return new Promise((resolve) => {
      const onAbort = () => {
        if (member.syncWaiter === waiter) member.syncWaiter = () => {};
        resolve(syncError(ErrorCode.UNKNOWN_SERVER_ERROR));
      };
      const waiter = (r: SyncResult) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      };
      member.syncWaiter = waiter;
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stores the leader's assignment (every member; missing ones get an empty one), then hands it out as sent. */
  private applyLeaderAssignment(g: ClassicGroup, assignments: SyncParams['assignments']): void {
    const byMember = new Map<string, Buffer>();
    for (const a of assignments) if (g.has(a.memberId)) byMember.set(a.memberId, a.assignment);
    for (const id of g.members.keys()) if (!byMember.has(id)) byMember.set(id, empty);
    const generationId = g.generationId;
    const record = groupRecordOf(g, byMember);
    const tooLarge = GroupStore.recordBytes(record) > this.o.maxRecordBytes;
    const write = tooLarge
      ? Promise.resolve(ErrorCode.UNKNOWN_SERVER_ERROR)
      : this.writeGroup(g, () => this.store.putGroup(g.coordinatorPartition, record));
    if (tooLarge) this.logger.warn({ group: g.groupId, limit: this.o.maxRecordBytes }, 'group assignment too large to store');
    void write.then((code) => {
      if (this.groups.get(g.groupId) !== g || !g.is('CompletingRebalance') || g.generationId !== generationId) return;
      if (code !== ErrorCode.NONE) {
        this.resetAndPropagateAssignmentError(g, code);
        this.maybePrepareRebalance(g, 'storing the assignment failed');
        return;
      }
      for (const m of g.members.values()) {
        m.assignment = byMember.get(m.memberId) ?? empty;
        if (m.syncWaiter) {
          this.completeSync(m, {
            errorCode: ErrorCode.NONE,
            protocolType: g.protocolType,
            protocolName: g.protocolName,
            assignment: m.assignment,
          });
          this.scheduleSession(g, m);
        }
      }
      g.transitionTo('Stable', this.now());
      this.logger.info({ group: g.groupId, generation: g.generationId }, 'group stable');
    });
  }

  /** Runs a store write in the group's write order; resolves with NONE or the error code to answer. */
  private writeGroup(g: ClassicGroup, fn: () => Promise<void>): Promise<number> {
    // Only the owner writes (the fence compares then make sure it still is a live member when the store applies it).
    const guarded = () => (this.owns(g.coordinatorPartition) ? fn() : Promise.reject(new FencedWriteError()));
    const run = g.writeChain.then(guarded).then(
      () => ErrorCode.NONE,
      (err: unknown) => {
        const code = storeErrorCode(err);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) this.logger.error({ err, group: g.groupId }, 'group metadata write failed');
        else this.logger.warn({ err, group: g.groupId }, 'group metadata write refused');
        return code;
      },
    );
    g.writeChain = run;
    this.writes.add(run);
    void run.finally(() => this.writes.delete(run));
    return run;
  }

  private persistGroup(g: ClassicGroup): Promise<number> {
    const record = groupRecordOf(g);
    return this.writeGroup(g, () => this.store.putGroup(g.coordinatorPartition, record));
  }

  // ---- Heartbeat ----

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const status = this.status(groupId);
    // While the group is loading, members are answered blindly (Kafka does the same).
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE;
    if (status !== ErrorCode.NONE) return status;
    const g = this.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    if (!g.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const m = g.members.get(memberId)!;
    switch (g.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleSession(g, m);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.scheduleSession(g, m);
        return ErrorCode.NONE;
    }
  }

  // ---- LeaveGroup ----

  leaveGroup(groupId: string, leaving: LeaveMember[]): { errorCode: number; members: (LeaveMember & { errorCode: number })[] } {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, members: [] };
    const g = this.groups.get(groupId);
    if (!g) return { errorCode: ErrorCode.NONE, members: leaving.map((l) => ({ ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    if (g.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((l) => ({ ...l, errorCode: this.leaveOne(g, l) }));
    return { errorCode: ErrorCode.NONE, members };
  }

  private leaveOne(g: ClassicGroup, l: LeaveMember): number {
    if (l.memberId === '') {
      // Administrative removal of a static member by its instance id.
      const current = l.groupInstanceId === null ? undefined : g.staticMemberId(l.groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      this.logger.info({ group: g.groupId, member: current, instance: l.groupInstanceId }, 'static member removed');
      this.removeMemberAndUpdateGroup(g, g.members.get(current)!);
      return ErrorCode.NONE;
    }
    if (g.pendingMembers.has(l.memberId)) {
      this.removePendingMember(g, l.memberId);
      this.checkJoinComplete(g);
      return ErrorCode.NONE;
    }
    if (g.isStaticMemberFenced(l.memberId, l.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const m = g.members.get(l.memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.logger.info({ group: g.groupId, member: l.memberId }, 'member left group');
    this.removeMemberAndUpdateGroup(g, m);
    return ErrorCode.NONE;
  }

  // ---- offsets ----

  /** Error codes in the order of `entries`. */
  async commitOffsets(req: {
    groupId: string;
    memberId: string;
    groupInstanceId: string | null;
    generationId: number;
    entries: OffsetCommitEntry[];
  }): Promise<number[]> {
    const all = (code: number) => req.entries.map(() => code);
    const status = this.status(req.groupId);
    if (status !== ErrorCode.NONE) return all(status);
    // A consumer group's commits are checked against its members and epochs (KIP-848).
    const consumerCode =
      this.consumerGroups?.validateOffsetCommit(req.groupId, req.memberId, req.groupInstanceId, req.generationId) ?? null;
    let g = this.groups.get(req.groupId);
    if (!g) {
      // Without group management (generation < 0) a commit creates the group; otherwise it is a stale member.
      if (req.generationId >= 0 && consumerCode === null) return all(ErrorCode.ILLEGAL_GENERATION);
      if (this.groups.size >= this.o.maxGroups) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      g = new ClassicGroup(req.groupId, coordinatorPartitionOf(req.groupId), this.now());
      this.groups.set(req.groupId, g);
    }
    const code = consumerCode ?? this.validateCommit(g, req.generationId, req.memberId, req.groupInstanceId);
    if (code !== ErrorCode.NONE) {
      this.maybeDropUnusedGroup(g);
      return all(code);
    }
    const m = g.members.get(req.memberId);
    if (m && !g.is('Empty')) this.scheduleSession(g, m);
    const codes: number[] = req.entries.map((e) =>
      e.metadata !== null && e.metadata.length > this.o.offsetMetadataMaxBytes ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE,
    );
    const changes: { index: number; topic: string; partition: number; record: CommittedOffset }[] = [];
    req.entries.forEach((e, index) => {
      if (codes[index] !== ErrorCode.NONE) return;
      changes.push({
        index,
        topic: e.topic,
        partition: e.partition,
        record: {
          offset: e.offset,
          leaderEpoch: e.leaderEpoch,
          metadata: e.metadata ?? '',
          commitTimestampMs: e.commitTimestampMs,
          expireTimestampMs: e.expireTimestampMs,
        },
      });
    });
    if (changes.length === 0) {
      this.maybeDropUnusedGroup(g);
      return codes;
    }
    const group = g;
    const written = new Set<number>();
    const result = await this.writeGroup(group, () =>
      this.store.writeOffsets(
        group.coordinatorPartition,
        group.groupId,
        changes.map((c) => ({ topic: c.topic, partition: c.partition, record: offsetRecordOf(c.record) })),
        (done) => {
          // Applied to memory as each transaction commits.
          for (let i = 0; i < done; i++) {
            const c = changes[written.size]!;
            written.add(c.index);
            if (this.groups.get(group.groupId) === group) group.setOffset(c.topic, c.partition, c.record);
          }
        },
      ),
    );
    for (const c of changes)
      if (!written.has(c.index)) codes[c.index] = result === ErrorCode.NONE ? ErrorCode.UNKNOWN_SERVER_ERROR : result;
    this.maybeDropUnusedGroup(group);
    return codes;
  }

  // ---- transactional offsets (broker/txn/txn-offsets.ts, spec/transactions.md) ----

  /** TxnOffsetCommit's group-level check (Kafka: validateOffsetCommit for a transactional commit). */
  validateTxnOffsetCommit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return status;
    const consumerCode = this.consumerGroups?.validateOffsetCommit(groupId, memberId, groupInstanceId, generationId, true) ?? null;
    if (consumerCode !== null) return consumerCode;
    const g = this.groups.get(groupId);
    if (!g) return generationId >= 0 ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.NONE;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      if (g.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
      if (!g.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    }
    return ErrorCode.NONE;
  }

  /** Applies the offsets of a committed transaction (checked at TxnOffsetCommit): NONE or the error code. */
  async applyTxnOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number> {
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return status;
    let g = this.groups.get(groupId);
    if (!g) {
      if (this.groups.size >= this.o.maxGroups) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      g = new ClassicGroup(groupId, coordinatorPartitionOf(groupId), this.now());
      this.groups.set(groupId, g);
    }
    const group = g;
    const changes = entries.map((e) => ({
      topic: e.topic,
      partition: e.partition,
      record: {
        offset: e.offset,
        leaderEpoch: e.leaderEpoch,
        metadata: e.metadata ?? '',
        commitTimestampMs: e.commitTimestampMs,
        expireTimestampMs: e.expireTimestampMs,
      } as CommittedOffset,
    }));
    const code = await this.writeGroup(group, () =>
      this.store.writeOffsets(
        group.coordinatorPartition,
        groupId,
        changes.map((c) => ({ topic: c.topic, partition: c.partition, record: offsetRecordOf(c.record) })),
      ),
    );
    if (code === ErrorCode.NONE && this.groups.get(groupId) === group)
      for (const c of changes) group.setOffset(c.topic, c.partition, c.record);
    return code;
  }

  private validateCommit(g: ClassicGroup, generationId: number, memberId: string, groupInstanceId: string | null): number {
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      if (g.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
      if (!g.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!g.is('Empty')) {
      // Only members commit for a group that has members.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // Commits are allowed while preparing a rebalance (the heartbeat tells the member), not while completing one.
    if (g.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /** `topics` null: every committed offset of the group. */
  fetchOffsets(
    groupId: string,
    topics: { name: string; partitions: number[] }[] | null,
  ): { errorCode: number; topics: { name: string; partitions: FetchedOffset[] }[] } {
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, topics: [] };
    const g = this.groups.get(groupId);
    const none = (partition: number): FetchedOffset => ({
      partition,
      offset: -1,
      leaderEpoch: -1,
      metadata: '',
      errorCode: ErrorCode.NONE,
    });
    const found = (partition: number, o: CommittedOffset): FetchedOffset => ({
      partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      errorCode: ErrorCode.NONE,
    });
    if (topics === null) {
      if (!g) return { errorCode: ErrorCode.NONE, topics: [] };
      return {
        errorCode: ErrorCode.NONE,
        topics: [...g.offsets].map(([name, parts]) => ({
          name,
          partitions: [...parts].sort((a, b) => a[0] - b[0]).map(([p, o]) => found(p, o)),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const o = g?.offset(t.name, p);
          return o ? found(p, o) : none(p);
        }),
      })),
    };
  }

  /** OffsetDelete: the group-level error, or per-partition codes in request order. */
  async deleteOffsets(
    groupId: string,
    partitions: { topic: string; partition: number }[],
  ): Promise<{ errorCode: number; codes: number[] }> {
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, codes: [] };
    const g = this.groups.get(groupId);
    if (!g || g.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, codes: [] };
    let codes: number[];
    const consumerTopics = this.consumerGroups?.subscribedTopics(groupId) ?? null;
    if (consumerTopics) codes = partitions.map((p) => (consumerTopics.has(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
    else if (g.is('Empty')) codes = partitions.map(() => ErrorCode.NONE);
    else if (g.protocolType === consumerProtocolType)
      codes = partitions.map((p) => (g.isSubscribedToTopic(p.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE));
    else return { errorCode: ErrorCode.NON_EMPTY_GROUP, codes: [] };
    const doomed = partitions.filter((p, i) => codes[i] === ErrorCode.NONE && g.offset(p.topic, p.partition) !== undefined);
    if (doomed.length > 0) {
      const code = await this.removeOffsets(g, doomed);
      if (code !== ErrorCode.NONE) return { errorCode: code, codes: [] };
    }
    return { errorCode: ErrorCode.NONE, codes };
  }

  private async removeOffsets(g: ClassicGroup, doomed: { topic: string; partition: number }[]): Promise<number> {
    const code = await this.writeGroup(g, () =>
      this.store.writeOffsets(
        g.coordinatorPartition,
        g.groupId,
        doomed.map((d) => ({ ...d, record: null })),
      ),
    );
    if (code === ErrorCode.NONE) {
      for (const d of doomed) g.deleteOffset(d.topic, d.partition);
      await this.maybeRemoveDeadGroup(g);
    }
    return code;
  }

  /** An empty group without offsets is dead: its record goes (Kafka writes a tombstone). */
  private async maybeRemoveDeadGroup(g: ClassicGroup): Promise<void> {
    if (!g.is('Empty') || g.offsetCount() > 0 || g.members.size > 0 || g.pendingMembers.size > 0 || this.groups.get(g.groupId) !== g)
      return;
    await this.removeGroup(g);
  }

  /** Dead while its keys are deleted (joins meanwhile get COORDINATOR_NOT_AVAILABLE); Empty again if that fails. */
  private async removeGroup(g: ClassicGroup): Promise<number> {
    const emptySinceMs = g.stateTimestampMs;
    g.transitionTo('Dead', this.now());
    this.clearGroupTimers(g);
    const code = await this.writeGroup(g, () => this.store.deleteGroup(g.coordinatorPartition, g.groupId));
    if (this.groups.get(g.groupId) !== g) return code;
    if (code === ErrorCode.NONE) {
      this.groups.delete(g.groupId);
    } else {
      g.state = 'Empty';
      g.stateTimestampMs = emptySinceMs;
    }
    return code;
  }

  /** Removes expired offsets (Kafka's rules, spec/groups.md) and then empty groups left without offsets. */
  async expireOffsets(): Promise<void> {
    if (this.expiring || this.closed) return;
    this.expiring = true;
    try {
      const now = this.now();
      for (const g of [...this.groups.values()]) {
        const expired = this.expiredOffsets(g, now);
        if (expired.length > 0) {
          this.logger.info({ group: g.groupId, offsets: expired.length }, 'expiring committed offsets');
          await this.removeOffsets(g, expired);
        } else {
          await this.maybeRemoveDeadGroup(g);
        }
      }
    } finally {
      this.expiring = false;
    }
  }

  private expiredOffsets(g: ClassicGroup, nowMs: number): { topic: string; partition: number }[] {
    if (this.consumerGroups?.hasMembers(g.groupId)) return [];
    let base: (o: CommittedOffset) => number;
    let subscribed: Set<string> = new Set();
    if (g.protocolType !== null && g.is('Empty')) {
      base = () => g.stateTimestampMs;
    } else if (g.protocolType === consumerProtocolType && g.is('Stable') && g.subscribedTopics() !== null) {
      base = (o) => o.commitTimestampMs;
      subscribed = g.subscribedTopics()!;
    } else if (g.protocolType === null) {
      base = (o) => o.commitTimestampMs;
    } else {
      return [];
    }
    const out: { topic: string; partition: number }[] = [];
    for (const [topic, parts] of g.offsets) {
      if (subscribed.has(topic)) continue;
      for (const [partition, o] of parts) {
        const expired = o.expireTimestampMs !== null ? nowMs >= o.expireTimestampMs : nowMs - base(o) >= this.o.offsetsRetentionMs;
        if (expired) out.push({ topic, partition });
      }
    }
    return out;
  }

  /** A deleted topic's committed offsets go from every group this broker serves. */
  async onTopicDeleted(topic: string): Promise<void> {
    for (const g of [...this.groups.values()]) {
      const parts = g.offsets.get(topic);
      if (!parts || parts.size === 0) continue;
      await this.removeOffsets(
        g,
        [...parts.keys()].map((partition) => ({ topic, partition })),
      );
    }
  }

  // ---- admin APIs ----

  describeGroup(groupId: string): GroupDescription {
    const dead: GroupDescription = { errorCode: ErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    const status = this.status(groupId);
    if (status !== ErrorCode.NONE) return { ...dead, errorCode: status, state: '' };
    const consumer = this.consumerGroups?.describeAsClassic(groupId);
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
      if (!this.partitions.isLoaded(g.coordinatorPartition) || g.is('Dead') || this.consumerGroups?.hasGroup(g.groupId)) continue;
      if (wantStates.size > 0 && !wantStates.has(g.state.toLowerCase())) continue;
      if (wantTypes.size > 0 && !wantTypes.has(g.type)) continue;
      groups.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', state: g.state, type: g.type });
    }
    groups.push(...(this.consumerGroups?.listGroups(states, types) ?? []));
    const loading = this.cluster.ownedCoordinatorPartitions('group').some((p) => !this.partitions.isLoaded(p));
    return { errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE, groups };
  }

  async deleteGroups(groupIds: string[]): Promise<number[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        const status = this.status(groupId);
        if (status !== ErrorCode.NONE) return status;
        if (this.consumerGroups?.hasGroup(groupId)) {
          // A consumer group: its record goes, then its offsets (held here) with the classic path below.
          const code = await this.consumerGroups.deleteGroup(groupId);
          if (code !== ErrorCode.NONE || !this.groups.get(groupId)?.is('Empty')) return code;
        }
        const g = this.groups.get(groupId);
        if (!g || g.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
        if (!g.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
        const code = await this.removeGroup(g);
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
