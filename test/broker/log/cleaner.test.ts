// The log cleaner's algorithm (broker/log/cleaner.ts, spec/compaction.md) on hand-built logs: duplicates,
// tombstones before and after their delete horizon, every codec, transactions (commits, aborts, markers, an
// open transaction at the cleanable end), idempotent producers' last batches, multi-pass with a small key map;
// and a property test over random logs.
import t from 'tap';
import { OffsetMap, cleanBatches, offsetMapEntryBytes } from '../../../broker/log/cleaner.ts';
import type { CleanInput } from '../../../broker/log/cleaner.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { buildEndTxnMarkerBatch } from '../../../broker/protocol/records/control.ts';
import { BatchHeaderView } from '../../../broker/protocol/records/batch-header.ts';
import { RecordCursor } from '../../../broker/protocol/records/iterate.ts';
import { openBatchRecords } from '../../../broker/protocol/records/read.ts';
import { CompressionCodec, ControlRecordType, TimestampType } from '../../../broker/protocol/records/constants.ts';
import type { CompressionCodecId } from '../../../broker/protocol/records/constants.ts';

const day = 86_400_000;
const t0 = 1_700_000_000_000;

interface Rec {
  key: string | null;
  value: string | null;
  ts?: number;
}

function batch(
  baseOffset: number,
  recs: Rec[],
  o: { codec?: CompressionCodecId; producerId?: number; seq?: number; transactional?: boolean; logAppendTimeMs?: number } = {},
): Buffer {
  return buildRecordBatch(
    recs.map((r, i) => ({
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      timestampMs: r.ts ?? t0 + baseOffset + i,
    })),
    {
      baseOffset,
      compression: o.codec ?? CompressionCodec.NONE,
      partitionLeaderEpoch: 3,
      ...(o.producerId !== undefined ? { producerId: o.producerId, producerEpoch: 0, baseSequence: o.seq ?? 0 } : {}),
      transactional: o.transactional ?? false,
      ...(o.logAppendTimeMs !== undefined ? { logAppendTimeMs: o.logAppendTimeMs } : {}),
    },
  );
}

function marker(baseOffset: number, producerId: number, commit: boolean): Buffer {
  return buildEndTxnMarkerBatch({
    type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
    coordinatorEpoch: 0,
    producerId,
    producerEpoch: 0,
    timestampMs: t0 + baseOffset,
    baseOffset,
  });
}

interface OutBatch {
  baseOffset: number;
  lastOffset: number;
  attributes: number;
  codec: number;
  producerId: number;
  baseSequence: number;
  leaderEpoch: number;
  maxTimestamp: number;
  control: boolean;
  horizon: number;
  records: { offset: number; key: string | null; value: string | null; ts: number }[];
}

/** Every batch of `chunks`, its CRC checked, its records read. */
function read(chunks: readonly Buffer[]): OutBatch[] {
  const out: OutBatch[] = [];
  const h = new BatchHeaderView();
  const c = new RecordCursor();
  for (const chunk of chunks) {
    for (let pos = 0; pos < chunk.length; ) {
      openBatchRecords(chunk, pos, c, { maxDecompressedBytes: 1 << 24, verifyCrc: true }, h);
      const b: OutBatch = {
        baseOffset: h.baseOffset,
        lastOffset: h.lastOffset,
        attributes: h.attributes,
        codec: h.compression,
        producerId: h.producerId,
        baseSequence: h.baseSequence,
        leaderEpoch: h.partitionLeaderEpoch,
        maxTimestamp: h.maxTimestampMs,
        control: h.isControl,
        horizon: h.hasDeleteHorizon ? h.baseTimestampMs : -1,
        records: [],
      };
      while (c.next()) {
        b.records.push({
          offset: c.offset,
          key: b.control ? null : c.keyLength < 0 ? null : c.key()!.toString(),
          value: b.control ? null : c.valueLength < 0 ? null : c.value()!.toString(),
          ts: c.timestampMs,
        });
      }
      out.push(b);
      pos = h.end;
    }
  }
  return out;
}

