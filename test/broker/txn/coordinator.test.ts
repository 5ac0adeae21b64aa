// The transaction coordinator's state machine (broker/txn/coordinator.ts) over an in-memory metadata store,
// with a fake cluster and a marker sender that records the markers: InitProducerId (new id, epoch bumps,
// KIP-360 retries and fencing, timeout bounds, abort of an ongoing transaction), AddPartitionsToTxn,
// EndTxn in every state, completion after a failover, timeouts, expiry, Describe/List.
import t from 'tap';
import type { Test } from 'tap';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { TransactionCoordinator } from '../../../broker/txn/coordinator.ts';
import type { MarkerJob, TxnCoordinatorOptions } from '../../../broker/txn/coordinator.ts';
import type { TxnRecord } from '../../../broker/txn/txn-metadata.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { txnKey } from '../../../broker/metadata/layout.ts';
import type { MetadataStore } from '../../../broker/metadata/store.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';

class RecordingMarkers {
  jobs: MarkerJob[] = [];
  /** When set, send() waits for it (markers "in flight"). */
  gate: Promise<void> | null = null;
  async send(job: MarkerJob, current: () => boolean): Promise<boolean> {
    if (this.gate) await this.gate;
    if (!current()) return false;
    this.jobs.push(job);
    return true;
  }
}

const options: TxnCoordinatorOptions = {
  maxTimeoutMs: 900_000,
  idExpirationMs: 3_600_000,
  abortTimedOutIntervalMs: 3_600_000,
  removeExpiredIntervalMs: 3_600_000,
  maxPartitions: 5,
};

async function setup(t: Test, store: MetadataStore = new MemoryMetadataStore(), cluster = new FakeCoordinatorCluster('transaction')) {
  let nextPid = 1000;
  let now = 1_000_000;
  const markers = new RecordingMarkers();
  const c = new TransactionCoordinator({
    metadata: store,
    cluster: cluster as any,
    logger: silentLogger(),
    options,
    allocateProducerId: async () => nextPid++,
    markers,
    now: () => now,
  });
  await c.start();
  t.teardown(() => c.close());
  return { c, store, cluster, markers, advance: (ms: number) => (now += ms), nowMs: () => now };
}

const tp = (topic: string, partition: number) => ({ topic, partition });

t.test('InitProducerId: a new id at epoch 0, then bumps; bounds on the timeout', async (t) => {
  const { c, store } = await setup(t);
  t.equal((await c.initProducerId('', 1000, -1, -1)).errorCode, ErrorCode.INVALID_REQUEST);
  t.equal((await c.initProducerId('a', 0, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  t.equal((await c.initProducerId('a', 900_001, -1, -1)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  t.same(await c.initProducerId('a', 60_000, -1, -1), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
  t.same(await c.initProducerId('a', 60_000, -1, -1), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 1 });
  const stored = JSON.parse((await store.get(txnKey(coordinatorPartitionOf('a'), 'a')))!.value) as TxnRecord;
  t.equal(stored.state, 'Empty');
  t.equal(stored.producerEpoch, 1);
  // KIP-360: the current id and epoch bump it; a retry of that bump (the answer was lost) gets the same epoch.
  t.same(await c.initProducerId('a', 60_000, 1000, 1), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 2 });
  t.same(await c.initProducerId('a', 60_000, 1000, 1), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 2 });
  t.equal((await c.initProducerId('a', 60_000, 1000, 0)).errorCode, ErrorCode.PRODUCER_FENCED, 'an older epoch');
  t.equal((await c.initProducerId('a', 60_000, 77, 0)).errorCode, ErrorCode.PRODUCER_FENCED, 'another producer id');
});

t.test('a transaction: add partitions, commit, markers, complete; old epochs are fenced', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.INVALID_TXN_STATE, 'commit with nothing added');
  t.equal(await c.addPartitions('t', pid + 1, e, [tp('x', 0)]), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  t.equal(await c.addPartitions('t', pid, e + 1, [tp('x', 0)]), ErrorCode.PRODUCER_FENCED);
  t.equal(await c.addPartitions('u', pid, e, [tp('x', 0)]), ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'unknown transactional id');
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 0), tp('x', 1)]), ErrorCode.NONE);
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 1), tp('y', 0)]), ErrorCode.NONE);
  t.equal(await c.addPartitions('t', pid, e, [tp('z', 0), tp('z', 1), tp('z', 2)]), ErrorCode.INVALID_REQUEST, 'beyond max partitions');
  t.same(c.verifyPartitions('t', pid, e, [tp('x', 0), tp('q', 0)]), [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE]);
  const d = c.describe('t');
  t.equal(d.transactionState, 'Ongoing');
  t.same(d.topics, [
    { topic: 'x', partitions: [0, 1] },
    { topic: 'y', partitions: [0] },
  ]);
  t.equal(await c.endTransaction('t', pid, e - 1, true), ErrorCode.PRODUCER_FENCED);
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.NONE);
  await c.settled();
  t.equal(markers.jobs.length, 1);
  t.same(markers.jobs[0]!.partitions, [tp('x', 0), tp('x', 1), tp('y', 0)]);
  t.equal(markers.jobs[0]!.commit, true);
  t.equal(c.describe('t').transactionState, 'CompleteCommit');
  t.same(c.describe('t').topics, []);
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.NONE, 'a retried commit');
  t.equal(await c.endTransaction('t', pid, e, false), ErrorCode.NONE, 'an abort with nothing added');
  // Next transaction, aborted.
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 0)]), ErrorCode.NONE);
  t.equal(await c.endTransaction('t', pid, e, false), ErrorCode.NONE);
  await c.settled();
  t.equal(markers.jobs[1]!.commit, false);
  t.equal(c.describe('t').transactionState, 'CompleteAbort');
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.INVALID_TXN_STATE, 'commit after abort');
});

