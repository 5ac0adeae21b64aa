// The coordinator of KIP-848 consumer groups (spec/groups.md, "The consumer protocol"): ConsumerGroupHeartbeat
// (join, reconcile, leave, static membership), ConsumerGroupDescribe, the server-side assignors, session and
// revocation timers, and the store of each group's state. It serves the same coordinator partitions as the
// classic GroupCoordinator (coordinator.ts), which keeps the committed offsets of both kinds of group and asks
// this one (the hooks at the end) before it lets a classic request touch a group id that is a consumer group.
import { CoordinatorPartitions } from '../cluster/coordinator-partitions.ts';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { consumerGroupKey, consumerGroupPartitionPrefix, groupKey, parseConsumerGroupKey } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { encodeConsumerProtocolAssignment, encodeConsumerProtocolSubscription } from '../protocol/generated/index.ts';
import { Writer } from '../protocol/wire/writer.ts';
import type { AssignorMember, TopicAssignment } from './assignors.ts';
import { assignorNamed } from './assignors.ts';
import {
  ConsumerGroup,
  assignmentEquals,
  assignmentFromJson,
  assignmentToJson,
  cloneAssignment,
  isSubset,
  leaveGroupMemberEpoch,
  leaveGroupStaticMemberEpoch,
} from './consumer-group.ts';
import type { ConsumerGroupState, ConsumerMember, MemberState } from './consumer-group.ts';

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
  /** How often empty groups without offsets are looked for (offsets.retention.check.interval.ms); none: never. */
  cleanupIntervalMs?: number;
}

/** What the coordinator needs of the topic registry. */
export interface TopicLookup {
  byName(name: string): TopicRecord | undefined;
  byId(id: string): TopicRecord | undefined;
  all(): TopicRecord[];
}

/** What it needs of the classic coordinator: whether a classic group of that id exists and has members. */
export interface ClassicGroupLookup {
  groupState(groupId: string): string | undefined;
  /** Members of a classic group, 0 when none. */
  classicMemberCount?(groupId: string): number;
}

export interface TopicPartitions {
  topicId: string;
  partitions: number[];
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

export interface DescribedMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  assignment: { topicId: string; topicName: string; partitions: number[] }[];
  targetAssignment: { topicId: string; topicName: string; partitions: number[] }[];
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  groupState: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedMember[];
}

