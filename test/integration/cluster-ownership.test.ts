// Ownership rules of cluster mode seen on the wire, with three brokers over one etcd and one radosgw bucket:
// Metadata and DescribeCluster from every broker agree on the live brokers and the owner of each partition; a
// broker that does not own a partition answers Produce, Fetch, ListOffsets, OffsetForLeaderEpoch and
// DeleteRecords with NOT_LEADER_OR_FOLLOWER; after a failover the leader epoch goes up and OffsetForLeaderEpoch
// for the old epoch gives the offset the new one began at; topics created, grown and deleted on one broker are
// served by the others; a broker started with node.id=-1 gets a generated id (1001) and keeps it on restart.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../broker/protocol/records/index.ts';

t.setTimeout(300_000);

interface PartitionMeta {
  partitionIndex: number;
  leaderId: number;
  leaderEpoch: number;
  errorCode: number;
}

async function metadata(
  port: number,
  topic: string,
): Promise<{ brokers: number[]; controllerId: number; partitions: PartitionMeta[]; errorCode: number; topicId: string }> {
  const c = await RawConnection.connect(port);
  try {
    const r = await c.request(ApiKey.Metadata, 12, {
      topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const tm = r.topics[0];
    return {
      brokers: r.brokers.map((b: { nodeId: number }) => b.nodeId).sort((a: number, b: number) => a - b),
      controllerId: r.controllerId,
      partitions: [...tm.partitions].sort((a: PartitionMeta, b: PartitionMeta) => a.partitionIndex - b.partitionIndex),
      errorCode: tm.errorCode,
      topicId: tm.topicId,
    };
  } finally {
    c.close();
  }
}

function batch(n: number): Buffer {
  return buildRecordBatch(
    Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), timestampMs: Date.now() })),
  );
}

async function produce(port: number, topic: string, partition: number, n: number): Promise<{ errorCode: number; baseOffset: number }> {
  const c = await RawConnection.connect(port);
  try {
    const r = await c.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: partition, records: batch(n) }] }],
    });
    const p = r.responses[0].partitionResponses[0];
    return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
  } finally {
    c.close();
  }
}

