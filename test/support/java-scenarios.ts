// Scenarios run with the Apache Kafka Java client (test/support/java-client.ts), each in one driver JVM, against
// any broker given by its bootstrap address: Skafos (test/integration/java-client.test.ts) and Apache Kafka
// itself (test/integration/java-client-apache-kafka.test.ts), which keeps the scenarios honest: what they
// assert is what Kafka does.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { JavaDriver } from './java-client.ts';

export interface JavaScenario {
  name: string;
  run: (t: Test, bootstrap: string) => Promise<void>;
}

interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers?: Record<string, string | null>;
}

interface SentRecord {
  key?: string | null;
  value?: string | null;
  partition?: number;
  headers?: Record<string, string | null>;
}

type PerItem<T> = Record<string, T | { error: string; message: string }>;

const suffix = randomBytes(4).toString('hex');
const clientTimeouts = { 'request.timeout.ms': 15_000, 'default.api.timeout.ms': 30_000 };
const producerTimeouts = { ...clientTimeouts, 'delivery.timeout.ms': 60_000, 'max.block.ms': 30_000 };

/** Polls `fn` until it returns a value other than undefined; fails after timeoutMs with `what`. */
async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function admin(java: JavaDriver, bootstrap: string): Promise<void> {
  await java.call('admin.create', { name: 'admin', config: { 'bootstrap.servers': bootstrap, ...clientTimeouts } });
}

async function createTopic(t: Test, java: JavaDriver, topic: string, partitions: number, configs: Record<string, string> = {}) {
  const res = await java.call<PerItem<object>>('admin.createTopics', {
    name: 'admin',
    topics: [{ name: topic, partitions, replicationFactor: 1, configs }],
  });
  t.same(res, { [topic]: {} }, `created ${topic}`);
}

async function endOffsets(java: JavaDriver, topic: string, partitions: number, isolation = 'read_uncommitted'): Promise<number[]> {
  const req = Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, spec: 'latest' }));
  const res = await java.call<PerItem<{ offset: number }>>('admin.listOffsets', { name: 'admin', partitions: req, isolation });
  return req.map((r) => {
    const v = res[`${topic}-${r.partition}`];
    if (v === undefined || 'error' in v) throw new Error(`listOffsets ${topic}-${r.partition}: ${JSON.stringify(v)}`);
    return v.offset;
  });
}

const byPosition = (a: ConsumedRecord, b: ConsumedRecord) => a.partition - b.partition || a.offset - b.offset;

// ---------------------------------------------------------------------------------------------------------
// The producer with its defaults (idempotent, acks=all) and each codec

const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

async function producerCodecs(t: Test, bootstrap: string): Promise<void> {
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  const partitions = 3;
  for (const codec of codecs) {
    const topic = `java-codec-${codec}-${suffix}`;
    await createTopic(t, java, topic, partitions);
    await java.call('producer.create', {
      name: codec,
      config: {
        'bootstrap.servers': bootstrap,
        'client.id': `java-${codec}`,
        'compression.type': codec,
        'max.in.flight.requests.per.connection': 5,
        ...producerTimeouts,
      },
    });
    // Keyed records spread by the default partitioner, plus edge cases: headers, a null value, a null key, a
    // large compressible value, an empty value.
    const records: SentRecord[] = [];
    for (let i = 0; i < 400; i++) records.push({ key: `k${i}`, value: `${codec}-value-${i}-${'x'.repeat(i % 50)}` });
    records.push({ key: 'with-headers', value: 'h', headers: { a: '1', b: null, ü: 'ß' } });
    records.push({ key: 'tombstone', value: null, partition: 1 });
    records.push({ key: null, value: 'no-key', partition: 2 });
    records.push({ key: 'big', value: 'abcdefghij'.repeat(15_000), partition: 0 });
    records.push({ key: 'empty', value: '', partition: 0 });
    const { acks } = await java.call<{ acks: [number, number][] }>('producer.send', { name: codec, topic, records });
    t.equal(acks.length, records.length, `${codec}: every record acknowledged`);
    // Each partition's offsets are 0..n-1, each once: no duplicates, no gaps (idempotence on, 5 in flight).
    const perPartition = Array.from({ length: partitions }, () => [] as number[]);
    for (const [p, o] of acks) perPartition[p]!.push(o);
    for (const [p, offsets] of perPartition.entries()) {
      t.same(
        [...offsets].sort((a, b) => a - b),
        offsets.map((_, i) => i),
        `${codec}: partition ${p} offsets dense from 0`,
      );
    }
    t.same(
      await endOffsets(java, topic, partitions),
      perPartition.map((o) => o.length),
      `${codec}: end offsets`,
    );

    await java.call('consumer.create', {
      name: `c-${codec}`,
      config: { 'bootstrap.servers': bootstrap, ...clientTimeouts },
      assign: Array.from({ length: partitions }, (_, p) => ({ topic, partition: p, offset: 0 })),
    });
    const got = (
      await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: `c-${codec}`, count: records.length, timeoutMs: 60_000 })
    ).records;
    const expected = records.map((r, i) => ({
      partition: acks[i]![0],
      offset: acks[i]![1],
      key: r.key ?? null,
      value: r.value ?? null,
      headers: r.headers,
    }));
    t.same(
      got
        .map((r) => ({ partition: r.partition, offset: r.offset, key: r.key, value: r.value, headers: r.headers }))
        .sort(byPosition as never),
      expected.sort(byPosition as never),
      `${codec}: consumed what was acknowledged, where it was acknowledged`,
    );
    const extra = (await java.call<{ records: ConsumedRecord[] }>('consumer.records', { name: `c-${codec}`, waitMs: 300 })).records;
    t.equal(extra.length, 0, `${codec}: nothing more`);
    await java.call('consumer.close', { name: `c-${codec}` });
    await java.call('producer.close', { name: codec });
  }
  await java.close();
}

