// The group coordinator over a real etcd (the shared member of the test run): group records and a commit
// larger than one etcd transaction are written, and a second coordinator (another broker) reloads them.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { coordinatorPartitionCount } from '../../../broker/cluster/cluster.ts';
import { GroupCoordinator } from '../../../broker/groups/coordinator.ts';
import type { CoordinatorOptions } from '../../../broker/groups/coordinator.ts';
import { EtcdMetadataStore } from '../../../broker/metadata/etcd.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { etcdMemberSkip, sharedEtcd } from '../../support/etcd.ts';

const options: CoordinatorOptions = {
  minSessionTimeoutMs: 10,
  maxSessionTimeoutMs: 60_000,
  initialRebalanceDelayMs: 0,
  maxGroupSize: 10,
  maxGroups: 100,
  maxRecordBytes: 100_000,
  offsetsRetentionMs: 60_000,
  retentionCheckIntervalMs: 3_600_000,
  offsetMetadataMaxBytes: 4096,
};
const all = Array.from({ length: coordinatorPartitionCount }, (_, i) => i);
const cluster: any = {
  nodeId: 1,
  coordinatorOwner: () => ({ nodeId: 1, leaderEpoch: 0 }),
  fence: () => [],
  coordinatorFence: () => [],
  onCoordinatorChange: () => () => {},
  ownedCoordinatorPartitions: () => all,
};

t.test('groups and offsets in etcd', { skip: etcdMemberSkip() }, async (t) => {
  const { endpoints } = await sharedEtcd();
  const store = await EtcdMetadataStore.open({ endpoints, prefix: `/skafos-test/${randomBytes(6).toString('hex')}` });
  t.teardown(() => store.close());
  const a = new GroupCoordinator({ metadata: store, cluster, logger: silentLogger(), options });
  await a.start();
  const j = await a.joinGroup(
    {
      groupId: 'etcd/grp',
      memberId: '',
      groupInstanceId: 'inst',
      requireKnownMemberId: true,
      supportSkipAssignment: false,
      clientId: 'c',
      clientHost: '/h',
      rebalanceTimeoutMs: 1000,
      sessionTimeoutMs: 10_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from([1, 2, 3]) }],
    },
    new AbortController().signal,
  );
  t.equal(j.errorCode, 0);
  const s = await a.syncGroup(
    {
      groupId: 'etcd/grp',
      generationId: j.generationId,
      memberId: j.memberId,
      groupInstanceId: 'inst',
      protocolType: null,
      protocolName: null,
      assignments: [{ memberId: j.memberId, assignment: Buffer.from([9, 9]) }],
    },
    new AbortController().signal,
  );
  t.equal(s.errorCode, 0);
  const entries = Array.from({ length: 300 }, (_, i) => ({
    topic: 'wide',
    partition: i,
    offset: 1000 + i,
    leaderEpoch: 4,
    metadata: 'meta'.repeat(100),
    commitTimestampMs: Date.now(),
    expireTimestampMs: null,
  }));
  const codes = await a.commitOffsets({
    groupId: 'etcd/grp',
    memberId: j.memberId,
    groupInstanceId: 'inst',
    generationId: j.generationId,
    entries,
  });
  t.ok(
    codes.every((c) => c === 0),
    'a 300-partition commit in several transactions',
  );
  await a.close();

  const b = new GroupCoordinator({ metadata: store, cluster, logger: silentLogger(), options });
  await b.start();
  t.teardown(() => b.close());
  const d = b.describeGroup('etcd/grp');
  t.match(d, { state: 'Stable', protocolData: 'range' });
  t.same([d.members[0]!.memberId, d.members[0]!.groupInstanceId, [...d.members[0]!.assignment]], [j.memberId, 'inst', [9, 9]]);
  const f = b.fetchOffsets('etcd/grp', null);
  t.equal(f.topics[0]!.partitions.length, 300);
  t.same(f.topics[0]!.partitions[299], { partition: 299, offset: 1299, leaderEpoch: 4, metadata: 'meta'.repeat(100), errorCode: 0 });
});
