import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import { ObjectStoreUnavailableError } from '../../../broker/storage/object-store.ts';
import type { ObjectStore } from '../../../broker/storage/object-store.ts';
import { replicaSkipMs } from '../../../broker/limits.ts';
import { ReplicaReadObjectStore } from '../../../broker/storage/replica-object-store.ts';

async function stores(t: { teardown: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-replica-'));
  const primary = await LocalObjectStore.open(join(dir, 'primary'));
  const near = await LocalObjectStore.open(join(dir, 'near'));
  const far = await LocalObjectStore.open(join(dir, 'far'));
  t.teardown(async () => {
    await Promise.all([primary.close(), near.close(), far.close()]);
    await rm(dir, { recursive: true, force: true });
  });
  return { primary, near, far };
}

t.test('replicas first, in order; missing objects fall back; writes go to the primary', async (t) => {
  const { primary, near, far } = await stores(t);
  let now = 0;
  const s = new ReplicaReadObjectStore(
    primary,
    [
      { name: 'near', store: near },
      { name: 'far', store: far },
    ],
    () => now,
  );
  await s.put('a', Buffer.from('primary-a'));
  await near.put('a', Buffer.from('near-a'));
  await far.put('b', Buffer.from('far-b'));
  await primary.put('b', Buffer.from('primary-b'));
  t.equal((await s.get('a')).toString(), 'near-a', 'the preferred replica serves');
  t.equal((await s.get('b')).toString(), 'far-b', 'a miss on the first goes to the second');
  now = 1500;
  await s.put('c', Buffer.from('primary-c'));
  now = 2000;
  t.equal((await s.get('c', { start: 8, end: 9 })).toString(), 'c', 'replication lag: the primary serves, ranged');
  t.equal(s.stats[0]!.hits, 1);
  t.equal(s.stats[0]!.missFallbacks, 2);
  t.equal(s.stats[0]!.lastObservedLagMs, 500, 'lag of an object this broker wrote');
  t.ok(await primary.head('c'));
  t.equal(await near.head('c'), null, 'writes never go to replicas');
});

t.test('an erring replica is skipped for a while', async (t) => {
  const { primary } = await stores(t);
  let calls = 0;
  const broken = {
    async get() {
      calls++;
      throw new ObjectStoreUnavailableError('connection reset');
    },
    async close() {},
  } as unknown as ObjectStore;
  let now = 0;
  const s = new ReplicaReadObjectStore(primary, [{ name: 'broken', store: broken }], () => now);
  await primary.put('k', Buffer.from('v'));
  t.equal((await s.get('k')).toString(), 'v');
  t.equal((await s.get('k')).toString(), 'v');
  t.equal(calls, 1, 'skipped after its error');
  now = replicaSkipMs + 1;
  await s.get('k');
  t.equal(calls, 2, 'tried again later');
  t.equal(s.stats[0]!.errorFallbacks, 2);
});