function records(chunks: readonly Buffer[]) {
  return read(chunks).flatMap((b) => b.records.map((r) => ({ offset: r.offset, key: r.key, value: r.value })));
}

function input(chunks: Buffer[], over: Partial<CleanInput> = {}): CleanInput {
  return {
    chunks,
    endOffset: Number.MAX_SAFE_INTEGER,
    firstDirtyOffset: 0,
    nowMs: t0,
    deleteRetentionMs: day,
    producerLastOffsets: new Map(),
    map: new OffsetMap(1 << 16),
    maxDecompressedBytes: 1 << 24,
    ...over,
  };
}

t.test('OffsetMap: latest offset per key, bounded by its memory', async (t) => {
  const m = new OffsetMap(10 * offsetMapEntryBytes);
  t.equal(m.slots, 10);
  t.equal(m.maxEntries, 9);
  m.put(Buffer.from('a'), 1);
  m.put(Buffer.from('b'), 2);
  m.put(Buffer.from('a'), 7);
  t.equal(m.get(Buffer.from('a')), 7);
  t.equal(m.get(Buffer.from('b')), 2);
  t.equal(m.get(Buffer.from('c')), -1);
  t.equal(m.size, 2);
  m.put(Buffer.from('z'), 0);
  t.equal(m.get(Buffer.from('z')), 0, 'offset 0 is a stored offset');
  m.clear();
  t.equal(m.size, 0);
  t.equal(m.get(Buffer.from('a')), -1);
});

t.test('duplicates: the last record of each key survives at its offset', async (t) => {
  const log = [
    Buffer.concat([
      batch(0, [
        { key: 'a', value: '1' },
        { key: 'b', value: '1' },
      ]),
      batch(2, [{ key: 'a', value: '2' }]),
    ]),
    batch(3, [
      { key: 'c', value: '1' },
      { key: 'b', value: '2' },
      { key: 'a', value: '3' },
    ]),
  ];
  const r = cleanBatches(input(log));
  t.same(records(r.chunks), [
    { offset: 3, key: 'c', value: '1' },
    { offset: 4, key: 'b', value: '2' },
    { offset: 5, key: 'a', value: '3' },
  ]);
  t.equal(r.cleanedEnd, Number.MAX_SAFE_INTEGER);
  t.equal(r.stats.recordsRemoved, 3);
  t.equal(r.stats.batchesRemoved, 2);
  // The surviving batch lost nothing: it is the original slice.
  t.equal(read(r.chunks)[0]!.baseOffset, 3);
  t.equal(r.stats.batchesRewritten, 0);
});

t.test('a batch that loses records keeps its base offset, last offset, leader epoch and producer fields', async (t) => {
  const log = [
    batch(
      10,
      [
        { key: 'a', value: '1', ts: t0 + 50 },
        { key: 'b', value: '1', ts: t0 + 90 },
        { key: 'c', value: '1', ts: t0 + 20 },
      ],
      { producerId: 7, seq: 4 },
    ),
    batch(13, [{ key: 'b', value: '2', ts: t0 + 100 }], { producerId: 7, seq: 7 }),
  ];
  const out = read(cleanBatches(input(log)).chunks);
  t.equal(out.length, 2);
  const b = out[0]!;
  t.equal(b.baseOffset, 10);
  t.equal(b.lastOffset, 12, 'last offset delta kept: the producer sequence range stays');
  t.equal(b.producerId, 7);
  t.equal(b.baseSequence, 4);
  t.equal(b.leaderEpoch, 3);
  t.equal(b.maxTimestamp, t0 + 50, 'max timestamp of the surviving records');
  t.same(
    b.records.map((r) => [r.offset, r.key, r.ts]),
    [
      [10, 'a', t0 + 50],
      [12, 'c', t0 + 20],
    ],
  );
});

