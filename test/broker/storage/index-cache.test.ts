// The L2 index cache over a real local object store: one ranged GET per miss in the common case, two when the
// indexes are bigger than the tail read; concurrent misses share a load; bounded in bytes; WAL indexes too.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IndexCache } from '../../../broker/storage/index-cache.ts';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import { buildSegmentObject } from '../../../broker/storage/segment-object.ts';
import { buildWalObject } from '../../../broker/storage/wal-object.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';

const topicId = 'AAAAAAAAAAAAAAAAAAAAAQ';

async function store(t: Test): Promise<LocalObjectStore> {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-index-'));
  const s = await LocalObjectStore.open(dir);
  t.teardown(async () => {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  });
  return s;
}

async function putSegment(s: LocalObjectStore, key: string, batchCount: number, indexIntervalBytes: number) {
  const chunks: Buffer[] = [];
  for (let i = 0; i < batchCount; i++) {
    const b = buildRecordBatch([{ key: null, value: Buffer.alloc(200, 1), timestampMs: 1000 + i }]);
    assignOffsets(b, i, 0);
    chunks.push(b);
  }
  const built = buildSegmentObject({ topicId, partition: 0, chunks, indexIntervalBytes });
  await s.put(key, built.body);
  return built;
}

t.test('a miss costs one GET when the indexes fit in the tail read, two otherwise; hits cost none', async (t) => {
  const s = await store(t);
  const small = await putSegment(s, 'seg/a', 100, 1024);
  const large = await putSegment(s, 'seg/b', 3000, 1); // an entry per batch: 3000 × 8 + 3000 × 12 bytes of indexes
  const cache = new IndexCache(s, 1 << 20, { tailBytes: 4096 });
  const gets = () => s.stats().requests.get;
  const before = gets();
  const a = await cache.segment('seg/a', small.sizeBytes);
  t.equal(gets() - before, 1, 'small: one GET');
  t.same([...a.positions], [...small.index.positions]);
  await cache.segment('seg/a', small.sizeBytes);
  t.equal(gets() - before, 1, 'hit');
  const b = await cache.segment('seg/b', large.sizeBytes);
  t.equal(gets() - before, 3, 'large: footer, then indexes');
  t.equal(b.relOffsets.length, 3000);
  t.equal(cache.stats.hits, 1);
  t.equal(cache.stats.misses, 2);
  t.ok(cache.peekSegment('seg/b'));
  cache.evict('seg/b');
  t.notOk(cache.peekSegment('seg/b'), 'evicted');
});

t.test('concurrent misses share one load', async (t) => {
  const s = await store(t);
  const built = await putSegment(s, 'seg/c', 50, 1024);
  const cache = new IndexCache(s, 1 << 20);
  const before = s.stats().requests.get;
  const all = await Promise.all(Array.from({ length: 10 }, () => cache.segment('seg/c', built.sizeBytes)));
  t.equal(s.stats().requests.get - before, 1);
  t.ok(all.every((x) => x === all[0]));
});

t.test('bounded in bytes; 0 keeps nothing', async (t) => {
  const s = await store(t);
  const built = await Promise.all(['seg/1', 'seg/2', 'seg/3'].map((k) => putSegment(s, k, 2000, 1)));
  const one = built[0]!.index.sizeBytes;
  const cache = new IndexCache(s, Math.floor(one * 2.5));
  for (const [i, k] of ['seg/1', 'seg/2', 'seg/3'].entries()) await cache.segment(k, built[i]!.sizeBytes);
  t.ok(cache.sizeBytes <= one * 2.5, `${cache.sizeBytes} bytes held`);
  t.equal(cache.entries, 2, 'the least recently used went');
  t.notOk(cache.peekSegment('seg/1'));
  const none = new IndexCache(s, 0);
  await none.segment('seg/1', built[0]!.sizeBytes);
  t.equal(none.sizeBytes, 0);
  t.notOk(none.peekSegment('seg/1'));
});

t.test('WAL indexes', async (t) => {
  const s = await store(t);
  const chunks = [0, 1, 2].map((p) => ({
    topicId,
    partition: p,
    baseOffset: 10 * p,
    lastOffset: 10 * p + 4,
    maxTimestamp: p,
    batchCount: 1,
    data: Buffer.alloc(100, p),
  }));
  const wal = buildWalObject(chunks);
  await s.put('wal/x', wal.body);
  const cache = new IndexCache(s, 1 << 20);
  const before = s.stats().requests.get;
  t.same(await cache.wal('wal/x', wal.sizeBytes), wal.entries);
  t.equal(s.stats().requests.get - before, 1, 'footer and index in one GET');
  await t.rejects(cache.segment('wal/x', wal.sizeBytes), 'a WAL index is not a segment index');
});
