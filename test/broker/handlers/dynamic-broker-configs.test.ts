// Dynamic broker configs: IncrementalAlterConfigs/AlterConfigs on BROKER resources accept Kafka's dynamic keys
// (per broker, and as cluster-wide defaults where Kafka allows), refuse the others with Kafka's messages, report
// them through DescribeConfigs with their sources and synonyms, apply the ones Skafos uses (a topic without an
// override follows a new default), and keep them across a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, produce, startBrokerIn, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const TOPIC = 2;
const BROKER = 4;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;

type Op = [name: string, op: number, value: string | null];

async function alter(client: TestClient, name: string, ops: Op[], validateOnly = false): Promise<[number, string | null]> {
  const r = await client.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [
      {
        resourceType: BROKER,
        resourceName: name,
        configs: ops.map(([n, configOperation, value]) => ({ name: n, configOperation, value })),
      },
    ],
    validateOnly,
  });
  return [r.responses[0].errorCode, r.responses[0].errorMessage];
}

async function describe(client: TestClient, resourceType: number, resourceName: string, keys: string[] | null = null): Promise<any[]> {
  const r = await client.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType, resourceName, configurationKeys: keys }],
    includeSynonyms: true,
    includeDocumentation: false,
  });
  if (r.results[0].errorCode !== 0) throw new Error(`describe: ${r.results[0].errorMessage}`);
  return r.results[0].configs;
}

const OK: [number, null] = [ErrorCode.NONE, null];

