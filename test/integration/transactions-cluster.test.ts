// Transactions on three brokers in cluster mode over etcd and radosgw (spec/transactions.md): a kafkajs
// transactional producer writes to partitions owned by every broker (markers for partitions of other brokers
// go through WriteTxnMarkers), commits some transactions and aborts others; then, in the middle of a
// transaction, the broker of its transaction coordinator is killed with kill -9. The coordinator partition
// moves; its new owner loads the transaction and aborts it once it times out (fencing the producer); a new
// producer with the same transactional id carries on. A read_committed consumer sees exactly the committed
// records, in order per partition; a read_uncommitted one sees every record that reached the log. And a
// confluent-kafka-python consume-transform-produce loop keeps running while the broker of its transaction
// coordinator is killed: every input ends up exactly once in the committed output.
import t from 'tap';
import kafkajs from 'kafkajs';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { TestClient } from '../broker/handlers/support/client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../broker/protocol/records/build.ts';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { clientScripts, python } from '../support/run.ts';
import { javaScenarios } from '../support/java-scenarios.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(420_000);
const partitions = 6;
const topic = 'txn-cluster';
const txid = 'cluster-txn';

function kafka(bootstrap: string) {
  return new Kafka({
    clientId: 'skafos-txn-cluster',
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    connectionTimeout: 2000,
    requestTimeout: 10000,
  });
}

async function coordinatorOf(port: number, id = txid): Promise<number> {
  const c = await TestClient.connect(port);
  try {
    const r = await c.request(ApiKey.FindCoordinator, 1, { key: id, keyType: 1 });
    if (r.errorCode !== 0) throw new Error(`FindCoordinator: ${r.errorCode}`);
    return r.nodeId;
  } finally {
    c.close();
  }
}

async function consumeAll(bootstrap: string, readUncommitted: boolean, expected: number): Promise<{ p: number; v: string }[]> {
  const consumer = kafka(bootstrap).consumer({ groupId: `reader-${readUncommitted}`, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got: { p: number; v: string }[] = [];
  let lastAt = Date.now();
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      got.push({ p: partition, v: message.value!.toString() });
      lastAt = Date.now();
    },
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && (got.length < expected || Date.now() - lastAt < 3000)) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  return got;
}

