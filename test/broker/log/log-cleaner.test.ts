// The log cleaner's job in a running broker (broker/log/log-cleaner.ts, spec/compaction.md), driven pass by
// pass: the compactor makes a segment, the cleaner rewrites it. A Fetch at a removed offset returns the next
// surviving batch; the cleaned segment spans the same offsets (an empty batch where its first batch went); an
// idempotent producer's retry of its last batch is still a duplicate, also after a restart that reads the
// cleaned segment; a topic that is not compacted is left alone; the metrics tell what happened.
import t from 'tap';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { BatchHeaderView } from '../../../broker/protocol/records/batch-header.ts';
import { RecordCursor } from '../../../broker/protocol/records/iterate.ts';
import { openBatchRecords } from '../../../broker/protocol/records/read.ts';
import type { RunningBroker } from '../../../broker/broker.ts';
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

function batch(keys: [string, string | null][], producer?: { id: number; seq: number }): Buffer {
  const now = Date.now();
  return buildRecordBatch(
    keys.map(([k, v]) => ({ key: Buffer.from(k), value: v === null ? null : Buffer.from(v), timestampMs: now })),
    producer ? { producerId: producer.id, producerEpoch: 0, baseSequence: producer.seq } : {},
  );
}

async function send(client: TestClient, topic: string, records: Buffer): Promise<{ errorCode: number; baseOffset: number }> {
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: Buffer.from(records) }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

interface Fetched {
  batches: { base: number; last: number; producerId: number; records: number }[];
  records: { offset: number; key: string; value: string | null }[];
}

async function fetch(client: TestClient, topic: string, offset: number): Promise<Fetched> {
  const r = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = r.responses[0].partitions[0];
  if (p.errorCode !== 0) throw new Error(`fetch error ${p.errorCode}`);
  const out: Fetched = { batches: [], records: [] };
  const data: Buffer = p.records ?? Buffer.alloc(0);
  const h = new BatchHeaderView();
  const c = new RecordCursor();
  for (let pos = 0; pos < data.length; pos = h.end) {
    openBatchRecords(data, pos, c, { maxDecompressedBytes: 1 << 24 }, h);
    out.batches.push({ base: h.baseOffset, last: h.lastOffset, producerId: h.producerId, records: h.recordCount });
    while (c.next()) out.records.push({ offset: c.offset, key: c.key()!.toString(), value: c.value()?.toString() ?? null });
  }
  return out;
}

/** Segment objects in the embedded object store (every topic). */
function segmentObjects(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.seg'));
}

async function compactAndClean(broker: RunningBroker): Promise<void> {
  const logs = broker.services.logs;
  await logs.compactor.runOnce();
  await logs.cleaner!.runOnce();
}

