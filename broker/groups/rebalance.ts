// The classic group state machine's timers and transitions (spec/groups.md), Kafka's GroupCoordinator: member
// sessions and pending members, PreparingRebalance with its initial delay and join deadline, the end of the
// join phase (CompletingRebalance, or Empty), the pending-sync deadline, and the answers to members waiting
// for their JoinGroup or SyncGroup response. The requests that drive it are in membership.ts.
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import type { ClassicGroup, ClassicMember, JoinResult, SyncResult } from './classic-group.ts';
import { clearGroupTimers } from './group-table.ts';
import type { ClassicGroupTable } from './group-table.ts';

export const empty = Buffer.alloc(0);

export function joinError(errorCode: number, memberId = ''): JoinResult {
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

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: empty };
}

export function clearSession(m: ClassicMember): void {
  if (m.sessionTimer) clearTimeout(m.sessionTimer);
  m.sessionTimer = null;
}

export class Rebalancer {
  private readonly table: ClassicGroupTable;
  private readonly groups: Map<string, ClassicGroup>;
  private readonly logger: Logger;
  private readonly o: { initialRebalanceDelayMs: number };
  private readonly now: () => number;

  constructor(args: { table: ClassicGroupTable; logger: Logger; options: { initialRebalanceDelayMs: number }; now: () => number }) {
    this.table = args.table;
    this.groups = args.table.groups;
    this.logger = args.logger;
    this.o = args.options;
    this.now = args.now;
  }

  /** Drops a group from memory: timers stopped, waiting members told to find the coordinator again. */
  unloadGroup(g: ClassicGroup): void {
    clearGroupTimers(g);
    for (const m of g.members.values()) {
      clearSession(m);
      this.completeJoin(m, joinError(ErrorCode.NOT_COORDINATOR, m.memberId));
      this.completeSync(m, syncError(ErrorCode.NOT_COORDINATOR));
    }
    this.groups.delete(g.groupId);
  }

  /** Kafka's completeAndScheduleNextHeartbeatExpiration: the member is alive; its session restarts. */
  scheduleSession(g: ClassicGroup, m: ClassicMember, timeoutMs = m.sessionTimeoutMs): void {
    clearSession(m);
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

  addPendingMember(g: ClassicGroup, memberId: string, sessionTimeoutMs: number): void {
    const t = setTimeout(() => {
      if (!g.pendingMembers.delete(memberId)) return;
      if (g.is('PreparingRebalance')) this.checkJoinComplete(g);
      else this.table.maybeDropUnusedGroup(g);
    }, sessionTimeoutMs);
    g.pendingMembers.set(memberId, t);
  }

  removePendingMember(g: ClassicGroup, memberId: string): void {
    const t = g.pendingMembers.get(memberId);
    if (t) clearTimeout(t);
    g.pendingMembers.delete(memberId);
  }

  currentJoinResult(g: ClassicGroup, m: ClassicMember, withMembers: boolean): JoinResult {
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

  /** The member waits for the rebalance; if its connection goes, the member still counts as joining. */
  waitJoin(member: ClassicMember, signal: AbortSignal): Promise<JoinResult> {
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

  completeJoin(m: ClassicMember, r: JoinResult): void {
    const w = m.joinWaiter;
    m.joinWaiter = null;
    w?.(r);
  }

  completeSync(m: ClassicMember, r: SyncResult): void {
    const w = m.syncWaiter;
    m.syncWaiter = null;
    w?.(r);
  }

  waitSync(member: ClassicMember, signal: AbortSignal): Promise<SyncResult> {
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

  maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.is('Stable') || g.is('CompletingRebalance') || g.is('Empty')) this.prepareRebalance(g, reason);
  }

  private rebalanceTimeoutMs(g: ClassicGroup): number {
    let t = 0;
    for (const m of g.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  prepareRebalance(g: ClassicGroup, reason: string): void {
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

  checkJoinComplete(g: ClassicGroup): void {
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
      clearSession(m);
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
      void this.table.persistGroup(g);
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
        clearSession(m);
        this.completeSync(m, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
        g.remove(id);
      }
      g.pendingSyncMembers.clear();
      this.prepareRebalance(g, 'members did not send SyncGroup in time');
    }, this.rebalanceTimeoutMs(g));
  }

  resetAndPropagateAssignmentError(g: ClassicGroup, errorCode: number): void {
    for (const m of g.members.values()) {
      m.assignment = empty;
      if (m.syncWaiter) {
        this.completeSync(m, { errorCode, protocolType: g.protocolType, protocolName: g.protocolName, assignment: empty });
        this.scheduleSession(g, m);
      }
    }
  }

  removeMemberAndUpdateGroup(g: ClassicGroup, m: ClassicMember): void {
    clearSession(m);
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
}
