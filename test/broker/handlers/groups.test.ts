// The consumer group APIs over the wire: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups, OffsetDelete, across versions.
import t from 'tap';
import { ApiKey, encodeConsumerProtocolSubscription } from '../../../broker/protocol/generated/index.ts';
import { Writer } from '../../../broker/protocol/wire/writer.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startBrokerIn, startTestBroker, TestClient } from './support/client.ts';

const sets = { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '100', 'group.max.size': '3' };

function subscription(topics: string[]): Buffer {
  const w = new Writer();
  w.int16(0);
  encodeConsumerProtocolSubscription(w, 0, { topics, userData: null });
  return w.finish();
}

function join(client: TestClient, v: number, body: Record<string, unknown>): Promise<any> {
  return client.request(ApiKey.JoinGroup, v, {
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 5000,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: subscription(['gt']) }],
    reason: null,
    ...body,
  });
}

/** v5 join with the MEMBER_ID_REQUIRED round trip. */
async function joinV5(client: TestClient, groupId: string, extra: Record<string, unknown> = {}): Promise<any> {
  const first = await join(client, 5, { groupId, ...extra });
  if (first.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) return first;
  return join(client, 5, { groupId, memberId: first.memberId, ...extra });
}

t.test('consumer group APIs', async (t) => {
  const { client, port } = await startTestBroker(t, sets);
  await createTopic(client, 'gt', 3);

  t.test('FindCoordinator v0, v3 and batched v4', async (t) => {
    const r0 = await client.request(ApiKey.FindCoordinator, 0, { key: 'g' });
    t.equal(r0.errorCode, 0);
    t.equal(r0.port, port);
    const r3 = await client.request(ApiKey.FindCoordinator, 3, { key: 'tx', keyType: 1 });
    t.match(r3, { errorCode: 0, errorMessage: 'NONE', port });
    const r4 = await client.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b/c'] });
    t.equal(r4.coordinators.length, 2);
    t.match(r4.coordinators[1], { key: 'b/c', errorCode: 0, port });
    const bad = await client.request(ApiKey.FindCoordinator, 6, { keyType: 7, coordinatorKeys: ['a'] });
    t.equal(bad.coordinators[0].errorCode, ErrorCode.INVALID_REQUEST);
  });

  t.test('JoinGroup errors', async (t) => {
    t.equal((await join(client, 5, { groupId: '' })).errorCode, ErrorCode.INVALID_GROUP_ID);
    t.equal((await join(client, 5, { groupId: 'e1', sessionTimeoutMs: 10 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    t.equal((await join(client, 5, { groupId: 'e1', sessionTimeoutMs: 1_900_000 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    t.equal((await join(client, 5, { groupId: 'e1', memberId: 'nobody' })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    t.equal((await join(client, 5, { groupId: 'e1', protocols: [] })).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const first = await join(client, 4, { groupId: 'e1' });
    t.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    t.match(first.memberId, /^handler-test-/);
  });

  t.test('one member: join, sync, heartbeat, commit, fetch, leave (v0 and v3)', async (t) => {
    const j = await join(client, 0, { groupId: 'solo' });
    t.equal(j.errorCode, 0);
    t.equal(j.generationId, 1);
    t.equal(j.leader, j.memberId);
    t.equal(j.protocolName, 'range');
    t.equal(j.members.length, 1);
    const assignment = Buffer.from('any bytes at all \u0000\u00ff');
    const s = await client.request(ApiKey.SyncGroup, 0, {
      groupId: 'solo',
      generationId: 1,
      memberId: j.memberId,
      assignments: [{ memberId: j.memberId, assignment }],
    });
    t.equal(s.errorCode, 0);
    t.same(Buffer.from(s.assignment), assignment, 'assignment delivered byte for byte');
    t.equal((await client.request(ApiKey.Heartbeat, 0, { groupId: 'solo', generationId: 1, memberId: j.memberId })).errorCode, 0);
    t.equal(
      (await client.request(ApiKey.Heartbeat, 0, { groupId: 'solo', generationId: 2, memberId: j.memberId })).errorCode,
      ErrorCode.ILLEGAL_GENERATION,
    );
    t.equal(
      (await client.request(ApiKey.Heartbeat, 0, { groupId: 'solo', generationId: 1, memberId: 'x' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );

    const c = await client.request(ApiKey.OffsetCommit, 2, {
      groupId: 'solo',
      generationIdOrMemberEpoch: 1,
      memberId: j.memberId,
      retentionTimeMs: -1,
      topics: [
        {
          name: 'gt',
          partitions: [
            { partitionIndex: 0, committedOffset: 42, committedMetadata: 'meta' },
            { partitionIndex: 9, committedOffset: 1, committedMetadata: null },
          ],
        },
        { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: null }] },
      ],
    });
    t.same(
      c.topics.map((x: any) => x.partitions.map((p: any) => p.errorCode)),
      [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]],
    );
    const stale = await client.request(ApiKey.OffsetCommit, 2, {
      groupId: 'solo',
      generationIdOrMemberEpoch: 7,
      memberId: j.memberId,
      retentionTimeMs: -1,
      topics: [{ name: 'gt', partitions: [{ partitionIndex: 0, committedOffset: 43, committedMetadata: null }] }],
    });
    t.equal(stale.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);
    const admin = await client.request(ApiKey.OffsetCommit, 8, {
      groupId: 'solo',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: 'gt', partitions: [{ partitionIndex: 1, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    t.equal(admin.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'no admin commits while the group has members');

    const f1 = await client.request(ApiKey.OffsetFetch, 1, { groupId: 'solo', topics: [{ name: 'gt', partitionIndexes: [0, 1] }] });
    t.same(
      f1.topics[0].partitions.map((p: any) => [p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode]),
      [
        [0, 42, 'meta', 0],
        [1, -1, '', 0],
      ],
    );
    const all = await client.request(ApiKey.OffsetFetch, 5, { groupId: 'solo', topics: null });
    t.equal(all.errorCode, 0);
    t.same(
      all.topics.map((x: any) => [x.name, x.partitions.map((p: any) => Number(p.committedOffset))]),
      [['gt', [42]]],
    );

    const d = await client.request(ApiKey.DescribeGroups, 5, { groups: ['solo', 'ghost'], includeAuthorizedOperations: true });
    t.match(d.groups[0], { errorCode: 0, groupState: 'Stable', protocolType: 'consumer', protocolData: 'range' });
    t.same(Buffer.from(d.groups[0].members[0].memberAssignment), assignment);
    t.match(d.groups[0].members[0], { memberId: j.memberId, clientId: 'handler-test', clientHost: '/127.0.0.1' });
    t.match(d.groups[1], { errorCode: 0, groupState: 'Dead', members: [] });

    const l = await client.request(ApiKey.LeaveGroup, 0, { groupId: 'solo', memberId: j.memberId });
    t.equal(l.errorCode, 0);
    const again = await client.request(ApiKey.LeaveGroup, 3, {
      groupId: 'solo',
      members: [{ memberId: j.memberId, groupInstanceId: null }],
    });
    t.same(
      again.members.map((m: any) => m.errorCode),
      [ErrorCode.UNKNOWN_MEMBER_ID],
    );
    // The group empties once the rebalance the leave started completes (no member left to wait for).
    const deadline = Date.now() + 10_000;
    let state = '';
    while ((state = (await client.request(ApiKey.DescribeGroups, 0, { groups: ['solo'] })).groups[0].groupState) !== 'Empty') {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.equal(state, 'Empty');
    const adminOk = await client.request(ApiKey.OffsetCommit, 0, {
      groupId: 'solo',
      topics: [{ name: 'gt', partitions: [{ partitionIndex: 1, committedOffset: 5, committedMetadata: 'v0' }] }],
    });
    t.equal(adminOk.topics[0].partitions[0].errorCode, 0, 'admin commit to an empty group');
  });

  t.test('OffsetCommit with generation -1 and a member id: accepted while the group is Empty (Kafka 4)', async (t) => {
    const commit = async (groupId: string, generation: number, memberId: string, groupInstanceId: string | null = null) =>
      (
        await client.request(ApiKey.OffsetCommit, 8, {
          groupId,
          generationIdOrMemberEpoch: generation,
          memberId,
          groupInstanceId,
          topics: [
            { name: 'gt', partitions: [{ partitionIndex: 2, committedOffset: 7, committedLeaderEpoch: -1, committedMetadata: null }] },
          ],
        })
      ).topics[0].partitions[0].errorCode;
    // A consumer that assigns partitions itself (librdkafka's assign() in KIP-848 mode) names its member id.
    t.equal(await commit('manual', -1, 'rdkafka-member-1'), 0, 'a new group is created and takes the commit');
    t.equal(await commit('manual', -1, 'rdkafka-member-2', 'static-1'), 0, 'any member or instance id while Empty');
    const f = await client.request(ApiKey.OffsetFetch, 1, { groupId: 'manual', topics: [{ name: 'gt', partitionIndexes: [2] }] });
    t.equal(Number(f.topics[0].partitions[0].committedOffset), 7);
    t.equal(await commit('manual', 0, 'rdkafka-member-1'), ErrorCode.UNKNOWN_MEMBER_ID, 'a generation >= 0 still needs a member');

    // With members, a negative generation is checked as before: an unknown member, or a member's wrong generation.
    const j = await joinV5(client, 'manual-members');
    t.equal(j.errorCode, 0);
    const s = await client.request(ApiKey.SyncGroup, 5, {
      groupId: 'manual-members',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: j.memberId, assignment: Buffer.alloc(0) }],
    });
    t.equal(s.errorCode, 0);
    t.equal(await commit('manual-members', -1, 'someone-else'), ErrorCode.UNKNOWN_MEMBER_ID);
    t.equal(await commit('manual-members', -1, j.memberId), ErrorCode.ILLEGAL_GENERATION);
    t.equal((await client.request(ApiKey.LeaveGroup, 0, { groupId: 'manual-members', memberId: j.memberId })).errorCode, 0);
    // Empty once the rebalance the leave started completes.
    const deadline = Date.now() + 10_000;
    let state = '';
    while ((state = (await client.request(ApiKey.DescribeGroups, 0, { groups: ['manual-members'] })).groups[0].groupState) !== 'Empty') {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    t.equal(state, 'Empty');
    t.equal(await commit('manual-members', -1, j.memberId), 0, 'once the group is Empty again');
  });

  t.test('two members: rebalance, REBALANCE_IN_PROGRESS, leader assignment per member', async (t) => {
    const c2 = await TestClient.connect(port);
    t.teardown(() => c2.close());
    const a = await joinV5(client, 'duo');
    t.equal(a.errorCode, 0);
    t.equal(a.generationId, 1);
    const sa = await client.request(ApiKey.SyncGroup, 5, {
      groupId: 'duo',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: a.memberId, assignment: Buffer.from('A1') }],
    });
    t.match(sa, { errorCode: 0, protocolType: 'consumer', protocolName: 'range' });
    // A second member joins: the first learns of the rebalance from its heartbeat and rejoins.
    const bFirst = await join(c2, 5, { groupId: 'duo' });
    t.equal(bFirst.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const bJoin = join(c2, 5, { groupId: 'duo', memberId: bFirst.memberId });
    await new Promise((r) => setTimeout(r, 50));
    t.equal(
      (await client.request(ApiKey.Heartbeat, 4, { groupId: 'duo', generationId: 1, memberId: a.memberId, groupInstanceId: null }))
        .errorCode,
      ErrorCode.REBALANCE_IN_PROGRESS,
    );
    const syncDuring = await client.request(ApiKey.SyncGroup, 3, {
      groupId: 'duo',
      generationId: 1,
      memberId: a.memberId,
      groupInstanceId: null,
      assignments: [],
    });
    t.equal(syncDuring.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    const [a2, b] = await Promise.all([join(client, 5, { groupId: 'duo', memberId: a.memberId }), bJoin]);
    t.equal(a2.generationId, 2);
    t.equal(b.generationId, 2);
    const leader = a2.leader === a2.memberId ? { c: client, j: a2 } : { c: c2, j: b };
    const follower = leader.j === a2 ? { c: c2, j: b } : { c: client, j: a2 };
    t.equal(leader.j.members.length, 2);
    t.equal(follower.j.members.length, 0);
    const followerSync = follower.c.request(ApiKey.SyncGroup, 4, {
      groupId: 'duo',
      generationId: 2,
      memberId: follower.j.memberId,
      groupInstanceId: null,
      assignments: [],
    });
    const leaderSync = await leader.c.request(ApiKey.SyncGroup, 4, {
      groupId: 'duo',
      generationId: 2,
      memberId: leader.j.memberId,
      groupInstanceId: null,
      assignments: [
        { memberId: leader.j.memberId, assignment: Buffer.from('L') },
        { memberId: follower.j.memberId, assignment: Buffer.from('F') },
      ],
    });
    t.equal(Buffer.from(leaderSync.assignment).toString(), 'L');
    t.equal(Buffer.from((await followerSync).assignment).toString(), 'F');
    const wrongProto = await client.request(ApiKey.SyncGroup, 5, {
      groupId: 'duo',
      generationId: 2,
      memberId: a2.memberId,
      groupInstanceId: null,
      protocolType: 'connect',
      protocolName: 'range',
      assignments: [],
    });
    t.equal(wrongProto.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const inconsistent = await join(c2, 5, { groupId: 'duo', protocolType: 'connect' });
    t.equal(inconsistent.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    const del = await client.request(ApiKey.DeleteGroups, 1, { groupsNames: ['duo', 'never'] });
    t.same(
      del.results.map((r: any) => r.errorCode),
      [ErrorCode.NON_EMPTY_GROUP, ErrorCode.GROUP_ID_NOT_FOUND],
    );
    const od = await client.request(ApiKey.OffsetDelete, 0, {
      groupId: 'duo',
      topics: [
        { name: 'gt', partitions: [{ partitionIndex: 0 }] },
        { name: 'other', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    t.equal(od.errorCode, 0);
    t.same(
      od.topics.map((x: any) => x.partitions[0].errorCode),
      [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    );

    const lg = await client.request(ApiKey.ListGroups, 5, { statesFilter: ['stable'], typesFilter: ['classic'] });
    t.same(
      lg.groups.map((g: any) => [g.groupId, g.groupState, g.groupType]),
      [['duo', 'Stable', 'classic']],
    );
    const lg0 = await client.request(ApiKey.ListGroups, 0, {});
    t.ok(lg0.groups.some((g: any) => g.groupId === 'solo' && g.protocolType === 'consumer'));

    const batch = await client.request(ApiKey.LeaveGroup, 5, {
      groupId: 'duo',
      members: [
        { memberId: a2.memberId, groupInstanceId: null, reason: null },
        { memberId: b.memberId, groupInstanceId: null, reason: 'bye' },
        { memberId: 'zz', groupInstanceId: null, reason: null },
      ],
    });
    t.same(
      batch.members.map((m: any) => m.errorCode),
      [0, 0, ErrorCode.UNKNOWN_MEMBER_ID],
    );
    const del2 = await client.request(ApiKey.DeleteGroups, 2, { groupsNames: ['duo'] });
    t.same(
      del2.results.map((r: any) => r.errorCode),
      [0],
    );
  });

  t.test('group.max.size', async (t) => {
    const clients = await Promise.all([0, 1, 2, 3].map(() => TestClient.connect(port)));
    t.teardown(() => clients.forEach((c) => c.close()));
    const firsts = await Promise.all(clients.map((c) => join(c, 4, { groupId: 'full' })));
    t.same(
      firsts.map((f) => f.errorCode),
      [ErrorCode.MEMBER_ID_REQUIRED, ErrorCode.MEMBER_ID_REQUIRED, ErrorCode.MEMBER_ID_REQUIRED, ErrorCode.GROUP_MAX_SIZE_REACHED],
    );
  });

  t.test('static membership: rejoin without rebalance, fencing', async (t) => {
    const a = await join(client, 5, { groupId: 'static', groupInstanceId: 'i-1' });
    t.equal(a.errorCode, 0, 'static members join without MEMBER_ID_REQUIRED');
    await client.request(ApiKey.SyncGroup, 3, {
      groupId: 'static',
      generationId: a.generationId,
      memberId: a.memberId,
      groupInstanceId: 'i-1',
      assignments: [{ memberId: a.memberId, assignment: Buffer.from('S') }],
    });
    // The same instance restarts (unknown member id): new member id, same generation, no rebalance.
    const a2 = await join(client, 5, { groupId: 'static', groupInstanceId: 'i-1' });
    t.equal(a2.errorCode, 0);
    t.equal(a2.generationId, a.generationId);
    t.not(a2.memberId, a.memberId);
    const s2 = await client.request(ApiKey.SyncGroup, 3, {
      groupId: 'static',
      generationId: a2.generationId,
      memberId: a2.memberId,
      groupInstanceId: 'i-1',
      assignments: [],
    });
    t.equal(Buffer.from(s2.assignment).toString(), 'S', 'the assignment survives the restart');
    t.equal(
      (
        await client.request(ApiKey.Heartbeat, 3, {
          groupId: 'static',
          generationId: a.generationId,
          memberId: a.memberId,
          groupInstanceId: 'i-1',
        })
      ).errorCode,
      ErrorCode.FENCED_INSTANCE_ID,
    );
    const oc = await client.request(ApiKey.OffsetCommit, 7, {
      groupId: 'static',
      generationIdOrMemberEpoch: a.generationId,
      memberId: a.memberId,
      groupInstanceId: 'i-1',
      topics: [{ name: 'gt', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: 3, committedMetadata: null }] }],
    });
    t.equal(oc.topics[0].partitions[0].errorCode, ErrorCode.FENCED_INSTANCE_ID);
    const d = await client.request(ApiKey.DescribeGroups, 4, { groups: ['static'], includeAuthorizedOperations: false });
    t.equal(d.groups[0].members[0].groupInstanceId, 'i-1');
    // Removal by instance id (admin leave).
    const l = await client.request(ApiKey.LeaveGroup, 4, { groupId: 'static', members: [{ memberId: '', groupInstanceId: 'i-1' }] });
    t.same(
      l.members.map((m: any) => m.errorCode),
      [0],
    );
  });

  t.test('OffsetCommit metadata limit, leader epoch and OffsetFetch v8 groups', async (t) => {
    const big = 'x'.repeat(4097);
    const r = await client.request(ApiKey.OffsetCommit, 9, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        {
          name: 'gt',
          partitions: [
            { partitionIndex: 0, committedOffset: 7, committedLeaderEpoch: 2, committedMetadata: 'ok' },
            { partitionIndex: 1, committedOffset: 8, committedLeaderEpoch: -1, committedMetadata: big },
          ],
        },
      ],
    });
    t.same(
      r.topics[0].partitions.map((p: any) => p.errorCode),
      [0, ErrorCode.OFFSET_METADATA_TOO_LARGE],
    );
    const f = await client.request(ApiKey.OffsetFetch, 8, {
      groups: [
        { groupId: 'simple', topics: [{ name: 'gt', partitionIndexes: [0, 1] }] },
        { groupId: 'unknown', topics: null },
      ],
      requireStable: true,
    });
    t.same(
      f.groups[0].topics[0].partitions.map((p: any) => [Number(p.committedOffset), p.committedLeaderEpoch, p.metadata]),
      [
        [7, 2, 'ok'],
        [-1, -1, ''],
      ],
    );
    t.same(f.groups[1], { groupId: 'unknown', topics: [], errorCode: 0, _tagged: f.groups[1]._tagged });
    const od = await client.request(ApiKey.OffsetDelete, 0, {
      groupId: 'simple',
      topics: [{ name: 'gt', partitions: [{ partitionIndex: 0 }] }],
    });
    t.equal(od.topics[0].partitions[0].errorCode, 0);
    const gone = await client.request(ApiKey.DeleteGroups, 0, { groupsNames: ['simple'] });
    t.equal(gone.results[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND, 'an empty group without offsets is dead');
    const od2 = await client.request(ApiKey.OffsetDelete, 0, { groupId: 'simple', topics: [] });
    t.equal(od2.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

t.test('groups and offsets survive a restart; a deleted topic takes its offsets', async (t) => {
  const dir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'skafos-groups-'));
  t.teardown(() => {
    void import('node:fs').then((fs) => fs.rmSync(dir, { recursive: true, force: true }));
  });
  let b = await startBrokerIn(dir, sets);
  await createTopic(b.client, 'keep', 2);
  await createTopic(b.client, 'drop', 1);
  const j = await join(b.client, 3, { groupId: 'durable', protocols: [{ name: 'range', metadata: subscription(['keep']) }] });
  await b.client.request(ApiKey.SyncGroup, 3, {
    groupId: 'durable',
    generationId: j.generationId,
    memberId: j.memberId,
    groupInstanceId: null,
    assignments: [{ memberId: j.memberId, assignment: Buffer.from('kept') }],
  });
  const c = await b.client.request(ApiKey.OffsetCommit, 6, {
    groupId: 'durable',
    generationIdOrMemberEpoch: j.generationId,
    memberId: j.memberId,
    topics: [
      { name: 'keep', partitions: [{ partitionIndex: 1, committedOffset: 99, committedLeaderEpoch: 0, committedMetadata: 'm' }] },
      { name: 'drop', partitions: [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: 0, committedMetadata: null }] },
    ],
  });
  t.same(
    c.topics.map((x: any) => x.partitions[0].errorCode),
    [0, 0],
  );
  const del = await b.client.request(ApiKey.DeleteTopics, 4, { topicNames: ['drop'], timeoutMs: 5000 });
  t.equal(del.responses[0].errorCode, 0);
  await b.close();
  b = await startBrokerIn(dir, sets);
  t.teardown(() => b.close());
  const d = await b.client.request(ApiKey.DescribeGroups, 1, { groups: ['durable'] });
  t.match(d.groups[0], { groupState: 'Stable', protocolData: 'range' });
  t.equal(d.groups[0].members[0].memberId, j.memberId);
  // The member carries on where it was: heartbeat and sync work in the stored generation.
  t.equal(
    (await b.client.request(ApiKey.Heartbeat, 1, { groupId: 'durable', generationId: j.generationId, memberId: j.memberId })).errorCode,
    0,
  );
  const s = await b.client.request(ApiKey.SyncGroup, 1, {
    groupId: 'durable',
    generationId: j.generationId,
    memberId: j.memberId,
    assignments: [],
  });
  t.equal(Buffer.from(s.assignment).toString(), 'kept');
  const f = await b.client.request(ApiKey.OffsetFetch, 7, { groupId: 'durable', topics: null, requireStable: false });
  t.same(
    f.topics.map((x: any) => [x.name, x.partitions.map((p: any) => [p.partitionIndex, Number(p.committedOffset), p.metadata])]),
    [['keep', [[1, 99, 'm']]]],
  );
});

t.test('every version of every group API answers with the error codes Apache Kafka gives', async (t) => {
  const { client } = await startTestBroker(t, sets);
  await createTopic(client, 'vv', 1);
  const part = (v: number) => ({
    partitionIndex: 0,
    committedOffset: 3,
    committedMetadata: 'x',
    ...(v === 1 ? { commitTimestamp: -1 } : {}),
    ...(v >= 6 ? { committedLeaderEpoch: -1 } : {}),
  });
  const { NONE, UNKNOWN_MEMBER_ID, GROUP_ID_NOT_FOUND } = ErrorCode;
  // Each row: api, versions, request body, the error codes (and a few identifying fields) read from the
  // response, and what Kafka answers. The calls run in order: 'vg' does not exist until the OffsetCommit
  // rows create it as an Empty group (a commit with generation -1 and no member is a "simple" commit).
  // Heartbeat, SyncGroup and LeaveGroup to an unknown group answer as Kafka's classic coordinator
  // (GroupCoordinator.handleHeartbeat/handleSyncGroup/handleLeaveGroup): UNKNOWN_MEMBER_ID; LeaveGroup v3+
  // puts it on the member with NONE at the top, and before v3 the member's error is the response's.
  const rows: [number, number, number, (v: number) => Record<string, unknown>, (r: any, v: number) => unknown, (v: number) => unknown][] = [
    [
      ApiKey.FindCoordinator,
      0,
      6,
      (v) => (v >= 4 ? { keyType: 0, coordinatorKeys: ['vg'] } : { key: 'vg', ...(v >= 1 ? { keyType: 0 } : {}) }),
      (r, v) => (v >= 4 ? r.coordinators.map((c: any) => [c.key, c.errorCode]) : r.errorCode),
      (v) => (v >= 4 ? [['vg', NONE]] : NONE),
    ],
    [ApiKey.Heartbeat, 0, 4, () => ({ groupId: 'vg', generationId: 1, memberId: 'm' }), (r) => r.errorCode, () => UNKNOWN_MEMBER_ID],
    [
      ApiKey.LeaveGroup,
      0,
      5,
      (v) => (v >= 3 ? { groupId: 'vg', members: [{ memberId: 'm' }] } : { groupId: 'vg', memberId: 'm' }),
      (r, v) => (v >= 3 ? [r.errorCode, r.members.map((m: any) => [m.memberId, m.errorCode])] : r.errorCode),
      (v) => (v >= 3 ? [NONE, [['m', UNKNOWN_MEMBER_ID]]] : UNKNOWN_MEMBER_ID),
    ],
    [
      ApiKey.SyncGroup,
      0,
      5,
      () => ({ groupId: 'vg', generationId: 1, memberId: 'm', assignments: [] }),
      (r) => r.errorCode,
      () => UNKNOWN_MEMBER_ID,
    ],
    [
      ApiKey.OffsetCommit,
      0,
      9,
      (v) => ({
        groupId: 'vg',
        ...(v >= 1 ? { generationIdOrMemberEpoch: -1, memberId: '' } : {}),
        topics: [{ name: 'vv', partitions: [part(v)] }],
      }),
      (r) => r.topics.map((x: any) => [x.name, x.partitions.map((p: any) => [p.partitionIndex, p.errorCode])]),
      () => [['vv', [[0, NONE]]]],
    ],
    [
      ApiKey.OffsetFetch,
      0,
      9,
      (v) =>
        v >= 8
          ? { groups: [{ groupId: 'vg', topics: [{ name: 'vv', partitionIndexes: [0] }] }] }
          : { groupId: 'vg', topics: [{ name: 'vv', partitionIndexes: [0] }] },
      (r, v) => {
        const fetched = (topics: any[]) =>
          topics.map((x: any) => [x.name, x.partitions.map((p: any) => [p.partitionIndex, p.errorCode, Number(p.committedOffset)])]);
        if (v >= 8) return r.groups.map((g: any) => [g.groupId, g.errorCode, fetched(g.topics)]);
        return v >= 2 ? [r.errorCode, fetched(r.topics)] : fetched(r.topics);
      },
      (v) => {
        const fetched = [['vv', [[0, NONE, 3]]]];
        if (v >= 8) return [['vg', NONE, fetched]];
        return v >= 2 ? [NONE, fetched] : fetched;
      },
    ],
    [
      ApiKey.DescribeGroups,
      0,
      5,
      () => ({ groups: ['vg'] }),
      (r) => r.groups.map((g: any) => [g.groupId, g.errorCode, g.groupState, g.members.length]),
      () => [['vg', NONE, 'Empty', 0]],
    ],
    [ApiKey.ListGroups, 0, 5, () => ({}), (r) => [r.errorCode, r.groups.filter((g: any) => g.groupId === 'vg').length], () => [NONE, 1]],
    [ApiKey.OffsetDelete, 0, 0, () => ({ groupId: 'nothing', topics: [] }), (r) => r.errorCode, () => GROUP_ID_NOT_FOUND],
    [
      ApiKey.DeleteGroups,
      0,
      2,
      () => ({ groupsNames: ['nothing'] }),
      (r) => r.results.map((x: any) => [x.groupId, x.errorCode]),
      () => [['nothing', GROUP_ID_NOT_FOUND]],
    ],
  ];
  for (const [apiKey, min, max, body, read, expected] of rows) {
    for (let v = min; v <= max; v++) {
      const r = await client.request(apiKey, v, body(v));
      t.same(read(r, v), expected(v), `api ${apiKey} v${v}`);
    }
  }
  for (let v = 0; v <= 9; v++) {
    const j = await join(client, v, { groupId: `jv${v}`, rebalanceTimeoutMs: 5000 });
    if (v >= 4) t.equal(j.errorCode, ErrorCode.MEMBER_ID_REQUIRED, `JoinGroup v${v}`);
    else t.equal(j.errorCode, 0, `JoinGroup v${v}`);
  }
  const f = await client.request(ApiKey.OffsetFetch, 0, { groupId: 'vg', topics: [{ name: 'vv', partitionIndexes: [0] }] });
  t.equal(Number(f.topics[0].partitions[0].committedOffset), 3);
});

t.test('Kafka 4 answers for unknown groups and the group operations (checked against Apache Kafka 4.4)', async (t) => {
  const { client } = await startTestBroker(t, sets);
  await createTopic(client, 'ug', 1);
  const commit = async (v: number, groupId: string, generation: number) =>
    (
      await client.request(ApiKey.OffsetCommit, v, {
        groupId,
        generationIdOrMemberEpoch: generation,
        memberId: generation >= 0 ? 'm' : '',
        groupInstanceId: null,
        retentionTimeMs: -1,
        topics: [
          { name: 'ug', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] },
        ],
      })
    ).topics[0].partitions[0].errorCode;
  for (let v = 2; v <= 8; v++)
    t.equal(await commit(v, `unknown-${v}`, 3), ErrorCode.ILLEGAL_GENERATION, `OffsetCommit v${v}, generation 3`);
  t.equal(await commit(9, 'unknown-9', 3), ErrorCode.GROUP_ID_NOT_FOUND, 'OffsetCommit v9, generation 3');
  t.equal(await commit(9, 'unknown-9', 0), ErrorCode.GROUP_ID_NOT_FOUND, 'OffsetCommit v9, generation 0');
  t.equal(await commit(9, 'simple', -1), ErrorCode.NONE, 'generation -1 creates a simple group');

  // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
  const groupOperations = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);
  const v5 = await client.request(ApiKey.DescribeGroups, 5, { groups: ['nobody', 'simple'], includeAuthorizedOperations: true });
  t.same(
    v5.groups.map((g: any) => [g.groupId, g.errorCode, g.groupState, g.authorizedOperations]),
    [
      ['nobody', ErrorCode.NONE, 'Dead', groupOperations],
      ['simple', ErrorCode.NONE, 'Empty', groupOperations],
    ],
    'v5: an unknown group is Dead',
  );
  const v6 = await client.request(ApiKey.DescribeGroups, 6, { groups: ['nobody', 'simple'], includeAuthorizedOperations: true });
  t.same(
    v6.groups.map((g: any) => [g.groupId, g.errorCode, g.errorMessage, g.groupState, g.authorizedOperations]),
    [
      ['nobody', ErrorCode.GROUP_ID_NOT_FOUND, 'Group nobody not found.', 'Dead', -2147483648],
      ['simple', ErrorCode.NONE, null, 'Empty', groupOperations],
    ],
    'v6: GROUP_ID_NOT_FOUND',
  );
});