t.test('dynamic broker configs', async (t) => {
  const { client } = await startTestBroker(t, { 'log.retention.ms': '3600000' });
  await createTopic(client, 'plain');
  await createTopic(client, 'kept', 1, { 'retention.ms': '5000' });

  t.test("Kafka's refusals and messages", async (t) => {
    const cases: [string, Op[], number, string][] = [
      ['1', [['num.partitions', SET, '3']], ErrorCode.INVALID_REQUEST, 'Cannot update these configs dynamically: Set(num.partitions)'],
      [
        '',
        [
          ['skafos.flush.linger.ms', SET, '3'],
          ['log.retention.hours', SET, '1'],
        ],
        ErrorCode.INVALID_REQUEST,
        'Cannot update these configs dynamically: Set(skafos.flush.linger.ms, log.retention.hours)',
      ],
      [
        '1',
        [['ssl.keystore.location', SET, '/k.jks']],
        ErrorCode.INVALID_REQUEST,
        'These security configs can be dynamically updated only per-listener using the listener prefix: Set(ssl.keystore.location)',
      ],
      [
        '',
        [['sasl.kerberos.min.time.before.relogin', SET, '60000']],
        ErrorCode.INVALID_REQUEST,
        'Cannot update these configs at default cluster level, broker id must be specified: Set(sasl.kerberos.min.time.before.relogin)',
      ],
      [
        '1',
        [['log.retention.ms', SET, 'soon']],
        ErrorCode.INVALID_REQUEST,
        'Invalid value soon for configuration log.retention.ms: Not a number of type LONG',
      ],
      [
        '',
        [['log.cleanup.policy', SET, 'shred']],
        ErrorCode.INVALID_REQUEST,
        'Invalid value shred for configuration log.cleanup.policy: String must be one of: compact, delete',
      ],
      [
        '1',
        [['log.retention.ms', APPEND, '1']],
        ErrorCode.INVALID_CONFIG,
        'Config value append is not allowed for config key: log.retention.ms',
      ],
      ['2', [['log.retention.ms', SET, '1']], ErrorCode.INVALID_REQUEST, 'Unexpected broker id, expected 1, but received 2'],
    ];
    for (const [name, ops, code, message] of cases) t.same(await alter(client, name, ops), [code, message], message);
    t.same(await alter(client, '1', [['log.retention.ms', SET, '1']], true), OK, 'validateOnly');
    t.same(
      (await describe(client, BROKER, '1', ['log.retention.ms']))[0].configSource,
      STATIC_BROKER_CONFIG,
      'validateOnly stores nothing',
    );
  });

  t.test('accepted per broker, with or without effect, and described', async (t) => {
    t.same(await alter(client, '1', [['sasl.kerberos.min.time.before.relogin', SET, '120000']]), OK);
    t.same(await alter(client, '1', [['listener.name.plaintext.ssl.keystore.location', SET, '/k.jks']]), OK);
    t.same(await alter(client, '', [['num.io.threads', SET, '16']]), OK);
    const c = new Map((await describe(client, BROKER, '1')).map((e: any) => [e.name, e]));
    t.match(c.get('sasl.kerberos.min.time.before.relogin'), {
      value: '120000',
      readOnly: false,
      configSource: DYNAMIC_BROKER_CONFIG,
      configType: 5,
      synonyms: [{ name: 'sasl.kerberos.min.time.before.relogin', value: '120000', source: DYNAMIC_BROKER_CONFIG }],
    });
    t.match(c.get('num.io.threads'), { value: '16', configSource: DYNAMIC_DEFAULT_BROKER_CONFIG });
    t.match(c.get('num.partitions'), { readOnly: true });
    t.same(
      (await describe(client, BROKER, '')).map((e: any) => [e.name, e.value, e.configSource]),
      [['num.io.threads', '16', DYNAMIC_DEFAULT_BROKER_CONFIG]],
      'the cluster default resource lists the dynamic defaults',
    );
    t.same(await alter(client, '1', [['sasl.kerberos.min.time.before.relogin', DELETE, null]]), OK);
    t.notOk(
      (await describe(client, BROKER, '1')).some((e: any) => e.name === 'sasl.kerberos.min.time.before.relogin'),
      'deleted again',
    );
  });

  t.test('a new default applies to topics without an override', async (t) => {
    t.same(await alter(client, '', [['log.retention.ms', SET, '7000']]), OK);
    let [plain] = await describe(client, TOPIC, 'plain', ['retention.ms']);
    t.match(plain, {
      value: '7000',
      configSource: DYNAMIC_DEFAULT_BROKER_CONFIG,
      synonyms: [
        { name: 'log.retention.ms', value: '7000', source: DYNAMIC_DEFAULT_BROKER_CONFIG },
        { name: 'log.retention.ms', value: '3600000', source: STATIC_BROKER_CONFIG },
      ],
    });
    const [kept] = await describe(client, TOPIC, 'kept', ['retention.ms']);
    t.match(kept, { value: '5000', configSource: TOPIC_CONFIG }, 'an override still wins');
    // This broker's own value beats the cluster-wide default.
    t.same(await alter(client, '1', [['log.retention.ms', SET, '8000']]), OK);
    [plain] = await describe(client, TOPIC, 'plain', ['retention.ms']);
    t.match(plain, { value: '8000', configSource: DYNAMIC_BROKER_CONFIG });

    // log.cleanup.policy, a Kafka setting Skafos has no static key for: DeleteRecords follows it.
    t.same(await alter(client, '', [['log.cleanup.policy', SET, 'compact']]), OK);
    const [policy] = await describe(client, TOPIC, 'plain', ['cleanup.policy']);
    t.match(policy, {
      value: 'compact',
      configSource: DYNAMIC_DEFAULT_BROKER_CONFIG,
      synonyms: [
        { name: 'log.cleanup.policy', value: 'compact', source: DYNAMIC_DEFAULT_BROKER_CONFIG },
        { name: 'log.cleanup.policy', value: 'delete', source: DEFAULT_CONFIG },
      ],
    });
    const deleted = await client.request(ApiKey.DeleteRecords, 2, {
      topics: [{ name: 'plain', partitions: [{ partitionIndex: 0, offset: 0 }] }],
      timeoutMs: 5000,
    });
    t.equal(deleted.topics[0].partitions[0].errorCode, ErrorCode.POLICY_VIOLATION, 'compact by default now: DeleteRecords refused');
    t.same(await alter(client, '', [['log.cleanup.policy', DELETE, null]]), OK);

    // message.max.bytes: Produce follows it.
    await produce(client, 'plain', 0, 5);
    t.same(await alter(client, '', [['message.max.bytes', SET, '10']]), OK);
    await t.rejects(produce(client, 'plain', 0, 5), /error 10\b/, 'MESSAGE_TOO_LARGE under the new default');
    t.same(await alter(client, '', [['message.max.bytes', DELETE, null]]), OK);
    await produce(client, 'plain', 0, 5);
  });
});

