// Produce and Fetch semantics beyond the happy path: acks=0 and acks=1 from real clients, a request spanning
// topics and partitions with one bad partition, fetch positions (inside a compressed batch, at the high
// watermark, past it), a long poll woken by new data, at least one batch whatever max bytes says (KIP-74),
// fetch by topic id, and the log start offset moved by retention and DeleteRecords, kept across a restart.
import t from 'tap';
import type { Test } from 'tap';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient, sleep } from '../support/run.ts';
import { kcatConsume, kcatProduce } from '../support/kcat.ts';
import { kafkajsClient, kafkajsProduce } from '../support/js-clients.ts';
import { makeRecords, verifyConsumed } from '../support/records.ts';
import type { ConsumedRecord } from '../support/records.ts';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../broker/protocol/records/index.ts';

t.setTimeout(180_000);

let b: BrokerProcess;
t.before(async () => {
  b = await startBroker(t, { sets: { 'num.partitions': 1, 'log.retention.check.interval.ms': 300 } });
});

async function raw(t: Test): Promise<RawConnection> {
  const c = await RawConnection.connect(b.port);
  t.teardown(() => c.close());
  return c;
}

async function createTopics(topics: { topic: string; numPartitions?: number; configEntries?: { name: string; value: string }[] }[]) {
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

async function offsets(topic: string) {
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).sort((x, y) => x.partition - y.partition).map((o) => [Number(o.low), Number(o.high)]);
  } finally {
    await admin.disconnect();
  }
}

const fetchBody = (
  topic: string,
  partition: number,
  fetchOffset: number,
  extra: { maxWaitMs?: number; partitionMaxBytes?: number; maxBytes?: number } = {},
) => ({
  replicaId: -1,
  maxWaitMs: extra.maxWaitMs ?? 0,
  minBytes: 1,
  maxBytes: extra.maxBytes ?? 50 << 20,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic,
      partitions: [
        {
          partition,
          currentLeaderEpoch: -1,
          fetchOffset,
          lastFetchedEpoch: -1,
          logStartOffset: -1,
          partitionMaxBytes: extra.partitionMaxBytes ?? 1 << 20,
        },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

t.test('acks=0 from kcat and kafka-python: no responses, the records arrive', async (t) => {
  const recs = makeRecords('acks0', 500);
  const k = await kcatProduce(b.bootstrap, 'acks0-kcat', recs, { props: { acks: 0 } });
  t.equal(k.code, 0, describeRun(k));
  const kp = await pythonClient(
    'kafka_python_client.py',
    { op: 'produce', bootstrap: b.bootstrap, topic: 'acks0-kp', records: recs, config: { acks: 0 } },
    { timeoutMs: 60_000 },
  );
  t.equal(kp.code, 0, describeRun(kp));
  await sleep(300); // durable with the next flush
  for (const topic of ['acks0-kcat', 'acks0-kp']) {
    const { records } = await kcatConsume(b.bootstrap, topic, [0]);
    verifyConsumed(t, recs, records, { ordered: true, headers: topic === 'acks0-kcat' ? () => [] : undefined });
  }
});

t.test('acks=1 from confluent-kafka-python', async (t) => {
  const recs = makeRecords('acks1', 500);
  const r = await pythonClient(
    'confluent_client.py',
    { op: 'produce', bootstrap: b.bootstrap, topic: 'acks1', records: recs, config: { acks: 1 } },
    { timeoutMs: 60_000 },
  );
  const lines = jsonLines(r.stdout);
  t.equal(lines.find((l) => l.done)?.delivered, 500, describeRun(r));
  const deliveries = lines.filter((l) => l.i !== undefined);
  const { records } = await kcatConsume(b.bootstrap, 'acks1', [0]);
  verifyConsumed(t, recs, records, { ordered: true, deliveries });
});

t.test('one Produce request over topics and partitions, one partition bad', async (t) => {
  await createTopics([
    { topic: 'multi-a', numPartitions: 3 },
    { topic: 'multi-b', numPartitions: 1 },
  ]);
  const c = await raw(t);
  const batch = (v: string) => buildRecordBatch([{ key: Buffer.from(v), value: Buffer.from(v), timestampMs: Date.now() }]);
  const r = await c.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      {
        name: 'multi-a',
        partitionData: [
          { index: 0, records: batch('a0') },
          { index: 2, records: batch('a2') },
          { index: 9, records: batch('a9') },
        ],
      },
      { name: 'multi-b', partitionData: [{ index: 0, records: batch('b0') }] },
      { name: 'multi-none', partitionData: [{ index: 0, records: batch('n0') }] },
    ],
  });
  const got = r.responses.map((x: any) => [x.name, x.partitionResponses.map((p: any) => [p.index, p.errorCode, Number(p.baseOffset)])]);
  t.same(
    got,
    [
      [
        'multi-a',
        [
          [0, 0, 0],
          [2, 0, 0],
          [9, 3, -1],
        ],
      ],
      ['multi-b', [[0, 0, 0]]],
      ['multi-none', [[0, 3, -1]]],
    ],
    'good partitions appended, a missing partition and an unknown topic get UNKNOWN_TOPIC_OR_PARTITION',
  );
  t.same(await offsets('multi-a'), [
    [0, 1],
    [0, 0],
    [0, 1],
  ]);
});

