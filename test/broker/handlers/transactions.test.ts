// The transaction APIs over a real socket (spec/transactions.md): InitProducerId with a transactional id,
// AddPartitionsToTxn (v3 and batched v4 with verifyOnly), transactional Produce, EndTxn, the last stable offset
// and aborted transactions in Fetch and ListOffsets, DescribeProducers, DescribeTransactions,
// ListTransactions, WriteTxnMarkers, AddOffsetsToTxn + TxnOffsetCommit (offsets visible only after the commit),
// and the aborted-transaction index after a restart (rebuilt from the log).
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { createTopic, produce, startBrokerIn } from './support/client.ts';
import type { TestClient } from './support/client.ts';
import { verificationStats } from '../../../broker/txn/verification.ts';
import { writeMarker } from '../../../broker/txn/partition-txn.ts';

async function txnProduce(
  client: TestClient,
  txid: string,
  pid: number,
  epoch: number,
  seq: number,
  topic: string,
  partition: number,
  count: number,
): Promise<any> {
  const records = buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`t${seq + i}`), timestampMs: Date.now() })),
    { producerId: pid, producerEpoch: epoch, baseSequence: seq, transactional: true },
  );
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: txid,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return r.responses[0].partitionResponses[0];
}

async function fetch(client: TestClient, topic: string, offset: number, isolationLevel: number): Promise<any> {
  const r = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  return r.responses[0].partitions[0];
}

async function latest(client: TestClient, topic: string, isolationLevel: number): Promise<number> {
  const r = await client.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
  });
  return Number(r.topics[0].partitions[0].offset);
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A broker in a fresh data directory, closed and removed when the test ends. */
async function startFresh(t: Test, sets: Record<string, string> = {}): Promise<TestClient> {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-txn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2', ...sets });
  t.teardown(() => b.close());
  return b.client;
}