// ---------------------------------------------------------------------------------------------------------
// Consumer groups: a second member joins (the partitions are shared), then leaves (the first takes them back)

interface GroupVariant {
  /** 'classic' with a client-side assignor, or 'consumer' (KIP-848, the broker's assignor). */
  protocol: 'classic' | 'consumer';
  assignor?: 'range' | 'cooperative-sticky';
}

const assignorClass = {
  range: 'org.apache.kafka.clients.consumer.RangeAssignor',
  'cooperative-sticky': 'org.apache.kafka.clients.consumer.CooperativeStickyAssignor',
};

interface GroupDescription {
  groupId: string;
  state: string;
  type: string;
  partitionAssignor: string;
  members: { memberId: string; clientId: string; assignment: string[] }[];
}

async function groupRebalance(t: Test, bootstrap: string, variant: GroupVariant): Promise<void> {
  const label = variant.protocol === 'classic' ? `classic-${variant.assignor}` : 'consumer';
  const topic = `java-group-${label}-${suffix}`;
  const group = `java-group-${label}-${suffix}`;
  const partitions = 4;
  const all = Array.from({ length: partitions }, (_, p) => `${topic}-${p}`);
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  await createTopic(t, java, topic, partitions);
  await java.call('producer.create', { name: 'p', config: { 'bootstrap.servers': bootstrap, ...producerTimeouts } });
  let sent = 0;
  const produce = async (n: number): Promise<string[]> => {
    const records = Array.from({ length: n }, (_, i) => ({ key: null, value: `v${sent + i}`, partition: (sent + i) % partitions }));
    sent += n;
    await java.call('producer.send', { name: 'p', topic, records });
    return records.map((r) => r.value);
  };
  const consumerConfig = (clientId: string) => ({
    'bootstrap.servers': bootstrap,
    'client.id': clientId,
    'group.id': group,
    'enable.auto.commit': 'false',
    'auto.offset.reset': 'earliest',
    ...clientTimeouts,
    ...(variant.protocol === 'classic'
      ? {
          'group.protocol': 'classic',
          'partition.assignment.strategy': assignorClass[variant.assignor!],
          'session.timeout.ms': 10_000,
          'heartbeat.interval.ms': 500,
        }
      : { 'group.protocol': 'consumer' }),
  });
  const assignment = (name: string) => java.call<string[]>('consumer.assignment', { name });
  const drain = async (names: string[], count: number) => {
    const got = new Map<string, ConsumedRecord[]>(names.map((n) => [n, []]));
    let total = 0;
    await until(`${count} records from ${names.join(', ')}`, 60_000, async () => {
      for (const n of names) {
        const { records } = await java.call<{ records: ConsumedRecord[] }>('consumer.records', { name: n });
        got.get(n)!.push(...records);
        total += records.length;
      }
      return total >= count ? true : undefined;
    });
    return got;
  };
  const describe = async () => {
    const res = await java.call<PerItem<GroupDescription>>('admin.describeConsumerGroups', { name: 'admin', groups: [group] });
    const d = res[group]!;
    if ('error' in d) throw new Error(`describeConsumerGroups: ${d.error}: ${d.message}`);
    return d;
  };

  // One member: everything.
  const first = await produce(40);
  await java.call('consumer.create', { name: 'c1', config: consumerConfig('c1'), topics: [topic] });
  const r1 = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'c1', count: 40, timeoutMs: 60_000 })).records;
  t.same(r1.map((r) => r.value).sort(), [...first].sort(), 'c1 alone consumed every record');
  t.same(await assignment('c1'), all, 'c1 alone owns every partition');
  await java.call('consumer.commit', { name: 'c1' });

  // A second member joins: two partitions each.
  await java.call('consumer.create', { name: 'c2', config: consumerConfig('c2'), topics: [topic] });
  const split = await until('the partitions shared by c1 and c2', 60_000, async () => {
    const [a1, a2] = [await assignment('c1'), await assignment('c2')];
    const union = [...a1, ...a2].sort();
    return a1.length === 2 && a2.length === 2 && JSON.stringify(union) === JSON.stringify(all) ? [a1, a2] : undefined;
  });
  const second = await produce(40);
  const got = await drain(['c1', 'c2'], 40);
  t.same([...got.get('c1')!, ...got.get('c2')!].map((r) => r.value).sort(), [...second].sort(), 'c1 and c2 consumed the new records once');
  for (const [i, name] of ['c1', 'c2'].entries()) {
    t.ok(
      got.get(name)!.every((r) => split[i]!.includes(`${r.topic}-${r.partition}`)),
      `${name} consumed only from its own partitions`,
    );
  }
  t.equal(
    (await java.call<{ records: ConsumedRecord[] }>('consumer.records', { name: 'c1', waitMs: 300 })).records.length,
    0,
    'no duplicates',
  );
  await java.call('consumer.commit', { name: 'c1' });
  await java.call('consumer.commit', { name: 'c2' });
  const two = await until('a stable group of two', 30_000, async () => {
    const d = await describe();
    return d.state === 'STABLE' && d.members.length === 2 && d.members.every((m) => m.assignment.length === 2) ? d : undefined;
  });
  t.equal(two.type, variant.protocol === 'classic' ? 'CLASSIC' : 'CONSUMER', 'group type');
  t.equal(two.partitionAssignor, variant.assignor ?? 'uniform', 'assignor');
  t.same(
    two.members.map((m) => [m.clientId, m.assignment]),
    [
      ['c1', split[0]],
      ['c2', split[1]],
    ],
    'described assignment as the members see it',
  );
  const committed = await java.call<Record<string, number>>('admin.listConsumerGroupOffsets', { name: 'admin', group });
  t.same(committed, Object.fromEntries(all.map((tp) => [tp, 20])), 'committed offsets');

  // Eager (range) revokes everything at a rebalance; cooperative and KIP-848 only what moves.
  const c1Revoked = java.events.filter((e) => e.event === 'revoked' && e.consumer === 'c1').map((e) => e.partitions!);
  if (variant.assignor === 'range')
    t.ok(
      c1Revoked.some((p) => p.length === partitions),
      'range: c1 revoked everything when c2 joined',
    );
  else
    t.notOk(
      c1Revoked.some((p) => p.length === partitions),
      'incremental: c1 never revoked everything',
    );

  // The second leaves: the first gets everything back and consumes what follows.
  await java.call('consumer.close', { name: 'c2' });
  await until('c1 owning every partition again', 60_000, async () =>
    JSON.stringify(await assignment('c1')) === JSON.stringify(all) ? true : undefined,
  );
  const third = await produce(20);
  const r3 = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'c1', count: 20, timeoutMs: 60_000 })).records;
  t.same(r3.map((r) => r.value).sort(), [...third].sort(), 'c1 consumed what came after c2 left');
  await java.call('consumer.commit', { name: 'c1' });
  const one = await until('a stable group of one', 30_000, async () => {
    const d = await describe();
    return d.state === 'STABLE' && d.members.length === 1 ? d : undefined;
  });
  t.same(one.members[0]!.assignment, all, 'described: c1 owns everything');
  await java.call('consumer.close', { name: 'c1' });
  const empty = await until('an empty group', 30_000, async () => {
    const d = await describe();
    return d.state === 'EMPTY' ? d : undefined;
  });
  t.equal(empty.members.length, 0, 'no members left');
  const groups = await java.call<{ groupId: string; type: string; state: string }[]>('admin.listGroups', { name: 'admin' });
  t.match(
    groups.find((g) => g.groupId === group),
    { type: variant.protocol === 'classic' ? 'CLASSIC' : 'CONSUMER', state: 'EMPTY' },
    'listGroups',
  );
  t.same(
    await java.call('admin.listConsumerGroupOffsets', { name: 'admin', group }),
    Object.fromEntries(all.map((tp) => [tp, 25])),
    'final committed offsets',
  );
  await java.close();
}

