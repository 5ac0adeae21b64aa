// Authorization through the in-process broker (authorizer.class.name set): the ACL APIs, and what each API
// checks. Requests over the wire come from User:ANONYMOUS (no authentication yet); the ACLs the tests start from
// are written through the broker's services, and another principal's requests go through the handler table with
// a hand-built context (asPrincipal).
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { buildHandlerTable } from '../../../broker/handlers/index.ts';
import { AUTHORIZATION, AUTHORIZATION_PENDING } from '../../../broker/handlers/authorization.ts';
import type { RequestContext } from '../../../broker/handlers/context.ts';
import type { RunningBroker } from '../../../broker/broker.ts';
import { createAcls } from '../../../broker/security/acl-admin.ts';
import { AclOperation as Op, AclPermission as Perm, PatternType, ResourceType as Res } from '../../../broker/security/acl.ts';
import type { KafkaPrincipal } from '../../../broker/security/principal.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const STANDARD = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';
const plain = (v: unknown): any => JSON.parse(JSON.stringify(v));

async function grant(broker: RunningBroker, ...acls: [number, number, string, string, number, number?][]): Promise<void> {
  const outcomes = await createAcls(
    broker.services.authorizer!,
    acls.map(([resourceType, patternType, resourceName, principal, operation, permission]) => ({
      resourceType,
      patternType,
      resourceName,
      principal,
      host: '*',
      operation,
      permission: permission ?? Perm.ALLOW,
    })),
  );
  if (outcomes.some((o) => o !== null)) throw new Error(`granting: ${JSON.stringify(outcomes)}`);
}

/** A request of `principal` through the broker's handler table, as the connection would hand it (a test seam). */
async function asPrincipal(
  broker: RunningBroker,
  principal: KafkaPrincipal,
  apiKey: number,
  apiVersion: number,
  body: unknown,
): Promise<any> {
  const handler = buildHandlerTable()[apiKey]!;
  const ctx: RequestContext = {
    services: broker.services,
    header: { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId: 1, clientId: 'test' } as RequestContext['header'],
    apiVersion,
    clientAddress: '127.0.0.1:40000',
    principal,
    listenerName: 'PLAINTEXT',
    sasl: null,
    signal: new AbortController().signal,
    applied: () => {},
    throttle: () => {},
  };
  return handler.handle(ctx, body);
}

function produceBody(topic: string, transactionalId: string | null = null) {
  return {
    transactionalId,
    acks: -1,
    timeoutMs: 10000,
    topicData: [
      {
        name: topic,
        partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('v'), timestampMs: Date.now() }]) }],
      },
    ],
  };
}

function fetchBody(topic: string) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      { topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

const metadataBody = (topics: string[] | null) => ({
  topics: topics === null ? null : topics.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })),
  allowAutoTopicCreation: false,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: true,
});

t.test('every API the broker serves has an entry in the authorization table', async (t) => {
  const served = buildHandlerTable()
    .map((h, key) => (h ? key : -1))
    .filter((k) => k >= 0);
  t.strictSame(
    served.filter((k) => AUTHORIZATION[k] === undefined),
    [],
  );
  t.strictSame(
    Object.keys(AUTHORIZATION)
      .map(Number)
      .filter((k) => !served.includes(k) && !AUTHORIZATION_PENDING.has(k)),
    [],
    'no entry for an API not served',
  );
});

