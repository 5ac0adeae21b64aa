// The flusher over in-memory fakes (an object store whose PUTs the test holds, fails or lets through, and the
// in-memory metadata store): group commit (an idle flusher flushes at the end of the turn, a second flush waits
// for the first commit unless the size bound is reached), the linger as a floor, one object gathers every partition,
// at most maxConcurrentFlushes are in flight, commits happen in flush order even when PUTs finish out of order,
// waitForRoom counts in-flight bytes and times out, retries are idempotent, and a refused commit fences.
import t from 'tap';
import type { Test } from 'tap';
import { Flusher, FencedError } from '../../../broker/log/flusher.ts';
import type { FlusherOptions } from '../../../broker/log/flusher.ts';
import { PartitionLog } from '../../../broker/log/partition-log.ts';
import { walKey, walObjectKey } from '../../../broker/metadata/layout.ts';
import type { WalRecord } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { MetadataUnavailableError } from '../../../broker/metadata/store.ts';
import type { Compare, Op, TxnResult } from '../../../broker/metadata/store.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';
import { ObjectNotFoundError, ObjectStoreUnavailableError, PreconditionFailedError } from '../../../broker/storage/object-store.ts';
import type { ObjectInfo, ObjectStore, PutOptions } from '../../../broker/storage/object-store.ts';
import { SegmentCache } from '../../../broker/storage/segment-cache.ts';
import { parseWalFooter, parseWalIndex, walFooterBytes } from '../../../broker/storage/wal-object.ts';
import type { WalIndexEntry } from '../../../broker/storage/wal-object.ts';
import { settle, until } from '../../support/until.ts';

const topicA = 'AAAAAAAAAAAAAAAAAAAAAQ';
const topicB = 'AAAAAAAAAAAAAAAAAAAAAg';

/** An in-memory object store; while `hold` is set every PUT waits for the test to release (or fail) it. */
class HeldObjectStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();
  /** Every PUT attempt, in call order. */
  readonly putKeys: string[] = [];
  hold = false;
  /** The next PUTs fail with a transient error before storing anything. */
  failNextPuts = 0;
  /** The next PUTs store the object, then fail as if the answer were lost. */
  loseNextPutAnswers = 0;
  private readonly held: { key: string; go: (fail: boolean) => void }[] = [];

  async put(key: string, body: Buffer | Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    this.putKeys.push(key);
    if (this.hold) {
      const fail = await new Promise<boolean>((resolve) => this.held.push({ key, go: resolve }));
      if (fail) throw new ObjectStoreUnavailableError(`held put of ${key} failed`);
    }
    if (this.failNextPuts > 0) {
      this.failNextPuts--;
      throw new ObjectStoreUnavailableError(`injected failure of ${key}`);
    }
    if (options?.ifNoneMatch && this.objects.has(key)) throw new PreconditionFailedError(key);
    const data = Buffer.concat(Array.isArray(body) ? body : [body]);
    this.objects.set(key, data);
    if (this.loseNextPutAnswers > 0) {
      this.loseNextPutAnswers--;
      throw new ObjectStoreUnavailableError(`injected: the answer to the put of ${key} was lost`);
    }
    return { key, sizeBytes: data.length, etag: String(data.length) };
  }

  /** Keys of the PUTs now held, oldest first. */
  get heldKeys(): string[] {
    return this.held.map((h) => h.key);
  }

  /** Lets the held PUT of `key` proceed (or fail). */
  release(key: string, fail = false): void {
    const i = this.held.findIndex((h) => h.key === key);
    if (i < 0) throw new Error(`no held put of ${key}`);
    this.held.splice(i, 1)[0]!.go(fail);
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    const data = this.objects.get(key);
    if (data === undefined) throw new ObjectNotFoundError(key);
    return range ? data.subarray(range.start, range.end) : data;
  }
  async head(key: string): Promise<ObjectInfo | null> {
    const data = this.objects.get(key);
    return data === undefined ? null : { key, sizeBytes: data.length, etag: String(data.length) };
  }
  async delete(keys: string[]): Promise<void> {
    for (const k of keys) this.objects.delete(k);
  }
  async list(): Promise<ObjectInfo[]> {
    return [];
  }
  async close(): Promise<void> {}
}

