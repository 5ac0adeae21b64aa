import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { topicAuthorizedOperations } from '../../../broker/handlers/acl-ops.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

function describe(client: TestClient, topics: string[], limit = 2000, cursor: { topicName: string; partitionIndex: number } | null = null) {
  return client.request(ApiKey.DescribeTopicPartitions, 0, {
    topics: topics.map((name) => ({ name })),
    responsePartitionLimit: limit,
    cursor,
  });
}

/** topic:partition,partition... per topic, and the cursor. */
const shape = (r: any) => [
  r.topics.map((x: any) => `${x.name}:${x.partitions.map((p: any) => p.partitionIndex).join(',')}`),
  r.nextCursor && `${r.nextCursor.topicName}/${r.nextCursor.partitionIndex}`,
];

t.test('DescribeTopicPartitions', async (t) => {
  const { client, broker } = await startTestBroker(t);
  await createTopic(client, 'b-topic', 3);
  await createTopic(client, 'a-topic', 2);
  await createTopic(client, 'c-topic', 1);

  t.test('named topics, sorted, with their partitions', async (t) => {
    const r = await describe(client, ['c-topic', 'a-topic', 'a-topic']);
    t.same(shape(r), [['a-topic:0,1', 'c-topic:0'], null]);
    const a = r.topics[0];
    t.match(a, {
      errorCode: ErrorCode.NONE,
      topicId: broker.services.topics.byName('a-topic')!.id,
      isInternal: false,
      topicAuthorizedOperations,
    });
    t.same(a.partitions[1], {
      errorCode: ErrorCode.NONE,
      partitionIndex: 1,
      leaderId: 1,
      leaderEpoch: 0,
      replicaNodes: [1],
      isrNodes: [1],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    });
  });

  t.test('pagination by partition limit and cursor', async (t) => {
    let r = await describe(client, [], 2);
    t.same(shape(r), [['a-topic:0,1'], 'b-topic/0'], 'the limit is reached exactly at the end of a topic');
    r = await describe(client, [], 2, r.nextCursor);
    t.same(shape(r), [['b-topic:0,1'], 'b-topic/2']);
    r = await describe(client, [], 2, r.nextCursor);
    t.same(shape(r), [['b-topic:2', 'c-topic:0'], null]);
    r = await describe(client, [], 0);
    t.same(shape(r), [['a-topic:0'], 'a-topic/1'], 'a limit below 1 counts as 1');
  });

  t.test('unknown and invalid topics', async (t) => {
    const r = await describe(client, ['missing', 'bad name', 'a-topic']);
    t.same(
      r.topics.map((x: any) => [x.name, x.errorCode, x.partitions.length, x.topicId]),
      [
        ['a-topic', ErrorCode.NONE, 2, broker.services.topics.byName('a-topic')!.id],
        ['bad name', ErrorCode.INVALID_TOPIC_EXCEPTION, 0, 'AAAAAAAAAAAAAAAAAAAAAA'],
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0, 'AAAAAAAAAAAAAAAAAAAAAA'],
      ],
    );
  });

  t.test('a cursor outside the topic list, or negative, fails every topic', async (t) => {
    for (const cursor of [
      { topicName: 'c-topic', partitionIndex: 0 },
      { topicName: 'a-topic', partitionIndex: -1 },
    ]) {
      const r = await describe(client, ['a-topic', 'b-topic'], 2000, cursor);
      t.same(
        r.topics.map((x: any) => [x.name, x.errorCode, x.partitions.length]),
        [
          ['a-topic', ErrorCode.INVALID_REQUEST, 0],
          ['b-topic', ErrorCode.INVALID_REQUEST, 0],
        ],
      );
      t.equal(r.nextCursor, null);
    }
  });
});