// ---------------------------------------------------------------------------------------------------------
// Transactions

/**
 * Transactions with the Java client, which uses transaction version 2 (KIP-890 part 2: Produce v12 and
 * TxnOffsetCommit v5 add partitions and offsets implicitly, EndTxn v5 bumps the epoch) when the broker finalizes
 * `transaction.version` 2, and version 1 (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn v4) otherwise.
 * `transactionVersion` is what the broker is expected to finalize.
 */
async function transactions(t: Test, bootstrap: string, transactionVersion: 1 | 2 = 2): Promise<void> {
  const v = `v${transactionVersion}-${suffix}`;
  const input = `java-txn-in-${v}`;
  const output = `java-txn-out-${v}`;
  const group = `java-txn-group-${v}`;
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  const features = await java.call<{ finalized: Record<string, number>; epoch: number }>('admin.describeFeatures', { name: 'admin' });
  t.equal(features.finalized['transaction.version'], transactionVersion, `transaction.version ${transactionVersion} finalized`);
  t.ok(features.epoch >= 0, 'with a finalized-features epoch');
  await createTopic(t, java, input, 1);
  await createTopic(t, java, output, 1);
  const txConfig = (id: string) => ({ 'bootstrap.servers': bootstrap, 'transactional.id': `${id}-${v}`, ...producerTimeouts });
  const values = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: null, value: `${prefix}${i}`, partition: 0 }));
  const consumerConfig = (isolation: string) => ({
    'bootstrap.servers': bootstrap,
    'isolation.level': isolation,
    ...clientTimeouts,
  });

  await java.call('producer.create', { name: 'tx', config: txConfig('java-tx') });
  await java.call('producer.initTransactions', { name: 'tx' });
  await java.call('producer.beginTransaction', { name: 'tx' });
  await java.call('producer.send', { name: 'tx', topic: input, records: values('c', 10) });
  await java.call('producer.commitTransaction', { name: 'tx' });
  await java.call('producer.beginTransaction', { name: 'tx' });
  await java.call('producer.send', { name: 'tx', topic: input, records: values('a', 5) });
  await java.call('producer.abortTransaction', { name: 'tx' });
  await java.call('producer.beginTransaction', { name: 'tx' });
  await java.call('producer.send', { name: 'tx', topic: input, records: values('d', 10) });
  await java.call('producer.commitTransaction', { name: 'tx' });
  // 10 + marker + 5 + marker + 10 + marker. The coordinator writes the markers after answering EndTxn, in Kafka
  // too: the last one may come a moment after commitTransaction returns.
  const end = await until('the last commit marker', 15_000, async () => {
    const [o] = await endOffsets(java, input, 1);
    return o! >= 28 ? o : undefined;
  });
  t.equal(end, 28, 'end offset counts the control records');
  // Version 2 bumps the epoch at every commit and abort (three here); version 1 keeps the epoch InitProducerId gave.
  const described = await java.call<Record<string, { state: string; producerEpoch: number }>>('admin.describeTransactions', {
    name: 'admin',
    ids: [`java-tx-${v}`],
  });
  t.match(
    described[`java-tx-${v}`],
    { state: 'CompleteCommit', producerEpoch: transactionVersion === 2 ? 3 : 0 },
    transactionVersion === 2 ? 'one epoch bump per transaction (EndTxn v5)' : 'no epoch bump (EndTxn v4)',
  );
  t.same(await endOffsets(java, input, 1, 'read_committed'), [28], 'nothing open: the last stable offset is the end');

  await java.call('consumer.create', {
    name: 'rc',
    config: consumerConfig('read_committed'),
    assign: [{ topic: input, partition: 0, offset: 0 }],
  });
  await java.call('consumer.create', {
    name: 'ru',
    config: consumerConfig('read_uncommitted'),
    assign: [{ topic: input, partition: 0, offset: 0 }],
  });
  const committedValues = [...values('c', 10), ...values('d', 10)].map((r) => r.value);
  const rc = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'rc', count: 20, timeoutMs: 60_000 })).records;
  t.same(
    rc.map((r) => r.value),
    committedValues,
    'read_committed: the committed records only, in order',
  );
  t.same(
    rc.map((r) => r.offset),
    [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 17 + i)],
    'read_committed: their offsets',
  );
  const ru = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'ru', count: 25, timeoutMs: 60_000 })).records;
  t.same(
    ru.map((r) => r.value),
    [...values('c', 10), ...values('a', 5), ...values('d', 10)].map((r) => r.value),
    'read_uncommitted: the aborted records too',
  );

  // An open transaction holds read_committed consumers back at the last stable offset.
  await java.call('producer.beginTransaction', { name: 'tx' });
  await java.call('producer.send', { name: 'tx', topic: input, records: values('e', 3) });
  t.equal(
    (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'ru', count: 3, timeoutMs: 30_000 })).records.length,
    3,
    'read_uncommitted sees the open transaction',
  );
  t.same(await endOffsets(java, input, 1, 'read_committed'), [28], 'last stable offset before the open transaction');
  t.same(await endOffsets(java, input, 1), [31], 'high watermark past it');
  t.equal(
    (await java.call<{ records: ConsumedRecord[] }>('consumer.records', { name: 'rc', waitMs: 500 })).records.length,
    0,
    'read_committed waits',
  );
  await java.call('producer.commitTransaction', { name: 'tx' });
  const e = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'rc', count: 3, timeoutMs: 30_000 })).records;
  t.same(
    e.map((r) => r.value),
    ['e0', 'e1', 'e2'],
    'read_committed gets them once committed',
  );
  await java.call('consumer.close', { name: 'rc' });
  await java.call('consumer.close', { name: 'ru' });

  // Consume, transform, produce: the offsets commit with the output (sendOffsetsToTransaction, KIP-447).
  await java.call('consumer.create', {
    name: 'g',
    config: { ...consumerConfig('read_committed'), 'group.id': group, 'enable.auto.commit': 'false', 'auto.offset.reset': 'earliest' },
    topics: [input],
  });
  const inRecords = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'g', count: 23, timeoutMs: 60_000 })).records;
  await java.call('producer.create', { name: 'ctp', config: txConfig('java-ctp') });
  await java.call('producer.initTransactions', { name: 'ctp' });
  await java.call('producer.beginTransaction', { name: 'ctp' });
  await java.call('producer.send', {
    name: 'ctp',
    topic: output,
    records: inRecords.map((r) => ({ key: String(r.offset), value: r.value!.toUpperCase(), partition: 0 })),
  });
  const next = inRecords.at(-1)!.offset + 1;
  await java.call('producer.sendOffsetsToTransaction', {
    name: 'ctp',
    consumer: 'g',
    offsets: [{ topic: input, partition: 0, offset: next }],
  });
  await java.call('producer.commitTransaction', { name: 'ctp' });
  // Visible once the marker reaches the group's offsets partition (asynchronous, as above).
  const afterCommit = await until('the transaction offsets committed', 15_000, async () => {
    const o = await java.call<Record<string, number>>('admin.listConsumerGroupOffsets', { name: 'admin', group });
    return Object.keys(o).length > 0 ? o : undefined;
  });
  t.same(afterCommit, { [`${input}-0`]: next }, 'offsets committed with the transaction');
  // An aborted transaction's offsets are not committed.
  await java.call('producer.beginTransaction', { name: 'ctp' });
  await java.call('producer.sendOffsetsToTransaction', {
    name: 'ctp',
    consumer: 'g',
    offsets: [{ topic: input, partition: 0, offset: 3 }],
  });
  await java.call('producer.abortTransaction', { name: 'ctp' });
  t.same(
    await java.call('admin.listConsumerGroupOffsets', { name: 'admin', group }),
    { [`${input}-0`]: next },
    'aborted offsets not committed',
  );
  await java.call('consumer.create', {
    name: 'out',
    config: consumerConfig('read_committed'),
    assign: [{ topic: output, partition: 0, offset: 0 }],
  });
  const out = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'out', count: 23, timeoutMs: 60_000 })).records;
  t.same(
    out.map((r) => [r.key, r.value]),
    inRecords.map((r) => [String(r.offset), r.value!.toUpperCase()]),
    'the transformed records are committed',
  );

  // Zombie fencing: a second producer with the same transactional id fences the first, whose open transaction is
  // aborted; the first can then neither send nor commit.
  await java.call('producer.create', { name: 'z1', config: txConfig('java-zombie') });
  await java.call('producer.initTransactions', { name: 'z1' });
  await java.call('producer.beginTransaction', { name: 'z1' });
  await java.call('producer.send', { name: 'z1', topic: output, records: values('zombie', 2) });
  await java.call('producer.create', { name: 'z2', config: txConfig('java-zombie') });
  await java.call('producer.initTransactions', { name: 'z2' }, 60_000);
  const zombieSend = await java.attempt('producer.send', { name: 'z1', topic: output, records: values('late', 1) });
  const zombieCommit = await java.attempt('producer.commitTransaction', { name: 'z1' });
  // Its batch meets the bumped epoch (INVALID_PRODUCER_EPOCH), and the commit fails with that error, as in Kafka.
  t.match(zombieSend, { ok: false, error: 'org.apache.kafka.common.errors.InvalidProducerEpochException' }, 'the zombie cannot send');
  t.match(zombieCommit, { ok: false, error: 'org.apache.kafka.common.errors.InvalidProducerEpochException' }, 'the zombie cannot commit');
  await java.call('producer.beginTransaction', { name: 'z2' });
  await java.call('producer.send', { name: 'z2', topic: output, records: values('z2-', 2) });
  await java.call('producer.commitTransaction', { name: 'z2' });
  const afterZombie = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'out', count: 2, timeoutMs: 60_000 }))
    .records;
  t.same(
    afterZombie.map((r) => r.value),
    ['z2-0', 'z2-1'],
    "read_committed: the new producer's records, none of the zombie's",
  );
  await java.close();
}