for (const [name, codec] of Object.entries(CompressionCodec)) {
  t.test(`codec ${name}: rewritten in the same codec with correct CRC, offsets and timestamps`, async (t) => {
    const recs = Array.from({ length: 50 }, (_, i) => ({ key: `k${i % 10}`, value: `value-${i}`.repeat(5), ts: t0 + i * 10 }));
    const log = [batch(100, recs, { codec: codec as CompressionCodecId })];
    const r = cleanBatches(input(log));
    const out = read(r.chunks);
    t.equal(out.length, 1);
    t.equal(out[0]!.codec, codec);
    t.equal(out[0]!.baseOffset, 100);
    t.equal(out[0]!.lastOffset, 149);
    t.same(
      out[0]!.records.map((x) => [x.offset, x.key, x.value, x.ts]),
      recs.slice(40).map((x, i) => [140 + i, x.key, x.value, x.ts]),
    );
    t.equal(out[0]!.maxTimestamp, t0 + 490);
  });
}

t.test('LogAppendTime batches keep their max timestamp', async (t) => {
  const log = [
    batch(
      0,
      [
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ],
      { logAppendTimeMs: t0 + 5000 },
    ),
  ];
  const out = read(cleanBatches(input(log)).chunks);
  t.equal(out[0]!.maxTimestamp, t0 + 5000);
  t.equal(out[0]!.attributes & 0x08, TimestampType.LOG_APPEND_TIME << 3);
  t.same(
    out[0]!.records.map((r) => r.value),
    ['2'],
  );
});

t.test('tombstones stay until delete.retention.ms after the cleaner first passed them (KIP-534 horizon)', async (t) => {
  const log = [
    batch(0, [
      { key: 'a', value: '1' },
      { key: 'b', value: '1' },
    ]),
    batch(2, [{ key: 'a', value: null, ts: t0 + 2 }]),
  ];
  const first = cleanBatches(input(log, { nowMs: t0 + 1000 }));
  const out = read(first.chunks);
  t.same(
    out.flatMap((b) => b.records.map((r) => [r.offset, r.key, r.value])),
    [
      [1, 'b', '1'],
      [2, 'a', null],
    ],
    'the older value of a goes, its tombstone stays',
  );
  const tomb = out[1]!;
  t.equal(tomb.horizon, t0 + 1000 + day, 'horizon = first pass + delete.retention.ms');
  t.equal(tomb.records[0]!.ts, t0 + 2, 'the record timestamp is kept under the new base timestamp');
  // Before the horizon: still there, horizon unchanged.
  const second = read(cleanBatches(input(first.chunks, { nowMs: t0 + day })).chunks);
  t.equal(second[1]!.horizon, t0 + 1000 + day);
  t.equal(second[1]!.records.length, 1);
  // At the horizon: gone.
  const third = records(cleanBatches(input(first.chunks, { nowMs: t0 + 1000 + day })).chunks);
  t.same(third, [{ offset: 1, key: 'b', value: '1' }]);
});

t.test('transactions: aborted records go; markers stay while their transaction has survivors, then until their horizon', async (t) => {
  // p1 commits a=1,b=1 (0-1, marker 2); p2 aborts a=x (3, marker 4); plain a=2 (5); p1 commits c=1 (6, marker 7)
  const log = [
    Buffer.concat([
      batch(
        0,
        [
          { key: 'a', value: '1' },
          { key: 'b', value: '1' },
        ],
        { producerId: 1, transactional: true },
      ),
      marker(2, 1, true),
      batch(3, [{ key: 'a', value: 'x' }], { producerId: 2, transactional: true }),
      marker(4, 2, false),
      batch(5, [{ key: 'a', value: '2' }]),
      batch(6, [{ key: 'c', value: '1' }], { producerId: 1, seq: 2, transactional: true }),
      marker(7, 1, true),
    ]),
  ];
  const r = cleanBatches(input(log, { nowMs: t0 + 10 }));
  const out = read(r.chunks);
  t.same(
    records(r.chunks).filter((x) => x.key !== null),
    [
      { offset: 1, key: 'b', value: '1' },
      { offset: 5, key: 'a', value: '2' },
      { offset: 6, key: 'c', value: '1' },
    ],
    'a=x (aborted) and a=1 (superseded) are gone',
  );
  const markers = out.filter((b) => b.control);
  t.same(
    markers.map((m) => [m.baseOffset, m.horizon]),
    [
      [2, -1],
      [4, t0 + 10 + day],
      [7, -1],
    ],
    'commit markers with survivors stay as they are; the abort marker with none gets its horizon',
  );
  // Past the abort marker's horizon, it goes; the others stay.
  const later = read(cleanBatches(input(r.chunks, { nowMs: t0 + 10 + day })).chunks);
  t.same(
    later.filter((b) => b.control).map((m) => m.baseOffset),
    [2, 7],
  );
});

