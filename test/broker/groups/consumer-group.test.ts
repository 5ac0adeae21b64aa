// The KIP-848 consumer group coordinator over the in-memory metadata store, with a fake cluster and topic
// registry: joining, epochs and revocation before assignment, request checks, leaving, static members,
// session expiry, the revocation (rebalance) timeout, reload after failover, and fencing.
import t from 'tap';
import type { Test } from 'tap';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { ConsumerGroupCoordinator } from '../../../broker/groups/consumer-coordinator.ts';
import type { ConsumerGroupOptions } from '../../../broker/groups/consumer-coordinator.ts';
import type { TopicPartitions } from '../../../broker/groups/consumer-assignment.ts';
import type { HeartbeatParams, HeartbeatResult } from '../../../broker/groups/consumer-membership.ts';
import type { TopicRecord } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';

class FakeTopics {
  readonly records = new Map<string, TopicRecord>();
  add(name: string, partitions: number): TopicRecord {
    const r: TopicRecord = { name, id: `id-${name}`, partitions, configs: {}, createdAtMs: 0 };
    this.records.set(name, r);
    return r;
  }
  byName(name: string): TopicRecord | undefined {
    return this.records.get(name);
  }
  byId(id: string): TopicRecord | undefined {
    return [...this.records.values()].find((r) => r.id === id);
  }
  all(): TopicRecord[] {
    return [...this.records.values()];
  }
}

const baseOptions: ConsumerGroupOptions = {
  heartbeatIntervalMs: 5000,
  sessionTimeoutMs: 45_000,
  maxSize: 3,
  assignors: ['uniform', 'range'],
  maxSubscribedTopics: 10,
  maxRecordBytes: 100_000,
  maxGroups: 100,
};

async function setup(
  t: Test,
  options: Partial<ConsumerGroupOptions> = {},
  store = new MemoryMetadataStore(),
  cluster = new FakeCoordinatorCluster('group'),
  topics = new FakeTopics(),
) {
  const c = new ConsumerGroupCoordinator({
    metadata: store,
    cluster: cluster as any,
    topics,
    logger: silentLogger(),
    options: { ...baseOptions, ...options },
  });
  let classicState: string | undefined;
  c.setClassicGroups({ groupState: () => classicState });
  await c.start();
  t.teardown(() => c.close());
  return { c, store, cluster, topics, setClassic: (s: string | undefined) => (classicState = s) };
}

function hb(groupId: string, p: Partial<HeartbeatParams>): HeartbeatParams {
  return {
    groupId,
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: null,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    ...p,
  };
}

function join(groupId: string, topics: string[], p: Partial<HeartbeatParams> = {}): HeartbeatParams {
  return hb(groupId, { rebalanceTimeoutMs: 30_000, subscribedTopicNames: topics, topicPartitions: [], ...p });
}

