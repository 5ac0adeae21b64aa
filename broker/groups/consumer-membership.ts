// The KIP-848 member protocol (spec/groups.md, "The consumer protocol"): ConsumerGroupHeartbeat in its steps
// (request checks; the group, created by a joining member; the member, its epoch checked, or a static member
// taking its old place; its subscription; the group epoch, target assignment and reconciliation; the write;
// the answer), leaving, and the members' session and revocation timers.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { TopicAssignment } from './assignors.ts';
import { compileTopicRegex, fromTopicPartitions, toTopicPartitions } from './consumer-assignment.ts';
import type { ConsumerAssignment, TopicPartitions } from './consumer-assignment.ts';
import {
  ConsumerGroup,
  assignmentEquals,
  cloneAssignment,
  isSubset,
  leaveGroupMemberEpoch,
  leaveGroupStaticMemberEpoch,
} from './consumer-group.ts';
import type { ConsumerMember } from './consumer-group.ts';
import type { ConsumerGroupStore } from './consumer-store.ts';
import { groupConfigNumber } from './group-config.ts';
import type { GroupConfigLookup } from './group-config.ts';

/** What it needs of the classic coordinator: whether a classic group of that id exists and has members. */
export interface ClassicGroupLookup {
  groupState(groupId: string): string | undefined;
  /** Members of a classic group, 0 when none. */
  classicMemberCount?(groupId: string): number;
}

export interface HeartbeatParams {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  topicPartitions: TopicPartitions[] | null;
  clientId: string;
  clientHost: string;
}

export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: TopicPartitions[] | null;
}

/** The options of ConsumerGroupCoordinator (consumer-coordinator.ts) the member protocol uses. */
export interface ConsumerMembershipOptions {
  heartbeatIntervalMs: number;
  sessionTimeoutMs: number;
  maxSize: number;
  assignors: string[];
  maxSubscribedTopics: number;
  maxGroups: number;
  /** Per-group consumer.session.timeout.ms and consumer.heartbeat.interval.ms (GROUP configs) over the above. */
  groupConfigs?: GroupConfigLookup;
}

function fail(errorCode: number, errorMessage: string | null = null): HeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

function isResult<T extends object>(x: HeartbeatResult | T): x is HeartbeatResult {
  return 'errorCode' in x;
}

/** Kafka's Uuid.randomUuid().toString(): 16 random bytes, base64url without padding. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

/** Kafka's throwIfMemberEpochIsInvalid: FENCED_MEMBER_EPOCH, or null when the heartbeat's epoch is acceptable. */
function checkMemberEpoch(m: ConsumerMember, h: HeartbeatParams, owned: TopicAssignment | null): HeartbeatResult | null {
  // Kafka's throwIfMemberEpochIsInvalid: a newer epoch is never right; an older one only when the
  // response carrying the new epoch was lost (the previous epoch, owning a subset of the assignment).
  if (h.memberEpoch > m.memberEpoch)
    return fail(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `The consumer group member has a greater member epoch (${h.memberEpoch}) than the one known by the group coordinator (${m.memberEpoch}).`,
    );
  if (h.memberEpoch < m.memberEpoch && (h.memberEpoch !== m.previousMemberEpoch || owned === null || !isSubset(owned, m.assigned))) {
    return fail(
      ErrorCode.FENCED_MEMBER_EPOCH,
      `The consumer group member has a smaller member epoch (${h.memberEpoch}) than the one known by the group coordinator (${m.memberEpoch}).`,
    );
  }
  return null;
}