// ---------------------------------------------------------------------------------------------------------
// The Admin client

async function adminClient(t: Test, bootstrap: string): Promise<void> {
  const topic = `java-admin-${suffix}`;
  const other = `java-admin-other-${suffix}`;
  const group = `java-admin-group-${suffix}`;
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);

  const cluster = await java.call<{ clusterId: string; controller: number | null; nodes: { id: number; host: string; port: number }[] }>(
    'admin.describeCluster',
    { name: 'admin' },
  );
  t.ok(cluster.clusterId.length > 0, 'describeCluster: a cluster id');
  // One node per bootstrap broker (a single broker, or a three-broker cluster).
  t.same(
    cluster.nodes.map((n) => `${n.host}:${n.port}`).sort(),
    bootstrap.split(',').sort(),
    'describeCluster: the nodes are the bootstrap brokers',
  );

  // Topics.
  const created = await java.call<PerItem<object>>('admin.createTopics', {
    name: 'admin',
    topics: [
      { name: topic, partitions: 2, replicationFactor: 1, configs: { 'retention.ms': '3600000' } },
      { name: other, partitions: 1 },
    ],
  });
  t.same(created, { [topic]: {}, [other]: {} }, 'createTopics');
  const again = await java.call<PerItem<object>>('admin.createTopics', { name: 'admin', topics: [{ name: topic, partitions: 2 }] });
  t.match(again[topic], { error: 'org.apache.kafka.common.errors.TopicExistsException' }, 'createTopics: TopicExistsException');
  const bad = await java.call<PerItem<object>>('admin.createTopics', {
    name: 'admin',
    topics: [{ name: `java-admin-bad-${suffix}`, partitions: 1, configs: { 'cleanup.policy': 'nonsense' } }],
  });
  t.match(
    bad[`java-admin-bad-${suffix}`],
    { error: 'org.apache.kafka.common.errors.InvalidConfigurationException' },
    'createTopics: invalid config',
  );
  const topics = await java.call<string[]>('admin.listTopics', { name: 'admin' });
  t.ok(topics.includes(topic) && topics.includes(other), 'listTopics');
  t.notOk(topics.includes(`java-admin-bad-${suffix}`), 'listTopics: not the rejected one');
  const nodeIds = cluster.nodes.map((n) => n.id);
  type Described = PerItem<{ internal: boolean; topicId: string; partitions: { partition: number; leader: number | null }[] }>;
  // On a cluster a new topic's partitions get their leaders a moment after CreateTopics answers (as on Kafka).
  const described = await until('every partition of the new topic led', 30_000, async () => {
    const r = await java.call<Described>('admin.describeTopics', { name: 'admin', topics: [topic, `java-admin-missing-${suffix}`] });
    const x = r[topic];
    return x !== undefined && !('error' in x) && x.partitions.every((p) => p.leader !== null && nodeIds.includes(p.leader)) ? r : undefined;
  });
  const d = described[topic]!;
  if ('error' in d) throw new Error(`describeTopics: ${d.error}`);
  t.same(
    d.partitions.map((p) => p.partition),
    [0, 1],
    'describeTopics: partitions',
  );
  t.ok(
    d.partitions.every((p) => p.leader !== null && nodeIds.includes(p.leader)),
    'describeTopics: each partition led by a node of the cluster',
  );
  t.equal(d.internal, false);
  t.match(
    described[`java-admin-missing-${suffix}`],
    { error: 'org.apache.kafka.common.errors.UnknownTopicOrPartitionException' },
    'describeTopics: unknown topic',
  );

  // Partitions.
  t.same(await java.call('admin.createPartitions', { name: 'admin', topics: { [topic]: 3 } }), { [topic]: {} }, 'createPartitions 2 -> 3');
  t.match(
    (await java.call<PerItem<object>>('admin.createPartitions', { name: 'admin', topics: { [topic]: 2 } }))[topic],
    { error: 'org.apache.kafka.common.errors.InvalidPartitionsException' },
    'createPartitions: cannot shrink',
  );
  await until('3 partitions described', 15_000, async () => {
    const r = (await java.call<PerItem<{ partitions: unknown[] }>>('admin.describeTopics', { name: 'admin', topics: [topic] }))[topic]!;
    return 'partitions' in r && r.partitions.length === 3 ? true : undefined;
  });

  // Configs.
  const resource = { type: 'TOPIC', name: topic };
  const configs = async () =>
    (
      await java.call<PerItem<Record<string, { value: string; source: string }>>>('admin.describeConfigs', {
        name: 'admin',
        resources: [resource],
        keys: ['retention.ms', 'cleanup.policy', 'max.message.bytes'],
      })
    )[`TOPIC:${topic}`] as Record<string, { value: string; source: string }>;
  let c = await configs();
  t.match(c['retention.ms'], { value: '3600000', source: 'DYNAMIC_TOPIC_CONFIG' }, 'describeConfigs: the creation config');
  t.match(c['cleanup.policy'], { value: 'delete', source: 'DEFAULT_CONFIG' }, 'describeConfigs: a default');
  const altered = await java.call('admin.incrementalAlterConfigs', {
    name: 'admin',
    resources: [
      {
        ...resource,
        ops: [
          { key: 'retention.ms', op: 'DELETE', value: null },
          { key: 'max.message.bytes', op: 'SET', value: '123456' },
          { key: 'cleanup.policy', op: 'APPEND', value: 'compact' },
        ],
      },
    ],
  });
  t.same(altered, { [`TOPIC:${topic}`]: {} }, 'incrementalAlterConfigs');
  c = await until('the altered configs', 15_000, async () => {
    const v = await configs();
    return v['max.message.bytes']?.value === '123456' ? v : undefined;
  });
  t.match(c['max.message.bytes'], { value: '123456', source: 'DYNAMIC_TOPIC_CONFIG' }, 'SET');
  t.match(c['retention.ms'], { value: '604800000', source: 'DEFAULT_CONFIG' }, 'DELETE: back to the default');
  t.match(c['cleanup.policy'], { value: 'delete,compact', source: 'DYNAMIC_TOPIC_CONFIG' }, 'APPEND');
  const rejected = await java.call<PerItem<object>>('admin.incrementalAlterConfigs', {
    name: 'admin',
    resources: [{ ...resource, ops: [{ key: 'retention.ms', op: 'SET', value: 'soon' }] }],
  });
  t.match(
    rejected[`TOPIC:${topic}`],
    { error: 'org.apache.kafka.common.errors.InvalidConfigurationException' },
    'incrementalAlterConfigs: invalid value',
  );
  const brokerConfigs = await java.call<PerItem<Record<string, { value: string }>>>('admin.describeConfigs', {
    name: 'admin',
    resources: [{ type: 'BROKER', name: String(cluster.nodes[0]!.id) }],
    keys: ['num.partitions', 'auto.create.topics.enable'],
  });
  t.match(
    brokerConfigs[`BROKER:${cluster.nodes[0]!.id}`],
    { 'num.partitions': { value: '1' }, 'auto.create.topics.enable': { value: 'true' } },
    'describeConfigs: broker',
  );

  // Offsets: by time, earliest, latest; deleteRecords moves the start. (Keyed records: the topic is compacted now.)
  await java.call('producer.create', { name: 'p', config: { 'bootstrap.servers': bootstrap, ...producerTimeouts } });
  const base = Date.now() - 60_000;
  await java.call('producer.send', {
    name: 'p',
    topic,
    records: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `r${i}`, partition: 0, timestamp: base + i * 1000 })),
  });
  const listed = await java.call<PerItem<{ offset: number; timestamp: number }>>('admin.listOffsets', {
    name: 'admin',
    partitions: [
      { topic, partition: 0, spec: 'earliest' },
      { topic, partition: 1, spec: 'latest' },
      { topic, partition: 2, spec: base + 4500 },
    ],
  });
  t.match(
    listed,
    { [`${topic}-0`]: { offset: 0 }, [`${topic}-1`]: { offset: 0 }, [`${topic}-2`]: { offset: -1 } },
    'listOffsets on empty and filled partitions',
  );
  const byTime = await java.call<PerItem<{ offset: number; timestamp: number }>>('admin.listOffsets', {
    name: 'admin',
    partitions: [{ topic, partition: 0, spec: base + 4500 }],
  });
  t.match(byTime[`${topic}-0`], { offset: 5, timestamp: base + 5000 }, 'listOffsets by timestamp');
  const maxTs = await java.call<PerItem<{ offset: number; timestamp: number }>>('admin.listOffsets', {
    name: 'admin',
    partitions: [{ topic, partition: 0, spec: 'max-timestamp' }],
  });
  t.match(maxTs[`${topic}-0`], { offset: 9, timestamp: base + 9000 }, 'listOffsets max-timestamp');
  const deleted = await java.call<PerItem<{ lowWatermark: number }>>('admin.deleteRecords', {
    name: 'admin',
    partitions: [{ topic, partition: 0, offset: 4 }],
  });
  t.same(deleted, { [`${topic}-0`]: { lowWatermark: 4 } }, 'deleteRecords');
  const past = await java.call<PerItem<{ lowWatermark: number }>>('admin.deleteRecords', {
    name: 'admin',
    partitions: [{ topic, partition: 0, offset: 11 }],
  });
  t.match(past[`${topic}-0`], { error: 'org.apache.kafka.common.errors.OffsetOutOfRangeException' }, 'deleteRecords past the end');
  const start = await java.call<PerItem<{ offset: number }>>('admin.listOffsets', {
    name: 'admin',
    partitions: [{ topic, partition: 0, spec: 'earliest' }],
  });
  t.match(start[`${topic}-0`], { offset: 4 }, 'listOffsets earliest after deleteRecords');

  // Groups: a consumer commits; the group is listed, described, its offsets read, then deleted.
  await java.call('consumer.create', {
    name: 'c',
    config: {
      'bootstrap.servers': bootstrap,
      'group.id': group,
      'enable.auto.commit': 'false',
      'auto.offset.reset': 'earliest',
      ...clientTimeouts,
    },
    topics: [topic],
  });
  const consumed = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'c', count: 6, timeoutMs: 60_000 })).records;
  t.same(
    consumed.map((r) => r.value),
    ['r4', 'r5', 'r6', 'r7', 'r8', 'r9'],
    'a group consumer starts at the new start offset',
  );
  await java.call('consumer.commit', { name: 'c' });
  t.same(
    await java.call('admin.listConsumerGroupOffsets', { name: 'admin', group }),
    { [`${topic}-0`]: 10, [`${topic}-1`]: 0, [`${topic}-2`]: 0 },
    'listConsumerGroupOffsets',
  );
  const groups = await java.call<{ groupId: string; type: string; state: string }[]>('admin.listGroups', { name: 'admin' });
  t.match(
    groups.find((g) => g.groupId === group),
    { type: 'CLASSIC', state: 'STABLE' },
    'listGroups',
  );
  const gd = await java.call<PerItem<GroupDescription>>('admin.describeConsumerGroups', { name: 'admin', groups: [group] });
  t.match(
    gd[group],
    { state: 'STABLE', type: 'CLASSIC', members: [{ clientId: /./, assignment: [`${topic}-0`, `${topic}-1`, `${topic}-2`] }] },
    'describeConsumerGroups',
  );
  const busy = await java.call<PerItem<object>>('admin.deleteConsumerGroups', { name: 'admin', groups: [group] });
  t.match(
    busy[group],
    { error: 'org.apache.kafka.common.errors.GroupNotEmptyException' },
    'deleteConsumerGroups: not while it has members',
  );
  await java.call('consumer.close', { name: 'c' });
  t.same(await java.call('admin.deleteConsumerGroups', { name: 'admin', groups: [group] }), { [group]: {} }, 'deleteConsumerGroups');

  // Deleting topics.
  t.same(await java.call('admin.deleteTopics', { name: 'admin', topics: [other] }), { [other]: {} }, 'deleteTopics');
  const missing = await java.call<PerItem<object>>('admin.deleteTopics', { name: 'admin', topics: [`java-admin-missing-${suffix}`] });
  t.match(
    missing[`java-admin-missing-${suffix}`],
    { error: 'org.apache.kafka.common.errors.UnknownTopicOrPartitionException' },
    'deleteTopics: unknown topic',
  );
  await until('the deleted topic gone from listTopics', 15_000, async () =>
    (await java.call<string[]>('admin.listTopics', { name: 'admin' })).includes(other) ? undefined : true,
  );
  await java.close();
}

