// The group coordinator over the in-memory metadata store, with a fake cluster whose coordinator ownership
// the tests move: timers (session, rebalance, initial delay, pending sync), failover and reload, fencing,
// offsets (chunked commits, expiry), and shutdown answering waiting members.
import t from 'tap';
import type { Test } from 'tap';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { GroupCoordinator } from '../../../broker/groups/coordinator.ts';
import type { CoordinatorOptions } from '../../../broker/groups/coordinator.ts';
import type { JoinParams } from '../../../broker/groups/membership.ts';
import { ClassicGroup } from '../../../broker/groups/classic-group.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import type { MetadataStore } from '../../../broker/metadata/store.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';

const baseOptions: CoordinatorOptions = {
  minSessionTimeoutMs: 10,
  maxSessionTimeoutMs: 60_000,
  initialRebalanceDelayMs: 0,
  maxGroupSize: 10,
  maxGroups: 100,
  maxRecordBytes: 100_000,
  offsetsRetentionMs: 60_000,
  retentionCheckIntervalMs: 3_600_000,
  offsetMetadataMaxBytes: 100,
};

async function setup(
  t: Test,
  options: Partial<CoordinatorOptions> = {},
  store: MetadataStore = new MemoryMetadataStore(),
  cluster = new FakeCoordinatorCluster('group'),
) {
  let nowMs = 1_000_000;
  const c = new GroupCoordinator({
    metadata: store,
    cluster: cluster as any,
    logger: silentLogger(),
    options: { ...baseOptions, ...options },
    now: () => nowMs,
  });
  await c.start();
  t.teardown(() => c.close());
  return { c, store, cluster, advance: (ms: number) => (nowMs += ms) };
}

const never = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every few milliseconds until it holds; fails after 10 s. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function params(groupId: string, extra: Partial<JoinParams> = {}): JoinParams {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    requireKnownMemberId: false,
    supportSkipAssignment: false,
    clientId: 'c',
    clientHost: '/127.0.0.1',
    rebalanceTimeoutMs: 300,
    sessionTimeoutMs: 200,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('m') }],
    ...extra,
  };
}

async function joinAndSync(c: GroupCoordinator, groupId: string, extra: Partial<JoinParams> = {}) {
  const j = await c.joinGroup(params(groupId, extra), never);
  const s = await c.syncGroup(
    {
      groupId,
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: extra.groupInstanceId ?? null,
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: j.memberId, assignment: Buffer.from('a') }],
    },
    never,
  );
  return { j, s };
}

t.test('protocol selection: votes among the protocols every member supports', async (t) => {
  const g = new ClassicGroup('g', 0, 0);
  const m = (id: string, names: string[]) => ({
    memberId: id,
    groupInstanceId: null,
    clientId: '',
    clientHost: '',
    rebalanceTimeoutMs: 1,
    sessionTimeoutMs: 1,
    protocolType: 'consumer',
    protocols: names.map((name) => ({ name, metadata: Buffer.alloc(0) })),
    assignment: Buffer.alloc(0),
    joinWaiter: null,
    syncWaiter: null,
    isNew: false,
    sessionTimer: null,
  });
  g.add(m('a', ['sticky', 'range', 'roundrobin']));
  g.add(m('b', ['range', 'roundrobin']));
  g.add(m('c', ['roundrobin', 'range']));
  g.state = 'Stable';
  t.equal(g.selectProtocol(), 'range', 'sticky is not supported by all; range gets two votes');
  t.ok(g.supportsProtocols('consumer', ['roundrobin']));
  t.notOk(g.supportsProtocols('consumer', ['sticky']));
  t.notOk(g.supportsProtocols('connect', ['range']));
});

t.test('session timeout removes a silent member and empties the group', async (t) => {
  const { c } = await setup(t);
  const sessionTimeoutMs = 1000;
  const { j, s } = await joinAndSync(c, 'st', { sessionTimeoutMs });
  t.equal(s.errorCode, 0);
  t.equal(c.groupState('st'), 'Stable');
  t.equal(c.heartbeat('st', j.memberId, null, j.generationId), 0, 'a heartbeat within the session is accepted');
  const lastHeartbeatMs = Date.now();
  await until('the group to empty', () => c.groupState('st') === 'Empty');
  // Timers never fire early: the member cannot have expired before its session ran out after the heartbeat.
  t.ok(Date.now() - lastHeartbeatMs >= sessionTimeoutMs - 2, 'expired after its session, counted from the last heartbeat');
  t.equal(c.heartbeat('st', j.memberId, null, j.generationId), ErrorCode.UNKNOWN_MEMBER_ID);
});

