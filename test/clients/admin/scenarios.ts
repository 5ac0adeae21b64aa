// Admin client scenarios run against any single broker given by its bootstrap address: an in-process Skafos
// broker (admin-skafos.test.ts) and Apache Kafka 4.4 (admin-apache-kafka.test.ts), so what they assert is what
// Kafka does and Skafos must do.
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { AdminClient, AdminKafkaError } from '../../../clients/admin/index.ts';
import { JavaDriver } from '../../support/java-client.ts';
import { kafkajsClient } from '../../support/js-clients.ts';
import { until } from '../../support/until.ts';

export interface AdminScenario {
  name: string;
  run: (t: Test, bootstrap: string) => Promise<void>;
}

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

function client(t: Test, bootstrap: string): AdminClient {
  const admin = new AdminClient({ bootstrap, clientId: 'admin-scenarios', limits: { defaultApiTimeoutMs: 30_000 } });
  t.teardown(() => admin.close());
  return admin;
}

export const adminScenarios: AdminScenario[] = [
  {
    name: 'describeCluster and listTopics',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const cluster = await admin.describeCluster();
      t.type(cluster.clusterId, 'string');
      t.equal(cluster.brokers.length, 1);
      t.equal(`${cluster.brokers[0]!.host}:${cluster.brokers[0]!.port}`, bootstrap);
      const topic = unique('listed');
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      t.ok((await admin.listTopics()).includes(topic), 'the new topic is listed');
      t.notOk((await admin.listTopics()).includes('__consumer_offsets'), 'internal topics only when asked');
    },
  },
  {
    name: 'topics: create, describe with configs, add partitions, delete; per-topic errors',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('topic');
      const created = await admin.createTopics([
        { name: topic, partitions: 2, replicationFactor: 1, configs: { 'retention.ms': '3600000' } },
        { name: unique('badconfig'), partitions: 1, configs: { 'retention.ms': 'not-a-number' } },
        { name: unique('badpartitions'), partitions: 0 },
      ]);
      t.equal(created[0]!.error, null);
      t.match(created[0]!.topicId, /^[A-Za-z0-9_-]{22}$/);
      t.equal(created[1]!.error?.errorName, 'INVALID_CONFIG');
      t.equal(created[2]!.error?.errorName, 'INVALID_PARTITIONS');
      const again = await admin.createTopics([{ name: topic, partitions: 2 }]);
      t.equal(again[0]!.error?.errorName, 'TOPIC_ALREADY_EXISTS');
      t.ok(again[0]!.error instanceof AdminKafkaError);
      t.equal(again[0]!.error?.code, 36);

      const missing = unique('missing');
      const [described, unknown] = await admin.describeTopics([topic, missing], { includeConfigs: true });
      t.equal(described!.error, null);
      t.equal(described!.topicId, created[0]!.topicId);
      t.same(
        described!.partitions.map((p) => p.partition),
        [0, 1],
      );
      t.ok(described!.partitions.every((p) => p.leaderId >= 0 && p.leaderEpoch >= 0));
      const retention = described!.configs!.find((c) => c.name === 'retention.ms');
      t.equal(retention?.value, '3600000');
      t.equal(retention?.source, 'DYNAMIC_TOPIC_CONFIG');
      t.equal(unknown!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');

      const [raised] = await admin.createPartitions([{ topic, count: 4 }]);
      t.equal(raised!.error, null);
      const [lowered] = await admin.createPartitions([{ topic, count: 1 }]);
      t.equal(lowered!.error?.errorName, 'INVALID_PARTITIONS');
      // Apache Kafka's brokers learn new partitions from the controller a moment later: wait for them in metadata.
      await until(async () => (await admin.describeTopics([topic]))[0]!.partitions.length === 4, 'four partitions in metadata', 10_000);

      const deleted = await admin.deleteTopics([topic, missing]);
      t.equal(deleted.find((d) => d.name === topic)?.error, null);
      t.equal(deleted.find((d) => d.name === missing)?.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');
      t.notOk((await admin.listTopics()).includes(topic));
    },
  },
  {
    name: 'configs: describe and incrementally alter topic, broker and group configs',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('configs');
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      const altered = await admin.incrementalAlterConfigs([
        {
          type: 'TOPIC',
          name: topic,
          configs: [
            { name: 'retention.ms', value: '7200000' },
            { name: 'cleanup.policy', op: 'SET', value: 'compact' },
          ],
        },
      ]);
      t.same(altered, [{ type: 'TOPIC', name: topic, error: null }]);
      // Apache Kafka applies a change from its metadata log a moment after answering: wait for it.
      const describeTopic = async (keys: string[]) => (await admin.describeConfigs([{ type: 'TOPIC', name: topic }], { keys }))[0]!;
      await until(async () => (await describeTopic(['retention.ms'])).configs[0]?.value === '7200000', 'the altered config', 10_000);
      let d = await describeTopic(['retention.ms', 'cleanup.policy', 'segment.bytes']);
      const byName = (n: string) => d!.configs.find((c) => c.name === n);
      t.equal(byName('retention.ms')?.value, '7200000');
      t.equal(byName('cleanup.policy')?.value, 'compact');
      t.equal(byName('segment.bytes')?.isDefault, true);

      await admin.incrementalAlterConfigs([{ type: 'TOPIC', name: topic, configs: [{ name: 'retention.ms', op: 'DELETE' }] }]);
      await until(
        async () => (await describeTopic(['retention.ms'])).configs[0]?.source === 'DEFAULT_CONFIG',
        'the deleted config',
        10_000,
      );
      d = await describeTopic(['retention.ms']);
      t.equal(d!.configs[0]?.value, '604800000', 'back to the default');
      t.equal(d!.configs[0]?.source, 'DEFAULT_CONFIG');

      const [bad] = await admin.incrementalAlterConfigs([
        { type: 'TOPIC', name: topic, configs: [{ name: 'retention.ms', value: 'soon' }] },
      ]);
      t.equal(bad!.error?.errorName, 'INVALID_CONFIG');
      const [unknownTopic] = await admin.describeConfigs([{ type: 'TOPIC', name: unique('nope') }]);
      t.equal(unknownTopic!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');

      const { brokers } = await admin.describeCluster();
      const [broker] = await admin.describeConfigs([{ type: 'BROKER', name: String(brokers[0]!.nodeId) }], { keys: ['num.partitions'] });
      t.equal(broker!.error, null);
      t.equal(broker!.configs[0]?.name, 'num.partitions');

      const group = unique('group');
      const [g] = await admin.incrementalAlterConfigs([
        { type: 'GROUP', name: group, configs: [{ name: 'consumer.session.timeout.ms', value: '50000' }] },
      ]);
      t.equal(g!.error, null);
      const groupTimeout = async () =>
        (await admin.describeConfigs([{ type: 'GROUP', name: group }], { keys: ['consumer.session.timeout.ms'] }))[0]!.configs[0]?.value;
      await until(async () => (await groupTimeout()) === '50000', 'the group config', 10_000);
      t.equal(await groupTimeout(), '50000');
    },
  },
  {
    name: 'offsets and records: produce, list offsets, topic offsets, read, delete records',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('offsets');
      await admin.createTopics([{ name: topic, partitions: 2 }]);
      const t0 = Date.now() - 60_000;
      const produced = await admin.produce(topic, 0, [
        { key: 'k0', value: 'v0', timestampMs: t0 },
        { key: 'k1', value: 'v1', timestampMs: t0 + 1000, headers: [{ key: 'h', value: 'x' }] },
        { key: null, value: 'v2', timestampMs: t0 + 5000 },
        { key: 'k3', value: null, timestampMs: t0 + 2000 },
      ]);
      t.equal(produced.baseOffset, 0);
      const listed = await admin.listOffsets([
        { topic, partition: 0, spec: 'earliest' },
        { topic, partition: 0, spec: 'latest' },
        { topic, partition: 0, spec: 'max-timestamp' },
        { topic, partition: 0, spec: { timestampMs: t0 + 500 } },
        { topic, partition: 1, spec: 'latest' },
        { topic, partition: 9, spec: 'latest' },
      ]);
      t.same(
        listed.map((l) => l.offset),
        [0, 4, 2, 1, 0, -1],
      );
      t.equal(listed[2]!.timestampMs, t0 + 5000);
      t.equal(listed[5]!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');

      const page = await admin.topicOffsets(topic);
      t.same(
        page.map((p) => [p.partition, p.logStartOffset, p.highWatermark, p.lastStableOffset, p.error]),
        [
          [0, 0, 4, 4, null],
          [1, 0, 0, 0, null],
        ],
      );

      const read = await admin.readMessages(topic, 0, { from: { offset: 1 }, maxRecords: 2 });
      t.same(
        read.messages.map((m) => [m.offset, m.key?.toString() ?? null, m.value?.toString() ?? null]),
        [
          [1, 'k1', 'v1'],
          [2, null, 'v2'],
        ],
      );
      t.same(read.messages[0]!.headers, [{ key: 'h', value: Buffer.from('x') }]);
      t.equal(read.messages[0]!.timestampMs, t0 + 1000);
      t.equal(read.nextOffset, 3);
      t.equal(read.highWatermark, 4);
      const byTime = await admin.readMessages(topic, 0, { from: { timestampMs: t0 + 1500 }, maxRecords: 10 });
      t.same(
        byTime.messages.map((m) => m.offset),
        [2, 3],
      );
      t.equal(byTime.messages[1]!.value, null);
      const small = await admin.readMessages(topic, 0, { from: 'earliest', maxRecords: 10, maxBytes: 1 });
      t.ok(small.messages.length >= 1 && small.bytesRead < 1000, 'the byte bound stops the read after the first response');

      const [deleted] = await admin.deleteRecords([{ topic, partition: 0, offset: 2 }]);
      t.same(deleted, { topic, partition: 0, lowWatermark: 2, error: null });
      t.equal((await admin.topicOffsets(topic))[0]!.logStartOffset, 2);
      const [beyond] = await admin.deleteRecords([{ topic, partition: 0, offset: 100 }]);
      t.equal(beyond!.error?.errorName, 'OFFSET_OUT_OF_RANGE');
    },
  },
  {
    name: 'groups: alter, list and delete committed offsets, lag, list, describe, delete',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('grouped');
      const group = unique('group');
      await admin.createTopics([{ name: topic, partitions: 2 }]);
      await admin.produce(topic, 0, [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
      await admin.produce(topic, 1, [{ value: 'd' }]);
      const committed = await admin.alterConsumerGroupOffsets(group, [
        { topic, partition: 0, offset: 1, metadata: 'm' },
        { topic, partition: 1, offset: 1 },
      ]);
      t.same(
        committed.map((c) => c.error),
        [null, null],
      );
      const offsets = await admin.listConsumerGroupOffsets(group);
      t.same(
        offsets.map((o) => [o.topic, o.partition, o.offset, o.metadata]),
        [
          [topic, 0, 1, 'm'],
          [topic, 1, 1, ''],
        ],
      );
      const lag = await admin.consumerGroupLag(group);
      t.equal(lag.totalLag, 2);
      t.same(
        lag.partitions.map((p) => [p.partition, p.committedOffset, p.endOffset, p.lag]),
        [
          [0, 1, 3, 2],
          [1, 1, 1, 0],
        ],
      );

      const listed = await admin.listGroups();
      const mine = listed.find((g) => g.groupId === group);
      t.equal(mine?.state, 'Empty');
      const [described] = await admin.describeGroups([group]);
      t.equal(described!.error, null);
      t.equal(described!.state, 'Empty');
      t.equal(described!.type, 'classic');
      t.same(described!.members, []);

      const removed = await admin.deleteConsumerGroupOffsets(group, [{ topic, partition: 1 }]);
      t.same(removed, [{ topic, partition: 1, error: null }]);
      t.same(
        (await admin.listConsumerGroupOffsets(group)).map((o) => o.partition),
        [0],
      );

      const unknownGroup = unique('nogroup');
      const [gone, notThere] = await admin.deleteGroups([group, unknownGroup]);
      t.same(gone, { groupId: group, error: null });
      t.equal(notThere!.error?.errorName, 'GROUP_ID_NOT_FOUND');
      t.notOk((await admin.listGroups()).some((g) => g.groupId === group));
      const [dead] = await admin.describeGroups([unknownGroup]);
      t.ok(dead!.state === 'Dead' || dead!.error?.errorName === 'GROUP_ID_NOT_FOUND', `unknown group: ${dead!.state} ${dead!.error}`);
    },
  },
  {
    name: 'a classic consumer group with a live kafkajs member: members and assignments decoded, lag',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('consumed');
      const group = unique('live');
      await admin.createTopics([{ name: topic, partitions: 2 }]);
      await admin.produce(topic, 0, [{ value: 'a' }, { value: 'b' }]);
      await admin.produce(topic, 1, [{ value: 'c' }]);
      const consumer = kafkajsClient(bootstrap, 'admin-scenario-consumer').consumer({ groupId: group });
      t.teardown(() => consumer.disconnect());
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      await consumer.run({ autoCommitInterval: 50, eachMessage: async () => void seen++ });
      await until(() => seen === 3, 'three records consumed', 30_000);
      await until(async () => (await admin.consumerGroupLag(group)).partitions.length === 2, 'both partitions committed', 30_000);
      t.equal((await admin.consumerGroupLag(group)).totalLag, 0);

      const [g] = await admin.describeGroups([group]);
      t.equal(g!.error, null);
      t.equal(g!.type, 'classic');
      t.equal(g!.state, 'Stable');
      t.equal(g!.protocolType, 'consumer');
      t.equal(g!.members.length, 1);
      t.equal(g!.members[0]!.clientId, 'admin-scenario-consumer');
      t.same(
        g!.members[0]!.assignment.sort((a, b) => a.partition - b.partition),
        [
          { topic, partition: 0 },
          { topic, partition: 1 },
        ],
      );
      const listed = (await admin.listGroups()).find((x) => x.groupId === group);
      t.same(listed && [listed.state, listed.type, listed.protocolType], ['Stable', 'classic', 'consumer']);

      await admin.produce(topic, 0, [{ value: 'd' }]);
      await until(
        async () => seen === 4 && (await admin.consumerGroupLag(group)).totalLag === 0,
        'the new record consumed and committed',
        30_000,
      );
      const [refused] = await admin.alterConsumerGroupOffsets(group, [{ topic, partition: 0, offset: 0 }]);
      t.equal(refused!.error?.errorName, 'UNKNOWN_MEMBER_ID', 'Kafka refuses an admin commit while the group has members');
      const [busy] = await admin.deleteGroups([group]);
      t.equal(busy!.error?.errorName, 'NON_EMPTY_GROUP');
    },
  },
  {
    name: 'a consumer-protocol group (KIP-848) with a live Java consumer: described through ConsumerGroupDescribe',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('kip848');
      const group = unique('consumer-group');
      await admin.createTopics([{ name: topic, partitions: 3 }]);
      await admin.produce(topic, 0, [{ value: 'a' }]);
      const java = await JavaDriver.start(t);
      t.teardown(() => java.close());
      const config = {
        'bootstrap.servers': bootstrap,
        'client.id': 'admin-scenario-848',
        'group.id': group,
        'group.protocol': 'consumer',
        'enable.auto.commit': 'false',
        'auto.offset.reset': 'earliest',
      };
      await java.call('consumer.create', { name: 'c', config, topics: [topic] });
      await java.call('consumer.take', { name: 'c', count: 1, timeoutMs: 60_000 });
      await java.call('consumer.commit', { name: 'c' });
      const g = await (async () => {
        let d = (await admin.describeGroups([group]))[0]!;
        await until(
          async () => {
            d = (await admin.describeGroups([group]))[0]!;
            return d.state === 'Stable' && d.members[0]?.assignment.length === 3;
          },
          'the member owning all three partitions',
          30_000,
        );
        return d;
      })();
      t.equal(g.error, null);
      t.equal(g.type, 'consumer');
      t.equal(g.protocolType, 'consumer');
      t.type(g.groupEpoch, 'number');
      t.equal(g.members.length, 1);
      t.equal(g.members[0]!.clientId, 'admin-scenario-848');
      t.same(
        g.members[0]!.assignment.sort((a, b) => a.partition - b.partition),
        [0, 1, 2].map((partition) => ({ topic, partition })),
      );
      const listed = (await admin.listGroups()).find((x) => x.groupId === group);
      t.same(listed && [listed.state, listed.type], ['Stable', 'consumer']);
      t.same(
        (await admin.consumerGroupLag(group)).partitions.map((p) => [p.partition, p.lag]),
        [
          [0, 0],
          [1, 0],
          [2, 0],
        ],
        'the Java consumer commits its position on every assigned partition',
      );
      await java.call('consumer.close', { name: 'c' });
    },
  },
  {
    name: 'transactions and producers: an open kafkajs transaction listed and described, its producer on the partition',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const topic = unique('txn');
      const transactionalId = unique('tid');
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      const producer = kafkajsClient(bootstrap, 'admin-scenario-txn').producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      t.teardown(() => producer.disconnect());
      await producer.connect();
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ value: 'in a transaction' }] });

      const listed = (await admin.listTransactions()).find((x) => x.transactionalId === transactionalId);
      t.equal(listed?.state, 'Ongoing');
      const [d] = await admin.describeTransactions([transactionalId]);
      t.equal(d!.error, null);
      t.equal(d!.state, 'Ongoing');
      t.equal(d!.producerId, listed!.producerId);
      t.same(d!.partitions, [{ topic, partition: 0 }]);
      t.ok(d!.startTimeMs > 0);
      const [p] = await admin.describeProducers([{ topic, partition: 0 }]);
      t.equal(p!.error, null);
      t.same(
        p!.producers.map((x) => [x.producerId, x.currentTxnStartOffset]),
        [[d!.producerId, 0]],
      );
      const [page] = await admin.topicOffsets(topic);
      t.same([page!.highWatermark, page!.lastStableOffset], [1, 0], 'the open transaction holds the last stable offset');

      await tx.commit();
      const [after] = await admin.describeTransactions([transactionalId]);
      t.match(after!.state, /^(PrepareCommit|CompleteCommit)$/);
      const tx2 = await producer.transaction();
      await tx2.send({ topic, messages: [{ value: 'aborted' }] });
      await tx2.abort();
      const tx3 = await producer.transaction();
      await tx3.send({ topic, messages: [{ value: 'committed later' }] });
      await tx3.commit();
      await until(async () => (await admin.topicOffsets(topic))[0]!.lastStableOffset === 6, 'three transactions and their markers', 10_000);
      const values = async (isolation: 'read_committed' | 'read_uncommitted') =>
        (await admin.readMessages(topic, 0, { from: 'earliest', maxRecords: 10, isolation })).messages.map((m) => m.value?.toString());
      t.same(await values('read_uncommitted'), ['in a transaction', 'aborted', 'committed later']);
      t.same(await values('read_committed'), ['in a transaction', 'committed later'], 'the aborted transaction left out');
      const [unknown] = await admin.describeTransactions([unique('no-tid')]);
      t.equal(unknown!.error?.errorName, 'TRANSACTIONAL_ID_NOT_FOUND');
    },
  },
  {
    name: 'ACLs without an authorizer: SECURITY_DISABLED as a typed error',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const e = await admin.describeAcls().catch((x) => x);
      t.ok(e instanceof AdminKafkaError, `${e}`);
      t.equal(e.errorName, 'SECURITY_DISABLED');
      const [created] = await admin.createAcls([
        {
          resourceType: 'TOPIC',
          resourceName: 't',
          patternType: 'LITERAL',
          principal: 'User:alice',
          host: '*',
          operation: 'READ',
          permission: 'ALLOW',
        },
      ]);
      t.equal(created!.error?.errorName, 'SECURITY_DISABLED');
      const [deleted] = await admin.deleteAcls([{ principal: 'User:alice' }]);
      t.equal(deleted!.error?.errorName, 'SECURITY_DISABLED');
    },
  },
];

