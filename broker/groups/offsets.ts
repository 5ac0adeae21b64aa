// Committed offsets of the groups a GroupCoordinator serves (spec/groups.md), classic and KIP-848 consumer
// groups alike: OffsetCommit (checked against the group's members and generation), OffsetFetch, OffsetDelete,
// the offsets of committed transactions (broker/txn/txn-offsets.ts), and their expiry (Kafka's retention rules)
// with the empty groups left without offsets. They live in the groups of group-table.ts.
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import { consumerProtocolType } from './classic-group.ts';
import type { ClassicGroup, ClassicMember, CommittedOffset } from './classic-group.ts';
import { offsetRecordOf } from './group-store.ts';
import type { ClassicGroupTable } from './group-table.ts';

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

/** The options of GroupCoordinator (coordinator.ts) for offsets. */
export interface OffsetOptions {
  offsetsRetentionMs: number;
  retentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
}

interface OffsetChange {
  /** The entry's index in the request. */
  index: number;
  topic: string;
  partition: number;
  record: CommittedOffset;
}

function committedOffsetOf(e: OffsetCommitEntry): CommittedOffset {
  return {
    offset: e.offset,
    leaderEpoch: e.leaderEpoch,
    metadata: e.metadata ?? '',
    commitTimestampMs: e.commitTimestampMs,
    expireTimestampMs: e.expireTimestampMs,
  };
}

/** The entries without an error code (NONE in `codes`) as the offsets to store. */
function acceptedChanges(entries: OffsetCommitEntry[], codes: number[]): OffsetChange[] {
  const changes: OffsetChange[] = [];
  entries.forEach((e, index) => {
    if (codes[index] !== ErrorCode.NONE) return;
    changes.push({ index, topic: e.topic, partition: e.partition, record: committedOffsetOf(e) });
  });
  return changes;
}

export class GroupOffsets {
  private readonly table: ClassicGroupTable;
  private readonly groups: Map<string, ClassicGroup>;
  /** A member's commit counts as a sign of life (its session restarts): rebalance.ts. */
  private readonly scheduleSession: (g: ClassicGroup, m: ClassicMember) => void;
  private readonly logger: Logger;
  private readonly o: OffsetOptions;
  private readonly now: () => number;
  private retentionTimer: NodeJS.Timeout | null = null;
  private expiring = false;
  private closed = false;

  constructor(args: {
    table: ClassicGroupTable;
    scheduleSession: (g: ClassicGroup, m: ClassicMember) => void;
    logger: Logger;
    options: OffsetOptions;
    now: () => number;
  }) {
    this.table = args.table;
    this.groups = args.table.groups;
    this.scheduleSession = args.scheduleSession;
    this.logger = args.logger;
    this.o = args.options;
    this.now = args.now;
  }

  /** Starts the periodic expiry (offsets.retention.check.interval.ms). */
  start(): void {
    this.retentionTimer = setInterval(() => void this.expireOffsets(), this.o.retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.retentionTimer) clearInterval(this.retentionTimer);
  }

