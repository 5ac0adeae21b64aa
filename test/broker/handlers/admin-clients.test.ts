// Real admin clients accept these handlers' responses: kafkajs (DescribeConfigs, AlterConfigs, CreatePartitions,
// DeleteRecords) and @platformatic/kafka (IncrementalAlterConfigs, DescribeConfigs v4, DescribeLogDirs).
import t from 'tap';
import type { Test } from 'tap';
import kafkajs from 'kafkajs';
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { produce, startTestBroker } from './support/client.ts';

const { Kafka, logLevel, ConfigResourceTypes: KafkajsResourceTypes } = kafkajs;

/** kafkajs rejects with a KafkaJSProtocolError whose `type` is the Kafka error name. */
async function rejectsWithType(t: Test, p: Promise<unknown>, type: string): Promise<void> {
  try {
    await p;
    t.fail(`expected ${type}`);
  } catch (e) {
    t.equal((e as { type?: string }).type, type);
  }
}

t.test('kafkajs admin', async (t) => {
  const { client, bootstrap } = await startTestBroker(t);
  const kafka = new Kafka({ clientId: 'handler-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.ok(
    await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '600000' }] }] }),
  );

  t.test('describeConfigs: topic and broker', async (t) => {
    const r = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [
        { type: KafkajsResourceTypes.TOPIC, name: 'kjs', configNames: ['retention.ms', 'cleanup.policy'] },
        { type: KafkajsResourceTypes.BROKER, name: '1', configNames: ['num.partitions'] },
      ],
    });
    const topic = r.resources.find((x) => x.resourceName === 'kjs')!;
    t.equal(topic.errorCode, 0);
    const retention = topic.configEntries.find((c) => c.configName === 'retention.ms')!;
    t.match(retention, { configValue: '600000', isDefault: false, readOnly: false, configSource: 1 });
    t.match(retention.configSynonyms, [{ configName: 'retention.ms', configValue: '600000', configSource: 1 }]);
    t.match(
      topic.configEntries.find((c) => c.configName === 'cleanup.policy'),
      { configValue: 'delete', isDefault: true },
    );
    const broker = r.resources.find((x) => x.resourceName === '1')!;
    t.match(broker.configEntries, [{ configName: 'num.partitions', configValue: '1', readOnly: true }]);
    await rejectsWithType(
      t,
      admin.describeConfigs({ includeSynonyms: false, resources: [{ type: KafkajsResourceTypes.TOPIC, name: 'nope' }] }),
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
  });

  t.test('alterConfigs', async (t) => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: KafkajsResourceTypes.TOPIC, name: 'kjs', configEntries: [{ name: 'retention.bytes', value: '123456' }] }],
    });
    const r = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: KafkajsResourceTypes.TOPIC, name: 'kjs', configNames: ['retention.bytes', 'retention.ms'] }],
    });
    t.same(
      r.resources[0]!.configEntries.map((c) => [c.configName, c.configValue, c.isDefault]),
      [
        ['retention.bytes', '123456', false],
        ['retention.ms', '604800000', true],
      ],
    );
    await rejectsWithType(
      t,
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: KafkajsResourceTypes.TOPIC, name: 'kjs', configEntries: [{ name: 'retention.forever', value: '1' }] }],
      }),
      'INVALID_CONFIG',
    );
  });

  t.test('createPartitions', async (t) => {
    await admin.createPartitions({ topicPartitions: [{ topic: 'kjs', count: 3 }] });
    const meta = await admin.fetchTopicMetadata({ topics: ['kjs'] });
    t.equal(meta.topics[0]!.partitions.length, 3);
    await rejectsWithType(t, admin.createPartitions({ topicPartitions: [{ topic: 'kjs', count: 2 }] }), 'INVALID_PARTITIONS');
  });

  t.test('deleteTopicRecords', async (t) => {
    await produce(client, 'kjs', 0, 10);
    await admin.deleteTopicRecords({ topic: 'kjs', partitions: [{ partition: 0, offset: '6' }] });
    const offsets = await admin.fetchTopicOffsets('kjs');
    t.match(
      offsets.find((o) => o.partition === 0),
      { low: '6', high: '10' },
    );
  });
});

t.test('@platformatic/kafka admin', async (t) => {
  const { client, bootstrap } = await startTestBroker(t);
  const admin = new Admin({ clientId: 'handler-test', bootstrapBrokers: [bootstrap], retries: 0 });
  t.teardown(() => admin.close());
  await admin.createTopics({ topics: ['plat'], partitions: 2, replicas: 1 });

  t.test('incrementalAlterConfigs, then describeConfigs v4', async (t) => {
    await admin.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: 'plat',
          configs: [
            { name: 'cleanup.policy', configOperation: IncrementalAlterConfigOperationTypes.APPEND, value: 'compact' },
            { name: 'segment.bytes', configOperation: IncrementalAlterConfigOperationTypes.SET, value: '1048576' },
          ],
        },
      ],
    });
    const [d] = await admin.describeConfigs({
      resources: [
        { resourceType: ConfigResourceTypes.TOPIC, resourceName: 'plat', configurationKeys: ['cleanup.policy', 'segment.bytes'] },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    t.same(
      d!.configs.map((c) => [c.name, c.value, c.configSource, c.configType]),
      [
        ['cleanup.policy', 'delete,compact', 1, 7],
        ['segment.bytes', '1048576', 1, 3],
      ],
    );
    t.type(d!.configs[0]!.documentation, 'string');
    await t.rejects(
      admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: ConfigResourceTypes.TOPIC,
            resourceName: 'plat',
            configs: [{ name: 'segment.bytes', configOperation: IncrementalAlterConfigOperationTypes.APPEND, value: '1' }],
          },
        ],
      }),
    );
  });

  t.test('createPartitions, deleteRecords and describeLogDirs', async (t) => {
    await admin.createPartitions({ topics: [{ name: 'plat', count: 3 }] });
    await produce(client, 'plat', 2, 5);
    const deleted = await admin.deleteRecords({ topics: [{ name: 'plat', partitions: [{ partition: 2, offset: -1n }] }] });
    t.same(deleted, [{ name: 'plat', partitions: [{ partition: 2, lowWatermark: 5n }] }]);
    const dirs = await admin.describeLogDirs({ topics: [{ name: 'plat', partitions: [0, 1, 2] }] });
    t.equal(dirs.length, 1);
    t.same(
      dirs[0]!.results[0]!.topics[0]!.partitions.map((p) => p.partitionIndex),
      [0, 1, 2],
    );
  });
});
