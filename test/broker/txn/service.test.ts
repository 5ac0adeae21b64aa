// TxnService: the transaction coordinator, the pending transactional offsets and the marker channel wired
// together over in-memory fakes (metadata store, cluster, log manager, group coordinator): a whole transaction
// from InitProducerId to its markers and applied offsets, producer ids from the broker's shared block
// allocator, the broker config's limits, KIP-890 verification, and close.
import t from 'tap';
import type { Test } from 'tap';
import type { PartitionOwner } from '../../../broker/cluster/cluster.ts';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { loadConfig } from '../../../broker/config.ts';
import { producerIdAllocator } from '../../../broker/log/producer-ids.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { ControlRecordType } from '../../../broker/protocol/records/constants.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';
import type { MarkerServices } from '../../../broker/txn/markers.ts';
import { TxnService } from '../../../broker/txn/service.ts';
import type { PendingTxnOffsets } from '../../../broker/txn/txn-offsets.ts';
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { FakeLogs, FakeTopics } from '../../support/fake-partitions.ts';
import { until } from '../../support/until.ts';

/** One offset of a transaction (the group coordinator's OffsetCommitEntry, as the txn layer names it). */
type OffsetCommitEntry = PendingTxnOffsets['offsets'][number];

async function setup(t: Test, sets: Record<string, string> = {}) {
  const metadata = new MemoryMetadataStore();
  const cluster = new FakeCoordinatorCluster('transaction');
  const applied: { groupId: string; entries: OffsetCommitEntry[] }[] = [];
  const service = new TxnService({
    metadata,
    cluster,
    logger: silentLogger(),
    config: loadConfig({ sets }),
    groups: {
      validateTxnOffsetCommit: () => ErrorCode.NONE,
      applyTxnOffsets: async (groupId, entries) => {
        applied.push({ groupId, entries });
        return ErrorCode.NONE;
      },
    },
  });
  const topics = new FakeTopics();
  const logs = new FakeLogs();
  const services: MarkerServices = {
    nodeId: cluster.nodeId,
    cluster: {
      broker: () => undefined,
      ownerOf: (): PartitionOwner => ({ nodeId: cluster.nodeId, leaderEpoch: 0 }),
      coordinatorOwner: (kind, partition) => cluster.coordinatorOwner(kind, partition),
    },
    topics,
    logs,
    config: { producerIdExpirationMs: 86_400_000, producerStateMaxProducers: 1000 },
    logger: silentLogger(),
  };
  t.teardown(async () => {
    await service.close();
    await metadata.close();
  });
  return { metadata, cluster, service, topics, logs, services, applied };
}

const tp = (topic: string, partition: number) => ({ topic, partition });