t.test('an open transaction stops the cleaning before its first batch', async (t) => {
  const log = [
    Buffer.concat([
      batch(0, [{ key: 'a', value: '1' }]),
      batch(1, [{ key: 'a', value: 'txn' }], { producerId: 5, transactional: true }),
      batch(2, [{ key: 'a', value: '2' }]),
    ]),
  ];
  const r = cleanBatches(input(log));
  t.equal(r.cleanedEnd, 1);
  t.same(records(r.chunks), [
    { offset: 0, key: 'a', value: '1' },
    { offset: 1, key: 'a', value: 'txn' },
    { offset: 2, key: 'a', value: '2' },
  ]);
});

t.test('the last batch of a tracked producer stays, emptied, so its retry is still a duplicate', async (t) => {
  const log = [
    Buffer.concat([
      batch(0, [{ key: 'a', value: '1' }], { producerId: 9, seq: 0, codec: CompressionCodec.LZ4 }),
      batch(1, [{ key: 'a', value: '2' }], { producerId: 8, seq: 0 }),
    ]),
  ];
  const r = cleanBatches(input(log, { producerLastOffsets: new Map([[9, 0]]) }));
  const out = read(r.chunks);
  t.equal(out.length, 2);
  t.same(
    [out[0]!.baseOffset, out[0]!.lastOffset, out[0]!.producerId, out[0]!.baseSequence, out[0]!.records.length, out[0]!.codec],
    [0, 0, 9, 0, 0, CompressionCodec.NONE],
  );
  // Once the producer is no longer tracked, the empty batch goes too.
  const again = read(cleanBatches(input(r.chunks)).chunks);
  t.same(
    again.map((b) => b.baseOffset),
    [1],
  );
});

t.test('records of the dirty part only are mapped: keys of the clean part not seen since stay', async (t) => {
  const log = [batch(0, [{ key: 'a', value: '1' }]), batch(1, [{ key: 'a', value: '2' }]), batch(2, [{ key: 'b', value: '1' }])];
  const r = cleanBatches(input(log, { firstDirtyOffset: 2 }));
  t.same(records(r.chunks), [
    { offset: 0, key: 'a', value: '1' },
    { offset: 1, key: 'a', value: '2' },
    { offset: 2, key: 'b', value: '1' },
  ]);
});

t.test('multi-pass: a key map too small for the dirty part cleans it in several passes', async (t) => {
  const log: Buffer[] = [];
  for (let i = 0; i < 40; i++)
    log.push(
      batch(i * 2, [
        { key: `k${i % 20}`, value: `${i}-a` },
        { key: `k${(i + 7) % 20}`, value: `${i}-b` },
      ]),
    );
  const map = new OffsetMap(12 * offsetMapEntryBytes); // 10 entries: 5 batches per pass
  let chunks = log;
  let dirty = 0;
  let passes = 0;
  while (dirty < 80) {
    const r = cleanBatches(input(chunks, { map, firstDirtyOffset: dirty }));
    t.ok(r.cleanedEnd > dirty, 'each pass makes progress');
    chunks = r.chunks;
    dirty = r.cleanedEnd === Number.MAX_SAFE_INTEGER ? 80 : r.cleanedEnd;
    passes++;
  }
  t.ok(passes > 1, `${passes} passes`);
  // Then one more pass over the whole log with a big enough map: nothing left to remove.
  const final = records(cleanBatches(input(chunks)).chunks);
  t.same(final, records(chunks), 'the passes left exactly the latest value of each key');
  t.equal(final.length, 20);
  t.same(final.map((x) => x.key).sort(), Array.from({ length: 20 }, (_, i) => `k${i}`).sort());
});

