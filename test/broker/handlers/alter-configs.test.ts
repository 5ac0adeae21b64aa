import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;

function alter(
  client: TestClient,
  version: number,
  resources: [type: number, name: string, configs: Record<string, string | null>][],
  validateOnly = false,
) {
  return client.request(ApiKey.AlterConfigs, version, {
    resources: resources.map(([resourceType, resourceName, configs]) => ({
      resourceType,
      resourceName,
      configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
    })),
    validateOnly,
  });
}

async function overrides(client: TestClient, topic: string): Promise<Record<string, string>> {
  const r = await client.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: TOPIC, resourceName: topic, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  return Object.fromEntries(r.results[0].configs.filter((c: any) => c.configSource === 1).map((c: any) => [c.name, c.value]));
}

t.test('AlterConfigs', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'logs', 1, { 'retention.ms': '1000', 'cleanup.policy': 'compact' });

  t.test('v0: the new set replaces every override', async (t) => {
    const r = await alter(client, 0, [[TOPIC, 'logs', { 'segment.bytes': '2000000', 'retention.bytes': '5000' }]]);
    t.same(r.responses, [{ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: 'logs' }]);
    t.same(
      await overrides(client, 'logs'),
      { 'segment.bytes': '2000000', 'retention.bytes': '5000' },
      'keys left out are back to their defaults',
    );
  });

  t.test('v2: validate_only, then an empty set clears everything', async (t) => {
    let r = await alter(client, 2, [[TOPIC, 'logs', {}]], true);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    t.same(await overrides(client, 'logs'), { 'segment.bytes': '2000000', 'retention.bytes': '5000' }, 'validate_only changes nothing');
    r = await alter(client, 2, [[TOPIC, 'logs', {}]]);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    t.same(await overrides(client, 'logs'), {});
  });

  t.test('errors', async (t) => {
    const r = await alter(client, 2, [
      [TOPIC, 'logs', { 'retention.ms': null }],
      [TOPIC, 'logs2', { 'retention.msec': '5' }],
      [TOPIC, 'missing', { 'retention.ms': '5' }],
      [TOPIC, 'logs3', { 'min.insync.replicas': '0' }],
      [BROKER_LOGGER, '1', { root: 'DEBUG' }],
      [0, 'x', {}],
    ]);
    t.match(r.responses[0], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Null value not supported for : retention.ms' });
    t.match(r.responses[1], { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: 'Unknown topic config name: retention.msec' });
    t.match(r.responses[2], { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: "The topic 'missing' does not exist." });
    t.match(r.responses[3], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'Invalid value 0 for configuration min.insync.replicas: Value must be at least 1',
    });
    t.match(
      r.responses[4],
      { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown resource type 8' },
      'AlterConfigs never supported logger resources',
    );
    t.match(r.responses[5], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown resource type 0' });
  });

  t.test('broker resources', async (t) => {
    const r = await alter(client, 1, [
      [BROKER, '1', { 'log.retention.hours': '1' }],
      [BROKER, '', {}],
    ]);
    t.match(r.responses[0], {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Cannot update these configs dynamically: Set(log.retention.hours)',
      resourceType: BROKER,
      resourceName: '1',
    });
    t.match(r.responses[1], { errorCode: ErrorCode.NONE });
  });
});
