// Every refusal the authorization table builds is a response the codec can encode, for every version of every
// API: each API is sent, at each version, a request naming a topic, a group and a transactional id, by a
// principal with no ACL at all, and must be answered (an encoding failure would close the connection).
import t from 'tap';
import { ApiKey, apiCodecs } from '../../../broker/protocol/generated/index.ts';
import { buildHandlerTable } from '../../../broker/handlers/index.ts';
import { AUTHORIZATION, AUTHORIZATION_PENDING } from '../../../broker/handlers/authorization.ts';
import type { RequestContext } from '../../../broker/handlers/context.ts';
import { encodeResponse } from '../../../broker/protocol/frame.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { Authorizer } from '../../../broker/security/authorizer.ts';
import { ANONYMOUS } from '../../../broker/security/principal.ts';
import { startTestBroker, TestClient } from './support/client.ts';

const zeroUuid = 'AAAAAAAAAAAAAAAAAAAAAA';
const topic = { name: 't', topic: 't', topicId: zeroUuid, partitions: [], partitionIndexes: [0] };

function body(apiKey: number): Record<string, unknown> {
  const common = {
    groupId: 'g',
    transactionalId: 'tx',
    key: 'g',
    v3AndBelowTransactionalId: 'tx',
    v3AndBelowTopics: [{ name: 't', partitions: [0] }],
    coordinatorKeys: ['g'],
    groupIds: ['g'],
    groupsNames: ['g'],
    transactionalIds: ['tx'],
    topicNames: ['t'],
    subscribedTopicNames: ['t'],
    resources: [{ resourceType: 2, resourceName: 't', configs: [] }],
    creations: [
      { resourceType: 2, resourceName: 't', resourcePatternType: 3, principal: 'User:a', host: '*', operation: 3, permissionType: 3 },
    ],
    filters: [
      {
        resourceTypeFilter: 1,
        resourceNameFilter: null,
        patternTypeFilter: 1,
        principalFilter: null,
        hostFilter: null,
        operation: 1,
        permissionType: 1,
      },
    ],
    resourceTypeFilter: 1,
    patternTypeFilter: 1,
    operation: 1,
    permissionType: 1,
    topics: [topic],
    markers: [
      { producerId: 1, producerEpoch: 0, transactionResult: true, topics: [{ name: 't', partitionIndexes: [0] }], coordinatorEpoch: 0 },
    ],
    topicPartitions: [{ topic: 't', partitions: [0] }],
    groups: ['g'],
    transactions: [{ transactionalId: 'tx', producerId: 1, producerEpoch: 0, verifyOnly: true, topics: [{ name: 't', partitions: [0] }] }],
    includeAuthorizedOperations: true,
    includeClusterAuthorizedOperations: true,
    includeTopicAuthorizedOperations: true,
    replicaId: -1,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    memberId: '',
    sessionTimeoutMs: 10000,
    rebalanceTimeoutMs: 10000,
    timeoutMs: 1000,
  };
  switch (apiKey) {
    case ApiKey.Produce:
      return { ...common, acks: -1, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] };
    case ApiKey.Fetch:
      return {
        ...common,
        topics: [{ topic: 't', topicId: zeroUuid, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 }] }],
        maxWaitMs: 0,
      };
    case ApiKey.OffsetFetch:
      return {
        ...common,
        groups: [{ groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] }],
        topics: [{ name: 't', partitionIndexes: [0] }],
      };
    case ApiKey.OffsetCommit:
    case ApiKey.TxnOffsetCommit:
    case ApiKey.ListOffsets:
    case ApiKey.DeleteRecords:
    case ApiKey.OffsetDelete:
      return { ...common, topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }] };
    case ApiKey.OffsetForLeaderEpoch:
      return { ...common, topics: [{ topic: 't', partitions: [{ partition: 0 }] }] };
    case ApiKey.CreateTopics:
      return { ...common, topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }] };
    case ApiKey.CreatePartitions:
      return { ...common, topics: [{ name: 't', count: 2, assignments: null }] };
    case ApiKey.FindCoordinator:
      return { ...common, keyType: 0 };
    case ApiKey.DescribeTopicPartitions:
      return { ...common, topics: [{ name: 't' }] };
    default:
      return common;
  }
}

t.test('refusals encode at every version', async (t) => {
  const { port } = await startTestBroker(t, { 'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer' });
  const table = buildHandlerTable();
  for (const h of table) {
    if (!h || h.apiKey === ApiKey.ApiVersions) continue;
    const codec = apiCodecs[h.apiKey]!;
    for (let v = h.minVersion; v <= h.maxVersion; v++) {
      const client = await TestClient.connect(port);
      try {
        // Fields the version cannot carry are dropped until the request encodes.
        const b = body(h.apiKey);
        let sent: Promise<unknown> | null = null;
        for (let attempt = 0; sent === null && attempt < 20; attempt++) {
          try {
            sent = client.request(h.apiKey, v, b);
          } catch (e) {
            const m = /^\w+Request\.(\w+) has a non-default value/.exec((e as Error).message);
            if (!m) break;
            delete b[m[1]![0]!.toLowerCase() + m[1]!.slice(1)];
          }
        }
        if (sent === null) {
          t.comment(`${codec.name} v${v}: the test's request does not encode`);
          continue;
        }
        await sent.then(
          () => t.pass(`${codec.name} v${v} answered`),
          (e: Error) => t.fail(`${codec.name} v${v}: ${e.message}`),
        );
      } finally {
        client.close();
      }
    }
  }
});

t.test('refusals of the APIs authentication will serve encode at every version', async (t) => {
  const az = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: false, logger: silentLogger() });
  for (const apiKey of AUTHORIZATION_PENDING) {
    const rule = AUTHORIZATION[apiKey]!;
    if (!rule.check) continue;
    const codec = apiCodecs[apiKey]!;
    for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
      const ctx = { principal: ANONYMOUS, clientAddress: '127.0.0.1:1', apiVersion: v } as RequestContext;
      const req = { users: [{ name: 'alice' }], deletions: [{ name: 'alice', mechanism: 1 }], upsertions: [] };
      const verdict = rule.check(az, ctx, req);
      t.ok(verdict && 'respond' in verdict, `${codec.name} v${v} refused`);
      if (verdict && 'respond' in verdict)
        t.doesNotThrow(() => encodeResponse(apiKey, v, 1, verdict.respond), `${codec.name} v${v} encodes`);
    }
  }
});
