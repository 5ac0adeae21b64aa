// Transactions with confluent-kafka-python (librdkafka) (spec/transactions.md): a transactional producer that
// commits some transactions and aborts others, read back with read_committed (exactly the committed records, in
// order per partition) and read_uncommitted (all of them); and a consume-transform-produce loop that commits its
// offsets inside its transactions, is killed (SIGKILL) in the middle of a transaction and restarted: every
// input record is then reflected exactly once in the committed output.
import t from 'tap';
import type { Test } from 'tap';
import kafkajs from 'kafkajs';
import { startBroker } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(300_000);
const partitions = 3;

async function createTopics(bootstrap: string, topics: string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'skafos-txn', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: partitions })) });
  await admin.disconnect();
}

async function read(
  t: Test,
  bootstrap: string,
  topic: string,
  isolation: string,
  expected: number,
): Promise<{ p: number; o: number; k: string | null; v: string }[]> {
  const r = await pythonClient(
    'txn_read.py',
    { bootstrap, topic, group: `read-${topic}-${isolation}`, isolation, expected, idle_s: 2, timeout_s: 60 },
    { timeoutMs: 90_000 },
  );
  t.equal(r.code, 0, `txn_read.py ${isolation}: ${r.code === 0 ? '' : describeRun(r)}`);
  return jsonLines(r.stdout);
}

t.test('confluent-kafka-python: committed and aborted transactions', async (t) => {
  const b = await startBroker(t);
  const bootstrap = `127.0.0.1:${b.port}`;
  const topic = 'txn-confluent';
  await createTopics(bootstrap, [topic]);
  const r = await pythonClient(
    'txn_producer.py',
    { bootstrap, topic, partitions, txid: 'confluent-txn', name: 'ck', transactions: 10, per_txn: 7, abort_every: 3, abort_rest: 1 },
    { timeoutMs: 120_000 },
  );
  t.equal(r.code, 0, describeRun(r));
  const { committed, aborted } = jsonLines<{ committed: string[]; aborted: string[] }>(r.stdout).at(-1)!;
  t.ok(committed.length > 0 && aborted.length > 0);
  const rc = await read(t, bootstrap, topic, 'read_committed', committed.length);
  t.same(rc.map((x) => x.v).sort(), [...committed].sort(), 'read_committed: exactly the committed records');
  const order = new Map(committed.map((v, i) => [v, i]));
  t.ok(
    rc.every((x, i) => rc.slice(0, i).every((y) => y.p !== x.p || order.get(y.v)! < order.get(x.v)!)),
    'read_committed: in order per partition',
  );
  const ru = await read(t, bootstrap, topic, 'read_uncommitted', committed.length + aborted.length);
  t.same(ru.map((x) => x.v).sort(), [...committed, ...aborted].sort(), 'read_uncommitted: every record');
});

t.test('confluent-kafka-python: consume-transform-produce killed mid-transaction and restarted: exactly once', async (t) => {
  const b = await startBroker(t);
  const bootstrap = `127.0.0.1:${b.port}`;
  await createTopics(bootstrap, ['ctp-input', 'ctp-output']);
  const inputs = Array.from({ length: 300 }, (_, i) => `in-${i}`);
  const producer = new Kafka({ clientId: 'skafos-txn', brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic: 'ctp-input', messages: inputs.map((v, i) => ({ value: v, partition: i % partitions })) });
  await producer.disconnect();
  const request = { bootstrap, input: 'ctp-input', output: 'ctp-output', group: 'ctp', txid: 'ctp-loop', batch: 20, idle_s: 5 };
  const first = await pythonClient('txn_loop.py', { ...request, die_after: 4 }, { timeoutMs: 120_000 });
  t.equal(first.signal, 'SIGKILL', `the first run killed itself mid-transaction: ${first.signal === 'SIGKILL' ? '' : describeRun(first)}`);
  const done = jsonLines<{ committed: number; records: number }>(first.stdout);
  t.equal(done.at(-1)?.committed, 4, 'four transactions committed before the crash');
  const second = await pythonClient('txn_loop.py', request, { timeoutMs: 180_000 });
  t.equal(second.code, 0, describeRun(second));
  const out = await read(t, bootstrap, 'ctp-output', 'read_committed', inputs.length);
  const counts = new Map<string, number>();
  for (const r of out) counts.set(r.k!, (counts.get(r.k!) ?? 0) + 1);
  t.equal(inputs.filter((v) => counts.get(v) !== 1).length, 0, 'every input exactly once in the committed output');
  t.equal(out.length, inputs.length, 'nothing else');
  const all = await read(t, bootstrap, 'ctp-output', 'read_uncommitted', inputs.length);
  t.ok(
    all.length > inputs.length,
    `read_uncommitted also sees the aborted outputs of the crashed transaction (${all.length - inputs.length})`,
  );
});