const skip = etcdMemberSkip();
t.test('ownership on the wire across three brokers', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, label: 'ownership' });
  const ports = () => cluster.brokers.filter((b) => b.alive).map((b) => b.port);
  const portOf = (nodeId: number) => cluster.brokers[nodeId - 1]!.port;
  const topic = 'owned';

  const admin = await RawConnection.connect(cluster.brokers[0]!.port);
  const created = await admin.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: topic, numPartitions: 3, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  t.equal(created.topics[0].errorCode, ErrorCode.NONE, 'topic created on broker 1');
  admin.close();

  const settled = await waitUntil('owners for every partition, seen alike from every broker', async () => {
    const views = await Promise.all(ports().map((p) => metadata(p, topic)));
    const first = JSON.stringify(views[0]!.partitions.map((p) => [p.leaderId, p.leaderEpoch]));
    const ok = views.every(
      (v) =>
        v.brokers.length === 3 &&
        v.partitions.length === 3 &&
        v.partitions.every((p) => p.leaderId > 0) &&
        JSON.stringify(v.partitions.map((p) => [p.leaderId, p.leaderEpoch])) === first &&
        v.controllerId === 1,
    );
    return ok ? views[0]! : undefined;
  });
  t.same(settled.brokers, [1, 2, 3]);
  const p0 = settled.partitions[0]!;
  const other = [1, 2, 3].find((id) => id !== p0.leaderId)!;

  // The owner takes writes; another broker says NOT_LEADER_OR_FOLLOWER for every partition-scoped API.
  // Metadata names the owner as soon as it is assigned; until it has loaded the partition it answers
  // NOT_LEADER_OR_FOLLOWER (retriable), as a Kafka leader does while it becomes leader.
  const appended = await waitUntil('the owner to take writes', async () => {
    const r = await produce(portOf(p0.leaderId), topic, 0, 5);
    if (r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) throw new Error(`error ${r.errorCode}`);
    return r.errorCode === ErrorCode.NONE ? r : undefined;
  });
  t.same(appended, { errorCode: ErrorCode.NONE, baseOffset: 0 }, 'the owner appends');
  t.equal((await produce(portOf(other), topic, 0, 1)).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'Produce to a non-owner');
  const c = await RawConnection.connect(portOf(other));
  const fetch = await c.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      { topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  t.equal(fetch.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'Fetch from a non-owner');
  // KIP-951: Produce v10+ and Fetch v16+ name the owner and its endpoint, so clients need no metadata refresh.
  const hint = { leaderId: p0.leaderId, leaderEpoch: p0.leaderEpoch };
  const endpoint = { nodeId: p0.leaderId, host: '127.0.0.1', port: portOf(p0.leaderId) };
  const produce11 = await c.request(ApiKey.Produce, 11, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: batch(1) }] }],
  });
  const pr = produce11.responses[0].partitionResponses[0];
  t.equal(pr.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'Produce v11 to a non-owner');
  t.match(pr.currentLeader, hint, 'Produce v11 names the current leader and its epoch');
  t.match(produce11.nodeEndpoints, [endpoint], 'and its endpoint');
  const fetch17 = await c.request(ApiKey.Fetch, 17, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topicId: settled.topicId,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  t.equal(fetch17.responses[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'Fetch v17 from a non-owner');
  t.match(fetch17.responses[0].partitions[0].currentLeader, hint, 'Fetch v17 names the current leader and its epoch');
  t.match(fetch17.nodeEndpoints, [endpoint], 'and its endpoint');
  const lo = await c.request(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  t.equal(lo.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'ListOffsets on a non-owner');
  const ofe = await c.request(ApiKey.OffsetForLeaderEpoch, 4, {
    replicaId: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
  });
  t.equal(ofe.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'OffsetForLeaderEpoch on a non-owner');
  const dr = await c.request(ApiKey.DeleteRecords, 2, {
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 1 }] }],
    timeoutMs: 5000,
  });
  t.equal(dr.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'DeleteRecords on a non-owner');
  const dc = await c.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
  t.same(dc.brokers.map((b: { brokerId: number }) => b.brokerId).sort(), [1, 2, 3], 'DescribeCluster lists the live brokers');
  c.close();

  // Failover: the owner of partition 0 is killed; a new owner continues the offsets at a higher epoch.
  const owner = cluster.brokers[p0.leaderId - 1]!;
  const killedAt = Date.now();
  await owner.kill9();
  const moved = await waitUntil('partition 0 to move', async () => {
    const m = await metadata(ports()[0]!, topic);
    const p = m.partitions[0]!;
    return p.leaderId > 0 && p.leaderId !== p0.leaderId ? p : undefined;
  });
  t.ok(moved.leaderEpoch > p0.leaderEpoch, `leader epoch ${p0.leaderEpoch} -> ${moved.leaderEpoch}`);
  const next = await waitUntil('the new owner to take writes', async () => {
    const r = await produce(portOf(moved.leaderId), topic, 0, 3);
    return r.errorCode === ErrorCode.NONE ? r : undefined;
  });
  t.comment(`failover: kill -9 to the first acknowledged produce on the moved partition: ${Date.now() - killedAt} ms`);
  if (!t.equal(next.baseOffset, 5, 'offsets continue with no gap or overlap')) {
    for (const b of cluster.brokers)
      t.comment(b.logLines.filter((l) => /partitions loaded|handover|owner|fenced|error/i.test(l)).join('\n'));
  }
  const c2 = await RawConnection.connect(portOf(moved.leaderId));
  const old = await c2.request(ApiKey.OffsetForLeaderEpoch, 4, {
    replicaId: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: moved.leaderEpoch, leaderEpoch: p0.leaderEpoch }] }],
  });
  t.same(
    { ...old.topics[0].partitions[0] },
    { ...old.topics[0].partitions[0], errorCode: 0, leaderEpoch: p0.leaderEpoch, endOffset: 5 },
    'the old epoch ends where the new one began',
  );
  const fenced = await c2.request(ApiKey.OffsetForLeaderEpoch, 4, {
    replicaId: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: p0.leaderEpoch, leaderEpoch: p0.leaderEpoch }] }],
  });
  t.equal(fenced.topics[0].partitions[0].errorCode, ErrorCode.FENCED_LEADER_EPOCH, 'a client with the old epoch is fenced');
  await owner.restart();

  // Topic changes made on one broker reach the others.
  const grow = await c2.request(ApiKey.CreatePartitions, 3, {
    topics: [{ name: topic, count: 5, assignments: null }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  t.equal(grow.results[0].errorCode, ErrorCode.NONE, 'partitions added');
  const grown = await waitUntil('the new partitions to have owners', async () => {
    const m = await metadata(portOf(1), topic);
    return m.partitions.length === 5 && m.partitions.every((p) => p.leaderId > 0) ? m : undefined;
  });
  // Until its owner has loaded it, the partition answers NOT_LEADER_OR_FOLLOWER (retriable).
  const first = await waitUntil('the new partition to take writes', async () => {
    const r = await produce(portOf(grown.partitions[4]!.leaderId), topic, 4, 2);
    if (r.errorCode !== ErrorCode.NONE && r.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) throw new Error(`error ${r.errorCode}`);
    return r.errorCode === ErrorCode.NONE ? r : undefined;
  });
  t.equal(first.baseOffset, 0, 'a new partition takes writes at its owner');
  const del = await c2.request(ApiKey.DeleteTopics, 6, {
    topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    topicNames: [],
    timeoutMs: 10_000,
  });
  t.equal(del.responses[0].errorCode, ErrorCode.NONE, 'topic deleted');
  await waitUntil('every broker to forget the topic', async () => {
    const views = await Promise.all(ports().map((p) => metadata(p, topic)));
    return views.every((v) => v.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) ? true : undefined;
  });
  c2.close();

  // A broker without a node id gets one from the cluster and keeps it.
  const b4 = await cluster.addBroker(-1);
  await waitUntil('the generated node id in Metadata', async () =>
    (await metadata(b4.port, topic)).brokers.includes(1001) ? true : undefined,
  );
  await b4.restart();
  const again = await waitUntil('the broker back with the same id', async () => {
    const m = await metadata(b4.port, topic);
    return m.brokers.includes(1001) && m.brokers.length === 4 ? m : undefined;
  });
  t.same(again.brokers, [1, 2, 3, 1001], 'node id 1001 kept across the restart');
});