function parts(r: HeartbeatResult | { assignment: TopicPartitions[] | null }): string[] {
  return (r.assignment ?? []).flatMap((tp) => tp.partitions.map((p) => `${tp.topicId}:${p}`)).sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('join, second member: revocation before assignment, epochs', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('a', 4);
  const r1 = await c.heartbeat(join('g', ['a']));
  t.equal(r1.errorCode, ErrorCode.NONE);
  t.ok(r1.memberId && r1.memberId.length === 22, 'a generated member id');
  t.equal(r1.memberEpoch, 1);
  t.equal(r1.heartbeatIntervalMs, 5000);
  t.same(parts(r1), ['id-a:0', 'id-a:1', 'id-a:2', 'id-a:3']);
  t.equal(c.groupState('g'), 'Stable');
  const m1 = r1.memberId!;

  const again = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 1 }));
  t.equal(again.errorCode, ErrorCode.NONE);
  t.equal(again.assignment, null, 'no assignment when nothing changed');

  // The second member joins: group epoch 2; it gets epoch 2 and nothing yet (m1 still owns everything).
  const r2 = await c.heartbeat(join('g', ['a']));
  t.equal(r2.memberEpoch, 2);
  t.same(parts(r2), []);
  const m2 = r2.memberId!;
  t.equal(c.groupState('g'), 'Reconciling');

  // m1 learns of the revocation: its assignment shrinks, its epoch stays 1.
  const r3 = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 1 }));
  t.equal(r3.memberEpoch, 1);
  t.equal(parts(r3).length, 2);
  const kept = r3.assignment!;
  // Still owning everything: nothing moves.
  const r4 = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 1, topicPartitions: [{ topicId: 'id-a', partitions: [0, 1, 2, 3] }] }));
  t.equal(r4.memberEpoch, 1);
  const r5 = await c.heartbeat(hb('g', { memberId: m2, memberEpoch: 2 }));
  t.same(parts(r5), [], 'm2 waits for the revocation');
  // m1 acknowledges: epoch 2.
  const r6 = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 1, topicPartitions: kept }));
  t.equal(r6.memberEpoch, 2);
  const r7 = await c.heartbeat(hb('g', { memberId: m2, memberEpoch: 2 }));
  t.equal(parts(r7).length, 2);
  t.same([...parts(r7), ...parts({ assignment: kept })].sort(), ['id-a:0', 'id-a:1', 'id-a:2', 'id-a:3']);
  t.equal(c.groupState('g'), 'Stable');

  // Fencing: a newer epoch, or an older one that is not the previous with a subset of the assignment.
  t.equal((await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 3 }))).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  t.equal((await c.heartbeat(hb('g', { memberId: m2, memberEpoch: 1 }))).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  const lost = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 1, topicPartitions: kept }));
  t.equal(lost.errorCode, ErrorCode.NONE, 'the previous epoch with owned partitions is accepted (lost response)');
  t.equal(lost.memberEpoch, 2);
  t.equal((await c.heartbeat(hb('g', { memberId: 'nobody', memberEpoch: 2 }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  t.equal((await c.heartbeat(hb('nogroup', { memberId: 'x', memberEpoch: 2 }))).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  t.equal((await c.heartbeat(hb('nogroup', { memberId: 'x', memberEpoch: -1 }))).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);

  // m2 leaves: the group epoch moves on and m1 gets everything back.
  const left = await c.heartbeat(hb('g', { memberId: m2, memberEpoch: -1 }));
  t.equal(left.errorCode, ErrorCode.NONE);
  t.equal(left.memberEpoch, -1);
  const r8 = await c.heartbeat(hb('g', { memberId: m1, memberEpoch: 2 }));
  t.equal(r8.memberEpoch, 3);
  t.equal(parts(r8).length, 4);
  const d = c.describe('g');
  t.equal(d.groupEpoch, 3);
  t.equal(d.assignmentEpoch, 3);
  t.equal(d.assignorName, 'uniform');
  t.equal(d.members.length, 1);
  t.equal(d.members[0]!.assignment[0]!.topicName, 'a');
});

t.test('request checks', async (t) => {
  const { c, topics, setClassic } = await setup(t);
  topics.add('a', 2);
  const code = async (p: HeartbeatParams) => (await c.heartbeat(p)).errorCode;
  t.equal(await code(join('', ['a'])), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { rebalanceTimeoutMs: -1 })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { topicPartitions: null })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { topicPartitions: [{ topicId: 'id-a', partitions: [0] }] })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { subscribedTopicNames: null })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { instanceId: '' })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(hb('g', { memberEpoch: 3 })), ErrorCode.INVALID_REQUEST, 'no member id');
  t.equal(await code(hb('g', { memberId: 'm', memberEpoch: -2 })), ErrorCode.INVALID_REQUEST, 'static leave without instance id');
  t.equal(await code(hb('g', { memberId: 'm', memberEpoch: -3 })), ErrorCode.INVALID_REQUEST);
  t.equal(await code(join('g', ['a'], { serverAssignor: 'sticky' })), ErrorCode.UNSUPPORTED_ASSIGNOR);
  t.equal(await code(join('g', ['a'], { subscribedTopicNames: null, subscribedTopicRegex: '(' })), ErrorCode.INVALID_REGULAR_EXPRESSION);
  t.equal(
    await code(
      join(
        'g',
        Array.from({ length: 11 }, (_, i) => `t${i}`),
      ),
    ),
    ErrorCode.INVALID_REQUEST,
    'too many topics',
  );
  t.equal(c.group('g'), undefined, 'refused joins create no group');
  // A classic group with members holds the id.
  setClassic('Stable');
  t.equal(await code(join('g', ['a'])), ErrorCode.GROUP_ID_NOT_FOUND);
  setClassic('Empty');
  t.equal(await code(join('g', ['a'])), ErrorCode.NONE, 'an empty classic group gives the id up');
  setClassic(undefined);
  // Max size.
  t.equal(await code(join('g', ['a'])), ErrorCode.NONE);
  t.equal(await code(join('g', ['a'])), ErrorCode.NONE);
  t.equal(await code(join('g', ['a'])), ErrorCode.GROUP_MAX_SIZE_REACHED);
  t.equal(c.describe('g').members.length, 3);
  t.equal(c.describe('other').errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  t.equal(c.describe('').errorCode, ErrorCode.INVALID_GROUP_ID);
});

