// Offsets and timestamps through real clients: ListOffsets earliest / latest / by timestamp / max timestamp
// (kafkajs admin, confluent offsets_for_times, kafka-python offsets_for_times, kcat -o s@TS, @platformatic/kafka
// listOffsets, raw ListOffsets v0-v10), CreateTime timestamps kept as the producer set them, a LogAppendTime
// topic whose records carry the broker's time, and batches sent with maxTimestamp -1 (as Sarama 1.22 sends
// them) found by timestamp and expired by retention.ms.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';
import { kcatConsume } from '../support/kcat.ts';
import { kafkajsClient, kafkajsProduce } from '../support/js-clients.ts';
import type { ConsumedRecord, TestRecord } from '../support/records.ts';
import { Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch, CompressionCodec, NO_TIMESTAMP } from '../../broker/protocol/records/index.ts';

t.setTimeout(180_000);

const count = 40;
const maxIndex = 25;
// CreateTime timestamps an hour in the past (within the default message.timestamp.before.max.ms).
const base = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
const tsP0 = (i: number) => (i === maxIndex ? base + 500_000 : base + i * 1000);
const tsP1 = (i: number) => base + i * 2000;

let b: BrokerProcess;
const topic = 'ts-create';
const p0: TestRecord[] = Array.from({ length: count }, (_, i) => ({ k: `p0-${i}`, v: `v${i}`, h: [['i', String(i)]], p: 0, ts: tsP0(i) }));
const p1: TestRecord[] = Array.from({ length: count }, (_, i) => ({ k: `p1-${i}`, v: `v${i}`, h: [['i', String(i)]], p: 1, ts: tsP1(i) }));

async function confluent(op: string, req: Record<string, unknown>) {
  const r = await pythonClient('confluent_client.py', { op, bootstrap: b.bootstrap, ...req }, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`confluent ${op}: ${describeRun(r)}`);
  return jsonLines(r.stdout);
}