t.test('with an authorizer', async (t) => {
  const { broker, client } = await startTestBroker(t, { 'authorizer.class.name': STANDARD, 'super.users': 'User:admin' });
  const admin: KafkaPrincipal = { type: 'User', name: 'admin' };
  const alice: KafkaPrincipal = { type: 'User', name: 'alice' };
  // The topics exist before any ACL: created by the super user.
  for (const name of ['app-in', 'app-out', 'secret'])
    t.equal(
      (
        await asPrincipal(broker, admin, ApiKey.CreateTopics, 7, {
          topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
          timeoutMs: 10000,
          validateOnly: false,
        })
      ).topics[0].errorCode,
      0,
    );

  await t.test('no ACL at all: ANONYMOUS may do nothing (allow.everyone.if.no.acl.found=false)', async (t) => {
    const r = await client.request(ApiKey.CreateAcls, 3, { creations: [] });
    t.equal(r.results.length, 0);
    const d = await client.request(ApiKey.DescribeAcls, 3, aclFilter());
    t.equal(d.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const p = await client.request(ApiKey.Produce, 9, produceBody('app-in'));
    t.equal(p.responses[0].partitionResponses[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const m = await client.request(ApiKey.Metadata, 12, metadataBody(null));
    t.strictSame(plain(m.topics), [], 'Metadata lists no topic');
    await t.rejects(createTopic(client, 'new-topic'), /error 29/, 'CreateTopics: TOPIC_AUTHORIZATION_FAILED');
  });

  await grant(
    broker,
    [Res.CLUSTER, PatternType.LITERAL, 'kafka-cluster', 'User:ANONYMOUS', Op.ALTER],
    [Res.CLUSTER, PatternType.LITERAL, 'kafka-cluster', 'User:ANONYMOUS', Op.DESCRIBE],
  );

  await t.test('CreateAcls, DescribeAcls, DeleteAcls, every version', async (t) => {
    for (const v of [1, 2, 3]) {
      const name = `v${v}-`;
      const c = await client.request(ApiKey.CreateAcls, v, {
        creations: [
          creation(Res.TOPIC, name, PatternType.PREFIXED, 'User:bob', Op.READ),
          creation(Res.GROUP, `${name}g`, PatternType.LITERAL, 'User:bob', Op.READ),
          creation(Res.ANY, 'x', PatternType.LITERAL, 'User:bob', Op.READ),
          creation(Res.TOPIC, 'x', PatternType.LITERAL, 'bob', Op.READ),
          creation(Res.TOPIC, 'x', PatternType.MATCH, 'User:bob', Op.READ),
          creation(Res.CLUSTER, 'x', PatternType.LITERAL, 'User:bob', Op.ALTER),
        ],
      });
      t.strictSame(
        c.results.map((r: any) => r.errorCode),
        [0, 0, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
        `v${v} create`,
      );
      // Kafka's messages (checked against Apache Kafka 4.4 with its StandardAuthorizer).
      t.strictSame(
        c.results.map((r: any) => r.errorMessage),
        [
          '',
          '',
          'Invalid resourceType ANY',
          'Could not parse principal from `bob` (no colon is present separating the principal type from the principal name)',
          'Invalid patternType MATCH',
          'The only valid name for the CLUSTER resource is kafka-cluster',
        ],
      );
      const d = await client.request(ApiKey.DescribeAcls, v, {
        ...aclFilter(),
        principalFilter: 'User:bob',
        patternTypeFilter: PatternType.MATCH,
        resourceNameFilter: `${name}topic`,
        resourceTypeFilter: Res.TOPIC,
      });
      t.equal(d.errorCode, 0);
      t.strictSame(
        plain(d.resources)
          .map((r: any) => ({ ...r, acls: r.acls.map((a: any) => ({ ...a, _tagged: undefined })) }))
          .map((r: any) => [r.resourceType, r.resourceName, r.patternType, r.acls.length]),
        [[Res.TOPIC, name, PatternType.PREFIXED, 1]],
        `v${v} describe MATCH finds the prefix ACL`,
      );
      const del = await client.request(ApiKey.DeleteAcls, v, {
        filters: [
          { ...aclFilter(), principalFilter: 'User:bob', resourceNameFilter: null },
          { ...aclFilter(), resourceTypeFilter: 0 },
        ],
      });
      t.equal(del.filterResults[0].errorCode, 0);
      t.equal(del.filterResults[0].matchingAcls.length, 2, `v${v} delete: both of bob's ACLs`);
      t.equal(del.filterResults[1].errorCode, ErrorCode.INVALID_REQUEST, 'UNKNOWN resource type in a filter');
      const after = await client.request(ApiKey.DescribeAcls, v, { ...aclFilter(), principalFilter: 'User:bob' });
      t.strictSame(plain(after.resources), []);
    }
    const bad = await client.request(ApiKey.DescribeAcls, 3, { ...aclFilter(), operation: 0 });
    t.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    const denied = await asPrincipal(broker, alice, ApiKey.CreateAcls, 3, {
      creations: [creation(Res.TOPIC, 'x', PatternType.LITERAL, 'User:alice', Op.ALL)],
    });
    t.equal(denied.results[0].errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'alice has no ALTER on the cluster');
  });

  await t.test('READ on a prefix and no WRITE: consume yes, produce no; Metadata hides the rest', async (t) => {
    await grant(broker, [Res.TOPIC, PatternType.PREFIXED, 'app-', 'User:ANONYMOUS', Op.READ]);
    const p = await client.request(ApiKey.Produce, 9, produceBody('app-in'));
    t.equal(p.responses[0].partitionResponses[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    await asPrincipal(broker, admin, ApiKey.Produce, 9, produceBody('app-in'));
    const f = await client.request(ApiKey.Fetch, 11, fetchBody('app-in'));
    t.equal(f.responses[0].partitions[0].errorCode, 0);
    t.ok(f.responses[0].partitions[0].records.length > 0, 'the record the super user produced');
    const fs = await client.request(ApiKey.Fetch, 11, fetchBody('secret'));
    t.equal(fs.responses[0].partitions[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const m = await client.request(ApiKey.Metadata, 12, metadataBody(null));
    t.strictSame(m.topics.map((x: any) => x.name).sort(), ['app-in', 'app-out'], 'secret is left out');
    t.equal(m.topics[0].topicAuthorizedOperations, (1 << Op.READ) | (1 << Op.DESCRIBE));
    const named = await client.request(ApiKey.Metadata, 12, metadataBody(['secret', 'app-out']));
    const byName = Object.fromEntries(named.topics.map((x: any) => [x.name, x.errorCode]));
    t.strictSame(byName, { secret: ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'app-out': 0 });
    const lo = await client.request(ApiKey.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: 'app-in', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] },
        { name: 'secret', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] },
      ],
    });
    t.strictSame(
      lo.topics.map((x: any) => [x.name, x.partitions[0].errorCode]),
      [
        ['app-in', 0],
        ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
  });

  await t.test('deny overrides allow', async (t) => {
    await grant(broker, [Res.TOPIC, PatternType.LITERAL, 'app-out', 'User:ANONYMOUS', Op.READ, Perm.DENY]);
    const f = await client.request(ApiKey.Fetch, 11, fetchBody('app-out'));
    t.equal(f.responses[0].partitions[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  await t.test('groups: JoinGroup and OffsetCommit need GROUP READ', async (t) => {
    const join = (groupId: string) =>
      client.request(ApiKey.JoinGroup, 5, {
        groupId,
        sessionTimeoutMs: 10000,
        rebalanceTimeoutMs: 5000,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
      });
    t.equal((await join('g1')).errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const fc = await client.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g1'] });
    t.equal(fc.coordinators[0].errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
    await grant(broker, [Res.GROUP, PatternType.LITERAL, 'g1', 'User:ANONYMOUS', Op.READ]);
    t.equal((await join('g1')).errorCode, ErrorCode.MEMBER_ID_REQUIRED, 'authorized: the ordinary first answer');
    const oc = await client.request(ApiKey.OffsetCommit, 8, {
      groupId: 'g2',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        { name: 'app-in', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] },
      ],
    });
    t.equal(oc.topics[0].partitions[0].errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  await t.test('transactions and idempotence', async (t) => {
    const init = (transactionalId: string | null) =>
      client.request(ApiKey.InitProducerId, 4, { transactionalId, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
    t.equal((await init('tx1')).errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    t.equal((await init(null)).errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'no IDEMPOTENT_WRITE and no WRITE on any topic');
    await grant(broker, [Res.TOPIC, PatternType.LITERAL, 'app-out', 'User:ANONYMOUS', Op.WRITE]);
    t.equal((await init(null)).errorCode, 0, 'WRITE on some topic is enough for an idempotent producer');
    const p = await client.request(ApiKey.Produce, 9, produceBody('app-out', 'tx1'));
    t.equal(p.responses[0].partitionResponses[0].errorCode, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  });

  await t.test('authorized operations are the principal’s', async (t) => {
    const dc = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    t.equal(dc.clusterAuthorizedOperations, (1 << Op.ALTER) | (1 << Op.DESCRIBE));
    const su = await asPrincipal(broker, admin, ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    t.equal(
      su.clusterAuthorizedOperations,
      [5, 7, 8, 9, 10, 11, 12].reduce((m, op) => m | (1 << op), 0),
    );
  });

  await t.test('decisions are counted on /metrics', async (t) => {
    const text = await broker.metrics.registry.metrics();
    t.match(text, /skafos_authorizer_decisions_total\{result="allow"\} [1-9]/);
    t.match(text, /skafos_authorizer_decisions_total\{result="deny"\} [1-9]/);
  });
});

function aclFilter() {
  return {
    resourceTypeFilter: Res.ANY,
    resourceNameFilter: null,
    patternTypeFilter: PatternType.ANY,
    principalFilter: null,
    hostFilter: null,
    operation: Op.ANY,
    permissionType: Perm.ANY,
  };
}

function creation(resourceType: number, resourceName: string, resourcePatternType: number, principal: string, operation: number) {
  return { resourceType, resourceName, resourcePatternType, principal, host: '*', operation, permissionType: Perm.ALLOW };
}

export type { TestClient };