/** The in-memory metadata store, recording every transaction's put keys and able to lose answers. */
class RecordingMetadata extends MemoryMetadataStore {
  /** Keys put by each txn call, in call order (successful or not). */
  readonly txnPuts: string[] = [];
  /** The next txns apply, then fail as if the answer were lost. */
  loseNextAnswers = 0;
  /** The next txns fail before reaching the store. */
  failNext = 0;

  override async txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    for (const op of success) if (op.type === 'put') this.txnPuts.push(op.key);
    if (this.failNext > 0) {
      this.failNext--;
      throw new MetadataUnavailableError('injected: store unavailable');
    }
    const result = await super.txn(compares, success, failure);
    if (this.loseNextAnswers > 0) {
      this.loseNextAnswers--;
      throw new MetadataUnavailableError('injected: the answer was lost');
    }
    return result;
  }
}

const patch = (records: Buffer, baseOffset: number, leaderEpoch: number) => assignOffsets(records, baseOffset, leaderEpoch);

function batch(values: string[], timestampMs = 1_000): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })));
}

interface Committed {
  objectKey: string;
  walKey: string;
  record: WalRecord;
  entries: WalIndexEntry[];
}

function setup(t: Test, options: Partial<FlusherOptions> = {}) {
  const objectStore = new HeldObjectStore();
  const metadata = new RecordingMetadata();
  const cache = new SegmentCache(objectStore, 1 << 20);
  const committed: Committed[] = [];
  const fenced: Error[] = [];
  let fenceOk = true;
  const flusher = new Flusher({
    objectStore,
    metadata,
    cache,
    nodeId: 3,
    incarnation: 'inc1',
    fence: () => (fenceOk ? [] : [{ key: '/brokers/3/token', target: 'version', op: '>', value: 0 }]),
    flushSizeBytes: 1 << 20,
    flushLingerMs: 60_000,
    maxConcurrentFlushes: 2,
    firstSequence: 1,
    logger: silentLogger(),
    onFenced: (e) => fenced.push(e),
    onCommitted: (objectKey, walKey, record, entries) => committed.push({ objectKey, walKey, record, entries }),
    ...options,
  });
  const logs = new Map<string, PartitionLog>();
  const log = (topicId: string, partition: number) => {
    const k = `${topicId}-${partition}`;
    let l = logs.get(k);
    if (l === undefined) {
      l = new PartitionLog({ topicId, topicName: k, partition, leaderEpoch: 0, logStartOffset: 0, extents: [], onHighWatermark: () => {} });
      logs.set(k, l);
    }
    return l;
  };
  /** Appends like the log manager does: to the partition, then tells the flusher. */
  const append = (l: PartitionLog, values: string[]) => {
    const records = batch(values);
    const r = l.append(records, 1, null, patch);
    flusher.appended(l, records.length);
    return { ...r, bytes: records.length };
  };
  t.teardown(async () => {
    objectStore.hold = false;
    for (const k of objectStore.heldKeys) objectStore.release(k);
    await flusher.close(1000);
    await metadata.close();
  });
  return {
    flusher,
    objectStore,
    metadata,
    cache,
    committed,
    fenced,
    log,
    append,
    setFence: (ok: boolean) => (fenceOk = ok),
  };
}

const objectKey = (sequence: number) => walObjectKey(sequence, 3, 'inc1');

t.test('below the size bound nothing is written synchronously; at the bound a flush starts at once', async (t) => {
  const s = setup(t, { flushSizeBytes: 1000, flushLingerMs: 60_000 });
  const p0 = s.log(topicA, 0);
  const first = s.append(p0, ['x'.repeat(100)]);
  t.ok(first.bytes < 1000);
  t.equal(s.flusher.pendingBytes, first.bytes);
  t.same(s.objectStore.putKeys, [], 'under the size bound: no PUT within the turn');
  const second = s.append(p0, ['y'.repeat(1000)]);
  t.same(s.objectStore.putKeys, [objectKey(1)], 'reaching flushSizeBytes starts the flush synchronously');
  t.equal(s.flusher.pendingBytes, 0, 'everything pending was taken');
  await until(() => p0.highWatermark === 2, 'the flush to commit');
  t.equal(s.committed.length, 1);
  t.same(
    s.committed[0]!.entries.map((e) => [e.baseOffset, e.lastOffset, e.lengthBytes]),
    [[0, 1, first.bytes + second.bytes]],
    'both appends in one chunk',
  );
  t.equal(s.flusher.unflushedBytes, 0);
});