t.test('rebalance timeout: a member that does not rejoin is removed', async (t) => {
  const { c } = await setup(t, {}, undefined);
  const a = await joinAndSync(c, 'rt', { sessionTimeoutMs: 5000 });
  const bJoin = c.joinGroup(params('rt', { sessionTimeoutMs: 5000 }), never);
  t.equal(c.groupState('rt'), 'PreparingRebalance');
  const b = await bJoin;
  t.equal(b.errorCode, 0, 'completed at the rebalance timeout without the first member');
  t.equal(b.leaderId, b.memberId);
  t.equal(b.members.length, 1);
  t.equal(c.heartbeat('rt', a.j.memberId, null, a.j.generationId), ErrorCode.UNKNOWN_MEMBER_ID);
});

t.test('initial delay waits for more members of a new group', async (t) => {
  // The second member joins well inside the delay (1 s); the delay then restarts from its join.
  const { c } = await setup(t, { initialRebalanceDelayMs: 1000 });
  const started = Date.now();
  const p1 = c.joinGroup(params('init', { rebalanceTimeoutMs: 5000 }), never);
  await sleep(60);
  const secondJoinedMs = Date.now();
  const p2 = c.joinGroup(params('init', { rebalanceTimeoutMs: 5000 }), never);
  const [r1, r2] = await Promise.all([p1, p2]);
  t.ok(Date.now() - secondJoinedMs >= 1000 - 2, `the delay was extended by the second member (${Date.now() - started} ms in all)`);
  t.equal(r1.generationId, 1);
  t.equal(r2.generationId, 1);
  t.equal([r1, r2].filter((r) => r.members.length === 2).length, 1, 'one leader with both members');
});

t.test('members that never sync are removed after the rebalance timeout', async (t) => {
  // A rebalance timeout of 2 s: the follower goes after it, the leader (which does not rejoin) 2 s later, so the
  // state between the two is seen however slow the machine is.
  const { c } = await setup(t, { initialRebalanceDelayMs: 30 });
  const [a, b] = await Promise.all([
    c.joinGroup(params('ps', { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 2000 }), never),
    c.joinGroup(params('ps', { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 2000 }), never),
  ]);
  const leader = a.leaderId === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  const sync = await c.syncGroup(
    {
      groupId: 'ps',
      generationId: leader.generationId,
      memberId: leader.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    },
    never,
  );
  t.equal(sync.errorCode, 0);
  await until(
    'the follower to be removed',
    () => c.heartbeat('ps', follower.memberId, null, follower.generationId) === ErrorCode.UNKNOWN_MEMBER_ID,
  );
  t.equal(c.groupState('ps'), 'PreparingRebalance', 'the follower was removed and a rebalance started');
  t.equal(c.heartbeat('ps', leader.memberId, null, leader.generationId), ErrorCode.REBALANCE_IN_PROGRESS);
});

t.test('coordinator moves: NOT_COORDINATOR when lost, the group reloads when regained', async (t) => {
  const store = new MemoryMetadataStore();
  const cluster = new FakeCoordinatorCluster('group');
  const { c } = await setup(t, {}, store, cluster);
  const p = coordinatorPartitionOf('moving');
  const { j } = await joinAndSync(c, 'moving', { sessionTimeoutMs: 5000 });
  await c.commitOffsets({
    groupId: 'moving',
    memberId: j.memberId,
    groupInstanceId: null,
    generationId: j.generationId,
    entries: [{ topic: 't', partition: 0, offset: 5, leaderEpoch: 1, metadata: 'x', commitTimestampMs: 1, expireTimestampMs: null }],
  });
  cluster.move(p, false);
  t.equal(c.heartbeat('moving', j.memberId, null, j.generationId), ErrorCode.NOT_COORDINATOR);
  t.same(c.fetchOffsets('moving', null).errorCode, ErrorCode.NOT_COORDINATOR);
  // Another coordinator instance (another broker) serves it from the store.
  const other = await setup(t, {}, store, cluster);
  t.equal(other.c.heartbeat('moving', j.memberId, null, j.generationId), ErrorCode.NOT_COORDINATOR);
  cluster.move(p, true);
  t.equal(other.c.heartbeat('moving', j.memberId, null, j.generationId), ErrorCode.NONE, 'answered blindly while loading');
  t.equal(other.c.describeGroup('moving').errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  await other.c.loadsSettled();
  t.equal(other.c.groupState('moving'), 'Stable');
  t.equal(other.c.heartbeat('moving', j.memberId, null, j.generationId), ErrorCode.NONE);
  const f = other.c.fetchOffsets('moving', [{ name: 't', partitions: [0] }]);
  t.same(f.topics[0]!.partitions[0], { partition: 0, offset: 5, leaderEpoch: 1, metadata: 'x', errorCode: 0 });
  const s = await other.c.syncGroup(
    {
      groupId: 'moving',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [],
    },
    never,
  );
  t.same([s.errorCode, s.assignment.toString()], [0, 'a']);
});

t.test('a fenced write answers NOT_COORDINATOR', async (t) => {
  const { c, cluster } = await setup(t);
  cluster.fenceOk = false;
  const codes = await c.commitOffsets({
    groupId: 'fenced',
    memberId: '',
    groupInstanceId: null,
    generationId: -1,
    entries: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null, commitTimestampMs: 1, expireTimestampMs: null }],
  });
  t.same(codes, [ErrorCode.NOT_COORDINATOR]);
  const j = await c.joinGroup(params('fenced-sync'), never);
  const s = await c.syncGroup(
    {
      groupId: 'fenced-sync',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    },
    never,
  );
  t.equal(s.errorCode, ErrorCode.NOT_COORDINATOR);
});

