// Three brokers in cluster mode over one etcd and one radosgw bucket. Partitions are spread over the brokers and
// Metadata names their owners; a broker asked for a partition it does not own answers NOT_LEADER_OR_FOLLOWER.
// Under acks=all load: kill -9 of a broker (its partitions move within the lease plus a few seconds: the time
// to the first acknowledged produce on a moved partition is printed), a broker paused with SIGSTOP past its
// lease (once resumed it acknowledges nothing and exits to be restarted), and a rolling restart with SIGTERM
// (partitions are handed over first), while a consumer group of three kafkajs members reads along. Afterwards
// every acknowledged record is in the log exactly once, where it was acknowledged, offsets have no gap or
// overlap, and each producer's order held; the group read every acknowledged record, redelivered only records
// not yet committed, and read each partition in order.
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Consumer } from 'kafkajs';
import type { Test } from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { KafkajsLoad, verifyLoad, waitForAcks } from '../support/load.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { sleep } from '../support/run.ts';

t.setTimeout(420_000);
const sessionTimeoutMs = 3000;

interface Leaders {
  byPartition: Map<number, number>;
  brokers: number[];
}

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
    const kafka = new kafkajs.Kafka({
      clientId: 'probe',
      brokers: bootstrap.split(','),
      logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 1000,
      requestTimeout: 3000,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    try {
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        timeout: 3000,
        messages: [
          {
            // Shaped like the load's records, so the final check reads it as one more intact write.
            key: `probe-${partition}-${attempt}`,
            partition,
            headers: { producer: 'probe' },
            value: JSON.stringify({ producer: 'probe', seq: partition, attempt }),
          },
        ],
      });
      return Date.now() - startedAt;
    } catch {
      if (Date.now() > deadline) throw new Error(`no produce to partition ${partition} acknowledged within ${timeoutMs} ms`);
      await sleep(100);
    } finally {
      await producer.disconnect().catch(() => {});
    }
  }
}

interface GroupRun {
  consumers: Consumer[];
  /** Every record delivered, in delivery order: partition, offset, key, when. */
  reads: { p: number; o: number; k: string; at: number }[];
  /** Offsets committed, as the members reported them: partition, next offset, when. */
  commits: { p: number; o: number; at: number }[];
}

/** A consumer group of `n` kafkajs members reading `topic` from the beginning while the chaos goes on. */
async function startGroup(t: Test, bootstrap: string, topic: string, n: number): Promise<GroupRun> {
  const run: GroupRun = { consumers: [], reads: [], commits: [] };
  for (let i = 0; i < n; i++) {
    const consumer = kafkajsClient(bootstrap, `chaos-${i}`).consumer({
      groupId: 'chaos-group',
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 200,
      retry: { retries: 100, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      for (const tp of e.payload.topics)
        for (const p of tp.partitions) run.commits.push({ p: p.partition, o: Number(p.offset), at: Date.now() });
    });
    t.teardown(() => consumer.disconnect().catch(() => {}));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 500,
      eachMessage: async ({ partition, message }) => {
        run.reads.push({ p: partition, o: Number(message.offset), k: message.key?.toString() ?? '', at: Date.now() });
      },
    });
    run.consumers.push(consumer);
  }
  return run;
}

/**
 * Every acknowledged record was consumed; a record consumed twice was not yet committed when it was read again
 * (redelivery only from the uncommitted range, as a rebalance or a coordinator change allows); each partition's
 * first reads go in offset order.
 */
async function checkGroup(t: Test, run: GroupRun, acks: { key: string }[], bootstrap: string, topic: string): Promise<void> {
  const keys = () => new Set(run.reads.map((r) => r.k));
  await waitUntil(
    'the group to consume every acknowledged record',
    () => (acks.every((a) => keys().has(a.key)) ? true : undefined),
    120_000,
    200,
  );
  t.pass(`the consumer group read all ${acks.length} acknowledged records`);
  const seen = new Map<string, number>();
  let twice = 0;
  let badTwice = 0;
  for (const r of run.reads) {
    const id = `${r.p}:${r.o}`;
    if (!seen.has(id)) {
      seen.set(id, r.at);
      continue;
    }
    twice++;
    const committed = Math.max(-1, ...run.commits.filter((c) => c.p === r.p && c.at < r.at).map((c) => c.o));
    if (committed > r.o) badTwice++;
  }
  t.equal(badTwice, 0, `no committed record was delivered again (${twice} redeliveries from uncommitted ranges)`);
  const firstReads = new Map<number, number[]>();
  const firstSeen = new Set<string>();
  for (const r of run.reads) {
    const id = `${r.p}:${r.o}`;
    if (firstSeen.has(id)) continue;
    firstSeen.add(id);
    (firstReads.get(r.p) ?? firstReads.set(r.p, []).get(r.p)!).push(r.o);
  }
  const disordered = [...firstReads].filter(([, offs]) => offs.some((o, i) => i > 0 && o < offs[i - 1]!)).map(([p]) => p);
  t.same(disordered, [], 'each partition was first read in offset order');
  for (const c of run.consumers) await c.disconnect().catch(() => {});
  void bootstrap;
  void topic;
}

const skip = etcdMemberSkip();
t.test('three brokers: ownership, kill -9, pause past the lease, rolling restart under load', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, sessionTimeoutMs, label: 'failover' });
  const [b1, b2, b3] = cluster.brokers as [(typeof cluster.brokers)[0], (typeof cluster.brokers)[0], (typeof cluster.brokers)[0]];
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

  const group = await startGroup(t, cluster.bootstrap(), topic, 3);
  const loads = [
    new KafkajsLoad('a', cluster.bootstrap(), topic, partitions),
    new KafkajsLoad('b', cluster.bootstrap(), topic, partitions),
  ];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  t.ok(await waitForAcks(acked, 300, 60_000), 'load is acknowledged');

  // kill -9 of broker 2: its partitions move.
  const moved = [...initial.byPartition].filter(([, id]) => id === 2).map(([p]) => p);
  const killedAt = Date.now();
  await b2.kill9();
  const failoverMs = await firstAck(`127.0.0.1:${b1.port}`, topic, moved[0]!, killedAt, 30_000);
  t.comment(
    `failover: kill -9 to the first acknowledged produce on moved partition ${moved[0]}: ${failoverMs} ms (lease ${sessionTimeoutMs} ms)`,
  );
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
  await waitUntil(
    'the cluster to settle after the rolling restart',
    async () => {
      const k = kafkajsClient(cluster.bootstrap()).admin();
      await k.connect();
      try {
        await k.fetchTopicOffsets(topic);
        return true;
      } finally {
        await k.disconnect();
      }
    },
    60_000,
    500,
  );
  await verifyLoad(t, cluster.bootstrap(), topic, partitions, acks);
  await checkGroup(t, group, acks, cluster.bootstrap(), topic);
  // Expected errors: the paused broker, once resumed, finds its lease gone and its in-flight commit refused.
  const expected = /membership lost|can no longer serve|lease|FencedError/;
  for (const b of cluster.brokers)
    t.same(
      b
        .errorLines()
        .filter((l) => !expected.test(l))
        .slice(0, 5),
      [],
      'no unexpected errors logged',
    );
});