const skip = etcdMemberSkip();
t.test('three brokers: remote markers, and the coordinator killed mid-transaction', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'txn',
    sets: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 500, 'group.initial.rebalance.delay.ms': 0 },
  });
  const admin = kafka(cluster.bootstrap()).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  await admin.disconnect();
  t.equal(new Set(md.topics[0]!.partitions.map((p) => p.leader)).size, 3, 'partitions on all three brokers');

  const committed: string[] = [];
  const all: string[] = [];
  let producer = kafka(cluster.bootstrap()).producer({
    transactionalId: txid,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 8000,
  });
  await producer.connect();
  const runTxn = async (name: string, commit: boolean) => {
    const txn = await producer.transaction();
    const values = Array.from({ length: partitions * 2 }, (_, j) => `${name}-${j}`);
    await txn.send({ topic, messages: values.map((v, j) => ({ value: v, partition: j % partitions })) });
    all.push(...values);
    if (commit) {
      await txn.commit();
      committed.push(...values);
    } else await txn.abort();
  };
  for (let i = 0; i < 6; i++) await runTxn(`a${i}`, i % 3 !== 1);

  // KIP-890 across brokers: a transactional batch for a partition owned by a broker that is not the transaction
  // coordinator is verified with the coordinator over the broker-to-broker client before it may open a
  // transaction there.
  {
    const vtopic = 'txn-verify-remote';
    const a = kafka(cluster.bootstrap()).admin();
    await a.connect();
    await a.createTopics({ topics: [{ topic: vtopic, numPartitions: 3 }], waitForLeaders: true });
    const vmd = await a.fetchTopicMetadata({ topics: [vtopic] });
    await a.disconnect();
    const vid = 'verify-remote';
    const coord = await coordinatorOf(cluster.brokers[0]!.port, vid);
    const remote = vmd.topics[0]!.partitions.find((p) => p.leader !== coord)!;
    const cc = await TestClient.connect(cluster.brokers[coord - 1]!.port);
    const oc = await TestClient.connect(cluster.brokers[remote.leader - 1]!.port);
    try {
      const init = await cc.request(ApiKey.InitProducerId, 4, {
        transactionalId: vid,
        transactionTimeoutMs: 60000,
        producerId: -1,
        producerEpoch: -1,
      });
      t.equal(init.errorCode, 0);
      const send = async (seq: number) => {
        const records = buildRecordBatch([{ key: null, value: Buffer.from(`v${seq}`), timestampMs: Date.now() }], {
          producerId: Number(init.producerId),
          producerEpoch: init.producerEpoch,
          baseSequence: seq,
          transactional: true,
        });
        const r = await oc.request(ApiKey.Produce, 9, {
          transactionalId: vid,
          acks: -1,
          timeoutMs: 10000,
          topicData: [{ name: vtopic, partitionData: [{ index: remote.partitionId, records }] }],
        });
        return r.responses[0].partitionResponses[0].errorCode as number;
      };
      // Until the new partition's owner has loaded it, it answers NOT_LEADER_OR_FOLLOWER (retriable).
      const first = await waitUntil(
        'the new partition to be served',
        async () => {
          const code = await send(0);
          return code === ErrorCode.NOT_LEADER_OR_FOLLOWER ? undefined : code;
        },
        30_000,
        100,
      );
      t.equal(
        first,
        ErrorCode.INVALID_TXN_STATE,
        `broker ${remote.leader} refuses a partition never added to the transaction (coordinator: broker ${coord})`,
      );
      const add = await cc.request(ApiKey.AddPartitionsToTxn, 3, {
        v3AndBelowTransactionalId: vid,
        v3AndBelowProducerId: Number(init.producerId),
        v3AndBelowProducerEpoch: init.producerEpoch,
        v3AndBelowTopics: [{ name: vtopic, partitions: [remote.partitionId] }],
      });
      t.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 0);
      t.equal(await send(0), ErrorCode.NONE, 'once added, the remote owner takes it');
      t.equal(
        (
          await cc.request(ApiKey.EndTxn, 3, {
            transactionalId: vid,
            producerId: Number(init.producerId),
            producerEpoch: init.producerEpoch,
            committed: false,
          })
        ).errorCode,
        0,
      );
    } finally {
      cc.close();
      oc.close();
    }
  }

  // Mid-transaction: records sent, not committed; then the coordinator's broker dies.
  const coordinator = await coordinatorOf(cluster.brokers[0]!.port);
  const victim = cluster.brokers[coordinator - 1]!;
  const txn = await producer.transaction();
  const open = Array.from({ length: partitions }, (_, j) => `open-${j}`);
  await txn.send({ topic, messages: open.map((v, j) => ({ value: v, partition: j })) });
  all.push(...open);
  t.comment(`killing broker ${coordinator}, the transaction coordinator, mid-transaction`);
  await victim.kill9();
  await producer.disconnect().catch(() => {});
  // A new coordinator takes the partition; the open transaction is aborted (timeout, or fenced by the next init).
  const survivor = cluster.brokers.find((b) => b.alive)!;
  await waitUntil(
    'a new transaction coordinator',
    async () => ((await coordinatorOf(survivor.port).catch(() => coordinator)) !== coordinator ? true : undefined),
    60_000,
    500,
  );
  producer = kafka(cluster.bootstrap()).producer({
    transactionalId: txid,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 8000,
  });
  await producer.connect();
  for (let i = 0; i < 3; i++) await runTxn(`b${i}`, true);
  await producer.disconnect();

  const rc = await consumeAll(cluster.bootstrap(), false, committed.length);
  t.same(rc.map((x) => x.v).sort(), [...committed].sort(), 'read_committed: exactly the committed records');
  const order = new Map(committed.map((v, i) => [v, i]));
  const last = new Map<number, number>();
  let inOrder = true;
  for (const x of rc) {
    if (order.get(x.v)! < (last.get(x.p) ?? -1)) inOrder = false;
    last.set(x.p, order.get(x.v)!);
  }
  t.ok(inOrder, 'read_committed: in order per partition');
  const ru = await consumeAll(cluster.bootstrap(), true, all.length);
  t.same(ru.map((x) => x.v).sort(), [...all].sort(), 'read_uncommitted: every record, aborted ones included');
});