t.test('a transaction end to end over the protocol, and after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-txn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2' });
  let client = b.client;
  await createTopic(client, 'tx', 1);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'h',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  t.equal(init.errorCode, 0);
  const pid = Number(init.producerId);
  const epoch = init.producerEpoch;
  const tooLong = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'h2',
    transactionTimeoutMs: 900001,
    producerId: -1,
    producerEpoch: -1,
  });
  t.equal(tooLong.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);

  const add = await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'h',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: epoch,
    v3AndBelowTopics: [
      { name: 'tx', partitions: [0] },
      { name: 'nope', partitions: [0] },
    ],
  });
  t.same(
    add.resultsByTopicV3AndBelow.map((x: any) => [x.name, x.resultsByPartition[0].partitionErrorCode]),
    [
      ['tx', ErrorCode.OPERATION_NOT_ATTEMPTED],
      ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
    ],
  );
  const add2 = await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'h',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: epoch,
    v3AndBelowTopics: [{ name: 'tx', partitions: [0] }],
  });
  t.equal(add2.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, 0);
  const verify = await client.request(ApiKey.AddPartitionsToTxn, 4, {
    transactions: [
      { transactionalId: 'h', producerId: pid, producerEpoch: epoch, verifyOnly: true, topics: [{ name: 'tx', partitions: [0, 1] }] },
    ],
  });
  t.same(
    verify.resultsByTransaction[0].topicResults[0].resultsByPartition.map((p: any) => p.partitionErrorCode),
    [0, ErrorCode.INVALID_TXN_STATE],
  );

  t.equal((await txnProduce(client, 'h', pid, epoch, 0, 'tx', 0, 3)).errorCode, 0);
  t.equal(await produce(client, 'tx', 0, 2), 3, 'a plain batch after the open transaction');
  const open = await fetch(client, 'tx', 0, 1);
  t.equal(Number(open.highWatermark), 5);
  t.equal(Number(open.lastStableOffset), 0, 'LSO at the open transaction');
  t.equal(open.records.length, 0, 'read_committed reads nothing past the LSO');
  const uncommitted = await fetch(client, 'tx', 0, 0);
  t.equal(Number(uncommitted.lastStableOffset), 0, 'read_uncommitted gets the real LSO too');
  t.ok(uncommitted.records.length > 0);
  t.equal(uncommitted.abortedTransactions, null);
  t.equal(await latest(client, 'tx', 1), 0, 'ListOffsets latest, read_committed: the LSO');
  t.equal(await latest(client, 'tx', 0), 5);
  const dp = await client.request(ApiKey.DescribeProducers, 0, { topics: [{ name: 'tx', partitionIndexes: [0] }] });
  const active = dp.topics[0].partitions[0].activeProducers;
  t.same(
    active.map((p: any) => [Number(p.producerId), p.lastSequence, Number(p.currentTxnStartOffset)]),
    [[pid, 2, 0]],
  );
  const dt = await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['h', 'unknown'] });
  t.same(
    dt.transactionStates.map((s: any) => [s.transactionalId, s.errorCode, s.transactionState]),
    [
      ['h', 0, 'Ongoing'],
      ['unknown', ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, ''],
    ],
  );
  t.same(dt.transactionStates[0].topics, [{ topic: 'tx', partitions: [0] }]);

  // Non-transactional write of the producer while its transaction is open: INVALID_TXN_STATE.
  const plain = buildRecordBatch([{ key: null, value: Buffer.from('p'), timestampMs: Date.now() }], {
    producerId: pid,
    producerEpoch: epoch,
    baseSequence: 3,
  });
  const bad = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: 'tx', partitionData: [{ index: 0, records: plain }] }],
  });
  t.equal(bad.responses[0].partitionResponses[0].errorCode, ErrorCode.INVALID_TXN_STATE);

  const end = await client.request(ApiKey.EndTxn, 3, { transactionalId: 'h', producerId: pid, producerEpoch: epoch, committed: false });
  t.equal(end.errorCode, 0);
  await waitFor('the abort marker', async () => Number((await fetch(client, 'tx', 0, 1)).lastStableOffset) === 6);
  const after = await fetch(client, 'tx', 0, 1);
  t.same(
    after.abortedTransactions.map((a: any) => [Number(a.producerId), Number(a.firstOffset)]),
    [[pid, 0]],
    'the aborted transaction is listed',
  );
  t.equal(await latest(client, 'tx', 1), 6);
  const lt = await client.request(ApiKey.ListTransactions, 1, {
    stateFilters: ['CompleteAbort'],
    producerIdFilters: [],
    durationFilter: -1,
  });
  await waitFor(
    'CompleteAbort',
    async () =>
      (await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['h'] })).transactionStates[0].transactionState ===
      'CompleteAbort',
  );
  t.ok(lt.errorCode === 0);

  // A marker sent by a coordinator elsewhere (WriteTxnMarkers): unknown topics answer UNKNOWN_TOPIC_OR_PARTITION.
  const wm = await client.request(ApiKey.WriteTxnMarkers, 1, {
    markers: [
      {
        producerId: pid,
        producerEpoch: epoch,
        transactionResult: true,
        coordinatorEpoch: 0,
        topics: [{ name: 'nope', partitionIndexes: [0] }],
      },
    ],
  });
  t.equal(wm.markers[0].topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

  // Offsets in a transaction: visible after the commit only.
  t.equal(
    (await client.request(ApiKey.AddOffsetsToTxn, 3, { transactionalId: 'h', producerId: pid, producerEpoch: epoch, groupId: 'g' }))
      .errorCode,
    0,
  );
  const toc = await client.request(ApiKey.TxnOffsetCommit, 3, {
    transactionalId: 'h',
    groupId: 'g',
    producerId: pid,
    producerEpoch: epoch,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: [{ name: 'tx', partitions: [{ partitionIndex: 0, committedOffset: 4, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
  });
  t.equal(toc.topics[0].partitions[0].errorCode, 0);
  const offsetOf = async () =>
    Number(
      (await client.request(ApiKey.OffsetFetch, 1, { groupId: 'g', topics: [{ name: 'tx', partitionIndexes: [0] }] })).topics[0]
        .partitions[0].committedOffset,
    );
  t.equal(await offsetOf(), -1, 'pending while the transaction is open');
  const stable = async (requireStable: boolean) =>
    (await client.request(ApiKey.OffsetFetch, 7, { groupId: 'g', topics: [{ name: 'tx', partitionIndexes: [0] }], requireStable }))
      .topics[0].partitions[0];
  const unstable = await stable(true);
  t.same(
    [unstable.errorCode, Number(unstable.committedOffset)],
    [ErrorCode.UNSTABLE_OFFSET_COMMIT, -1],
    'requireStable: UNSTABLE_OFFSET_COMMIT while a transactional commit is pending',
  );
  t.equal((await stable(false)).errorCode, ErrorCode.NONE, 'without requireStable: the last stable offset, no error');
  t.equal(
    (await client.request(ApiKey.EndTxn, 3, { transactionalId: 'h', producerId: pid, producerEpoch: epoch, committed: true })).errorCode,
    0,
  );
  await waitFor('the committed offset', async () => (await offsetOf()) === 4);
  t.pass('visible after the commit');
  const settled = await stable(true);
  t.same([settled.errorCode, Number(settled.committedOffset)], [ErrorCode.NONE, 4], 'requireStable after the commit: the offset');

  // Restart: the partition's producer state (with its aborted transaction) is rebuilt from the log.
  await b.close();
  b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2' });
  client = b.client;
  t.teardown(() => b.close());
  const again = await fetch(client, 'tx', 0, 1);
  t.equal(Number(again.lastStableOffset), 6);
  t.same(
    again.abortedTransactions.map((a: any) => [Number(a.producerId), Number(a.firstOffset)]),
    [[pid, 0]],
    'aborted transaction known after a restart',
  );
  const dt2 = await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['h'] });
  t.equal(dt2.transactionStates[0].transactionState, 'CompleteCommit', 'coordinator state persisted');
  const reinit = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'h',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  t.same([reinit.errorCode, Number(reinit.producerId), reinit.producerEpoch], [0, pid, epoch + 1], 'epoch bumped after the restart');
  t.equal(await offsetOf(), 4);
});

t.test('a timed-out transaction is aborted by the coordinator; its producer is fenced', async (t) => {
  const client = await startFresh(t, { 'transaction.abort.timed.out.transaction.cleanup.interval.ms': '100' });
  await createTopic(client, 'to', 1);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'slow',
    transactionTimeoutMs: 300,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = Number(init.producerId);
  await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'slow',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: init.producerEpoch,
    v3AndBelowTopics: [{ name: 'to', partitions: [0] }],
  });
  t.equal((await txnProduce(client, 'slow', pid, init.producerEpoch, 0, 'to', 0, 2)).errorCode, 0);
  await waitFor('the timeout abort', async () => Number((await fetch(client, 'to', 0, 1)).lastStableOffset) === 3);
  const f = await fetch(client, 'to', 0, 1);
  t.same(
    f.abortedTransactions.map((a: any) => Number(a.firstOffset)),
    [0],
  );
  const late = await txnProduce(client, 'slow', pid, init.producerEpoch, 2, 'to', 0, 1);
  t.equal(late.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'the fenced producer cannot write');
  const end = await client.request(ApiKey.EndTxn, 3, {
    transactionalId: 'slow',
    producerId: pid,
    producerEpoch: init.producerEpoch,
    committed: true,
  });
  t.equal(end.errorCode, ErrorCode.PRODUCER_FENCED);
});