t.test('while markers are written: CONCURRENT_TRANSACTIONS; Prepare states answer retries', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  await c.addPartitions('t', pid, e, [tp('x', 0)]);
  let open!: () => void;
  markers.gate = new Promise((r) => (open = r));
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.NONE);
  t.equal(c.describe('t').transactionState, 'PrepareCommit');
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 1)]), ErrorCode.CONCURRENT_TRANSACTIONS);
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.CONCURRENT_TRANSACTIONS);
  t.equal((await c.initProducerId('t', 60_000, -1, -1)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  t.same(
    c.list(['PrepareCommit'], [], -1).transactionStates.map((x) => x.transactionalId),
    ['t'],
  );
  open();
  await c.settled();
  t.equal(c.describe('t').transactionState, 'CompleteCommit');
});

t.test('InitProducerId during an ongoing transaction fences the producer and aborts it', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  await c.addPartitions('t', pid, e, [tp('x', 0)]);
  t.equal((await c.initProducerId('t', 60_000, -1, -1)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  await c.settled();
  t.equal(markers.jobs.length, 1);
  t.equal(markers.jobs[0]!.commit, false);
  t.equal(markers.jobs[0]!.producerEpoch, e + 1, 'the abort marker carries the bumped epoch');
  t.equal(await c.endTransaction('t', pid, e, true), ErrorCode.PRODUCER_FENCED, 'the old producer is fenced');
  t.same(await c.initProducerId('t', 60_000, -1, -1), { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 2 });
});

t.test('timed-out transactions are aborted with a bumped epoch', async (t) => {
  const { c, markers, advance } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 10_000, -1, -1);
  await c.addPartitions('t', pid, e, [tp('x', 0)]);
  advance(5_000);
  c.abortTimedOut();
  await c.settled();
  t.equal(c.describe('t').transactionState, 'Ongoing', 'not yet');
  advance(6_000);
  c.abortTimedOut();
  await c.settled();
  t.equal(c.describe('t').transactionState, 'CompleteAbort');
  t.equal(markers.jobs[0]!.producerEpoch, e + 1);
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 0)]), ErrorCode.PRODUCER_FENCED);
});

t.test('a new owner loads the state and completes a decided transaction', async (t) => {
  const store = new MemoryMetadataStore();
  const cluster = new FakeCoordinatorCluster('transaction');
  const a = await setup(t, store, cluster);
  const { producerId: pid, producerEpoch: e } = await a.c.initProducerId('t', 60_000, -1, -1);
  await a.c.addPartitions('t', pid, e, [tp('x', 0), tp('x', 1)]);
  a.markers.gate = new Promise(() => {}); // markers never get through on the first owner
  t.equal(await a.c.endTransaction('t', pid, e, false), ErrorCode.NONE);
  const p = coordinatorPartitionOf('t');
  cluster.move(p, false);
  t.equal(a.c.status('t'), ErrorCode.NOT_COORDINATOR);
  await a.c.close();
  // Another broker (a second coordinator on the same store) takes the partition over.
  const b = await setup(t, store, cluster);
  cluster.move(p, true);
  await b.c.settled();
  t.equal(b.markers.jobs.length, 1, 'the markers are sent again');
  t.equal(b.markers.jobs[0]!.commit, false);
  t.equal(b.markers.jobs[0]!.coordinatorEpoch, cluster.epoch, 'with the new coordinator epoch');
  t.equal(b.c.describe('t').transactionState, 'CompleteAbort');
});

