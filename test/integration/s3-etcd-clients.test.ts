// Clients against a broker on real S3 (radosgw, a fresh bucket) and etcd (a member of this file, a fresh prefix):
// kcat and kafkajs produce and consume keyed records with headers (lz4), ListOffsets, create/delete topic; then
// kill -9 under acks=all load from two producers and a restart: every acknowledged record present exactly once,
// offsets contiguous. Prints the object-store request counts per GiB written and etcd's operations per GiB.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient, kafkajsFetch, kafkajsProduce } from '../support/js-clients.ts';
import { kcatConsume, kcatProduce } from '../support/kcat.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import { makeRecords, allDelivered, verifyConsumed } from '../support/records.ts';
import { describeRun, sleep } from '../support/run.ts';
import { GiB, etcdOps, startS3EtcdBroker } from '../support/s3-etcd.ts';
import type { Metrics } from '../support/s3-etcd.ts';

t.setTimeout(180_000);

interface Figures {
  put: number;
  get: number;
  head: number;
  delete: number;
  list: number;
  flushes: number;
  walBytes: number;
}
function figures(m: Metrics): Figures {
  const r = m.byLabel('skafos_object_store_requests', 'op');
  return {
    put: r.put ?? 0,
    get: r.get ?? 0,
    head: r.head ?? 0,
    delete: r.delete ?? 0,
    list: r.list ?? 0,
    flushes: m.sum('skafos_flushes'),
    walBytes: m.sum('skafos_flush_object_bytes'),
  };
}
const add = (a: Figures, b: Figures): Figures => ({
  put: a.put + b.put,
  get: a.get + b.get,
  head: a.head + b.head,
  delete: a.delete + b.delete,
  list: a.list + b.list,
  flushes: a.flushes + b.flushes,
  walBytes: a.walBytes + b.walBytes,
});

const skip = etcdMemberSkip();
t.test('kcat and kafkajs on S3 + etcd; kill -9 under load', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const h = await startS3EtcdBroker(t, { etcdEndpoint: etcd.endpoint, label: 'clients', sets: { 'skafos.flush.linger.ms': 20 } });
  const b = h.broker;
  const m0 = await h.metrics();
  t.ok(m0.samples.size > 0, 'the broker serves /metrics');
  if (m0.sum('skafos_flushes') === 0 && !m0.samples.has('skafos_flushes'))
    t.comment(`metric names: ${[...m0.samples.keys()].slice(0, 40).join(' ')}`);
  t.equal(await h.readyz(), 200, '/readyz is 200 on a healthy store');
  const etcd0 = await etcdOps(etcd.endpoint);

  const kafka = kafkajsClient(b.bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({
    topics: [
      { topic: 'kc', numPartitions: 1 },
      { topic: 'kj', numPartitions: 3 },
      { topic: 'durable', numPartitions: 4 },
    ],
  });

  // kcat: 2000 keyed records, lz4, fixed headers, to partition 0; consumed back with kcat.
  const kcRecords = makeRecords('kc', 2000);
  const kcHeaders: [string, string][] = [
    ['via', 'kcat'],
    ['codec', 'lz4'],
  ];
  const produced = await kcatProduce(b.bootstrap, 'kc', kcRecords, {
    codec: 'lz4',
    headers: kcHeaders,
    partition: 0,
    props: { acks: 'all' },
  });
  t.equal(produced.code, 0, `kcat produced: ${produced.code === 0 ? '' : describeRun(produced)}`);
  const kc = await kcatConsume(b.bootstrap, 'kc', [0]);
  t.equal(kc.run.code, 0, 'kcat consumed');
  verifyConsumed(t, kcRecords, kc.records, { headers: () => kcHeaders, ordered: true });

  // kafkajs: 3000 keyed records with headers, lz4, round robin over 3 partitions; read with kafkajs and kcat.
  const kjRecords = makeRecords('kj', 3000, 3);
  const deliveries = await kafkajsProduce(kafka, 'kj', kjRecords, { codec: 'lz4', chunk: 300 });
  allDelivered(t, deliveries, kjRecords.length);
  const ranges = new Map([0, 1, 2].map((p) => [p, [0, 1000] as [number, number]]));
  verifyConsumed(t, kjRecords, await kafkajsFetch(kafka, 'kj', ranges), { deliveries, ordered: true });
  const kjByKcat = await kcatConsume(b.bootstrap, 'kj', [0, 1, 2]);
  verifyConsumed(t, kjRecords, kjByKcat.records, { deliveries });

  // ListOffsets (earliest and latest), then delete a topic.
  const ends = await admin.fetchTopicOffsets('kj');
  t.same(
    ends.map((e) => [e.partition, e.low, e.high]).sort(),
    [
      [0, '0', '1000'],
      [1, '0', '1000'],
      [2, '0', '1000'],
    ],
    'ListOffsets: earliest 0, latest 1000',
  );
  const kcEnds = await admin.fetchTopicOffsets('kc');
  t.same(
    kcEnds.map((e) => e.high),
    ['2000'],
    'ListOffsets on the kcat topic',
  );
  await admin.deleteTopics({ topics: ['kc'] });
  t.notOk((await admin.listTopics()).includes('kc'), 'deleted topic is gone');
  t.ok((await admin.listTopics()).includes('kj'), 'other topics remain');

  // kill -9 under acks=all load from two producers, restart on the same bucket and prefix.
  const loads = [new KafkajsLoad('a', b.bootstrap, 'durable', 4), new KafkajsLoad('b', b.bootstrap, 'durable', 4)];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  let first: Figures;
  try {
    t.ok(await waitForAcks(acked, 1500, 30_000), 'producing before the kill');
    first = figures(await h.metrics());
    await b.kill9();
    t.equal(b.exit?.signal, 'SIGKILL', `killed with ${acked()} acks so far`);
    await sleep(200);
    await b.restart();
    t.ok(await waitForAcks(acked, 1500, 30_000), 'producing works after the restart');
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
  t.comment(`acknowledged ${acked()} (failures ${loads.map((l) => l.failures).join('/')})`);
  await verifyLoad(
    t,
    b.bootstrap,
    'durable',
    4,
    loads.flatMap((l) => l.acks),
  );

  const total = add(first, figures(await h.metrics()));
  const etcd1 = await etcdOps(etcd.endpoint);
  const gib = total.walBytes / GiB;
  const per = (n: number) => (gib > 0 ? Math.round(n / gib) : NaN);
  t.ok(total.walBytes > 0 && total.flushes > 0, 'WAL objects were written');
  t.comment(
    `object store: ${JSON.stringify(total)}; ${(total.walBytes / 1024 / 1024).toFixed(1)} MiB of WAL objects in ${total.flushes} /wal/ commits`,
  );
  t.comment(
    `per GiB written: PUT ${per(total.put)}, GET ${per(total.get)}, HEAD ${per(total.head)}, DELETE ${per(total.delete)}, LIST ${per(total.list)}; /wal/ commits ${per(total.flushes)}`,
  );
  const ops = {
    put: etcd1.put - etcd0.put,
    txn: etcd1.txn - etcd0.txn,
    range: etcd1.range - etcd0.range,
    delete: etcd1.delete - etcd0.delete,
  };
  t.comment(
    `etcd (its own /metrics): ${JSON.stringify(ops)}; per GiB written: txn ${per(ops.txn)}, put ${per(ops.put)}, range ${per(ops.range)}; flushes per GiB ${per(total.flushes)}`,
  );
  t.ok(ops.txn > 0, 'etcd saw transactions');
  t.same(b.errorLines(), [], 'no error log lines');
});
