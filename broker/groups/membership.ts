// The classic group membership protocol (spec/groups.md): JoinGroup (new, known and static members),
// SyncGroup (the leader's assignment stored, then handed out), Heartbeat and LeaveGroup, over the state machine
// of rebalance.ts and the groups and writes of group-table.ts.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import type { ClassicGroup, ClassicMember, JoinResult, MemberProtocol, SyncResult } from './classic-group.ts';
import { GroupStore, groupRecordOf } from './group-store.ts';
import type { ClassicGroupTable } from './group-table.ts';
import { clearSession, empty, joinError, syncError } from './rebalance.ts';
import type { Rebalancer } from './rebalance.ts';
import { groupMaxMetadataRecordsCount } from '../limits.ts';

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

/** The options of GroupCoordinator (coordinator.ts) the membership protocol uses. */
export interface MembershipOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  maxGroupSize: number;
  maxRecordBytes: number;
  newMemberJoinTimeoutMs: number;
}

function sameProtocols(a: MemberProtocol[], b: MemberProtocol[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}

export class ClassicMembership {
  private readonly table: ClassicGroupTable;
  private readonly groups: Map<string, ClassicGroup>;
  private readonly rebalance: Rebalancer;
  private readonly logger: Logger;
  private readonly o: MembershipOptions;
  private readonly now: () => number;

  constructor(args: { table: ClassicGroupTable; rebalance: Rebalancer; logger: Logger; options: MembershipOptions; now: () => number }) {
    this.table = args.table;
    this.groups = args.table.groups;
    this.rebalance = args.rebalance;
    this.logger = args.logger;
    this.o = args.options;
    this.now = args.now;
  }

  // ---- JoinGroup ----

  joinGroup(j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    if (j.groupId === '') return joinError(ErrorCode.INVALID_GROUP_ID, j.memberId);
    const status = this.table.status(j.groupId);
    if (status !== ErrorCode.NONE) return joinError(status, j.memberId);
    // A consumer group's id: INCONSISTENT_GROUP_PROTOCOL while it has members; an empty one gives the id up.
    const consumer = this.table.consumerGroups?.onClassicJoin(j.groupId);
    if (consumer) return consumer.then((code) => (code === ErrorCode.NONE ? this.joinGroup(j, signal) : joinError(code, j.memberId)));
    if (j.sessionTimeoutMs < this.o.minSessionTimeoutMs || j.sessionTimeoutMs > this.o.maxSessionTimeoutMs) {
      return joinError(ErrorCode.INVALID_SESSION_TIMEOUT, j.memberId);
    }
    const isUnknown = j.memberId === '';
    let g = this.groups.get(j.groupId);
    if (!g) {
      if (!isUnknown) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
      const created = this.table.create(j.groupId);
      if (!created) return joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, j.memberId);
      g = created;
    }
    const known = g.has(j.memberId) || g.pendingMembers.has(j.memberId);
    const staticKnown = j.groupInstanceId !== null && g.staticMemberId(j.groupInstanceId) !== undefined;
    if (!known && !staticKnown && g.members.size + g.pendingMembers.size >= this.o.maxGroupSize) {
      this.table.maybeDropUnusedGroup(g);
      return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, j.memberId);
    }
    // Members' protocol metadata is held in memory for the whole group: bounded by a few stored records' worth.
    const bytesOf = (protocols: MemberProtocol[]) => protocols.reduce((n, p) => n + p.name.length + p.metadata.length, 0);
    let groupBytes = bytesOf(j.protocols);
    for (const m of g.members.values()) if (m.memberId !== j.memberId) groupBytes += bytesOf(m.protocols);
    if (groupBytes > groupMaxMetadataRecordsCount * this.o.maxRecordBytes) {
      this.table.maybeDropUnusedGroup(g);
      return joinError(ErrorCode.GROUP_MAX_SIZE_REACHED, j.memberId);
    }
    const result = isUnknown ? this.joinNewMember(g, j, signal) : this.joinCurrentMember(g, j, signal);
    if (g.is('PreparingRebalance')) this.rebalance.checkJoinComplete(g);
    else if (!(result instanceof Promise)) this.table.maybeDropUnusedGroup(g);
    return result;
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
      this.rebalance.addPendingMember(g, newMemberId, j.sessionTimeoutMs);
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
    clearSession(oldMember);
    this.rebalance.completeJoin(oldMember, joinError(ErrorCode.FENCED_INSTANCE_ID, oldMemberId));
    this.rebalance.completeSync(oldMember, syncError(ErrorCode.FENCED_INSTANCE_ID));
    const member = g.replaceStaticMember(instanceId, oldMemberId, newMemberId);
    member.protocols = j.protocols;
    member.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    member.sessionTimeoutMs = j.sessionTimeoutMs;
    member.clientId = j.clientId;
    member.clientHost = j.clientHost;
    this.rebalance.scheduleSession(g, member);
    switch (g.state) {
      case 'Stable': {
        if (g.selectProtocol() !== g.protocolName) {
          const p = this.rebalance.waitJoin(member, signal);
          this.rebalance.prepareRebalance(g, 'a static member rejoined with protocols that change the selected one');
          return p;
        }
        // Nothing to rebalance: persist the new member id and answer with the current generation.
        return this.rejoinStableStatic(g, member, oldMemberId, old, oldLeaderId, j);
      }
      case 'CompletingRebalance': {
        const p = this.rebalance.waitJoin(member, signal);
        this.rebalance.prepareRebalance(g, 'a static member rejoined while the group was completing a rebalance');
        return p;
      }
      case 'PreparingRebalance':
        return this.rebalance.waitJoin(member, signal);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  /**
   * A static member rejoined a Stable group without changing its selected protocol: the new member id is stored
   * and the current generation answered; if the write fails, the old incarnation is put back.
   */
  private rejoinStableStatic(
    g: ClassicGroup,
    member: ClassicMember,
    oldMemberId: string,
    old: Pick<ClassicMember, 'protocols' | 'rebalanceTimeoutMs' | 'sessionTimeoutMs'>,
    oldLeaderId: string,
    j: JoinParams,
  ): Promise<JoinResult> {
    const instanceId = j.groupInstanceId!;
    const newMemberId = member.memberId;
    const generationId = g.generationId;
    return this.table.persistGroup(g).then((code) => {
      if (code !== ErrorCode.NONE) {
        if (g.members.get(newMemberId) === member && g.generationId === generationId) {
          const back = g.replaceStaticMember(instanceId, newMemberId, oldMemberId);
          back.protocols = old.protocols;
          back.rebalanceTimeoutMs = old.rebalanceTimeoutMs;
          back.sessionTimeoutMs = old.sessionTimeoutMs;
          clearSession(member);
          this.rebalance.scheduleSession(g, back);
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

  private joinCurrentMember(g: ClassicGroup, j: JoinParams, signal: AbortSignal): Promise<JoinResult> | JoinResult {
    if (g.pendingMembers.has(j.memberId)) {
      if (j.groupInstanceId !== null) return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
      this.rebalance.removePendingMember(g, j.memberId);
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
          this.rebalance.scheduleSession(g, member);
          return this.rebalance.currentJoinResult(g, member, g.isLeader(member.memberId));
        }
        return this.updateMemberAndRebalance(g, member, j, signal);
      case 'Stable':
        // The leader's join forces a rebalance (e.g. the topics' partitions changed); so does new metadata.
        if (g.isLeader(member.memberId) || !sameProtocols(member.protocols, j.protocols))
          return this.updateMemberAndRebalance(g, member, j, signal);
        this.rebalance.scheduleSession(g, member);
        return this.rebalance.currentJoinResult(g, member, false);
      default:
        return joinError(ErrorCode.UNKNOWN_MEMBER_ID, j.memberId);
    }
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
    const p = this.rebalance.waitJoin(member, signal);
    this.rebalance.scheduleSession(g, member, this.o.newMemberJoinTimeoutMs);
    this.rebalance.maybePrepareRebalance(g, `member ${memberId} joined`);
    return p;
  }

  private updateMemberAndRebalance(g: ClassicGroup, member: ClassicMember, j: JoinParams, signal: AbortSignal): Promise<JoinResult> {
    member.protocols = j.protocols;
    member.rebalanceTimeoutMs = j.rebalanceTimeoutMs;
    member.sessionTimeoutMs = j.sessionTimeoutMs;
    const p = this.rebalance.waitJoin(member, signal);
    this.rebalance.scheduleSession(g, member);
    this.rebalance.maybePrepareRebalance(g, `member ${member.memberId} rejoined`);
    return p;
  }

  // ---- SyncGroup ----

  syncGroup(s: SyncParams, signal: AbortSignal): Promise<SyncResult> | SyncResult {
    if (s.groupId === '') return syncError(ErrorCode.INVALID_GROUP_ID);
    const status = this.table.status(s.groupId);
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
        this.rebalance.scheduleSession(g, m);
        return { errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: m.assignment };
      case 'CompletingRebalance': {
        g.pendingSyncMembers.delete(m.memberId);
        const p = this.rebalance.waitSync(m, signal);
        this.rebalance.scheduleSession(g, m);
        if (g.isLeader(m.memberId)) this.applyLeaderAssignment(g, s.assignments);
        return p;
      }
      default:
        return syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    }
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
      : this.table.writeGroup(g, () => this.table.store.putGroup(g.coordinatorPartition, record));
    if (tooLarge) this.logger.warn({ group: g.groupId, limit: this.o.maxRecordBytes }, 'group assignment too large to store');
    void write.then((code) => {
      if (this.groups.get(g.groupId) !== g || !g.is('CompletingRebalance') || g.generationId !== generationId) return;
      if (code !== ErrorCode.NONE) {
        this.rebalance.resetAndPropagateAssignmentError(g, code);
        this.rebalance.maybePrepareRebalance(g, 'storing the assignment failed');
        return;
      }
      for (const m of g.members.values()) {
        m.assignment = byMember.get(m.memberId) ?? empty;
        if (m.syncWaiter) {
          this.rebalance.completeSync(m, {
            errorCode: ErrorCode.NONE,
            protocolType: g.protocolType,
            protocolName: g.protocolName,
            assignment: m.assignment,
          });
          this.rebalance.scheduleSession(g, m);
        }
      }
      g.transitionTo('Stable', this.now());
      this.logger.info({ group: g.groupId, generation: g.generationId }, 'group stable');
    });
  }

  // ---- Heartbeat ----

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const status = this.table.status(groupId);
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
        this.rebalance.scheduleSession(g, m);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      default:
        this.rebalance.scheduleSession(g, m);
        return ErrorCode.NONE;
    }
  }

  // ---- LeaveGroup ----

  leaveGroup(groupId: string, leaving: LeaveMember[]): { errorCode: number; members: (LeaveMember & { errorCode: number })[] } {
    if (groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, members: [] };
    const status = this.table.status(groupId);
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
      this.rebalance.removeMemberAndUpdateGroup(g, g.members.get(current)!);
      return ErrorCode.NONE;
    }
    if (g.pendingMembers.has(l.memberId)) {
      this.rebalance.removePendingMember(g, l.memberId);
      this.rebalance.checkJoinComplete(g);
      return ErrorCode.NONE;
    }
    if (g.isStaticMemberFenced(l.memberId, l.groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
    const m = g.members.get(l.memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.logger.info({ group: g.groupId, member: l.memberId }, 'member left group');
    this.rebalance.removeMemberAndUpdateGroup(g, m);
    return ErrorCode.NONE;
  }
}
