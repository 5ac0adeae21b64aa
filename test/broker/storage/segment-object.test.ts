// The segment object format: batches, offset index, time index, footer; windows and timestamp lookups; damage
// and bad input are refused.
import t from 'tap';
import {
  buildSegmentObject,
  parseSegmentFooter,
  parseSegmentIndexes,
  segmentFooterBytes,
  segmentIndexesBytes,
  SegmentFormatError,
} from '../../../broker/storage/segment-object.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';

const topicId = 'AAAAAAAAAAAAAAAAAAAAAQ';

/** `n` batches of `records` records each, offsets from `base`, batch i timestamped `ts(i)`. */
function batches(base: number, n: number, records: number, ts: (i: number) => number, valueBytes = 100): Buffer[] {
  const out: Buffer[] = [];
  let offset = base;
  for (let i = 0; i < n; i++) {
    const b = buildRecordBatch(
      Array.from({ length: records }, (_, r) => ({ key: null, value: Buffer.alloc(valueBytes, 65 + ((i + r) % 26)), timestampMs: ts(i) })),
    );
    assignOffsets(b, offset, 0);
    offset += records;
    out.push(b);
  }
  return out;
}

function parse(object: Buffer) {
  const footerBytes = object.subarray(object.length - segmentFooterBytes);
  const footer = parseSegmentFooter(footerBytes, object.length);
  const indexes = object.subarray(footer.dataLengthBytes, footer.dataLengthBytes + segmentIndexesBytes(footer));
  return parseSegmentIndexes(indexes, footerBytes, footer);
}

t.test('layout: batches, indexes and footer round-trip', async (t) => {
  const input = batches(1000, 200, 3, (i) => 10_000 + i * 10);
  const chunks = [Buffer.concat(input.slice(0, 50)), Buffer.concat(input.slice(50, 120)), Buffer.concat(input.slice(120))];
  const built = buildSegmentObject({ topicId, partition: 7, chunks, indexIntervalBytes: 4096 });
  const object = Buffer.concat(built.body);
  t.equal(object.length, built.sizeBytes);
  t.equal(object.subarray(object.length - 8).toString('latin1'), 'SKAFOSS1');
  const dataBytes = input.reduce((n, b) => n + b.length, 0);
  t.ok(object.subarray(0, dataBytes).equals(Buffer.concat(input)), 'the batches come first, unchanged');
  const index = parse(object);
  t.same(index.footer, built.index.footer);
  t.same([...index.relOffsets], [...built.index.relOffsets]);
  t.same([...index.positions], [...built.index.positions]);
  t.same([...index.timestamps], [...built.index.timestamps]);
  const f = index.footer;
  t.match(f, {
    topicId,
    partition: 7,
    batchCount: 200,
    baseOffset: 1000,
    lastOffset: 1599,
    maxTimestamp: 10_000 + 199 * 10,
    dataLengthBytes: dataBytes,
  });
  t.equal(index.relOffsets[0], 0);
  t.equal(index.positions[0], 0);
  // All batches have the same size, so the sparse index is exact: an entry at the first batch, then at the first
  // batch starting at least indexIntervalBytes after the previous entry, i.e. every `stride` batches.
  const batchBytes = input[0]!.length;
  t.same(
    input.filter((b) => b.length !== batchBytes),
    [],
    'equal-sized batches',
  );
  const stride = Math.ceil(4096 / batchBytes);
  const entryBatches = Array.from({ length: Math.ceil(200 / stride) }, (_, e) => e * stride);
  t.ok(entryBatches.length > 5 && entryBatches.length < 200, `a sparse index (${entryBatches.length} entries of 200 batches)`);
  t.same(
    [...index.relOffsets],
    entryBatches.map((i) => 3 * i),
    'offset index: relative offsets',
  );
  t.same(
    [...index.positions],
    entryBatches.map((i) => i * batchBytes),
    'offset index: positions',
  );
  // Timestamps only grow here, so every offset entry is also a time entry, with its batch's max timestamp.
  t.same(
    [...index.timestamps],
    entryBatches.map((i) => 10_000 + i * 10),
    'time index: timestamps',
  );
  t.same(
    [...index.timeRelOffsets],
    entryBatches.map((i) => 3 * i),
    'time index: relative offsets',
  );
  // Every entry points at the start of the batch with that offset.
  for (let i = 0; i < index.relOffsets.length; i++) {
    t.equal(Number(object.readBigInt64BE(index.positions[i]!)), 1000 + index.relOffsets[i]!, `entry ${i}`);
  }
  for (let i = 1; i < index.timestamps.length; i++) t.ok(index.timestamps[i]! > index.timestamps[i - 1]!, 'time index strictly increasing');
});