t.test('client-chosen member id, range assignor, regex subscription', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('orders', 2);
  topics.add('payments', 2);
  topics.add('other', 1);
  const a = await c.heartbeat(
    join('g', [], { memberId: 'A', subscribedTopicNames: null, subscribedTopicRegex: '(orders|payments).*', serverAssignor: 'range' }),
  );
  t.equal(a.memberId, 'A');
  t.same(parts(a), ['id-orders:0', 'id-orders:1', 'id-payments:0', 'id-payments:1']);
  const b = await c.heartbeat(join('g', ['orders', 'payments'], { memberId: 'B', serverAssignor: 'range' }));
  t.same(parts(b), [], 'B waits for A');
  const a2 = await c.heartbeat(hb('g', { memberId: 'A', memberEpoch: 1 }));
  t.same(parts(a2), ['id-orders:0', 'id-payments:0'], 'range: co-partitioned');
  await c.heartbeat(hb('g', { memberId: 'A', memberEpoch: 1, topicPartitions: a2.assignment }));
  const b2 = await c.heartbeat(hb('g', { memberId: 'B', memberEpoch: 2 }));
  t.same(parts(b2), ['id-orders:1', 'id-payments:1']);
  t.equal(c.describe('g').assignorName, 'range');
  // A new topic matching the regex: the group epoch moves on at the next heartbeat (after the refresh delay).
  topics.add('orders-eu', 1);
  await sleep(1100);
  const a3 = await c.heartbeat(hb('g', { memberId: 'A', memberEpoch: 2 }));
  t.equal(a3.memberEpoch, 3);
  t.ok(parts(a3).includes('id-orders-eu:0'));
});