t.test('retention follows a new cluster-wide log.retention.ms', async (t) => {
  const { broker, client } = await startTestBroker(t, { 'skafos.compaction.min.age.ms': '0', 'skafos.compaction.interval.ms': '100' });
  await createTopic(client, 'aging');
  await createTopic(client, 'pinned', 1, { 'retention.ms': '-1' });
  for (let i = 0; i < 3; i++) {
    await produce(client, 'aging', 0, 5);
    await produce(client, 'pinned', 0, 5);
  }
  const earliest = async (topic: string): Promise<number> => {
    const r = await client.request(ApiKey.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      timeoutMs: 10000,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2 }] }],
    });
    return Number(r.topics[0].partitions[0].offset);
  };
  await broker.services.logs.enforceRetention(Date.now());
  t.equal(await earliest('aging'), 0, 'the static retention (7 days) keeps everything');
  t.same(await alter(client, '', [['log.retention.ms', SET, '1']]), OK);
  // Once the compactor has moved the records into segments, retention drops them under the new default.
  const deadline = Date.now() + 20_000;
  while ((await earliest('aging')) === 0) {
    if (Date.now() > deadline) throw new Error('retention did not apply the new default');
    await broker.services.logs.enforceRetention(Date.now());
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok((await earliest('aging')) > 0, 'records older than the new default are gone');
  t.equal(await earliest('pinned'), 0, 'a topic with its own retention.ms keeps its data');
});

t.test('dynamic broker configs survive a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-dynamic-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir);
  await createTopic(b.client, 'later');
  t.same(await alter(b.client, '', [['log.retention.bytes', SET, '123456']]), OK);
  t.same(await alter(b.client, '1', [['log.retention.ms', SET, '4321']]), OK);
  await b.close();
  b = await startBrokerIn(dir);
  t.teardown(() => b.close());
  const c = new Map((await describe(b.client, TOPIC, 'later')).map((e: any) => [e.name, e]));
  t.match(c.get('retention.bytes'), { value: '123456', configSource: DYNAMIC_DEFAULT_BROKER_CONFIG });
  t.match(c.get('retention.ms'), { value: '4321', configSource: DYNAMIC_BROKER_CONFIG });
});

t.test('applied keys take only what their static setting takes; huge timestamp bounds saturate', async (t) => {
  const { client } = await startTestBroker(t);
  const [code, message] = await alter(client, '', [['producer.id.expiration.ms', SET, '0']]);
  t.equal(code, ErrorCode.INVALID_REQUEST, 'producer.id.expiration.ms=0 is refused (Kafka: at least 1)');
  t.match(message, /producer\.id\.expiration\.ms/);
  t.same(await alter(client, '', [['producer.id.expiration.ms', SET, '1']]), OK, '1 is taken');
  // A bound past 2^53 that is not Long.MAX_VALUE itself: produce must still answer (it is no bound at all).
  t.same(await alter(client, '', [['log.message.timestamp.after.max.ms', SET, '9999999999999999']]), OK);
  await createTopic(client, 'far', 1, { 'message.timestamp.before.max.ms': '9223372036854775806' });
  t.equal(await produce(client, 'far', 0, 3), 0, 'records are appended under both bounds');
});