t.test('large commits are split across transactions', async (t) => {
  const { c, store } = await setup(t);
  const entries = Array.from({ length: 250 }, (_, i) => ({
    topic: 'big',
    partition: i,
    offset: i,
    leaderEpoch: -1,
    metadata: 'm'.repeat(50),
    commitTimestampMs: 1,
    expireTimestampMs: null,
  }));
  const codes = await c.commitOffsets({ groupId: 'bulk', memberId: '', groupInstanceId: null, generationId: -1, entries });
  t.ok(codes.every((x) => x === 0));
  const all = c.fetchOffsets('bulk', null);
  t.equal(all.topics[0]!.partitions.length, 250);
  t.equal((await store.getPrefix('/offsets/')).length, 250);
});

t.test('offset expiry: explicit expire time, empty groups, subscribed topics kept', async (t) => {
  const { c, advance } = await setup(t);
  await c.commitOffsets({
    groupId: 'simple-x',
    memberId: '',
    groupInstanceId: null,
    generationId: -1,
    entries: [
      { topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null, commitTimestampMs: 1_000_000, expireTimestampMs: 1_000_500 },
      { topic: 't', partition: 1, offset: 1, leaderEpoch: -1, metadata: null, commitTimestampMs: 1_000_000, expireTimestampMs: null },
    ],
  });
  advance(1000);
  await c.expireOffsets();
  t.same(
    c.fetchOffsets('simple-x', null).topics[0]!.partitions.map((p) => p.partition),
    [1],
    'the explicitly expiring offset went',
  );
  advance(60_000);
  await c.expireOffsets();
  t.equal(c.groupState('simple-x'), undefined, 'all offsets expired: the group is gone');
  t.equal(c.describeGroup('simple-x').state, 'Dead');
});

t.test('close answers waiting members', async (t) => {
  const { c } = await setup(t, { initialRebalanceDelayMs: 10_000 });
  const waiting = c.joinGroup(params('closing', { rebalanceTimeoutMs: 20_000 }), never);
  await c.close();
  t.equal((await waiting).errorCode, ErrorCode.NOT_COORDINATOR);
});

t.test('a join whose connection closes still counts as joining', async (t) => {
  const { c } = await setup(t, { initialRebalanceDelayMs: 50 });
  const ac = new AbortController();
  const gone = c.joinGroup(params('aborted', { rebalanceTimeoutMs: 1000 }), ac.signal);
  ac.abort();
  t.equal((await gone).errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
  const other = await c.joinGroup(params('aborted', { rebalanceTimeoutMs: 1000 }), never);
  t.equal(other.generationId, 1);
  t.equal(c.describeGroup('aborted').members.length, 2, 'the member whose connection closed is in the generation');
});

t.test('static members: fencing of a waiting old incarnation, skipAssignment for a rejoining leader (v9)', async (t) => {
  const { c } = await setup(t, { initialRebalanceDelayMs: 30 });
  const first = await c.joinGroup(params('st9', { groupInstanceId: 'i1', sessionTimeoutMs: 5000 }), never);
  t.equal(first.errorCode, 0);
  // The old incarnation waits for its assignment; the leader (itself) has not synced yet... it syncs now.
  const s = await c.syncGroup(
    {
      groupId: 'st9',
      generationId: first.generationId,
      memberId: first.memberId,
      groupInstanceId: 'i1',
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: first.memberId, assignment: Buffer.from('x') }],
    },
    never,
  );
  t.equal(s.errorCode, 0);
  const again = await c.joinGroup(params('st9', { groupInstanceId: 'i1', sessionTimeoutMs: 5000, supportSkipAssignment: true }), never);
  t.equal(again.errorCode, 0);
  t.equal(again.generationId, first.generationId, 'no new generation');
  t.equal(again.leaderId, again.memberId);
  t.ok(again.skipAssignment);
  t.equal(again.members.length, 1);
  t.equal(c.heartbeat('st9', first.memberId, 'i1', first.generationId), ErrorCode.FENCED_INSTANCE_ID);
  // A rejoin with other protocols while stable changes the selected protocol: a rebalance.
  const changed = await c.joinGroup(
    params('st9', {
      groupInstanceId: 'i1',
      sessionTimeoutMs: 5000,
      protocols: [
        { name: 'roundrobin', metadata: Buffer.alloc(0) },
        { name: 'range', metadata: Buffer.alloc(0) },
      ],
    }),
    never,
  );
  t.equal(changed.generationId, first.generationId + 1);
  t.equal(changed.protocolName, 'roundrobin');
});

