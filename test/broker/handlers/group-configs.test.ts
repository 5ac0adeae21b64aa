// GROUP config resources (Kafka 4.0, KIP-848): DescribeConfigs of a group with and without overrides,
// IncrementalAlterConfigs and AlterConfigs with Kafka's validation and messages, the KIP-848 coordinator
// giving members the group's heartbeat interval and session timeout, and the overrides surviving a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startBrokerIn, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const GROUP = 32;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const GROUP_CONFIG = 8;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;

type Op = [name: string, op: number, value: string | null];

function alter(client: TestClient, group: string, ops: Op[], validateOnly = false) {
  return client.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [
      {
        resourceType: GROUP,
        resourceName: group,
        configs: ops.map(([name, configOperation, value]) => ({ name, configOperation, value })),
      },
    ],
    validateOnly,
  });
}

async function describe(client: TestClient, group: string, keys: string[] | null = null): Promise<any> {
  const r = await client.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: GROUP, resourceName: group, configurationKeys: keys }],
    includeSynonyms: true,
    includeDocumentation: false,
  });
  return r.results[0];
}

function heartbeat(client: TestClient, groupId: string, topics: string[]): Promise<any> {
  return client.request(ApiKey.ConsumerGroupHeartbeat, 1, {
    groupId,
    memberId: '',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 10000,
    subscribedTopicNames: topics,
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: [],
  });
}

t.test('GROUP config resources', async (t) => {
  // group.consumer.session.timeout.ms set in the broker's configuration: a STATIC_BROKER_CONFIG synonym.
  const { client } = await startTestBroker(t, { 'group.consumer.session.timeout.ms': '50000' });

  t.test('a group without overrides (it need not exist): every key, the broker value, its synonyms', async (t) => {
    const r = await describe(client, 'nobody');
    t.equal(r.errorCode, ErrorCode.NONE);
    t.same(
      r.configs.map((c: any) => c.name),
      [
        'consumer.heartbeat.interval.ms',
        'consumer.session.timeout.ms',
        'share.auto.offset.reset',
        'share.heartbeat.interval.ms',
        'share.record.lock.duration.ms',
        'share.session.timeout.ms',
      ],
    );
    const byName = Object.fromEntries(r.configs.map((c: any) => [c.name, c]));
    t.match(byName['consumer.heartbeat.interval.ms'], {
      value: '5000',
      configSource: DEFAULT_CONFIG,
      readOnly: false,
      configType: 3,
      synonyms: [{ name: 'group.consumer.heartbeat.interval.ms', value: '5000', source: DEFAULT_CONFIG }],
    });
    t.match(byName['consumer.session.timeout.ms'], {
      value: '50000',
      configSource: STATIC_BROKER_CONFIG,
      synonyms: [
        { name: 'group.consumer.session.timeout.ms', value: '50000', source: STATIC_BROKER_CONFIG },
        { name: 'group.consumer.session.timeout.ms', value: '45000', source: DEFAULT_CONFIG },
      ],
    });
    t.match(byName['share.auto.offset.reset'], {
      value: 'latest',
      configType: 2,
      synonyms: [{ name: 'share.auto.offset.reset', value: 'latest', source: DEFAULT_CONFIG }],
    });
    t.match(byName['share.record.lock.duration.ms'], {
      value: '30000',
      synonyms: [{ name: 'group.share.record.lock.duration.ms', value: '30000', source: DEFAULT_CONFIG }],
    });
  });

  t.test('SET, then describe: the override first (GROUP_CONFIG), then the broker synonyms', async (t) => {
    let r = await alter(client, 'g1', [
      ['consumer.heartbeat.interval.ms', SET, '6000'],
      ['consumer.session.timeout.ms', SET, '55000'],
    ]);
    t.same(r.responses, [{ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: GROUP, resourceName: 'g1' }]);
    const d = await describe(client, 'g1', ['consumer.heartbeat.interval.ms']);
    t.same(d.configs.length, 1);
    t.match(d.configs[0], {
      name: 'consumer.heartbeat.interval.ms',
      value: '6000',
      configSource: GROUP_CONFIG,
      synonyms: [
        { name: 'consumer.heartbeat.interval.ms', value: '6000', source: GROUP_CONFIG },
        { name: 'group.consumer.heartbeat.interval.ms', value: '5000', source: DEFAULT_CONFIG },
      ],
    });
    // DELETE returns a key to the broker's value; the other override stays.
    r = await alter(client, 'g1', [['consumer.heartbeat.interval.ms', DELETE, null]]);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    const after = Object.fromEntries((await describe(client, 'g1')).configs.map((c: any) => [c.name, [c.value, c.configSource]]));
    t.same(after['consumer.heartbeat.interval.ms'], ['5000', DEFAULT_CONFIG]);
    t.same(after['consumer.session.timeout.ms'], ['55000', GROUP_CONFIG]);
  });

  t.test("Kafka's validation and messages", async (t) => {
    const cases: [string, Op[], number, string][] = [
      ['', [['consumer.session.timeout.ms', SET, '50000']], ErrorCode.INVALID_REQUEST, 'Default group resources are not allowed.'],
      ['g2', [['foo', SET, '1']], ErrorCode.INVALID_CONFIG, 'Unknown group config name: foo'],
      [
        'g2',
        [['consumer.heartbeat.interval.ms', SET, 'abc']],
        ErrorCode.INVALID_CONFIG,
        'Invalid value abc for configuration consumer.heartbeat.interval.ms: Not a number of type INT',
      ],
      [
        'g2',
        [['consumer.heartbeat.interval.ms', SET, '0']],
        ErrorCode.INVALID_CONFIG,
        'Invalid value 0 for configuration consumer.heartbeat.interval.ms: Value must be at least 1',
      ],
      [
        'g2',
        [['consumer.heartbeat.interval.ms', SET, '20000']],
        ErrorCode.INVALID_CONFIG,
        'consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms',
      ],
      [
        'g2',
        [['consumer.heartbeat.interval.ms', SET, '4000']],
        ErrorCode.INVALID_CONFIG,
        'consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms',
      ],
      [
        'g2',
        [['consumer.session.timeout.ms', SET, '70000']],
        ErrorCode.INVALID_CONFIG,
        'consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms',
      ],
      [
        'g2',
        [['share.auto.offset.reset', SET, 'middle']],
        ErrorCode.INVALID_CONFIG,
        'Invalid value middle for configuration share.auto.offset.reset: String must be one of: latest, earliest',
      ],
      [
        'g2',
        [['consumer.session.timeout.ms', APPEND, '1']],
        ErrorCode.INVALID_CONFIG,
        "Can't APPEND to key consumer.session.timeout.ms because its type is not LIST.",
      ],
      [
        'g2',
        [['consumer.session.timeout.ms', SET, null]],
        ErrorCode.INVALID_REQUEST,
        'Null value not supported for : consumer.session.timeout.ms',
      ],
    ];
    for (const [group, ops, code, message] of cases) {
      const r = await alter(client, group, ops);
      t.same([r.responses[0].errorCode, r.responses[0].errorMessage], [code, message], message);
    }
    // validateOnly checks and stores nothing.
    const r = await alter(client, 'g2', [['consumer.session.timeout.ms', SET, '60000']], true);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    t.equal((await describe(client, 'g2', ['consumer.session.timeout.ms'])).configs[0].configSource, STATIC_BROKER_CONFIG);
    const d = await describe(client, '');
    t.same([d.errorCode, d.errorMessage], [ErrorCode.INVALID_REQUEST, 'Group name must not be empty']);
  });

  t.test('legacy AlterConfigs replaces the whole set of overrides', async (t) => {
    await alter(client, 'g3', [['consumer.heartbeat.interval.ms', SET, '7000']]);
    const r = await client.request(ApiKey.AlterConfigs, 2, {
      resources: [{ resourceType: GROUP, resourceName: 'g3', configs: [{ name: 'share.auto.offset.reset', value: 'earliest' }] }],
      validateOnly: false,
    });
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    const sources = Object.fromEntries((await describe(client, 'g3')).configs.map((c: any) => [c.name, c.configSource]));
    t.equal(sources['consumer.heartbeat.interval.ms'], DEFAULT_CONFIG);
    t.equal(sources['share.auto.offset.reset'], GROUP_CONFIG);
  });
});

