// PartitionLog on its own: offsets assigned at append, pending bytes taken whole by a flush, commits in order
// advance the high watermark and release durable waiters in offset order, abandoned appends are rejected and
// their offsets reused, and the extent list (recovery, lookups, compaction runs, log start moves).
import t from 'tap';
import { NotLeaderError, PartitionLog } from '../../../broker/log/partition-log.ts';
import type { Extent, TakenChunk } from '../../../broker/log/partition-log.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';

const topicId = 'AAAAAAAAAAAAAAAAAAAAAQ';

function batch(values: string[], timestampMs = 1_000): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })));
}

const patched: { baseOffset: number; leaderEpoch: number; logAppendTimeMs: number | null }[] = [];
function patch(records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null): void {
  patched.push({ baseOffset, leaderEpoch, logAppendTimeMs });
  // Several batches in one append get consecutive offsets, as the produce path assigns them.
  let offset = baseOffset;
  for (let pos = 0; pos < records.length; ) {
    assignOffsets(records.subarray(pos), offset, leaderEpoch);
    offset += records.readInt32BE(pos + 23) + 1;
    pos += 12 + records.readInt32BE(pos + 8);
  }
}

function extent(baseOffset: number, lastOffset: number, objectKey = `o-${baseOffset}`, maxTimestamp = baseOffset * 10): Extent {
  return { baseOffset, lastOffset, maxTimestamp, objectKey, position: 0, lengthBytes: 100, segment: false, objectSizeBytes: 200 };
}

function newLog(args: Partial<ConstructorParameters<typeof PartitionLog>[0]> = {}) {
  const highWatermarks: number[] = [];
  const log = new PartitionLog({
    topicId,
    topicName: 't',
    partition: 2,
    leaderEpoch: 5,
    logStartOffset: 0,
    extents: [],
    onHighWatermark: (l) => highWatermarks.push(l.highWatermark),
    ...args,
  });
  return { log, highWatermarks };
}

/** The extent a flush would report for a taken chunk. */
function extentOf(chunk: TakenChunk, objectKey: string): Extent {
  return {
    baseOffset: chunk.baseOffset,
    lastOffset: chunk.lastOffset,
    maxTimestamp: chunk.maxTimestamp,
    objectKey,
    position: 0,
    lengthBytes: chunk.data.length,
    segment: false,
    objectSizeBytes: chunk.data.length + 100,
  };
}

t.test('an empty log starts at 0; appends get consecutive offsets and the leader epoch', async (t) => {
  const { log } = newLog();
  t.match(log, { logStartOffset: 0, highWatermark: 0, nextOffset: 0, maxTimestamp: -1 });
  t.same(log.epochStarts, [{ epoch: 5, startOffset: 0 }]);
  patched.length = 0;
  const a = batch(['a', 'b', 'c']);
  t.same(log.append(a, 1, null, patch), { baseOffset: 0, lastOffset: 2 });
  const two = Buffer.concat([batch(['d'], 2_000), batch(['e', 'f'], 1_500)]);
  t.same(log.append(two, 2, 7_777, patch), { baseOffset: 3, lastOffset: 5 }, 'the last offset is read from the last batch');
  t.same(patched, [
    { baseOffset: 0, leaderEpoch: 5, logAppendTimeMs: null },
    { baseOffset: 3, leaderEpoch: 5, logAppendTimeMs: 7_777 },
  ]);
  t.equal(a.readBigInt64BE(0), 0n, 'the batch was patched in place');
  t.equal(log.nextOffset, 6);
  t.equal(log.highWatermark, 0, 'nothing is durable before a flush commits');
  t.equal(log.pendingBytes, a.length + two.length);
});

t.test('takePending hands over everything pending in one chunk, without a copy for a single append', async (t) => {
  const { log } = newLog();
  t.equal(log.takePending(), null, 'nothing pending');
  const a = batch(['a']);
  log.append(a, 1, null, patch);
  const one = log.takePending()!;
  t.equal(one.data, a, 'a single append is handed over as is');
  t.same({ ...one, data: undefined }, { baseOffset: 0, lastOffset: 0, maxTimestamp: 1_000, batchCount: 1, data: undefined });
  t.equal(log.pendingBytes, 0);
  t.equal(log.takePending(), null);
  const b = batch(['b', 'c'], 3_000);
  const c = Buffer.concat([batch(['d'], 2_000), batch(['e'], 2_500)]);
  log.append(b, 1, null, patch);
  log.append(c, 2, null, patch);
  const two = log.takePending()!;
  t.ok(two.data.equals(Buffer.concat([b, c])), 'appends concatenated in offset order');
  t.match(two, { baseOffset: 1, lastOffset: 4, maxTimestamp: 3_000, batchCount: 3 });
});