t.test('a member leaving while others wait for their assignment restarts the rebalance', async (t) => {
  const { c } = await setup(t, { initialRebalanceDelayMs: 30 });
  const [a, b] = await Promise.all([
    c.joinGroup(params('lv', { sessionTimeoutMs: 5000 }), never),
    c.joinGroup(params('lv', { sessionTimeoutMs: 5000 }), never),
  ]);
  const follower = a.leaderId === a.memberId ? b : a;
  const leader = follower === a ? b : a;
  const waiting = c.syncGroup(
    {
      groupId: 'lv',
      generationId: follower.generationId,
      memberId: follower.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    },
    never,
  );
  const left = c.leaveGroup('lv', [{ memberId: leader.memberId, groupInstanceId: null }]);
  t.same(
    left.members.map((m) => m.errorCode),
    [0],
  );
  t.equal((await waiting).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  t.equal(c.groupState('lv'), 'PreparingRebalance');
});

t.test('an assignment too large to store fails the sync with UNKNOWN_SERVER_ERROR', async (t) => {
  const { c } = await setup(t, { maxRecordBytes: 2000 });
  const j = await c.joinGroup(params('huge', { sessionTimeoutMs: 5000 }), never);
  const s = await c.syncGroup(
    {
      groupId: 'huge',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: j.memberId, assignment: Buffer.alloc(5000) }],
    },
    never,
  );
  t.equal(s.errorCode, ErrorCode.UNKNOWN_SERVER_ERROR);
  t.equal(c.groupState('huge'), 'PreparingRebalance');
});

t.test('DeleteGroups and topic deletion remove keys from the store', async (t) => {
  const { c, store } = await setup(t);
  const entry = (topic: string) => ({
    topic,
    partition: 0,
    offset: 1,
    leaderEpoch: -1,
    metadata: null,
    commitTimestampMs: 1,
    expireTimestampMs: null,
  });
  await c.commitOffsets({ groupId: 'del/ü', memberId: '', groupInstanceId: null, generationId: -1, entries: [entry('a'), entry('b')] });
  await c.onTopicDeleted('a');
  t.same(
    c.fetchOffsets('del/ü', null).topics.map((x) => x.name),
    ['b'],
  );
  t.equal((await store.getPrefix('/offsets/')).length, 1);
  t.same(await c.deleteGroups(['del/ü', 'del/ü']), [0, ErrorCode.GROUP_ID_NOT_FOUND]);
  t.equal((await store.getPrefix('/offsets/')).length, 0);
  t.equal((await store.getPrefix('/groups/')).length, 0);
});

t.test("members' protocol metadata is bounded per group", async (t) => {
  const { c } = await setup(t, { maxRecordBytes: 1000 });
  const big = params('fat', { protocols: [{ name: 'range', metadata: Buffer.alloc(4100) }] });
  t.equal((await c.joinGroup(big, never)).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  t.equal(c.groupState('fat'), undefined, 'no group left behind');
});

t.test('TxnOffsetCommit with generation -1 and a member id is accepted while the group is Empty (Kafka 4)', async (t) => {
  const { c } = await setup(t);
  const entry = { topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null, commitTimestampMs: 1, expireTimestampMs: null };
  t.same(await c.commitOffsets({ groupId: 'txn-empty', memberId: '', groupInstanceId: null, generationId: -1, entries: [entry] }), [0]);
  t.equal(c.groupState('txn-empty'), 'Empty');
  t.equal(c.validateTxnOffsetCommit('txn-empty', -1, 'm-1', null), ErrorCode.NONE);
  t.equal(c.validateTxnOffsetCommit('txn-empty', -1, 'm-2', 'instance'), ErrorCode.NONE);
  t.equal(c.validateTxnOffsetCommit('txn-empty', 1, 'm-1', null), ErrorCode.UNKNOWN_MEMBER_ID, 'a generation >= 0 needs a member');
  const { j } = await joinAndSync(c, 'txn-empty');
  t.equal(c.validateTxnOffsetCommit('txn-empty', -1, 'm-1', null), ErrorCode.UNKNOWN_MEMBER_ID, 'with members, the member is checked');
  t.equal(c.validateTxnOffsetCommit('txn-empty', -1, j.memberId, null), ErrorCode.ILLEGAL_GENERATION);
  t.equal(c.validateTxnOffsetCommit('txn-empty', -1, '', null), ErrorCode.NONE, 'a transactional commit need not name a member');
});