t.test('expired transactional ids are removed; ListTransactions filters', async (t) => {
  const { c, store, advance } = await setup(t);
  const a = await c.initProducerId('a', 60_000, -1, -1);
  await c.initProducerId('b', 60_000, -1, -1);
  await c.addPartitions('a', a.producerId, a.producerEpoch, [tp('x', 0)]);
  t.same(
    c
      .list([], [], -1)
      .transactionStates.map((x) => x.transactionalId)
      .sort(),
    ['a', 'b'],
  );
  t.same(
    c.list(['Ongoing'], [], -1).transactionStates.map((x) => x.transactionalId),
    ['a'],
  );
  t.same(
    c.list([], [a.producerId], -1).transactionStates.map((x) => x.transactionalId),
    ['a'],
  );
  t.same(c.list(['Bogus'], [], -1).unknownStateFilters, ['Bogus']);
  advance(10_000);
  t.same(
    c.list([], [], 5_000).transactionStates.map((x) => x.transactionalId),
    ['a'],
    'running longer than 5 s',
  );
  advance(3_600_000);
  c.removeExpired();
  await c.settled();
  t.equal(c.describe('b').errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  t.equal(await store.get(txnKey(coordinatorPartitionOf('b'), 'b')), null);
  t.equal(c.describe('a').transactionState, 'Ongoing', 'an ongoing transaction does not expire');
});

t.test('epoch exhaustion rotates the producer id', async (t) => {
  const store = new MemoryMetadataStore();
  const p = coordinatorPartitionOf('t');
  const record: TxnRecord = {
    transactionalId: 't',
    producerId: 5,
    lastProducerId: -1,
    producerEpoch: 32766,
    lastProducerEpoch: -1,
    timeoutMs: 1000,
    state: 'CompleteCommit',
    partitions: [],
    txnStartTimestamp: 1,
    lastUpdateTimestamp: 1,
  };
  await store.txn([], [{ type: 'put', key: txnKey(p, 't'), value: JSON.stringify(record) }]);
  const { c } = await setup(t, store);
  t.same(await c.initProducerId('t', 1000, 5, 32766), { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
  // A retry naming the old id with its exhausted epoch is not fenced (KIP-360).
  t.equal((await c.initProducerId('t', 1000, 5, 32766)).errorCode, ErrorCode.NONE);
});

// ---- transaction version 2 (KIP-890 part 2): EndTxn v5 ----

t.test('TV2: every EndTxn bumps the epoch; markers carry it; retries and zombies', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  t.same(
    await c.endTransactionV2('t', pid, e, true),
    { errorCode: ErrorCode.INVALID_TXN_STATE, producerId: -1, producerEpoch: -1 },
    'commit with nothing added',
  );
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 0)]), ErrorCode.NONE);
  t.same(await c.endTransactionV2('t', pid, e - 1, true), { errorCode: ErrorCode.PRODUCER_FENCED, producerId: -1, producerEpoch: -1 });
  t.same(await c.endTransactionV2('t', pid + 1, e, true), {
    errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    producerId: -1,
    producerEpoch: -1,
  });
  t.same(await c.endTransactionV2('t', pid, e, true), { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 1 });
  await c.settled();
  t.equal(markers.jobs.length, 1);
  t.match(markers.jobs[0], { producerId: pid, producerEpoch: e + 1, commit: true }, 'the markers carry the bumped epoch');
  t.match(c.describe('t'), { transactionState: 'CompleteCommit', producerEpoch: e + 1 });
  // A retry names the epoch before the bump and gets the same answer; the opposite outcome is refused.
  t.same(
    await c.endTransactionV2('t', pid, e, true),
    { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 1 },
    'a retried commit',
  );
  t.same(await c.endTransactionV2('t', pid, e, false), { errorCode: ErrorCode.INVALID_TXN_STATE, producerId: -1, producerEpoch: -1 });
  // A zombie with the old epoch can no longer add partitions (the Produce v12 path) or commit offsets.
  t.equal(await c.addPartitions('t', pid, e, [tp('x', 0)]), ErrorCode.PRODUCER_FENCED, 'the old epoch is fenced');
  t.same(c.verifyPartitions('t', pid, e, [tp('x', 0)]), [ErrorCode.PRODUCER_FENCED]);
  // The next transaction runs at the bumped epoch, and its abort bumps again.
  t.equal(await c.addPartitions('t', pid, e + 1, [tp('x', 1)]), ErrorCode.NONE);
  t.same(await c.endTransactionV2('t', pid, e + 1, false), { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 2 });
  await c.settled();
  t.match(markers.jobs[1], { producerEpoch: e + 2, commit: false, partitions: [tp('x', 1)] });
  t.same(
    await c.endTransactionV2('t', pid, e + 1, false),
    { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 2 },
    'a retried abort',
  );
  t.same(await c.endTransactionV2('t', pid, e + 1, true), { errorCode: ErrorCode.INVALID_TXN_STATE, producerId: -1, producerEpoch: -1 });
  t.same(
    await c.endTransactionV2('t', pid, e, false),
    { errorCode: ErrorCode.PRODUCER_FENCED, producerId: -1, producerEpoch: -1 },
    'two epochs back',
  );
});

