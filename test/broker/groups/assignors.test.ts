// The KIP-848 server-side assignors: every partition of a subscribed topic to exactly one subscriber,
// uniform's balance and stickiness, range's contiguous ranges and co-partitioning.
import t from 'tap';
import type { Test } from 'tap';
import { rangeAssignor, uniformAssignor } from '../../../broker/groups/assignors.ts';
import type { AssignorMember, TopicAssignment } from '../../../broker/groups/assignors.ts';

function member(
  memberId: string,
  topics: string[],
  current: Record<string, number[]> = {},
  instanceId: string | null = null,
): AssignorMember {
  return {
    memberId,
    instanceId,
    rackId: null,
    subscribedTopicIds: new Set(topics),
    current: new Map(Object.entries(current).map(([k, v]) => [k, new Set(v)])),
  };
}

function flat(a: TopicAssignment): string[] {
  return [...a].flatMap(([t, s]) => [...s].map((p) => `${t}-${p}`)).sort();
}

function count(a: TopicAssignment): number {
  return flat(a).length;
}

/** Every partition of every topic someone subscribes to is assigned exactly once, to a subscriber. */
function checkComplete(t: Test, members: AssignorMember[], topics: Map<string, number>, result: Map<string, TopicAssignment>): void {
  const seen = new Map<string, string>();
  for (const [memberId, a] of result) {
    const m = members.find((x) => x.memberId === memberId)!;
    for (const [topic, s] of a) {
      t.ok(m.subscribedTopicIds.has(topic), `${memberId} subscribes to ${topic}`);
      for (const p of s) {
        t.notOk(seen.has(`${topic}-${p}`), `${topic}-${p} assigned once`);
        seen.set(`${topic}-${p}`, memberId);
      }
    }
  }
  for (const [topic, n] of topics) {
    if (!members.some((m) => m.subscribedTopicIds.has(topic))) continue;
    for (let p = 0; p < n; p++) t.ok(seen.has(`${topic}-${p}`), `${topic}-${p} assigned`);
  }
}

t.test('uniform: balanced with equal subscriptions', async (t) => {
  const topics = new Map([
    ['A', 7],
    ['B', 5],
  ]);
  const members = ['m1', 'm2', 'm3', 'm4', 'm5'].map((id) => member(id, ['A', 'B']));
  const r = uniformAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  const counts = [...r.values()].map(count);
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
});

t.test('uniform: sticky when a member joins and when one leaves', async (t) => {
  const topics = new Map([['A', 6]]);
  const two = [member('m1', ['A']), member('m2', ['A'])];
  const r1 = uniformAssignor.assign({ members: two, topics });
  t.same([...r1.values()].map(count), [3, 3]);
  // A third member: each old member gives up exactly one partition and keeps the rest.
  const three = [
    member('m1', ['A'], { A: [...r1.get('m1')!.get('A')!] }),
    member('m2', ['A'], { A: [...r1.get('m2')!.get('A')!] }),
    member('m3', ['A']),
  ];
  const r2 = uniformAssignor.assign({ members: three, topics });
  checkComplete(t, three, topics, r2);
  t.same([...r2.values()].map(count), [2, 2, 2]);
  for (const id of ['m1', 'm2']) {
    const kept = flat(r2.get(id)!).filter((p) => flat(r1.get(id)!).includes(p));
    t.equal(kept.length, 2, `${id} keeps two of its partitions`);
  }
  // m2 leaves: m1 and m3 keep theirs and share m2's.
  const rest = [member('m1', ['A'], { A: [...r2.get('m1')!.get('A')!] }), member('m3', ['A'], { A: [...r2.get('m3')!.get('A')!] })];
  const r3 = uniformAssignor.assign({ members: rest, topics });
  checkComplete(t, rest, topics, r3);
  t.same([...r3.values()].map(count), [3, 3]);
  for (const id of ['m1', 'm3'])
    t.ok(
      flat(r2.get(id)!).every((p) => flat(r3.get(id)!).includes(p)),
      `${id} kept everything`,
    );
});

t.test('uniform: different subscriptions', async (t) => {
  const topics = new Map([
    ['A', 3],
    ['B', 3],
    ['C', 2],
  ]);
  const members = [member('m1', ['A']), member('m2', ['A', 'B']), member('m3', ['B', 'C']), member('m4', ['X'])];
  const r = uniformAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  t.equal(count(r.get('m4')!), 0, 'a member subscribed to nothing that exists gets nothing');
  const counts = ['m1', 'm2', 'm3'].map((id) => count(r.get(id)!));
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
});

t.test('uniform: invalid current partitions are dropped, no members, no topics', async (t) => {
  const topics = new Map([['A', 2]]);
  const members = [member('m1', ['A'], { A: [0, 1, 5], Z: [0] }), member('m2', ['A'])];
  const r = uniformAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  t.same(flat(r.get('m1')!).length, 1);
  t.same(uniformAssignor.assign({ members: [], topics }).size, 0);
  t.same(flat(uniformAssignor.assign({ members, topics: new Map() }).get('m1')!), []);
});

t.test('uniform: larger group stays balanced and mostly sticky', async (t) => {
  const topics = new Map([
    ['A', 50],
    ['B', 37],
  ]);
  let members = Array.from({ length: 9 }, (_, i) => member(`m${i}`, ['A', 'B']));
  let r = uniformAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  members = [...members.slice(1), member('m9', ['A', 'B'])].map((m) => ({ ...m, current: r.get(m.memberId) ?? new Map() }));
  const before = r;
  r = uniformAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  const counts = [...r.values()].map(count);
  t.ok(Math.max(...counts) - Math.min(...counts) <= 1);
  let moved = 0;
  for (const m of members)
    if (before.has(m.memberId)) moved += flat(before.get(m.memberId)!).filter((p) => !flat(r.get(m.memberId)!).includes(p)).length;
  t.ok(moved <= 2, `kept members gave up ${moved} partitions`);
});

t.test('range: contiguous ranges, extra partitions to the first members', async (t) => {
  const topics = new Map([['A', 7]]);
  const members = [member('m2', ['A']), member('m1', ['A']), member('m3', ['A'])];
  const r = rangeAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  t.same(flat(r.get('m1')!), ['A-0', 'A-1', 'A-2']);
  t.same(flat(r.get('m2')!), ['A-3', 'A-4']);
  t.same(flat(r.get('m3')!), ['A-5', 'A-6']);
});

t.test('range: co-partitioning of topics with the same partition count', async (t) => {
  const topics = new Map([
    ['orders', 6],
    ['payments', 6],
    ['other', 2],
  ]);
  const members = [member('a', ['orders', 'payments']), member('b', ['orders', 'payments', 'other']), member('c', ['orders', 'payments'])];
  const r = rangeAssignor.assign({ members, topics });
  checkComplete(t, members, topics, r);
  for (const id of ['a', 'b', 'c'])
    t.same([...r.get(id)!.get('orders')!].sort(), [...r.get(id)!.get('payments')!].sort(), `${id} has the same partitions of both`);
  t.same(
    flat(r.get('b')!).filter((p) => p.startsWith('other')),
    ['other-0', 'other-1'],
  );
  t.equal(count(r.get('a')!), 4);
});

t.test('range: static members ordered by instance id', async (t) => {
  const topics = new Map([['A', 2]]);
  const members = [member('zz', ['A'], {}, 'i-1'), member('aa', ['A'], {}, 'i-2')];
  const r = rangeAssignor.assign({ members, topics });
  t.same(flat(r.get('zz')!), ['A-0']);
  t.same(flat(r.get('aa')!), ['A-1']);
});
