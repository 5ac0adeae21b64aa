// Segment compaction over a real local object store and the in-memory metadata store: runs of WAL chunks become
// per-partition segments named by manifests, reads and timestamp lookups give the same answers before and after,
// WAL objects and their keys go, recovery reads manifests and the recent WAL only, retention and DeleteRecords
// work on segments, and crashes or fencing at any step leave every acknowledged record readable exactly once.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogManager } from '../../../broker/log/log-manager.ts';
import type { LogManagerOptions } from '../../../broker/log/log-manager.ts';
import type { PartitionLog } from '../../../broker/log/partition-log.ts';
import { producerStateOf } from '../../../broker/log/producer-state-load.ts';
import type { LogReader } from '../../../broker/log/producer-state-load.ts';
import { brokerKey, deletedTopicKey, logStartKey, partitionManifestKey, walPrefix } from '../../../broker/metadata/layout.ts';
import type { PartitionManifest } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import type { Compare, KeyValue, Lease, MetadataStore, Op, TxnResult, Watch, WatchEvent } from '../../../broker/metadata/store.ts';
import { MetadataUnavailableError } from '../../../broker/metadata/store.ts';
import { TopicRegistry } from '../../../broker/metadata/topics.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { assignOffsets, buildRecordBatch, openBatchRecords, RecordCursor } from '../../../broker/protocol/records/index.ts';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import type { ObjectInfo, ObjectStore, PutOptions } from '../../../broker/storage/object-store.ts';

const patch = (records: Buffer, baseOffset: number, leaderEpoch: number) => {
  assignOffsets(records, baseOffset, leaderEpoch);
};

function batch(values: string[], timestampMs = Date.now()): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })));
}

function records(data: Buffer | null): { offset: number; value: string; ts: number }[] {
  const out: { offset: number; value: string; ts: number }[] = [];
  if (!data) return out;
  for (let pos = 0; pos < data.length; ) {
    const c = openBatchRecords(data, pos, new RecordCursor(), { maxDecompressedBytes: 1 << 24 });
    while (c.next()) out.push({ offset: c.offset, value: c.value()!.toString(), ts: c.timestampMs });
    pos += 12 + data.readInt32BE(pos + 8);
  }
  return out;
}

