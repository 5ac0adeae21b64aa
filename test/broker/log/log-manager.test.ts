// The log layer over a real local object store and the in-memory metadata store: appends become durable
// in one object per flush, reads return whole batches, recovery rebuilds the log, retention and DeleteRecords
// release objects, and a fenced broker stops acknowledging.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogManager } from '../../../broker/log/log-manager.ts';
import type { LogManagerOptions } from '../../../broker/log/log-manager.ts';
import { brokerKey } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { TopicRegistry } from '../../../broker/metadata/topics.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { assignOffsets, buildRecordBatch, openBatchRecords, RecordCursor } from '../../../broker/protocol/records/index.ts';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';

const patch = (records: Buffer, baseOffset: number, leaderEpoch: number) => {
  assignOffsets(records, baseOffset, leaderEpoch);
};

function batch(values: string[], timestampMs = Date.now()): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: null, value: Buffer.from(v), timestampMs })));
}

function valuesOf(data: Buffer | null): { offset: number; value: string }[] {
  const out: { offset: number; value: string }[] = [];
  if (!data) return out;
  for (let pos = 0; pos < data.length; ) {
    const c = openBatchRecords(data, pos, new RecordCursor(), { maxDecompressedBytes: 1 << 24 });
    while (c.next()) out.push({ offset: c.offset, value: c.value()!.toString() });
    pos += 12 + data.readInt32BE(pos + 8);
  }
  return out;
}

