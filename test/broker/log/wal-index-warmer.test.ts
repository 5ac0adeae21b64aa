// WalIndexWarmer: other brokers' WAL objects have their index read into the index cache as their /wal/ keys
// appear (and those present at start), this broker's own are skipped, the queue is bounded (the oldest are
// dropped), and an object already collected is a counted failure, not a crash. In-memory metadata store and a
// real local object store.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalIndexWarmer } from '../../../broker/log/wal-index-warmer.ts';
import { nodeWalKey } from '../../../broker/metadata/layout.ts';
import type { WalRecord } from '../../../broker/metadata/layout.ts';
import type { WatchEvent } from '../../../broker/metadata/store.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/index.ts';
import { IndexCache } from '../../../broker/storage/index-cache.ts';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import { buildWalObject } from '../../../broker/storage/wal-object.ts';

async function setup(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-warm-'));
  const store = await LocalObjectStore.open(dir);
  const metadata = new MemoryMetadataStore();
  t.teardown(async () => {
    await store.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });
  let seq = 0;
  /** Writes a WAL object of `nodeId` with one chunk per partition, and its /wal/ key. */
  const commit = async (nodeId: number, partitions: number, withObject = true): Promise<string> => {
    seq++;
    const objectKey = `wal/${seq}-${nodeId}.wal`;
    const data = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestampMs: 1 }]);
    const { body, sizeBytes } = buildWalObject(
      Array.from({ length: partitions }, (_, p) => ({
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partition: p,
        baseOffset: 0,
        lastOffset: 0,
        maxTimestamp: 1,
        batchCount: 1,
        data,
      })),
    );
    if (withObject) await store.put(objectKey, body);
    const record: WalRecord = { objectKey, sizeBytes, nodeId, createdAtMs: Date.now() };
    await metadata.txn([], [{ type: 'put', key: nodeWalKey(nodeId, seq), value: JSON.stringify(record) }]);
    return objectKey;
  };
  return { store, metadata, commit };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test("other brokers' WAL indexes are read as their keys appear; this broker's own are not", async (t) => {
  const { store, metadata, commit } = await setup(t);
  const before = await commit(2, 3); // present at start
  const cache = new IndexCache(store, 1 << 20);
  const warmer = new WalIndexWarmer({ metadata, indexCache: cache, nodeId: 1, logger: silentLogger(), maxQueued: 100, concurrency: 2 });
  const existing = await metadata.getPrefix('/wal/');
  warmer.start(existing, (await metadata.revision()) + 1);
  t.teardown(() => warmer.stop());
  const later = await commit(3, 5);
  await commit(1, 2); // this broker's own
  await until(() => warmer.stats.warmed === 2);
  const misses = cache.stats.misses;
  t.equal((await cache.wal(before, (await store.head(before))!.sizeBytes)).length, 3, 'the object present at start is cached');
  t.equal((await cache.wal(later, (await store.head(later))!.sizeBytes)).length, 5, 'a new one is cached');
  t.equal(cache.stats.misses, misses, 'no read was needed for either');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(warmer.stats.warmed, 2, "the broker's own object was not read");
});

t.test('the queue is bounded; a collected object is a failure, not a crash; stop ends the watch', async (t) => {
  const { store, metadata, commit } = await setup(t);
  const cache = new IndexCache(store, 1 << 20);
  const warmer = new WalIndexWarmer({ metadata, indexCache: cache, nodeId: 1, logger: silentLogger(), maxQueued: 2, concurrency: 1 });
  // Five keys present at start, none of whose objects exist: one read starts, two wait, two are dropped.
  for (let i = 0; i < 5; i++) await commit(2, 1, false);
  warmer.start(await metadata.getPrefix('/wal/'), (await metadata.revision()) + 1);
  await until(() => warmer.stats.failed === 3);
  t.same(warmer.stats, { warmed: 0, dropped: 2, failed: 3 });
  warmer.stop();
  await commit(2, 1);
  await new Promise((r) => setTimeout(r, 50));
  t.same(warmer.stats, { warmed: 0, dropped: 2, failed: 3 }, 'nothing more after stop');
});

t.test('a watch that ends with an error is followed again from the current revision, not a crash', async (t) => {
  const { store, metadata, commit } = await setup(t);
  let watches = 0;
  // The first watch ends with an error (as an etcd watch does after a long outage compacted its revisions).
  const flaky = new Proxy(metadata, {
    get(target, prop, receiver) {
      if (prop !== 'watchPrefix') return Reflect.get(target, prop, receiver);
      return (prefix: string, from: number, onEvents: (e: WatchEvent[]) => void, onError?: (err: Error) => void) => {
        watches++;
        if (watches === 1) {
          setImmediate(() => onError!(new Error('required revision has been compacted')));
          return { close() {} };
        }
        return target.watchPrefix(prefix, from, onEvents, onError);
      };
    },
  });
  const cache = new IndexCache(store, 1 << 20);
  const warmer = new WalIndexWarmer({
    metadata: flaky,
    indexCache: cache,
    nodeId: 1,
    logger: silentLogger(),
    maxQueued: 100,
    concurrency: 2,
  });
  warmer.start([], (await metadata.revision()) + 1);
  t.teardown(() => warmer.stop());
  await until(() => watches === 2);
  await commit(2, 1);
  await until(() => warmer.stats.warmed === 1);
  t.equal(watches, 2, 'followed again once');
});
