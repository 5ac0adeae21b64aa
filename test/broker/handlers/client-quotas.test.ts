// Client quotas through the in-process broker: AlterClientQuotas and DescribeClientQuotas (validation, filters,
// defaults), and a Produce over its producer_byte_rate answered with a throttle time.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { createTopic, startTestBroker } from './support/client.ts';

const entity = (user: string | null | undefined, clientId?: string | null) => [
  ...(user !== undefined ? [{ entityType: 'user', entityName: user }] : []),
  ...(clientId !== undefined ? [{ entityType: 'client-id', entityName: clientId }] : []),
];
const set = (key: string, value: number) => ({ key, value, remove: false });

t.test('client quotas', async (t) => {
  const { client } = await startTestBroker(t);
  for (const v of [0, 1]) {
    const r = await client.request(ApiKey.AlterClientQuotas, v, {
      entries: [
        { entity: entity('alice'), ops: [set('producer_byte_rate', 1024), set('request_percentage', 50)] },
        { entity: entity(null, null), ops: [set('consumer_byte_rate', 2048)] },
        { entity: entity(undefined, 'app'), ops: [set('producer_byte_rate', 4096)] },
        { entity: [{ entityType: 'group', entityName: 'x' }], ops: [set('producer_byte_rate', 1)] },
        { entity: entity('bob'), ops: [set('bogus_rate', 1)] },
        { entity: entity('bob'), ops: [set('producer_byte_rate', -5)] },
      ],
      validateOnly: v === 0,
    });
    t.strictSame(
      r.entries.map((e: any) => e.errorCode),
      [0, 0, 0, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
      `v${v}`,
    );
    const d = await client.request(ApiKey.DescribeClientQuotas, v, { components: [], strict: false });
    t.equal(d.entries.length, v === 0 ? 0 : 3, v === 0 ? 'validate_only changed nothing' : 'three entities');
  }
  const byUser = await client.request(ApiKey.DescribeClientQuotas, 1, {
    components: [{ entityType: 'user', matchType: 0, match: 'alice' }],
    strict: true,
  });
  t.strictSame(
    byUser.entries.map((e: any) => [
      e.entity.map((x: any) => [x.entityType, x.entityName]),
      e.values.map((x: any) => [x.key, x.value]).sort(),
    ]),
    [
      [
        [['user', 'alice']],
        [
          ['producer_byte_rate', 1024],
          ['request_percentage', 50],
        ],
      ],
    ],
  );
  const defaults = await client.request(ApiKey.DescribeClientQuotas, 1, {
    components: [{ entityType: 'user', matchType: 1, match: null }],
    strict: false,
  });
  t.equal(defaults.entries.length, 1, 'the default user+client-id entity');

  await t.test('a producer over its producer_byte_rate is answered with a throttle time', async (t) => {
    await createTopic(client, 'quota-t');
    // handler-test's client id is "handler-test" (support/client.ts); the quota of client-id "app" does not apply.
    await client.request(ApiKey.AlterClientQuotas, 1, {
      entries: [{ entity: entity(undefined, 'handler-test'), ops: [set('producer_byte_rate', 10_000)] }],
      validateOnly: false,
    });
    const value = Buffer.alloc(50_000, 1);
    const r = await client.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10000,
      topicData: [
        { name: 'quota-t', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value, timestampMs: Date.now() }]) }] },
      ],
    });
    t.equal(r.responses[0].partitionResponses[0].errorCode, 0, 'the batch is appended');
    // A fresh rate is measured over at least 10 windows of 1 s (Kafka's rule): 50 kB is 5 kB/s, under 10 kB/s.
    t.equal(r.throttleTimeMs, 0, 'within the quota averaged over the window');
    const r2 = await client.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 10000,
      topicData: [
        {
          name: 'quota-t',
          partitionData: [
            { index: 0, records: buildRecordBatch([{ key: null, value: Buffer.alloc(200_000, 2), timestampMs: Date.now() }]) },
          ],
        },
      ],
    });
    t.ok(r2.throttleTimeMs > 0, `throttled ${r2.throttleTimeMs} ms`);
  });
});