t.test("a KIP-848 member gets its group's heartbeat interval and session timeout", async (t) => {
  const { client } = await startTestBroker(t, {
    'group.consumer.min.session.timeout.ms': '500',
    'group.consumer.min.heartbeat.interval.ms': '100',
  });
  await createTopic(client, 'hb', 2);
  const before = await heartbeat(client, 'plain', ['hb']);
  t.equal(before.heartbeatIntervalMs, 5000, 'a group without overrides: the broker value');
  t.equal(
    (
      await alter(client, 'tuned', [
        ['consumer.heartbeat.interval.ms', SET, '250'],
        ['consumer.session.timeout.ms', SET, '800'],
      ])
    ).responses[0].errorCode,
    ErrorCode.NONE,
  );
  const joined = await heartbeat(client, 'tuned', ['hb']);
  t.equal(joined.errorCode, ErrorCode.NONE);
  t.equal(joined.heartbeatIntervalMs, 250);
  // The member sends nothing more: the group's 800 ms session timeout removes it (the broker's is 45 s).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await client.request(ApiKey.ConsumerGroupDescribe, 0, { groupIds: ['tuned'], includeAuthorizedOperations: false });
    if (r.groups[0].members.length === 0) break;
    if (Date.now() > deadline) throw new Error('the member was not removed by the group session timeout');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  t.pass('expired by the group session timeout');
});

t.test('group overrides survive a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-group-configs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir);
  t.equal((await alter(b.client, 'kept', [['consumer.heartbeat.interval.ms', SET, '8000']])).responses[0].errorCode, ErrorCode.NONE);
  await b.close();
  b = await startBrokerIn(dir);
  t.teardown(() => b.close());
  t.match((await describe(b.client, 'kept', ['consumer.heartbeat.interval.ms'])).configs[0], { value: '8000', configSource: GROUP_CONFIG });
});