/** The stored form of a consumer group (one key per group). */
interface StoredConsumerGroup {
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

const loadRetryMs = 1000;
const closeWaitMs = 5000;
/** How long a group's resolved subscription (topic ids and partition counts) is reused between heartbeats. */
const subscriptionRefreshMs = 1000;

function fail(errorCode: number, errorMessage: string | null = null): HeartbeatResult {
  return { errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

function storeErrorCode(e: unknown): number {
  if (e instanceof FencedError) return ErrorCode.NOT_COORDINATOR;
  if (e instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Kafka's Uuid.randomUuid().toString(): 16 random bytes, base64url without padding. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * A subscription regex as a JavaScript RegExp matching whole topic names (Java's Matcher.matches()). Kafka
 * uses RE2/J; the common syntax is the same, RE2-only constructs (\C, \pN without braces, (?P<name>)) are
 * refused and JavaScript-only ones (lookaround, backreferences) are accepted.
 */
export function compileTopicRegex(regex: string): RegExp | null {
  try {
    return new RegExp(`^(?:${regex})$`, 'u');
  } catch {
    return null;
  }
}

function toTopicPartitions(a: TopicAssignment): TopicPartitions[] {
  return [...a]
    .filter(([, s]) => s.size > 0)
    .sort((x, y) => (x[0] < y[0] ? -1 : 1))
    .map(([topicId, s]) => ({ topicId, partitions: [...s].sort((p, q) => p - q) }));
}

function fromTopicPartitions(list: TopicPartitions[]): TopicAssignment {
  const a: TopicAssignment = new Map();
  for (const t of list) {
    let s = a.get(t.topicId);
    if (!s) a.set(t.topicId, (s = new Set()));
    for (const p of t.partitions) s.add(p);
  }
  return a;
}

export class ConsumerGroupCoordinator {
  private readonly cluster: Cluster;
  private readonly metadata: MetadataStore;
  private readonly topics: TopicLookup;
  private readonly logger: Logger;
  private readonly o: ConsumerGroupOptions;
  private classic: ClassicGroupLookup | null = null;
  private readonly groups = new Map<string, ConsumerGroup>();
  /** The coordinator partitions served here: loading on arrival, unloading on departure. */
  private readonly partitions: CoordinatorPartitions;
  private readonly writes = new Set<Promise<unknown>>();
  /** Group id → when its subscription was last resolved. */
  private readonly resolvedAt = new Map<string, number>();
  private cleanupTimer: NodeJS.Timeout | null = null;
  /** Empty groups seen by the last cleanup pass. */
  private readonly emptySeen = new Set<string>();
  private closed = false;

  constructor(args: { metadata: MetadataStore; cluster: Cluster; topics: TopicLookup; logger: Logger; options: ConsumerGroupOptions }) {
    this.metadata = args.metadata;
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
      retryMs: loadRetryMs,
      load: (partition, _epoch, isCurrent) => this.loadPartition(partition, isCurrent),
      unload: (partition) => this.unloadPartition(partition),
    });
  }

  /** The classic coordinator, for the one-group-per-id rule. */
  setClassicGroups(classic: ClassicGroupLookup): void {
    this.classic = classic;
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
    await this.partitions.settle(this.writes, closeWaitMs);
  }

  // ---- ownership and loading (CoordinatorPartitions) ----

  private owns(partition: number): boolean {
    return this.partitions.owns(partition);
  }

  private status(groupId: string): number {
    return this.partitions.status(groupId);
  }

  private async loadPartition(partition: number, isCurrent: () => boolean): Promise<void> {
    const kvs = await this.metadata.getPrefix(consumerGroupPartitionPrefix(partition));
    if (!isCurrent()) return;
    for (const kv of kvs) {
      const k = parseConsumerGroupKey(kv.key);
      if (!k) continue;
      this.install(partition, JSON.parse(kv.value) as StoredConsumerGroup);
    }
  }

  private install(partition: number, r: StoredConsumerGroup): void {
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
    this.groups.set(g.groupId, g);
    // As after a failover in Kafka: every member's session starts afresh.
    for (const m of g.members.values()) {
      this.scheduleSession(g, m);
      if (m.state === 'unrevoked_partitions') this.scheduleRevocation(g, m);
    }
  }

  private unloadPartition(partition: number): void {
    for (const g of [...this.groups.values()]) if (g.coordinatorPartition === partition) this.unloadGroup(g);
  }

  private unloadGroup(g: ConsumerGroup): void {
    for (const m of g.members.values()) this.clearTimers(m);
    this.groups.delete(g.groupId);
    this.resolvedAt.delete(g.groupId);
  }

  // ---- timers ----

  private clearTimers(m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    if (m.revocationTimer) clearTimeout(m.revocationTimer);
    m.sessionTimer = m.revocationTimer = null;
  }

  private scheduleSession(g: ConsumerGroup, m: ConsumerMember): void {
    if (m.sessionTimer) clearTimeout(m.sessionTimer);
    const memberId = m.memberId;
    m.sessionTimer = setTimeout(() => this.expire(g, memberId, 'session timeout'), this.o.sessionTimeoutMs);
    m.sessionTimer.unref();
  }

  private scheduleRevocation(g: ConsumerGroup, m: ConsumerMember): void {
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
    void this.persist(g);
  }

  /** Removes a member and bumps the group epoch (the target assignment is recomputed at the next heartbeat). */
  private removeMember(g: ConsumerGroup, memberId: string): void {
    const m = g.removeMember(memberId);
    if (m) this.clearTimers(m);
    g.groupEpoch++;
    this.resolvedAt.delete(g.groupId);
  }

  // ---- persistence ----

  private recordOf(g: ConsumerGroup): StoredConsumerGroup {
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

  /**
   * Writes the group's whole state (in issue order, fenced by the coordinator partition's ownership). `extra`
   * ops go in the same transaction. Resolves to an error code.
   */
  private persist(g: ConsumerGroup, opts: { delete?: boolean; replaceClassic?: boolean } = {}): Promise<number> {
    const key = consumerGroupKey(g.coordinatorPartition, g.groupId);
    const value = opts.delete ? null : JSON.stringify(this.recordOf(g));
    const partition = g.coordinatorPartition;
    const write = async () => {
      if (!this.owns(partition)) throw new FencedError();
      if (value !== null && Buffer.byteLength(value) > this.o.maxRecordBytes) throw new RecordTooLargeError();
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

  // ---- subscriptions and the target assignment ----

  /** Topic ids a member subscribes to (names that exist, and regex matches), by its own subscription. */
  private memberTopics(m: ConsumerMember, all: TopicRecord[] | null): Map<string, TopicRecord> {
    const out = new Map<string, TopicRecord>();
    for (const name of m.subscribedTopicNames) {
      const t = this.topics.byName(name);
      if (t) out.set(t.id, t);
    }
    if (m.subscribedTopicRegex !== null) {
      const re = compileTopicRegex(m.subscribedTopicRegex);
      if (re) for (const t of all ?? this.topics.all()) if (re.test(t.name)) out.set(t.id, t);
    }
    return out;
  }

  /** Subscribed topics of every member: per member the ids, and the partition count of each id. */
  private resolveSubscriptions(g: ConsumerGroup): {
    perMember: Map<string, Set<string>>;
    topics: Map<string, number>;
    fingerprint: string;
  } {
    const all = [...g.members.values()].some((m) => m.subscribedTopicRegex !== null) ? this.topics.all() : null;
    const perMember = new Map<string, Set<string>>();
    const topics = new Map<string, number>();
    for (const m of g.members.values()) {
      const mine = this.memberTopics(m, all);
      perMember.set(m.memberId, new Set(mine.keys()));
      for (const [id, t] of mine) topics.set(id, t.partitions);
    }
    const fingerprint = [...topics]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([id, n]) => `${id}:${n}`)
      .join(',');
    return { perMember, topics, fingerprint };
  }

  /** Kafka's choice: the server assignor most members ask for, else the default. */
  private chooseAssignor(g: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of g.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes) if (best === null || n > votes.get(best)! || (n === votes.get(best)! && name < best)) best = name;
    return best ?? this.defaultAssignor;
  }

  /** Bumps the group epoch if the subscribed topics changed (created, deleted, more partitions). */
  private refreshSubscriptionMetadata(g: ConsumerGroup, force: boolean): boolean {
    const now = Date.now();
    if (!force && now - (this.resolvedAt.get(g.groupId) ?? 0) < subscriptionRefreshMs) return false;
    this.resolvedAt.set(g.groupId, now);
    const { fingerprint } = this.resolveSubscriptions(g);
    if (fingerprint === g.subscriptionFingerprint) return false;
    g.subscriptionFingerprint = fingerprint;
    g.groupEpoch++;
    return true;
  }

  /** Computes the target assignment of the current group epoch. */
  private updateTargetAssignment(g: ConsumerGroup): void {
    if (g.assignmentEpoch === g.groupEpoch) return;
    const { perMember, topics, fingerprint } = this.resolveSubscriptions(g);
    g.subscriptionFingerprint = fingerprint;
    const assignorName = this.chooseAssignor(g);
    const assignor = assignorNamed(assignorName) ?? assignorNamed(this.defaultAssignor)!;
    const members: AssignorMember[] = [...g.members.values()]
      .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0))
      .map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        subscribedTopicIds: perMember.get(m.memberId) ?? new Set(),
        current: g.targetAssignment.get(m.memberId) ?? new Map(),
      }));
    const result = assignor.assign({ members, topics });
    g.targetAssignment.clear();
    for (const [memberId, a] of result) g.targetAssignment.set(memberId, a);
    g.assignorName = assignor.name;
    g.assignmentEpoch = g.groupEpoch;
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
      g = new ConsumerGroup(h.groupId, coordinatorPartitionOf(h.groupId), this.defaultAssignor);
      this.groups.set(h.groupId, g);
    }
    const group = g;
    const owned = h.topicPartitions === null ? null : fromTopicPartitions(h.topicPartitions);

    // Find (or create) the member and check its epoch.
    let m: ConsumerMember | undefined;
    let changed = false;
    let bumped = false;
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
          changed = true;
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
    if (m && !changed) {
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
    }
    if (!m) {
      if (group.members.size >= this.o.maxSize) {
        return this.dropIfUnused(
          group,
          fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.o.maxSize} members.`),
        );
      }
      const memberId = h.memberId !== '' ? h.memberId : newMemberId();
      // A static join whose member id is a dynamic member's: that member is replaced.
      if (group.members.has(memberId)) this.clearTimers(group.removeMember(memberId)!);
      m = {
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
      changed = bumped = true;
    }
    const member = m;
    const assignedBefore = cloneAssignment(member.assigned);

    // Subscription and member metadata: null fields mean "unchanged".
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

    if (bumped) {
      // The target assignment of the new epoch (below) records the subscribed topics' fingerprint.
      group.groupEpoch++;
      this.resolvedAt.set(group.groupId, Date.now());
    } else if (this.refreshSubscriptionMetadata(group, false)) {
      changed = true;
    }
    if (group.assignmentEpoch !== group.groupEpoch) {
      this.updateTargetAssignment(group);
      changed = true;
    }
    if (group.reconcile(member, owned)) changed = true;
    if (member.state === 'unrevoked_partitions') this.scheduleRevocation(group, member);
    else if (member.revocationTimer) {
      clearTimeout(member.revocationTimer);
      member.revocationTimer = null;
    }
    this.scheduleSession(group, member);

    if (changed) {
      const code = await this.persist(group, { replaceClassic });
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
      heartbeatIntervalMs: this.o.heartbeatIntervalMs,
      assignment: sendAssignment ? toTopicPartitions(member.assigned) : null,
    };
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
    const code = await this.persist(g);
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
    const named = (a: TopicAssignment) =>
      toTopicPartitions(a).map((t) => ({
        topicId: t.topicId,
        topicName: this.topics.byId(t.topicId)?.name ?? '',
        partitions: t.partitions,
      }));
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: g.state,
      groupEpoch: g.groupEpoch,
      // As Kafka: the assignor the members prefer, else the default.
      assignmentEpoch: g.assignmentEpoch,
      assignorName: this.chooseAssignor(g),
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: named(m.assigned),
        targetAssignment: named(g.targetAssignment.get(m.memberId) ?? new Map()),
      })),
    };
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
    for (const m of g.members.values()) for (const t of this.memberTopics(m, null).values()) names.add(t.name);
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
  describeAsClassic(groupId: string): {
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
  } | null {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return null;
    const nameOf = (id: string) => this.topics.byId(id)?.name ?? '';
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: g.state,
      protocolType: 'consumer',
      protocolData: g.assignorName,
      members: [...g.members.values()].map((m) => {
        const sub = new Writer();
        sub.int16(3);
        encodeConsumerProtocolSubscription(sub, 3, {
          topics: m.subscribedTopicNames,
          userData: null,
          ownedPartitions: [],
          generationId: m.memberEpoch,
          rackId: m.rackId,
        });
        const asg = new Writer();
        asg.int16(3);
        encodeConsumerProtocolAssignment(asg, 3, {
          assignedPartitions: toTopicPartitions(m.assigned).map((t) => ({ topic: nameOf(t.topicId), partitions: t.partitions })),
          userData: null,
        });
        return {
          memberId: m.memberId,
          groupInstanceId: m.instanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          metadata: sub.finish(),
          assignment: asg.finish(),
        };
      }),
    };
  }

  /** DeleteGroups of a consumer group: NON_EMPTY_GROUP with members, else its record goes (offsets: the caller). */
  async deleteGroup(groupId: string): Promise<number> {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    g.dead = true;
    const code = await this.persist(g, { delete: true });
    if (this.groups.get(groupId) !== g) return code;
    if (code === ErrorCode.NONE) {
      this.groups.delete(groupId);
      this.resolvedAt.delete(groupId);
    } else {
      g.dead = false;
    }
    return code;
  }
}