async function lso(client: TestClient, topic: string, partition: number): Promise<{ hw: number; lso: number }> {
  const r = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      { topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = r.responses[0].partitions[0];
  return { hw: Number(p.highWatermark), lso: Number(p.lastStableOffset) };
}

t.test("KIP-890: a transaction's first batch in a partition is verified with the coordinator, so none can hang", async (t) => {
  const client = await startFresh(t);
  await createTopic(client, 'vf', 2);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'v',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = Number(init.producerId);
  const epoch = init.producerEpoch;
  await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'v',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: epoch,
    v3AndBelowTopics: [{ name: 'vf', partitions: [0] }],
  });

  const before = verificationStats.local;
  t.equal((await txnProduce(client, 'v', pid, epoch, 0, 'vf', 0, 2)).errorCode, ErrorCode.NONE, 'the added partition takes the batch');
  t.equal(verificationStats.local - before, 1, 'the first batch was verified');
  t.equal((await txnProduce(client, 'v', pid, epoch, 2, 'vf', 0, 2)).errorCode, ErrorCode.NONE);
  t.equal(verificationStats.local - before, 1, 'a later batch of the open transaction was not');

  const notAdded = await txnProduce(client, 'v', pid, epoch, 0, 'vf', 1, 1);
  t.same(
    [notAdded.errorCode, notAdded.errorMessage],
    [ErrorCode.INVALID_TXN_STATE, 'Partition was not added to the transaction'],
    'a partition never added is refused',
  );
  t.same(await lso(client, 'vf', 1), { hw: 0, lso: 0 }, 'and holds no open transaction');

  // The producer aborts; a batch of the old transaction that arrives late must not open a new one.
  t.equal(
    (await client.request(ApiKey.EndTxn, 3, { transactionalId: 'v', producerId: pid, producerEpoch: epoch, committed: false })).errorCode,
    0,
  );
  await waitFor('the abort marker', async () => (await lso(client, 'vf', 0)).lso === 5);
  const late = await txnProduce(client, 'v', pid, epoch, 4, 'vf', 0, 1);
  t.equal(late.errorCode, ErrorCode.INVALID_TXN_STATE, 'a late batch after the abort is refused');
  t.same(await lso(client, 'vf', 0), { hw: 5, lso: 5 }, 'the partition has no hanging transaction');

  // A newer epoch fences the old producer: its batches for a partition get INVALID_PRODUCER_EPOCH.
  const again = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'v',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  t.equal(again.producerEpoch, epoch + 1);
  const zombie = await txnProduce(client, 'v', pid, epoch, 0, 'vf', 1, 1);
  t.equal(zombie.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'the fenced producer cannot open a transaction');
  t.same(await lso(client, 'vf', 1), { hw: 0, lso: 0 });
});

