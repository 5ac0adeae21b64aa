// A consumer group of ten kafkajs consumers on a three-broker cluster (one etcd, one radosgw bucket): every
// partition is assigned to exactly one member; the group's coordinator broker is killed with kill -9 and the
// members find the new coordinator (another broker, which loads the group from etcd) and rejoin; committed
// offsets survive, and every record produced before and after is consumed, in order per partition, with
// duplicates only from the range not yet committed when the coordinator died. Prints the rebalance times: ten
// members joining a new group, and the group settling again after its coordinator died.
import t from 'tap';
import type { Consumer } from 'kafkajs';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient, kafkajsProduce } from '../support/js-clients.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { makeRecords } from '../support/records.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';

t.setTimeout(300_000);

const partitions = 12;
const members = 10;
const sessionTimeoutMs = 3000;

interface Member {
  consumer: Consumer;
  generation: number;
  assigned: number[];
  records: { p: number; o: number; at: number }[];
}

async function coordinatorOf(port: number, group: string): Promise<number> {
  const c = await RawConnection.connect(port);
  try {
    const r = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: [group] });
    const k = r.coordinators[0];
    if (k.errorCode !== ErrorCode.NONE) throw new Error(`FindCoordinator: error ${k.errorCode}`);
    return k.nodeId;
  } finally {
    c.close();
  }
}

