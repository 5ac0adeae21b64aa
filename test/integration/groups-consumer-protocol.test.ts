// KIP-848 with a real client: @platformatic/kafka consumers with groupProtocol 'consumer' share a topic
// through ConsumerGroupHeartbeat and the broker's uniform assignor (a second member joining takes half of the
// partitions after the first revoked them), commit with their member epochs, and a later consumer of the
// group resumes from the committed offsets. (librdkafka 2.0.2 of confluent-kafka-python and kcat predate
// group.protocol=consumer; kafkajs and kafka-python have no such option.) On two brokers over etcd, the
// coordinator of a consumer group is killed with kill -9 and its members carry on with the other broker, which
// loads the group from etcd.
import t from 'tap';
import { Consumer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';
import {
  checkAllConsumed,
  checkExclusiveCover,
  committedOffsets,
  fillTopic,
  groupBrokerSets,
  produceMore,
  sleep,
  waitFor,
} from '../support/groups.ts';
import { TestClient } from '../broker/handlers/support/client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';

const partitions = 4;
const perPartition = 20;
const sets = { ...groupBrokerSets, 'group.consumer.heartbeat.interval.ms': 300, 'group.consumer.session.timeout.ms': 6000 };

async function member(bootstrap: string, group: string, topic: string, name: string) {
  const consumer = new Consumer({
    clientId: name,
    groupId: group,
    bootstrapBrokers: [bootstrap],
    maxWaitTime: 100,
    retries: 5,
    retryDelay: 200,
    groupProtocol: 'consumer',
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 6000,
  } as any);
  const records: { p: number; o: number }[] = [];
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 } as any);
  stream.on('data', (m: any) => records.push({ p: m.partition, o: Number(m.offset) }));
  const assigned = () =>
    ((consumer.assignments ?? []) as { topic: string; partitions: number[] }[])
      .filter((a) => a.topic === topic)
      .flatMap((a) => a.partitions)
      .sort((a, b) => a - b);
  return {
    consumer,
    stream,
    records,
    assigned,
    close: async () => {
      await stream.close();
      await consumer.close();
    },
  };
}

t.test('@platformatic/kafka consumer group with group.protocol=consumer (KIP-848)', async (t) => {
  const broker = await startBroker(t, { sets });
  const topic = 'kip848';
  const group = 'kip848-group';
  await fillTopic(broker.port, topic, partitions, perPartition);
  const a = await member(broker.bootstrap, group, topic, 'cp-a');
  t.teardown(() => a.close().catch(() => {}));
  await waitFor(() => a.assigned().length === partitions, 20_000, 'the first member owning every partition');
  const b = await member(broker.bootstrap, group, topic, 'cp-b');
  t.teardown(() => b.close().catch(() => {}));
  await waitFor(() => a.assigned().length === 2 && b.assigned().length === 2, 20_000, 'the partitions shared by both members');
  checkExclusiveCover(t, [a.assigned(), b.assigned()], partitions, 'two members');
  await waitFor(
    async () => (await committedOffsets(broker.port, group, topic, partitions)).every((o) => o === perPartition),
    20_000,
    'every offset committed',
  );
  checkAllConsumed(t, [...a.records, ...b.records], partitions, perPartition, 'two members');

  const client = await TestClient.connect(broker.port);
  t.teardown(() => client.close());
  const d = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [group], includeAuthorizedOperations: false });
  t.equal(d.groups[0].groupState, 'Stable');
  t.equal(d.groups[0].members.length, 2);
  const l = await client.request(ApiKey.ListGroups, 5, { statesFilter: [], typesFilter: ['consumer'] });
  t.ok(
    l.groups.some((g: any) => g.groupId === group),
    'listed as a consumer group',
  );

  await a.close();
  await waitFor(() => b.assigned().length === partitions, 20_000, 'the remaining member taking every partition');
  await b.close();
  await waitFor(
    async () => {
      const e = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [group], includeAuthorizedOperations: false });
      return e.groups[0].groupState === 'Empty';
    },
    10_000,
    'the group empty after both left',
  );

  await produceMore(broker.port, topic, 2, 3);
  const c = await member(broker.bootstrap, group, topic, 'cp-c');
  t.teardown(() => c.close().catch(() => {}));
  await waitFor(() => c.records.length >= 3, 20_000, 'the new records');
  await sleep(300);
  t.same(c.records.map((r) => `${r.p}:${r.o}`).sort(), ['2:20', '2:21', '2:22'], 'resumed from the committed offsets');
  await c.close();
});