// ---------------------------------------------------------------------------------------------------------
// The Admin client's SCRAM credentials (KIP-554) and client quotas (KIP-546)

async function adminSecurity(t: Test, bootstrap: string): Promise<void> {
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  const user = `java-user-${suffix}`;
  // One alteration per user per request (Kafka refuses a user altered twice in one request).
  for (const [mechanism, iterations, password] of [
    ['SCRAM-SHA-512', 8192, 'secret-1'],
    ['SCRAM-SHA-256', 4096, 'secret-2'],
  ] as const)
    t.same(
      await java.call('admin.alterUserScramCredentials', { name: 'admin', upsertions: [{ user, mechanism, iterations, password }] }),
      { [user]: {} },
      `alterUserScramCredentials: ${mechanism}`,
    );
  const twice = await java.call<PerItem<object>>('admin.alterUserScramCredentials', {
    name: 'admin',
    upsertions: [
      { user, mechanism: 'SCRAM-SHA-512', iterations: 8192, password: 'a' },
      { user, mechanism: 'SCRAM-SHA-256', iterations: 8192, password: 'b' },
    ],
  });
  t.match(
    twice[user],
    { error: 'org.apache.kafka.common.errors.DuplicateResourceException' },
    'a user altered twice in one request is refused',
  );
  const described = await until('the credentials described', 30_000, async () => {
    const d = await java.call<Record<string, string[]>>('admin.describeUserScramCredentials', { name: 'admin' });
    return d[user]?.length === 2 ? d : undefined;
  });
  t.same(
    described[user],
    ['SCRAM-SHA-256:4096', 'SCRAM-SHA-512:8192'],
    'describeUserScramCredentials: mechanisms and iterations, no secret',
  );
  const tooFew = await java.call<PerItem<object>>('admin.alterUserScramCredentials', {
    name: 'admin',
    upsertions: [{ user: `${user}-2`, mechanism: 'SCRAM-SHA-512', iterations: 100, password: 'p' }],
  });
  t.match(tooFew[`${user}-2`], { error: 'org.apache.kafka.common.errors.UnacceptableCredentialException' }, 'too few iterations refused');
  t.same(
    await java.call('admin.alterUserScramCredentials', { name: 'admin', deletions: [{ user, mechanism: 'SCRAM-SHA-256' }] }),
    { [user]: {} },
    'one mechanism deleted',
  );
  await until('one mechanism left', 30_000, async () => {
    const d = await java.call<Record<string, string[]>>('admin.describeUserScramCredentials', { name: 'admin' });
    return d[user]?.length === 1 ? true : undefined;
  });

  const entity = { user, 'client-id': 'java-app' };
  t.same(
    await java.call('admin.alterClientQuotas', {
      name: 'admin',
      alterations: [
        { entity, set: { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 } },
        { entity: { user: null }, set: { request_percentage: 50 } },
      ],
    }),
    { [`ClientQuotaEntity(entries={client-id=java-app, user=${user}})`]: {}, 'ClientQuotaEntity(entries={user=null})': {} },
    'alterClientQuotas: a user+client-id entity and the default user',
  );
  const quotas = await until('the quotas described', 30_000, async () => {
    const q = await java.call<Record<string, Record<string, number>>>('admin.describeClientQuotas', { name: 'admin' });
    return Object.keys(q).length >= 2 ? q : undefined;
  });
  t.same(
    quotas[`{client-id=java-app, user=${user}}`],
    { consumer_byte_rate: 2097152, producer_byte_rate: 1048576 },
    'describeClientQuotas: the entity',
  );
  t.same(quotas['{user=null}'], { request_percentage: 50 }, 'and the default user');
  await java.call('admin.alterClientQuotas', {
    name: 'admin',
    alterations: [
      { entity, remove: ['producer_byte_rate', 'consumer_byte_rate'] },
      { entity: { user: null }, remove: ['request_percentage'] },
    ],
  });
  await until('the quotas removed', 30_000, async () => {
    const q = await java.call<Record<string, Record<string, number>>>('admin.describeClientQuotas', { name: 'admin' });
    return Object.keys(q).length === 0 ? true : undefined;
  });
  const bad = await java.attempt('admin.alterClientQuotas', { name: 'admin', alterations: [{ entity, set: { no_such_quota: 1 } }] });
  t.ok(
    bad.ok === false ||
      Object.values(bad.result as Record<string, unknown>).some((v) => v !== null && typeof v === 'object' && 'error' in v),
    'an unknown quota key is refused',
  );
}

