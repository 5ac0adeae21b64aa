// SegmentCache: hits and misses, one GET for concurrent misses of a range, and prefetch — loads started ahead of
// need share the GET with a later get, are bounded broker-wide in bytes (beyond the bound nothing is started),
// release their share of the bound when they finish or fail, and are never started when nothing can be kept.
import t from 'tap';
import { SegmentCache } from '../../../broker/storage/segment-cache.ts';
import type { ObjectInfo, ObjectStore } from '../../../broker/storage/object-store.ts';

/** An object store whose GETs wait until the test releases them; it counts them. */
class HeldStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  gets = 0;
  private readonly held: { resolve: () => void; reject: (e: Error) => void }[] = [];
  hold = true;

  async put(key: string, body: Buffer | Buffer[]): Promise<ObjectInfo> {
    const b = Array.isArray(body) ? Buffer.concat(body) : body;
    this.objects.set(key, b);
    return { key, sizeBytes: b.length } as ObjectInfo;
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    this.gets++;
    if (this.hold) await new Promise<void>((resolve, reject) => this.held.push({ resolve, reject }));
    const b = this.objects.get(key);
    if (!b) throw new Error(`no ${key}`);
    return range ? b.subarray(range.start, range.end) : b;
  }

  /** Lets the oldest held GET finish (or fail). */
  release(fail = false): void {
    const h = this.held.shift();
    if (!h) throw new Error('no GET held');
    if (fail) h.reject(new Error('GET failed'));
    else h.resolve();
  }

  get pending(): number {
    return this.held.length;
  }

  async head(): Promise<ObjectInfo | null> {
    return null;
  }

  async delete(): Promise<void> {}

  async list(): Promise<ObjectInfo[]> {
    return [];
  }

  async close(): Promise<void> {}
}

const tick = () => new Promise((r) => setImmediate(r));

t.test('concurrent misses of one range share one GET; a hit needs none', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.from('0123456789'));
  const cache = new SegmentCache(store, 1024);
  const a = cache.get('o', 2, 4);
  const b = cache.get('o', 2, 4);
  t.equal(store.gets, 1, 'one GET for two concurrent misses');
  store.release();
  t.equal((await a).toString(), '2345');
  t.equal((await b).toString(), '2345');
  store.hold = false;
  t.equal((await cache.get('o', 2, 4)).toString(), '2345');
  t.equal(store.gets, 1, 'a hit is served from memory');
  t.same({ hits: cache.stats.hits, misses: cache.stats.misses }, { hits: 1, misses: 1 });
});

t.test('a prefetch is shared with the get that follows it', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.alloc(100, 7));
  const cache = new SegmentCache(store, 1024, 50);
  t.ok(cache.prefetch('o', 0, 40), 'started');
  t.equal(cache.prefetchInflight, 40);
  t.ok(cache.prefetch('o', 0, 40), 'the same range again: already loading, nothing new');
  t.equal(store.gets, 1);
  const got = cache.get('o', 0, 40);
  t.equal(store.gets, 1, 'the get joins the prefetch');
  store.release();
  t.equal((await got).length, 40);
  await tick();
  t.equal(cache.prefetchInflight, 0, 'the bound is released once the load is done');
  t.ok(cache.prefetch('o', 0, 40), 'cached: nothing to start');
  t.equal(store.gets, 1);
  t.equal(cache.stats.prefetches, 1);
});

t.test('in-flight prefetch bytes are bounded; a refused prefetch starts nothing', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.alloc(100, 1));
  const cache = new SegmentCache(store, 1024, 50);
  t.ok(cache.prefetch('o', 0, 30));
  t.notOk(cache.prefetch('o', 30, 30), '30 + 30 > 50: refused');
  t.ok(cache.prefetch('o', 30, 20), '30 + 20 fits');
  t.equal(store.gets, 2, 'nothing started for the refused one');
  t.equal(cache.stats.prefetchesRefused, 1);
  store.release(true); // the first fails: its bytes are released all the same
  await tick();
  await tick();
  t.equal(cache.prefetchInflight, 20);
  t.ok(cache.prefetch('o', 60, 30), 'room again after the failure');
  store.release();
  store.release();
  await tick();
  await tick();
  t.equal(cache.prefetchInflight, 0);
  store.hold = false;
  t.equal((await cache.get('o', 0, 30)).length, 30, 'a get after a failed prefetch loads again');
});

t.test('with no cache, nothing is prefetched (it could not be kept)', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.alloc(10));
  const cache = new SegmentCache(store, 0, 1 << 20);
  t.notOk(cache.prefetch('o', 0, 10));
  t.equal(store.gets, 0);
});

t.test('adjacent ranges of one object are prefetched with one GET per run and kept as separate entries', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.from('aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd'));
  const cache = new SegmentCache(store, 1024, 1024);
  const ranges = [0, 10, 20, 30].map((position) => ({ position, lengthBytes: 10 }));
  t.ok(cache.prefetchRun('o', ranges));
  t.equal(store.gets, 1, 'one GET for four adjacent ranges');
  t.equal(cache.prefetchInflight, 40);
  const b = cache.get('o', 10, 10);
  t.equal(store.gets, 1, 'a get of one of them joins the span');
  store.release();
  t.equal((await b).toString(), 'bbbbbbbbbb');
  await tick();
  t.equal(cache.prefetchInflight, 0);
  store.hold = false;
  for (const [pos, ch] of [
    [0, 'a'],
    [20, 'c'],
    [30, 'd'],
  ] as const)
    t.equal((await cache.get('o', pos, 10)).toString(), ch.repeat(10));
  t.equal(store.gets, 1, 'every range is cached on its own');
  t.equal(cache.sizeBytes, 40, 'each entry counts its own bytes (copies, not slices of the span)');
});

t.test('a run skips ranges already present and splits around them; the in-flight bound applies to each span', async (t) => {
  const store = new HeldStore();
  store.hold = false;
  await store.put('o', Buffer.alloc(60, 1));
  const cache = new SegmentCache(store, 1024, 25);
  await cache.get('o', 20, 10); // cached: the run splits around it
  const before = store.gets;
  store.hold = true;
  const ranges = [0, 10, 20, 30, 40, 50].map((position) => ({ position, lengthBytes: 10 }));
  t.ok(cache.prefetchRun('o', ranges.slice(0, 2)), '[0, 20): 20 bytes fit the bound of 25');
  t.equal(store.gets - before, 1);
  t.notOk(cache.prefetchRun('o', ranges), 'then [30, 60) does not fit beside it: refused');
  t.equal(store.gets - before, 1, 'nothing more started');
  store.release();
  await tick();
  await tick();
  t.ok(cache.prefetchRun('o', ranges.slice(3, 5)), 'room again: [30, 50)');
  t.equal(store.gets - before, 2);
  store.release();
});

t.test('a failed span fails the gets that joined it, and a later get loads again', async (t) => {
  const store = new HeldStore();
  await store.put('o', Buffer.alloc(20, 2));
  const cache = new SegmentCache(store, 1024, 1024);
  cache.prefetchRun('o', [
    { position: 0, lengthBytes: 10 },
    { position: 10, lengthBytes: 10 },
  ]);
  const joined = cache.get('o', 10, 10);
  store.release(true);
  await t.rejects(joined, /GET failed/);
  store.hold = false;
  t.equal((await cache.get('o', 10, 10)).length, 10);
  t.equal(store.gets, 2);
});