async function heartbeat(port: number, body: Record<string, unknown>): Promise<any> {
  const c = await TestClient.connect(port);
  try {
    return await c.request(ApiKey.ConsumerGroupHeartbeat, 1, {
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      subscribedTopicNames: null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: null,
      ...body,
    });
  } finally {
    c.close();
  }
}

async function coordinatorOf(port: number, group: string): Promise<number> {
  const c = await TestClient.connect(port);
  try {
    const r = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [group] });
    if (r.coordinators[0].errorCode !== ErrorCode.NONE) throw new Error(`FindCoordinator: error ${r.coordinators[0].errorCode}`);
    return r.coordinators[0].nodeId;
  } finally {
    c.close();
  }
}

t.test('two brokers: the consumer group coordinator dies, members carry on', { skip: etcdMemberSkip() }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 2,
    etcdEndpoint: etcd.endpoint,
    sessionTimeoutMs: 3000,
    label: 'kip848',
    sets: { 'group.consumer.session.timeout.ms': 30000, 'group.consumer.heartbeat.interval.ms': 1000 },
  });
  const group = 'kip848-failover';
  const admin = await TestClient.connect(cluster.brokers[0]!.port);
  const created = await admin.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 'kf', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10000,
    validateOnly: false,
  });
  admin.close();
  t.equal(created.topics[0].errorCode, 0);
  const coordinator = await coordinatorOf(cluster.brokers[0]!.port, group);
  const port = cluster.brokers[coordinator - 1]!.port;
  const a = await heartbeat(port, { groupId: group, rebalanceTimeoutMs: 20000, subscribedTopicNames: ['kf'], topicPartitions: [] });
  t.equal(a.errorCode, 0);
  const b = await heartbeat(port, { groupId: group, rebalanceTimeoutMs: 20000, subscribedTopicNames: ['kf'], topicPartitions: [] });
  t.equal(b.memberEpoch, 2);
  const a2 = await heartbeat(port, { groupId: group, memberId: a.memberId, memberEpoch: 1 });
  t.equal(a2.assignment.topicPartitions[0].partitions.length, 2, 'a told to revoke half');

  const victim = cluster.brokers[coordinator - 1]!;
  const killedAt = Date.now();
  await victim.kill9();
  const survivor = cluster.brokers.find((x) => x.alive)!;
  await waitUntil(
    'the surviving broker to coordinate the group',
    async () => ((await coordinatorOf(survivor.port, group)) === Number(survivor.sets['node.id']) ? true : undefined),
    30_000,
    200,
  );
  // The new coordinator loads the group: a acknowledges its revocation with its old epoch, b gets the rest.
  const a3 = await waitUntil(
    'a heartbeat answered by the new coordinator',
    async () => {
      const r = await heartbeat(survivor.port, {
        groupId: group,
        memberId: a.memberId,
        memberEpoch: 1,
        topicPartitions: a2.assignment.topicPartitions,
      });
      return r.errorCode === ErrorCode.NONE ? r : undefined;
    },
    30_000,
    200,
  );
  t.comment(`consumer group coordinator failover: first successful heartbeat ${Date.now() - killedAt} ms after kill -9`);
  t.equal(a3.memberEpoch, 2);
  const b2 = await heartbeat(survivor.port, { groupId: group, memberId: b.memberId, memberEpoch: 2 });
  t.equal(b2.errorCode, 0);
  t.equal(b2.assignment.topicPartitions[0].partitions.length, 2, 'b gets the revoked partitions');
  const c = await TestClient.connect(survivor.port);
  t.teardown(() => c.close());
  const d = await c.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: [group], includeAuthorizedOperations: false });
  t.equal(d.groups[0].groupState, 'Stable');
  t.same(d.groups[0].members.map((m: any) => m.memberId).sort(), [a.memberId, b.memberId].sort());
});
