// Topic administration through real clients (kafkajs admin, confluent-kafka-python AdminClient, kafka-python
// KafkaAdminClient, kcat) and raw requests: CreateTopics (defaults, explicit partitions, configs, validate_only,
// already exists, invalid names and values), DeleteTopics (the data goes: a topic re-created under the same name
// is empty, also after a restart), Metadata for unknown topics with auto-creation on and off.
import t from 'tap';
import type { Test } from 'tap';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';
import { kcatProduce } from '../support/kcat.ts';
import { kafkajsClient, kafkajsFetch, kafkajsProduce } from '../support/js-clients.ts';
import { makeRecords } from '../support/records.ts';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';

t.setTimeout(180_000);

let b: BrokerProcess;
t.before(async () => {
  b = await startBroker(t, { sets: { 'num.partitions': 2 } });
});

async function confluent(bp: BrokerProcess, op: string, req: Record<string, unknown>) {
  const r = await pythonClient('confluent_client.py', { op, bootstrap: bp.bootstrap, ...req }, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`confluent ${op}: ${describeRun(r)}`);
  return jsonLines(r.stdout);
}

async function withAdmin<T>(
  bp: BrokerProcess,
  fn: (admin: ReturnType<ReturnType<typeof kafkajsClient>['admin']>) => Promise<T>,
): Promise<T> {
  const admin = kafkajsClient(bp.bootstrap).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

async function rawConnection(t: Test, bp: BrokerProcess): Promise<RawConnection> {
  const c = await RawConnection.connect(bp.port);
  t.teardown(() => c.close());
  return c;
}

/** Topic names and partition counts from a Metadata request for all topics. */
async function allTopics(c: RawConnection): Promise<Map<string, number>> {
  const md = await c.request(ApiKey.Metadata, 12, { topics: null, allowAutoTopicCreation: false });
  return new Map(md.topics.map((x: any) => [x.name, x.partitions.length]));
}

t.test('create topics with kafkajs admin: defaults, explicit partitions, configs, already exists', async (t) => {
  await withAdmin(b, async (admin) => {
    t.equal(await admin.createTopics({ topics: [{ topic: 'adm-default' }] }), true, 'default partitions and replication factor');
    t.equal(
      await admin.createTopics({ topics: [{ topic: 'adm-five', numPartitions: 5, replicationFactor: 1 }] }),
      true,
      'explicit partitions',
    );
    t.equal(
      await admin.createTopics({
        topics: [
          {
            topic: 'adm-configs',
            numPartitions: 1,
            configEntries: [
              { name: 'retention.ms', value: '123456' },
              { name: 'cleanup.policy', value: 'delete' },
            ],
          },
        ],
      }),
      true,
      'with configs',
    );
    t.equal(
      await admin.createTopics({ topics: [{ topic: 'adm-five', numPartitions: 3 }] }),
      false,
      'kafkajs reports an existing topic as not created',
    );
    const md = await admin.fetchTopicMetadata({ topics: ['adm-default', 'adm-five', 'adm-configs'] });
    t.same(
      md.topics.map((x) => [x.name, x.partitions.length]).sort(),
      [
        ['adm-configs', 1],
        ['adm-default', 2],
        ['adm-five', 5],
      ],
      'partition counts: num.partitions (2) by default',
    );
    t.ok(
      md.topics.every((x) => x.partitions.every((p) => p.leader === 1 && p.replicas.length === 1)),
      'this broker leads every partition',
    );
  });
  const c = await rawConnection(t, b);
  // CreateTopics v5+ returns the topic's configs; validate_only shows them without creating anything.
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      {
        name: 'adm-configs-2',
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [{ name: 'retention.ms', value: '123456' }],
      },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  const created = r.topics[0];
  t.equal(created.errorCode, 0);
  const retention = created.configs.find((x: any) => x.name === 'retention.ms');
  t.same([retention?.value, retention?.configSource], ['123456', 1], 'the override is in the response, source TOPIC_CONFIG (1)');
  const segment = created.configs.find((x: any) => x.name === 'cleanup.policy');
  t.equal(segment?.value, 'delete', 'defaults are listed too');
});

t.test('create topics with confluent AdminClient: validate_only, already exists, invalid names and configs', async (t) => {
  const r = await confluent(b, 'create_topics', { topics: [{ name: 'adm-validate', partitions: 3, rf: 1 }], validate_only: true });
  t.same(r, [{ name: 'adm-validate', err: null }], 'validate_only succeeds');
  const c = await rawConnection(t, b);
  t.notOk((await allTopics(c)).has('adm-validate'), '... and creates nothing');

  const created = await confluent(b, 'create_topics', {
    topics: [{ name: 'adm-confluent', partitions: 4, rf: 1, config: { 'retention.ms': '60000' } }],
  });
  t.same(created, [{ name: 'adm-confluent', err: null }]);
  t.equal((await allTopics(c)).get('adm-confluent'), 4);

  const again = await confluent(b, 'create_topics', { topics: [{ name: 'adm-confluent', partitions: 4, rf: 1 }] });
  t.equal(again[0].err, 'TOPIC_ALREADY_EXISTS');
  const againValidate = await confluent(b, 'create_topics', {
    topics: [{ name: 'adm-confluent', partitions: 4, rf: 1 }],
    validate_only: true,
  });
  t.equal(againValidate[0].err, 'TOPIC_ALREADY_EXISTS', 'validate_only also checks existence');

  const bad = await confluent(b, 'create_topics', {
    topics: [
      { name: 'bad/name', partitions: 1, rf: 1 },
      { name: 'x'.repeat(250), partitions: 1, rf: 1 },
      { name: 'adm-bad-config', partitions: 1, rf: 1, config: { 'retention.ms': 'not-a-number' } },
      { name: 'adm-unknown-config', partitions: 1, rf: 1, config: { 'no.such.config': '1' } },
    ],
  });
  const byName = new Map(bad.map((x) => [x.name, x.err]));
  t.equal(byName.get('bad/name'), 'TOPIC_EXCEPTION', 'illegal character: INVALID_TOPIC_EXCEPTION (17)');
  t.equal(byName.get('x'.repeat(250)), 'TOPIC_EXCEPTION', 'too long: INVALID_TOPIC_EXCEPTION');
  t.equal(byName.get('adm-bad-config'), 'INVALID_CONFIG', 'bad config value: INVALID_CONFIG');
  t.equal(byName.get('adm-unknown-config'), 'INVALID_CONFIG', 'unknown config name: INVALID_CONFIG');
  const names = await allTopics(c);
  t.notOk(names.has('adm-bad-config') || names.has('adm-unknown-config'), 'nothing created for the refused ones');
});

t.test('create topics with raw requests: partitions and replication factor bounds, duplicates, every version', async (t) => {
  const c = await rawConnection(t, b);
  const topic = (name: string, numPartitions: number, replicationFactor: number) => ({
    name,
    numPartitions,
    replicationFactor,
    assignments: [],
    configs: [],
  });
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      topic('adm-zero', 0, 1),
      topic('adm-neg', -2, 1),
      topic('adm-rf0', 1, 0),
      topic('adm-dup', 1, 1),
      topic('adm-dup', 1, 1),
      topic('.', 1, 1),
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  const codes = r.topics.map((x: any) => [x.name, x.errorCode]);
  t.same(
    codes,
    [
      ['adm-zero', 37],
      ['adm-neg', 37],
      ['adm-rf0', 38],
      ['adm-dup', 42],
      ['.', 17],
    ],
    'INVALID_PARTITIONS (37), INVALID_REPLICATION_FACTOR (38), INVALID_REQUEST (42) once for a duplicated name (as Kafka 4.4), INVALID_TOPIC_EXCEPTION (17)',
  );
  for (let v = 2; v <= 7; v++) {
    const res = await c.request(ApiKey.CreateTopics, v, { topics: [topic(`adm-v${v}`, 1, 1)], timeoutMs: 5000, validateOnly: false });
    t.equal(res.topics[0].errorCode, 0, `CreateTopics v${v}`);
  }
  const names = await allTopics(c);
  t.ok([2, 3, 4, 5, 6, 7].every((v) => names.has(`adm-v${v}`)));
});

t.test('delete topics: the data goes; a topic re-created under the same name is empty, also after a restart', async (t) => {
  const kafka = kafkajsClient(b.bootstrap);
  await withAdmin(b, (admin) => admin.createTopics({ topics: [{ topic: 'adm-del', numPartitions: 2 }] }));
  const d = await kafkajsProduce(kafka, 'adm-del', makeRecords('adm-del', 200, 2));
  t.notOk(
    d.some((x) => x.err),
    'produced',
  );
  await withAdmin(b, async (admin) => {
    t.same(
      (await admin.fetchTopicOffsets('adm-del')).map((o) => o.high),
      ['100', '100'],
    );
    await admin.deleteTopics({ topics: ['adm-del'], timeout: 5000 });
    const list = await admin.listTopics();
    t.notOk(list.includes('adm-del'), 'gone from the topic list');
  });
  const deleted = await confluent(b, 'delete_topics', { topics: ['adm-del', 'adm-never-was'] });
  t.same(
    deleted.map((x) => [x.name, x.err]).sort(),
    [
      ['adm-del', 'UNKNOWN_TOPIC_OR_PART'],
      ['adm-never-was', 'UNKNOWN_TOPIC_OR_PART'],
    ],
    'deleting again, or an unknown topic: UNKNOWN_TOPIC_OR_PARTITION',
  );

  await withAdmin(b, (admin) => admin.createTopics({ topics: [{ topic: 'adm-del', numPartitions: 1 }] }));
  await withAdmin(b, async (admin) => {
    t.same(
      (await admin.fetchTopicOffsets('adm-del')).map((o) => [o.partition, o.low, o.high]),
      [[0, '0', '0']],
      'the re-created topic is empty',
    );
  });
  const d2 = await kafkajsProduce(kafka, 'adm-del', [{ k: 'fresh', v: 'after re-creation', p: 0 }]);
  t.same(
    d2.map((x) => [x.p, x.o]),
    [[0, 0]],
    'its first record gets offset 0',
  );
  const read = await kafkajsFetch(kafka, 'adm-del', new Map([[0, [0, 1]]]));
  t.same(
    read.map((r) => r.k),
    ['fresh'],
    'and only that record is there',
  );

  // Delete by name, then kill -9 and restart: the deletion and the new topic's data are durable.
  await withAdmin(b, async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'adm-del-2', numPartitions: 1 }] });
  });
  await kafkajsProduce(kafka, 'adm-del-2', makeRecords('adm-del-2', 50, 1));
  await withAdmin(b, (admin) => admin.deleteTopics({ topics: ['adm-del-2'], timeout: 5000 }));
  await b.restart();
  const c = await rawConnection(t, b);
  const names = await allTopics(c);
  t.notOk(names.has('adm-del-2'), 'a deleted topic stays deleted after kill -9 and restart');
  t.equal(names.get('adm-del'), 1, 'the re-created topic is there');
  const kafka2 = kafkajsClient(b.bootstrap);
  const again = await kafkajsFetch(kafka2, 'adm-del', new Map([[0, [0, 1]]]));
  t.same(
    again.map((r) => [r.o, r.k]),
    [[0, 'fresh']],
    'with its record',
  );
  await withAdmin(b, async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'adm-del-2', numPartitions: 1 }] });
    t.same(
      (await admin.fetchTopicOffsets('adm-del-2')).map((o) => [o.low, o.high]),
      [['0', '0']],
      'a topic re-created after restart is empty',
    );
  });
});