t.test('a batch with more records than the map holds is refused (the partition is uncleanable)', async (t) => {
  const log = [
    batch(
      0,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    ),
  ];
  t.throws(() => cleanBatches(input(log, { map: new OffsetMap(10 * offsetMapEntryBytes) })), /dedupe buffer/);
});

// A small deterministic PRNG, so a failure names its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('property: random logs keep the latest value of every key at its offset; any reader sees a subsequence', async (t) => {
  const codecs = Object.values(CompressionCodec) as CompressionCodecId[];
  for (let seed = 1; seed <= 60; seed++) {
    const rand = rng(seed);
    const keys = 1 + Math.floor(rand() * 12);
    const chunks: Buffer[] = [];
    let offset = 0;
    const original: { offset: number; key: string; value: string | null }[] = [];
    const batches = 1 + Math.floor(rand() * 25);
    for (let b = 0; b < batches; b++) {
      const n = 1 + Math.floor(rand() * 6);
      const recs: Rec[] = [];
      for (let i = 0; i < n; i++) {
        const key = `k${Math.floor(rand() * keys)}`;
        const value = rand() < 0.15 ? null : `v${offset + i}`;
        recs.push({ key, value });
        original.push({ offset: offset + i, key, value });
      }
      chunks.push(batch(offset, recs, { codec: codecs[Math.floor(rand() * codecs.length)]! }));
      offset += n;
    }
    const slots = rand() < 0.5 ? 1 << 12 : 8 + Math.floor(rand() * 8);
    const map = new OffsetMap(slots * offsetMapEntryBytes);
    let current = chunks;
    let dirty = 0;
    let ok = true;
    try {
      for (let pass = 0; pass < 100 && dirty < offset; pass++) {
        const r = cleanBatches(input(current, { map, firstDirtyOffset: dirty, nowMs: t0 }));
        current = r.chunks;
        dirty = Math.min(offset, r.cleanedEnd);
      }
    } catch (e) {
      // A map smaller than one batch: uncleanable, and nothing may have changed.
      t.match((e as Error).message, /dedupe buffer/, `seed ${seed}`);
      ok = false;
    }
    if (!ok) continue;
    const after = records(current);
    const latest = new Map<string, { offset: number; value: string | null }>();
    for (const r of original) latest.set(r.key, r);
    // Every key's latest record survives, at its offset, with its value (tombstones before their horizon too).
    for (const [key, r] of latest) {
      const found = after.find((x) => x.key === key && x.offset === r.offset);
      if (!found || found.value !== r.value) t.fail(`seed ${seed}: latest of ${key} at ${r.offset} lost`);
    }
    // Nothing else survives and every survivor is an original record at its own offset.
    t.equal(after.length, latest.size, `seed ${seed}: one record per key`);
    const byOffset = new Map(original.map((r) => [r.offset, r]));
    for (const x of after) {
      const o = byOffset.get(x.offset);
      if (!o || o.key !== x.key || o.value !== x.value) t.fail(`seed ${seed}: offset ${x.offset} changed`);
    }
    // A reader from any offset: a subsequence of the original log from there, offsets increasing.
    for (let from = 0; from < offset; from++) {
      const seen = after.filter((x) => x.offset >= from).map((x) => x.offset);
      let i = 0;
      for (const r of original) if (r.offset >= from && i < seen.length && r.offset === seen[i]) i++;
      if (i !== seen.length) t.fail(`seed ${seed}: a reader from ${from} does not see a subsequence`);
    }
    // Batch offsets stay increasing and disjoint.
    const out = read(current);
    for (let i = 1; i < out.length; i++) if (out[i]!.baseOffset <= out[i - 1]!.lastOffset) t.fail(`seed ${seed}: batches overlap`);
  }
});
