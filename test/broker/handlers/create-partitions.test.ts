import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, produce, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

interface Grow {
  name: string;
  count: number;
  assignments?: number[][] | null;
}

function grow(client: TestClient, version: number, topics: Grow[], validateOnly = false) {
  return client.request(ApiKey.CreatePartitions, version, {
    topics: topics.map((g) => ({
      name: g.name,
      count: g.count,
      assignments: g.assignments === undefined || g.assignments === null ? null : g.assignments.map((brokerIds) => ({ brokerIds })),
    })),
    timeoutMs: 10000,
    validateOnly,
  });
}

async function partitionCount(client: TestClient, topic: string): Promise<number> {
  const r = await client.request(ApiKey.Metadata, 12, {
    topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: false,
    includeTopicAuthorizedOperations: false,
  });
  return r.topics[0].partitions.length;
}

t.test('CreatePartitions', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'grow', 1);
  await createTopic(client, 'manual', 1);

  t.test('v0: grows a topic; the new partitions take writes', async (t) => {
    const r = await grow(client, 0, [{ name: 'grow', count: 3 }]);
    t.same(r.results, [{ name: 'grow', errorCode: ErrorCode.NONE, errorMessage: null }]);
    t.equal(await partitionCount(client, 'grow'), 3);
    t.equal(await produce(client, 'grow', 2, 3), 0, 'partition 2 starts empty');
  });

  t.test('v3: validate_only and manual assignments', async (t) => {
    let r = await grow(client, 3, [{ name: 'manual', count: 4 }], true);
    t.equal(r.results[0].errorCode, ErrorCode.NONE);
    t.equal(await partitionCount(client, 'manual'), 1, 'validate_only changes nothing');
    r = await grow(client, 3, [{ name: 'manual', count: 3, assignments: [[1], [1]] }]);
    t.equal(r.results[0].errorCode, ErrorCode.NONE);
    t.equal(await partitionCount(client, 'manual'), 3);
  });

  t.test('errors, in Kafka words', async (t) => {
    const r = await grow(client, 3, [
      { name: 'grow', count: 3 },
      { name: 'grow', count: 2 },
      { name: 'manual', count: 2 },
      { name: 'missing', count: 2 },
    ]);
    t.same(r.results, [
      { name: 'grow', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' },
      {
        name: 'manual',
        errorCode: ErrorCode.INVALID_PARTITIONS,
        errorMessage: 'The topic manual currently has 3 partition(s); 2 would not be an increase.',
      },
      { name: 'missing', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null },
    ]);
    const same = await grow(client, 1, [{ name: 'grow', count: 3 }]);
    t.same(same.results[0], { name: 'grow', errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Topic already has 3 partition(s).' });

    const cases: [number[][], string][] = [
      [[[1]], 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.'],
      [[[1], [5]], 'The manual partition assignment includes broker 5, but no such broker is registered.'],
      [[[1], [1, 1]], 'The manual partition assignment includes the broker 1 more than once.'],
      [[[1], []], 'The manual partition assignment includes an empty replica list.'],
    ];
    for (const [assignments, message] of cases) {
      const bad = await grow(client, 2, [{ name: 'grow', count: 5, assignments }]);
      t.same(bad.results[0], { name: 'grow', errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: message });
    }
    t.equal(await partitionCount(client, 'grow'), 3, 'failed requests change nothing');
  });
});