t.test('a whole transaction: produce, offsets, commit; markers written and offsets applied', async (t) => {
  const s = await setup(t);
  const [log] = s.logs.lead(s.topics.add('orders', 2));
  await s.service.start(s.services);
  const init = await s.service.coordinator.initProducerId('tx', 60_000, -1, -1);
  t.same(init, { errorCode: ErrorCode.NONE, producerId: 0, producerEpoch: 0 }, 'the first id of the broker’s block');
  const { producerId: pid, producerEpoch: epoch } = init;
  const groupPartition = coordinatorPartitionOf('grp');
  t.equal(await s.service.coordinator.addPartitions('tx', pid, epoch, [tp('orders', 0), tp('__consumer_offsets', groupPartition)]), 0);
  t.same(
    await s.service.verify('tx', pid, epoch, [tp('orders', 0), tp('orders', 1)]),
    [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE],
    'KIP-890: only the added partition is in the transaction',
  );
  t.same(await s.service.verify('tx', pid, epoch + 1, [tp('orders', 0)]), [ErrorCode.PRODUCER_FENCED]);
  const batch = buildRecordBatch([{ key: null, value: Buffer.from('order-1'), timestampMs: Date.now() }], {
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: 0,
    transactional: true,
  });
  s.logs.append(log!, batch, 1, null, (records, baseOffset, leaderEpoch) => assignOffsets(records, baseOffset, leaderEpoch));
  const offsets: OffsetCommitEntry[] = [
    { topic: 'orders', partition: 0, offset: 1, leaderEpoch: -1, metadata: null, commitTimestampMs: 1, expireTimestampMs: null },
  ];
  t.equal(
    await s.service.offsets.commit({
      groupId: 'grp',
      producerId: pid,
      producerEpoch: epoch,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets,
    }),
    ErrorCode.NONE,
  );
  t.same(s.applied, [], 'offsets wait for the transaction');
  t.equal(await s.service.coordinator.endTransaction('tx', pid, epoch, true), ErrorCode.NONE);
  await until(() => s.service.coordinator.describe('tx').transactionState === 'CompleteCommit', 'the transaction to complete');
  t.same(s.logs.markers(log!), [{ offset: 1, producerId: pid, producerEpoch: epoch, type: ControlRecordType.COMMIT }]);
  t.same(s.applied, [{ groupId: 'grp', entries: offsets }], 'the COMMIT marker applied the offsets');
  t.notOk(s.service.offsets.hasPending('grp', 'orders', 0));
  t.equal(log!.producerState!.lastStableOffset(log!.highWatermark), 2, 'nothing left open in the partition');
});

t.test('producer ids come from the broker’s shared block allocator', async (t) => {
  const s = await setup(t);
  await s.service.start(s.services);
  t.equal(await producerIdAllocator(s.metadata).allocate(), 0, 'an idempotent producer takes the first id');
  const a = await s.service.coordinator.initProducerId('a', 60_000, -1, -1);
  const b = await s.service.coordinator.initProducerId('b', 60_000, -1, -1);
  t.same([a.producerId, b.producerId], [1, 2], 'transactional ids get the next ones, never the same');
  t.equal(await producerIdAllocator(s.metadata).allocate(), 3);
});

t.test('the broker config’s transaction limits apply', async (t) => {
  const s = await setup(t, { 'transaction.max.timeout.ms': '5000', 'skafos.transaction.max.partitions': '2' });
  s.topics.add('x', 3);
  await s.service.start(s.services);
  t.equal((await s.service.coordinator.initProducerId('tx', 5001, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  const { producerId, producerEpoch } = await s.service.coordinator.initProducerId('tx', 5000, -1, -1);
  t.equal(
    await s.service.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('x', 0), tp('x', 1), tp('x', 2)]),
    ErrorCode.INVALID_REQUEST,
    'more partitions than skafos.transaction.max.partitions',
  );
  t.equal(await s.service.coordinator.addPartitions('tx', producerId, producerEpoch, [tp('x', 0), tp('x', 1)]), ErrorCode.NONE);
});

t.test('verification when another broker coordinates the transactional id and is not known', async (t) => {
  const s = await setup(t);
  await s.service.start(s.services);
  s.cluster.move(coordinatorPartitionOf('elsewhere'), false);
  t.same(await s.service.verify('elsewhere', 1, 0, [tp('x', 0), tp('x', 1)]), [
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ]);
});

t.test('close stops the coordinator and the offsets store', async (t) => {
  const s = await setup(t);
  await s.service.start(s.services);
  const { producerId, producerEpoch } = await s.service.coordinator.initProducerId('tx', 60_000, -1, -1);
  await s.service.close();
  t.equal((await s.service.coordinator.initProducerId('tx', 60_000, -1, -1)).errorCode, ErrorCode.NOT_COORDINATOR);
  t.equal(await s.service.coordinator.endTransaction('tx', producerId, producerEpoch, true), ErrorCode.NOT_COORDINATOR);
  t.equal(
    await s.service.offsets.commit({
      groupId: 'g',
      producerId,
      producerEpoch,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [],
    }),
    ErrorCode.NOT_COORDINATOR,
  );
});