t.test('KIP-890 guard: a marker that arrives while the coordinator is asked makes the batch retry', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-txn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2' });
  t.teardown(() => b.close());
  const client = b.client;
  await createTopic(client, 'gd', 1);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'gd',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = Number(init.producerId);
  const epoch = init.producerEpoch;
  await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'gd',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: epoch,
    v3AndBelowTopics: [{ name: 'gd', partitions: [0] }],
  });
  // The coordinator says yes, but a marker of this producer reaches the partition before the answer does.
  const txn = b.broker.services.txn;
  const verify = txn.verify.bind(txn);
  let markers = 0;
  txn.verify = async (...args) => {
    const codes = await verify(...args);
    if (markers++ === 0) {
      t.equal(
        await writeMarker(b.broker.services, 'gd', 0, { producerId: pid, producerEpoch: epoch, commit: false, coordinatorEpoch: 0 }),
        ErrorCode.NONE,
        'a marker lands meanwhile',
      );
    }
    return codes;
  };
  const first = await txnProduce(client, 'gd', pid, epoch, 0, 'gd', 0, 1);
  t.same(
    [first.errorCode, first.errorMessage],
    [ErrorCode.NOT_ENOUGH_REPLICAS, "The producer's transaction changed while the partition was being verified; retry"],
    'the batch is not appended: retriable',
  );
  const again = await txnProduce(client, 'gd', pid, epoch, 0, 'gd', 0, 1);
  t.equal(again.errorCode, ErrorCode.NONE, 'the retry is verified again and appended');
  t.equal(Number(again.baseOffset), 1, 'after the marker');
});