const skip = etcdMemberSkip();
t.test('ten consumers on three brokers; the coordinator dies', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    sessionTimeoutMs,
    label: 'groups',
    sets: { 'group.initial.rebalance.delay.ms': 0, 'group.min.session.timeout.ms': 1000 },
  });
  const topic = 'cluster-group-topic';
  const group = 'ten';
  const kafka = kafkajsClient(cluster.bootstrap());
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  await admin.disconnect();
  const first = makeRecords('g1', 1200, partitions);
  await waitUntil(
    'the first records to be acknowledged',
    async () => {
      const d = await kafkajsProduce(kafkajsClient(cluster.bootstrap()), topic, first);
      return d.every((x) => x.err === undefined) ? true : undefined;
    },
    60_000,
    500,
  );

  const started = Date.now();
  const ms: Member[] = [];
  for (let i = 0; i < members; i++) {
    const consumer = kafkajsClient(cluster.bootstrap(), `m${i}`).consumer({
      groupId: group,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 300,
      maxWaitTimeInMs: 100,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const m: Member = { consumer, generation: -1, assigned: [], records: [] };
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      m.generation =
        e.payload.groupId === group ? ((e.payload as unknown as { generationId?: number }).generationId ?? m.generation) : m.generation;
      m.assigned = (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b);
    });
    t.teardown(() => consumer.disconnect().catch(() => {}));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 200,
      eachMessage: async ({ partition, message }) => {
        m.records.push({ p: partition, o: Number(message.offset), at: Date.now() });
      },
    });
    ms.push(m);
  }
  const settled = () => {
    const all = ms.flatMap((m) => m.assigned);
    return all.length === partitions && new Set(all).size === partitions && ms.filter((m) => m.assigned.length > 0).length === members;
  };
  await waitUntil('ten members to share every partition', () => (settled() ? true : undefined), 60_000, 50);
  t.comment(
    `rebalance: ten members joining a new group, from the first run() to every partition assigned once: ${Date.now() - started} ms`,
  );
  t.pass('every partition is assigned to exactly one member');
  await waitUntil(
    'the first records to be consumed',
    () => (new Set(ms.flatMap((m) => m.records.map((r) => `${r.p}:${r.o}`))).size >= first.length ? true : undefined),
    60_000,
    100,
  );

  // Kill the coordinator's broker; the group moves to another broker and settles again.
  const coordinator = await coordinatorOf(cluster.brokers[0]!.port, group);
  const victim = cluster.brokers[coordinator - 1]!;
  const killedAt = Date.now();
  await victim.kill9();
  const survivorPort = cluster.brokers.find((b) => b.alive)!.port;
  const newCoordinator = await waitUntil(
    'a new coordinator',
    async () => {
      const id = await coordinatorOf(survivorPort, group);
      return id !== coordinator ? id : undefined;
    },
    60_000,
    200,
  );
  t.not(newCoordinator, coordinator, `coordinator moved from broker ${coordinator} to ${newCoordinator}`);
  t.comment(`coordinator failover: FindCoordinator names broker ${newCoordinator} ${Date.now() - killedAt} ms after the kill`);
  // The new coordinator loads the group (generation, members, assignment) from etcd: members that heartbeat in
  // time carry on without a rebalance; those that were stuck on the dead broker's partitions may be rebalanced.

  const second = makeRecords('g2', 600, partitions);
  await waitUntil(
    'more records to be acknowledged',
    async () => {
      const d = await kafkajsProduce(kafkajsClient(cluster.bootstrap()), topic, second);
      return d.every((x) => x.err === undefined) ? true : undefined;
    },
    60_000,
    500,
  );
  const total = first.length + second.length;
  // A produce attempt that failed part-way is sent again whole, so the log may hold more than `total` records:
  // wait for what the log holds, not for what was meant to be sent.
  const ends = await (async () => {
    const a = kafkajsClient(cluster.bootstrap()).admin();
    await a.connect();
    try {
      return await a.fetchTopicOffsets(topic);
    } finally {
      await a.disconnect();
    }
  })();
  const inLog = ends.reduce((n, e) => n + Number(e.high), 0);
  t.ok(inLog >= total, `${inLog} records in the log (${total} sent; a re-sent batch may add some)`);
  await waitUntil(
    'every record in the log to be consumed',
    () => (new Set(ms.flatMap((m) => m.records.map((r) => `${r.p}:${r.o}`))).size >= inLog ? true : undefined),
    90_000,
    100,
  );
  t.comment(
    `kill -9 of the coordinator's broker (lease ${sessionTimeoutMs} ms) to every record produced after it consumed: ${Date.now() - killedAt} ms`,
  );
  await waitUntil('the group to be settled', () => (settled() ? true : undefined), 60_000, 50);
  t.pass('after the coordinator moved, every partition is still assigned to exactly one member');
  const firstAfterKill = ms.map((m) => {
    const r = m.records.find((x) => x.at > killedAt);
    return r ? r.at - killedAt : -1;
  });
  t.comment(`each member's first record after the kill, ms after it: ${firstAfterKill.join(', ')}`);
  const seen = new Set(ms.flatMap((m) => m.records.map((r) => `${r.p}:${r.o}`)));
  const outside = [...seen].filter((k) => {
    const [p, o] = k.split(':').map(Number);
    return o! >= Number(ends.find((e) => e.partition === p)!.high);
  });
  t.same(outside, [], 'no record was consumed beyond the high watermark');
  t.equal(seen.size, inLog, 'every record in the log was consumed');
  for (const m of ms) {
    const byP = new Map<number, number[]>();
    for (const r of m.records) (byP.get(r.p) ?? byP.set(r.p, []).get(r.p)!).push(r.o);
    // Within one member's run of a partition offsets only go up, except when it re-reads uncommitted ones.
    let backwards = 0;
    for (const offs of byP.values()) for (let i = 1; i < offs.length; i++) if (offs[i]! < offs[i - 1]!) backwards++;
    t.ok(backwards <= 2, `member order held per partition (re-reads after a rebalance: ${backwards})`);
  }
  // A member leaves (LeaveGroup): the other nine take its partitions.
  const leaver = ms.pop()!;
  const leftAt = Date.now();
  await leaver.consumer.disconnect();
  const nineCover = () => {
    const all = ms.flatMap((m) => m.assigned);
    return all.length === partitions && new Set(all).size === partitions && !ms.some((m) => m.assigned.length === 0);
  };
  await waitUntil('nine members to share every partition', () => (nineCover() ? true : undefined), 60_000, 20);
  t.comment(`rebalance: one of ten members leaves, until the nine share every partition again: ${Date.now() - leftAt} ms`);
  for (const m of ms) await m.consumer.disconnect();
});
