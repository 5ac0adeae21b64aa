// The Apache Kafka Java client against a three-broker Skafos cluster (one etcd, one radosgw bucket): the same
// scenarios as java-client.test.ts (test/support/java-scenarios.ts), whose partitions, group coordinators and
// transaction coordinators are now spread over three brokers, so the client follows leaders and coordinators
// across brokers (Metadata, FindCoordinator, KIP-951 leader hints) the way it does on a Kafka cluster.
import t from 'tap';
import { startCluster } from '../support/cluster.ts';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { javaScenarios } from '../support/java-scenarios.ts';

t.setTimeout(600_000);

const skip = etcdMemberSkip();
t.test('the Java client on three brokers', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'java',
    sets: { 'group.initial.rebalance.delay.ms': 0 },
  });
  for (const s of javaScenarios) await t.test(s.name, (tt) => s.run(tt, cluster.bootstrap()));
});