t.test('offset lookups and read windows', async (t) => {
  const input = batches(0, 100, 1, (i) => i, 1000);
  const built = buildSegmentObject({ topicId, partition: 0, chunks: input, indexIntervalBytes: 3000 });
  const index = built.index;
  const object = Buffer.concat(built.body);
  // Equal-sized one-record batches: an index entry every `stride` batches, so offsets are exact arithmetic.
  const batchBytes = input[0]!.length;
  t.same(
    input.filter((b) => b.length !== batchBytes),
    [],
    'equal-sized batches',
  );
  const stride = Math.ceil(3000 / batchBytes);
  for (const rel of [0, 1, 37, 99]) {
    const e = index.entryFor(rel);
    t.ok(index.relOffsets[e]! <= rel && (e + 1 === index.relOffsets.length || index.relOffsets[e + 1]! > rel), `entry for ${rel}`);
    t.equal(e, Math.floor(rel / stride), `entry for ${rel} is the last at or before it`);
  }
  // A window is the fewest whole index intervals reaching 10 KB, laid out from the first batch.
  const windowBatches = Math.ceil(10_000 / (stride * batchBytes)) * stride;
  t.ok(windowBatches * batchBytes >= 10_000 && (windowBatches - stride) * batchBytes < 10_000, `${windowBatches} batches per window`);
  // Windows tile the data, on batch boundaries, and hold the offset asked for.
  const seen = new Set<number>();
  for (let rel = 0; rel < 100; rel++) {
    const w = index.windowFor(rel, 10_000);
    t.ok(w.lengthBytes >= 1 && w.position + w.lengthBytes <= index.footer.dataLengthBytes);
    const first = Number(object.readBigInt64BE(w.position));
    t.ok(first <= rel && rel < w.nextRelOffset, `window of ${rel}: [${first}, ${w.nextRelOffset})`);
    if (w.position + w.lengthBytes < index.footer.dataLengthBytes)
      t.equal(Number(object.readBigInt64BE(w.position + w.lengthBytes)), w.nextRelOffset);
    seen.add(w.position);
    const start = Math.floor(rel / windowBatches) * windowBatches;
    const next = Math.min(start + windowBatches, 100);
    t.same(w, { position: start * batchBytes, lengthBytes: (next - start) * batchBytes, nextRelOffset: next }, `window of ${rel}`);
  }
  t.equal(seen.size, Math.ceil(100 / windowBatches), `about 10 KB windows over 100 KB (${seen.size})`);
  t.equal(index.windowFor(50, 1 << 30).lengthBytes, index.footer.dataLengthBytes, 'one window when the read-ahead exceeds the segment');
});

t.test('timestamp lookups start at or before the first batch that qualifies', async (t) => {
  // Timestamps go up and down (CreateTime from producers); the index keeps the running maximum.
  const ts = (i: number) => 1000 + i * 10 + (i % 7 === 3 ? 500 : 0);
  const input = batches(0, 300, 1, ts, 500);
  const index = buildSegmentObject({ topicId, partition: 0, chunks: input, indexIntervalBytes: 2000 }).index;
  // The exact starts: the batches are 570 bytes, so offset entries fall on every 4th batch; a time entry is kept
  // where the running maximum grows, and the running maximum at batch i is 1500 + 10 j for the last bumped batch
  // j <= i (j % 7 === 3). E.g. for 2000: the last entry below it is batch 48 (max 1950, from j = 45); batch 52
  // has 2020. For 10 000 every entry is below: the last time entry is batch 292 (max 2 400 from j = 290; batch
  // 296 adds nothing).
  t.equal(input[0]!.length, 570);
  const targets = [0, 1000, 1005, 1500, 2000, 2030, 3990, 4000, 10_000];
  t.same(
    targets.map((target) => index.scanStartForTimestamp(target)),
    [0, 0, 0, 0, 48, 52, 248, 248, 292],
    'scan starts',
  );
  for (const target of targets) {
    const start = index.scanStartForTimestamp(target);
    const firstQualifying = input.findIndex((_, i) => ts(i) >= target);
    if (firstQualifying < 0) {
      t.equal(start, index.timeRelOffsets[index.timeRelOffsets.length - 1], `nothing qualifies for ${target}: the last time entry`);
      continue;
    }
    t.ok(start <= firstQualifying, `scan for ${target} starts at ${start}, at or before ${firstQualifying}`);
    for (let i = start; i < firstQualifying; i++) t.ok(ts(i) < target);
  }
  t.equal(index.scanStartForTimestamp(-5), 0);
});

t.test('damage and bad input are refused', async (t) => {
  const input = batches(0, 20, 2, (i) => i);
  const built = buildSegmentObject({ topicId, partition: 0, chunks: input, indexIntervalBytes: 500 });
  const object = Buffer.concat(built.body);
  const footer = object.subarray(object.length - segmentFooterBytes);
  t.throws(() => parseSegmentFooter(footer, object.length + 1), SegmentFormatError, 'size mismatch');
  const badMagic = Buffer.from(footer);
  badMagic[70] = 0x30;
  t.throws(() => parseSegmentFooter(badMagic, object.length), SegmentFormatError, 'magic');
  const f = parseSegmentFooter(footer, object.length);
  const indexes = Buffer.from(object.subarray(f.dataLengthBytes, f.dataLengthBytes + segmentIndexesBytes(f)));
  indexes[5] ^= 1;
  t.throws(() => parseSegmentIndexes(indexes, footer, f), SegmentFormatError, 'index checksum');
  const badFooter = Buffer.from(footer);
  badFooter[28] ^= 1; // base offset: covered by the CRC too
  t.throws(
    () => parseSegmentIndexes(object.subarray(f.dataLengthBytes, f.dataLengthBytes + segmentIndexesBytes(f)), badFooter, f),
    SegmentFormatError,
  );

  const gap = [...batches(0, 2, 1, () => 1), ...batches(5, 1, 1, () => 1)];
  t.throws(() => buildSegmentObject({ topicId, partition: 0, chunks: gap }), { message: /expected 2/ }, 'offsets must be contiguous');
  const corrupt = Buffer.concat(batches(0, 3, 1, () => 1));
  corrupt[corrupt.length - 1] ^= 0xff;
  t.throws(() => buildSegmentObject({ topicId, partition: 0, chunks: [corrupt] }), { message: /CRC/ }, 'batch CRCs are checked');
  t.throws(
    () => buildSegmentObject({ topicId, partition: 0, chunks: [corrupt.subarray(0, corrupt.length - 3)] }),
    SegmentFormatError,
    'truncated',
  );
  t.throws(() => buildSegmentObject({ topicId, partition: 0, chunks: [] }), SegmentFormatError, 'empty');
});