t.test('commits in order advance the high watermark and release waiters in offset order', async (t) => {
  const { log, highWatermarks } = newLog();
  const released: number[] = [];
  log.append(batch(['a', 'b']), 1, null, patch);
  const w1 = log.waitDurable(1).then(() => released.push(1));
  const first = log.takePending()!;
  log.append(batch(['c']), 1, null, patch);
  const w0 = log.waitDurable(0).then(() => released.push(0));
  const w2 = log.waitDurable(2).then(() => released.push(2));
  const second = log.takePending()!;
  t.throws(() => log.waitDurable(3), 'waiting for an offset never appended is a bug');
  log.commitFlushed(first, extentOf(first, 'w1'));
  await Promise.all([w0, w1]);
  t.equal(log.highWatermark, 2);
  t.same(released, [1, 0], 'both waiters below the high watermark are released, the third is not');
  log.commitFlushed(second, extentOf(second, 'w2'));
  await w2;
  t.same(released, [1, 0, 2]);
  t.same(highWatermarks, [2, 3], 'the listener hears every high watermark move');
  t.same(
    log.extents.map((e) => [e.objectKey, e.baseOffset, e.lastOffset]),
    [
      ['w1', 0, 1],
      ['w2', 2, 2],
    ],
  );
  let resolved = false;
  await log.waitDurable(1).then(() => (resolved = true));
  t.ok(resolved, 'an offset already durable resolves at once');
});

t.test('flushes commit in the order they were taken', async (t) => {
  const { log } = newLog();
  log.append(batch(['a']), 1, null, patch);
  log.takePending();
  log.append(batch(['b']), 1, null, patch);
  const second = log.takePending()!;
  t.throws(() => log.commitFlushed(second, extentOf(second, 'w2')), /in the order they were taken/);
  t.equal(log.highWatermark, 0);
  const other = newLog().log;
  other.append(batch(['a']), 1, null, patch);
  const chunk = other.takePending()!;
  t.throws(() => other.commitFlushed(chunk, { ...extentOf(chunk, 'w'), baseOffset: 5, lastOffset: 5 }), /continues the log/);
  t.equal(other.highWatermark, 0);
});

t.test('abandoned appends reject their waiters, give their offsets back, and later commits of them are ignored', async (t) => {
  const { log, highWatermarks } = newLog();
  log.append(batch(['a']), 1, null, patch);
  const durable = log.takePending()!;
  log.commitFlushed(durable, extentOf(durable, 'w1'));
  log.append(batch(['b', 'c']), 1, null, patch);
  const inFlight = log.takePending()!;
  log.append(batch(['d']), 1, null, patch);
  const w = [log.waitDurable(2), log.waitDurable(3)];
  log.producerState = {} as never;
  const resets = log.producerStateResets;
  const reason = new Error('fenced');
  log.abandonUnflushed(reason);
  for (const p of w) await t.rejects(p, reason);
  t.match(log, { highWatermark: 1, nextOffset: 1, pendingBytes: 0, producerState: null });
  t.equal(log.producerStateResets, resets + 1, 'the producer state is rebuilt from the log');
  t.equal(log.takePending(), null, 'nothing pending is left');
  log.commitFlushed(inFlight, extentOf(inFlight, 'late'));
  t.equal(log.highWatermark, 1, 'the late commit of an abandoned chunk is ignored');
  t.same(highWatermarks, [1]);
  t.same(log.append(batch(['again']), 1, null, patch), { baseOffset: 1, lastOffset: 1 }, 'offsets restart at the high watermark');
});

t.test('a released log refuses appends', async (t) => {
  const { log } = newLog();
  log.released = true;
  t.throws(() => log.append(batch(['a']), 1, null, patch), NotLeaderError);
  t.equal(log.nextOffset, 0);
  t.equal(log.pendingBytes, 0);
});