t.test('fetch positions: inside a compressed batch, at the high watermark, past it', async (t) => {
  const recs = makeRecords('pos', 300);
  const k = await kcatProduce(b.bootstrap, 'pos', recs, { codec: 'zstd', props: { 'batch.num.messages': 100 } });
  t.equal(k.code, 0, describeRun(k));
  const mid = await kcatConsume(b.bootstrap, 'pos', [0], { offset: '150' });
  t.same(
    mid.records.map((r) => r.o),
    Array.from({ length: 150 }, (_, i) => 150 + i),
    'kcat -o 150 on zstd batches of ~100: exactly offsets 150..299',
  );
  t.ok(
    mid.records.every((r) => r.k === recs[r.o]!.k),
    'the right records',
  );
  const viaKp = await pythonClient(
    'kafka_python_client.py',
    { op: 'consume', bootstrap: b.bootstrap, topic: 'pos', partitions: { 0: [137, null] } },
    { timeoutMs: 60_000 },
  );
  const kpRecs = jsonLines(viaKp.stdout).filter((l) => l.o !== undefined) as ConsumedRecord[];
  t.same([kpRecs.length, kpRecs[0]?.o, kpRecs[0]?.k], [163, 137, recs[137]!.k], 'kafka-python seeking to 137 starts there');

  const c = await raw(t);
  const atHw = await c.request(ApiKey.Fetch, 12, fetchBody('pos', 0, 300));
  const p = atHw.responses[0].partitions[0];
  t.same([p.errorCode, p.highWatermark, p.records?.length ?? 0], [0, 300, 0], 'at the high watermark: no error, no records');
  const past = await c.request(ApiKey.Fetch, 12, fetchBody('pos', 0, 301));
  t.equal(past.responses[0].partitions[0].errorCode, 1, 'past the log end: OFFSET_OUT_OF_RANGE (1)');
  const negative = await c.request(ApiKey.Fetch, 12, fetchBody('pos', 0, -5));
  t.equal(negative.responses[0].partitions[0].errorCode, 1, 'a negative offset: OFFSET_OUT_OF_RANGE');
  const cr = await pythonClient(
    'confluent_client.py',
    { op: 'consume', bootstrap: b.bootstrap, topic: 'pos', partitions: { 0: [5000, 5001] }, timeout: 10 },
    { timeoutMs: 30_000 },
  );
  t.match(
    cr.stdout,
    /OFFSET_OUT_OF_RANGE|_AUTO_OFFSET_RESET/,
    `confluent with auto.offset.reset=error reports the out-of-range position: ${cr.stdout.slice(0, 300)}`,
  );
});

