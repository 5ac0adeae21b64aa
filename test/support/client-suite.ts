// The produce/consume scenarios every real client runs (test/integration/clients-*.test.ts):
//   - per codec, a few thousand keyed records with headers over 3 partitions, read back in assign mode: every
//     key, value and header, each record once, offsets contiguous from 0 per partition, production order kept;
//   - a record close to message.max.bytes (1,000,000-byte value) is stored and read back; one above it
//     (1,100,000 bytes) gets MESSAGE_TOO_LARGE from the broker and is not stored; the next record still works;
//   - one batch of 10,000 tiny records.
import type { Test } from 'tap';
import type { ClientDriver } from './drivers.ts';
import { startBroker } from './broker.ts';
import type { BrokerProcess } from './broker.ts';
import { allDelivered, makeRecords, verifyConsumed } from './records.ts';
import type { TestRecord } from './records.ts';
import { kafkajsClient } from './js-clients.ts';

const recordsPerCodec = 2500;
const partitions = 3;

async function createTopic(b: BrokerProcess, topic: string, numPartitions: number): Promise<void> {
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
  } finally {
    await admin.disconnect();
  }
}

const range = (n: number) => new Map(Array.from({ length: n }, (_, p) => [p, 0] as [number, number]));

export function clientSuite(t: Test, driver: ClientDriver): void {
  t.setTimeout(240_000);
  let b: BrokerProcess;
  t.before(async () => {
    b = await startBroker(t, { sets: { 'num.partitions': partitions } });
  });
  const slug = driver.name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '');

  for (const codec of driver.codecs) {
    t.test(`${driver.name}: ${recordsPerCodec} keyed records with headers, ${codec}`, async (t) => {
      t.setTimeout(90_000);
      const topic = `${slug}-${codec}`;
      if (driver.explicitPartitions) await createTopic(b, topic, partitions);
      const records = makeRecords(topic, recordsPerCodec, driver.explicitPartitions ? partitions : undefined);
      const out = await driver.produce(b.bootstrap, topic, records, { codec });
      t.same(out.errors, [], `no produce errors (${out.detail.slice(0, 2000)})`);
      if (out.deliveries) allDelivered(t, out.deliveries, records.length);
      const consumed = await driver.consume(b.bootstrap, topic, range(partitions));
      verifyConsumed(t, records, consumed, {
        deliveries: out.deliveries?.some((d) => d.o !== undefined) ? out.deliveries : undefined,
        headers: driver.fixedHeaders ? () => driver.fixedHeaders! : undefined,
        ordered: true,
      });
      const used = new Set(consumed.map((c) => c.p));
      t.equal(used.size, partitions, 'records spread over every partition');
    });
  }

  t.test(`${driver.name}: a record near message.max.bytes is stored, one above is refused with MESSAGE_TOO_LARGE`, async (t) => {
    t.setTimeout(90_000);
    const topic = `${slug}-big`;
    if (driver.explicitPartitions) await createTopic(b, topic, 1);
    const near: TestRecord = { k: 'near-limit', vsize: 1_000_000, vfill: 'skafos-large-value-0123456789-', h: [['size', '1000000']], p: 0 };
    const over: TestRecord = { k: 'over-limit', vsize: 1_100_000, vfill: 'skafos-too-large-value-', h: [['size', '1100000']], p: 0 };
    const after: TestRecord = { k: 'after', v: 'small record after the refused one', h: [['size', 'small']], p: 0 };
    const r1 = await driver.produce(b.bootstrap, topic, [near], { props: driver.largeProps, kind: 'large' });
    t.same(r1.errors, [], `1,000,000-byte value accepted (${r1.detail.slice(0, 1500)})`);
    const r2 = await driver.produce(b.bootstrap, topic, [over], { props: driver.largeProps, kind: 'large' });
    t.equal(r2.errors.length, 1, '1,100,000-byte value refused');
    t.match(r2.errors[0] ?? '', driver.tooLarge, `refused by the broker with MESSAGE_TOO_LARGE (${r2.detail.slice(0, 1500)})`);
    const r3 = await driver.produce(b.bootstrap, topic, [after], {});
    t.same(r3.errors, [], 'the next record is accepted');
    const consumed = await driver.consume(b.bootstrap, topic, range(1));
    verifyConsumed(t, [near, after], consumed, { headers: driver.fixedHeaders ? () => driver.fixedHeaders! : undefined, ordered: true });
  });

  t.test(`${driver.name}: one batch of 10,000 tiny records`, async (t) => {
    t.setTimeout(90_000);
    const topic = `${slug}-tiny`;
    if (driver.explicitPartitions) await createTopic(b, topic, 1);
    const records: TestRecord[] = Array.from({ length: 10_000 }, (_, i) => ({ k: `t${i}`, v: String(i), p: 0 }));
    const out = await driver.produce(b.bootstrap, topic, records, { props: driver.tinyProps, kind: 'tiny' });
    t.same(out.errors, [], `no produce errors (${out.detail.slice(0, 2000)})`);
    if (out.deliveries) allDelivered(t, out.deliveries, records.length);
    const consumed = await driver.consume(b.bootstrap, topic, range(1));
    verifyConsumed(t, records, consumed, {
      deliveries: out.deliveries?.some((d) => d.o !== undefined) ? out.deliveries : undefined,
      headers: driver.fixedHeaders ? () => driver.fixedHeaders! : undefined,
      ordered: true,
    });
  });

  t.test(`${driver.name}: the broker logged no errors`, async (t) => {
    t.same(b.errorLines(), [], 'no error or fatal log lines, nothing on stderr');
  });
}
