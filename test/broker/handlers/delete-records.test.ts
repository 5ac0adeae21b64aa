import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, produce, startBrokerIn, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

function deleteRecords(client: TestClient, version: number, topics: Record<string, [partition: number, offset: number][]>) {
  return client.request(ApiKey.DeleteRecords, version, {
    topics: Object.entries(topics).map(([name, parts]) => ({
      name,
      partitions: parts.map(([partitionIndex, offset]) => ({ partitionIndex, offset })),
    })),
    timeoutMs: 10000,
  });
}

async function earliest(client: TestClient, topic: string, partition = 0): Promise<number> {
  const r = await client.request(ApiKey.ListOffsets, 7, {
    replicaId: -1,
    isolationLevel: 0,
    timeoutMs: 10000,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: -2 }] }],
  });
  return Number(r.topics[0].partitions[0].offset);
}

t.test('DeleteRecords', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'trim', 2);
  await createTopic(client, 'kept', 1, { 'cleanup.policy': 'compact' });
  await produce(client, 'trim', 0, 10);
  await produce(client, 'trim', 0, 5);
  await produce(client, 'trim', 1, 3);
  await produce(client, 'kept', 0, 3);

  t.test('v0: deletes up to an offset, inside a batch too', async (t) => {
    const r = await deleteRecords(client, 0, { trim: [[0, 4]] });
    t.same(r.topics, [{ name: 'trim', partitions: [{ partitionIndex: 0, lowWatermark: 4, errorCode: ErrorCode.NONE }] }]);
    t.equal(await earliest(client, 'trim'), 4);
    const lower = await deleteRecords(client, 0, { trim: [[0, 2]] });
    t.same(
      lower.topics[0].partitions[0],
      { partitionIndex: 0, lowWatermark: 4, errorCode: ErrorCode.NONE },
      'an offset below the low watermark leaves it',
    );
  });

  t.test('v2: -1 means the high watermark', async (t) => {
    const r = await deleteRecords(client, 2, {
      trim: [
        [0, -1],
        [1, 3],
      ],
    });
    t.same(r.topics[0].partitions, [
      { partitionIndex: 0, lowWatermark: 15, errorCode: ErrorCode.NONE },
      { partitionIndex: 1, lowWatermark: 3, errorCode: ErrorCode.NONE },
    ]);
    t.equal(await earliest(client, 'trim', 0), 15);
    t.equal(await produce(client, 'trim', 0, 1), 15, 'offsets go on from the high watermark');
  });

  t.test('errors', async (t) => {
    const r = await deleteRecords(client, 2, {
      trim: [
        [0, 17],
        [1, -2],
        [7, 0],
      ],
      missing: [[0, 0]],
      kept: [[0, 1]],
    });
    t.same(r.topics, [
      {
        name: 'trim',
        partitions: [
          { partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE },
          { partitionIndex: 1, lowWatermark: -1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE },
          { partitionIndex: 7, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
        ],
      },
      { name: 'missing', partitions: [{ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }] },
      { name: 'kept', partitions: [{ partitionIndex: 0, lowWatermark: -1, errorCode: ErrorCode.POLICY_VIOLATION }] },
    ]);
  });
});

t.test('DeleteRecords is durable across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-handler-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir);
  await createTopic(b.client, 'durable', 1);
  await produce(b.client, 'durable', 0, 5);
  await produce(b.client, 'durable', 0, 5);
  const r = await deleteRecords(b.client, 1, { durable: [[0, 7]] });
  t.equal(r.topics[0].partitions[0].lowWatermark, 7);
  await b.close();
  b = await startBrokerIn(dir);
  t.teardown(() => b.close());
  t.equal(await earliest(b.client, 'durable'), 7);
});