t.test('at least one batch whatever max bytes says (KIP-74); max bytes respected after it', async (t) => {
  const c = await raw(t);
  await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'kip74' }], allowAutoTopicCreation: true });
  const big = buildRecordBatch([{ key: null, value: Buffer.alloc(20_000, 1), timestampMs: Date.now() }]);
  for (let i = 0; i < 3; i++) {
    const r = await c.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: 'kip74', partitionData: [{ index: 0, records: big }] }],
    });
    t.equal(r.responses[0].partitionResponses[0].errorCode, 0);
  }
  const small = await c.request(ApiKey.Fetch, 12, fetchBody('kip74', 0, 0, { partitionMaxBytes: 100, maxBytes: 100 }));
  const recs = small.responses[0].partitions[0].records as Buffer;
  t.equal(recs.length, big.length, 'partition max bytes 100: one whole 20 KB batch');
  const two = await c.request(ApiKey.Fetch, 12, fetchBody('kip74', 0, 0, { partitionMaxBytes: 1 << 20, maxBytes: big.length * 2 + 10 }));
  t.equal((two.responses[0].partitions[0].records as Buffer).length, big.length * 2, 'max bytes for two and a bit: exactly two batches');
});

t.test('a long poll is woken by new data', async (t) => {
  await createTopics([{ topic: 'longpoll', numPartitions: 1 }]);
  const c = await raw(t);
  const started = Date.now();
  const pending = c.request(ApiKey.Fetch, 12, fetchBody('longpoll', 0, 0, { maxWaitMs: 10_000 }), { timeoutMs: 15_000 });
  await sleep(300);
  await kafkajsProduce(kafkajsClient(b.bootstrap), 'longpoll', [{ k: 'wake', v: 'up', p: 0 }]);
  const r = await pending;
  const ms = Date.now() - started;
  t.ok((r.responses[0].partitions[0].records as Buffer).length > 0, 'the fetch returns the new record');
  t.ok(ms < 5000, `after ${ms} ms, not the 10 s max wait`);
});

t.test('fetch by topic id (v13+)', async (t) => {
  const c = await raw(t);
  const md = await c.request(ApiKey.Metadata, 12, { topics: [{ name: 'pos' }], allowAutoTopicCreation: false });
  const topicId = md.topics[0].topicId;
  const body = (id: string) => ({
    ...fetchBody('', 0, 0),
    topics: [{ topicId: id, partitions: fetchBody('', 0, 0).topics[0]!.partitions }],
  });
  const r = await c.request(ApiKey.Fetch, 16, body(topicId));
  t.same([r.responses[0].partitions[0].errorCode, (r.responses[0].partitions[0].records as Buffer).length > 0], [0, true], 'by id');
  const unknown = await c.request(ApiKey.Fetch, 16, body('AAAAAAAAAAAAAAAAAAAAAQ'));
  t.equal(unknown.responses[0].partitions[0].errorCode, 100, 'an unknown topic id: UNKNOWN_TOPIC_ID (100)');
});