t.test('recovery: extents sorted, overlapping leftovers dropped, gaps refused, offsets continue', async (t) => {
  const { log } = newLog({
    logStartOffset: 3,
    extents: [extent(10, 19, 'b', 500), extent(0, 9, 'a', 900), extent(15, 24, 'stale'), extent(20, 29, 'c', 100)],
  });
  t.same(
    log.extents.map((e) => e.objectKey),
    ['a', 'b', 'c'],
    'an extent overlapping an earlier one (an older owner leftover) is dropped',
  );
  t.match(log, { logStartOffset: 3, highWatermark: 30, nextOffset: 30, maxTimestamp: 900, maxTimestampOffset: 9 });
  t.same(log.append(batch(['x']), 1, null, patch), { baseOffset: 30, lastOffset: 30 });
  t.throws(() => newLog({ extents: [extent(0, 9), extent(11, 20)] }), /gap before offset 11/);
  t.equal(newLog({ logStartOffset: 0, extents: [extent(5, 9)] }).log.logStartOffset, 5, 'log start is at least the first extent');
});

t.test('recovery after every extent was deleted: the log continues at the persisted log start', async (t) => {
  const { log } = newLog({ logStartOffset: 42, extents: [] });
  t.match(log, { logStartOffset: 42, highWatermark: 42, nextOffset: 42 });
  t.same(log.append(batch(['x']), 1, null, patch), { baseOffset: 42, lastOffset: 42 });
  const clamped = newLog({ logStartOffset: 99, extents: [extent(0, 9)] }).log;
  t.match(clamped, { logStartOffset: 99, highWatermark: 99, nextOffset: 99 }, 'a log start past the extents is the log end');
});

t.test('leader epoch history: earlier epochs kept, the current one starts at the log end', async (t) => {
  const { log } = newLog({
    leaderEpoch: 7,
    extents: [extent(0, 9), extent(10, 14)],
    epochHistory: [
      { epoch: 3, startOffset: 0 },
      { epoch: 6, startOffset: 8 },
      { epoch: 7, startOffset: 1 },
    ],
  });
  t.same(log.epochStarts, [
    { epoch: 3, startOffset: 0 },
    { epoch: 6, startOffset: 8 },
    { epoch: 7, startOffset: 15 },
  ]);
});

t.test('findExtent, indexOfRun and replaceRun', async (t) => {
  const extents = [extent(0, 9, 'a'), extent(10, 10, 'b'), extent(11, 30, 'c'), extent(31, 40, 'd')];
  const { log } = newLog({ extents });
  t.same(
    [0, 9, 10, 11, 30, 31, 40, 41, -1].map((o) => log.findExtent(o)),
    [0, 0, 1, 2, 2, 3, 3, -1, -1],
  );
  const run = log.extents.slice(1, 3);
  t.equal(log.indexOfRun(run), 1);
  t.equal(log.indexOfRun([log.extents[1]!, log.extents[3]!]), -1, 'not consecutive');
  t.equal(log.indexOfRun([]), -1);
  t.equal(log.indexOfRun([{ ...log.extents[1]! }]), -1, 'by identity, not by value');
  t.throws(() => log.replaceRun(run, { ...extent(10, 29, 'seg'), segment: true }), /ends where its run ends/);
  t.throws(() => log.replaceRun(run, { ...extent(11, 30, 'seg'), segment: true }), /starts where its run starts/);
  log.replaceRun(run, { ...extent(10, 30, 'seg'), segment: true });
  t.same(
    log.extents.map((e) => e.objectKey),
    ['a', 'seg', 'd'],
  );
  t.equal(log.indexOfRun(run), -1, 'a replaced run is gone');
  t.throws(() => log.replaceRun(run, extent(10, 30)), /still in the log/);
  t.equal(log.findExtent(20), 1);
});

t.test('advanceLogStart drops the extents wholly below it and never goes back', async (t) => {
  const { log } = newLog({ extents: [extent(0, 9, 'a'), extent(10, 19, 'b'), extent(20, 29, 'c')] });
  t.same(log.advanceLogStart(0), []);
  t.same(
    log.advanceLogStart(15).map((e) => e.objectKey),
    ['a'],
    'the extent holding the new start stays',
  );
  t.equal(log.logStartOffset, 15);
  t.same(log.advanceLogStart(12), [], 'a lower start is ignored');
  t.equal(log.logStartOffset, 15);
  t.same(
    log.advanceLogStart(20).map((e) => e.objectKey),
    ['b'],
  );
  t.throws(() => log.advanceLogStart(31), /cannot pass the high watermark/);
  t.same(
    log.advanceLogStart(30).map((e) => e.objectKey),
    ['c'],
    'up to the high watermark: every extent goes',
  );
  t.match(log, { logStartOffset: 30, highWatermark: 30, nextOffset: 30 });
  t.same(log.extents, []);
});
