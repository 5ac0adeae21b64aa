// Transactions in a partition's producer state (broker/log/producer-state.ts, spec/transactions.md): open
// transactions and the last stable offset, markers ending them, the aborted-transaction index for Fetch, the
// checks on transactional writes and markers, and the snapshot round trip (open transactions, coordinator
// epochs and aborted transactions survive a rebuild).
import t from 'tap';
import { ProducerStateManager, defaultProducerStateSettings } from '../../../broker/log/producer-state.ts';
import { controlTypeOf } from '../../../broker/protocol/records/control.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { buildEndTxnMarkerBatch } from '../../../broker/protocol/records/control.ts';
import { ControlRecordType } from '../../../broker/protocol/records/constants.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';

function data(baseOffset: number, producerId: number, epoch: number, baseSequence: number, count: number, transactional = true): Buffer {
  return buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestampMs: 1000 })),
    { baseOffset, producerId, producerEpoch: epoch, baseSequence, transactional },
  );
}
function marker(baseOffset: number, producerId: number, epoch: number, commit: boolean, coordinatorEpoch = 0): Buffer {
  return buildEndTxnMarkerBatch({
    type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
    coordinatorEpoch,
    producerId,
    producerEpoch: epoch,
    timestampMs: 2000,
    baseOffset,
  });
}

t.test('control type and LSO through a log of two interleaved transactions', async (t) => {
  t.equal(controlTypeOf(marker(0, 1, 0, true), 0), ControlRecordType.COMMIT);
  t.equal(controlTypeOf(marker(0, 1, 0, false), 0), ControlRecordType.ABORT);
  const m = new ProducerStateManager(defaultProducerStateSettings);
  // offsets: 0-1 p1 txn, 2-3 p2 txn, 4 plain (non-transactional, pid -1), 5 p1 commit marker, 6-7 p2, 8 p2 abort marker
  const log = Buffer.concat([
    data(0, 1, 0, 0, 2),
    data(2, 2, 0, 0, 2),
    buildRecordBatch([{ key: null, value: Buffer.from('x'), timestampMs: 1 }], { baseOffset: 4 }),
    marker(5, 1, 0, true, 3),
    data(6, 2, 0, 2, 2),
    marker(8, 2, 0, false, 3),
  ]);
  m.applyBatches(log.subarray(0, log.indexOf(marker(5, 1, 0, true, 3))), 0);
  t.equal(m.ongoingCount, 2);
  t.equal(m.lastStableOffset(5), 0, 'LSO at the oldest open transaction');
  t.equal(m.lastStableOffset(0), 0);
  const m2 = new ProducerStateManager(defaultProducerStateSettings);
  m2.applyBatches(log, 0);
  t.equal(m2.ongoingCount, 0);
  t.equal(m2.lastStableOffset(9), 9, 'everything decided and durable: LSO = HW');
  t.same(m2.abortedTxns(0, 9), [{ producerId: 2, firstOffset: 2, lastOffset: 8 }]);
  t.same(m2.abortedTxns(9, 20), [], 'after the abort marker');
  t.same(m2.abortedTxns(0, 2), [], 'fetched range ends before the aborted transaction');
  t.equal(m2.entry(1)!.coordinatorEpoch, 3);
  t.equal(m2.entry(2)!.currentTxnFirstOffset, -1);
});

t.test('a marker not yet durable keeps the LSO at its transaction (unreplicated)', async (t) => {
  const m = new ProducerStateManager(defaultProducerStateSettings);
  m.applyBatches(data(0, 1, 0, 0, 3), 0);
  t.equal(m.lastStableOffset(3), 0);
  m.completeTxn(1, 0, true, 0, 3, 2000); // marker appended at offset 3, HW still 3
  t.equal(m.lastStableOffset(3), 0, 'marker not durable: the transaction is not decided for readers');
  t.equal(m.lastStableOffset(4), 4, 'marker durable');
});

t.test('checks: non-transactional write during a transaction, stale markers', async (t) => {
  const m = new ProducerStateManager(defaultProducerStateSettings);
  m.update(1, 0, 0, 1, 0, 1, 1000, true);
  const c = m.check(1, 0, 2, 2, false);
  t.equal(c.kind === 'error' && c.errorCode, ErrorCode.INVALID_TXN_STATE);
  t.equal(m.check(1, 0, 2, 2, true).kind, 'append');
  t.equal(m.checkMarker(1, 0, 0), null);
  m.completeTxn(1, 1, false, 5, 2, 2000); // abort with a bumped epoch from coordinator epoch 5
  t.equal(m.checkMarker(1, 0, 5)?.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  t.equal(m.checkMarker(1, 1, 4)?.errorCode, ErrorCode.TRANSACTION_COORDINATOR_FENCED);
  const old = m.check(1, 0, 2, 2, true);
  t.equal(old.kind === 'error' && old.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'the fenced epoch cannot write');
  t.equal(m.check(1, 1, 0, 0, true).kind, 'append', 'the bumped epoch starts at sequence 0');
});

t.test('snapshot round trip keeps open transactions, coordinator epochs and aborted transactions; truncation', async (t) => {
  const m = new ProducerStateManager(defaultProducerStateSettings);
  m.applyBatches(Buffer.concat([data(0, 1, 0, 0, 2), marker(2, 1, 0, false, 7), data(3, 2, 0, 0, 2), data(5, 1, 0, 2, 1)]), 0);
  const snap = m.toSnapshot(6);
  t.ok(snap.txns && snap.aborted);
  const r = ProducerStateManager.fromSnapshot(JSON.parse(JSON.stringify(snap)), defaultProducerStateSettings);
  t.equal(r.ongoingCount, 2);
  t.equal(r.lastStableOffset(6), 3);
  t.same(r.abortedTxns(0, 10), [{ producerId: 1, firstOffset: 0, lastOffset: 2 }]);
  t.equal(r.entry(1)!.coordinatorEpoch, 7);
  r.applyBatches(Buffer.concat([marker(6, 2, 0, true), marker(7, 1, 0, true)]), 6);
  t.equal(r.lastStableOffset(8), 8);
  r.truncateHead(3);
  t.same(r.abortedTxns(0, 10), [], 'aborted transactions below the log start are dropped');
});

t.test('lookups of the aborted index cost no allocation when nothing overlaps', async (t) => {
  const m = new ProducerStateManager(defaultProducerStateSettings);
  for (let i = 0; i < 1000; i++) m.applyBatches(Buffer.concat([data(i * 2, 1, 0, i, 1), marker(i * 2 + 1, 1, 0, false)]), i * 2);
  t.equal(m.abortedTxns(0, 2000).length, 1000);
  t.equal(m.abortedTxns(1500, 1600).length, 50);
  t.equal(m.abortedTxns(5000, 6000), m.abortedTxns(7000, 8000), 'the shared empty answer');
});
