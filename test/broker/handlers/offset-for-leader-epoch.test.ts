import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { endOffsetForEpoch } from '../../../broker/log/leader-epochs.ts';
import { createTopic, produce, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

t.test('endOffsetForEpoch: Kafka leader-epoch cache semantics', async (t) => {
  const epochs = [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 10 },
    { epoch: 5, startOffset: 20 },
  ];
  const at = (e: number) => endOffsetForEpoch(epochs, e, 30);
  t.same(at(5), { epoch: 5, endOffset: 30 }, 'the current epoch ends at the log end offset');
  t.same(at(0), { epoch: 0, endOffset: 10 }, 'an older epoch ends where the next begins');
  t.same(at(1), { epoch: 0, endOffset: 10 }, 'an unknown epoch in between: the epoch before it, and the next start');
  t.same(at(2), { epoch: 2, endOffset: 20 });
  t.same(at(4), { epoch: 2, endOffset: 20 });
  t.same(at(6), { epoch: -1, endOffset: -1 }, 'an epoch above the current one is undefined');
  t.same(at(-1), { epoch: -1, endOffset: -1 }, 'UNDEFINED_EPOCH');
  t.same(
    endOffsetForEpoch([{ epoch: 3, startOffset: 5 }], 1, 9),
    { epoch: 1, endOffset: 5 },
    'below every known epoch: the first start offset',
  );
  t.same(endOffsetForEpoch([], 0, 9), { epoch: -1, endOffset: -1 });
});

function query(
  client: TestClient,
  version: number,
  topic: string,
  partitions: [partition: number, leaderEpoch: number, currentLeaderEpoch?: number][],
) {
  return client.request(ApiKey.OffsetForLeaderEpoch, version, {
    replicaId: -1,
    topics: [
      {
        topic,
        partitions: partitions.map(([partition, leaderEpoch, currentLeaderEpoch]) => ({
          partition,
          leaderEpoch,
          currentLeaderEpoch: currentLeaderEpoch ?? -1,
        })),
      },
    ],
  });
}

t.test('OffsetForLeaderEpoch', async (t) => {
  const { client, broker } = await startTestBroker(t);
  await createTopic(client, 'epochs', 2);
  await produce(client, 'epochs', 0, 10);

  t.test('v4 (consumer, replica id -1)', async (t) => {
    const r = await query(client, 4, 'epochs', [
      [0, 0, 0],
      [1, 0],
      [0, 1],
      [0, -1],
    ]);
    t.same(r.topics[0].partitions, [
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 10 },
      { errorCode: ErrorCode.NONE, partition: 1, leaderEpoch: 0, endOffset: 0 },
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: -1, endOffset: -1 },
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: -1, endOffset: -1 },
    ]);
  });

  t.test('current_leader_epoch fencing and unknown partitions', async (t) => {
    const r = await query(client, 3, 'epochs', [
      [0, 0, 1],
      [0, 0, -2],
      [2, 0],
    ]);
    t.same(r.topics[0].partitions, [
      { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 },
      { errorCode: ErrorCode.FENCED_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 },
      { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 2, leaderEpoch: -1, endOffset: -1 },
    ]);
    const missing = await query(client, 3, 'nope', [[0, 0]]);
    t.same(missing.topics, [
      { topic: 'nope', partitions: [{ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: 0, leaderEpoch: -1, endOffset: -1 }] },
    ]);
  });

  t.test('v0: end offsets only', async (t) => {
    const r = await query(client, 0, 'epochs', [[0, 0]]);
    t.equal(Number(r.topics[0].partitions[0].endOffset), 10);
    t.equal(r.topics[0].partitions[0].errorCode, ErrorCode.NONE);
  });

  t.test('several epochs on the log', async (t) => {
    // Stand-in for a leader change: epoch 3 began at offset 10.
    const topic = broker.services.topics.byName('epochs')!;
    const log = broker.services.logs.partition(topic.id, 0)!;
    log.epochStarts.push({ epoch: 3, startOffset: 10 });
    log.leaderEpoch = 3;
    await produce(client, 'epochs', 0, 4);
    const r = await query(client, 2, 'epochs', [
      [0, 0, 3],
      [0, 2, 3],
      [0, 3, 3],
      [0, 0, 2],
    ]);
    t.same(r.topics[0].partitions, [
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 10 },
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 0, endOffset: 10 },
      { errorCode: ErrorCode.NONE, partition: 0, leaderEpoch: 3, endOffset: 14 },
      { errorCode: ErrorCode.FENCED_LEADER_EPOCH, partition: 0, leaderEpoch: -1, endOffset: -1 },
    ]);
  });
});