t.test('cleaned in a running broker: Fetch at removed offsets, the producer last batch, restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-cleaner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir, sets);
  t.teardown(() => b.close());
  const client = b.client;
  await createTopic(client, 'table', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.01' });
  await createTopic(client, 'plain', 1, { 'cleanup.policy': 'delete' });
  const init = await client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 });
  const pid = Number(init.producerId);
  // 0-1: pid seq 0 (a=1, b=1); 2: a=2; 3: c=1; 4: pid seq 2 (b=2); 5: c=2; 6: d=1 then 7: pid seq 3 (a tombstone)
  t.equal(
    (
      await send(
        client,
        'table',
        batch(
          [
            ['a', '1'],
            ['b', '1'],
          ],
          { id: pid, seq: 0 },
        ),
      )
    ).baseOffset,
    0,
  );
  t.equal((await send(client, 'table', batch([['a', '2']]))).baseOffset, 2);
  t.equal((await send(client, 'table', batch([['c', '1']]))).baseOffset, 3);
  t.equal((await send(client, 'table', batch([['b', '2']], { id: pid, seq: 2 }))).baseOffset, 4);
  t.equal((await send(client, 'table', batch([['c', '2']]))).baseOffset, 5);
  t.equal((await send(client, 'table', batch([['c', '3']]))).baseOffset, 6);
  t.equal((await send(client, 'plain', batch([['x', '1']]))).baseOffset, 0);
  t.equal((await send(client, 'plain', batch([['x', '2']]))).baseOffset, 1);

  await compactAndClean(b.broker);
  const cleaner = b.broker.services.logs.cleaner!;
  t.equal(segmentObjects(dir).length, 3, "plain's segment, and table's old and new ones: the old one stays for file.delete.delay.ms");
  t.equal(cleaner.stats.cleanings, 1, 'one partition cleaned: the compacted one');
  t.equal(cleaner.stats.recordsRemoved, 4);

  const check = async (client: TestClient, when: string) => {
    const all = await fetch(client, 'table', 0);
    t.same(
      all.records,
      [
        { offset: 2, key: 'a', value: '2' },
        { offset: 4, key: 'b', value: '2' },
        { offset: 6, key: 'c', value: '3' },
      ],
      `${when}: the latest record of each key, at its offset`,
    );
    t.same(
      all.batches[0],
      { base: 0, last: 0, producerId: -1, records: 0 },
      `${when}: an empty batch stands at the segment's first offset`,
    );
    t.same(
      (await fetch(client, 'table', 3)).records.map((r) => r.offset),
      [4, 6],
      `${when}: a Fetch at a removed offset returns the next surviving batch`,
    );
    t.same(
      (await fetch(client, 'table', 5)).records.map((r) => r.offset),
      [6],
    );
    t.same(
      (await fetch(client, 'plain', 0)).records.map((r) => r.offset),
      [0, 1],
      `${when}: a topic that is not compacted is left alone`,
    );
    t.same(
      await send(client, 'table', batch([['b', '2']], { id: pid, seq: 2 })),
      { errorCode: 0, baseOffset: 4 },
      `${when}: the retry of the producer's last batch is still a duplicate`,
    );
  };
  await check(client, 'after cleaning');

  // Nothing left to remove: another pass rewrites nothing.
  await cleaner.runOnce();
  t.equal(cleaner.stats.segmentsRewritten, 1);

  await b.close();
  b = await startBrokerIn(dir, sets);
  t.equal(segmentObjects(dir).length, 2, 'the replaced segment, named by no manifest, is deleted at the next start');
  await check(b.client, 'after a restart');
  // Where the dirty part starts is in the manifest: nothing to clean after the restart.
  const restarted = b.broker.services.logs.cleaner!;
  await restarted.runOnce();
  t.same(
    restarted.partitionStates.map((p) => [p.topic, p.dirtyRatio]),
    [['table', 0]],
    'the cleaned part is known clean after a restart',
  );
  t.equal(restarted.stats.cleanings, 0);
  t.equal((await send(b.client, 'table', batch([['d', '1']]))).baseOffset, 7, 'offsets go on after the cleaned segment');
});

async function alterTopic(client: TestClient, topic: string, name: string, value: string): Promise<void> {
  const r = await client.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [{ resourceType: 2, resourceName: topic, configs: [{ name, configOperation: 0, value }] }],
    validateOnly: false,
  });
  if (r.responses[0].errorCode !== 0) throw new Error(`alter ${name}: ${r.responses[0].errorMessage}`);
}

t.test('min.compaction.lag.ms holds recent segments back; max.compaction.lag.ms cleans below min.cleanable.dirty.ratio', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-cleaner-lag-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await startBrokerIn(dir, sets);
  t.teardown(() => b.close());
  const client = b.client;
  await createTopic(client, 'young', 1, { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '3600000' });
  await createTopic(client, 'lazy', 1, { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': '0.9' });
  for (const topic of ['young', 'lazy']) {
    await send(client, topic, batch([['a', '1']]));
    await send(client, topic, batch([['a', '2']]));
  }
  await compactAndClean(b.broker);
  const cleaner = b.broker.services.logs.cleaner!;
  const ratio = (topic: string) => cleaner.partitionStates.find((p) => p.topic === topic)?.dirtyRatio;
  t.equal(ratio('young'), 0, 'young: nothing cleanable (its segment is newer than min.compaction.lag.ms)');
  t.equal((await fetch(client, 'young', 0)).records.length, 2, 'young: left whole');
  t.same(
    (await fetch(client, 'lazy', 0)).records.map((r) => r.offset),
    [1],
    'lazy: cleaned once (all of it was dirty)',
  );
  // A second segment of duplicates: a dirty ratio below 0.9, so not cleaned...
  await send(client, 'lazy', batch([['a', '3']]));
  await send(client, 'lazy', batch([['a', '4']]));
  await compactAndClean(b.broker);
  const r = ratio('lazy')!;
  t.ok(r > 0 && r < 0.9, `lazy: dirty ratio ${r} below min.cleanable.dirty.ratio`);
  t.equal((await fetch(client, 'lazy', 0)).records.length, 3, 'lazy: not cleaned again');
  // ...until its dirty part is older than max.compaction.lag.ms.
  await alterTopic(client, 'lazy', 'max.compaction.lag.ms', '1');
  await until(async () => {
    await cleaner.runOnce();
    return (await fetch(client, 'lazy', 0)).records.length === 1;
  }, 'the overdue partition to be cleaned');
  t.same(
    (await fetch(client, 'lazy', 0)).records.map((r) => [r.offset, r.value]),
    [[3, '4']],
    'lazy: cleaned for max.compaction.lag.ms',
  );
});