/** A metadata store that can fail transactions on demand (fault injection around a real store). */
class FaultyMetadata implements MetadataStore {
  readonly inner: MemoryMetadataStore;
  /** Called before each txn; may throw (the txn is not applied), or return 'after' to apply it then throw. */
  // biome-ignore lint/suspicious/noConfusingVoidType: hooks that apply the txn return nothing
  hook: ((compares: Compare[], ops: Op[]) => void | 'throw-after') | null = null;
  constructor(inner: MemoryMetadataStore) {
    this.inner = inner;
  }
  get(key: string): Promise<KeyValue | null> {
    return this.inner.get(key);
  }
  getPrefix(prefix: string, limit?: number): Promise<KeyValue[]> {
    return this.inner.getPrefix(prefix, limit);
  }
  async txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    const what = this.hook?.(compares, success);
    const result = await this.inner.txn(compares, success, failure);
    if (what === 'throw-after') throw new MetadataUnavailableError('injected: the answer was lost');
    return result;
  }
  revision(): Promise<number> {
    return this.inner.revision();
  }
  grantLease(ttlMs: number): Promise<Lease> {
    return this.inner.grantLease(ttlMs);
  }
  watchPrefix(prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void, onError?: (err: Error) => void): Watch {
    return this.inner.watchPrefix(prefix, fromRevision, onEvents, onError);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An object store wrapper counting and failing requests on demand. */
class FaultyObjects implements ObjectStore {
  readonly inner: LocalObjectStore;
  onPut: ((key: string) => void) | null = null;
  onGet: ((key: string) => Promise<void> | void) | null = null;
  onDelete: ((keys: string[]) => void) | null = null;
  constructor(inner: LocalObjectStore) {
    this.inner = inner;
  }
  async put(key: string, body: Buffer | Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    const info = await this.inner.put(key, body, options);
    this.onPut?.(key);
    return info;
  }
  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    await this.onGet?.(key);
    return this.inner.get(key, range);
  }
  head(key: string): Promise<ObjectInfo | null> {
    return this.inner.head(key);
  }
  async delete(keys: string[]): Promise<void> {
    this.onDelete?.(keys);
    return this.inner.delete(keys);
  }
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return this.inner.list(prefix, options);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function setup(t: Test, overrides: Partial<LogManagerOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-compact-'));
  const memory = new MemoryMetadataStore();
  const metadata = new FaultyMetadata(memory);
  const local = await LocalObjectStore.open(join(dir, 'objects'));
  const objectStore = new FaultyObjects(local);
  const topics = new TopicRegistry(metadata);
  const running = new Set<LogManager>();
  const make = async (more: Partial<LogManagerOptions> = {}) => {
    await topics.load();
    const logs = new LogManager({
      metadata,
      objectStore,
      topics,
      nodeId: 1,
      host: '127.0.0.1',
      port: 9092,
      flushSizeBytes: 1 << 20,
      flushLingerMs: 0,
      maxConcurrentFlushes: 1,
      cacheSegmentBytes: 1 << 20,
      readaheadBytes: 1 << 16,
      recoveryConcurrency: 4,
      logger: silentLogger(),
      retentionOf: () => ({ retentionMs: -1, retentionBytes: -1, deleteEnabled: true }),
      compaction: { minAgeMs: 0, maxAgeMs: 60_000, targetBytes: 1 << 20, indexIntervalBytes: 1024 },
      ...overrides,
      ...more,
    });
    await logs.start();
    running.add(logs);
    return logs;
  };
  /** A crash: the process stops, nothing more of it runs (its timers and retries are cut short). */
  const crash = async (logs: LogManager) => {
    running.delete(logs);
    await logs.close(0).catch(() => {});
  };
  t.teardown(async () => {
    for (const l of running) await l.close(1000).catch(() => {});
    await local.close();
    await memory.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { metadata, memory, objectStore, local, topics, make, crash };
}

/** Appends `n` one-record batches, one flush each (one WAL object each), timestamps from `ts0` by 1000. */
async function fill(logs: LogManager, log: PartitionLog, n: number, prefix: string, ts0 = Date.now()): Promise<void> {
  for (let i = 0; i < n; i++) await logs.append(log, batch([`${prefix}${i}`], ts0 + i * 1000), 1, null, patch).durable;
}

/** Every record from every offset: what a consumer starting there would get first, and the full log. */
async function snapshot(logs: LogManager, log: PartitionLog): Promise<string[]> {
  const out: string[] = [];
  for (let o = log.logStartOffset; o < log.highWatermark; o++) {
    const r = records(await logs.read(log, o, 1, true, log.highWatermark));
    out.push(`${o}:${r.find((x) => x.offset === o)?.value ?? 'MISSING'}`);
  }
  const all = records(await logs.read(log, log.logStartOffset, 1 << 24, true, log.highWatermark));
  out.push(`all:${all.map((r) => `${r.offset}=${r.value}`).join(',')}`);
  return out;
}

async function manifest(metadata: MetadataStore, log: PartitionLog): Promise<PartitionManifest | null> {
  const kv = await metadata.get(partitionManifestKey(log.topicId, log.partition));
  return kv ? (JSON.parse(kv.value) as PartitionManifest) : null;
}

const later = () => Date.now() + 3_600_000; // every WAL chunk is then past the max age

t.test('compaction merges WAL chunks into one segment; reads are the same at every offset; WAL objects go', async (t) => {
  const { metadata, local, topics, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('a', 2, {});
  logs.ensurePartitions(topic);
  const p0 = logs.partition(topic.id, 0)!;
  const p1 = logs.partition(topic.id, 1)!;
  for (let i = 0; i < 20; i++) {
    const w0 = logs.append(p0, batch([`a${i}`, `b${i}`], 1000 + i), 1, null, patch);
    const w1 = logs.append(p1, batch([`x${i}`], 1000 + i), 1, null, patch);
    await Promise.all([w0.durable, w1.durable]);
  }
  t.equal(p0.extents.length, 20);
  t.equal((await local.list('wal/')).length, 20, 'one WAL object per flush, shared by both partitions');
  const before0 = await snapshot(logs, p0);
  const before1 = await snapshot(logs, p1);

  await logs.compactor.runOnce(later());
  t.equal(p0.extents.length, 1, 'one extent');
  t.ok(p0.extents[0]!.segment);
  t.equal(p1.extents.length, 1);
  t.same(await snapshot(logs, p0), before0, 'p0 reads the same at every offset');
  t.same(await snapshot(logs, p1), before1, 'p1 reads the same at every offset');
  t.equal((await local.list('wal/')).length, 0, 'every WAL object deleted');
  t.equal((await metadata.getPrefix(walPrefix)).length, 0, 'and its /wal/ key');
  const segs = await local.list('seg/');
  t.equal(segs.length, 2, 'one segment per partition');
  t.match(segs[0]!.key, new RegExp(`^seg/${topic.id}/[01]/00000000000000000000-1-${logs.incarnation}-\\d+\\.seg$`));
  const m = await manifest(metadata, p0);
  t.match(m, { logStartOffset: 0, segments: [{ baseOffset: 0, lastOffset: 39, maxTimestamp: 1019 }] });
  t.equal(logs.compactor.stats.segmentsWritten, 2);
  t.equal(logs.stats.walObjectsDeleted, 20);

  // New data after the segment: appends go on, reads cross from the segment into the WAL.
  await fill(logs, p0, 3, 'n');
  t.equal(p0.extents.length, 4);
  t.same(
    records(await logs.read(p0, 38, 1 << 20, true, p0.highWatermark)).map((r) => r.value),
    ['a19', 'b19', 'n0', 'n1', 'n2'],
  );
  await logs.compactor.runOnce(Date.now()); // below the target size and younger than the max age: nothing
  t.equal(p0.extents.length, 4, 'young small runs wait');
  await logs.compactor.runOnce(later());
  t.equal(p0.extents.length, 2, 'a second segment follows the first');
  t.same(
    (await manifest(metadata, p0))!.segments.map((s) => [s.baseOffset, s.lastOffset]),
    [
      [0, 39],
      [40, 42],
    ],
  );
});

t.test('runs are cut at the target size; only data older than the min age is taken', async (t) => {
  const { topics, make } = await setup(t);
  const logs = await make({ compaction: { minAgeMs: 10_000, maxAgeMs: 60_000, targetBytes: 2000, indexIntervalBytes: 256 } });
  const topic = await topics.create('cut', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  const big = 'v'.repeat(400);
  for (let i = 0; i < 12; i++) await logs.append(p, batch([big + i]), 1, null, patch).durable;
  const before = await snapshot(logs, p);
  await logs.compactor.runOnce(Date.now());
  t.equal(p.extents.length, 12, 'nothing is older than the min age');
  await logs.compactor.runOnce(Date.now() + 20_000);
  const sizes = p.extents.map((e) => (e.segment ? `S${e.lengthBytes >= 2000 ? '+' : '-'}` : 'W'));
  t.ok(sizes.filter((s) => s === 'S+').length >= 2, `segments of at least the target: ${sizes.join(' ')}`);
  t.ok(
    p.extents.every((e, i) => !e.segment || p.extents.slice(0, i).every((x) => x.segment)),
    'segments form a prefix',
  );
  t.same(await snapshot(logs, p), before);
});

t.test('recovery after compaction reads manifests and the recent WAL only', async (t) => {
  const { local, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('r', 4, {});
  logs.ensurePartitions(topic);
  const parts = [0, 1, 2, 3].map((p) => logs.partition(topic.id, p)!);
  const flushes = 100;
  for (let i = 0; i < flushes; i++) {
    await Promise.all(parts.map((p, k) => logs.append(p, batch([`${k}-${i}`], 1000 + i), 1, null, patch).durable));
  }
  const expected = await Promise.all(parts.map((p) => snapshot(logs, p)));
  await crash(logs);

  let gets = local.stats().requests.get;
  let t0 = performance.now();
  logs = await make();
  const recoveryGetsBefore = local.stats().requests.get - gets;
  const recoveryMsBefore = performance.now() - t0;
  t.equal(
    recoveryGetsBefore,
    flushes,
    `before compaction: one GET per WAL object (${recoveryGetsBefore} in ${recoveryMsBefore.toFixed(1)} ms)`,
  );
  await logs.compactor.runOnce(later());
  // A few recent flushes stay in the WAL.
  const recent = 5;
  for (let i = flushes; i < flushes + recent; i++) {
    await Promise.all(
      [0, 1, 2, 3].map((k) => logs.append(logs.partition(topic.id, k)!, batch([`${k}-${i}`], 1000 + i), 1, null, patch).durable),
    );
  }
  await crash(logs);

  gets = local.stats().requests.get;
  t0 = performance.now();
  logs = await make();
  const recoveryGetsAfter = local.stats().requests.get - gets;
  const recoveryMsAfter = performance.now() - t0;
  t.equal(
    recoveryGetsAfter,
    recent,
    `after compaction: only the recent WAL objects (${recoveryGetsAfter} GETs in ${recoveryMsAfter.toFixed(1)} ms)`,
  );
  t.comment(
    `recovery of ${flushes} flushes × 4 partitions: ${recoveryGetsBefore} GETs / ${recoveryMsBefore.toFixed(1)} ms before compaction, ${recoveryGetsAfter} GETs / ${recoveryMsAfter.toFixed(1)} ms after (${recent} recent flushes)`,
  );
  for (let k = 0; k < 4; k++) {
    const p = logs.partition(topic.id, k)!;
    t.equal(p.highWatermark, flushes + recent);
    t.equal(p.extents.length, 1 + recent, 'a segment and the recent chunks');
    const now = await snapshot(logs, p);
    t.same(now.slice(0, flushes), expected[k]!.slice(0, flushes), `partition ${k}: every compacted offset reads the same`);
    t.equal(now.at(-1), `all:${Array.from({ length: flushes + recent }, (_, i) => `${i}=${k}-${i}`).join(',')}`);
  }
  const w = logs.append(logs.partition(topic.id, 0)!, batch(['next']), 1, null, patch);
  t.equal(w.baseOffset, flushes + recent, 'offsets continue');
  await w.durable;
});

t.test('segment reads GET one read-ahead window through the offset index, not the whole segment', async (t) => {
  const { local, topics, make, crash } = await setup(t);
  let logs = await make({ readaheadBytes: 4096 });
  const topic = await topics.create('w', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  const value = 'x'.repeat(500);
  for (let i = 0; i < 200; i++) await logs.append(p, batch([`${i}:${value}`], 1000 + i), 1, null, patch).durable;
  await logs.compactor.runOnce(later());
  t.equal(p.extents.length, 1);
  const segmentBytes = p.extents[0]!.lengthBytes;
  await crash(logs);
  logs = await make({ readaheadBytes: 4096 });
  p = logs.partition(topic.id, 0)!;
  const bytes = local.stats().bytesRead;
  const gets = local.stats().requests.get;
  const r = records(await logs.read(p, 150, 1, true, p.highWatermark));
  t.equal(r[0]!.offset, 150);
  t.equal(r[0]!.value, `150:${value}`);
  const read = local.stats().bytesRead - bytes;
  t.ok(read < segmentBytes / 4, `read ${read} bytes of a ${segmentBytes}-byte segment`);
  t.ok(local.stats().requests.get - gets <= 3, 'index (one GET) and one window (plus read-ahead)');
  // Sequential reading across windows returns everything, in order.
  const seen: number[] = [];
  for (let o = 0; o < p.highWatermark; ) {
    const got = records(await logs.read(p, o, 3000, true, p.highWatermark));
    for (const x of got) seen.push(x.offset);
    o = got.at(-1)!.offset + 1;
  }
  t.same(
    seen,
    Array.from({ length: 200 }, (_, i) => i),
  );
  t.ok(logs.indexCache.stats.hits > 0);
});

t.test('timestamp lookups use the time index', async (t) => {
  const { local, topics, make, crash } = await setup(t);
  let logs = await make({ readaheadBytes: 2048 });
  const topic = await topics.create('ts', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  const value = 'y'.repeat(300);
  // Timestamps rise by 10 ms, except that every 10th batch jumps 1 s ahead (out of order, as CreateTime allows).
  const ts = (i: number) => 100_000 + i * 10 + (i % 10 === 5 ? 1000 : 0);
  for (let i = 0; i < 150; i++) await logs.append(p, batch([`${i}:${value}`], ts(i)), 1, null, patch).durable;
  const targets = [0, 100_000, 100_001, 100_500, 101_000, 101_055, 101_200, 101_495, 101_500, 102_000, 102_200, 102_490, 103_000];
  const lookup = async () =>
    Promise.all(
      targets.map(async (target) => {
        const found = await logs.findBatchByTimestamp(p, target);
        return found ? records(found.batch)[0]!.offset : null;
      }),
    );
  const before = await lookup();
  const expected = targets.map((target) => {
    const i = Array.from({ length: 150 }, (_, k) => k).find((k) => ts(k) >= target);
    return i ?? null;
  });
  t.same(before, expected, 'WAL extents: first batch at or after each timestamp');
  await logs.compactor.runOnce(later());
  await crash(logs);
  logs = await make({ readaheadBytes: 2048 });
  p = logs.partition(topic.id, 0)!;
  t.ok(p.extents[0]!.segment);
  await logs.indexCache.segment(p.extents[0]!.objectKey, p.extents[0]!.objectSizeBytes); // (one tail GET, measured elsewhere)
  const bytes = local.stats().bytesRead;
  const found = await logs.findBatchByTimestamp(p, 102_200);
  t.equal(records(found!.batch)[0]!.offset, 125);
  t.ok(local.stats().bytesRead - bytes < p.extents[0]!.lengthBytes / 3, 'the time index narrows the scan to a window');
  t.same(await lookup(), expected, 'segment: the same answers');
  await logs.deleteRecordsBefore(p, 60);
  t.equal(records((await logs.findBatchByTimestamp(p, 100_000))!.batch)[0]!.offset, 60, 'never below the log start');
});

t.test('retention and DeleteRecords work on segments: whole segments below the log start are deleted', async (t) => {
  let retention = { retentionMs: -1, retentionBytes: -1, deleteEnabled: true };
  const { metadata, local, topics, make, crash } = await setup(t, { retentionOf: () => retention });
  let logs = await make({ compaction: { minAgeMs: 0, maxAgeMs: 60_000, targetBytes: 300, indexIntervalBytes: 128 } });
  const topic = await topics.create('ret', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  const now = Date.now();
  for (let i = 0; i < 12; i++) await logs.append(p, batch([`r${i}-${'z'.repeat(100)}`], now - (12 - i) * 60_000), 1, null, patch).durable;
  await logs.compactor.runOnce(later());
  const segments = p.extents.filter((e) => e.segment);
  t.ok(segments.length >= 3, `${segments.length} segments`);
  t.equal(p.extents.length, segments.length, 'all compacted');

  // DeleteRecords into the middle of the second segment: the first goes, the second stays.
  const second = segments[1]!;
  const mid = second.baseOffset + 1;
  await logs.deleteRecordsBefore(p, mid);
  t.equal(p.logStartOffset, mid);
  t.equal(p.extents[0], second, 'the partly deleted segment stays');
  t.notOk(await local.head(segments[0]!.objectKey), 'the wholly deleted one is gone');
  t.same((await manifest(metadata, p))!.logStartOffset, mid);
  t.equal((await manifest(metadata, p))!.segments[0]!.objectKey, second.objectKey);
  t.equal(records(await logs.read(p, 0, 1 << 20, true, p.highWatermark))[0], undefined, 'nothing below the log start... ');
  t.equal(records(await logs.read(p, mid, 1 << 20, true, p.highWatermark))[0]!.offset, mid);

  // Time retention: segments whose newest record is older than 5.5 minutes go.
  retention = { retentionMs: 330_000, retentionBytes: -1, deleteEnabled: true };
  await logs.enforceRetention(now);
  const kept = p.extents;
  t.ok(kept.length < segments.length - 1, 'old segments dropped');
  t.ok(
    kept.every((e) => e.maxTimestamp >= now - 330_000),
    'what is left is young enough',
  );
  for (const s of segments) if (!kept.includes(s)) t.notOk(await local.head(s.objectKey), `${s.objectKey} deleted`);
  const m = (await manifest(metadata, p))!;
  t.equal(m.logStartOffset, kept[0]!.baseOffset);
  t.same(
    m.segments.map((s) => s.objectKey),
    kept.map((e) => e.objectKey),
  );
  const before = await snapshot(logs, p);
  await crash(logs);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.equal(p.logStartOffset, kept[0]!.baseOffset, 'the log start survives a restart');
  t.same(await snapshot(logs, p), before);

  // Retention empties the log: offsets still never go back.
  retention = { retentionMs: 0, retentionBytes: -1, deleteEnabled: true };
  await logs.enforceRetention(Date.now());
  t.equal(p.extents.length, 0);
  t.equal(p.logStartOffset, 12);
  t.equal((await local.list('seg/')).length, 0, 'every segment deleted');
  await crash(logs);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.equal(p.logStartOffset, 12);
  t.equal(p.highWatermark, 12);
});

t.test('crash between the segment PUT and the manifest commit: the orphan is deleted at the next start, data intact', async (t) => {
  const { metadata, local, objectStore, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('crash1', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 10, 'c');
  const before = await snapshot(logs, p);
  // The process dies right after the PUT: the commit never reaches the store (it keeps failing, then the
  // process is gone).
  let putKey = '';
  let failing!: () => void;
  const commitTried = new Promise<void>((resolve) => (failing = resolve));
  objectStore.onPut = (key) => {
    if (key.startsWith('seg/')) {
      putKey = key;
      metadata.hook = () => {
        failing();
        throw new Error('the store is unreachable');
      };
    }
  };
  const pass = logs.compactor.runOnce(later());
  await commitTried;
  await crash(logs);
  await pass;
  objectStore.onPut = null;
  metadata.hook = null;
  t.ok(putKey, 'a segment was PUT');
  t.ok(await local.head(putKey), 'and is still there');
  t.equal(p.extents.length, 10, 'nothing committed: the log is unchanged');
  t.equal(await manifest(metadata, p), null);

  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.notOk(await local.head(putKey), 'the orphan segment was deleted at start');
  t.same(await snapshot(logs, p), before, 'every record readable exactly once');
  await logs.compactor.runOnce(later());
  t.equal(p.extents.length, 1, 'and compaction succeeds this time');
  t.same(await snapshot(logs, p), before);
});

t.test('crash after the manifest commit, before garbage collection: recovery skips WAL chunks already in a segment', async (t) => {
  const { metadata, local, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('crash2', 2, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  let q = logs.partition(topic.id, 1)!;
  await fill(logs, p, 8, 'p');
  await fill(logs, q, 3, 'q');
  const before = await snapshot(logs, p);
  const beforeQ = await snapshot(logs, q);
  // GC's first step (deleting /wal/ keys) never happens: the process died after the manifest commit.
  metadata.hook = (_c, ops) => {
    if (ops.some((o) => o.type === 'delete' && o.key.startsWith(walPrefix))) throw new Error('process died');
  };
  await logs.compactor.runOnce(later());
  metadata.hook = null;
  t.ok(await manifest(metadata, p), 'the manifest is committed');
  t.equal((await local.list('wal/')).length, 11, 'no WAL object deleted');
  await crash(logs);

  logs = await make();
  p = logs.partition(topic.id, 0)!;
  q = logs.partition(topic.id, 1)!;
  t.equal(p.extents.length, 1, 'the segment only: its WAL chunks are skipped');
  t.same(await snapshot(logs, p), before, 'each record exactly once');
  t.same(await snapshot(logs, q), beforeQ);
  t.equal((await local.list('wal/')).length, 0, 'garbage collection at start deleted the WAL objects');
  t.equal((await metadata.getPrefix(walPrefix)).length, 0);
});

t.test('crash during garbage collection (keys deleted, objects not): the objects are orphans deleted at the next start', async (t) => {
  const { metadata, local, objectStore, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('crash3', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 6, 'g');
  const before = await snapshot(logs, p);
  objectStore.onDelete = (keys) => {
    if (keys.some((k) => k.startsWith('wal/'))) throw new Error('process died');
  };
  await logs.compactor.runOnce(later());
  objectStore.onDelete = null;
  t.equal((await metadata.getPrefix(walPrefix)).length, 0, 'the /wal/ keys went first');
  t.equal((await local.list('wal/')).length, 6, 'the objects are still there');
  await crash(logs);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.equal((await local.list('wal/')).length, 0, 'key-less WAL objects of this node are deleted at start');
  t.same(await snapshot(logs, p), before);
});

t.test('a commit whose answer is lost is recognised as committed', async (t) => {
  const { metadata, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('lost', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 5, 'l');
  const before = await snapshot(logs, p);
  let once = true;
  metadata.hook = (_c, ops) => {
    if (once && ops.some((o) => o.type === 'put' && o.key.startsWith('/partitions/'))) {
      once = false;
      return 'throw-after';
    }
  };
  await logs.compactor.runOnce(later());
  metadata.hook = null;
  t.equal(p.extents.length, 1, 'applied: the retry was refused, but the manifest holds exactly what was written');
  t.equal(logs.compactor.stats.segmentsWritten, 1);
  t.same(await snapshot(logs, p), before);
  await crash(logs);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.same(await snapshot(logs, p), before);
});

t.test('a fenced broker cannot commit a manifest; its segment is deleted', async (t) => {
  const { metadata, local, topics, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('fenced', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 5, 'f');
  const before = await snapshot(logs, p);
  await metadata.txn([], [{ type: 'put', key: brokerKey(1), value: JSON.stringify({ incarnation: 'someone-else' }) }]);
  await logs.compactor.runOnce(later());
  t.equal(await manifest(metadata, p), null, 'no manifest');
  t.equal(p.extents.length, 5, 'the log is unchanged');
  t.equal((await local.list('seg/')).length, 0, 'the refused segment was deleted');
  t.equal(logs.compactor.stats.segmentsAbandoned, 1);
  t.equal((await local.list('wal/')).length, 5, 'a fenced broker deletes no WAL object either');
  t.same(await snapshot(logs, p), before);
  await t.rejects(logs.deleteRecordsBefore(p, 2), /fencing token/);
});

t.test('compaction does not race with DeleteRecords or topic deletion', async (t) => {
  const { local, topics, objectStore, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('race', 2, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  const q = logs.partition(topic.id, 1)!;
  await fill(logs, p, 6, 'p');
  await fill(logs, q, 6, 'q');
  // While the segments are being PUT, DeleteRecords drops part of p's run and the topic of ... q stays.
  let raced: Promise<number> | null = null;
  objectStore.onPut = (key) => {
    if (key.startsWith(`seg/${topic.id}/0/`) && raced === null) raced = logs.deleteRecordsBefore(p, 3);
  };
  await logs.compactor.runOnce(later());
  objectStore.onPut = null;
  t.equal(await raced, 3);
  t.equal(p.logStartOffset, 3);
  t.equal(p.extents.length, 3, 'p: the run changed under the compaction, which was dropped');
  t.ok(p.extents.every((e) => !e.segment));
  t.equal(q.extents.length, 1, 'q: compacted');
  const segs = (await local.list('seg/')).map((o) => o.key);
  t.same(segs, [q.extents[0]!.objectKey], "p's uncommitted segment was deleted");
  t.same(
    records(await logs.read(p, 3, 1 << 20, true, p.highWatermark)).map((r) => r.value),
    ['p3', 'p4', 'p5'],
  );

  // Topic deletion while a compaction is in flight: nothing of the topic survives.
  await fill(logs, p, 3, 'more');
  let dropped: Promise<void> | null = null;
  objectStore.onPut = (key) => {
    if (key.startsWith('seg/') && dropped === null) dropped = topics.delete('race').then((d) => logs.dropTopic(d));
  };
  await logs.compactor.runOnce(later());
  objectStore.onPut = null;
  await dropped;
  t.equal(logs.partition(topic.id, 0), undefined);
  t.same(
    (await local.list('seg/')).map((o) => o.key),
    [],
    'no segment of the deleted topic is left',
  );
  t.same(
    (await local.list('wal/')).map((o) => o.key),
    [],
    'nor WAL object',
  );
});

t.test('a read that waited while its WAL object was compacted away looks the offset up again', async (t) => {
  const { topics, objectStore, make } = await setup(t);
  const logs = await make({ cacheSegmentBytes: 0 });
  const topic = await topics.create('inflight', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 4, 'i');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let gated = false;
  objectStore.onGet = (key) => {
    if (key.startsWith('wal/') && !gated) {
      gated = true;
      return gate;
    }
  };
  const reading = logs.read(p, 1, 1 << 20, true, p.highWatermark);
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(gated, 'the read is waiting for its WAL chunk');
  await logs.compactor.runOnce(later());
  t.ok(p.extents[0]!.segment, 'compacted, WAL objects deleted');
  release();
  t.same(
    records(await reading).map((r) => r.value),
    ['i1', 'i2', 'i3'],
    'the read found the records in the segment',
  );
});

t.test('too many segments: adjacent small ones are merged, the old ones deleted', async (t) => {
  const { metadata, local, topics, make } = await setup(t);
  const logs = await make({
    compaction: { minAgeMs: 0, maxAgeMs: 1000, targetBytes: 4096, indexIntervalBytes: 256, maxSegmentsPerPartition: 3 },
  });
  const topic = await topics.create('merge', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  for (let round = 0; round < 6; round++) {
    await fill(logs, p, 2, `m${round}-`);
    await logs.compactor.runOnce(later()); // each round: one small segment
  }
  const before = await snapshot(logs, p);
  t.ok(p.extents.every((e) => e.segment));
  t.ok(p.extents.length <= 4, `segments merged when over the limit: ${p.extents.length} left`);
  await logs.compactor.runOnce(later());
  t.ok(p.extents.length <= 3, `${p.extents.length} segments`);
  t.same(await snapshot(logs, p), before);
  const live = new Set(p.extents.map((e) => e.objectKey));
  t.same(new Set((await local.list('seg/')).map((o) => o.key)), live, 'merged segments deleted');
  t.same(new Set((await manifest(metadata, p))!.segments.map((s) => s.objectKey)), live);
  t.ok(logs.stats.segmentsDeleted > 0);
});

t.test('legacy /log-start/ keys are read at recovery and replaced by the manifest', async (t) => {
  const { metadata, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('legacy', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 6, 'L');
  await crash(logs);
  // A data directory of an earlier version: the log start lives in /log-start/.
  await metadata.txn([], [{ type: 'put', key: logStartKey(topic.id, 0), value: JSON.stringify({ logStartOffset: 2 }) }]);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.equal(p.logStartOffset, 2);
  t.equal(p.extents.length, 4, 'extents wholly below the log start are not part of the log');
  await logs.compactor.runOnce(later());
  t.equal(await metadata.get(logStartKey(topic.id, 0)), null, 'the legacy key went with the first manifest write');
  t.equal((await manifest(metadata, p))!.logStartOffset, 2);
  await crash(logs);
  logs = await make();
  p = logs.partition(topic.id, 0)!;
  t.equal(p.logStartOffset, 2);
  t.same(
    records(await logs.read(p, 2, 1 << 20, true, p.highWatermark)).map((r) => r.value),
    ['L2', 'L3', 'L4', 'L5'],
  );
});

t.test("a deleted topic's segments and manifests are released at start when its deletion was interrupted", async (t) => {
  const { metadata, local, topics, make, crash } = await setup(t);
  let logs = await make();
  const topic = await topics.create('gone', 1, {});
  logs.ensurePartitions(topic);
  await fill(logs, logs.partition(topic.id, 0)!, 3, 'x');
  await logs.compactor.runOnce(later());
  t.equal((await local.list('seg/')).length, 1);
  await topics.delete('gone'); // the process dies before dropTopic
  await crash(logs);
  t.ok(await metadata.get(deletedTopicKey(topic.id)));
  logs = await make();
  t.equal((await local.list('seg/')).length, 0, 'segments deleted');
  t.equal((await metadata.getPrefix(`/partitions/${topic.id}/`)).length, 0, 'manifests deleted');
  t.equal(await metadata.get(deletedTopicKey(topic.id)), null, 'the deletion record too');
});

t.test('shutdown during a pass abandons it safely', async (t) => {
  const { local, topics, objectStore, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('stop', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  await fill(logs, p, 4, 's');
  let closing: Promise<void> | null = null;
  objectStore.onPut = (key) => {
    if (key.startsWith('seg/')) closing ??= logs.close(5000);
  };
  await logs.compactor.runOnce(later());
  await closing;
  t.equal(p.extents.length, 4, 'not committed');
  t.equal((await local.list('seg/')).length, 0, 'its segment deleted');
  await logs.compactor.runOnce(later());
  t.equal(p.extents.length, 4, 'a stopped compactor does nothing');
});

t.test('a WAL object shared with a partition not yet compacted stays until its last live chunk goes', async (t) => {
  const { metadata, local, topics, make, crash } = await setup(t);
  let logs = await make({ compaction: { minAgeMs: 0, maxAgeMs: 3_600_000, targetBytes: 2048, indexIntervalBytes: 256 } });
  const topic = await topics.create('shared', 2, {});
  logs.ensurePartitions(topic);
  let big = logs.partition(topic.id, 0)!;
  let small = logs.partition(topic.id, 1)!;
  for (let i = 0; i < 6; i++) {
    await Promise.all([
      logs.append(big, batch([`B${i}-${'b'.repeat(600)}`]), 1, null, patch).durable,
      logs.append(small, batch([`s${i}`]), 1, null, patch).durable,
    ]);
  }
  const beforeBig = await snapshot(logs, big);
  const beforeSmall = await snapshot(logs, small);
  await logs.compactor.runOnce(Date.now());
  t.ok(big.extents[0]!.segment, 'the big partition reached the target');
  t.ok(
    small.extents.every((e) => !e.segment),
    'the small one is below it and young',
  );
  const walLeft = (await local.list('wal/')).length;
  t.ok(walLeft >= small.extents.length, `${walLeft} WAL objects still hold the small partition's chunks`);
  await crash(logs);
  logs = await make({ compaction: { minAgeMs: 0, maxAgeMs: 3_600_000, targetBytes: 2048, indexIntervalBytes: 256 } });
  big = logs.partition(topic.id, 0)!;
  small = logs.partition(topic.id, 1)!;
  t.same(await snapshot(logs, big), beforeBig, "recovery skips the big partition's chunks in those objects");
  t.same(await snapshot(logs, small), beforeSmall, "and keeps the small one's");
  await logs.compactor.runOnce(later());
  t.ok(
    small.extents.every((e) => e.segment),
    'old enough now',
  );
  t.equal((await local.list('wal/')).length, 0, 'the last live chunks went: every WAL object deleted');
  t.equal((await metadata.getPrefix(walPrefix)).length, 0);
  t.same(await snapshot(logs, small), beforeSmall);
});

t.test('a producer-state rebuild survives collection of the WAL object it is reading', async (t) => {
  const { objectStore, topics, make } = await setup(t);
  const logs = await make({ cacheSegmentBytes: 0 });
  const topic = await topics.create('rebuild-gc', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  // Producers 10..15, one idempotent batch each, one WAL object each.
  for (let i = 0; i < 6; i++) {
    const b = buildRecordBatch([{ key: null, value: Buffer.from(`r${i}`), timestampMs: Date.now() }], {
      producerId: 10 + i,
      producerEpoch: 0,
      baseSequence: 0,
    });
    await logs.append(p, b, 1, null, patch).durable;
  }
  const read: LogReader<PartitionLog> = (l, offset, maxBytes, minOne, end) => logs.read(l, offset, maxBytes, minOne, end);
  const settings = { expirationMs: 1e12, maxProducers: 100 };
  const deleted: string[] = [];
  objectStore.onDelete = (keys) => deleted.push(...keys);
  /** Holds the next GET of a WAL object until released; resolves with its key. */
  const holdNextWalGet = () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held: string | null = null;
    objectStore.onGet = (key) => {
      if (!key.startsWith('wal/') || held !== null) return;
      held = key;
      return gate;
    };
    return { release, held: () => held };
  };
  const waitFor = async (what: string, cond: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  // DeleteRecords moves the log start past the chunk the rebuild is reading, and collection deletes its object.
  let hold = holdNextWalGet();
  let rebuilding = producerStateOf(p, read, settings);
  await waitFor('the rebuild to read its first WAL chunk', () => hold.held() !== null);
  t.equal(await logs.deleteRecordsBefore(p, 2), 2);
  t.ok(deleted.includes(hold.held()!), 'the object being read was collected');
  hold.release();
  let m = await rebuilding;
  t.same(
    [10, 11, 12, 13, 14, 15].map((pid) => m.entry(pid) !== undefined),
    [false, false, true, true, true, true],
    'every producer after the new log start is known',
  );

  // Compaction replaces the chunks being read by a segment, and collection deletes the WAL objects.
  p.abandonUnflushed(new Error('rebuild again'));
  deleted.length = 0;
  hold = holdNextWalGet();
  rebuilding = producerStateOf(p, read, settings);
  await waitFor('the rebuild to read its first WAL chunk', () => hold.held() !== null);
  await logs.compactor.runOnce(later());
  t.ok(p.extents[0]!.segment, 'compacted');
  t.ok(deleted.includes(hold.held()!), 'the object being read was collected');
  hold.release();
  m = await rebuilding;
  t.same(
    [12, 13, 14, 15].map((pid) => m.entry(pid)?.batches.length),
    [1, 1, 1, 1],
  );
  objectStore.onGet = null;
  objectStore.onDelete = null;
});
