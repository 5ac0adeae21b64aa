// A compacted topic on a three-broker cluster (one etcd, one radosgw bucket) with kafkajs (spec/compaction.md):
// each partition is cleaned by its owner, so a reader from the beginning sees exactly the latest value of each
// key; then the owner of partition 0 is killed with kill -9, another broker takes the partition over, more
// updates come, and cleaning goes on there: again exactly the latest value of each key, every partition. A
// segment object of the dead node that no manifest names (as a compaction it never committed leaves) is
// deleted by the controller's orphan sweep, though that node never starts again.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient, kafkajsFetch } from '../support/js-clients.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { s3TestEndpoint } from '../support/radosgw.ts';
import { segmentObjectKey } from '../../broker/metadata/layout.ts';
import { S3ObjectStore } from '../../broker/storage/s3-object-store.ts';

t.setTimeout(300_000);

const topic = 'cluster-state';
const partitions = 3;
const keys = 40;

const skip = etcdMemberSkip();
t.test('compacted topic on three brokers: cleaned by each owner, and by the new owner after a kill -9', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'compacted',
    sets: {
      'skafos.compaction.interval.ms': 200,
      'skafos.compaction.min.age.ms': 0,
      'skafos.compaction.max.age.ms': 200,
      'log.cleaner.backoff.ms': 200,
      // The orphan sweep's minimum age: 5000 + 2 × 2000 ms (a sweep every 4.5 s).
      'skafos.segment.commit.timeout.ms': 5000,
      'skafos.etcd.request.timeout.ms': 2000,
      'skafos.log.level': 'debug',
    },
  });
  let kafka = kafkajsClient(cluster.bootstrap());
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: partitions,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        ],
      },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();

  // Per partition: key → [offset, value] of its latest write.
  const latest = Array.from({ length: partitions }, () => new Map<string, [number, string]>());
  const produceRounds = async (from: number, to: number) => {
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let r = from; r < to; r++)
      for (let p = 0; p < partitions; p++) {
        const messages = Array.from({ length: keys }, (_, k) => ({
          key: `k${k}`,
          value: `r${r}-p${p}-k${k}-${'x'.repeat(200)}`,
          partition: p,
        }));
        const [ack] = await producer.send({ topic, acks: -1, messages });
        messages.forEach((m, i) => latest[p]!.set(m.key, [Number(ack!.baseOffset) + i, m.value]));
      }
    await producer.disconnect();
  };
  const ends = () => new Map(latest.map((m, p) => [p, [0, Math.max(...[...m.values()].map(([o]) => o)) + 1] as [number, number]]));
  const expected = () => latest.flatMap((m, p) => [...m.values()].sort(([a], [b]) => a - b).map(([o, v]) => `${p}@${o}=${v}`));
  const cleanedView = async (what: string) => {
    let seen: string[] = [];
    await waitUntil(
      what,
      async () => {
        const records = await kafkajsFetch(kafka, topic, ends(), 60_000);
        seen = records.sort((a, b) => a.p - b.p || a.o - b.o).map((r) => `${r.p}@${r.o}=${r.v}`);
        return seen.length === partitions * keys ? true : undefined;
      },
      120_000,
      500,
    );
    return seen;
  };
  const cleanedBy = (nodeIndex: number, partition: number) =>
    cluster.brokers[nodeIndex]!.logLines.filter(
      (l) => l.includes('"partition cleaned"') && l.includes(`"topic":"${topic}"`) && l.includes(`"partition":${partition},`),
    ).length;

  await produceRounds(0, 8);
  t.same(await cleanedView('every owner to clean its partition'), expected(), 'exactly the latest value of each key, in every partition');
  const cleaners = cluster.brokers.map((_, i) => [0, 1, 2].reduce((n, p) => n + cleanedBy(i, p), 0));
  t.ok(cleaners.filter((n) => n > 0).length >= 2, `cleanings per broker: ${cleaners.join('/')}: each partition cleaned by its owner`);

  // The owner of partition 0 dies.
  const metaAdmin = kafka.admin();
  await metaAdmin.connect();
  const meta = await metaAdmin.fetchTopicMetadata({ topics: [topic] });
  await metaAdmin.disconnect();
  const owner = meta.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
  const victim = cluster.brokers[owner - 1]!;
  await victim.kill9();
  t.equal(victim.exit?.signal, 'SIGKILL', `node ${owner}, owner of partition 0, killed`);
  kafka = kafkajsClient(cluster.bootstrap());
  const newOwner = await waitUntil(
    'partition 0 to get a new owner',
    async () => {
      const a = kafka.admin();
      await a.connect();
      try {
        const m = await a.fetchTopicMetadata({ topics: [topic] });
        const leader = m.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
        return leader !== owner && leader > 0 ? leader : undefined;
      } finally {
        await a.disconnect();
      }
    },
    60_000,
    200,
  );
  const before = cleanedBy(newOwner - 1, 0);
  await produceRounds(8, 14);
  t.same(await cleanedView('the new owner to clean partition 0'), expected(), 'after the failover: exactly the latest value of each key');
  t.ok(cleanedBy(newOwner - 1, 0) > before, `node ${newOwner} cleaned partition 0 after taking it over`);

  // An orphan of the dead node: swept by the controller.
  const s3 = await s3TestEndpoint();
  const store = new S3ObjectStore({
    bucket: cluster.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  t.teardown(() => store.close());
  const [someSegment] = await store.list('seg/', { limit: 1 });
  const topicId = someSegment!.key.split('/')[1]!;
  const orphan = segmentObjectKey(topicId, 0, 0, owner, 'abcdef012345', 1);
  await store.put(orphan, Buffer.from(`a segment node ${owner} wrote and never committed`));
  t.ok((await store.head(orphan)) !== null, `an orphan of node ${owner} planted`);
  await waitUntil('the orphan sweep', async () => ((await store.head(orphan)) === null ? true : undefined), 60_000, 500);
  t.pass(`the orphan of dead node ${owner} was deleted`);
  t.same(await cleanedView('the log intact after the sweep'), expected(), 'the named segments stayed: every latest value reads back');
  for (const b of cluster.brokers.filter((b) => b !== victim)) t.same(b.errorLines(), [], 'no error log lines');
});
