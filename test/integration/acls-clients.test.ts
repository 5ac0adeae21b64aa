// ACLs end to end with real clients on a broker with the authorizer on. Every connection is User:ANONYMOUS until
// authentication exists, so the ACLs are ANONYMOUS's. The broker starts with allow.everyone.if.no.acl.found=true
// so that ANONYMOUS can set things up (a resource without ACLs is open); every resource the checks use has ACLs.
// kafkajs admin creates, describes and deletes the ACLs; kafkajs, confluent-kafka-python and the Java client
// are refused what the ACLs do not allow, with Kafka's errors.
import t from 'tap';
import kafkajs from 'kafkajs';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { JavaDriver, JavaError } from '../support/java-client.ts';
import { until } from '../support/until.ts';

const { AclResourceTypes: R, AclOperationTypes: O, AclPermissionTypes: P, ResourcePatternTypes: PT } = kafkajs;

t.setTimeout(240_000);

let b: BrokerProcess;
t.before(async () => {
  b = await startBroker(t, {
    sets: {
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': true,
      'auto.create.topics.enable': false,
    },
  });
});

const anon = 'User:ANONYMOUS';
const acl = (
  resourceType: number,
  resourceName: string,
  resourcePatternType: number,
  operation: number,
  permissionType: number = P.ALLOW,
  principal = anon,
) => ({
  resourceType,
  resourceName,
  resourcePatternType,
  principal,
  host: '*',
  operation,
  permissionType,
});

