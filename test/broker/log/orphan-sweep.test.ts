// The orphan sweep (LogGarbage.collectOrphanSegments, spec/compaction.md): segment objects that no committed
// manifest names are deleted by any broker, whoever wrote them, once a sweep has seen them unnamed for the
// minimum age; named segments, and replaced ones this broker still keeps for file.delete.delay.ms, stay. A
// compaction whose commit would be sent after skafos.segment.commit.timeout.ms is abandoned instead, which is
// what makes the minimum age safe; the age exceeds that timeout plus the metadata request deadline.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { configDefaults } from '../../../broker/config.ts';
import { segmentObjectKey } from '../../../broker/metadata/layout.ts';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import type { ObjectStore } from '../../../broker/storage/object-store.ts';
import type { LogManager } from '../../../broker/log/log-manager.ts';
import { orphanSegmentMinAgeMs } from '../../../broker/log/wal-gc.ts';
import { createTopic, startBrokerIn } from '../handlers/support/client.ts';
import type { TestClient } from '../handlers/support/client.ts';
import { until } from '../../support/until.ts';

const sets = {
  'skafos.compaction.min.age.ms': '0',
  'skafos.compaction.max.age.ms': '0',
  // Passes are run by the test.
  'skafos.compaction.interval.ms': '3600000',
  'log.cleaner.backoff.ms': '3600000',
};

async function send(client: TestClient, topic: string, pairs: [string, string][]): Promise<number> {
  const records = buildRecordBatch(pairs.map(([k, v]) => ({ key: Buffer.from(k), value: Buffer.from(v), timestampMs: Date.now() })));
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: Buffer.from(records) }] }],
  });
  return r.responses[0].partitionResponses[0].errorCode;
}

function segmentKeys(dir: string): string[] {
  return readdirSync(join(dir, 'objects'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.seg'))
    .map((f) => f.split('/').at(-1)!)
    .sort();
}

/** The object store the log manager writes to (not part of its public surface). */
function storeOf(logs: LogManager): ObjectStore {
  return (logs as unknown as { o: { objectStore: ObjectStore } }).o.objectStore;
}

t.test('the minimum age exceeds the commit timeout plus the metadata request deadline', async (t) => {
  const d = configDefaults.segmentCommitTimeoutMs;
  const r = configDefaults.etcdRequestTimeoutMs;
  t.ok(orphanSegmentMinAgeMs(d, r) > d + r, `defaults: ${orphanSegmentMinAgeMs(d, r)} ms > ${d} + ${r}`);
  t.ok(orphanSegmentMinAgeMs(d, r) >= 60_000, 'and at least the default file.delete.delay.ms (60 s)');
  for (const [dd, rr] of [
    [1, 1],
    [200, 100],
    [3_600_000, 60_000],
  ] as const)
    t.ok(orphanSegmentMinAgeMs(dd, rr) > dd + rr, `${dd} ms, ${rr} ms`);
});

t.test('unnamed segment objects of any writer go once seen unnamed for the minimum age; named and kept ones stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-orphans-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await startBrokerIn(dir, sets);
  t.teardown(() => b.close());
  await createTopic(b.client, 'table', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.01' });
  for (let i = 0; i < 4; i++) t.equal(await send(b.client, 'table', [['k', `v${i}`]]), 0);
  const logs = b.broker.services.logs;
  await logs.compactor.runOnce();
  await logs.cleaner!.runOnce();
  const live = segmentKeys(dir);
  t.equal(live.length, 2, 'the cleaned segment, and the one it replaced (kept for file.delete.delay.ms)');
  const log = logs.partition(b.broker.services.topics.byName('table')!.id, 0)!;
  const store = await LocalObjectStore.open(join(dir, 'objects'));
  t.teardown(() => store.close());
  const body = Buffer.from('not a segment anyone committed');
  const foreign = segmentObjectKey(log.topicId, 0, 0, 9, 'abcdef012345', 1);
  const ownLeftover = segmentObjectKey(log.topicId, 0, 0, b.broker.services.nodeId, logs.incarnation, 2_000_000_000);
  const otherTopic = segmentObjectKey('AAAAAAAAAAAAAAAAAAAAAA', 3, 100, 2, 'feedfeedfeed', 7);
  for (const k of [foreign, ownLeftover, otherTopic]) await store.put(k, body);
  t.equal(segmentKeys(dir).length, 5);

  const now = Date.now();
  t.equal(await logs.collectOrphanSegments(1000, now), 0, 'first seen unnamed: kept');
  t.equal(await logs.collectOrphanSegments(1000, now + 999), 0, 'younger than the minimum age: kept');
  t.equal(await logs.collectOrphanSegments(1000, now + 1000), 3, 'old enough: the three orphans deleted');
  t.same(segmentKeys(dir), live, 'the named segment and the replaced one this broker keeps stay');
  t.equal(await logs.collectOrphanSegments(0, now + 5000), 0, 'the next sweep deletes nothing');
  t.same(segmentKeys(dir), live);
});

t.test('a compaction whose commit would be sent past skafos.segment.commit.timeout.ms is abandoned', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-orphans-deadline-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await startBrokerIn(dir, { ...sets, 'skafos.segment.commit.timeout.ms': '20' });
  t.teardown(() => b.close());
  await createTopic(b.client, 'slow', 1);
  t.equal(await send(b.client, 'slow', [['k', 'v']]), 0);
  const logs = b.broker.services.logs;
  // A slow object store: each segment PUT completes only once the commit timeout has passed.
  const store = storeOf(logs);
  const put = store.put.bind(store);
  store.put = async (key, body, options) => {
    const started = Date.now();
    const info = await put(key, body, options);
    if (key.startsWith('seg/')) await until(() => Date.now() - started > 25, 'the commit timeout to pass');
    return info;
  };
  await logs.compactor.runOnce();
  const log = logs.partition(b.broker.services.topics.byName('slow')!.id, 0)!;
  t.notOk(
    log.extents.some((e) => e.segment),
    'the manifest commit was not sent: the data stays in the WAL',
  );
  t.same(segmentKeys(dir), [], 'the abandoned segment was deleted by its writer');
});
