// Producer state of idempotent producers: Kafka's duplicate, epoch and sequence rules (ProducerStateManager /
// ProducerAppendInfo after KIP-360), sequence wrap-around, expiry, the per-partition bound, snapshots and
// rebuilding from batch headers.
import t from 'tap';
import { ProducerStateManager, batchesToRetain, inSequence, peekProducerId } from '../../../broker/log/producer-state.ts';
import { advanceSnapshot } from '../../../broker/log/producer-state-load.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';

const settings = { expirationMs: 1000, maxProducers: 3 };
const INT32_MAX = 0x7fffffff;

function batch(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  count: number,
  baseOffset: number,
  timestampMs = 100,
): Buffer {
  const b = buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`), timestampMs })),
    { producerId, producerEpoch, baseSequence },
  );
  assignOffsets(b, baseOffset, 0);
  return b;
}

t.test('in sequence, with wrap-around at INT32_MAX', async (t) => {
  t.ok(inSequence(-1, 0));
  t.ok(inSequence(4, 5));
  t.notOk(inSequence(4, 6));
  t.notOk(inSequence(4, 4));
  t.ok(inSequence(INT32_MAX, 0));
  t.notOk(inSequence(INT32_MAX, 1));
});

t.test('unknown producers are accepted with any sequence (KIP-360)', async (t) => {
  const m = new ProducerStateManager(settings);
  t.same(m.check(7, 0, 0, 4), { kind: 'append' });
  t.same(m.check(7, 3, 42, 50), { kind: 'append' });
});

t.test('duplicates of the last five batches; older ones are out of order', async (t) => {
  const m = new ProducerStateManager(settings);
  for (let i = 0; i < 7; i++) {
    t.equal(m.check(1, 0, i * 10, i * 10 + 9).kind, 'append', `batch ${i} appends`);
    m.update(1, 0, i * 10, i * 10 + 9, i * 100, i * 100 + 9, 100 + i);
  }
  t.equal(m.entry(1)!.batches.length, batchesToRetain);
  for (let i = 2; i < 7; i++) {
    const c = m.check(1, 0, i * 10, i * 10 + 9);
    t.equal(c.kind, 'duplicate', `batch ${i} is a duplicate`);
    if (c.kind === 'duplicate') t.same([c.batch.firstOffset, c.batch.lastOffset], [i * 100, i * 100 + 9], 'with its original offsets');
  }
  const old = m.check(1, 0, 10, 19);
  t.equal(old.kind === 'error' && old.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a batch older than the last five');
  const partial = m.check(1, 0, 60, 65);
  t.equal(
    partial.kind === 'error' && partial.errorCode,
    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    'same first sequence, other last: not a duplicate',
  );
  const gap = m.check(1, 0, 71, 75);
  t.equal(gap.kind === 'error' && gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a gap');
  t.equal(m.check(1, 0, 70, 75).kind, 'append', 'the next sequence');
});

t.test('epochs: older is fenced, newer must start at 0 and resets the batches', async (t) => {
  const m = new ProducerStateManager(settings);
  m.update(1, 2, 0, 4, 0, 4, 100);
  const older = m.check(1, 1, 5, 9);
  t.equal(older.kind === 'error' && older.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
  const olderDup = m.check(1, 1, 0, 4);
  t.equal(
    olderDup.kind === 'error' && olderDup.errorCode,
    ErrorCode.INVALID_PRODUCER_EPOCH,
    'a batch of another epoch is never a duplicate',
  );
  const newerNotZero = m.check(1, 3, 5, 9);
  t.equal(newerNotZero.kind === 'error' && newerNotZero.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  t.equal(m.check(1, 3, 0, 9).kind, 'append');
  m.update(1, 3, 0, 9, 5, 14, 100);
  t.equal(m.entry(1)!.epoch, 3);
  t.equal(m.entry(1)!.batches.length, 1, 'batches of the old epoch are dropped');
  t.equal(m.check(1, 3, 0, 9).kind, 'duplicate');
});

t.test('sequence wrap-around in a batch and across batches', async (t) => {
  const m = new ProducerStateManager(settings);
  m.update(1, 0, INT32_MAX - 1, 0, 0, 2, 100); // INT32_MAX-1, INT32_MAX, 0
  t.equal(m.check(1, 0, 1, 3).kind, 'append');
  t.equal(m.check(1, 0, INT32_MAX - 1, 0).kind, 'duplicate');
  const m2 = new ProducerStateManager(settings);
  m2.update(1, 0, INT32_MAX - 1, INT32_MAX, 0, 1, 100);
  t.equal(m2.check(1, 0, 0, 4).kind, 'append', '0 follows INT32_MAX');
});

t.test('expiry by the last batch timestamp; bound on producers (least recently written goes)', async (t) => {
  const m = new ProducerStateManager(settings);
  m.update(1, 0, 0, 0, 0, 0, 1000);
  m.update(2, 0, 0, 0, 1, 1, 1500);
  t.equal(m.expire(2000), 1, 'producer 1 expired at exactly expirationMs');
  t.notOk(m.entry(1));
  t.ok(m.entry(2));
  m.update(3, 0, 0, 0, 2, 2, 1600);
  m.update(4, 0, 0, 0, 3, 3, 1700);
  m.update(2, 0, 1, 1, 4, 4, 1800); // 2 is now the most recent
  m.update(5, 0, 0, 0, 5, 5, 1900);
  t.equal(m.size, 3);
  t.notOk(m.entry(3), 'least recently written evicted');
  t.equal(m.evicted, 1);
  m.truncateHead(4);
  t.same([...m.entries()].map((e) => e.producerId).sort(), [2, 5], 'producers wholly below the log start go');
});

t.test('snapshots round-trip; applyBatches and advanceSnapshot read only batch headers', async (t) => {
  const m = new ProducerStateManager({ expirationMs: 1e12, maxProducers: 100 });
  const data = Buffer.concat([
    batch(9, 0, 0, 3, 0),
    batch(-1, -1, -1, 2, 3),
    batch(9, 0, 3, 2, 5),
    batch(11, 4, 100, 1, 7),
    batch(9, 1, 0, 1, 8),
  ]);
  m.applyBatches(data, 0);
  t.equal(m.entry(9)!.epoch, 1);
  t.same(
    m.entry(9)!.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset]),
    [[0, 0, 8, 8]],
  );
  t.same(
    m.entry(11)!.batches.map((b) => [b.firstSeq, b.lastSeq, b.firstOffset, b.lastOffset]),
    [[100, 100, 7, 7]],
  );
  const snap = m.toSnapshot(9);
  const back = ProducerStateManager.fromSnapshot(JSON.parse(JSON.stringify(snap)), settings);
  t.same(back.toSnapshot(9), snap);
  t.equal(back.check(11, 4, 100, 100).kind, 'duplicate');

  const s1 = advanceSnapshot(null, [data.subarray(0, data.length)], 9, 0, 200, { expirationMs: 1e12, maxProducers: 100 });
  t.same(s1, snap, 'compaction computes the same snapshot');
  const more = batch(11, 4, 101, 2, 9);
  const s2 = advanceSnapshot(s1, [data, more], 11, 0, 200, { expirationMs: 1e12, maxProducers: 100 });
  t.equal(s2.offset, 11);
  const m2 = ProducerStateManager.fromSnapshot(s2, settings);
  t.same(
    m2.entry(11)!.batches.map((b) => b.firstOffset),
    [7, 9],
    'batches below the base snapshot are not applied twice',
  );
  t.equal(advanceSnapshot(s2, [data], 9, 0, 200, settings), s2, 'a merge of older segments keeps the snapshot');
  const expired = advanceSnapshot(s2, [more], 12, 0, 1e13, { expirationMs: 1000, maxProducers: 100 });
  t.same(expired.producers, [], 'expired producers are not snapshotted');
});

t.test('peekProducerId', async (t) => {
  t.equal(peekProducerId(batch(77, 0, 0, 1, 0)), 77);
  t.equal(peekProducerId(batch(-1, -1, -1, 1, 0)), -1);
  t.equal(peekProducerId(null), -1);
  t.equal(peekProducerId(Buffer.alloc(10)), -1);
});

t.test('rebuild from a snapshot plus the tail: correct, bounded to the tail, and its cost', async (t) => {
  const { PartitionLog } = await import('../../../broker/log/partition-log.ts');
  const { producerStateStats } = await import('../../../broker/log/producer-state.ts');
  const { producerStateOf } = await import('../../../broker/log/producer-state-load.ts');
  // 16,384 batches of 10 records from 64 producers, then a snapshot at offset 81,920 (half-way).
  const producers = 64;
  const total = 16_384;
  const parts: Buffer[] = [];
  const seq = new Map<number, number>();
  for (let i = 0; i < total; i++) {
    const pid = 1000 + (i % producers);
    const s = seq.get(pid) ?? 0;
    parts.push(batch(pid, 0, s, 10, i * 10, Date.now()));
    seq.set(pid, s + 10);
  }
  const all = Buffer.concat(parts);
  const half = Buffer.concat(parts.slice(0, total / 2));
  const snapshot = advanceSnapshot(null, [half], (total / 2) * 10, 0, Date.now(), { expirationMs: 1e12, maxProducers: 1000 });
  t.equal(snapshot.producers.length, producers);
  const log = new PartitionLog({
    topicId: 'x',
    topicName: 'x',
    partition: 0,
    leaderEpoch: 0,
    logStartOffset: 0,
    onHighWatermark: () => {},
    extents: [
      {
        baseOffset: 0,
        lastOffset: total * 10 - 1,
        maxTimestamp: 0,
        objectKey: 'k',
        position: 0,
        lengthBytes: all.length,
        segment: false,
        objectSizeBytes: all.length,
      },
    ],
  });
  log.producerSnapshot = snapshot;
  // The reader serves whole batches from `offset` (as LogManager.read does), in 1 MiB pieces.
  const starts: number[] = [];
  let pos = 0;
  for (const p of parts) {
    starts.push(pos);
    pos += p.length;
  }
  let readFrom = Infinity;
  const reader = async (_l: unknown, offset: number, maxBytes: number) => {
    readFrom = Math.min(readFrom, offset);
    const first = Math.floor(offset / 10);
    if (first >= total) return null;
    let end = first;
    while (end < total && starts[end]! - starts[first]! < Math.min(maxBytes, 1024 * 1024)) end++;
    return all.subarray(starts[first]!, end < total ? starts[end]! : all.length);
  };
  const before = { ...producerStateStats };
  const started = process.hrtime.bigint();
  const [m1, m2] = await Promise.all([producerStateOf(log, reader, settingsBig()), producerStateOf(log, reader, settingsBig())]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.equal(m1, m2, 'concurrent callers share one rebuild');
  t.equal(producerStateStats.loads - before.loads, 1);
  t.equal(readFrom, (total / 2) * 10, 'the scan starts at the snapshot, not at the log start');
  t.equal(producerStateStats.batchesScanned - before.batchesScanned, total / 2, 'only the tail is scanned');
  for (let p = 0; p < producers; p++) {
    const e = m1.entry(1000 + p)!;
    t.equal(e.batches.length, 5);
    const last = e.batches[4]!;
    if (p === 0) t.same([last.firstSeq, last.lastSeq], [(total / producers - 1) * 10, (total / producers - 1) * 10 + 9]);
    if (m1.check(1000 + p, 0, last.firstSeq, last.lastSeq).kind !== 'duplicate') t.fail(`producer ${p}: last batch not a duplicate`);
  }
  t.comment(
    `rebuild of ${total / 2} batches (${(all.length / 2 / 1048576).toFixed(1)} MiB of tail) in memory: ${ms.toFixed(1)} ms, ${((ms * 1000) / (total / 2)).toFixed(2)} µs per batch`,
  );
  t.ok(ms < 5000);
  log.abandonUnflushed(new Error('abandoned'));
  t.equal(log.producerState, null, 'abandoned appends drop the state: rebuilt before the next idempotent batch');
});

function settingsBig() {
  return { expirationMs: 1e12, maxProducers: 1000 };
}

t.test('a rebuild whose read finds its object collected reads the log again', async (t) => {
  const { PartitionLog } = await import('../../../broker/log/partition-log.ts');
  const { producerStateOf } = await import('../../../broker/log/producer-state-load.ts');
  const { ObjectNotFoundError } = await import('../../../broker/storage/object-store.ts');
  const data = Buffer.concat([batch(1, 0, 0, 2, 0, Date.now()), batch(2, 0, 0, 2, 2, Date.now())]);
  const extent = { baseOffset: 0, lastOffset: 3, maxTimestamp: 0, objectKey: 'k', position: 0, lengthBytes: data.length, segment: false };
  const log = new PartitionLog({
    topicId: 'x',
    topicName: 'x',
    partition: 0,
    leaderEpoch: 0,
    logStartOffset: 0,
    onHighWatermark: () => {},
    extents: [{ ...extent, objectSizeBytes: data.length }],
  });
  let reads = 0;
  // The first read races with collection: its object is gone (the extent now names a segment holding the same batches).
  const reader = async () => {
    if (++reads === 1) throw new ObjectNotFoundError('wal/1');
    return data;
  };
  const m = await producerStateOf(log, reader, settingsBig());
  t.equal(reads, 2);
  t.same([m.entry(1)?.batches.length, m.entry(2)?.batches.length], [1, 1]);
  // An object that stays gone is an error after a few tries, not a loop.
  log.abandonUnflushed(new Error('again'));
  let failing = 0;
  await t.rejects(
    producerStateOf(
      log,
      async () => {
        failing++;
        throw new ObjectNotFoundError('wal/1');
      },
      settingsBig(),
    ),
    ObjectNotFoundError,
  );
  t.ok(failing > 1 && failing < 10, `${failing} reads`);
});