t.test('with transaction.partition.verification.enable=false a batch can open a transaction the coordinator never heard of', async (t) => {
  const client = await startFresh(t, { 'transaction.partition.verification.enable': 'false' });
  await createTopic(client, 'nv', 1);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'nv',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const r = await txnProduce(client, 'nv', Number(init.producerId), init.producerEpoch, 0, 'nv', 0, 1);
  t.equal(r.errorCode, ErrorCode.NONE, 'accepted unverified');
  t.same(
    await lso(client, 'nv', 0),
    { hw: 1, lso: 0 },
    'the partition now holds a transaction nothing will end (what verification prevents)',
  );
});

t.test('after compaction the aborted transactions and open transactions come from the manifest snapshot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-txn-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sets = {
    'skafos.flush.linger.ms': '2',
    'skafos.compaction.interval.ms': '100',
    'skafos.compaction.min.age.ms': '0',
    'skafos.compaction.max.age.ms': '0',
  };
  let b = await startBrokerIn(dir, sets);
  let client = b.client;
  await createTopic(client, 'cx', 1);
  const topicId = b.broker.services.topics.byName('cx')!.id;
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'cx',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = Number(init.producerId);
  const epoch = init.producerEpoch;
  const addTx = () =>
    client.request(ApiKey.AddPartitionsToTxn, 3, {
      v3AndBelowTransactionalId: 'cx',
      v3AndBelowProducerId: pid,
      v3AndBelowProducerEpoch: epoch,
      v3AndBelowTopics: [{ name: 'cx', partitions: [0] }],
    });
  await addTx();
  t.equal((await txnProduce(client, 'cx', pid, epoch, 0, 'cx', 0, 2)).errorCode, 0); // offsets 0-1
  t.equal(
    (await client.request(ApiKey.EndTxn, 3, { transactionalId: 'cx', producerId: pid, producerEpoch: epoch, committed: false })).errorCode,
    0,
  ); // marker 2
  await waitFor('the marker', async () => Number((await fetch(client, 'cx', 0, 1)).lastStableOffset) === 3);
  await waitFor(
    'CompleteAbort',
    async () =>
      (await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['cx'] })).transactionStates[0].transactionState ===
      'CompleteAbort',
  );
  await addTx();
  t.equal((await txnProduce(client, 'cx', pid, epoch, 2, 'cx', 0, 2)).errorCode, 0); // offsets 3-4, left open
  const log = () => b.broker.services.logs.partition(topicId, 0)!;
  await waitFor('a snapshot covering the open transaction', async () => (log().producerSnapshot?.offset ?? 0) >= 5);
  const snap = log().producerSnapshot!;
  t.same(snap.aborted, [pid, 0, 2], 'the aborted transaction is in the manifest snapshot');
  t.same(snap.txns, [pid, 3, 0], 'and the open one, with its first offset and coordinator epoch');
  await b.close();
  b = await startBrokerIn(dir, sets);
  client = b.client;
  t.teardown(() => b.close());
  const f = await fetch(client, 'cx', 0, 1);
  t.equal(Number(f.lastStableOffset), 3, 'LSO at the open transaction, restored from the snapshot');
  t.same(
    f.abortedTransactions.map((a: any) => [Number(a.producerId), Number(a.firstOffset)]),
    [[pid, 0]],
  );
  t.equal(await latest(client, 'cx', 1), 3);
  // The coordinator still has the transaction open: committing it moves the LSO to the end.
  t.equal(
    (await client.request(ApiKey.EndTxn, 3, { transactionalId: 'cx', producerId: pid, producerEpoch: epoch, committed: true })).errorCode,
    0,
  );
  await waitFor('the commit marker', async () => Number((await fetch(client, 'cx', 0, 1)).lastStableOffset) === 6);
  t.pass('committed after the restart');
});

