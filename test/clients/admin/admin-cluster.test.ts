// The admin client against three Skafos brokers in cluster mode (etcd, radosgw), bootstrapped from one of them:
// requests reach each partition's leader and the group coordinator on whichever broker they are; after the
// leader of some partitions is killed, calls retry (refreshing metadata) until the partitions have moved.
import t from 'tap';
import { AdminClient } from '../../../clients/admin/index.ts';
import { startCluster } from '../../support/cluster.ts';
import { EtcdMember, etcdMemberSkip } from '../../support/etcd.ts';
import { until } from '../../support/until.ts';

t.setTimeout(300_000);

t.test('three brokers: routing to leaders and coordinators, and retries across a failover', { skip: etcdMemberSkip() }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, label: 'admin' });
  const first = cluster.brokers[0]!;
  const admin = new AdminClient({
    bootstrap: `127.0.0.1:${first.port}`,
    limits: { maxAttempts: 60, retryBackoffMs: 100, retryBackoffMaxMs: 500 },
  });
  t.teardown(() => admin.close());

  // Broker 1 learns of the others through etcd a moment after they start.
  await until(async () => (await admin.describeCluster()).brokers.length === 3, 'three brokers in DescribeCluster', 30_000);
  t.same((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort(), [1, 2, 3]);
  const topic = 'admin-cluster';
  const [created] = await admin.createTopics([{ name: topic, partitions: 6 }]);
  t.equal(created!.error, null);
  await until(
    async () => new Set((await admin.describeTopics([topic]))[0]!.partitions.map((p) => p.leaderId)).size === 3,
    'partitions led by all three brokers',
    30_000,
  );
  for (let p = 0; p < 6; p++) await admin.produce(topic, p, [{ key: `k${p}`, value: `v${p}` }, { value: 'x' }]);
  const page = await admin.topicOffsets(topic);
  t.same(
    page.map((p) => [p.highWatermark, p.error]),
    Array.from({ length: 6 }, () => [2, null]),
  );
  const onThree = page.find((p) => p.leaderId === 3)!;
  const read = await admin.readMessages(topic, onThree.partition, { from: 'earliest', maxRecords: 1 });
  t.same(
    read.messages.map((m) => m.value?.toString()),
    [`v${onThree.partition}`],
  );

  const group = 'admin-cluster-group';
  await admin.alterConsumerGroupOffsets(
    group,
    page.map((p) => ({ topic, partition: p.partition, offset: 1 })),
  );
  t.equal((await admin.consumerGroupLag(group)).totalLag, 6);

  // Broker 3 dies: its partitions move once its membership lease expires; calls retry until then.
  await cluster.brokers[2]!.kill9();
  const after = await admin.topicOffsets(topic, { timeoutMs: 60_000 });
  t.ok(
    after.every((p) => p.leaderId !== 3 && p.error === null),
    `leaders now ${after.map((p) => p.leaderId)}`,
  );
  t.same(
    after.map((p) => p.highWatermark),
    Array.from({ length: 6 }, () => 2),
    'nothing lost',
  );
  t.equal((await admin.consumerGroupLag(group, { timeoutMs: 60_000 })).totalLag, 6);
  t.same((await admin.describeCluster()).brokers.map((b) => b.nodeId).sort(), [1, 2]);
});
