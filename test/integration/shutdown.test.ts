// Graceful shutdown: SIGTERM while producers are sending. The broker answers what it has read, flushes, and
// exits 0; every acknowledged record is there after a restart on the same directory, and producing resumes.
// A consumer long-polling an empty partition does not hold the shutdown up.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { sleep } from '../support/run.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';

t.setTimeout(180_000);

const topic = 'graceful';
const partitions = 3;

t.test('SIGTERM under load: exit 0, acknowledged records durable after restart', async (t) => {
  // A long linger so that batches are pending (read, not yet durable) when the signal comes.
  const b = await startBroker(t, { sets: { 'skafos.flush.linger.ms': 300 } });
  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic, numPartitions: partitions },
      { topic: 'graceful-idle', numPartitions: 1 },
    ],
  });
  const idleTopic = (await admin.fetchTopicMetadata({ topics: ['graceful-idle'] })).topics[0]!.name;
  await admin.disconnect();

  // A consumer long-polling an empty partition (max wait 25 s) and an idle connection.
  const poller = await RawConnection.connect(b.port);
  const idle = await RawConnection.connect(b.port);
  t.teardown(() => {
    poller.close();
    idle.close();
  });
  await idle.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'skafos-it', clientSoftwareVersion: '1' });
  poller.write(
    (await import('../../broker/protocol/frame.ts')).encodeRequest(ApiKey.Fetch, 12, poller.nextCorrelationId(), 'poller', {
      replicaId: -1,
      maxWaitMs: 25_000,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: idleTopic,
          partitions: [
            { partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    }),
  );

  const loads = [
    new KafkajsLoad('sigterm-a', b.bootstrap, topic, partitions),
    new KafkajsLoad('sigterm-b', b.bootstrap, topic, partitions),
  ];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  let exit;
  let ms = 0;
  try {
    t.ok(await waitForAcks(acked, 1000, 30_000), 'producing');
    await sleep(150);
    const signalled = Date.now();
    exit = await b.terminate(45_000);
    ms = Date.now() - signalled;
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
  }
  t.same(exit, { code: 0, signal: null }, 'exit code 0 after SIGTERM');
  t.ok(
    b.logLines.some((l) => l.includes('shut down cleanly')),
    `logged a clean shutdown: ${b.tail(8)}`,
  );
  t.ok(ms < 10_000, `shutdown took ${ms} ms: a long-polling fetch (25 s) and idle connections do not hold it up`);
  t.comment(`${acked()} records acknowledged`);
  const fetchAnswer = await poller.next(1000);
  t.ok(!('timeout' in fetchAnswer), 'the long-polling fetch was answered or its connection closed');

  await b.restart();
  const allAcks = loads.flatMap((l) => l.acks);
  await verifyLoad(t, b.bootstrap, topic, partitions, allAcks);
  // Producing after the restart continues the offsets.
  const more = new KafkajsLoad('after-restart', b.bootstrap, topic, partitions);
  t.ok(await waitForAcks(() => more.acks.length, 100, 30_000), 'producing after the restart');
  await more.stop();
  await verifyLoad(t, b.bootstrap, topic, partitions, [...allAcks, ...more.acks]);
  t.same(b.errorLines(), [], 'no error log lines');
});