t.test(
  'transaction version 2 (KIP-890 part 2): Produce v12 and TxnOffsetCommit v5 add implicitly, EndTxn v5 bumps the epoch',
  async (t) => {
    const client = await startFresh(t);
    await createTopic(client, 'tv2', 1);
    const init = await client.request(ApiKey.InitProducerId, 5, {
      transactionalId: 'v2',
      transactionTimeoutMs: 60000,
      producerId: -1,
      producerEpoch: -1,
    });
    const pid = Number(init.producerId);
    const e = init.producerEpoch;
    const produceV12 = async (epoch: number, seq: number) => {
      const records = buildRecordBatch([{ key: null, value: Buffer.from(`v2-${epoch}-${seq}`), timestampMs: Date.now() }], {
        producerId: pid,
        producerEpoch: epoch,
        baseSequence: seq,
        transactional: true,
      });
      const r = await client.request(ApiKey.Produce, 12, {
        transactionalId: 'v2',
        acks: -1,
        timeoutMs: 10000,
        topicData: [{ name: 'tv2', partitionData: [{ index: 0, records }] }],
      });
      return r.responses[0].partitionResponses[0];
    };
    const endTxn = (epoch: number, committed: boolean) =>
      client.request(ApiKey.EndTxn, 5, { transactionalId: 'v2', producerId: pid, producerEpoch: epoch, committed });
    const describe = async () => (await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['v2'] })).transactionStates[0];

    // No AddPartitionsToTxn: the first batch adds its partition.
    const p0 = await produceV12(e, 0);
    t.equal(p0.errorCode, ErrorCode.NONE, 'Produce v12 without AddPartitionsToTxn');
    t.match(await describe(), { transactionState: 'Ongoing', topics: [{ topic: 'tv2', partitions: [0] }] });
    // No AddOffsetsToTxn: TxnOffsetCommit v5 adds the group's offsets partition.
    const oc = await client.request(ApiKey.TxnOffsetCommit, 5, {
      transactionalId: 'v2',
      groupId: 'g-v2',
      producerId: pid,
      producerEpoch: e,
      generationIdOrMemberEpoch: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [{ name: 'tv2', partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null }] }],
    });
    t.equal(oc.topics[0].partitions[0].errorCode, ErrorCode.NONE, 'TxnOffsetCommit v5 without AddOffsetsToTxn');
    t.equal((await describe()).topics.length, 2, 'the offsets partition is in the transaction');

    const committed = await endTxn(e, true);
    t.same(
      [committed.errorCode, Number(committed.producerId), committed.producerEpoch],
      [ErrorCode.NONE, pid, e + 1],
      'EndTxn v5 answers the bumped epoch',
    );
    await waitFor('the commit to be decided', async () => (await latest(client, 'tv2', 1)) === 2);
    const f = await client.request(ApiKey.OffsetFetch, 7, {
      groupId: 'g-v2',
      topics: [{ name: 'tv2', partitionIndexes: [0] }],
      requireStable: true,
    });
    t.equal(Number(f.topics[0].partitions[0].committedOffset), 5, 'the transactional offsets are committed');
    const retried = await endTxn(e, true);
    t.same([retried.errorCode, retried.producerEpoch], [ErrorCode.NONE, e + 1], 'a retried EndTxn with the old epoch gets the same answer');

    // A zombie at the old epoch: its batch and its EndTxn are fenced.
    t.equal((await produceV12(e, 1)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'a batch of the old epoch');
    t.equal((await endTxn(e - 1, false)).errorCode, ErrorCode.PRODUCER_FENCED);

    // The next transaction, at the bumped epoch (sequences restart at 0), aborted.
    t.equal((await produceV12(e + 1, 0)).errorCode, ErrorCode.NONE);
    const aborted = await endTxn(e + 1, false);
    t.same([aborted.errorCode, aborted.producerEpoch], [ErrorCode.NONE, e + 2]);
    await waitFor('the abort to be decided', async () => (await latest(client, 'tv2', 1)) === 4);
    const rc = await fetch(client, 'tv2', 0, 1);
    t.same(
      rc.abortedTransactions.map((a: any) => [Number(a.producerId), Number(a.firstOffset)]),
      [[pid, 2]],
      'read_committed sees the aborted transaction',
    );
    const d = await describe();
    t.match(d, { transactionState: 'CompleteAbort', producerEpoch: e + 2 });
  },
);

