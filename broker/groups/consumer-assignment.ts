// Subscriptions and the target assignment of KIP-848 consumer groups (spec/groups.md, "Epochs and
// reconciliation"): the topics each member subscribes to (names and regex), whether they changed since the
// group's last look (at most once a second), the server assignor the members choose, and the target
// assignment of the current group epoch.
import type { TopicRecord } from '../metadata/layout.ts';
import type { AssignorMember, TopicAssignment } from './assignors.ts';
import { assignorNamed } from './assignors.ts';
import type { ConsumerGroup, ConsumerMember } from './consumer-group.ts';
import { groupSubscriptionRefreshMs } from '../limits.ts';

/** What the coordinator needs of the topic registry. */
export interface TopicLookup {
  byName(name: string): TopicRecord | undefined;
  byId(id: string): TopicRecord | undefined;
  all(): TopicRecord[];
}

export interface TopicPartitions {
  topicId: string;
  partitions: number[];
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

export function toTopicPartitions(a: TopicAssignment): TopicPartitions[] {
  return [...a]
    .filter(([, s]) => s.size > 0)
    .sort((x, y) => (x[0] < y[0] ? -1 : 1))
    .map(([topicId, s]) => ({ topicId, partitions: [...s].sort((p, q) => p - q) }));
}

export function fromTopicPartitions(list: TopicPartitions[]): TopicAssignment {
  const a: TopicAssignment = new Map();
  for (const t of list) {
    let s = a.get(t.topicId);
    if (!s) a.set(t.topicId, (s = new Set()));
    for (const p of t.partitions) s.add(p);
  }
  return a;
}

export class ConsumerAssignment {
  private readonly topics: TopicLookup;
  /** The assignor when the members ask for none (the first of group.consumer.assignors). */
  readonly defaultAssignor: string;
  /** Group id → when its subscription was last resolved. */
  private readonly resolvedAt = new Map<string, number>();

  constructor(topics: TopicLookup, defaultAssignor: string) {
    this.topics = topics;
    this.defaultAssignor = defaultAssignor;
  }

  /** The group's subscription was resolved now (a member's subscription changed: the group epoch is bumped). */
  resolvedNow(groupId: string): void {
    this.resolvedAt.set(groupId, Date.now());
  }

  /** The group's subscription is looked at again at the next heartbeat. */
  forget(groupId: string): void {
    this.resolvedAt.delete(groupId);
  }

  /** Topic ids a member subscribes to (names that exist, and regex matches), by its own subscription. */
  memberTopics(m: ConsumerMember, all: TopicRecord[] | null): Map<string, TopicRecord> {
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
  chooseAssignor(g: ConsumerGroup): string {
    const votes = new Map<string, number>();
    for (const m of g.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best: string | null = null;
    for (const [name, n] of votes) if (best === null || n > votes.get(best)! || (n === votes.get(best)! && name < best)) best = name;
    return best ?? this.defaultAssignor;
  }

  /** Bumps the group epoch if the subscribed topics changed (created, deleted, more partitions). */
  refreshSubscriptionMetadata(g: ConsumerGroup, force: boolean): boolean {
    const now = Date.now();
    if (!force && now - (this.resolvedAt.get(g.groupId) ?? 0) < groupSubscriptionRefreshMs) return false;
    this.resolvedAt.set(g.groupId, now);
    const { fingerprint } = this.resolveSubscriptions(g);
    if (fingerprint === g.subscriptionFingerprint) return false;
    g.subscriptionFingerprint = fingerprint;
    g.groupEpoch++;
    return true;
  }

  /** Computes the target assignment of the current group epoch. */
  updateTargetAssignment(g: ConsumerGroup): void {
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
}
