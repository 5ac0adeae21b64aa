// ACLs on a three-broker cluster (one etcd, one radosgw bucket): an ACL created through one broker is enforced
// by the others, which follow the metadata store's /acls/ prefix with a watch; likewise its deletion. The time
// it takes is reported (t.comment), not asserted.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster } from '../support/cluster.ts';
import { until } from '../support/until.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';

t.setTimeout(300_000);

const TOPIC = 2;
const LITERAL = 3;
const READ = 3;
const DENY = 2;
const denyRead = {
  resourceType: TOPIC,
  resourceName: 'guarded',
  resourcePatternType: LITERAL,
  principal: 'User:ANONYMOUS',
  host: '*',
  operation: READ,
  permissionType: DENY,
};

/** The error ListOffsets answers for `guarded` on one broker (TOPIC_AUTHORIZATION_FAILED once the DENY applies there). */
async function listOffsetsError(c: RawConnection): Promise<number> {
  const r = await c.request(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 'guarded', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  return r.topics[0].partitions[0].errorCode;
}

const skip = etcdMemberSkip();
t.test('an ACL change made through one broker applies on every broker', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'acls',
    // A resource without ACLs stays open: the inter-broker requests (anonymous until authentication exists) too.
    sets: { 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer', 'allow.everyone.if.no.acl.found': true },
  });
  const conns = await Promise.all(cluster.brokers.map((b) => RawConnection.connect(b.port)));
  t.teardown(() => conns.forEach((c) => c.close()));
  for (const c of conns) t.not(await listOffsetsError(c), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'no ACL yet: allowed');

  const created = await conns[0]!.request(ApiKey.CreateAcls, 3, { creations: [denyRead] });
  const createdAt = performance.now();
  t.equal(created.results[0].errorCode, 0);
  const applied = await Promise.all(
    conns.slice(1).map(async (c) => {
      await until(async () => (await listOffsetsError(c)) === ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'the DENY on another broker', 30_000);
      return performance.now() - createdAt;
    }),
  );
  t.comment(`DENY enforced by brokers 2 and 3 after ${applied.map((ms) => ms.toFixed(1)).join(' and ')} ms`);
  t.equal(await listOffsetsError(conns[0]!), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'and by the broker that created it');
  const described = await conns[2]!.request(ApiKey.DescribeAcls, 3, {
    resourceTypeFilter: 1,
    resourceNameFilter: null,
    patternTypeFilter: 1,
    principalFilter: null,
    hostFilter: null,
    operation: 1,
    permissionType: 1,
  });
  t.equal(described.resources.length, 1, 'DescribeAcls on broker 3 lists it');

  const deleted = await conns[1]!.request(ApiKey.DeleteAcls, 3, {
    filters: [
      {
        resourceTypeFilter: TOPIC,
        resourceNameFilter: 'guarded',
        patternTypeFilter: LITERAL,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      },
    ],
  });
  const deletedAt = performance.now();
  t.equal(deleted.filterResults[0].matchingAcls.length, 1);
  const lifted = await Promise.all(
    [conns[0]!, conns[2]!].map(async (c) => {
      await until(
        async () => (await listOffsetsError(c)) !== ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        'the deletion on another broker',
        30_000,
      );
      return performance.now() - deletedAt;
    }),
  );
  t.comment(`deletion applied by brokers 1 and 3 after ${lifted.map((ms) => ms.toFixed(1)).join(' and ')} ms`);
});