/** The member's metadata and subscription from the heartbeat (null fields mean "unchanged"). */
function updateMemberMetadata(member: ConsumerMember, h: HeartbeatParams): { changed: boolean; bumped: boolean } {
  let changed = false;
  let bumped = false;
  if (h.rackId !== null && h.rackId !== member.rackId) {
    member.rackId = h.rackId;
    changed = true;
  }
  if (h.rebalanceTimeoutMs !== -1 && h.rebalanceTimeoutMs !== member.rebalanceTimeoutMs) {
    member.rebalanceTimeoutMs = h.rebalanceTimeoutMs;
    changed = true;
  }
  if (member.clientId !== h.clientId || member.clientHost !== h.clientHost) {
    member.clientId = h.clientId;
    member.clientHost = h.clientHost;
    changed = true;
  }
  if (h.subscribedTopicNames !== null) {
    const names = [...new Set(h.subscribedTopicNames)].sort();
    if (names.join('\u0000') !== [...member.subscribedTopicNames].sort().join('\u0000')) {
      member.subscribedTopicNames = names;
      changed = bumped = true;
    }
  }
  if (h.subscribedTopicRegex !== null) {
    const regex = h.subscribedTopicRegex === '' ? null : h.subscribedTopicRegex;
    if (regex !== member.subscribedTopicRegex) {
      member.subscribedTopicRegex = regex;
      changed = bumped = true;
    }
  }
  if (h.serverAssignor !== null && h.serverAssignor !== member.serverAssignor) {
    member.serverAssignor = h.serverAssignor;
    changed = bumped = true;
  }
  return { changed, bumped };
}

export class ConsumerMembership {
  private readonly groups: Map<string, ConsumerGroup>;
  private readonly store: ConsumerGroupStore;
  private readonly assignment: ConsumerAssignment;
  private readonly logger: Logger;
  private readonly o: ConsumerMembershipOptions;
  private readonly status: (groupId: string) => number;
  private classic: ClassicGroupLookup | null = null;

  constructor(args: {
    groups: Map<string, ConsumerGroup>;
    store: ConsumerGroupStore;
    assignment: ConsumerAssignment;
    logger: Logger;
    options: ConsumerMembershipOptions;
    /** NONE when this broker serves the group now (coordinator-partitions.ts). */
    status: (groupId: string) => number;
  }) {
    this.groups = args.groups;
    this.store = args.store;
    this.assignment = args.assignment;
    this.logger = args.logger;
    this.o = args.options;
    this.status = args.status;
  }

  /** The classic coordinator, for the one-group-per-id rule. */
  setClassicGroups(classic: ClassicGroupLookup): void {
    this.classic = classic;
  }

  // ---- timers ----

  clearTimers(m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    if (m.revocationTimer) clearTimeout(m.revocationTimer);
    m.sessionTimer = m.revocationTimer = null;
  }

  scheduleSession(g: ConsumerGroup, m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    const memberId = m.memberId;
    const timeoutMs = groupConfigNumber(this.o.groupConfigs?.get(g.groupId), 'consumer.session.timeout.ms') ?? this.o.sessionTimeoutMs;
    m.sessionTimer = setTimeout(() => this.expire(g, memberId, 'session timeout'), timeoutMs);
    m.sessionTimer.unref();
  }

  scheduleRevocation(g: ConsumerGroup, m: ConsumerMember): void {
    if (m.revocationTimer) return;
    const memberId = m.memberId;
    m.revocationTimer = setTimeout(
      () => {
        const cur = g.members.get(memberId);
        if (cur) cur.revocationTimer = null;
        if (cur?.state === 'unrevoked_partitions') this.expire(g, memberId, 'rebalance timeout (partitions not revoked)');
      },
      Math.max(m.rebalanceTimeoutMs, 1),
    );
    m.revocationTimer.unref();
  }

  private expire(g: ConsumerGroup, memberId: string, reason: string): void {
    if (this.groups.get(g.groupId) !== g || !g.members.has(memberId)) return;
    this.logger.info({ group: g.groupId, member: memberId, reason }, 'consumer group member removed');
    this.removeMember(g, memberId);
    void this.store.persist(g);
  }

  /** Removes a member and bumps the group epoch (the target assignment is recomputed at the next heartbeat). */
  removeMember(g: ConsumerGroup, memberId: string): void {
    const m = g.removeMember(memberId);
    if (m) this.clearTimers(m);
    g.groupEpoch++;
    this.assignment.forget(g.groupId);
  }

  // ---- ConsumerGroupHeartbeat ----

