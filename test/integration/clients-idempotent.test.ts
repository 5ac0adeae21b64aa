// Idempotent producers of real clients — kafkajs (idempotent: true), @platformatic/kafka (idempotent: true)
// and confluent-kafka-python (enable.idempotence=True, five requests in flight) — through a proxy that loses
// responses (the broker appended the batch, the client never heard, so it retries it), and for kafkajs also
// across a kill -9 and restart of the broker. Then every record is in the log exactly once and, per
// partition, in the order it was sent.
import t from 'tap';
import type { Test } from 'tap';
import kafkajs from 'kafkajs';
import { Producer as PlatformaticProducer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { kafkajsFetch } from '../support/js-clients.ts';
import { jsonLines, pythonClient } from '../support/run.ts';
import { TcpDropProxy } from '../support/tcp-drop-proxy.ts';
import { freePort } from '../support/ports.ts';
import { scrape } from '../support/s3-etcd.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(300_000);

const partitions = 2;

function kafka(bootstrap: string) {
  return new Kafka({
    clientId: 'skafos-idem',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
    connectionTimeout: 3000,
    requestTimeout: 5000,
  });
}

/** Retried batches the brokers of this file answered as duplicates (from their /metrics). */
let duplicatesSeen = 0;

async function setup(t: Test): Promise<{ b: BrokerProcess; proxy: TcpDropProxy; duplicates: () => Promise<number> }> {
  let b: BrokerProcess | undefined;
  const proxy = await TcpDropProxy.start(() => b!.port, { dropRate: 0.15 });
  t.teardown(() => proxy.close());
  const httpPort = await freePort();
  b = await startBroker(t, {
    sets: {
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${proxy.port}`,
      'skafos.flush.linger.ms': 5,
      'skafos.http.listener': `127.0.0.1:${httpPort}`,
    },
  });
  const duplicates = async () =>
    (await scrape(`http://127.0.0.1:${httpPort}/metrics`)).byLabel('skafos_idempotent_producers', 'figure').duplicates ?? 0;
  return { b, proxy, duplicates };
}

async function createTopic(bootstrap: string, topic: string): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
}

/** Reads the whole topic (drops off) and checks: each of `count` values once, in send order per partition. */
async function verify(t: Test, proxy: TcpDropProxy, topic: string, name: string, count: number): Promise<void> {
  proxy.dropping = false;
  const k = kafka(`127.0.0.1:${proxy.port}`);
  const admin = k.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const ranges = new Map<number, [number, number]>(offsets.map((o) => [o.partition, [0, Number(o.high)]]));
  const records = await kafkajsFetch(k, topic, ranges);
  const seen = new Map<number, number>();
  const lastPerPartition = new Map<number, number>();
  let outOfOrder = 0;
  let misplaced = 0;
  for (const r of records) {
    const i = Number(String(r.v).slice(name.length + 1));
    seen.set(i, (seen.get(i) ?? 0) + 1);
    if (r.p !== i % partitions) misplaced++;
    if ((lastPerPartition.get(r.p) ?? -1) >= i) outOfOrder++;
    lastPerPartition.set(r.p, i);
  }
  const dups = [...seen.values()].filter((n) => n > 1).length;
  const missing = count - seen.size;
  t.equal(records.length, count, `${name}: ${count} records in the log`);
  t.equal(dups, 0, `${name}: no duplicates`);
  t.equal(missing, 0, `${name}: none missing`);
  t.equal(outOfOrder, 0, `${name}: in send order per partition`);
  t.equal(misplaced, 0, `${name}: each record in its partition`);
}

t.test('kafkajs idempotent producer: dropped responses and a kill -9', async (t) => {
  const { b, proxy, duplicates } = await setup(t);
  let dups = 0;
  const topic = 'idem-kafkajs';
  await createTopic(`127.0.0.1:${proxy.port}`, topic);
  const producer = kafka(`127.0.0.1:${proxy.port}`).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  proxy.dropping = true;
  const count = 400;
  const perSend = 10;
  for (let s = 0; s < count; s += perSend) {
    if (s === count / 2) {
      dups += await duplicates();
      await b.kill9();
      await b.restart();
    }
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: perSend }, (_, j) => ({ value: `kafkajs-${s + j}`, partition: (s + j) % partitions })),
    });
  }
  await producer.disconnect();
  dups += await duplicates();
  duplicatesSeen += dups;
  t.ok(proxy.drops > 0, `${proxy.drops} connections cut after the broker answered; ${dups} retries answered as duplicates`);
  await verify(t, proxy, topic, 'kafkajs', count);
});

t.test('@platformatic/kafka idempotent producer: dropped responses', async (t) => {
  const { proxy, duplicates } = await setup(t);
  const topic = 'idem-platformatic';
  await createTopic(`127.0.0.1:${proxy.port}`, topic);
  const producer = new PlatformaticProducer({
    clientId: 'skafos-idem-platformatic',
    bootstrapBrokers: [`127.0.0.1:${proxy.port}`],
    idempotent: true,
    retryDelay: 100,
    autocreateTopics: false,
    timeout: 5000,
  });
  proxy.dropping = true;
  const count = 400;
  const perSend = 10;
  try {
    for (let s = 0; s < count; s += perSend) {
      await producer.send({
        messages: Array.from({ length: perSend }, (_, j) => ({
          topic,
          partition: (s + j) % partitions,
          value: Buffer.from(`platformatic-${s + j}`),
        })),
      });
    }
  } finally {
    await producer.close();
  }
  const dups = await duplicates();
  duplicatesSeen += dups;
  t.ok(proxy.drops > 0, `${proxy.drops} connections cut after the broker answered; ${dups} retries answered as duplicates`);
  await verify(t, proxy, topic, 'platformatic', count);
});

t.test('confluent-kafka-python idempotent producer (5 in flight): dropped responses', async (t) => {
  const { proxy, duplicates } = await setup(t);
  const topic = 'idem-confluent';
  await createTopic(`127.0.0.1:${proxy.port}`, topic);
  proxy.dropping = true;
  const count = 2000;
  const run = await pythonClient(
    'idempotent_producer.py',
    { bootstrap: `127.0.0.1:${proxy.port}`, topic, partitions, name: 'confluent', count },
    { timeoutMs: 150_000 },
  );
  t.equal(run.code, 0, `the producer exited cleanly: ${run.stderr.slice(-2000)}`);
  const done = jsonLines(run.stdout).find((l) => l.done);
  t.same(done, { done: true, acked: count, failed: 0, unflushed: 0 }, 'every record acknowledged');
  const dups = await duplicates();
  duplicatesSeen += dups;
  t.ok(proxy.drops > 0, `${proxy.drops} connections cut after the broker answered; ${dups} retries answered as duplicates`);
  await verify(t, proxy, topic, 'confluent', count);
});

t.test('the drops did make clients retry batches the broker already had', async (t) => {
  t.ok(duplicatesSeen > 0, `${duplicatesSeen} retried batches answered with their original offset`);
});