async function kafkaPython(op: string, req: Record<string, unknown>) {
  const r = await pythonClient('kafka_python_client.py', { op, bootstrap: b.bootstrap, ...req }, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kafka-python ${op}: ${describeRun(r)}`);
  return jsonLines(r.stdout);
}

t.before(async () => {
  // Retention checks often, for the expiry test (everything else is far younger than the default retention.ms).
  b = await startBroker(t, { sets: { 'log.retention.check.interval.ms': 300 } });
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: 2 },
      { topic: 'ts-logappend', numPartitions: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
    ],
  });
  await admin.disconnect();
  // Partition 0 from confluent-kafka-python in batches of 7, partition 1 from kafkajs in batches of 10: lookups
  // must find records inside batches, not just batch boundaries.
  const lines = await confluent('produce', { topic, records: p0, config: { 'batch.num.messages': 7, 'linger.ms': 50 } });
  const done = lines.find((l) => l.done);
  if (done?.delivered !== count) throw new Error(`confluent produce: ${JSON.stringify(lines.slice(-3))}`);
  const d = await kafkajsProduce(kafkajsClient(b.bootstrap), topic, p1, { chunk: 10 });
  if (d.some((x) => x.err)) throw new Error(`kafkajs produce: ${JSON.stringify(d.find((x) => x.err))}`);
});

t.test('CreateTime timestamps are kept exactly as produced', async (t) => {
  const { run, records } = await kcatConsume(b.bootstrap, topic, [0, 1]);
  t.equal(run.code, 0, describeRun(run));
  const want = new Map([...p0, ...p1].map((r) => [r.k, r.ts]));
  t.equal(records.length, 2 * count);
  t.same(
    records.filter((r) => r.ts !== want.get(r.k)).map((r) => `${r.k}: ${r.ts}`),
    [],
    'kcat sees every CreateTime',
  );
  t.ok(
    records.every((r) => r.tst === 0),
    'kcat: timestamp type CreateTime',
  );
  const viaConfluent = (await confluent('consume', { topic, partitions: { 0: [0, null], 1: [0, null] } })).filter(
    (l) => l.o !== undefined,
  ) as ConsumedRecord[];
  t.same(
    viaConfluent.filter((r) => r.ts !== want.get(r.k) || r.tst !== 1).map((r) => r.k),
    [],
    'confluent sees every CreateTime (type 1)',
  );
});

t.test('earliest and latest', async (t) => {
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  const offs = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  t.same(
    offs.map((o) => [o.partition, o.low, o.high]).sort(),
    [
      [0, '0', String(count)],
      [1, '0', String(count)],
    ],
    'kafkajs fetchTopicOffsets',
  );
  const wm = await confluent('watermarks', { topic, partitions: [0, 1] });
  t.same(
    wm,
    [
      { p: 0, low: 0, high: count },
      { p: 1, low: 0, high: count },
    ],
    'confluent get_watermark_offsets',
  );
  const kp = await kafkaPython('watermarks', { topic, partitions: [0, 1] });
  t.same(
    kp,
    [
      { p: 0, low: 0, high: count },
      { p: 1, low: 0, high: count },
    ],
    'kafka-python beginning_offsets / end_offsets',
  );
});

t.test('by timestamp: the first offset whose timestamp is >= the target', async (t) => {
  // p0: i*1000 except offset 25 (+500 s); p1: i*2000.
  const cases: { target: number; want: [number, number] }[] = [
    { target: base - 1, want: [0, 0] },
    { target: base, want: [0, 0] },
    { target: base + 5500, want: [6, 3] },
    { target: base + 6000, want: [6, 3] },
    { target: base + 30_500, want: [maxIndex, 16] }, // offset 25 of p0 carries the largest timestamp
    { target: base + 78_000, want: [maxIndex, 39] },
    { target: base + 500_000, want: [maxIndex, -1] },
    { target: base + 600_000, want: [-1, -1] },
  ];
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  try {
    for (const c of cases) {
      const r = await admin.fetchTopicOffsetsByTimestamp(topic, c.target);
      // kafkajs answers "no such record" (-1) with the high watermark.
      const want = c.want.map((o) => (o === -1 ? count : o));
      t.same(
        r.map((x) => [x.partition, Number(x.offset)]).sort(),
        [
          [0, want[0]],
          [1, want[1]],
        ],
        `kafkajs fetchTopicOffsetsByTimestamp(base + ${c.target - base})`,
      );
    }
  } finally {
    await admin.disconnect();
  }
  for (const c of cases) {
    const r = await confluent('offsets_for_times', { topic, partitions: { 0: c.target, 1: c.target } });
    t.same(
      r.map((x) => [x.p, x.o, x.err]),
      [
        [0, c.want[0], null],
        [1, c.want[1], null],
      ],
      `confluent offsets_for_times(base + ${c.target - base})`,
    );
  }
  for (const c of cases.slice(2, 5).concat(cases.slice(-1))) {
    const r = await kafkaPython('offsets_for_times', { topic, partitions: { 0: c.target, 1: c.target } });
    const want = c.want.map((o, _p) => (o === -1 ? null : o));
    t.same(
      r.map((x) => [x.p, x.o]).sort(),
      [
        [0, want[0]],
        [1, want[1]],
      ],
      `kafka-python offsets_for_times(base + ${c.target - base})`,
    );
    const withTs = r.filter((x) => x.o !== null);
    const tsOf = (p: number, o: number) => (p === 0 ? tsP0(o) : tsP1(o));
    t.ok(
      withTs.every((x) => x.ts === tsOf(x.p, x.o)),
      'with the timestamp of that record',
    );
  }
  const { run, records } = await kcatConsume(b.bootstrap, topic, [0], { offset: `s@${base + 5500}` });
  t.equal(run.code, 0, describeRun(run));
  t.same(
    records.map((r) => r.o),
    Array.from({ length: count - 6 }, (_, i) => 6 + i),
    'kcat -o s@TS starts at the first record at or after TS',
  );
});

t.test('max timestamp, earliest and latest through @platformatic/kafka', async (t) => {
  const consumer = new PlatformaticConsumer({
    clientId: 'skafos-it',
    groupId: 'skafos-it-unused',
    bootstrapBrokers: [b.bootstrap],
    retries: 2,
    retryDelay: 100,
  });
  try {
    const max = await consumer.listOffsetsWithTimestamps({ topics: [topic], timestamp: -3n });
    const m = max.get(topic)!;
    t.same(
      [Number(m.get(0)!.offset), Number(m.get(0)!.timestamp)],
      [maxIndex, base + 500_000],
      'p0: MAX_TIMESTAMP is the record carrying the largest timestamp',
    );
    t.same([Number(m.get(1)!.offset), Number(m.get(1)!.timestamp)], [count - 1, tsP1(count - 1)], 'p1: the last record');
    const earliest = await consumer.listOffsets({ topics: [topic], timestamp: -2n });
    t.same(earliest.get(topic)!.map(Number), [0, 0], 'EARLIEST');
    const latest = await consumer.listOffsets({ topics: [topic], timestamp: -1n });
    t.same(latest.get(topic)!.map(Number), [count, count], 'LATEST');
  } finally {
    await consumer.close(true);
  }
});

t.test('raw ListOffsets, every version', async (t) => {
  const c = await RawConnection.connect(b.port);
  t.teardown(() => c.close());
  for (let v = 0; v <= 10; v++) {
    for (const [ts, want] of [
      [-2, 0],
      [-1, count],
      [base + 5500, 6],
    ] as const) {
      const body = {
        replicaId: -1,
        isolationLevel: 0,
        timeoutMs: 1000,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: ts, maxNumOffsets: 1 }] }],
      };
      const r = await c.request(ApiKey.ListOffsets, v, body);
      const p = r.topics[0].partitions[0];
      t.equal(p.errorCode, 0, `v${v} ts ${ts}: no error`);
      if (v === 0) {
        // v0 predates timestamp lookups by record. Kafka answers a timestamp with the base offsets of the segments
        // last modified at or before it (here none: they were written after the target); Skafos answers with the
        // first record at or after it, as later versions do. Pinned so that a change to either is seen.
        t.same(p.oldStyleOffsets.map(Number), [want], `v0 ts ${ts}: old-style offsets`);
      } else {
        t.equal(Number(p.offset), want, `v${v} ts ${ts}: offset`);
      }
    }
    if (v >= 7) {
      const r = await c.request(ApiKey.ListOffsets, v, {
        replicaId: -1,
        isolationLevel: 0,
        timeoutMs: 1000,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -3 }] }],
      });
      const p = r.topics[0].partitions[0];
      t.same([p.errorCode, Number(p.offset), Number(p.timestamp)], [0, maxIndex, base + 500_000], `v${v}: MAX_TIMESTAMP`);
    }
  }
  const unknown = await c.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 7, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  t.equal(unknown.topics[0].partitions[0].errorCode, 3, 'a partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION');
});

t.test('a LogAppendTime topic stamps records with the broker time', async (t) => {
  const lt = 'ts-logappend';
  const old = base - 86_400_000;
  const recs: TestRecord[] = Array.from({ length: 10 }, (_, i) => ({ k: `la-${i}`, v: `v${i}`, p: 0, ts: old + i }));
  const before = Date.now();
  const produced = await confluent('produce', { topic: lt, records: recs });
  const after = Date.now();
  const deliveries = produced.filter((l) => l.i !== undefined);
  t.equal(deliveries.length, 10);
  // librdkafka reports the produce response's log_append_time as the message timestamp, type LogAppendTime (2).
  // The broker's clock is read between `before` and `after` (same host, same wall clock), so a range is the
  // only exact statement about its value; the stored timestamps are compared exactly below.
  t.same(
    deliveries.filter((d) => d.tst !== 2 || d.ts < before || d.ts > after),
    [],
    `delivery reports carry the broker time, within [${before}, ${after}]`,
  );
  const kd = await kafkajsProduce(kafkajsClient(b.bootstrap), lt, [{ k: 'la-kjs', v: 'x', p: 0, ts: old }], {});
  t.notOk(kd[0]!.err, 'kafkajs produce');

  const viaConfluent = (await confluent('consume', { topic: lt, partitions: { 0: [0, null] } })).filter(
    (l) => l.o !== undefined,
  ) as ConsumedRecord[];
  t.equal(viaConfluent.length, 11);
  t.same(
    viaConfluent.map((r) => [r.o, r.tst]),
    Array.from({ length: 11 }, (_, o) => [o, 2]),
    'confluent: every record LogAppendTime (2)',
  );
  const deliveredTs = new Map(deliveries.map((d) => [d.o, d.ts]));
  t.same(
    viaConfluent.slice(0, 10).map((r) => r.ts),
    viaConfluent.slice(0, 10).map((r) => deliveredTs.get(r.o)),
    'the stored time is the one the produce response reported',
  );
  t.ok(viaConfluent[10]!.ts >= after && viaConfluent[10]!.ts <= Date.now(), 'the kafkajs record: the broker time of its produce');
  const viaKp = (await kafkaPython('consume', { topic: lt, partitions: { 0: [0, null] } })).filter(
    (l) => l.o !== undefined,
  ) as ConsumedRecord[];
  t.ok(
    viaKp.length === 11 && viaKp.every((r) => r.tst === 1 && r.ts === viaConfluent.find((c) => c.o === r.o)!.ts),
    'kafka-python: timestamp_type 1, same times',
  );
  const { records } = await kcatConsume(b.bootstrap, lt, [0]);
  t.same(
    records.map((r) => [r.o, r.tst, r.ts]),
    viaConfluent.map((r) => [r.o, 1, r.ts]),
    'kcat: tstype logappend, same times',
  );
  const byTs = await confluent('offsets_for_times', { topic: lt, partitions: { 0: old + 5 } });
  t.same(
    byTs.map((x) => x.o),
    [0],
    'a lookup by the producer timestamp finds the first record (its time is the broker time)',
  );
  const last = viaConfluent[10]!;
  const byTs2 = await confluent('offsets_for_times', { topic: lt, partitions: { 0: last.ts } });
  // Records produced in the same millisecond share a time: the answer is the first of them.
  const firstAtLast = viaConfluent.find((r) => r.ts >= last.ts)!.o;
  t.same(
    byTs2.map((x) => [x.o, x.err]),
    [[firstAtLast, null]],
    `lookup by the broker time of the last record finds the first record with that time (${firstAtLast})`,
  );
});

t.test('batches sent with maxTimestamp -1 are found by timestamp and expire by retention.ms', async (t) => {
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({
    topics: [
      { topic: 'ts-sarama', numPartitions: 1 },
      { topic: 'ts-sarama-expiring', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] },
    ],
  });
  const c = await RawConnection.connect(b.port);
  t.teardown(() => c.close());
  // Offsets 0-9 uncompressed, 10-19 snappy; every header says maxTimestamp -1.
  for (const name of ['ts-sarama', 'ts-sarama-expiring']) {
    for (const [first, compression] of [
      [0, CompressionCodec.NONE],
      [10, CompressionCodec.SNAPPY],
    ] as const) {
      const records = Array.from({ length: 10 }, (_, i) => ({
        key: Buffer.from(`s-${first + i}`),
        value: Buffer.from(`v${first + i}`),
        timestampMs: base + (first + i) * 1000,
      }));
      const r = await c.request(ApiKey.Produce, 7, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 10000,
        topicData: [
          { name, partitionData: [{ index: 0, records: buildRecordBatch(records, { compression, maxTimestampMs: NO_TIMESTAMP }) }] },
        ],
      });
      t.equal(r.responses[0].partitionResponses[0].errorCode, 0, `${name}: batch at ${first} accepted`);
    }
  }
  for (const [target, want] of [
    [base + 4500, 5],
    [base + 15_000, 15],
    [base + 19_000, 19],
  ] as const) {
    const r = await admin.fetchTopicOffsetsByTimestamp('ts-sarama', target);
    t.equal(Number(r[0]!.offset), want, `kafkajs fetchTopicOffsetsByTimestamp(base + ${target - base})`);
  }
  const viaConfluent = await confluent('offsets_for_times', { topic: 'ts-sarama', partitions: { 0: base + 12_500 } });
  t.same(
    viaConfluent.map((x) => [x.o, x.err]),
    [[13, null]],
    'confluent offsets_for_times',
  );
  // An hour old with retention.ms = 1 minute: the log start moves past both batches at a retention check.
  const deadline = Date.now() + 30_000;
  let low = -1;
  while (Date.now() < deadline) {
    low = Number((await admin.fetchTopicOffsets('ts-sarama-expiring'))[0]!.low);
    if (low === 20) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.equal(low, 20, 'retention.ms expired them');
});

t.test('the broker logged no errors', async (t) => {
  t.same(b.errorLines(), []);
});
