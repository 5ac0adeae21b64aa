// Compacted topics with real clients on the embedded default: kafkajs writes many updates over many keys plus
// deletes; once the compactor has made segments and the cleaner has cleaned them, a consumer from the
// beginning (kafkajs, kcat, confluent-kafka-python) sees exactly the latest value of each key, tombstones of
// deleted keys included (before their horizon), each at the offset it was written at. A record without a key is refused with INVALID_RECORD, and
// a topic switched from delete to compact and back accepts keyless records again. spec/compaction.md.
import t from 'tap';
import kafkajs from 'kafkajs';
import { startBroker } from '../support/broker.ts';
import { kafkajsFetch } from '../support/js-clients.ts';
import { confluentDriver, kcatDriver } from '../support/drivers.ts';
import { until } from '../support/until.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(120_000);

t.test('kafkajs: keyless records refused by a compacted topic; switching delete <-> compact', async (t) => {
  const b = await startBroker(t);
  const kafka = new Kafka({ clientId: 'skafos-compacted', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({
    topics: [{ topic: 'table', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  t.teardown(() => producer.disconnect());

  const keyed = await producer.send({ topic: 'table', messages: [{ key: 'a', value: '1' }] });
  t.equal(keyed[0]!.errorCode, 0, 'a keyed record is accepted');
  const refused = await producer.send({ topic: 'table', messages: [{ value: 'no key' }] }).catch((e: Error & { type?: string }) => e);
  t.ok(refused instanceof Error, 'a keyless record is refused');
  t.equal((refused as Error & { type?: string }).type, 'INVALID_RECORD');

  const alter = (value: string) =>
    admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: 'table', configEntries: [{ name: 'cleanup.policy', value }] }],
    });
  await alter('delete');
  const accepted = await producer.send({ topic: 'table', messages: [{ value: 'no key' }] });
  t.equal(accepted[0]!.errorCode, 0, 'delete: accepted');
  await alter('compact');
  const again = await producer.send({ topic: 'table', messages: [{ value: 'no key' }] }).catch((e: Error & { type?: string }) => e);
  t.equal((again as Error & { type?: string }).type, 'INVALID_RECORD', 'compact again: refused');
});

t.test('kafkajs: updates and deletes over many keys, cleaned: a reader from the start sees the latest of each key', async (t) => {
  const b = await startBroker(t, {
    sets: {
      'skafos.flush.linger.ms': 5,
      'skafos.compaction.interval.ms': 100,
      'skafos.compaction.min.age.ms': 0,
      'skafos.compaction.max.age.ms': 100,
      'skafos.segment.target.bytes': 65536,
      'log.cleaner.backoff.ms': 100,
    },
  });
  const kafka = new Kafka({ clientId: 'skafos-compacted', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({
    topics: [
      {
        topic: 'state',
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          { name: 'delete.retention.ms', value: '3600000' },
        ],
      },
    ],
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const keys = 200;
  const rounds = 25;
  const latest = new Map<string, { offset: number; value: string | null }>();
  let offset = 0;
  for (let r = 0; r < rounds; r++) {
    const messages = Array.from({ length: keys }, (_, k) => ({ key: `key-${k}`, value: `round-${r}-key-${k}-${'x'.repeat(100)}` }));
    const [ack] = await producer.send({ topic: 'state', messages });
    t.equal(Number(ack!.baseOffset), offset);
    for (const m of messages) latest.set(m.key, { offset: offset++, value: m.value });
  }
  // Deletes: a tombstone for every tenth key.
  const deletes = Array.from({ length: keys / 10 }, (_, i) => ({ key: `key-${i * 10}`, value: null }));
  await producer.send({ topic: 'state', messages: deletes });
  for (const m of deletes) latest.set(m.key, { offset: offset++, value: null });
  const end = offset;

  const expected = [...latest.entries()].map(([key, v]) => ({ offset: v.offset, key, value: v.value })).sort((a, b) => a.offset - b.offset);
  let seen: { offset: number; key: string | null; value: string | null }[] = [];
  await until(
    async () => {
      const records = await kafkajsFetch(kafka, 'state', new Map([[0, [0, end]]]));
      seen = records.map((r) => ({ offset: r.o, key: r.k, value: r.v ?? null }));
      return seen.length === expected.length;
    },
    'the cleaner to leave one record per key',
    90_000,
  );
  t.same(seen, expected, 'exactly the latest value (or tombstone) of each key, at its offset');
  // The same log through librdkafka: kcat and confluent-kafka-python, from the beginning.
  for (const driver of [kcatDriver, confluentDriver]) {
    const records = await driver.consume(b.bootstrap, 'state', new Map([[0, 0]]));
    t.same(
      records.map((r) => ({ offset: r.o, key: r.k, value: r.v ?? null })),
      expected,
      `${driver.name}: the latest value (or tombstone) of each key, at its offset`,
    );
  }
  // Keyless records through librdkafka: refused.
  const keyless = await confluentDriver.produce(b.bootstrap, 'state', [{ k: null, v: 'no key' }]);
  t.match(keyless.errors.join('\n'), /INVALID_RECORD/, 'confluent-kafka-python: a keyless record is refused');
  // A reader starting in the middle of the removed part gets the next surviving records.
  const middle = await kafkajsFetch(kafka, 'state', new Map([[0, [1000, end]]]));
  t.same(
    middle.map((r) => r.o),
    expected.filter((e) => e.offset >= 1000).map((e) => e.offset),
  );
});

t.test(
  'kafkajs transactions, then the topic switched from delete to compact: aborted records cleaned away, committed ones deduplicated',
  async (t) => {
    const b = await startBroker(t, {
      sets: {
        'skafos.flush.linger.ms': 5,
        'skafos.compaction.interval.ms': 100,
        'skafos.compaction.min.age.ms': 0,
        'skafos.compaction.max.age.ms': 100,
        'log.cleaner.backoff.ms': 100,
      },
    });
    const kafka = new Kafka({
      clientId: 'skafos-compacted-txn',
      brokers: [b.bootstrap],
      logLevel: logLevel.NOTHING,
      retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    t.teardown(() => admin.disconnect());
    await admin.createTopics({
      topics: [
        {
          topic: 'txn-state',
          numPartitions: 1,
          // delete first: read before any cleaning; then switched to compact.
          configEntries: [{ name: 'cleanup.policy', value: 'delete' }],
        },
      ],
    });
    const producer = kafka.producer({ transactionalId: 'compacted-txn', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    t.teardown(() => producer.disconnect());
    const keys = 50;
    const latest = new Map<string, string>();
    // After the last committed record come aborted records and markers, which a reader of records never reaches.
    let committedEnd = 0;
    for (let round = 0; round < 6; round++) {
      const txn = await producer.transaction();
      const messages = Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `round-${round}-k${k}` }));
      const [sent] = await txn.send({ topic: 'txn-state', messages });
      if (round % 2 === 1) {
        await txn.abort();
      } else {
        await txn.commit();
        for (const m of messages) latest.set(m.key, m.value);
        committedEnd = Number(sent!.baseOffset) + keys;
      }
    }
    // The last round is aborted: the latest committed value of each key is round 4's.
    const txn = await producer.transaction();
    await txn.send({ topic: 'txn-state', messages: Array.from({ length: keys }, (_, k) => ({ key: `k${k}`, value: `aborted-k${k}` })) });
    await txn.abort();

    const aborted = (v: string | null | undefined) => v !== null && v !== undefined && (v.startsWith('aborted') || /^round-[135]-/.test(v));
    const data = (records: { k: string | null; v?: string | null }[]) => records.filter((r) => r.k?.startsWith('k'));
    const before = await readCommitted(kafka, 'txn-state', 3 * keys, 'before');
    t.equal(before.length, 3 * keys, 'read_committed before cleaning: every committed record');
    t.notOk(
      before.some((r) => aborted(r.v)),
      'read_committed before cleaning: no aborted record',
    );
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: 2,
          name: 'txn-state',
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          ],
        },
      ],
    });
    let after: { k: string | null; v?: string | null }[] = [];
    await until(
      async () => {
        // read_uncommitted (the raw log, markers aside): once cleaned, no aborted record is left to see either.
        after = data(await kafkajsFetch(kafka, 'txn-state', new Map([[0, [0, committedEnd]]])));
        return after.length === keys && !after.some((r) => aborted(r.v));
      },
      'the cleaner to remove aborted and superseded records',
      90_000,
    );
    t.same(
      after.map((r) => [r.k, r.v]),
      [...latest.entries()],
      'the raw log after cleaning: the latest committed value of each key, nothing aborted',
    );
    const committed = await readCommitted(kafka, 'txn-state', keys, 'after');
    t.same(
      committed.map((r) => [r.k, r.v]),
      [...latest.entries()],
      'read_committed after cleaning: the same',
    );
  },
);

/** A read_committed kafkajs consumer from the beginning, until `expected` records came and no more for a while. */
async function readCommitted(
  kafka: InstanceType<typeof Kafka>,
  topic: string,
  expected: number,
  tag: string,
): Promise<{ k: string | null; v: string | null }[]> {
  const consumer = kafka.consumer({ groupId: `committed-${tag}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { k: string | null; v: string | null }[] = [];
  let lastAt = Date.now();
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push({ k: message.key?.toString() ?? null, v: message.value?.toString() ?? null });
      lastAt = Date.now();
    },
  });
  await until(() => got.length >= expected && Date.now() - lastAt > 1000, `${expected} read_committed records`, 60_000);
  await consumer.disconnect();
  return got;
}
