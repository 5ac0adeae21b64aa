// Compacted topics with a real client (kafkajs) on the embedded default: a record without a key is refused
// with INVALID_RECORD (not retried), keyed records go through, and a topic switched from delete to compact and
// back accepts keyless records again. (The cleaner itself is not run by the broker yet: spec/compaction.md.)
import t from 'tap';
import kafkajs from 'kafkajs';
import { startBroker } from '../support/broker.ts';

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