t.test('TV2: an abort with nothing added is a transaction of its own (epoch bump, no marker)', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  t.same(
    await c.endTransactionV2('t', pid, e, false),
    { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 1 },
    'abort on Empty',
  );
  await c.settled();
  t.equal(markers.jobs.length, 0);
  t.equal(c.describe('t').transactionState, 'CompleteAbort');
  t.same(
    await c.endTransactionV2('t', pid, e + 1, false),
    { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 2 },
    'abort on CompleteAbort at the current epoch',
  );
  await c.settled();
  t.same(await c.endTransactionV2('t', pid, e + 2, true), { errorCode: ErrorCode.INVALID_TXN_STATE, producerId: -1, producerEpoch: -1 });
});

t.test('TV2: while the markers are written a retry waits; the bumped epoch is fenced until then', async (t) => {
  const { c, markers } = await setup(t);
  const { producerId: pid, producerEpoch: e } = await c.initProducerId('t', 60_000, -1, -1);
  await c.addPartitions('t', pid, e, [tp('x', 0)]);
  let open!: () => void;
  markers.gate = new Promise((r) => (open = r));
  t.same(await c.endTransactionV2('t', pid, e, true), { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: e + 1 });
  t.equal(c.describe('t').transactionState, 'PrepareCommit');
  t.equal((await c.endTransactionV2('t', pid, e, true)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS, 'a retry');
  t.equal((await c.endTransactionV2('t', pid, e + 1, true)).errorCode, ErrorCode.PRODUCER_FENCED, 'Prepare states take only retries');
  t.equal(await c.addPartitions('t', pid, e + 1, [tp('x', 0)]), ErrorCode.CONCURRENT_TRANSACTIONS, 'the next transaction waits');
  open();
  await c.settled();
  t.equal(await c.addPartitions('t', pid, e + 1, [tp('x', 0)]), ErrorCode.NONE);
});

t.test('TV2: an exhausted epoch continues with a new producer id at epoch 0; the markers carry the old id', async (t) => {
  const store = new MemoryMetadataStore();
  const id = 'old-producer';
  const record: TxnRecord = {
    transactionalId: id,
    producerId: 77,
    lastProducerId: -1,
    producerEpoch: 32766,
    lastProducerEpoch: 32765,
    timeoutMs: 60_000,
    state: 'Ongoing',
    partitions: [['x', 0]],
    txnStartTimestamp: 1_000_000,
    lastUpdateTimestamp: 1_000_000,
  };
  await store.txn([], [{ type: 'put', key: txnKey(coordinatorPartitionOf(id), id), value: JSON.stringify(record) }]);
  const { c, markers } = await setup(t, store);
  t.same(await c.endTransactionV2(id, 77, 32766, true), { errorCode: ErrorCode.NONE, producerId: 77, producerEpoch: 32767 });
  await c.settled();
  t.match(markers.jobs[0], { producerId: 77, producerEpoch: 32767, commit: true });
  t.match(c.describe(id), { transactionState: 'CompleteCommit', producerId: 1000, producerEpoch: 0 });
  const stored = JSON.parse((await store.get(txnKey(coordinatorPartitionOf(id), id)))!.value) as TxnRecord;
  t.match(stored, { producerId: 1000, producerEpoch: 0, lastProducerId: 77, nextProducerId: -1 });
  t.same(
    await c.endTransactionV2(id, 77, 32766, true),
    { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 },
    'a retry over the overflow',
  );
  t.equal(await c.addPartitions(id, 77, 32767, [tp('x', 0)]), ErrorCode.INVALID_PRODUCER_ID_MAPPING, 'the old id is done');
  t.equal(await c.addPartitions(id, 1000, 0, [tp('x', 0)]), ErrorCode.NONE);
});
