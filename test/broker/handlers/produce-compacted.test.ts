// Produce to a compacted topic (cleanup.policy=compact, Kafka's LogValidator): a record without a key is refused
// with INVALID_RECORD, a message saying why and one record error per keyless record, compressed batches
// included; keyed records are accepted; switching the topic between delete and compact (and the broker default
// log.cleanup.policy) changes what is accepted.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch, CompressionCodec } from '../../../broker/protocol/records/index.ts';
import type { CompressionCodecId } from '../../../broker/protocol/records/index.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const TOPIC = 2;
const BROKER = 4;
const SET = 0;

function batch(keys: readonly (string | null)[], compression: CompressionCodecId = CompressionCodec.NONE): Buffer {
  return buildRecordBatch(
    keys.map((k, i) => ({ key: k === null ? null : Buffer.from(k), value: Buffer.from(`v${i}`), timestampMs: Date.now() })),
    { compression },
  );
}

async function produce(client: TestClient, topic: string, records: Buffer) {
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return r.responses[0].partitionResponses[0];
}

async function alter(client: TestClient, resourceType: number, resourceName: string, name: string, value: string): Promise<void> {
  const r = await client.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType, resourceName, configs: [{ name, configOperation: SET, value }] }],
    validateOnly: false,
  });
  if (r.responses[0].errorCode !== 0) throw new Error(`alter ${name}: ${r.responses[0].errorCode} ${r.responses[0].errorMessage}`);
}

t.test('a compacted topic refuses records without a key, in every codec', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'table', 1, { 'cleanup.policy': 'compact' });
  for (const codec of [CompressionCodec.NONE, CompressionCodec.LZ4, CompressionCodec.ZSTD]) {
    const p = await produce(client, 'table', batch(['a', null, 'b', null], codec));
    t.equal(p.errorCode, ErrorCode.INVALID_RECORD, `codec ${codec}: refused`);
    t.equal(p.errorMessage, 'Compacted topic cannot accept message without key in topic partition table-0.');
    t.same(
      p.recordErrors.map((e: { batchIndex: number }) => e.batchIndex),
      [1, 3],
      'each keyless record named by its index',
    );
    t.equal(Number(p.baseOffset), -1);
  }
  const ok = await produce(client, 'table', batch(['a', 'b']));
  t.equal(ok.errorCode, 0, 'keyed records are accepted');
  t.equal(Number(ok.baseOffset), 0, 'nothing was appended by the refused batches');
});

t.test('compact,delete refuses them too; switching the policy either way applies to the next batch', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'switch', 1, { 'cleanup.policy': 'compact,delete' });
  t.equal((await produce(client, 'switch', batch([null]))).errorCode, ErrorCode.INVALID_RECORD, 'compact,delete');
  await alter(client, TOPIC, 'switch', 'cleanup.policy', 'delete');
  t.equal((await produce(client, 'switch', batch([null]))).errorCode, 0, 'delete accepts keyless records');
  await alter(client, TOPIC, 'switch', 'cleanup.policy', 'compact');
  t.equal((await produce(client, 'switch', batch([null]))).errorCode, ErrorCode.INVALID_RECORD, 'compact again');
});

t.test('the broker default log.cleanup.policy applies to topics without an override', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'plain');
  t.equal((await produce(client, 'plain', batch([null]))).errorCode, 0);
  await alter(client, BROKER, '', 'log.cleanup.policy', 'compact');
  t.equal((await produce(client, 'plain', batch([null]))).errorCode, ErrorCode.INVALID_RECORD, 'refused under the new default');
});
