// Server-side assignors of KIP-848 consumer groups (spec/groups.md, "The consumer protocol"): `uniform` (the
// default; balanced and sticky, like Kafka's UniformAssignor) and `range` (per-topic contiguous ranges, like
// Kafka's RangeAssignor for the new protocol, so that topics with the same partition count are co-partitioned).
// Pure functions of the members' subscriptions and current assignments; topics are named by topic id.

/** topic id → partitions. */
export type TopicAssignment = Map<string, Set<number>>;

export interface AssignorMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  /** Topic ids the member subscribes to (only topics that exist). */
  subscribedTopicIds: ReadonlySet<string>;
  /** The member's current target assignment (stickiness). */
  current: TopicAssignment;
}

export interface AssignorInput {
  /** In a deterministic order (the coordinator sorts them by member id). */
  members: AssignorMember[];
  /** topic id → partition count, of every topic some member subscribes to. */
  topics: ReadonlyMap<string, number>;
}

export interface ServerAssignor {
  readonly name: string;
  assign(input: AssignorInput): Map<string, TopicAssignment>;
}

function emptyResult(members: AssignorMember[]): Map<string, TopicAssignment> {
  return new Map(members.map((m) => [m.memberId, new Map()]));
}

function add(a: TopicAssignment, topicId: string, partition: number): void {
  let s = a.get(topicId);
  if (!s) a.set(topicId, (s = new Set()));
  s.add(partition);
}