t.test('metadata for unknown topics, auto-creation on', async (t) => {
  const c = await rawConnection(t, b);
  const none = await c.request(ApiKey.Metadata, 12, {
    topics: [{ name: 'adm-auto-off-request', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: false,
  });
  t.equal(none.topics[0].errorCode, 3, 'the request does not allow creation: UNKNOWN_TOPIC_OR_PARTITION');
  t.notOk((await allTopics(c)).has('adm-auto-off-request'));
  const yes = await c.request(ApiKey.Metadata, 12, {
    topics: [{ name: 'adm-auto', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: true,
  });
  const tp = yes.topics[0];
  // Kafka answers LEADER_NOT_AVAILABLE while the new topic's leaders are being elected; NONE once they are.
  t.ok(tp.errorCode === 0 || tp.errorCode === 5, `created (error ${tp.errorCode})`);
  t.equal((await allTopics(c)).get('adm-auto'), 2, 'with num.partitions partitions');
  const v0 = await c.request(ApiKey.Metadata, 0, { topics: [{ name: 'adm-auto-v0' }] });
  t.ok([0, 5].includes(v0.topics[0].errorCode), 'v0 always allows auto-creation');
  t.ok((await allTopics(c)).has('adm-auto-v0'));
  const invalid = await c.request(ApiKey.Metadata, 12, {
    topics: [{ name: 'bad name!', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: true,
  });
  t.equal(invalid.topics[0].errorCode, 17, 'an illegal name: INVALID_TOPIC_EXCEPTION');
  // A real producer to a topic nobody created: kcat (librdkafka) auto-creates through Metadata.
  const r = await kcatProduce(b.bootstrap, 'adm-auto-kcat', [{ k: 'a', v: 'b' }]);
  t.equal(r.code, 0, describeRun(r));
  t.equal((await allTopics(c)).get('adm-auto-kcat'), 2);
});

t.test('metadata for unknown topics, auto.create.topics.enable=false', async (t) => {
  const off = await startBroker(t, { sets: { 'auto.create.topics.enable': false } });
  const c = await rawConnection(t, off);
  const r = await c.request(ApiKey.Metadata, 12, {
    topics: [{ name: 'adm-no-auto', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: true,
  });
  t.equal(r.topics[0].errorCode, 3, 'UNKNOWN_TOPIC_OR_PARTITION even though the request allows creation');
  const v0 = await c.request(ApiKey.Metadata, 0, { topics: [{ name: 'adm-no-auto' }] });
  t.equal(v0.topics[0].errorCode, 3, 'v0 too');
  t.notOk((await allTopics(c)).has('adm-no-auto'), 'nothing created');
  const k = await kcatProduce(off.bootstrap, 'adm-no-auto', [{ k: 'a', v: 'b' }], { props: { 'message.timeout.ms': 3000 } });
  t.not(k.code, 0, 'kcat cannot produce to it');
  // librdkafka 2.0 waits for the topic to appear until message.timeout.ms, then reports a timeout.
  t.match(k.stderr, /Unknown topic or partition|Local: Unknown topic|Local: Message timed out/, describeRun(k));
  const kd = await kafkajsProduce(kafkajsClient(off.bootstrap), 'adm-no-auto', [{ k: 'a', v: 'b', p: 0 }]);
  t.ok(kd[0]?.err, `kafkajs cannot either: ${kd[0]?.msg}`);
  t.notOk((await allTopics(c)).has('adm-no-auto'), 'still nothing created');
  await withAdmin(off, (admin) => admin.createTopics({ topics: [{ topic: 'adm-no-auto', numPartitions: 1 }] }));
  const kd2 = await kafkajsProduce(kafkajsClient(off.bootstrap), 'adm-no-auto', [{ k: 'a', v: 'b', p: 0 }]);
  t.same(
    kd2.map((x) => [x.err, x.o]),
    [[undefined, 0]],
    'CreateTopics still works',
  );
  t.same(off.errorLines(), []);
});

t.test('configs and partitions through librdkafka (confluent AdminClient), kept across kill -9', async (t) => {
  const created = await confluent(b, 'create_topics', {
    topics: [{ name: 'adm-cfg', partitions: 2, rf: 1, config: { 'retention.ms': '3600000' } }],
  });
  t.same(created, [{ name: 'adm-cfg', err: null }]);
  const described = await confluent(b, 'describe_configs', { resources: [{ type: 'topic', name: 'adm-cfg' }] });
  const cfg = described[0].configs;
  t.equal(described[0].err, null, JSON.stringify(described[0]).slice(0, 300));
  t.same([cfg['retention.ms']?.value, cfg['retention.ms']?.source], ['3600000', 1], 'the override, source DYNAMIC_TOPIC_CONFIG (1)');
  t.equal(cfg['cleanup.policy']?.value, 'delete', 'a default');
  t.ok(cfg['cleanup.policy']?.source !== 1, 'not reported as a topic override');

  const altered = await confluent(b, 'alter_configs', {
    resources: [{ type: 'topic', name: 'adm-cfg', set: { 'retention.ms': '7200000', 'max.message.bytes': '2000000' } }],
  });
  t.same(altered, [{ name: 'adm-cfg', err: null }], 'AlterConfigs');
  const bad = await confluent(b, 'alter_configs', { resources: [{ type: 'topic', name: 'adm-cfg', set: { 'retention.ms': 'soon' } }] });
  t.equal(bad[0].err, 'INVALID_CONFIG', 'a bad value: INVALID_CONFIG');
  const missing = await confluent(b, 'alter_configs', {
    resources: [{ type: 'topic', name: 'adm-no-such-topic', set: { 'retention.ms': '1' } }],
  });
  t.equal(missing[0].err, 'UNKNOWN_TOPIC_OR_PART', 'an unknown topic: UNKNOWN_TOPIC_OR_PARTITION');

  const grown = await confluent(b, 'create_partitions', { topics: [{ name: 'adm-cfg', count: 5 }] });
  t.same(grown, [{ name: 'adm-cfg', err: null }], 'CreatePartitions 2 -> 5');
  const shrink = await confluent(b, 'create_partitions', { topics: [{ name: 'adm-cfg', count: 3 }] });
  t.equal(shrink[0].err, 'INVALID_PARTITIONS', 'fewer partitions: INVALID_PARTITIONS');
  const k = await kcatProduce(b.bootstrap, 'adm-cfg', [{ k: 'p4', v: 'on the new partition' }], { partition: 4 });
  t.equal(k.code, 0, `kcat produces to a new partition: ${describeRun(k)}`);

  await b.kill9();
  await b.restart();
  const c = await rawConnection(t, b);
  t.equal((await allTopics(c)).get('adm-cfg'), 5, 'the partition count survives kill -9');
  const after = await confluent(b, 'describe_configs', { resources: [{ type: 'topic', name: 'adm-cfg' }] });
  t.same(
    [after[0].configs['retention.ms']?.value, after[0].configs['max.message.bytes']?.value],
    ['7200000', '2000000'],
    'so do the altered configs',
  );
  const read = await kafkajsFetch(kafkajsClient(b.bootstrap), 'adm-cfg', new Map([[4, [0, 1]]]));
  t.same(
    read.map((r) => [r.p, r.o, r.k]),
    [[4, 0, 'p4']],
    'and the record on the new partition',
  );
  // max.message.bytes=2000000 now lets a 1.5 MB record in (the broker default would refuse it).
  const big = await kcatProduce(b.bootstrap, 'adm-cfg', [{ k: 'big', vsize: 1_500_000, vfill: 'z' }], {
    partition: 0,
    props: { 'message.max.bytes': 5_000_000 },
  });
  t.equal(big.code, 0, `the altered max.message.bytes applies: ${describeRun(big)}`);
});

t.test('the broker logged no errors', async (t) => {
  t.same(b.errorLines(), []);
});