// ---------------------------------------------------------------------------------------------------------
// Large records: close to the broker's message.max.bytes (1 MiB + 12 by default), compressed and not

async function largeRecords(t: Test, bootstrap: string): Promise<void> {
  const topic = `java-large-${suffix}`;
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  await createTopic(t, java, topic, 1);
  // An incompressible value of 900,000 characters (random hex), and one of 5 MB that compresses well under 1 MiB.
  const big = randomBytes(450_000).toString('hex');
  const compressible = 'x'.repeat(5_000_000);
  await java.call('producer.create', {
    name: 'p',
    config: { 'bootstrap.servers': bootstrap, 'max.request.size': 6_000_000, 'compression.type': 'zstd', ...producerTimeouts },
  });
  const { acks } = await java.call<{ acks: [number, number][] }>('producer.send', {
    name: 'p',
    topic,
    records: [{ value: big }, { value: compressible }, { value: 'small' }],
  });
  t.same(
    acks,
    [
      [0, 0],
      [0, 1],
      [0, 2],
    ],
    'both large records acknowledged, in order',
  );
  const tooBig = await java.attempt('producer.send', { name: 'p', topic, records: [{ value: randomBytes(1_100_000).toString('base64') }] });
  t.match(
    tooBig,
    { ok: false, error: 'org.apache.kafka.common.errors.RecordTooLargeException' },
    'a record over message.max.bytes is refused',
  );
  await java.call('consumer.create', {
    name: 'c',
    config: { 'bootstrap.servers': bootstrap, 'group.id': `java-large-${suffix}`, 'auto.offset.reset': 'earliest', ...clientTimeouts },
    topics: [topic],
  });
  const got = (await java.call<{ records: ConsumedRecord[] }>('consumer.take', { name: 'c', count: 3, timeoutMs: 60_000 })).records;
  t.same(
    got.map((r) => [r.offset, r.value?.length]),
    [
      [0, big.length],
      [1, compressible.length],
      [2, 5],
    ],
    'the consumer reads them whole',
  );
  t.ok(got[0]!.value === big && got[1]!.value === compressible, 'byte for byte');
}

