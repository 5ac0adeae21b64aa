// Transactions with real JavaScript clients (spec/transactions.md): kafkajs and @platformatic/kafka
// transactional producers commit some transactions and abort others; a read_committed consumer then sees
// exactly the committed records, in order per partition, and a read_uncommitted one sees them all. A kafkajs
// consume-transform-produce step commits its consumer offsets inside the transaction (sendOffsets): they are
// visible only after the commit, and an aborted step leaves them unchanged.
import t from 'tap';
import type { Test } from 'tap';
import kafkajs from 'kafkajs';
import { Producer as PlatformaticProducer, Consumer as PlatformaticConsumer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(240_000);

const partitions = 3;
const transactions = 9;
const perTxn = 6;
/** Transaction i is aborted when i % 3 === 1. */
const aborted = (i: number) => i % 3 === 1;

function kafka(bootstrap: string) {
  return new Kafka({
    clientId: 'skafos-txn',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

async function createTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions })) });
  await admin.disconnect();
}

/** Consumes `topic` from the beginning with kafkajs until `expected` records arrived and no more come for a while. */
async function consumeAll(
  bootstrap: string,
  topic: string,
  readUncommitted: boolean,
  expected: number,
): Promise<{ p: number; v: string }[]> {
  const consumer = kafka(bootstrap).consumer({ groupId: `reader-${topic}-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { p: number; v: string }[] = [];
  let lastAt = Date.now();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      got.push({ p: partition, v: message.value!.toString() });
      lastAt = Date.now();
    },
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (got.length < expected || Date.now() - lastAt < 1500)) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return got;
}

/** Checks that `got` holds exactly `values`, and that each partition's records come in send order. */
function checkExactly(t: Test, got: { p: number; v: string }[], values: string[], what: string): void {
  t.same([...got.map((g) => g.v)].sort(), [...values].sort(), `${what}: exactly the expected records`);
  const order = new Map(values.map((v, i) => [v, i]));
  let inOrder = true;
  const last = new Map<number, number>();
  for (const g of got) {
    const i = order.get(g.v) ?? -1;
    if (i < (last.get(g.p) ?? -1)) inOrder = false;
    last.set(g.p, i);
  }
  t.ok(inOrder, `${what}: in order per partition`);
}

t.test('kafkajs: committed and aborted transactions, read_committed and read_uncommitted', async (t) => {
  const b = await startBroker(t);
  const bootstrap = `127.0.0.1:${b.port}`;
  const topic = 'txn-kafkajs';
  await createTopics(bootstrap, [topic]);
  const producer = kafka(bootstrap).producer({ transactionalId: 'kafkajs-txn', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const all: string[] = [];
  const committed: string[] = [];
  for (let i = 0; i < transactions; i++) {
    const txn = await producer.transaction();
    const values = Array.from({ length: perTxn }, (_, j) => `js-${i}-${j}`);
    for (const [j, v] of values.entries()) await txn.send({ topic, messages: [{ value: v, partition: j % partitions }] });
    all.push(...values);
    if (aborted(i)) await txn.abort();
    else {
      await txn.commit();
      committed.push(...values);
    }
  }
  await producer.disconnect();
  checkExactly(t, await consumeAll(bootstrap, topic, false, committed.length), committed, 'read_committed');
  checkExactly(t, await consumeAll(bootstrap, topic, true, all.length), all, 'read_uncommitted');
});

t.test('kafkajs: offsets sent in a transaction are visible only once it commits', async (t) => {
  const b = await startBroker(t);
  const bootstrap = `127.0.0.1:${b.port}`;
  const k = kafka(bootstrap);
  await createTopics(bootstrap, ['ctp-in', 'ctp-out']);
  const admin = k.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  const producer = k.producer({ transactionalId: 'kafkajs-ctp', idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const offsetOf = async () => {
    const r = await admin.fetchOffsets({ groupId: 'ctp-group', topics: ['ctp-in'] });
    return r[0]!.partitions.find((p) => p.partition === 0)!.offset;
  };
  const step = async (offset: number, commit: boolean) => {
    const txn = await producer.transaction();
    await txn.send({ topic: 'ctp-out', messages: [{ value: `out-${offset}`, partition: 0 }] });
    await txn.sendOffsets({
      consumerGroupId: 'ctp-group',
      topics: [{ topic: 'ctp-in', partitions: [{ partition: 0, offset: String(offset) }] }],
    });
    t.equal(await offsetOf(), offset === 5 ? '-1' : '5', 'not visible while the transaction is open');
    if (commit) await txn.commit();
    else await txn.abort();
  };
  await step(5, true);
  t.equal(await offsetOf(), '5', 'visible after commit');
  await step(9, false);
  t.equal(await offsetOf(), '5', 'unchanged after abort');
});

t.test('@platformatic/kafka: committed and aborted transactions', async (t) => {
  const b = await startBroker(t);
  const bootstrap = `127.0.0.1:${b.port}`;
  const topic = 'txn-platformatic';
  await createTopics(bootstrap, [topic]);
  const producer = new PlatformaticProducer({
    clientId: 'skafos-txn-platformatic',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    transactionalId: 'platformatic-txn',
    retries: 10,
    retryDelay: 100,
    autocreateTopics: false,
    timeout: 30000,
  } as any);
  t.teardown(() => producer.close());
  const all: string[] = [];
  const committed: string[] = [];
  for (let i = 0; i < transactions; i++) {
    const txn = await (producer as any).beginTransaction();
    const values = Array.from({ length: perTxn }, (_, j) => `pf-${i}-${j}`);
    await txn.send({ messages: values.map((v, j) => ({ topic, value: Buffer.from(v), partition: j % partitions })) });
    all.push(...values);
    if (aborted(i)) await txn.abort();
    else {
      await txn.commit();
      committed.push(...values);
    }
  }
  checkExactly(t, await consumeAll(bootstrap, topic, false, committed.length), committed, 'read_committed');
  checkExactly(t, await consumeAll(bootstrap, topic, true, all.length), all, 'read_uncommitted');
  void PlatformaticConsumer;
});
