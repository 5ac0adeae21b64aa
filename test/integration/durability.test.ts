// Durability under kill -9: three producers (two kafkajs, one confluent-kafka-python; acks=all, no client-side
// retries, so an acknowledgement names exactly one write) send keyed, sequence-numbered records to four
// partitions while the broker is killed with SIGKILL and restarted on the same directory, twice. Then:
//   - every acknowledged record is present exactly once, at the partition and offset it was acknowledged with;
//   - no record is present twice (each write attempt has its own key);
//   - each producer's acknowledged records are in sequence order within each partition;
//   - every partition's offsets run from 0 to its high watermark with no gap or overlap;
//   - producing after each restart works (acknowledgements resume before the next kill).
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { jsonLines, pythonClient, sleep } from '../support/run.ts';
import type { RunResult } from '../support/run.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import type { Ack } from '../support/load.ts';

t.setTimeout(240_000);

const topic = 'durable';
const partitions = 4;

t.test('kill -9 twice under load: every acknowledged record survives exactly once, in order, no offset gap', async (t) => {
  const b: BrokerProcess = await startBroker(t, { sets: { 'skafos.flush.linger.ms': 20 } });
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();

  const stopFile = join(b.dir, 'stop-producers');
  const confluentRun: Promise<RunResult> = pythonClient(
    'durability_producer.py',
    {
      bootstrap: b.bootstrap,
      topic,
      partitions,
      name: 'confluent',
      stop_file: stopFile,
      max_seconds: 120,
    },
    { timeoutMs: 180_000 },
  );
  const loads = [
    new KafkajsLoad('kafkajs-a', b.bootstrap, topic, partitions),
    new KafkajsLoad('kafkajs-b', b.bootstrap, topic, partitions),
  ];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);

  try {
    t.ok(await waitForAcks(acked, 500, 30_000), 'producing before the first kill');
    for (let kill = 1; kill <= 2; kill++) {
      await sleep(300 + Math.floor(Math.random() * 400));
      const before = acked();
      await b.kill9();
      t.equal(b.exit?.signal, 'SIGKILL', `kill ${kill}: the broker died of SIGKILL with ${before} kafkajs acks so far`);
      await sleep(200);
      await b.restart();
      t.ok(await waitForAcks(acked, 500, 30_000), `kill ${kill}: producing works after the restart`);
    }
    await sleep(500);
  } finally {
    writeFileSync(stopFile, 'stop');
    await Promise.all(loads.map((l) => l.stop()));
  }
  const run = await confluentRun;
  t.equal(run.code, 0, `confluent producer exited cleanly: ${run.stderr.slice(-2000)}`);
  t.ok(existsSync(stopFile));
  const lines = jsonLines(run.stdout);
  const confluentAcks: Ack[] = lines
    .filter((l) => l.o !== undefined)
    .map((l) => ({ key: `confluent-${l.seq}-0`, producer: 'confluent', seq: l.seq, p: l.p, o: l.o }));
  const summary = lines.find((l) => l.done);
  t.ok(confluentAcks.length > 200, `confluent: ${JSON.stringify(summary)}`);
  const allAcks = [...loads.flatMap((l) => l.acks), ...confluentAcks];
  t.comment(
    `acknowledged: ${allAcks.length} (kafkajs failures ${loads.map((l) => l.failures).join('/')}, confluent ${JSON.stringify(summary)})`,
  );

  await verifyLoad(t, b.bootstrap, topic, partitions, allAcks);
  t.same(b.errorLines(), [], 'no error log lines');
});