// ---------------------------------------------------------------------------------------------------------
// Static membership (KIP-345): a member that restarts with its group.instance.id within the session timeout
// gets its partitions back without a rebalance of the others.

async function staticMembership(t: Test, bootstrap: string): Promise<void> {
  const topic = `java-static-${suffix}`;
  const group = `java-static-${suffix}`;
  const java = await JavaDriver.start(t);
  await admin(java, bootstrap);
  await createTopic(t, java, topic, 4);
  const config = (instance: string) => ({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'group.instance.id': instance,
    'group.protocol': 'classic',
    'partition.assignment.strategy': assignorClass.range,
    'session.timeout.ms': 30_000,
    'heartbeat.interval.ms': 500,
    'auto.offset.reset': 'earliest',
    ...clientTimeouts,
  });
  const assignment = (name: string) => java.call<string[]>('consumer.assignment', { name });
  await java.call('consumer.create', { name: 'a', config: config('instance-a'), topics: [topic] });
  await java.call('consumer.create', { name: 'b', config: config('instance-b'), topics: [topic] });
  const [a1, b1] = await until('two static members sharing the partitions', 60_000, async () => {
    const [a, b] = [await assignment('a'), await assignment('b')];
    return a.length === 2 && b.length === 2 ? [a, b] : undefined;
  });
  const revokedBefore = java.events.filter((e) => e.event === 'revoked' && e.consumer === 'a').length;
  // b goes away (a static member's close does not leave the group) and comes back under the same instance id.
  await java.call('consumer.close', { name: 'b' });
  await java.call('consumer.create', { name: 'b2', config: config('instance-b'), topics: [topic] });
  const b2 = await until('the restarted member assigned', 60_000, async () => {
    const b = await assignment('b2');
    return b.length > 0 ? b : undefined;
  });
  t.same(b2, b1, 'the restarted static member gets its partitions back');
  t.same(await assignment('a'), a1, 'the other member keeps its partitions');
  t.equal(
    java.events.filter((e) => e.event === 'revoked' && e.consumer === 'a').length,
    revokedBefore,
    'and was never asked to give them up (no rebalance)',
  );
  const d = await java.call<PerItem<GroupDescription>>('admin.describeConsumerGroups', { name: 'admin', groups: [group] });
  t.match(d[group], { state: /^stable$/i }, 'the group stays stable');
}

