// The orphan sweep on the embedded default (spec/compaction.md, orphans): a segment object that no manifest
// names, written by another node (which a restart of this one would never delete), is deleted by the running
// broker once it has been unnamed for the minimum age (skafos.segment.commit.timeout.ms plus twice the metadata
// request deadline, made short here); the partition's own segments stay and every record reads back.
import t from 'tap';
import kafkajs from 'kafkajs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { segmentObjectKey } from '../../broker/metadata/layout.ts';
import { keyToNames, walkKeys } from '../../broker/storage/local-keys.ts';
import { LocalObjectStore } from '../../broker/storage/local-object-store.ts';
import { startBroker } from '../support/broker.ts';
import { kafkajsFetch } from '../support/js-clients.ts';
import { until } from '../support/until.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(90_000);

t.test("another node's orphan segment is deleted by the running broker; its own segments stay", async (t) => {
  const b = await startBroker(t, {
    sets: {
      'skafos.compaction.interval.ms': 100,
      'skafos.compaction.min.age.ms': 0,
      'skafos.compaction.max.age.ms': 100,
      // Minimum age 300 ms (the embedded store has no request deadline to add); a sweep every 150 ms.
      'skafos.segment.commit.timeout.ms': 300,
    },
  });
  const kafka = new Kafka({ clientId: 'orphan-sweep', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'swept', numPartitions: 1 }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let i = 0; i < 10; i++)
    await producer.send({ topic: 'swept', messages: Array.from({ length: 50 }, (_, j) => ({ key: `k${j}`, value: `v${i}-${j}` })) });
  await producer.disconnect();

  const root = join(b.dir, 'objects');
  const segments = async () => {
    const out: string[] = [];
    for await (const { key } of walkKeys(join(root, 'seg%'), 'seg/', '', undefined)) out.push(key);
    return out;
  };
  await until(async () => (await segments()).length > 0, 'the compactor to write a segment', 30_000);
  const own = await segments();
  const topicId = own[0]!.split('/')[1]!;
  const store = await LocalObjectStore.open(root);
  t.teardown(() => store.close());
  const orphan = segmentObjectKey(topicId, 0, 0, 9, 'abcdef012345', 1);
  await store.put(orphan, Buffer.from('a segment node 9 wrote and never committed'));
  t.ok(existsSync(join(root, ...keyToNames(orphan))), 'the orphan is there');
  await until(() => !existsSync(join(root, ...keyToNames(orphan))), 'the sweep to delete the orphan', 30_000);
  t.pass("node 9's orphan was deleted by this broker");
  const records = await kafkajsFetch(kafka, 'swept', new Map([[0, [0, 500]]]));
  t.equal(records.length, 500, 'every record reads back: the named segments stayed');
  t.ok(
    b.logLines.some((l) => l.includes('"orphan segment objects deleted"')),
    'the sweep logged what it deleted',
  );
  await admin.disconnect();
  t.same(b.errorLines(), [], 'no error log lines');
});