  /** Error codes in the order of `entries`. */
  async commitOffsets(req: {
    groupId: string;
    memberId: string;
    groupInstanceId: string | null;
    generationId: number;
    /** The answer to a commit with a generation >= 0 for a group that does not exist (default ILLEGAL_GENERATION). */
    unknownGroupCode?: number;
    entries: OffsetCommitEntry[];
  }): Promise<number[]> {
    const all = (code: number) => req.entries.map(() => code);
    const status = this.table.status(req.groupId);
    if (status !== ErrorCode.NONE) return all(status);
    // A consumer group's commits are checked against its members and epochs (KIP-848).
    const consumerCode =
      this.table.consumerGroups?.validateOffsetCommit(req.groupId, req.memberId, req.groupInstanceId, req.generationId) ?? null;
    let g = this.groups.get(req.groupId);
    if (!g) {
      // Without group management (generation < 0) a commit creates the group; otherwise it is a stale member.
      if (req.generationId >= 0 && consumerCode === null) return all(req.unknownGroupCode ?? ErrorCode.ILLEGAL_GENERATION);
      const created = this.table.create(req.groupId);
      if (!created) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      g = created;
    }
    const code = consumerCode ?? this.validateCommit(g, req.generationId, req.memberId, req.groupInstanceId);
    if (code !== ErrorCode.NONE) {
      this.table.maybeDropUnusedGroup(g);
      return all(code);
    }
    const m = g.members.get(req.memberId);
    if (m && !g.is('Empty')) this.scheduleSession(g, m);
    const codes: number[] = req.entries.map((e) =>
      e.metadata !== null && e.metadata.length > this.o.offsetMetadataMaxBytes ? ErrorCode.OFFSET_METADATA_TOO_LARGE : ErrorCode.NONE,
    );
    const changes = acceptedChanges(req.entries, codes);
    if (changes.length === 0) {
      this.table.maybeDropUnusedGroup(g);
      return codes;
    }
    const group = g;
    const written = new Set<number>();
    const result = await this.table.writeGroup(group, () =>
      this.table.store.writeOffsets(
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
    this.table.maybeDropUnusedGroup(group);
    return codes;
  }

  // ---- transactional offsets (broker/txn/txn-offsets.ts, spec/transactions.md) ----

  /** TxnOffsetCommit's group-level check (Kafka: validateOffsetCommit for a transactional commit). */
  validateTxnOffsetCommit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    const status = this.table.status(groupId);
    if (status !== ErrorCode.NONE) return status;
    const consumerCode = this.table.consumerGroups?.validateOffsetCommit(groupId, memberId, groupInstanceId, generationId, true) ?? null;
    if (consumerCode !== null) return consumerCode;
    const g = this.groups.get(groupId);
    if (!g) return generationId >= 0 ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.NONE;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (generationId < 0 && g.is('Empty')) return ErrorCode.NONE; // as for OffsetCommit (validateCommit)
    if (generationId >= 0 || memberId !== '' || groupInstanceId !== null) {
      if (g.isStaticMemberFenced(memberId, groupInstanceId)) return ErrorCode.FENCED_INSTANCE_ID;
      if (!g.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    }
    return ErrorCode.NONE;
  }

  /** Applies the offsets of a committed transaction (checked at TxnOffsetCommit): NONE or the error code. */
  async applyTxnOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number> {
    const status = this.table.status(groupId);
    if (status !== ErrorCode.NONE) return status;
    let g = this.groups.get(groupId);
    if (!g) {
      const created = this.table.create(groupId);
      if (!created) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      g = created;
    }
    const group = g;
    const changes = entries.map((e) => ({ topic: e.topic, partition: e.partition, record: committedOffsetOf(e) }));
    const code = await this.table.writeGroup(group, () =>
      this.table.store.writeOffsets(
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
    // Kafka 4's ClassicGroup.validateOffsetCommit: a negative generation commits to an Empty group whatever member
    // or instance id it names (admin clients, and consumers without group management such as librdkafka's
    // manual assign() in KIP-848 mode, which sends its member id with generation -1).
    if (generationId < 0 && g.is('Empty')) return ErrorCode.NONE;
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
    const status = this.table.status(groupId);
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
    const status = this.table.status(groupId);
    if (status !== ErrorCode.NONE) return { errorCode: status, codes: [] };
    const g = this.groups.get(groupId);
    if (!g || g.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, codes: [] };
    let codes: number[];
    const consumerTopics = this.table.consumerGroups?.subscribedTopics(groupId) ?? null;
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
    const code = await this.table.writeGroup(g, () =>
      this.table.store.writeOffsets(
        g.coordinatorPartition,
        g.groupId,
        doomed.map((d) => ({ ...d, record: null })),
      ),
    );
    if (code === ErrorCode.NONE) {
      for (const d of doomed) g.deleteOffset(d.topic, d.partition);
      await this.table.maybeRemoveDeadGroup(g);
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
          await this.table.maybeRemoveDeadGroup(g);
        }
      }
    } finally {
      this.expiring = false;
    }
  }

  private expiredOffsets(g: ClassicGroup, nowMs: number): { topic: string; partition: number }[] {
    if (this.table.consumerGroups?.hasMembers(g.groupId)) return [];
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
}