async function setup(t: Test, overrides: Partial<LogManagerOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-log-'));
  const metadata = new MemoryMetadataStore();
  const objectStore = await LocalObjectStore.open(join(dir, 'objects'));
  const topics = new TopicRegistry(metadata);
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
      flushLingerMs: 5,
      maxConcurrentFlushes: 2,
      cacheSegmentBytes: 1 << 20,
      readaheadBytes: 1 << 16,
      recoveryConcurrency: 4,
      logger: silentLogger(),
      retentionOf: () => ({ retentionMs: -1, retentionBytes: -1, deleteEnabled: true }),
      ...overrides,
      ...more,
    });
    await logs.start();
    return logs;
  };
  t.teardown(async () => {
    await objectStore.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { metadata, objectStore, topics, make };
}

t.test('appends are durable, readable, and survive a restart', async (t) => {
  const { topics, objectStore, make } = await setup(t);
  let logs = await make();
  const topic = await topics.create('a', 3, {});
  logs.ensurePartitions(topic);
  const p0 = logs.partition(topic.id, 0)!;
  const p2 = logs.partition(topic.id, 2)!;
  const w1 = logs.append(p0, batch(['a', 'b']), 1, null, patch);
  const w2 = logs.append(p2, batch(['x']), 1, null, patch);
  const w3 = logs.append(p0, batch(['c']), 1, null, patch);
  t.equal(w1.baseOffset, 0);
  t.equal(w3.baseOffset, 2);
  t.equal(p0.highWatermark, 0, 'nothing visible before the flush');
  await Promise.all([w1.durable, w2.durable, w3.durable]);
  t.equal(p0.highWatermark, 3);
  t.equal(p2.highWatermark, 1);
  t.equal(objectStore.stats().requests.put, 1, 'one object for both partitions');
  t.same(
    valuesOf(await logs.read(p0, 0, 1 << 20, true, p0.highWatermark)).map((r) => r.value),
    ['a', 'b', 'c'],
  );
  t.same(
    valuesOf(await logs.read(p0, 2, 1 << 20, true, p0.highWatermark)),
    [{ offset: 2, value: 'c' }],
    'reads start at the batch holding the offset',
  );
  t.equal(await logs.read(p0, 3, 1 << 20, true, p0.highWatermark), null, 'nothing at the high watermark');
  await logs.close(1000);

  logs = await make();
  const r0 = logs.partition(topic.id, 0)!;
  t.equal(r0.highWatermark, 3, 'recovered');
  t.same(
    valuesOf(await logs.read(r0, 0, 1 << 20, true, r0.highWatermark)).map((r) => r.value),
    ['a', 'b', 'c'],
  );
  const w4 = logs.append(r0, batch(['d']), 1, null, patch);
  t.equal(w4.baseOffset, 3, 'offsets continue');
  await w4.durable;
  await logs.close(1000);
});

t.test('max bytes: whole batches only, but at least one', async (t) => {
  const { topics, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('b', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  const big = 'v'.repeat(1000);
  await Promise.all([0, 1, 2].map((i) => logs.append(p, batch([big + i]), 1, null, patch).durable));
  const one = await logs.read(p, 0, 10, true, p.highWatermark);
  t.equal(valuesOf(one).length, 1, 'first batch although larger than max bytes');
  t.equal(await logs.read(p, 0, 10, false, p.highWatermark), null, 'nothing when not required to make progress');
  t.equal(valuesOf(await logs.read(p, 0, 2200, true, p.highWatermark)).length, 2);
  t.equal(valuesOf(await logs.read(p, 0, 1 << 20, true, 2)).length, 2, 'stops at the upper offset');
  await logs.close(1000);
});

t.test('prefetch starts the GETs a read will need at once, within the in-flight bound', async (t) => {
  const { topics, objectStore, make } = await setup(t, { flushLingerMs: 0 });
  let logs = await make();
  const topic = await topics.create('pf', 1, {});
  logs.ensurePartitions(topic);
  let p = logs.partition(topic.id, 0)!;
  const big = 'v'.repeat(1000);
  for (let i = 0; i < 6; i++) await logs.append(p, batch([big + i]), 1, null, patch).durable; // six WAL objects
  await logs.close(1000);

  logs = await make(); // caches cold
  p = logs.partition(topic.id, 0)!;
  const before = objectStore.stats().requests.get;
  logs.prefetch(p, 1, 3500);
  t.equal(objectStore.stats().requests.get - before, 4, 'offsets 1..4: four chunks of about 1 KiB requested together, before any read');
  t.same(
    valuesOf(await logs.read(p, 1, 3500, true, p.highWatermark)).map((r) => r.offset),
    [1, 2, 3],
    'the read takes what fits',
  );
  t.equal(
    objectStore.stats().requests.get - before,
    5,
    'the read needed no GET of its own; read-ahead (64 KiB) asked for the one chunk not yet loading (offset 5)',
  );
  logs.prefetch(p, 0, 1 << 20, 2);
  t.equal(objectStore.stats().requests.get - before, 6, 'up to the end offset only: offset 0, as 1 is cached');
  logs.prefetch(p, 6, 1 << 20);
  t.equal(objectStore.stats().requests.get - before, 6, 'nothing at the high watermark');
  await logs.close(1000);

  logs = await make({ prefetchMaxInflightBytes: 2500 });
  p = logs.partition(topic.id, 0)!;
  const before2 = objectStore.stats().requests.get;
  logs.prefetch(p, 0, 1 << 20);
  t.equal(objectStore.stats().requests.get - before2, 2, 'two chunks of about 1 KiB fit 2,500 in-flight bytes; the rest waits for reads');
  t.same(
    valuesOf(await logs.read(p, 0, 1 << 20, true, p.highWatermark)).map((r) => r.offset),
    [0, 1, 2, 3, 4, 5],
    'reads load the rest on demand',
  );
  await logs.close(1000);

  logs = await make({ prefetchMaxInflightBytes: 0, readaheadBytes: 0 });
  p = logs.partition(topic.id, 0)!;
  const before3 = objectStore.stats().requests.get;
  logs.prefetch(p, 0, 1 << 20);
  t.equal(objectStore.stats().requests.get - before3, 0, '0 disables prefetching');
  t.equal(valuesOf(await logs.read(p, 0, 1 << 20, true, p.highWatermark)).length, 6);
  await logs.close(1000);
});

t.test('prefetchMany reads the chunks of several partitions in one WAL object with one GET', async (t) => {
  const { topics, objectStore, make } = await setup(t, { flushLingerMs: 50 });
  let logs = await make();
  const topic = await topics.create('pm', 3, {});
  logs.ensurePartitions(topic);
  const big = 'v'.repeat(1000);
  for (let i = 0; i < 4; i++) {
    // One flush (WAL object) holding a chunk of each of the three partitions, side by side.
    await Promise.all([0, 1, 2].map((p) => logs.append(logs.partition(topic.id, p)!, batch([big + i]), 1, null, patch).durable));
  }
  await logs.close(1000);

  logs = await make({ readaheadBytes: 0 }); // caches cold
  const ps = [0, 1, 2].map((p) => logs.partition(topic.id, p)!);
  t.ok(
    ps.every((p) => p.extents.length === 4),
    'four WAL objects, each with a chunk of every partition',
  );
  const before = objectStore.stats().requests.get;
  logs.prefetchMany(ps.map((log) => ({ log, offset: 0, bytes: 1 << 20, endOffset: log.highWatermark })));
  t.equal(objectStore.stats().requests.get - before, 4, "one GET per object for the three partitions' chunks, not twelve");
  for (const log of ps) t.equal(valuesOf(await logs.read(log, 0, 1 << 20, true, log.highWatermark)).length, 4);
  t.equal(objectStore.stats().requests.get - before, 4, 'the reads needed no GET of their own');
  t.equal(logs.cache.stats.prefetches, 4);
  await logs.close(1000);
});

t.test('DeleteRecords and retention release objects', async (t) => {
  const { topics, objectStore, make } = await setup(t, { flushLingerMs: 0 });
  const logs = await make();
  const topic = await topics.create('c', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  for (let i = 0; i < 3; i++) await logs.append(p, batch([`r${i}`]), 1, null, patch).durable;
  t.equal(p.extents.length, 3, 'one extent per flush');
  t.equal(await logs.deleteRecordsBefore(p, 2), 2);
  t.equal(p.logStartOffset, 2);
  t.equal((await objectStore.list('wal/')).length, 1, 'objects wholly below the log start are deleted');
  t.same(
    valuesOf(await logs.read(p, 2, 1 << 20, true, p.highWatermark)).map((r) => r.value),
    ['r2'],
  );
  await logs.close(1000);
});

t.test('a broker whose fencing token was taken stops acknowledging', async (t) => {
  const { metadata, topics, make } = await setup(t);
  const logs = await make();
  const topic = await topics.create('d', 1, {});
  logs.ensurePartitions(topic);
  const p = logs.partition(topic.id, 0)!;
  await logs.append(p, batch(['ok']), 1, null, patch).durable;
  await metadata.txn([], [{ type: 'put', key: brokerKey(1), value: JSON.stringify({ incarnation: 'someone-else' }) }]);
  const w = logs.append(p, batch(['lost']), 1, null, patch);
  await t.rejects(w.durable, { name: 'FencedError' });
  t.equal(p.highWatermark, 1, 'the fenced append never became visible');
  t.ok(logs.fenced);
  t.throws(() => logs.append(p, batch(['again']), 1, null, patch));
  await logs.close(1000);
});

t.test('objects of an earlier incarnation that never committed are deleted at start', async (t) => {
  const { objectStore, make } = await setup(t);
  await objectStore.put('wal/0000000000000042-1-deadbeef0000.wal', Buffer.from('orphan'));
  await objectStore.put('wal/0000000000000043-2-deadbeef0000.wal', Buffer.from('another node'));
  const logs = await make();
  t.same(
    (await objectStore.list('wal/')).map((o) => o.key),
    ['wal/0000000000000043-2-deadbeef0000.wal'],
    "only this node's orphan goes",
  );
  await logs.close(1000);
});