t.test('retention and DeleteRecords move the log start offset, durably', async (t) => {
  // retention.ms=60 s with CreateTime an hour ago: the first records expire at the next check, new ones stay.
  // 'emptied' (retention.ms=1 s) loses every record: its offsets must not start over after a restart.
  await createTopics([
    { topic: 'retained', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] },
    { topic: 'emptied', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '1000' }] },
    { topic: 'trimmed', numPartitions: 1 },
  ]);
  const old = Date.now() - 3_600_000;
  const kafka = kafkajsClient(b.bootstrap);
  const d1 = await kafkajsProduce(
    kafka,
    'retained',
    Array.from({ length: 50 }, (_, i) => ({ k: `old-${i}`, v: 'x', p: 0, ts: old + i })),
    { chunk: 10 },
  );
  t.notOk(d1.some((d) => d.err));
  const d0 = await kafkajsProduce(
    kafka,
    'emptied',
    Array.from({ length: 20 }, (_, i) => ({ k: `old-${i}`, v: 'x', p: 0, ts: old + i })),
    { chunk: 5 },
  );
  t.notOk(d0.some((d) => d.err));
  // Retention may drop the expired extents over more than one pass (a pass can run between two of the five
  // produce calls): wait until it has dropped all 50 expired records, not just the first of them.
  let low = 0;
  for (let i = 0; i < 100 && low < 50; i++) {
    await sleep(200);
    low = (await offsets('retained'))[0]![0]!;
  }
  t.equal(low, 50, 'retention moved the log start offset past every expired record');
  const d2 = await kafkajsProduce(
    kafka,
    'retained',
    Array.from({ length: 5 }, (_, i) => ({ k: `new-${i}`, v: 'y', p: 0 })),
  );
  t.notOk(d2.some((d) => d.err));
  const c = await raw(t);
  const fromZero = await c.request(ApiKey.Fetch, 12, fetchBody('retained', 0, 0));
  t.same(
    [fromZero.responses[0].partitions[0].errorCode, Number(fromZero.responses[0].partitions[0].logStartOffset)],
    [1, -1],
    'fetching below the log start: OFFSET_OUT_OF_RANGE without watermarks, as Kafka 4.4 answers (test/integration/side-by-side.test.ts)',
  );
  const { records } = await kcatConsume(b.bootstrap, 'retained', [0]);
  t.ok(records.length > 0 && records[0]!.o >= low && records.some((r) => r.k === 'new-4'), `kcat -o beginning reads from ${records[0]?.o}`);
  // A librdkafka consumer positioned below the log start resets to it (auto.offset.reset=earliest).
  const cr = await pythonClient(
    'confluent_client.py',
    {
      op: 'consume',
      bootstrap: b.bootstrap,
      topic: 'retained',
      partitions: { 0: [0, null] },
      timeout: 20,
      config: { 'auto.offset.reset': 'earliest' },
    },
    { timeoutMs: 40_000 },
  );
  const crLines = jsonLines(cr.stdout);
  const crRecs = crLines.filter((l) => l.o !== undefined) as ConsumedRecord[];
  t.ok(
    crLines.find((l) => l.done)?.complete && crRecs[0]!.o >= low && crRecs.at(-1)!.k === 'new-4',
    `confluent from offset 0 resets to the log start and reads on: ${describeRun(cr, 500)}`,
  );

  await kafkajsProduce(kafka, 'trimmed', makeRecords('trimmed', 100, 1));
  const admin = kafka.admin();
  await admin.connect();
  await admin.fetchTopicMetadata({ topics: ['trimmed'] }); // kafkajs needs the topic's metadata loaded first
  await admin.deleteTopicRecords({ topic: 'trimmed', partitions: [{ partition: 0, offset: '40' }] });
  await admin.disconnect();
  t.same(await offsets('trimmed'), [[40, 100]], 'DeleteRecords to 40 (kafkajs deleteTopicRecords)');
  let emptied = await offsets('emptied');
  for (let i = 0; i < 50 && emptied[0]![0] !== 20; i++) {
    await sleep(200);
    emptied = await offsets('emptied');
  }
  t.same(emptied, [[20, 20]], 'retention emptied a partition: log start = high watermark = 20');

  await b.kill9();
  await b.restart();
  t.same(await offsets('trimmed'), [[40, 100]], 'the DeleteRecords log start survives kill -9');
  t.same(await offsets('retained'), [[low, low + 5]], 'and so does the one retention set');
  t.same(await offsets('emptied'), [[20, 20]], 'a partition emptied by retention keeps its offsets after a restart');
  const d3 = await kafkajsProduce(kafkajsClient(b.bootstrap), 'emptied', [{ k: 'after', v: 'restart', p: 0 }]);
  t.same(
    d3.map((d) => [d.err, d.o]),
    [[undefined, 20]],
    'its next record gets offset 20, not 0',
  );
  const after = await kcatConsume(b.bootstrap, 'trimmed', [0]);
  t.same(
    after.records.map((r) => r.o),
    Array.from({ length: 60 }, (_, i) => 40 + i),
    'reading from the beginning gives offsets 40..99',
  );
});

t.test('the broker logged no errors', async (t) => {
  t.same(b.errorLines(), []);
});
