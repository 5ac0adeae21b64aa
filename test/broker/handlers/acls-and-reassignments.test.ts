import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, startTestBroker, TestClient } from './support/client.ts';

const NO_AUTHORIZER = 'No Authorizer is configured.';
const NO_REPLICAS =
  'Skafos partitions have no replicas to reassign: each partition has a single owner, which the cluster chooses from the live brokers.';

// Kafka's enum ids: resource type TOPIC 2 / GROUP 3 / USER 7, pattern type ANY 1 / LITERAL 3, operation
// ANY 1 / READ 3 / WRITE 4, permission ANY 1 / ALLOW 3.
/** A decoded value without its undefined `_tagged` fields, for exact comparison. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const aclFilter = (v: number) => ({
  resourceTypeFilter: v >= 3 ? 7 : 2,
  resourceNameFilter: null,
  patternTypeFilter: 1,
  principalFilter: 'User:alice',
  hostFilter: null,
  operation: 1,
  permissionType: 1,
});
const aclCreation = (name: string, operation: number) => ({
  resourceType: 2,
  resourceName: name,
  resourcePatternType: 3,
  principal: 'User:alice',
  host: '*',
  operation,
  permissionType: 3,
});

t.test('ACL and reassignment APIs', async (t) => {
  const { client, port } = await startTestBroker(t);
  await createTopic(client, 'moved', 2);

  t.test('ApiVersions advertises Kafka 4 ranges: ACL APIs v1-3, reassignments v0', async (t) => {
    const r = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'handler-test', clientSoftwareVersion: '1' });
    const range = (apiKey: number) => {
      const k = r.apiKeys.find((x: any) => x.apiKey === apiKey);
      return k ? [k.minVersion, k.maxVersion] : null;
    };
    t.strictSame(range(ApiKey.DescribeAcls), [1, 3]);
    t.strictSame(range(ApiKey.CreateAcls), [1, 3]);
    t.strictSame(range(ApiKey.DeleteAcls), [1, 3]);
    t.strictSame(range(ApiKey.AlterPartitionReassignments), [0, 0]);
    t.strictSame(range(ApiKey.ListPartitionReassignments), [0, 0]);
  });

  for (const v of [1, 2, 3]) {
    t.test(`DescribeAcls v${v}: SECURITY_DISABLED, no resources`, async (t) => {
      const r = await client.request(ApiKey.DescribeAcls, v, aclFilter(v));
      t.equal(r.errorCode, ErrorCode.SECURITY_DISABLED);
      t.equal(r.errorCode, 54);
      t.equal(r.errorMessage, NO_AUTHORIZER);
      t.strictSame(plain(r.resources), []);
      t.equal(r.throttleTimeMs, 0);
    });

    t.test(`CreateAcls v${v}: one SECURITY_DISABLED result per creation, in order`, async (t) => {
      const r = await client.request(ApiKey.CreateAcls, v, {
        creations: [aclCreation('moved', 3), aclCreation('other', 4), aclCreation('*', 3)],
      });
      t.strictSame(plain(r.results), [
        { errorCode: 54, errorMessage: NO_AUTHORIZER },
        { errorCode: 54, errorMessage: NO_AUTHORIZER },
        { errorCode: 54, errorMessage: NO_AUTHORIZER },
      ]);
      const none = await client.request(ApiKey.CreateAcls, v, { creations: [] });
      t.strictSame(plain(none.results), [], 'no creations, no results');
    });

    t.test(`DeleteAcls v${v}: one SECURITY_DISABLED result per filter, no matching ACLs`, async (t) => {
      const r = await client.request(ApiKey.DeleteAcls, v, {
        filters: [aclFilter(v), { ...aclFilter(v), resourceNameFilter: 'moved', principalFilter: null }],
      });
      t.strictSame(plain(r.filterResults), [
        { errorCode: 54, errorMessage: NO_AUTHORIZER, matchingAcls: [] },
        { errorCode: 54, errorMessage: NO_AUTHORIZER, matchingAcls: [] },
      ]);
      const none = await client.request(ApiKey.DeleteAcls, v, { filters: [] });
      t.strictSame(plain(none.filterResults), [], 'no filters, no results');
    });
  }

  t.test('DescribeAcls v0 (removed in Kafka 4) is not served: the connection is closed', async (t) => {
    const other = await TestClient.connect(port);
    t.teardown(() => other.close());
    await t.rejects(other.request(ApiKey.DescribeAcls, 0, { ...aclFilter(0), patternTypeFilter: 3 }), /closed/);
  });

  t.test('ListPartitionReassignments v0: nothing is ever being reassigned', async (t) => {
    const all = await client.request(ApiKey.ListPartitionReassignments, 0, { timeoutMs: 1000, topics: null });
    t.strictSame([all.errorCode, all.errorMessage, all.topics], [ErrorCode.NONE, null, []], 'all topics');
    const named = await client.request(ApiKey.ListPartitionReassignments, 0, {
      timeoutMs: 1000,
      topics: [
        { name: 'moved', partitionIndexes: [0, 1, 7] },
        { name: 'gone', partitionIndexes: [0] },
      ],
    });
    t.strictSame([named.errorCode, named.errorMessage, named.topics], [ErrorCode.NONE, null, []], 'named, known and unknown topics alike');
  });

  t.test('AlterPartitionReassignments v0: nothing to reassign or cancel', async (t) => {
    const r = await client.request(ApiKey.AlterPartitionReassignments, 0, {
      timeoutMs: 1000,
      topics: [
        {
          name: 'moved',
          partitions: [
            { partitionIndex: 0, replicas: [1, 2] },
            { partitionIndex: 1, replicas: null },
            { partitionIndex: 1, replicas: [] },
            { partitionIndex: 2, replicas: [1] },
            { partitionIndex: -1, replicas: null },
          ],
        },
        {
          name: 'gone',
          partitions: [
            { partitionIndex: 0, replicas: [1] },
            { partitionIndex: 3, replicas: null },
          ],
        },
      ],
    });
    t.equal(r.errorCode, ErrorCode.NONE);
    t.equal(r.errorMessage, null);
    t.strictSame(plain(r.responses), [
      {
        name: 'moved',
        partitions: [
          { partitionIndex: 0, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: NO_REPLICAS },
          { partitionIndex: 1, errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, errorMessage: null },
          { partitionIndex: 1, errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: NO_REPLICAS },
          { partitionIndex: 2, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'Unable to find partition moved:2.' },
          { partitionIndex: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'Unable to find partition moved:-1.' },
        ],
      },
      {
        name: 'gone',
        partitions: [
          { partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'Unable to find a topic named gone.' },
          { partitionIndex: 3, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'Unable to find a topic named gone.' },
        ],
      },
    ]);
    t.equal(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 39);
    t.equal(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, 85);
    const empty = await client.request(ApiKey.AlterPartitionReassignments, 0, { timeoutMs: 1000, topics: [] });
    t.strictSame([empty.errorCode, empty.responses], [ErrorCode.NONE, []], 'an empty request');
  });
});
