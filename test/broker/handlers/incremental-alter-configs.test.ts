import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;
const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

type Op = [name: string, op: number, value: string | null];

function alter(client: TestClient, version: number, resources: [type: number, name: string, ops: Op[]][], validateOnly = false) {
  return client.request(ApiKey.IncrementalAlterConfigs, version, {
    resources: resources.map(([resourceType, resourceName, ops]) => ({
      resourceType,
      resourceName,
      configs: ops.map(([name, configOperation, value]) => ({ name, configOperation, value })),
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

t.test('IncrementalAlterConfigs', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'events', 1, { 'retention.ms': '1000' });

  t.test('v1: SET, DELETE, APPEND and SUBTRACT on topic overrides', async (t) => {
    let r = await alter(client, 1, [
      [
        TOPIC,
        'events',
        [
          ['retention.bytes', SET, '5000'],
          ['retention.ms', DELETE, null],
          ['cleanup.policy', APPEND, 'compact'],
        ],
      ],
    ]);
    t.same(r.responses, [{ errorCode: ErrorCode.NONE, errorMessage: null, resourceType: TOPIC, resourceName: 'events' }]);
    // APPEND starts from the default list ("delete").
    t.same(await overrides(client, 'events'), { 'retention.bytes': '5000', 'cleanup.policy': 'delete,compact' });
    r = await alter(client, 1, [
      [
        TOPIC,
        'events',
        [
          ['cleanup.policy', SUBTRACT, 'delete'],
          ['cleanup.policy2', DELETE, null],
        ],
      ],
    ]);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE, 'deleting an unknown key changes nothing');
    t.same(await overrides(client, 'events'), { 'retention.bytes': '5000', 'cleanup.policy': 'compact' });
    r = await alter(client, 1, [[TOPIC, 'events', [['cleanup.policy', APPEND, 'compact,delete']]]]);
    t.same(
      await overrides(client, 'events'),
      { 'retention.bytes': '5000', 'cleanup.policy': 'compact,delete' },
      'APPEND skips elements already there',
    );
  });

  t.test('v0 and validate_only', async (t) => {
    const before = await overrides(client, 'events');
    const r = await alter(client, 0, [[TOPIC, 'events', [['segment.bytes', SET, '2000000']]]], true);
    t.equal(r.responses[0].errorCode, ErrorCode.NONE);
    t.same(await overrides(client, 'events'), before, 'nothing changed');
    const bad = await alter(client, 0, [[TOPIC, 'events', [['segment.bytes', SET, '1']]]], true);
    t.match(
      bad.responses[0],
      {
        errorCode: ErrorCode.INVALID_CONFIG,
        errorMessage: 'Invalid value 1 for configuration segment.bytes: Value must be at least 1048576',
      },
      'validate_only still validates',
    );
  });

  t.test('topic errors, in Kafka words', async (t) => {
    const r = await alter(client, 1, [
      [TOPIC, 'events', [['no.such.config', SET, '1']]],
      [TOPIC, 'missing', [['retention.ms', SET, '1']]],
      [TOPIC, '', [['retention.ms', SET, '1']]],
      [TOPIC, 'bad/name', [['retention.ms', SET, '1']]],
    ]);
    t.match(r.responses[0], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'Unknown topic config name: no.such.config',
      resourceName: 'events',
    });
    t.match(r.responses[1], { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: "The topic 'missing' does not exist." });
    t.match(r.responses[2], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Default topic resources are not allowed.' });
    t.match(r.responses[3], { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION });
    const more = await alter(client, 1, [
      [TOPIC, 'events', [['retention.ms', SET, 'soon']]],
      [TOPIC, 'events2', [['retention.ms', APPEND, '5']]],
      [TOPIC, 'events3', [['retention.ms', SET, null]]],
      [
        TOPIC,
        'events4',
        [
          ['retention.ms', SET, '1'],
          ['retention.ms', DELETE, null],
        ],
      ],
      [TOPIC, 'events5', [['retention.ms', 9, '1']]],
      [TOPIC, 'events6', [['compression.type', SET, 'brotli']]],
    ]);
    t.match(more.responses[0], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'Invalid value soon for configuration retention.ms: Not a number of type LONG',
    });
    t.match(more.responses[1], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: "Can't APPEND to key retention.ms because its type is not LIST.",
    });
    t.match(more.responses[2], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Null value not supported for : retention.ms' });
    t.match(more.responses[3], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Error due to duplicate config keys' });
    t.match(more.responses[4], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown operations type 9' });
    t.match(more.responses[5], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage:
        'Invalid value brotli for configuration compression.type: String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer',
    });
    const list = await alter(client, 1, [[TOPIC, 'events', [['cleanup.policy', SET, 'delete,forever']]]]);
    t.match(list.responses[0], {
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: 'Invalid value forever for configuration cleanup.policy: String must be one of: compact, delete',
    });
    t.notOk('retention.ms' in (await overrides(client, 'events')), 'failed changes leave the topic alone');
  });

  t.test('a resource named twice fails both times; others proceed', async (t) => {
    const r = await alter(client, 1, [
      [TOPIC, 'events', [['retention.ms', SET, '10']]],
      [TOPIC, 'events', [['retention.ms', SET, '20']]],
      [BROKER, '1', []],
    ]);
    t.same(
      r.responses.map((x: any) => [x.errorCode, x.errorMessage]),
      [
        [ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
        [ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'],
        [ErrorCode.NONE, null],
      ],
    );
  });

  t.test('broker configs are static', async (t) => {
    const r = await alter(client, 1, [
      [
        BROKER,
        '1',
        [
          ['log.retention.hours', SET, '1'],
          ['num.partitions', SET, '3'],
        ],
      ],
      [BROKER, '', [['log.retention.ms', DELETE, null]]],
      [BROKER, '2', [['log.retention.ms', SET, '1000']]],
      [BROKER, 'x', [['log.retention.ms', SET, '1000']]],
      [BROKER_LOGGER, '1', [['root', SET, 'DEBUG']]],
      [99, 'whatever', []],
    ]);
    t.match(r.responses[0], {
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)',
    });
    t.match(r.responses[1], { errorCode: ErrorCode.NONE }, 'deleting a dynamic config that does not exist is fine');
    t.match(r.responses[2], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unexpected broker id, expected 1, but received 2' });
    t.match(r.responses[3], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Node id must be an integer, but it is: x' });
    t.match(r.responses[4], { errorCode: ErrorCode.INVALID_REQUEST });
    t.match(r.responses[5], { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown resource type 99', resourceType: 99 });
  });
});