/** Against Apache Kafka only: Skafos does not serve these APIs yet. */
export const apacheKafkaOnlyScenarios: AdminScenario[] = [
  {
    name: 'client quotas: set, describe, remove',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const user = unique('quser');
      const [set] = await admin.alterClientQuotas([
        { entity: { user }, set: { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 } },
      ]);
      t.equal(set!.error, null);
      const read = async () => admin.describeClientQuotas([{ entityType: 'user', match: user }], { strict: true });
      await until(async () => (await read()).length === 1, 'the quota visible', 10_000);
      t.same(await read(), [{ entity: { user }, values: { producer_byte_rate: 1048576, consumer_byte_rate: 2097152 } }]);
      await admin.alterClientQuotas([{ entity: { user }, remove: ['producer_byte_rate', 'consumer_byte_rate'] }]);
      await until(async () => (await read()).length === 0, 'the quota removed', 10_000);
      const [bad] = await admin.alterClientQuotas([{ entity: { user }, set: { no_such_quota: 1 } }]);
      t.equal(bad!.error?.errorName, 'INVALID_REQUEST');
    },
  },
  {
    name: 'SCRAM credentials: upsert, describe, delete',
    run: async (t, bootstrap) => {
      const admin = client(t, bootstrap);
      const user = unique('suser');
      const twice = await admin.alterUserScramCredentials({
        upsert: [
          { user, mechanism: 'SCRAM-SHA-256', password: 'secret-256' },
          { user, mechanism: 'SCRAM-SHA-512', password: 'secret-512' },
        ],
      });
      t.equal(twice[0]!.error?.errorName, 'DUPLICATE_RESOURCE', 'Kafka alters a user once per request');
      t.same(await admin.alterUserScramCredentials({ upsert: [{ user, mechanism: 'SCRAM-SHA-256', password: 'secret-256' }] }), [
        { user, error: null },
      ]);
      t.same(
        await admin.alterUserScramCredentials({ upsert: [{ user, mechanism: 'SCRAM-SHA-512', password: 'secret-512', iterations: 8192 }] }),
        [{ user, error: null }],
      );
      const read = async () => (await admin.describeUserScramCredentials([user]))[0]!;
      await until(async () => (await read()).credentials.length === 2, 'both credentials visible', 10_000);
      t.same(
        (await read()).credentials.sort((a, b) => a.iterations - b.iterations),
        [
          { mechanism: 'SCRAM-SHA-256', iterations: 4096 },
          { mechanism: 'SCRAM-SHA-512', iterations: 8192 },
        ],
      );
      const [del] = await admin.alterUserScramCredentials({ delete: [{ user, mechanism: 'SCRAM-SHA-256' }] });
      t.equal(del!.error, null);
      await until(async () => (await read()).credentials.length === 1, 'one credential left', 10_000);
      const missing = (await admin.describeUserScramCredentials([unique('nobody')]))[0]!;
      t.equal(missing.error?.errorName, 'RESOURCE_NOT_FOUND');
      const [tooFew] = await admin.alterUserScramCredentials({
        upsert: [{ user, mechanism: 'SCRAM-SHA-256', password: 'x', iterations: 10 }],
      });
      t.equal(tooFew!.error?.errorName, 'UNACCEPTABLE_CREDENTIAL');
    },
  },
];
