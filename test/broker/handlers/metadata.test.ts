import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startTestBroker } from './support/client.ts';

// Kafka's AclEntry.supportedOperations without an authorizer, as AclOperation bit fields:
// CLUSTER = CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12;
// TOPIC = READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
const clusterOps = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);
const topicOps = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
const unset = -2147483648;

t.test('Metadata authorized operations', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'md-ops', 2);

  for (const v of [8, 9, 10]) {
    t.test(`v${v}: cluster operations when asked`, async (t) => {
      const asked = await client.request(ApiKey.Metadata, v, {
        topics: [{ name: 'md-ops' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: true,
        includeTopicAuthorizedOperations: false,
      });
      t.equal(asked.clusterAuthorizedOperations, clusterOps);
      t.equal(asked.topics[0].topicAuthorizedOperations, unset);
      const notAsked = await client.request(ApiKey.Metadata, v, {
        topics: [{ name: 'md-ops' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: true,
      });
      t.equal(notAsked.clusterAuthorizedOperations, unset);
      t.equal(notAsked.topics[0].topicAuthorizedOperations, topicOps);
    });
  }

  t.test('topic operations also on a topic that does not exist (Kafka sets them on every named topic)', async (t) => {
    const r = await client.request(ApiKey.Metadata, 12, {
      topics: [{ name: 'md-ops' }, { name: 'md-missing' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: true,
    });
    t.match(r.topics, [
      { name: 'md-ops', errorCode: ErrorCode.NONE, topicAuthorizedOperations: topicOps },
      { name: 'md-missing', errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topicAuthorizedOperations: topicOps },
    ]);
  });

  t.test('DescribeCluster answers the same cluster operations', async (t) => {
    const r = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    t.equal(r.clusterAuthorizedOperations, clusterOps);
  });
});
