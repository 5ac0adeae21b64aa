// Durability with aggressive segment compaction: two kafkajs producers (acks=all, no retries) write four
// partitions while the compactor merges WAL data into segments every 100 ms, and the broker is killed with
// SIGKILL four times at random moments — so kills land before, during and after segment PUTs, manifest commits
// and garbage collection. Then every acknowledged record is present exactly once at its acknowledged offset,
// offsets are contiguous, recoveries read segments from manifests, and nothing was logged at error level.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import { sleep } from '../support/run.ts';

t.setTimeout(240_000);

const topic = 'compacted';
const partitions = 4;

t.test('kill -9 while compacting: every acknowledged record survives exactly once', async (t) => {
  const b = await startBroker(t, {
    sets: {
      'skafos.flush.linger.ms': 5,
      'skafos.compaction.interval.ms': 100,
      'skafos.compaction.min.age.ms': 0,
      'skafos.compaction.max.age.ms': 100,
      'skafos.segment.target.bytes': 65536,
      'skafos.log.level': 'debug',
    },
  });
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
  const loads = [
    new KafkajsLoad('kafkajs-a', b.bootstrap, topic, partitions),
    new KafkajsLoad('kafkajs-b', b.bootstrap, topic, partitions),
  ];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  try {
    t.ok(await waitForAcks(acked, 500, 30_000), 'producing before the first kill');
    for (let kill = 1; kill <= 4; kill++) {
      await sleep(300 + Math.floor(Math.random() * 700));
      await b.kill9();
      t.equal(b.exit?.signal, 'SIGKILL', `kill ${kill}`);
      await b.restart();
      t.ok(await waitForAcks(acked, 500, 30_000), `kill ${kill}: producing works after the restart`);
    }
    await sleep(500);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
  const lines = b.logLines
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return null;
      }
    })
    .filter((l) => l !== null);
  const passes = lines.filter((l) => l.msg === 'compaction pass');
  const segments = passes.reduce((n, l) => n + (l.segments as number), 0);
  t.ok(segments > 0, `${passes.length} compaction passes committed ${segments} segments`);
  const recoveries = lines.filter((l) => l.msg === 'log recovered');
  t.ok(
    recoveries.slice(1).some((r) => (r.segments as number) > 0),
    'restarts recovered segments from manifests',
  );
  t.same(
    lines.filter((l) => (l.level as number) >= 50).map((l) => l.msg),
    [],
    'no errors logged',
  );
  await verifyLoad(
    t,
    b.bootstrap,
    topic,
    partitions,
    loads.flatMap((l) => l.acks),
  );
});