t.test('static members: temporary leave, rejoin with a new member id, unreleased instance id', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('a', 2);
  const s1 = await c.heartbeat(join('g', ['a'], { instanceId: 'i1' }));
  const s2 = await c.heartbeat(join('g', ['a'], { instanceId: 'i2' }));
  const r = await c.heartbeat(hb('g', { memberId: s1.memberId!, memberEpoch: 1, instanceId: 'i1' }));
  await c.heartbeat(hb('g', { memberId: s1.memberId!, memberEpoch: 1, instanceId: 'i1', topicPartitions: r.assignment }));
  const s2b = await c.heartbeat(hb('g', { memberId: s2.memberId!, memberEpoch: 2, instanceId: 'i2' }));
  t.equal(parts(s2b).length, 1);
  t.equal(c.groupState('g'), 'Stable');
  const epochBefore = c.describe('g').groupEpoch;

  t.equal((await c.heartbeat(join('g', ['a'], { instanceId: 'i2' }))).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  t.equal((await c.heartbeat(hb('g', { memberId: 'wrong', memberEpoch: 2, instanceId: 'i2' }))).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const gone = await c.heartbeat(hb('g', { memberId: s2.memberId!, memberEpoch: -2, instanceId: 'i2' }));
  t.equal(gone.errorCode, ErrorCode.NONE);
  t.equal(gone.memberEpoch, -2);
  const back = await c.heartbeat(join('g', ['a'], { instanceId: 'i2' }));
  t.equal(back.errorCode, ErrorCode.NONE);
  t.not(back.memberId, s2.memberId);
  t.equal(back.memberEpoch, 2, 'the old epoch');
  t.same(parts(back), parts(s2b), 'the old assignment');
  t.equal(c.describe('g').groupEpoch, epochBefore, 'no rebalance');
  t.equal(
    (await c.heartbeat(hb('g', { memberId: s2.memberId!, memberEpoch: 2, instanceId: 'i2' }))).errorCode,
    ErrorCode.FENCED_INSTANCE_ID,
  );
  // A static member leaving for good (-1) is removed.
  const out = await c.heartbeat(hb('g', { memberId: back.memberId!, memberEpoch: -1, instanceId: 'i2' }));
  t.equal(out.memberEpoch, -1);
  t.equal(c.describe('g').members.length, 1);
});

t.test('session timeout and revocation timeout remove members', async (t) => {
  const { c, topics } = await setup(t, { sessionTimeoutMs: 300 });
  topics.add('a', 2);
  const m1 = await c.heartbeat(join('g', ['a'], { rebalanceTimeoutMs: 200 }));
  const m2 = await c.heartbeat(join('g', ['a']));
  // m1 is told to revoke but never acknowledges: removed after its rebalance timeout.
  const r = await c.heartbeat(hb('g', { memberId: m1.memberId!, memberEpoch: 1 }));
  t.equal(parts(r).length, 1);
  // Keep m2 alive.
  for (let i = 0; i < 3; i++) {
    await sleep(120);
    await c.heartbeat(hb('g', { memberId: m2.memberId!, memberEpoch: c.group('g')!.members.get(m2.memberId!)!.memberEpoch }));
  }
  t.notOk(c.group('g')!.members.has(m1.memberId!), 'm1 removed after the rebalance timeout');
  t.equal(c.group('g')!.members.get(m2.memberId!)!.memberEpoch, 3);
  t.equal(c.group('g')!.members.get(m2.memberId!)!.assigned.get('id-a')!.size, 2);
  t.equal((await c.heartbeat(hb('g', { memberId: m1.memberId!, memberEpoch: 1 }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  await sleep(450);
  t.equal(c.groupState('g'), 'Empty', 'm2 expired');
});

t.test('reload after failover: members carry on', async (t) => {
  const store = new MemoryMetadataStore();
  const topics = new FakeTopics();
  topics.add('a', 2);
  const first = await setup(t, {}, store, new FakeCoordinatorCluster('group'), topics);
  const m1 = await first.c.heartbeat(join('fo', ['a']));
  const m2 = await first.c.heartbeat(join('fo', ['a']));
  const r = await first.c.heartbeat(hb('fo', { memberId: m1.memberId!, memberEpoch: 1 }));
  await first.c.close();

  const second = await setup(t, {}, store, new FakeCoordinatorCluster('group'), topics);
  t.equal(second.c.groupState('fo'), 'Reconciling');
  const ack = await second.c.heartbeat(hb('fo', { memberId: m1.memberId!, memberEpoch: 1, topicPartitions: r.assignment }));
  t.equal(ack.errorCode, ErrorCode.NONE);
  t.equal(ack.memberEpoch, 2);
  const m2r = await second.c.heartbeat(hb('fo', { memberId: m2.memberId!, memberEpoch: 2 }));
  t.equal(parts(m2r).length, 1);
  t.equal(second.c.groupState('fo'), 'Stable');

  // Losing the partition: NOT_COORDINATOR; the write fence refuses a stale owner.
  const p = coordinatorPartitionOf('fo');
  second.cluster.move(p, false);
  t.equal((await second.c.heartbeat(hb('fo', { memberId: m2.memberId!, memberEpoch: 2 }))).errorCode, ErrorCode.NOT_COORDINATOR);
  second.cluster.move(p, true);
  await second.c.loadsSettled();
  second.cluster.fenceOk = false;
  t.equal((await second.c.heartbeat(hb('fo', { memberId: m2.memberId!, memberEpoch: 2 }))).errorCode, ErrorCode.NONE, 'no write: no fence');
  t.equal((await second.c.heartbeat(hb('fo', { memberId: m2.memberId!, memberEpoch: -1 }))).errorCode, ErrorCode.NOT_COORDINATOR);
});

t.test('offset commit checks, listing, deleting', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('a', 1);
  t.equal(c.validateOffsetCommit('g', 'm', null, 1), null, 'not a consumer group');
  const m = await c.heartbeat(join('g', ['a']));
  t.equal(c.validateOffsetCommit('g', m.memberId!, null, 1), ErrorCode.NONE);
  t.equal(c.validateOffsetCommit('g', m.memberId!, null, 0), ErrorCode.STALE_MEMBER_EPOCH);
  t.equal(c.validateOffsetCommit('g', 'x', null, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  t.equal(c.validateOffsetCommit('g', '', null, -1), ErrorCode.UNKNOWN_MEMBER_ID);
  t.same(
    c.listGroups([], ['consumer']).map((g) => [g.groupId, g.state]),
    [['g', 'Stable']],
  );
  t.same(c.listGroups([], ['classic']), []);
  t.same(c.listGroups(['empty'], []), []);
  t.equal(await c.deleteGroup('g'), ErrorCode.NON_EMPTY_GROUP);
  t.equal(await c.onClassicJoin('g'), ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  await c.heartbeat(hb('g', { memberId: m.memberId!, memberEpoch: -1 }));
  t.equal(c.validateOffsetCommit('g', '', null, -1), ErrorCode.NONE);
  t.equal(c.describeAsClassic('g')!.state, 'Empty');
  t.equal(await c.deleteGroup('g'), ErrorCode.NONE);
  t.equal(c.group('g'), undefined);
  t.equal(c.onClassicJoin('g'), null);
});

t.test('empty groups without offsets are deleted after a whole cleanup interval', async (t) => {
  const { c, topics, setClassic, store } = await setup(t);
  topics.add('a', 1);
  const m = await c.heartbeat(join('e', ['a']));
  const kept = await c.heartbeat(join('k', ['a']));
  t.same([...c.subscribedTopics('e')!], ['a']);
  await c.heartbeat(hb('e', { memberId: m.memberId!, memberEpoch: -1 }));
  t.equal(c.subscribedTopics('e'), null);
  await c.removeEmptyGroups();
  t.equal(c.groupState('e'), 'Empty', 'first pass: only noted');
  setClassic('Empty');
  await c.removeEmptyGroups();
  t.equal(c.groupState('e'), 'Empty', 'kept while it has offsets');
  setClassic(undefined);
  await c.removeEmptyGroups();
  t.equal(c.groupState('e'), undefined, 'deleted');
  t.equal(c.groupState('k'), 'Stable', 'groups with members stay');
  t.equal((await store.getPrefix('/consumer-groups/')).length, 1);
  t.ok(kept.memberId);
});

t.test('an existing member rejoining with epoch 0', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('a', 1);
  const m = await c.heartbeat(join('z', ['a'], { memberId: 'M' }));
  t.equal(m.memberEpoch, 1);
  const lost = await c.heartbeat(join('z', ['a'], { memberId: 'M' }));
  t.equal(lost.errorCode, ErrorCode.NONE, 'first response lost: previous epoch 0');
  t.equal(lost.memberEpoch, 1);
  await c.heartbeat(join('z', ['a'], { memberId: 'N' }));
  await c.heartbeat(hb('z', { memberId: 'M', memberEpoch: 1, topicPartitions: [{ topicId: 'id-a', partitions: [0] }] }));
  t.equal(c.group('z')!.members.get('M')!.memberEpoch, 2);
  const fenced = await c.heartbeat(join('z', ['a'], { memberId: 'M' }));
  t.equal(fenced.errorCode, ErrorCode.FENCED_MEMBER_EPOCH, 'a rejoin at epoch 0 of a member past its first epoch is fenced');
});

t.test('transactional offset commits without a member', async (t) => {
  const { c, topics } = await setup(t);
  topics.add('a', 1);
  const m = await c.heartbeat(join('tx', ['a']));
  t.equal(c.validateOffsetCommit('tx', '', null, -1), ErrorCode.UNKNOWN_MEMBER_ID);
  t.equal(c.validateOffsetCommit('tx', '', null, -1, true), ErrorCode.NONE);
  t.equal(c.validateOffsetCommit('tx', m.memberId!, null, 0, true), ErrorCode.STALE_MEMBER_EPOCH);
  t.equal(c.validateOffsetCommit('tx', m.memberId!, null, 1, true), ErrorCode.NONE);
});
