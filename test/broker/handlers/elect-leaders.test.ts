import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode, KAFKA_ERRORS } from '../../../broker/protocol/errors.ts';
import { createTopic, startTestBroker } from './support/client.ts';

t.test('ElectLeaders', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'led', 2);

  t.test('v0: no election is ever needed', async (t) => {
    const r = await client.request(ApiKey.ElectLeaders, 0, {
      topicPartitions: [
        { topic: 'led', partitions: [0, 1, 4] },
        { topic: 'gone', partitions: [0] },
      ],
      timeoutMs: 1000,
    });
    t.same(r.replicaElectionResults, [
      {
        topic: 'led',
        partitionResult: [
          { partitionId: 0, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: KAFKA_ERRORS.ELECTION_NOT_NEEDED.message },
          { partitionId: 1, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: KAFKA_ERRORS.ELECTION_NOT_NEEDED.message },
          { partitionId: 4, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'No such partition as led-4' },
        ],
      },
      {
        topic: 'gone',
        partitionResult: [{ partitionId: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'No such topic as gone' }],
      },
    ]);
  });

  t.test('v2: all partitions leaves out those that need none', async (t) => {
    const r = await client.request(ApiKey.ElectLeaders, 2, { electionType: 1, topicPartitions: null, timeoutMs: 1000 });
    t.equal(r.errorCode, ErrorCode.NONE);
    t.same(r.replicaElectionResults, [{ topic: 'led', partitionResult: [] }]);
  });

  t.test('v1: an unknown election type fails the request', async (t) => {
    const r = await client.request(ApiKey.ElectLeaders, 1, {
      electionType: 5,
      topicPartitions: [{ topic: 'led', partitions: [0] }],
      timeoutMs: 1000,
    });
    t.equal(r.errorCode, ErrorCode.INVALID_REQUEST);
    t.same(r.replicaElectionResults[0].partitionResult, [
      { partitionId: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Unknown election type 5' },
    ]);
  });
});