  /** Kafka's request checks (INVALID_REQUEST with its messages, UNSUPPORTED_ASSIGNOR, bad regex). */
  private validate(h: HeartbeatParams): HeartbeatResult | null {
    const invalid = (msg: string) => fail(ErrorCode.INVALID_REQUEST, msg);
    if (h.groupId === '') return invalid("GroupId can't be empty.");
    if (h.instanceId !== null && h.instanceId === '') return invalid("InstanceId can't be empty.");
    if (h.rackId !== null && h.rackId === '') return invalid("RackId can't be empty.");
    if (h.memberEpoch === 0) {
      if (h.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in first request.');
      if (h.topicPartitions === null || h.topicPartitions.length > 0) return invalid('TopicPartitions must be empty when (re-)joining.');
      if (h.subscribedTopicNames === null && h.subscribedTopicRegex === null)
        return invalid('SubscribedTopicNames or SubscribedTopicRegex must be set in first request.');
    } else if (h.memberEpoch === leaveGroupStaticMemberEpoch) {
      if (h.memberId === '') return invalid("MemberId can't be empty.");
      if (h.instanceId === null) return invalid("InstanceId can't be null.");
    } else if (h.memberEpoch < leaveGroupStaticMemberEpoch) {
      return invalid(`MemberEpoch ${h.memberEpoch} is invalid.`);
    } else if (h.memberId === '') {
      return invalid("MemberId can't be empty.");
    }
    if (
      h.subscribedTopicNames !== null &&
      h.subscribedTopicNames.length + (h.subscribedTopicRegex !== null ? 1 : 0) > this.o.maxSubscribedTopics
    ) {
      return invalid(`A member may subscribe to at most ${this.o.maxSubscribedTopics} topics.`);
    }
    if (h.serverAssignor !== null && !this.o.assignors.includes(h.serverAssignor)) {
      return fail(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${h.serverAssignor} is not supported. Supported assignors: ${this.o.assignors.join(', ')}.`,
      );
    }
    if (h.subscribedTopicRegex !== null && compileTopicRegex(h.subscribedTopicRegex) === null) {
      return fail(
        ErrorCode.INVALID_REGULAR_EXPRESSION,
        `SubscribedTopicRegex ${h.subscribedTopicRegex} is not a valid regular expression.`,
      );
    }
    return null;
  }

  async heartbeat(h: HeartbeatParams): Promise<HeartbeatResult> {
    const bad = this.validate(h);
    if (bad) return bad;
    const status = this.status(h.groupId);
    if (status !== ErrorCode.NONE) return fail(status);
    if (h.memberEpoch === leaveGroupMemberEpoch || h.memberEpoch === leaveGroupStaticMemberEpoch) return this.leave(h);
    const found = this.groupOf(h);
    if (isResult(found)) return found;
    const { group, replaceClassic } = found;
    const owned = h.topicPartitions === null ? null : fromTopicPartitions(h.topicPartitions);
    const joined = this.memberOf(group, h, owned);
    if (isResult(joined)) return joined;
    const member = joined.member;
    const assignedBefore = cloneAssignment(member.assigned);
    const updated = updateMemberMetadata(member, h);
    let changed = joined.changed || updated.changed;
    if (this.advance(group, member, owned, joined.bumped || updated.bumped)) changed = true;
    if (changed) {
      const code = await this.store.persist(group, { replaceClassic });
      if (code !== ErrorCode.NONE) return fail(code);
    }
    const sendAssignment =
      h.memberEpoch === 0 ||
      !assignmentEquals(assignedBefore, member.assigned) ||
      (owned !== null && !assignmentEquals(owned, member.assigned));
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs:
        groupConfigNumber(this.o.groupConfigs?.get(group.groupId), 'consumer.heartbeat.interval.ms') ?? this.o.heartbeatIntervalMs,
      assignment: sendAssignment ? toTopicPartitions(member.assigned) : null,
    };
  }

  /**
   * The heartbeat's group; a joining member creates it (as Kafka's getOrMaybeCreateConsumerGroup), taking over
   * the id of an empty classic group (`replaceClassic`: its record goes in the same write).
   */
  private groupOf(h: HeartbeatParams): HeartbeatResult | { group: ConsumerGroup; replaceClassic: boolean } {
    let g = this.groups.get(h.groupId);
    let replaceClassic = false;
    if (g?.dead) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!g) {
      const classicState = this.classic?.groupState(h.groupId);
      // As Kafka's getOrMaybeCreateConsumerGroup: only a joining member creates the group.
      if (h.memberEpoch !== 0) {
        const classic = classicState !== undefined && classicState !== 'Dead';
        return fail(
          ErrorCode.GROUP_ID_NOT_FOUND,
          classic ? `Group ${h.groupId} is not a consumer group.` : `Consumer group ${h.groupId} not found.`,
        );
      }
      if (classicState !== undefined && classicState !== 'Empty' && classicState !== 'Dead') {
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${h.groupId} is not a consumer group.`);
      }
      if ((this.classic?.classicMemberCount?.(h.groupId) ?? 0) > 0)
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${h.groupId} is not a consumer group.`);
      if (this.groups.size >= this.o.maxGroups) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      replaceClassic = classicState !== undefined;
      g = new ConsumerGroup(h.groupId, coordinatorPartitionOf(h.groupId), this.assignment.defaultAssignor);
      this.groups.set(h.groupId, g);
    }
    return { group: g, replaceClassic };
  }

  /**
   * The heartbeat's member, its epoch checked (Kafka's throwIfMemberEpochIsInvalid), or a new one.
   * `changed`: the group's state must be written; `bumped`: a new member (the group epoch goes up).
   */
  private memberOf(
    group: ConsumerGroup,
    h: HeartbeatParams,
    owned: TopicAssignment | null,
  ): HeartbeatResult | { member: ConsumerMember; changed: boolean; bumped: boolean } {
    const found = this.knownMember(group, h);
    if (isResult(found)) return found;
    const { member: m, replaced } = found;
    if (m && !replaced) {
      const fenced = checkMemberEpoch(m, h, owned);
      if (fenced) return fenced;
    }
    if (m) return { member: m, changed: replaced, bumped: false };
    if (group.members.size >= this.o.maxSize) {
      return this.dropIfUnused(
        group,
        fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.o.maxSize} members.`),
      );
    }
    return { member: this.addMember(group, h), changed: true, bumped: true };
  }

  /** The member the heartbeat names, if the group has it; a static member coming back takes its old place. */
  private knownMember(
    group: ConsumerGroup,
    h: HeartbeatParams,
  ): HeartbeatResult | { member: ConsumerMember | undefined; replaced: boolean } {
    let m: ConsumerMember | undefined;
    let replaced = false;
    if (h.instanceId !== null) {
      const existing = group.staticMember(h.instanceId);
      if (h.memberEpoch === 0) {
        if (existing && existing.memberEpoch !== leaveGroupStaticMemberEpoch && existing.memberId !== h.memberId) {
          return this.dropIfUnused(
            group,
            fail(ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${h.instanceId} has not released its instance id.`),
          );
        }
        if (existing && existing.memberId === h.memberId && existing.memberEpoch !== leaveGroupStaticMemberEpoch) {
          m = existing;
        } else if (existing) {
          // A static member coming back: it takes the old member's place, epoch and assignment (no rebalance).
          const memberId = h.memberId !== '' ? h.memberId : newMemberId();
          m = this.replaceStaticMember(group, existing, memberId);
          replaced = true;
        }
      } else {
        if (!existing) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Static member ${h.instanceId} is not a member of group ${h.groupId}.`);
        if (existing.memberId !== h.memberId)
          return fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${h.instanceId} is now member ${existing.memberId}.`);
        m = existing;
      }
    } else if (h.memberId !== '') {
      m = group.members.get(h.memberId);
      if (!m && h.memberEpoch !== 0)
        return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${h.memberId} is not a member of group ${h.groupId}.`);
    }
    return { member: m, replaced };
  }

  /** A new member (epoch 0, no subscription yet: the heartbeat's fields are applied next). */
  private addMember(group: ConsumerGroup, h: HeartbeatParams): ConsumerMember {
    const memberId = h.memberId !== '' ? h.memberId : newMemberId();
    // A static join whose member id is a dynamic member's: that member is replaced.
    if (group.members.has(memberId)) this.clearTimers(group.removeMember(memberId)!);
    const m: ConsumerMember = {
      memberId,
      instanceId: h.instanceId,
      rackId: null,
      clientId: h.clientId,
      clientHost: h.clientHost,
      rebalanceTimeoutMs: h.rebalanceTimeoutMs,
      subscribedTopicNames: [],
      subscribedTopicRegex: null,
      serverAssignor: null,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      state: 'stable',
      assigned: new Map(),
      pendingRevocation: new Map(),
      sessionTimer: null,
      revocationTimer: null,
    };
    group.addMember(m);
    return m;
  }

  /**
   * The group epoch and target assignment brought up to date (a changed subscription, or changed topics), the
   * member reconciled towards its target, its timers restarted. Whether the group's state must be written.
   */
  private advance(group: ConsumerGroup, member: ConsumerMember, owned: TopicAssignment | null, bumped: boolean): boolean {
    let changed = false;
    if (bumped) {
      // The target assignment of the new epoch (below) records the subscribed topics' fingerprint.
      group.groupEpoch++;
      this.assignment.resolvedNow(group.groupId);
    } else if (this.assignment.refreshSubscriptionMetadata(group, false)) {
      changed = true;
    }
    if (group.assignmentEpoch !== group.groupEpoch) {
      this.assignment.updateTargetAssignment(group);
      changed = true;
    }
    if (group.reconcile(member, owned)) changed = true;
    if (member.state === 'unrevoked_partitions') this.scheduleRevocation(group, member);
    else if (member.revocationTimer) {
      clearTimeout(member.revocationTimer);
      member.revocationTimer = null;
    }
    this.scheduleSession(group, member);
    return changed;
  }

  private replaceStaticMember(g: ConsumerGroup, old: ConsumerMember, memberId: string): ConsumerMember {
    const target = g.targetAssignment.get(old.memberId);
    const assigned = cloneAssignment(old.assigned);
    const pending = cloneAssignment(old.pendingRevocation);
    g.removeMember(old.memberId);
    this.clearTimers(old);
    const m: ConsumerMember = {
      // As Kafka: the copy starts at epoch 0 and reconciles to the target epoch with the same partitions.
      ...old,
      memberId,
      memberEpoch: 0,
      previousMemberEpoch: 0,
      assigned: new Map(),
      pendingRevocation: new Map(),
      sessionTimer: null,
      revocationTimer: null,
    };
    g.addMember(m);
    g.setMemberAssignment(m, assigned, pending);
    if (target) g.targetAssignment.set(memberId, target);
    return m;
  }

  /** A group created by a request that was then refused goes away again. */
  private dropIfUnused(g: ConsumerGroup, r: HeartbeatResult): HeartbeatResult {
    if (g.members.size === 0 && g.groupEpoch === 0) this.groups.delete(g.groupId);
    return r;
  }

  private async leave(h: HeartbeatParams): Promise<HeartbeatResult> {
    const g = this.groups.get(h.groupId);
    if (!g) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${h.groupId} not found.`);
    let m: ConsumerMember | undefined;
    if (h.instanceId !== null) {
      m = g.staticMember(h.instanceId);
      if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Static member ${h.instanceId} is not a member of group ${h.groupId}.`);
      if (m.memberId !== h.memberId)
        return fail(ErrorCode.FENCED_INSTANCE_ID, `Static member ${h.instanceId} is now member ${m.memberId}.`);
    } else {
      m = g.members.get(h.memberId);
      if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${h.memberId} is not a member of group ${h.groupId}.`);
    }
    if (h.memberEpoch === leaveGroupStaticMemberEpoch) {
      // A static member leaving for a while: it keeps its place and partitions until its session expires.
      if (m.memberEpoch !== leaveGroupStaticMemberEpoch) m.previousMemberEpoch = m.memberEpoch;
      m.memberEpoch = leaveGroupStaticMemberEpoch;
      if (m.revocationTimer) clearTimeout(m.revocationTimer);
      m.revocationTimer = null;
      this.scheduleSession(g, m);
      this.logger.info({ group: g.groupId, member: m.memberId, instance: m.instanceId }, 'static consumer group member left temporarily');
    } else {
      this.logger.info({ group: g.groupId, member: m.memberId }, 'consumer group member left');
      this.removeMember(g, m.memberId);
    }
    const code = await this.store.persist(g);
    if (code !== ErrorCode.NONE) return fail(code);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: h.memberId,
      memberEpoch: h.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }
}