export const javaScenarios: JavaScenario[] = [
  { name: 'producer: defaults (idempotent, acks=all), every codec, 5 in flight', run: producerCodecs },
  {
    name: 'classic group, range: rebalance on join and leave',
    run: (t, b) => groupRebalance(t, b, { protocol: 'classic', assignor: 'range' }),
  },
  {
    name: 'classic group, cooperative-sticky: rebalance on join and leave',
    run: (t, b) => groupRebalance(t, b, { protocol: 'classic', assignor: 'cooperative-sticky' }),
  },
  {
    name: 'consumer group, group.protocol=consumer (KIP-848): rebalance on join and leave',
    run: (t, b) => groupRebalance(t, b, { protocol: 'consumer' }),
  },
  {
    name: 'transactions (version 2): commit, abort, read_committed, sendOffsetsToTransaction, zombie fencing',
    run: (t, b) => transactions(t, b, 2),
  },
  { name: 'admin client', run: adminClient },
  { name: 'producer and consumer: large records', run: largeRecords },
  { name: 'classic group: static membership (KIP-345)', run: staticMembership },
  { name: 'admin client: SCRAM credentials and client quotas', run: adminSecurity },
];

/** The transactions scenario at transaction version 1 (a broker finalizing transaction.version 1). */
export const javaTransactionsV1: JavaScenario = {
  name: 'transactions (version 1): commit, abort, read_committed, sendOffsetsToTransaction, zombie fencing',
  run: (t, b) => transactions(t, b, 1),
};
