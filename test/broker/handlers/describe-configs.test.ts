import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode, KAFKA_ERRORS } from '../../../broker/protocol/errors.ts';
import { dynamicBrokerKeys } from '../../../broker/config/dynamic-broker-keys.ts';
import { createTopic, startTestBroker } from './support/client.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const CLIENT_METRICS = 16;
const dynamic = new Set(dynamicBrokerKeys);
// ConfigSource
const TOPIC_CONFIG = 1;
const STATIC_BROKER_CONFIG = 4;
const DEFAULT_CONFIG = 5;

const describe = (
  resources: { resourceType: number; resourceName: string; configurationKeys?: string[] | null }[],
  extra: Record<string, boolean> = {},
) => ({ resources: resources.map((r) => ({ configurationKeys: null, ...r })), ...extra });

const byName = (configs: any[]) => new Map<string, any>(configs.map((c) => [c.name, c]));

t.test('DescribeConfigs', async (t) => {
  const { client } = await startTestBroker(t, { 'log.retention.ms': '3600000' });
  await createTopic(client, 'orders', 2, { 'retention.ms': '1000', 'cleanup.policy': 'compact,delete' });

  t.test('v4 topic: sources, synonyms in Kafka order, types, documentation', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([{ resourceType: TOPIC, resourceName: 'orders' }], { includeSynonyms: true, includeDocumentation: true }),
    );
    const res = r.results[0];
    t.equal(res.errorCode, ErrorCode.NONE);
    t.equal(res.resourceName, 'orders');
    const c = byName(res.configs);
    // An override first, then the broker synonym set in the broker's configuration.
    t.match(c.get('retention.ms'), {
      value: '1000',
      configSource: TOPIC_CONFIG,
      readOnly: false,
      isSensitive: false,
      configType: 5,
      synonyms: [
        { name: 'retention.ms', value: '1000', source: TOPIC_CONFIG },
        { name: 'log.retention.ms', value: '3600000', source: STATIC_BROKER_CONFIG },
      ],
    });
    t.type(c.get('retention.ms').documentation, 'string');
    // A list config overridden, with Kafka's broker default as its last synonym.
    t.match(c.get('cleanup.policy'), {
      value: 'compact,delete',
      configSource: TOPIC_CONFIG,
      configType: 7,
      synonyms: [
        { name: 'cleanup.policy', source: TOPIC_CONFIG },
        { name: 'log.cleanup.policy', value: 'delete', source: DEFAULT_CONFIG },
      ],
    });
    // Not overridden: the broker's default.
    t.match(c.get('max.message.bytes'), {
      value: '1048588',
      configSource: DEFAULT_CONFIG,
      configType: 3,
      synonyms: [{ name: 'message.max.bytes', value: '1048588', source: DEFAULT_CONFIG }],
    });
    // Kafka reports no synonym where its first broker synonym has no default (log.roll.ms).
    t.match(c.get('segment.ms'), { value: '604800000', configSource: DEFAULT_CONFIG, synonyms: [] });
    t.equal(c.get('preallocate').configType, 1);
    t.equal(c.get('min.cleanable.dirty.ratio').configType, 6);
    t.notOk(
      res.configs.some((x: any) => x.readOnly),
      'topic configs are never read-only',
    );
  });

  t.test('config names filter; unknown names are left out', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([{ resourceType: TOPIC, resourceName: 'orders', configurationKeys: ['retention.ms', 'no.such.config'] }]),
    );
    t.same(
      r.results[0].configs.map((c: any) => c.name),
      ['retention.ms'],
    );
    t.same(r.results[0].configs[0].synonyms, [], 'no synonyms unless asked for');
    t.equal(r.results[0].configs[0].documentation, null, 'no documentation unless asked for');
    const all = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([{ resourceType: TOPIC, resourceName: 'orders', configurationKeys: [] }]),
    );
    t.ok(all.results[0].configs.length > 20, 'an empty list means every config');
  });

  t.test('v0: IsDefault instead of a source, no synonyms', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      0,
      describe([{ resourceType: TOPIC, resourceName: 'orders', configurationKeys: ['retention.ms', 'segment.bytes'] }]),
    );
    const c = byName(r.results[0].configs);
    t.equal(c.get('retention.ms').isDefault, false);
    t.equal(c.get('segment.bytes').isDefault, true);
    t.same(c.get('retention.ms').synonyms, []);
  });

  t.test('v1: synonyms but no type or documentation', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      1,
      describe([{ resourceType: TOPIC, resourceName: 'orders', configurationKeys: ['retention.ms'] }], { includeSynonyms: true }),
    );
    const c = r.results[0].configs[0];
    t.equal(c.configSource, TOPIC_CONFIG);
    t.equal(c.synonyms.length, 2);
    t.equal(c.configType, 0, 'ConfigType exists from v3');
  });

  t.test('broker resource: static configs; only dynamic keys writable', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([{ resourceType: BROKER, resourceName: '1' }], { includeSynonyms: true, includeDocumentation: true }),
    );
    const res = r.results[0];
    t.equal(res.errorCode, ErrorCode.NONE);
    const c = byName(res.configs);
    t.match(c.get('log.retention.ms'), {
      value: '3600000',
      configSource: STATIC_BROKER_CONFIG,
      readOnly: false,
      configType: 5,
      synonyms: [{ name: 'log.retention.ms', source: STATIC_BROKER_CONFIG }],
    });
    t.match(c.get('num.partitions'), {
      value: '1',
      configSource: DEFAULT_CONFIG,
      readOnly: true,
      configType: 3,
      synonyms: [{ name: 'num.partitions', value: '1', source: DEFAULT_CONFIG }],
    });
    t.match(c.get('auto.create.topics.enable'), { value: 'true', configType: 1 });
    // Types come from the configuration table: Kafka's INT for its int keys, DOUBLE for rates, LIST for lists.
    t.match(c.get('transaction.max.timeout.ms'), { configType: 3 });
    t.match(c.get('skafos.storage.health.degraded.error.rate'), { configType: 6 });
    t.match(c.get('skafos.s3.read.replicas'), { configType: 7 });
    t.match(c.get('log.message.timestamp.before.max.ms'), { configType: 5 });
    t.match(c.get('advertised.listeners'), { value: null, configSource: DEFAULT_CONFIG, synonyms: [] });
    t.match(c.get('listeners'), { configSource: STATIC_BROKER_CONFIG });
    t.type(c.get('message.max.bytes').documentation, 'string');
    t.same(
      res.configs.filter((x: any) => !x.readOnly).map((x: any) => x.name),
      res.configs.map((x: any) => x.name).filter((n: string) => dynamic.has(n)),
      "only Kafka's dynamic broker configs are writable",
    );
  });

  t.test('broker resource names', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([
        { resourceType: BROKER, resourceName: '' },
        { resourceType: BROKER, resourceName: '7' },
        { resourceType: BROKER, resourceName: 'one' },
      ]),
    );
    t.match(r.results[0], { errorCode: ErrorCode.NONE, configs: [] }, 'the cluster default resource: no dynamic defaults');
    t.match(r.results[1], {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Unexpected broker id, expected 1 or empty string, but received 7',
      configs: [],
    });
    t.match(r.results[2], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker id must be an integer, but it is: one' });
  });

  t.test('broker logger: the root level', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([
        { resourceType: BROKER_LOGGER, resourceName: '1' },
        { resourceType: BROKER_LOGGER, resourceName: '' },
      ]),
    );
    t.match(r.results[0], { errorCode: ErrorCode.NONE, configs: [{ name: 'root', value: 'OFF', configSource: 6 }] });
    t.match(r.results[1], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Broker id must not be empty' });
  });

  t.test('errors per resource', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      4,
      describe([
        { resourceType: TOPIC, resourceName: 'missing' },
        { resourceType: TOPIC, resourceName: 'bad name' },
        { resourceType: CLIENT_METRICS, resourceName: 'g' },
        { resourceType: TOPIC, resourceName: 'orders', configurationKeys: ['retention.ms'] },
      ]),
    );
    t.match(r.results[0], {
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: '',
      resourceType: TOPIC,
      resourceName: 'missing',
      configs: [],
    });
    t.match(r.results[1], { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: /illegal/ });
    t.match(r.results[2], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unsupported resource type: CLIENT_METRICS' });
    t.match(r.results[3], { errorCode: ErrorCode.NONE, configs: [{ name: 'retention.ms' }] }, 'other resources are unaffected');
  });

  t.test('an unknown resource type fails every resource', async (t) => {
    const r = await client.request(
      ApiKey.DescribeConfigs,
      2,
      describe([
        { resourceType: TOPIC, resourceName: 'orders' },
        { resourceType: 99, resourceName: 'x' },
      ]),
    );
    t.equal(r.results.length, 2);
    for (const res of r.results)
      t.match(res, { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: KAFKA_ERRORS.INVALID_REQUEST.message, configs: [] });
    t.same(
      r.results.map((x: any) => x.resourceType),
      [TOPIC, 99],
    );
  });
});