t.test("three brokers: a consume-transform-produce loop while its coordinator's broker is killed", { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'txn-loop',
    sets: { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': 500, 'group.initial.rebalance.delay.ms': 0 },
  });
  const k = kafka(cluster.bootstrap());
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'loop-in', numPartitions: partitions },
      { topic: 'loop-out', numPartitions: partitions },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const inputs = Array.from({ length: 600 }, (_, i) => `in-${i}`);
  const p = k.producer();
  await p.connect();
  await p.send({ topic: 'loop-in', messages: inputs.map((v, i) => ({ value: v, partition: i % partitions })) });
  await p.disconnect();
  const loopTxid = 'loop-cluster';
  const request = {
    bootstrap: cluster.bootstrap(),
    input: 'loop-in',
    output: 'loop-out',
    group: 'loop',
    txid: loopTxid,
    batch: 10,
    idle_s: 30,
    stop_at: inputs.length,
  };
  const child = spawn(python, ['-u', join(clientScripts, 'txn_loop.py')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdin.end(JSON.stringify(request));
  const commits = () => out.split('\n').filter((l) => l.startsWith('{')).length;
  await waitUntil('the loop to commit a few transactions', () => (commits() >= 5 ? true : undefined), 90_000, 100);
  const coordinator = await coordinatorOf(cluster.brokers.find((b) => b.alive)!.port, loopTxid);
  t.comment(`killing broker ${coordinator}, the loop's transaction coordinator, after ${commits()} commits`);
  await cluster.brokers[coordinator - 1]!.kill9();
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 240_000)))]);
  clearTimeout(timer);
  t.equal(code, 0, `the loop ran to its end: ${code}\n${err.slice(-3000)}`);
  const last = JSON.parse(out.trim().split('\n').at(-1) ?? '{}');
  t.comment(`loop: ${JSON.stringify(last)}`);
  const consumer = kafka(cluster.bootstrap()).consumer({ groupId: 'loop-check', readUncommitted: false, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'loop-out', fromBeginning: true });
  const keys: string[] = [];
  let lastAt = Date.now();
  await consumer.run({
    eachMessage: async ({ message }) => {
      keys.push(message.key!.toString());
      lastAt = Date.now();
    },
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && (keys.length < inputs.length || Date.now() - lastAt < 3000)) await new Promise((r) => setTimeout(r, 200));
  await consumer.disconnect();
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  t.equal(inputs.filter((v) => counts.get(v) !== 1).length, 0, 'every input exactly once in the committed output');
  t.equal(keys.length, inputs.length, 'nothing else');
});

t.test('three brokers: the Java client at transaction version 2 (implicit adds sent to a remote coordinator)', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 3,
    etcdEndpoint: etcd.endpoint,
    label: 'txn-v2',
    sets: { 'group.initial.rebalance.delay.ms': 0 },
  });
  // Three transactional ids and two topics over three brokers: the partitions' owners and the coordinators differ
  // for most of them, so Produce v12 and TxnOffsetCommit v5 add partitions with AddPartitionsToTxn v5 over the
  // broker-to-broker client.
  const scenario = javaScenarios.find((s) => s.name.startsWith('transactions (version 2)'))!;
  await scenario.run(t, cluster.bootstrap());
});
