// Topics created at once on a three-broker cluster (one etcd, one radosgw bucket): every partition of every
// topic gets an owner that Metadata names from every broker, and each owner serves its partitions (ListOffsets
// answers instead of NOT_LEADER_OR_FOLLOWER). The times from the last CreateTopics answer to both are reported
// (t.comment), not asserted: they depend on the machine's load.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster } from '../support/cluster.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';

t.setTimeout(300_000);

const topicCount = Number(process.env.SKAFOS_TEST_TOPIC_COUNT ?? 10);
const partitionCount = Number(process.env.SKAFOS_TEST_TOPIC_PARTITIONS ?? 64);
const deadlineMs = 60_000;

const skip = etcdMemberSkip();
t.test(`${topicCount} topics of ${partitionCount} partitions created at once get serving owners`, { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, label: 'topic-creation' });
  const conns = await Promise.all(cluster.brokers.map((b) => RawConnection.connect(b.port)));
  t.teardown(() => {
    for (const c of conns) c.close();
  });
  const names = Array.from({ length: topicCount }, (_, i) => `burst-${i}`);

  // Concurrently, spread over the brokers, one topic per request (as several admin clients would).
  const started = performance.now();
  const results = await Promise.all(
    names.map((name, i) =>
      conns[i % conns.length]!.request(ApiKey.CreateTopics, 7, {
        topics: [{ name, numPartitions: partitionCount, replicationFactor: -1, assignments: [], configs: [] }],
        timeoutMs: 30_000,
        validateOnly: false,
      }),
    ),
  );
  const created = performance.now();
  for (const r of results) t.equal(r.topics[0].errorCode, ErrorCode.NONE, `${r.topics[0].name} created`);

  // Leaders as Metadata names them from every broker (asked again at every poll: the controller may still move
  // partitions to balance), then each owner serving the partitions Metadata gives it.
  let leadersAtMs = -1;
  let servingAtMs = -1;
  let leaders = new Map<string, number>();
  while (servingAtMs < 0 && performance.now() - created < deadlineMs) {
    const views = await Promise.all(
      conns.map((c) =>
        c.request(ApiKey.Metadata, 12, {
          topics: names.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })),
          allowAutoTopicCreation: false,
          includeTopicAuthorizedOperations: false,
        }),
      ),
    );
    const seen = new Map<string, number>();
    let complete = true;
    for (const v of views) {
      for (const tm of v.topics) {
        if (tm.errorCode !== ErrorCode.NONE || tm.partitions.length !== partitionCount) complete = false;
        for (const p of tm.partitions) {
          const key = `${tm.name}/${p.partitionIndex}`;
          if (p.leaderId < 0 || (seen.has(key) && seen.get(key) !== p.leaderId)) complete = false;
          seen.set(key, p.leaderId);
        }
      }
    }
    if (complete) {
      if (leadersAtMs < 0) leadersAtMs = performance.now() - created;
      leaders = seen;
      // NOT_LEADER_OR_FOLLOWER until an owner has loaded a partition (or when it has just handed it over).
      const byOwner = new Map<number, Map<string, number[]>>();
      for (const [key, owner] of leaders) {
        const [name, p] = key.split('/') as [string, string];
        let topics = byOwner.get(owner);
        if (!topics) byOwner.set(owner, (topics = new Map()));
        let list = topics.get(name);
        if (!list) topics.set(name, (list = []));
        list.push(Number(p));
      }
      const answers = await Promise.all(
        [...byOwner].map(([owner, topics]) =>
          conns[owner - 1]!.request(ApiKey.ListOffsets, 7, {
            replicaId: -1,
            isolationLevel: 0,
            topics: [...topics].map(([name, parts]) => ({
              name,
              partitions: parts.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1 })),
            })),
          }),
        ),
      );
      const codes = answers.flatMap((a) => a.topics.flatMap((tp: any) => tp.partitions.map((p: any) => p.errorCode as number)));
      const unexpected = codes.filter((c) => c !== ErrorCode.NONE && c !== ErrorCode.NOT_LEADER_OR_FOLLOWER);
      if (unexpected.length > 0) {
        t.same(unexpected, [], 'only NONE or the retriable NOT_LEADER_OR_FOLLOWER while loading');
        break;
      }
      if (codes.length === topicCount * partitionCount && codes.every((c) => c === ErrorCode.NONE))
        servingAtMs = performance.now() - created;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.ok(leadersAtMs >= 0, 'every partition has a leader that every broker names');
  t.ok(servingAtMs >= 0, 'every owner serves its partitions');
  if (servingAtMs < 0)
    for (const [i, b] of cluster.brokers.entries()) for (const l of b.errorLines()) t.comment(`broker ${i + 1}: ${l.slice(0, 600)}`);
  const perBroker = [1, 2, 3].map((id) => [...leaders.values()].filter((o) => o === id).length);
  t.comment(
    `CreateTopics of ${topicCount}x${partitionCount} partitions: ${(created - started).toFixed(0)} ms; then leaders named by every ` +
      `broker after ${leadersAtMs.toFixed(0)} ms, every owner serving after ${servingAtMs.toFixed(0)} ms (partitions per broker ${perBroker.join('/')})`,
  );
});