t.test('ACLs with real clients', async (t) => {
  const kafka = kafkajsClient(b.bootstrap, 'acl-it');
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  // Set-up while the resources have no ACL (open): topics and a record to consume.
  t.ok(await admin.createTopics({ topics: [{ topic: 'app-in' }, { topic: 'app-out' }, { topic: 'hidden' }] }));
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'app-in', messages: [{ value: 'hello' }] });

  await admin.createAcls({
    acl: [
      acl(R.CLUSTER, 'kafka-cluster', PT.LITERAL, O.ALL),
      acl(R.TOPIC, 'app-', PT.PREFIXED, O.READ),
      acl(R.GROUP, 'readers', PT.LITERAL, O.READ),
      acl(R.GROUP, 'others', PT.LITERAL, O.READ, P.ALLOW, 'User:bob'),
      // DESCRIBE (FindCoordinator) but not READ (JoinGroup).
      acl(R.GROUP, 'others', PT.LITERAL, O.DESCRIBE),
      acl(R.TOPIC, 'hidden', PT.LITERAL, O.ALL, P.ALLOW, 'User:bob'),
      acl(R.TRANSACTIONAL_ID, 'tx', PT.LITERAL, O.WRITE, P.ALLOW, 'User:bob'),
      // DESCRIBE (FindCoordinator) but not WRITE (InitProducerId).
      acl(R.TRANSACTIONAL_ID, 'tx', PT.LITERAL, O.DESCRIBE),
      acl(R.TOPIC, 'app-out', PT.LITERAL, O.WRITE),
      acl(R.TOPIC, 'app-o', PT.PREFIXED, O.WRITE, P.DENY),
    ],
  });

  await t.test('kafkajs admin: describeAcls, with a MATCH filter', async (t) => {
    const all = await admin.describeAcls({
      resourceType: R.ANY,
      resourcePatternType: PT.ANY,
      operation: O.ANY,
      permissionType: P.ANY,
    });
    t.equal(
      all.resources.reduce((n, r) => n + r.acls.length, 0),
      10,
    );
    const match = await admin.describeAcls({
      resourceType: R.TOPIC,
      resourceName: 'app-out',
      resourcePatternType: PT.MATCH,
      operation: O.ANY,
      permissionType: P.ANY,
    });
    t.strictSame(match.resources.map((r) => `${r.resourceName}/${r.resourcePatternType}`).sort(), [
      `app-/${PT.PREFIXED}`,
      `app-o/${PT.PREFIXED}`,
      `app-out/${PT.LITERAL}`,
    ]);
  });

  await t.test('kafkajs: READ on a prefix and no WRITE: consume yes, produce TOPIC_AUTHORIZATION_FAILED', async (t) => {
    const err = await producer.send({ topic: 'app-in', messages: [{ value: 'no' }] }).catch((e) => e);
    t.match(String(err?.type ?? err), /TOPIC_AUTHORIZATION_FAILED/);
    const consumer = kafka.consumer({ groupId: 'readers' });
    await consumer.connect();
    t.teardown(() => consumer.disconnect());
    await consumer.subscribe({ topic: 'app-in', fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void got.push(String(message.value)) });
    await until(() => got.length >= 1, 'the record consumed', 30_000);
    t.strictSame(got, ['hello']);
  });

  await t.test('kafkajs: a consumer without group READ gets GROUP_AUTHORIZATION_FAILED', async (t) => {
    const consumer = kafka.consumer({ groupId: 'others', retry: { retries: 0 } });
    await consumer.connect();
    t.teardown(() => consumer.disconnect());
    let crash: unknown = null;
    consumer.on(consumer.events.CRASH, (e) => (crash = e.payload.error));
    await consumer.subscribe({ topic: 'app-in', fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} }).catch((e) => (crash = e));
    await until(() => crash !== null, 'the consumer to fail', 30_000);
    t.match(String((crash as any).type ?? crash), /GROUP_AUTHORIZATION_FAILED/);
  });

  await t.test('kafkajs: Metadata hides topics; deny overrides allow; transactional id refused', async (t) => {
    const topics = await admin.listTopics();
    t.notOk(topics.includes('hidden'), 'hidden is not listed');
    t.ok(topics.includes('app-in'));
    const denied = await producer.send({ topic: 'app-out', messages: [{ value: 'x' }] }).catch((e) => e);
    t.match(String(denied?.type ?? denied), /TOPIC_AUTHORIZATION_FAILED/, 'ALLOW WRITE on app-out, DENY WRITE on app-o*');
    const txProducer = kafka.producer({ transactionalId: 'tx', maxInFlightRequests: 1, idempotent: true, retry: { retries: 1 } });
    await txProducer.connect();
    const err = await txProducer.transaction().catch((e) => e);
    await txProducer.disconnect().catch(() => {});
    t.match(String(err?.type ?? err), /TRANSACTIONAL_ID_AUTHORIZATION_FAILED/);
  });

  await t.test('confluent-kafka-python: produce refused with TOPIC_AUTHORIZATION_FAILED', async (t) => {
    const r = await pythonClient(
      'confluent_client.py',
      { op: 'produce', bootstrap: b.bootstrap, topic: 'app-in', records: [{ v: 'x' }] },
      { timeoutMs: 60_000 },
    );
    if (r.code !== 0) t.fail(describeRun(r));
    const lines = jsonLines(r.stdout) as any[];
    t.equal(lines.find((l) => l.i === 0)?.err, 'TOPIC_AUTHORIZATION_FAILED');
  });

  await t.test('Java client: produce refused (TopicAuthorizationException), hidden topic not listed', async (t) => {
    const java = await JavaDriver.start(t);
    await java.call('producer.create', {
      name: 'p',
      config: { 'bootstrap.servers': b.bootstrap, 'max.block.ms': 10000, 'delivery.timeout.ms': 15000, 'request.timeout.ms': 10000 },
    });
    const err = await java.call('producer.send', { name: 'p', topic: 'app-in', records: [{ value: 'x' }] }).catch((e) => e);
    t.ok(err instanceof JavaError, 'send fails');
    t.match((err as JavaError).javaClass + (err as JavaError).javaMessage, /TopicAuthorization/);
    await java.call('admin.create', { name: 'a', config: { 'bootstrap.servers': b.bootstrap } });
    const listed = await java.call<any>('admin.listTopics', { name: 'a' });
    t.notMatch(JSON.stringify(listed), /hidden/);
    const created = await java.call<any[]>('admin.createAcls', {
      name: 'a',
      acls: [
        {
          resourceType: 'TOPIC',
          name: 'java-',
          patternType: 'PREFIXED',
          principal: 'User:carol',
          host: '*',
          operation: 'READ',
          permission: 'ALLOW',
        },
        {
          resourceType: 'CLUSTER',
          name: 'not-the-cluster',
          patternType: 'LITERAL',
          principal: 'User:carol',
          host: '*',
          operation: 'ALTER',
          permission: 'ALLOW',
        },
      ],
    });
    t.strictSame(created[0], {});
    t.match(created[1].error, /InvalidRequestException/);
    const described = await java.call<any[]>('admin.describeAcls', { name: 'a', filter: { principal: 'User:carol' } });
    t.strictSame(described, [
      {
        resourceType: 'TOPIC',
        name: 'java-',
        patternType: 'PREFIXED',
        principal: 'User:carol',
        host: '*',
        operation: 'READ',
        permission: 'ALLOW',
      },
    ]);
    const deleted = await java.call<any[]>('admin.deleteAcls', { name: 'a', filters: [{ principal: 'User:carol' }] });
    t.equal(deleted[0].length, 1);
  });

  await t.test('kafkajs admin: deleteAcls; the topic opens again', async (t) => {
    const r = await admin.deleteAcls({
      filters: [
        { resourceType: R.TOPIC, resourceName: 'app-o', resourcePatternType: PT.PREFIXED, operation: O.ANY, permissionType: P.ANY },
      ],
    });
    t.equal(r.filterResponses[0]!.matchingAcls.length, 1);
    await producer.send({ topic: 'app-out', messages: [{ value: 'now allowed' }] });
    t.pass('produced once the DENY is gone');
  });
  await t.test('kafkajs: a transaction with every ACL it needs commits', async (t) => {
    await admin.createAcls({
      acl: [
        acl(R.TRANSACTIONAL_ID, 'tx-ok', PT.LITERAL, O.WRITE),
        acl(R.TRANSACTIONAL_ID, 'tx-ok', PT.LITERAL, O.DESCRIBE),
        acl(R.TOPIC, 'app-txn', PT.LITERAL, O.WRITE),
      ],
    });
    t.ok(await admin.createTopics({ topics: [{ topic: 'app-txn' }] }));
    const tx = kafka.producer({ transactionalId: 'tx-ok', maxInFlightRequests: 1, idempotent: true });
    await tx.connect();
    t.teardown(() => tx.disconnect());
    const txn = await tx.transaction();
    await txn.send({ topic: 'app-txn', messages: [{ value: 'in a transaction' }] });
    await txn.sendOffsets({ consumerGroupId: 'readers', topics: [{ topic: 'app-in', partitions: [{ partition: 0, offset: '1' }] }] });
    await txn.commit();
    t.pass('committed: AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn were authorized');
  });
});

t.test('super users bypass the ACLs', async (t) => {
  const su = await startBroker(t, {
    sets: {
      'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer',
      'super.users': 'User:admin;User:ANONYMOUS',
    },
  });
  const kafka = kafkajsClient(su.bootstrap, 'acl-su');
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.ok(await admin.createTopics({ topics: [{ topic: 'denied-to-all' }] }));
  await admin.createAcls({ acl: [acl(R.TOPIC, '*', PT.LITERAL, O.ALL, P.DENY, 'User:*')] });
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const r = await producer.send({ topic: 'denied-to-all', messages: [{ value: 'still' }] });
  t.equal(r[0]!.errorCode, 0, 'a DENY ALL for User:* does not stop a super user');
});