/** Lets the current event-loop turn end (immediates run): when an idle flusher starts its flush. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

t.test('group commit: an idle flusher flushes at the end of the turn; later appends wait for its commit, then go together', async (t) => {
  const s = setup(t, { flushSizeBytes: 1 << 20, flushLingerMs: 0 });
  s.objectStore.hold = true;
  const p0 = s.log(topicA, 0);
  const p1 = s.log(topicB, 1);
  s.append(p0, ['a']);
  s.append(p1, ['b']);
  t.same(s.objectStore.putKeys, [], 'not synchronously: the rest of the turn joins the flush');
  await nextTurn();
  t.same(s.objectStore.heldKeys, [objectKey(1)], 'one flush at the end of the turn, without any linger');
  s.append(p0, ['c']);
  s.append(p1, ['d']);
  await nextTurn();
  s.append(p0, ['e']);
  await settle();
  t.same(s.objectStore.heldKeys, [objectKey(1)], 'while a flush is in flight, a second waits for its commit');
  t.same(s.metadata.txnPuts, []);
  s.objectStore.release(objectKey(1));
  await until(() => s.objectStore.heldKeys.length === 1 && s.objectStore.heldKeys[0] === objectKey(2), 'the second flush');
  t.equal(s.committed.length, 1, 'it started once the first had committed');
  t.equal(p0.highWatermark, 1);
  s.objectStore.hold = false;
  s.objectStore.release(objectKey(2));
  await until(() => p0.highWatermark === 3 && p1.highWatermark === 2, 'the second commit');
  t.same(
    s.committed.map((c) => c.entries.map((e) => [e.partition, e.baseOffset, e.lastOffset, e.batchCount])),
    [
      [
        [0, 0, 0, 1],
        [1, 0, 0, 1],
      ],
      [
        [0, 1, 2, 2],
        [1, 1, 1, 1],
      ],
    ],
    'everything appended during the first flush went out in the second object',
  );
  await nextTurn();
  await settle();
  t.same(s.objectStore.putKeys, [objectKey(1), objectKey(2)], 'idle: nothing more is written');
});

t.test('group commit: the size bound starts another flush while one is in flight, up to the bound, commits in order', async (t) => {
  const s = setup(t, { flushSizeBytes: 1000, flushLingerMs: 0, maxConcurrentFlushes: 2 });
  s.objectStore.hold = true;
  const p0 = s.log(topicA, 0);
  s.append(p0, ['small']);
  await nextTurn();
  t.same(s.objectStore.heldKeys, [objectKey(1)]);
  s.append(p0, ['x'.repeat(1000)]);
  t.same(s.objectStore.heldKeys, [objectKey(1), objectKey(2)], 'reaching the size bound starts a flush at once');
  s.append(p0, ['y'.repeat(1000)]);
  await nextTurn();
  t.same(s.objectStore.heldKeys, [objectKey(1), objectKey(2)], 'but no more than maxConcurrentFlushes');
  t.ok(s.flusher.pendingBytes >= 1000);
  s.objectStore.release(objectKey(2));
  await until(() => s.objectStore.objects.has(objectKey(2)), 'the second PUT');
  await settle();
  t.same(s.objectStore.heldKeys, [objectKey(1)], 'a flush done with its PUT but not committed still counts');
  t.same(s.metadata.txnPuts, [], 'and does not commit before the first');
  s.objectStore.release(objectKey(1));
  await until(() => s.objectStore.heldKeys.includes(objectKey(3)), 'the third flush, once a slot is free');
  s.objectStore.hold = false;
  s.objectStore.release(objectKey(3));
  await until(() => p0.highWatermark === 3, 'every commit');
  t.same(s.metadata.txnPuts, [walKey(1), walKey(2), walKey(3)], 'commits in flush order');
});

t.test('a linger is a floor between flush starts; data that waited the linger goes out while a flush is held', async (t) => {
  const lingerMs = 60;
  const s = setup(t, { flushSizeBytes: 1 << 20, flushLingerMs: lingerMs, maxConcurrentFlushes: 2 });
  const p0 = s.log(topicA, 0);
  const p1 = s.log(topicB, 1);
  s.append(p0, ['a']);
  s.append(p1, ['b', 'c']);
  // Taken before the turn in which the flush starts: its start is no earlier, so the floor is measured from at
  // most its start (taken after the turn, a busy machine made the floor look 2 ms short once).
  const firstStarted = performance.now();
  await nextTurn();
  t.same(s.objectStore.putKeys, [objectKey(1)], 'idle and no flush for longer than the linger: at the end of the turn');
  await until(() => s.committed.length === 1, 'the first commit');
  t.same(
    s.committed[0]!.entries.map((e) => [e.topicId, e.partition, e.baseOffset, e.lastOffset, e.batchCount]),
    [
      [topicA, 0, 0, 0, 1],
      [topicB, 1, 0, 1, 1],
    ],
    'one object for every partition',
  );
  s.append(p0, ['d']);
  await nextTurn();
  t.same(s.objectStore.putKeys, [objectKey(1)], 'within the linger of the last start: it waits');
  await until(() => s.committed.length === 2, 'the second flush');
  const sinceFirst = performance.now() - firstStarted;
  t.ok(sinceFirst >= lingerMs - 1, `not before the floor (${sinceFirst.toFixed(1)} ms)`);
  const secondCommittedMs = Date.now();
  s.objectStore.hold = true;
  await until(() => Date.now() - secondCommittedMs > lingerMs, 'the floor to pass, so that the next append flushes at once');
  s.append(p0, ['e']);
  await until(() => s.objectStore.heldKeys.length === 1, 'the third flush, held');
  const appendedMs = Date.now();
  s.append(p0, ['f']);
  await until(() => s.objectStore.heldKeys.length === 2, 'the fourth flush, while the third is held');
  t.ok(Date.now() - appendedMs >= lingerMs - 1, `after the linger (${Date.now() - appendedMs} ms)`);
  s.objectStore.hold = false;
  for (const k of s.objectStore.heldKeys) s.objectStore.release(k);
  await until(() => p0.highWatermark === 4, 'every commit');
  t.same(s.metadata.txnPuts, [walKey(1), walKey(2), walKey(3), walKey(4)]);
  s.flusher.flushNow();
  await nextTurn();
  t.equal(s.objectStore.putKeys.length, 4, 'nothing pending: nothing written');
});

t.test('what a flush persists: the object, its WAL key, the cache and the extents', async (t) => {
  const s = setup(t, { firstSequence: 41, walKeyOf: (n) => `/wal/node-3/${n}` });
  const p0 = s.log(topicA, 0);
  const p1 = s.log(topicB, 1);
  const a = s.append(p0, ['a', 'b']);
  const b = s.append(p1, ['c']);
  s.flusher.flushNow();
  await until(() => s.committed.length === 1, 'the commit');
  const key = objectKey(41);
  t.same([...s.objectStore.objects.keys()], [key], 'the object is named by the first sequence, node and incarnation');
  const object = s.objectStore.objects.get(key)!;
  const footer = parseWalFooter(object.subarray(object.length - walFooterBytes), object.length);
  const entries = parseWalIndex(object.subarray(footer.indexPosition, footer.indexPosition + footer.indexLengthBytes), footer.indexCrc);
  t.same(entries, s.committed[0]!.entries, 'the object holds the index the commit reported');
  t.same(
    entries.map((e) => [e.topicId, e.partition, e.baseOffset, e.lastOffset, e.position, e.lengthBytes]),
    [
      [topicA, 0, 0, 1, 0, a.bytes],
      [topicB, 1, 0, 0, a.bytes, b.bytes],
    ],
  );
  const kv = await s.metadata.get('/wal/node-3/41');
  t.ok(kv, 'the WAL key (walKeyOf) is written');
  const record = JSON.parse(kv!.value) as WalRecord;
  t.match(record, { objectKey: key, sizeBytes: object.length, nodeId: 3 });
  t.same(record, s.committed[0]!.record);
  t.equal(s.committed[0]!.walKey, '/wal/node-3/41');
  t.same(
    p0.extents.map((e) => [e.objectKey, e.baseOffset, e.lastOffset, e.position, e.lengthBytes, e.segment, e.objectSizeBytes]),
    [[key, 0, 1, 0, a.bytes, false, object.length]],
  );
  t.same(
    p1.extents.map((e) => [e.objectKey, e.position, e.lengthBytes]),
    [[key, a.bytes, b.bytes]],
  );
  t.ok((await s.cache.get(key, a.bytes, b.bytes)).equals(object.subarray(a.bytes, a.bytes + b.bytes)), 'the chunk is in the cache');
  t.equal(s.cache.stats.misses, 0, 'served from the cache, no GET');
  s.append(p0, ['e']);
  s.flusher.flushNow();
  await until(() => s.committed.length === 2, 'the second commit');
  t.equal(s.committed[1]!.walKey, '/wal/node-3/42', 'sequences follow each other');
  t.match(s.flusher.stats, { flushes: 2, commits: 2, putRetries: 0, commitRetries: 0 });
});

t.test('at most maxConcurrentFlushes are in flight; the next starts when one finishes', async (t) => {
  const s = setup(t, { maxConcurrentFlushes: 2 });
  s.objectStore.hold = true;
  const p0 = s.log(topicA, 0);
  for (let i = 0; i < 3; i++) {
    s.append(p0, [`v${i}`]);
    s.flusher.flushNow();
  }
  t.same(s.objectStore.heldKeys, [objectKey(1), objectKey(2)], 'two PUTs in flight, the third append waits');
  t.ok(s.flusher.pendingBytes > 0, 'the third append is still pending');
  const pendingThird = s.flusher.pendingBytes;
  t.equal(s.flusher.unflushedBytes, 3 * pendingThird, 'unflushed counts in-flight and pending bytes');
  s.objectStore.release(objectKey(1));
  await until(() => s.objectStore.heldKeys.includes(objectKey(3)), 'the third flush to start');
  t.same(s.objectStore.heldKeys, [objectKey(2), objectKey(3)]);
  t.equal(s.flusher.pendingBytes, 0);
  s.objectStore.hold = false;
  s.objectStore.release(objectKey(2));
  s.objectStore.release(objectKey(3));
  await until(() => p0.highWatermark === 3, 'every flush to commit');
  t.same(
    s.committed.map((c) => c.entries.map((e) => [e.baseOffset, e.lastOffset])),
    [[[0, 0]], [[1, 1]], [[2, 2]]],
    'one append per object, in order',
  );
});

t.test('metadata commits happen in flush order even when a later PUT finishes first', async (t) => {
  const s = setup(t, { maxConcurrentFlushes: 2 });
  s.objectStore.hold = true;
  const p0 = s.log(topicA, 0);
  const waits: number[] = [];
  for (let i = 0; i < 2; i++) {
    const r = s.append(p0, [`v${i}`]);
    void p0.waitDurable(r.lastOffset).then(() => waits.push(r.lastOffset));
    s.flusher.flushNow();
  }
  s.objectStore.release(objectKey(2));
  await until(() => s.objectStore.objects.has(objectKey(2)), 'the second PUT to land');
  await settle();
  t.same(s.metadata.txnPuts, [], 'the second flush waits for the first commit before committing');
  t.equal(p0.highWatermark, 0, 'nothing is acknowledged');
  t.same(waits, []);
  s.objectStore.release(objectKey(1));
  await until(() => p0.highWatermark === 2, 'both commits');
  t.same(s.metadata.txnPuts, [walKey(1), walKey(2)], 'commits in sequence order');
  const [k1, k2] = [await s.metadata.get(walKey(1)), await s.metadata.get(walKey(2))];
  t.ok(k1!.createRevision < k2!.createRevision);
  t.same(
    s.committed.map((c) => c.walKey),
    [walKey(1), walKey(2)],
  );
  await until(() => waits.length === 2, 'acknowledgements');
  t.same(waits, [0, 1], 'acknowledged in offset order');
});

t.test('waitForRoom counts in-flight bytes, starts a flush, and times out', async (t) => {
  const s = setup(t, { flushSizeBytes: 1 << 20, flushLingerMs: 60_000 });
  const p0 = s.log(topicA, 0);
  const a = s.append(p0, ['x'.repeat(500)]);
  t.equal(await s.flusher.waitForRoom(a.bytes + 1, 1000), true, 'below the limit: room at once');
  t.same(s.objectStore.putKeys, [], 'and nothing flushed for it');
  s.objectStore.hold = true;
  const started = Date.now();
  t.equal(await s.flusher.waitForRoom(a.bytes, 60), false, 'at the limit with the flush held: no room before the timeout');
  t.ok(Date.now() - started >= 59, `it waited the timeout (${Date.now() - started} ms)`);
  t.same(s.objectStore.heldKeys, [objectKey(1)], 'waiting started a flush of the pending bytes');
  t.equal(s.flusher.pendingBytes, 0);
  t.equal(s.flusher.unflushedBytes, a.bytes, 'bytes being flushed still count');
  t.equal(await s.flusher.waitForRoom(a.bytes, 0), false, 'a zero timeout answers at once');
  const room = s.flusher.waitForRoom(a.bytes, 10_000);
  let answered: boolean | null = null;
  void room.then((r) => (answered = r));
  await settle();
  t.equal(answered, null, 'still waiting while the flush is held');
  s.objectStore.release(objectKey(1));
  t.equal(await room, true, 'room once the flush completes');
  t.equal(s.flusher.unflushedBytes, 0);
  t.equal(p0.highWatermark, 1);
});

t.test('transient PUT and commit failures are retried; a lost commit answer is not fencing', async (t) => {
  const s = setup(t);
  const p0 = s.log(topicA, 0);
  s.objectStore.failNextPuts = 2;
  s.metadata.failNext = 1;
  s.metadata.loseNextAnswers = 0;
  s.append(p0, ['a']);
  s.flusher.flushNow();
  await until(() => p0.highWatermark === 1, 'the flush after retries');
  t.same(s.objectStore.putKeys, [objectKey(1), objectKey(1), objectKey(1)], 'the same key every attempt');
  t.match(s.flusher.stats, { flushes: 1, commits: 1, putRetries: 2, commitRetries: 1 });
  // The commit reaches the store but its answer is lost: the retry is refused (the key exists) and must find
  // its own earlier commit rather than conclude the broker was fenced.
  s.metadata.loseNextAnswers = 1;
  s.append(p0, ['b']);
  s.flusher.flushNow();
  await until(() => p0.highWatermark === 2, 'the flush whose commit answer was lost');
  t.same(s.fenced, [], 'not fenced');
  t.same(s.metadata.txnPuts.slice(-2), [walKey(2), walKey(2)], 'retried once');
  t.equal(s.committed.filter((c) => c.walKey === walKey(2)).length, 1, 'committed (and reported) exactly once');
  t.match(s.flusher.stats, { commits: 2, commitRetries: 2 });
  t.same(JSON.parse((await s.metadata.get(walKey(2)))!.value).objectKey, objectKey(2));
});

t.test('a PUT that landed but whose answer was lost: the retry finds the object and the flush commits', async (t) => {
  const s = setup(t);
  const p0 = s.log(topicA, 0);
  s.objectStore.loseNextPutAnswers = 1;
  s.append(p0, ['a']);
  s.flusher.flushNow();
  await until(() => p0.highWatermark === 1, 'the flush whose PUT answer was lost');
  t.same(s.objectStore.putKeys, [objectKey(1), objectKey(1)], 'retried once, refused as existing');
  t.same(s.fenced, [], 'not fenced');
  t.match(s.flusher.stats, { flushes: 1, commits: 1, putRetries: 1 });
  t.equal(JSON.parse((await s.metadata.get(walKey(1)))!.value).objectKey, objectKey(1));
});

t.test('a WAL object key taken before the first attempt is not retried: the flush fails', async (t) => {
  const s = setup(t);
  const p0 = s.log(topicA, 0);
  await s.objectStore.put(objectKey(1), Buffer.from('someone else'));
  const appended = s.append(p0, ['a']);
  const durable = p0.waitDurable(appended.baseOffset);
  s.flusher.flushNow();
  await t.rejects(durable, 'the append is not acknowledged');
  t.same(s.objectStore.putKeys, [objectKey(1), objectKey(1)], 'the seeding put and one attempt, no retry');
  t.equal(await s.metadata.get(walKey(1)), null, 'nothing committed');
});

t.test('a refused commit fences: appends are abandoned, waiters rejected, later appends refused', async (t) => {
  const s = setup(t, { maxConcurrentFlushes: 2 });
  const p0 = s.log(topicA, 0);
  s.append(p0, ['ok']);
  s.flusher.flushNow();
  await until(() => p0.highWatermark === 1, 'a first flush');
  s.setFence(false);
  s.objectStore.hold = true;
  const r1 = s.append(p0, ['lost-1']);
  const w1 = p0.waitDurable(r1.lastOffset);
  s.flusher.flushNow();
  const r2 = s.append(p0, ['lost-2']);
  const w2 = p0.waitDurable(r2.lastOffset);
  s.flusher.flushNow();
  const p1 = s.log(topicB, 0);
  const r3 = s.append(p1, ['pending']);
  const w3 = p1.waitDurable(r3.lastOffset);
  s.objectStore.hold = false;
  s.objectStore.release(objectKey(2));
  s.objectStore.release(objectKey(3));
  await t.rejects(w1, FencedError, 'the waiter of the refused flush is rejected');
  await t.rejects(w2, FencedError, 'so is the one of the flush behind it');
  await t.rejects(w3, FencedError, 'and the one of a partition still pending');
  t.equal(s.fenced.length, 1, 'onFenced is called once');
  t.type(s.fenced[0], FencedError);
  t.match(s.fenced[0]!.message, /no longer holds its fencing token/);
  t.equal(await s.metadata.get(walKey(2)), null, 'the refused commit wrote nothing');
  t.equal(await s.metadata.get(walKey(3)), null, 'nor did the one behind it');
  t.same(s.metadata.txnPuts, [walKey(1), walKey(2)], 'the flush behind a refused one does not try to commit');
  t.equal(p0.highWatermark, 1, 'the high watermark stays at what was durable');
  t.equal(p0.nextOffset, 1, 'offsets restart at the high watermark');
  t.equal(s.flusher.pendingBytes, 0);
  t.throws(() => s.flusher.appended(p0, 10), FencedError, 'later appends are refused');
  t.equal(await s.flusher.waitForRoom(0, 1000), false, 'no room once fenced');
  t.same(
    s.committed.map((c) => c.walKey),
    [walKey(1)],
  );
});

t.test('a WAL key already taken (another broker with the same sequence) fences', async (t) => {
  const s = setup(t);
  await s.metadata.txn([], [{ type: 'put', key: walKey(1), value: '{"objectKey":"someone-else"}' }]);
  const p0 = s.log(topicA, 0);
  const r = s.append(p0, ['a']);
  const durable = p0.waitDurable(r.lastOffset);
  s.flusher.flushNow();
  await t.rejects(durable, FencedError);
  t.equal(s.fenced.length, 1);
  t.equal((await s.metadata.get(walKey(1)))!.value, '{"objectKey":"someone-else"}', 'the other commit is left alone');
  t.same(s.committed, []);
});

t.test('close flushes what is pending; past its deadline a failing store is given up', async (t) => {
  const s = setup(t, { flushLingerMs: 60_000 });
  const p0 = s.log(topicA, 0);
  s.append(p0, ['a']);
  await s.flusher.close(5000);
  t.equal(p0.highWatermark, 1, 'close made the pending append durable');
  t.same(s.fenced, []);

  const f = setup(t, { flushLingerMs: 60_000 });
  const q0 = f.log(topicA, 0);
  const r = f.append(q0, ['never']);
  const durable = q0.waitDurable(r.lastOffset);
  f.objectStore.failNextPuts = Number.MAX_SAFE_INTEGER;
  const started = Date.now();
  await f.flusher.close(150);
  const tookMs = Date.now() - started;
  // Retries back off up to retryMaxBackoffMs (1 s) between attempts: close returns after the attempt in progress.
  t.ok(tookMs >= 149 && tookMs < 3000, `close gave up after its deadline (${tookMs} ms)`);
  await t.rejects(durable, FencedError, 'the append is abandoned, never acknowledged');
  t.equal(f.fenced.length, 1);
  t.match(f.fenced[0]!.message, /failed for good/);
  t.equal(q0.highWatermark, 0);
  t.ok(f.flusher.stats.putRetries >= 1);
});
