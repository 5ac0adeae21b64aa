// Three brokers in cluster mode over one etcd and one radosgw bucket. Partitions are spread over the brokers and
// Metadata names their owners; a broker asked for a partition it does not own answers NOT_LEADER_OR_FOLLOWER.
// Under acks=all load: kill -9 of a broker (its partitions move within the lease plus a few seconds: the time
// to the first acknowledged produce on a moved partition is printed), a broker paused with SIGSTOP past its
// lease (once resumed it acknowledges nothing and exits to be restarted), and a rolling restart with SIGTERM
// (partitions are handed over first). Afterwards every acknowledged record is in the log exactly once, where it
// was acknowledged, offsets have no gap or overlap, and each producer's order held.
import t from 'tap';
import kafkajs from 'kafkajs';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { sleep } from '../support/run.ts';

t.setTimeout(420_000);
const sessionTimeoutMs = 3000;

interface Leaders { byPartition: Map<number, number>; brokers: number[] }

async function leaders(bootstrap: string, topic: string): Promise<Leaders> {
  const kafka = kafkajsClient(bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const cluster = await admin.describeCluster();
    const parts = md.topics[0]!.partitions;
    return {
      byPartition: new Map(parts.map((p) => [p.partitionId, p.leader])),
      brokers: cluster.brokers.map((b) => b.nodeId).sort(),
    };
  } finally {
    await admin.disconnect();
  }
}

/** One record to `partition` at a time until one is acknowledged; resolves with the time that took. */
async function firstAck(bootstrap: string, topic: string, partition: number, startedAt: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const kafka = new kafkajs.Kafka({ clientId: 'probe', brokers: bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 1000, requestTimeout: 3000 });
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    try {
      await producer.connect();
      await producer.send({ topic, acks: -1, timeout: 3000, messages: [{
        // Shaped like the load's records, so the final check reads it as one more intact write.
        key: `probe-${partition}-${attempt}`, partition, headers: { producer: 'probe' },
        value: JSON.stringify({ producer: 'probe', seq: partition, attempt }),
      }] });
      return Date.now() - startedAt;
    } catch {
      if (Date.now() > deadline) throw new Error(`no produce to partition ${partition} acknowledged within ${timeoutMs} ms`);
      await sleep(100);
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }
}

const skip = etcdMemberSkip();
t.test('three brokers: ownership, kill -9, pause past the lease, rolling restart under load', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, sessionTimeoutMs, label: 'failover' });
  const [b1, b2, b3] = cluster.brokers as [typeof cluster.brokers[0], typeof cluster.brokers[0], typeof cluster.brokers[0]];
  const topic = 'cluster-orders';
  const partitions = 6;
  const kafka = kafkajsClient(cluster.bootstrap());
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: false });
  await admin.disconnect();

  const initial = await waitUntil('every partition to have a leader', async () => {
    const l = await leaders(cluster.bootstrap(), topic);
    return [...l.byPartition.values()].every((id) => id > 0) && l.byPartition.size === partitions && l.brokers.length === 3 ? l : undefined;
  });
  t.same(initial.brokers, [1, 2, 3], 'Metadata lists the three live brokers');
  const perBroker = new Map<number, number>();
  for (const id of initial.byPartition.values()) perBroker.set(id, (perBroker.get(id) ?? 0) + 1);
  t.same([...perBroker.values()].sort(), [2, 2, 2], 'partitions are spread evenly');

  const loads = [new KafkajsLoad('a', cluster.bootstrap(), topic, partitions), new KafkajsLoad('b', cluster.bootstrap(), topic, partitions)];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  t.ok(await waitForAcks(acked, 300, 60_000), 'load is acknowledged');

  // kill -9 of broker 2: its partitions move.
  const moved = [...initial.byPartition].filter(([, id]) => id === 2).map(([p]) => p);
  const killedAt = Date.now();
  await b2.kill9();
  const failoverMs = await firstAck(`127.0.0.1:${b1.port}`, topic, moved[0]!, killedAt, 30_000);
  t.comment(`failover: kill -9 to the first acknowledged produce on moved partition ${moved[0]}: ${failoverMs} ms (lease ${sessionTimeoutMs} ms)`);
  t.ok(failoverMs < sessionTimeoutMs + 10_000, 'the moved partition takes writes within the lease plus a few seconds');
  const after = await leaders(`127.0.0.1:${b1.port}`, topic);
  for (const p of moved) t.not(after.byPartition.get(p), 2, `partition ${p} has a new owner`);
  t.ok(await waitForAcks(acked, 200, 60_000), 'load continues after the kill');
  await b2.restart();
  t.ok(await waitForAcks(acked, 200, 60_000), 'load continues after the restart');

  // SIGSTOP broker 3 past its lease, then resume it: it must find itself out and exit.
  b3.pause();
  await sleep(sessionTimeoutMs + 3000);
  t.ok(await waitForAcks(acked, 100, 60_000), 'load continues while broker 3 is paused');
  b3.resume();
  const exit = await Promise.race([b3.exitedPromise(), sleep(20_000).then(() => null)]);
  t.ok(exit && exit.code !== 0, 'the resumed broker knows its lease is gone and exits to be restarted');
  await b3.restart();
  t.ok(await waitForAcks(acked, 200, 60_000), 'load continues after broker 3 is back');

  // Rolling restart with SIGTERM: each broker hands its partitions over before exiting.
  for (const b of cluster.brokers) {
    const r = await b.terminate();
    t.equal(r.code, 0, 'graceful shutdown exits 0');
    await b.restart();
    t.ok(await waitForAcks(acked, 100, 60_000), 'load continues through the rolling restart');
  }

  for (const l of loads) await l.stop();
  const acks = loads.flatMap((l) => l.acks);
  t.comment(`${acks.length} records acknowledged; ${loads.reduce((n, l) => n + l.failures, 0)} batches failed and were re-sent`);
  await waitUntil('the cluster to settle after the rolling restart', async () => {
    const k = kafkajsClient(cluster.bootstrap()).admin();
    await k.connect();
    try {
      await k.fetchTopicOffsets(topic);
      return true;
    } finally {
      await k.disconnect();
    }
  }, 60_000, 500);
  await verifyLoad(t, cluster.bootstrap(), topic, partitions, acks);
  for (const b of cluster.brokers) t.same(b.errorLines().filter((l) => !/membership lost|can no longer serve|lease/.test(l)).slice(0, 5), [], 'no unexpected errors logged');
});