function remove(a: TopicAssignment, topicId: string, partition: number): void {
  const s = a.get(topicId);
  if (!s) return;
  s.delete(partition);
  if (s.size === 0) a.delete(topicId);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Uniform: every partition of a subscribed topic goes to one of its subscribers, counts as even as the
 * subscriptions allow (equal subscriptions: counts differ by at most one), and partitions stay where they are
 * whenever that keeps the balance. Steps: keep valid current partitions (up to the fair share), give the rest
 * to the least loaded eligible member, then move partitions from members that hold two or more above an
 * eligible member until no such move is left.
 */
export const uniformAssignor: ServerAssignor = {
  name: 'uniform',
  assign(input: AssignorInput): Map<string, TopicAssignment> {
    const subscribers = new Map<string, AssignorMember[]>();
    for (const topicId of [...input.topics.keys()].sort(byName)) {
      subscribers.set(
        topicId,
        input.members.filter((m) => m.subscribedTopicIds.has(topicId)),
      );
    }
    const u: UniformState = {
      input,
      result: emptyResult(input.members),
      count: new Map<string, number>(input.members.map((m) => [m.memberId, 0])),
      subscribers,
      owner: new Map<string, string>(),
    };
    let total = 0;
    for (const [topicId, subs] of subscribers) if (subs.length > 0) total += input.topics.get(topicId)!;
    const eligibleMembers = input.members.filter((m) => [...m.subscribedTopicIds].some((t) => input.topics.has(t)));
    const fairShare = eligibleMembers.length === 0 ? 0 : Math.ceil(total / eligibleMembers.length);
    keepCurrentPartitions(u, fairShare);
    assignUnownedPartitions(u);
    balanceCounts(u);
    return u.result;
  },
};

/** The uniform assignor's working state. */
interface UniformState {
  input: AssignorInput;
  result: Map<string, TopicAssignment>;
  /** Partitions per member so far. */
  count: Map<string, number>;
  /** Per topic (sorted by id), its subscribers in member order. */
  subscribers: Map<string, AssignorMember[]>;
  /** ownerKey(topic, partition) to member id. */
  owner: Map<string, string>;
}

function ownerKey(topicId: string, partition: number): string {
  return `${topicId}\u0000${partition}`;
}

/** The first of subs with the fewest partitions so far. */
function leastLoaded(count: Map<string, number>, subs: AssignorMember[]): AssignorMember {
  let best = subs[0]!;
  for (const s of subs) if (count.get(s.memberId)! < count.get(best.memberId)!) best = s;
  return best;
}

/** 1. Stickiness: keep what each member has and may still have, up to the fair share. */
function keepCurrentPartitions(u: UniformState, fairShare: number): void {
  const { input, result, count, owner } = u;
  for (const m of input.members) {
    const mine = result.get(m.memberId)!;
    for (const topicId of [...m.current.keys()].sort(byName)) {
      const partitions = input.topics.get(topicId);
      if (partitions === undefined || !m.subscribedTopicIds.has(topicId)) continue;
      for (const p of [...m.current.get(topicId)!].sort((a, b) => a - b)) {
        if (p >= partitions || owner.has(ownerKey(topicId, p)) || count.get(m.memberId)! >= fairShare) continue;
        owner.set(ownerKey(topicId, p), m.memberId);
        add(mine, topicId, p);
        count.set(m.memberId, count.get(m.memberId)! + 1);
      }
    }
  }
}

/** 2. Unowned partitions, topics with the fewest subscribers first (they have the fewest choices). */
function assignUnownedPartitions(u: UniformState): void {
  const { input, result, count, owner, subscribers } = u;
  const topicsByChoice = [...subscribers.entries()]
    .filter(([, s]) => s.length > 0)
    .sort((a, b) => a[1].length - b[1].length || byName(a[0], b[0]));
  for (const [topicId, subs] of topicsByChoice) {
    const partitions = input.topics.get(topicId)!;
    for (let p = 0; p < partitions; p++) {
      if (owner.has(ownerKey(topicId, p))) continue;
      const m = leastLoaded(count, subs);
      owner.set(ownerKey(topicId, p), m.memberId);
      add(result.get(m.memberId)!, topicId, p);
      count.set(m.memberId, count.get(m.memberId)! + 1);
    }
  }
}

/**
 * 3. Balance: move a partition to an eligible member holding at least two fewer. Each move lowers the sum of
 * squared counts, so this ends.
 */
function balanceCounts(u: UniformState): void {
  const { input, result, count, owner, subscribers } = u;
  for (let moved = true; moved; ) {
    moved = false;
    const heaviest = [...input.members].sort((a, b) => count.get(b.memberId)! - count.get(a.memberId)! || byName(a.memberId, b.memberId));
    for (const from of heaviest) {
      const mine = result.get(from.memberId)!;
      for (const topicId of [...mine.keys()].sort(byName)) {
        for (const p of [...(mine.get(topicId) ?? [])].sort((a, b) => b - a)) {
          const to = leastLoaded(count, subscribers.get(topicId)!);
          if (count.get(to.memberId)! + 1 >= count.get(from.memberId)!) continue;
          remove(mine, topicId, p);
          add(result.get(to.memberId)!, topicId, p);
          owner.set(ownerKey(topicId, p), to.memberId);
          count.set(from.memberId, count.get(from.memberId)! - 1);
          count.set(to.memberId, count.get(to.memberId)! + 1);
          moved = true;
        }
      }
    }
  }
}

/**
 * Range: for each topic, its subscribers sorted by instance id (static members) then member id, and the
 * partitions split into contiguous ranges, the first (partitions % subscribers) members getting one more.
 * Members with the same subscriptions therefore get the same partition numbers of topics that have the same
 * partition count (co-partitioning, for joins). Not sticky beyond that determinism.
 */
export const rangeAssignor: ServerAssignor = {
  name: 'range',
  assign(input: AssignorInput): Map<string, TopicAssignment> {
    const result = emptyResult(input.members);
    const order = (m: AssignorMember) => m.instanceId ?? m.memberId;
    for (const [topicId, partitions] of input.topics) {
      const subs = input.members
        .filter((m) => m.subscribedTopicIds.has(topicId))
        .sort((a, b) => byName(order(a), order(b)) || byName(a.memberId, b.memberId));
      if (subs.length === 0) continue;
      const quota = Math.floor(partitions / subs.length);
      const extra = partitions % subs.length;
      let next = 0;
      subs.forEach((m, i) => {
        const n = quota + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) add(result.get(m.memberId)!, topicId, next++);
      });
    }
    return result;
  },
};

export const serverAssignors: readonly ServerAssignor[] = [uniformAssignor, rangeAssignor];

export function assignorNamed(name: string): ServerAssignor | undefined {
  return serverAssignors.find((a) => a.name === name);
}