t.test('transaction version 1 is unchanged: Produce v11 needs AddPartitionsToTxn, EndTxn v4 keeps the epoch', async (t) => {
  const client = await startFresh(t, { 'skafos.transaction.version': '1' });
  await createTopic(client, 'tv1', 1);
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: 'v1',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const pid = Number(init.producerId);
  const e = init.producerEpoch;
  const notAdded = await txnProduce(client, 'v1', pid, e, 0, 'tv1', 0, 1);
  t.equal(notAdded.errorCode, ErrorCode.INVALID_TXN_STATE, 'a partition never added is refused (verification)');
  const records = buildRecordBatch([{ key: null, value: Buffer.from('v11'), timestampMs: Date.now() }], {
    producerId: pid,
    producerEpoch: e,
    baseSequence: 0,
    transactional: true,
  });
  const v11 = await client.request(ApiKey.Produce, 11, {
    transactionalId: 'v1',
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: 'tv1', partitionData: [{ index: 0, records }] }],
  });
  t.equal(
    v11.responses[0].partitionResponses[0].errorCode,
    ErrorCode.TRANSACTION_ABORTABLE,
    'Produce v11+: TRANSACTION_ABORTABLE (as Kafka 4.4)',
  );
  const add = await client.request(ApiKey.AddPartitionsToTxn, 3, {
    v3AndBelowTransactionalId: 'v1',
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: e,
    v3AndBelowTopics: [{ name: 'tv1', partitions: [0] }],
  });
  t.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
  t.equal((await txnProduce(client, 'v1', pid, e, 0, 'tv1', 0, 1)).errorCode, ErrorCode.NONE);
  const end = await client.request(ApiKey.EndTxn, 4, { transactionalId: 'v1', producerId: pid, producerEpoch: e, committed: true });
  t.equal(end.errorCode, ErrorCode.NONE);
  await waitFor('the commit', async () => (await latest(client, 'tv1', 1)) === 2);
  const d = (await client.request(ApiKey.DescribeTransactions, 0, { transactionalIds: ['v1'] })).transactionStates[0];
  t.match(d, { transactionState: 'CompleteCommit', producerEpoch: e }, 'no epoch bump');
});

t.test("AddPartitionsToTxn v5 without verifyOnly (another broker's implicit add) takes a group's offsets partition", async (t) => {
  const client = await startFresh(t);
  await createTopic(client, 'tv5', 1);
  const init = await client.request(ApiKey.InitProducerId, 5, {
    transactionalId: 'v5',
    transactionTimeoutMs: 60000,
    producerId: -1,
    producerEpoch: -1,
  });
  const add = (verifyOnly: boolean, topics: { name: string; partitions: number[] }[]) =>
    client.request(ApiKey.AddPartitionsToTxn, 5, {
      transactions: [{ transactionalId: 'v5', producerId: init.producerId, producerEpoch: init.producerEpoch, verifyOnly, topics }],
    });
  const codes = (r: any) =>
    r.resultsByTransaction[0].topicResults.flatMap((x: any) =>
      x.resultsByPartition.map((p: any) => [x.name, p.partitionIndex, p.partitionErrorCode]),
    );
  t.same(
    codes(
      await add(false, [
        { name: '__consumer_offsets', partitions: [7] },
        { name: 'tv5', partitions: [0] },
      ]),
    ),
    [
      ['__consumer_offsets', 7, ErrorCode.NONE],
      ['tv5', 0, ErrorCode.NONE],
    ],
  );
  t.same(
    codes(await add(true, [{ name: '__consumer_offsets', partitions: [7] }])),
    [['__consumer_offsets', 7, ErrorCode.NONE]],
    'now in the transaction',
  );
  t.same(
    codes(
      await add(false, [
        { name: '__consumer_offsets', partitions: [50] },
        { name: 'tv5', partitions: [0] },
      ]),
    ),
    [
      ['__consumer_offsets', 50, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ['tv5', 0, ErrorCode.OPERATION_NOT_ATTEMPTED],
    ],
    'beyond the 50 group coordinator partitions',
  );
});
