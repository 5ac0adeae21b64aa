// KIP-848 over the wire: ConsumerGroupHeartbeat (join, a second member with revocation before assignment,
// leave, static rejoin, session expiry), ConsumerGroupDescribe, OffsetCommit v9 with member epochs,
// OffsetFetch, ListGroups with type filters, DescribeGroups and DeleteGroups on a consumer group, the
// classic/consumer exclusivity of a group id, and the group surviving a broker restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ApiKey, encodeConsumerProtocolSubscription } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { Writer } from '../../../broker/protocol/wire/writer.ts';
import { createTopic, startBrokerIn, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const sets = { 'group.consumer.session.timeout.ms': '1500', 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.max.size': '4' };

function heartbeat(client: TestClient, body: Record<string, unknown>, v = 1): Promise<any> {
  return client.request(ApiKey.ConsumerGroupHeartbeat, v, {
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: -1,
    subscribedTopicNames: null,
    ...(v >= 1 ? { subscribedTopicRegex: null } : {}),
    serverAssignor: null,
    topicPartitions: null,
    ...body,
  });
}

function joinGroup(client: TestClient, groupId: string, topics: string[], extra: Record<string, unknown> = {}, v = 1): Promise<any> {
  return heartbeat(client, { groupId, rebalanceTimeoutMs: 10000, subscribedTopicNames: topics, topicPartitions: [], ...extra }, v);
}

async function topicId(client: TestClient, name: string): Promise<string> {
  const r = await client.request(ApiKey.Metadata, 12, {
    topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  return r.topics[0].topicId;
}

function count(r: any): number {
  return (r.assignment?.topicPartitions ?? []).reduce((n: number, tp: any) => n + tp.partitions.length, 0);
}

function subscription(topics: string[]): Buffer {
  const w = new Writer();
  w.int16(0);
  encodeConsumerProtocolSubscription(w, 0, { topics, userData: null });
  return w.finish();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('consumer group protocol', async (t) => {
  const { client } = await startTestBroker(t, sets);
  await createTopic(client, 'cg', 4);
  const cgId = await topicId(client, 'cg');

  t.test('ApiVersions advertises ConsumerGroupHeartbeat v0-1 and ConsumerGroupDescribe v0', async (t) => {
    const r = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
    const hb = r.apiKeys.find((k: any) => k.apiKey === ApiKey.ConsumerGroupHeartbeat);
    const d = r.apiKeys.find((k: any) => k.apiKey === ApiKey.ConsumerGroupDescribe);
    t.same([hb.minVersion, hb.maxVersion, d.minVersion, d.maxVersion], [0, 1, 0, 0]);
  });

  t.test('two members: join, revocation then assignment, commit, describe, leave', async (t) => {
    const a = await joinGroup(client, 'g1', ['cg'], {}, 0);
    t.equal(a.errorCode, 0);
    t.equal(a.memberEpoch, 1);
    t.equal(a.heartbeatIntervalMs, 500);
    t.equal(count(a), 4);
    t.equal(a.assignment.topicPartitions[0].topicId, cgId);

    const b = await joinGroup(client, 'g1', ['cg'], { serverAssignor: 'uniform' });
    t.equal(b.memberEpoch, 2);
    t.equal(count(b), 0);
    const a2 = await heartbeat(client, { groupId: 'g1', memberId: a.memberId, memberEpoch: 1 });
    t.equal(a2.memberEpoch, 1, 'epoch kept until the revocation is acknowledged');
    t.equal(count(a2), 2);
    const a3 = await heartbeat(client, {
      groupId: 'g1',
      memberId: a.memberId,
      memberEpoch: 1,
      topicPartitions: a2.assignment.topicPartitions,
    });
    t.equal(a3.memberEpoch, 2);
    const b2 = await heartbeat(client, { groupId: 'g1', memberId: b.memberId, memberEpoch: 2 });
    t.equal(count(b2), 2);

    // OffsetCommit v9 with the member epoch.
    const commit = (memberId: string, epoch: number, v = 9) =>
      client.request(ApiKey.OffsetCommit, v, {
        groupId: 'g1',
        generationIdOrMemberEpoch: epoch,
        memberId,
        groupInstanceId: null,
        topics: [
          { name: 'cg', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'x' }] },
        ],
      });
    t.equal((await commit(a.memberId, 2)).topics[0].partitions[0].errorCode, 0);
    t.equal((await commit(a.memberId, 1)).topics[0].partitions[0].errorCode, ErrorCode.STALE_MEMBER_EPOCH);
    t.equal((await commit('stranger', 2)).topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    t.equal((await commit('', -1)).topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'no admin commit while it has members');
    const f = await client.request(ApiKey.OffsetFetch, 9, {
      groups: [{ groupId: 'g1', memberId: null, memberEpoch: -1, topics: [{ name: 'cg', partitionIndexes: [0, 1] }] }],
      requireStable: false,
    });
    t.same(
      f.groups[0].topics[0].partitions.map((p: any) => p.committedOffset),
      [42, -1],
    );
    t.equal((await commit(a.memberId, 2, 8)).topics[0].partitions[0].errorCode, ErrorCode.UNSUPPORTED_VERSION, 'members commit with v9+');
    const fetchAs = (memberId: string | null, memberEpoch: number) =>
      client.request(ApiKey.OffsetFetch, 9, {
        groups: [{ groupId: 'g1', memberId, memberEpoch, topics: [{ name: 'cg', partitionIndexes: [0] }] }],
        requireStable: false,
      });
    const fm = await fetchAs(a.memberId, 2);
    t.same([fm.groups[0].errorCode, fm.groups[0].topics[0].partitions[0].committedOffset], [0, 42]);
    t.equal((await fetchAs(a.memberId, 1)).groups[0].errorCode, ErrorCode.STALE_MEMBER_EPOCH);
    t.equal((await fetchAs('stranger', 2)).groups[0].errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

    const d = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['g1', 'missing'], includeAuthorizedOperations: true });
    const g = d.groups[0];
    t.equal(g.errorCode, 0);
    t.equal(g.groupState, 'Stable');
    t.equal(g.groupEpoch, 2);
    t.equal(g.assignmentEpoch, 2);
    t.equal(g.assignorName, 'uniform');
    t.equal(g.members.length, 2);
    t.same(
      g.members.map((m: any) => m.memberEpoch),
      [2, 2],
    );
    t.equal(g.members[0].clientId, 'handler-test');
    t.equal(g.members[0].clientHost, '/127.0.0.1');
    t.same(g.members[0].subscribedTopicNames, ['cg']);
    t.equal(g.members[0].assignment.topicPartitions[0].topicName, 'cg');
    t.ok(g.authorizedOperations > 0);
    t.equal(d.groups[1].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);

    // ListGroups v5 with type filters, DescribeGroups.
    const l = await client.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
    t.same(
      l.groups.filter((x: any) => x.groupId === 'g1').map((x: any) => [x.groupType, x.groupState, x.protocolType]),
      [['consumer', 'Stable', 'consumer']],
    );
    const lc = await client.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] });
    t.notOk(
      lc.groups.some((x: any) => x.groupId === 'g1'),
      'not listed as classic',
    );
    const ls = await client.request(ApiKey.ListGroups, 4, { statesFilter: ['stable'] });
    t.ok(ls.groups.some((x: any) => x.groupId === 'g1'));
    const dg = await client.request(ApiKey.DescribeGroups, 5, { groups: ['g1'], includeAuthorizedOperations: false });
    t.equal(dg.groups[0].protocolType, 'consumer');
    t.equal(dg.groups[0].groupState, 'Stable');
    t.equal(dg.groups[0].members.length, 2);

    // A classic member cannot join, DeleteGroups refuses a group with members.
    const cj = await client.request(ApiKey.JoinGroup, 5, {
      groupId: 'g1',
      sessionTimeoutMs: 10000,
      rebalanceTimeoutMs: 5000,
      memberId: '',
      groupInstanceId: null,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['cg']) }],
    });
    t.equal(cj.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const del = await client.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g1'] });
    t.equal(del.results[0].errorCode, ErrorCode.NON_EMPTY_GROUP);
    const od = await client.request(ApiKey.OffsetDelete, 0, {
      groupId: 'g1',
      topics: [{ name: 'cg', partitions: [{ partitionIndex: 0 }] }],
    });
    t.equal(od.topics[0].partitions[0].errorCode, ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, 'OffsetDelete of a subscribed topic');

    // Both leave; the group is Empty, its offsets stay; then it can be deleted.
    t.equal((await heartbeat(client, { groupId: 'g1', memberId: a.memberId, memberEpoch: -1 })).memberEpoch, -1);
    t.equal((await heartbeat(client, { groupId: 'g1', memberId: b.memberId, memberEpoch: -1 })).errorCode, 0);
    const le = await client.request(ApiKey.ListGroups, 5, { statesFilter: ['Empty'], typesFilter: [] });
    t.same(
      le.groups.filter((x: any) => x.groupId === 'g1').map((x: any) => x.groupType),
      ['consumer'],
    );
    const del2 = await client.request(ApiKey.DeleteGroups, 2, { groupsNames: ['g1'] });
    t.equal(del2.results[0].errorCode, 0);
    const f2 = await client.request(ApiKey.OffsetFetch, 9, {
      groups: [{ groupId: 'g1', memberId: null, memberEpoch: -1, topics: [{ name: 'cg', partitionIndexes: [0] }] }],
      requireStable: false,
    });
    t.equal(f2.groups[0].topics[0].partitions[0].committedOffset, -1, 'offsets deleted with the group');
    const d2 = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['g1'], includeAuthorizedOperations: false });
    t.equal(d2.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  });

  t.test('errors: invalid first heartbeat, unsupported assignor, fenced epoch, classic group id', async (t) => {
    t.equal(
      (await heartbeat(client, { groupId: 'g2', rebalanceTimeoutMs: 1000, subscribedTopicNames: ['cg'], topicPartitions: null })).errorCode,
      ErrorCode.INVALID_REQUEST,
    );
    const bad = await joinGroup(client, 'g2', ['cg'], { serverAssignor: 'cooperative-sticky' });
    t.equal(bad.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    t.ok(bad.errorMessage);
    const m = await joinGroup(client, 'g2', ['cg']);
    t.equal((await heartbeat(client, { groupId: 'g2', memberId: m.memberId, memberEpoch: 5 })).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    t.equal((await heartbeat(client, { groupId: 'g2', memberId: 'nope', memberEpoch: 1 })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await heartbeat(client, { groupId: 'g2', memberId: m.memberId, memberEpoch: -1 });

    // A classic group with members keeps its id.
    const cj = await client.request(ApiKey.JoinGroup, 3, {
      groupId: 'classic1',
      sessionTimeoutMs: 10000,
      rebalanceTimeoutMs: 5000,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription(['cg']) }],
    });
    t.equal(cj.errorCode, 0);
    t.equal((await joinGroup(client, 'classic1', ['cg'])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    const d = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['classic1'], includeAuthorizedOperations: false });
    t.equal(d.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    await client.request(ApiKey.LeaveGroup, 3, { groupId: 'classic1', members: [{ memberId: cj.memberId, groupInstanceId: null }] });
  });

  t.test('static member: temporary leave and rejoin; session expiry', async (t) => {
    const s = await joinGroup(client, 'g3', ['cg'], { instanceId: 'inst-1' });
    t.equal(count(s), 4);
    t.equal((await joinGroup(client, 'g3', ['cg'], { instanceId: 'inst-1' })).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
    const gone = await heartbeat(client, { groupId: 'g3', memberId: s.memberId, memberEpoch: -2, instanceId: 'inst-1' });
    t.equal(gone.memberEpoch, -2);
    const back = await joinGroup(client, 'g3', ['cg'], { instanceId: 'inst-1' });
    t.equal(back.errorCode, 0);
    t.equal(back.memberEpoch, s.memberEpoch);
    t.equal(count(back), 4);
    // No more heartbeats: removed after the session timeout (1.5 s here).
    await sleep(2000);
    const d = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['g3'], includeAuthorizedOperations: false });
    t.equal(d.groups[0].groupState, 'Empty');
    t.equal(d.groups[0].members.length, 0);
    t.equal(
      (await heartbeat(client, { groupId: 'g3', memberId: back.memberId, memberEpoch: 1, instanceId: 'inst-1' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });

  t.test('regex subscription (v1)', async (t) => {
    await createTopic(client, 'rx-a', 1);
    await createTopic(client, 'rx-b', 2);
    const m = await heartbeat(client, { groupId: 'g4', rebalanceTimeoutMs: 10000, subscribedTopicRegex: 'rx-.*', topicPartitions: [] });
    t.equal(m.errorCode, 0);
    t.equal(count(m), 3);
    const d = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['g4'], includeAuthorizedOperations: false });
    t.equal(d.groups[0].members[0].subscribedTopicRegex, 'rx-.*');
    t.equal(
      (await heartbeat(client, { groupId: 'g5', rebalanceTimeoutMs: 10000, subscribedTopicRegex: '[', topicPartitions: [] })).errorCode,
      ErrorCode.INVALID_REGULAR_EXPRESSION,
    );
  });
});

t.test('a consumer group survives a broker restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-cg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir, sets);
  await createTopic(b.client, 'dur', 2);
  const a = await joinGroup(b.client, 'durable', ['dur']);
  const c = await joinGroup(b.client, 'durable', ['dur']);
  const a2 = await heartbeat(b.client, { groupId: 'durable', memberId: a.memberId, memberEpoch: 1 });
  t.equal(count(a2), 1);
  const commit = await b.client.request(ApiKey.OffsetCommit, 9, {
    groupId: 'durable',
    generationIdOrMemberEpoch: 1,
    memberId: a.memberId,
    groupInstanceId: null,
    topics: [
      {
        name: 'dur',
        partitions: [
          {
            partitionIndex: a2.assignment.topicPartitions[0].partitions[0],
            committedOffset: 7,
            committedLeaderEpoch: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  t.equal(commit.topics[0].partitions[0].errorCode, 0);
  await b.close();

  b = await startBrokerIn(dir, sets);
  t.teardown(() => b.close());
  // The members carry on where they were: a acknowledges its revocation, c then gets its partition.
  const a3 = await heartbeat(b.client, {
    groupId: 'durable',
    memberId: a.memberId,
    memberEpoch: 1,
    topicPartitions: a2.assignment.topicPartitions,
  });
  t.equal(a3.errorCode, 0);
  t.equal(a3.memberEpoch, 2);
  const c2 = await heartbeat(b.client, { groupId: 'durable', memberId: c.memberId, memberEpoch: 2 });
  t.equal(c2.errorCode, 0);
  t.equal(count(c2), 1);
  const d = await b.client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['durable'], includeAuthorizedOperations: false });
  t.equal(d.groups[0].groupState, 'Stable');
  t.equal(d.groups[0].groupEpoch, 2);
  const f = await b.client.request(ApiKey.OffsetFetch, 9, {
    groups: [{ groupId: 'durable', memberId: null, memberEpoch: -1, topics: null }],
    requireStable: false,
  });
  t.equal(f.groups[0].topics[0].partitions[0].committedOffset, 7);
});
