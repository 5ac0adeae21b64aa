// Produce with idempotent producers: a retried batch is answered with its original offset and not appended
// again (also while the original is not yet durable, and after a restart, rebuilt from the WAL or from the
// manifest's snapshot after compaction); sequence gaps get OUT_OF_ORDER_SEQUENCE_NUMBER, older epochs
// INVALID_PRODUCER_EPOCH, a new epoch must start at 0, an unknown producer is accepted at any sequence.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { partitionManifestKey } from '../../../broker/metadata/layout.ts';
import type { PartitionManifest } from '../../../broker/metadata/layout.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';
import { createTopic, produce, startBrokerIn, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

function idempotentBatch(producerId: number, producerEpoch: number, baseSequence: number, count: number): Buffer {
  const now = Date.now();
  return buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${baseSequence + i}`), timestampMs: now })),
    { producerId, producerEpoch, baseSequence },
  );
}

async function send(client: TestClient, topic: string, records: Buffer, version = 9): Promise<{ errorCode: number; baseOffset: number }> {
  const r = await client.request(ApiKey.Produce, version, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    // A copy: the broker patches offsets into the buffer it receives, so every send carries the client's bytes.
    topicData: [{ name: topic, partitionData: [{ index: 0, records: Buffer.from(records) }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

async function initProducerId(client: TestClient): Promise<number> {
  const r = await client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 });
  return Number(r.producerId);
}

t.test('duplicates, gaps, epochs, unknown producers', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'idem');
  const pid = await initProducerId(client);
  for (const v of [3, 7, 9, 11]) {
    // each version on a fresh producer id
    const id = v === 3 ? pid : await initProducerId(client);
    const b0 = idempotentBatch(id, 0, 0, 3);
    const first = await send(client, 'idem', b0, v);
    t.equal(first.errorCode, 0, `v${v}: first batch`);
    const again = await send(client, 'idem', b0, v);
    t.same(again, first, `v${v}: the retry gets the original offset`);
    const b1 = await send(client, 'idem', idempotentBatch(id, 0, 3, 2), v);
    t.equal(b1.baseOffset, first.baseOffset + 3, `v${v}: the next batch follows, nothing was appended twice`);
    t.same(await send(client, 'idem', b0, v), first, `v${v}: a retry of an earlier one of the last five batches`);
    const gap = await send(client, 'idem', idempotentBatch(id, 0, 6, 1), v);
    t.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `v${v}: a sequence gap`);
    t.equal(gap.baseOffset, -1);
  }
  // Last five only: the sixth batch back is out of order, not a duplicate.
  const id = await initProducerId(client);
  const batches = Array.from({ length: 7 }, (_, i) => idempotentBatch(id, 0, i, 1));
  const offsets: number[] = [];
  for (const b of batches) offsets.push((await send(client, 'idem', b)).baseOffset);
  t.equal((await send(client, 'idem', batches[1]!)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'older than the last five');
  t.equal((await send(client, 'idem', batches[2]!)).baseOffset, offsets[2], 'the fifth back is still a duplicate');

  // Epochs: a bump (the client's own, KIP-360) starts at 0; then the old epoch is fenced.
  const notZero = await send(client, 'idem', idempotentBatch(id, 1, 7, 1));
  t.equal(notZero.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a new epoch must start at sequence 0');
  t.equal((await send(client, 'idem', idempotentBatch(id, 1, 0, 1))).errorCode, 0, 'new epoch at 0');
  const fenced = await send(client, 'idem', idempotentBatch(id, 0, 7, 1));
  t.equal(fenced.errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'the older epoch is fenced');
  t.equal((await send(client, 'idem', batches[6]!)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH, 'even for a retry of its last batch');

  // A producer this partition does not know (expired, or its batches deleted) is accepted at any sequence.
  const unknown = await send(client, 'idem', idempotentBatch(987654, 3, 42, 2));
  t.equal(unknown.errorCode, 0, 'unknown producer, sequence 42');
  t.equal((await send(client, 'idem', idempotentBatch(987654, 3, 44, 1))).errorCode, 0, 'and then continues from there');

  const end = await produce(client, 'idem', 0, 1);
  t.equal(end, 4 * 5 + 7 + 1 + 3, 'the log holds each batch once');
});

t.test('a duplicate of a batch not yet durable waits for it and gets its offset', async (t) => {
  const { client } = await startTestBroker(t, { 'skafos.flush.linger.ms': '300' });
  await createTopic(client, 'pending');
  const pid = await initProducerId(client);
  const b = idempotentBatch(pid, 0, 0, 4);
  const [a, c] = await Promise.all([send(client, 'pending', b), send(client, 'pending', b)]);
  t.equal(a.errorCode, 0);
  t.same(c, a, 'both answers name the same offset');
  t.equal(await produce(client, 'pending', 0, 1), 4, 'appended once');
});

t.test('producer state survives a restart: rebuilt from the WAL, or from the manifest snapshot after compaction', async (t) => {
  for (const compaction of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'skafos-idem-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const sets: Record<string, string> = compaction
      ? { 'skafos.compaction.interval.ms': '100', 'skafos.compaction.min.age.ms': '0', 'skafos.compaction.max.age.ms': '0' }
      : { 'skafos.compaction.enable': 'false' };
    let b = await startBrokerIn(dir, sets);
    await createTopic(b.client, 'survive');
    const pid = await initProducerId(b.client);
    const batches = Array.from({ length: 3 }, (_, i) => idempotentBatch(pid, 0, i * 2, 2));
    const offsets: number[] = [];
    for (const x of batches) offsets.push((await send(b.client, 'survive', x)).baseOffset);
    await produce(b.client, 'survive', 0, 1); // a non-idempotent batch in between
    if (compaction) {
      const deadline = Date.now() + 10000;
      while (b.broker.services.logs.compactor.stats.segmentsWritten === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      t.ok(b.broker.services.logs.compactor.stats.segmentsWritten > 0, 'compacted into a segment');
      const topic = b.broker.services.topics.byName('survive')!;
      const kv = await b.broker.services.metadata.get(partitionManifestKey(topic.id, 0));
      const manifest = JSON.parse(kv!.value) as PartitionManifest;
      t.equal(manifest.producerState?.producers[0]?.[0], pid, 'the manifest holds a producer-state snapshot with the producer');
    }
    await b.close();
    b = await startBrokerIn(dir, sets);
    t.teardown(() => b.close());
    const retry = await send(b.client, 'survive', batches[1]!);
    t.same(retry, { errorCode: 0, baseOffset: offsets[1] }, `${compaction ? 'snapshot' : 'WAL'}: a retry after restart is a duplicate`);
    t.equal(
      (await send(b.client, 'survive', idempotentBatch(pid, 0, 7, 1))).errorCode,
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      'gaps still detected',
    );
    t.equal((await send(b.client, 'survive', idempotentBatch(pid, 0, 6, 1))).baseOffset, 7, 'the next sequence is appended');
    await b.close();
  }
});

t.test('a producer whose batches were all deleted (DeleteRecords) is forgotten once state is rebuilt', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-idem-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir, { 'skafos.compaction.enable': 'false' });
  await createTopic(b.client, 'trimmed');
  const gone = await initProducerId(b.client);
  const kept = await initProducerId(b.client);
  t.equal((await send(b.client, 'trimmed', idempotentBatch(gone, 0, 0, 5))).baseOffset, 0);
  t.equal((await send(b.client, 'trimmed', idempotentBatch(kept, 0, 0, 5))).baseOffset, 5);
  const del = await b.client.request(ApiKey.DeleteRecords, 2, {
    topics: [{ name: 'trimmed', partitions: [{ partitionIndex: 0, offset: 7 }] }],
    timeoutMs: 10000,
  });
  t.equal(del.topics[0].partitions[0].errorCode, 0);
  await b.close();
  b = await startBrokerIn(dir, { 'skafos.compaction.enable': 'false' });
  t.teardown(() => b.close());
  t.equal(
    (await send(b.client, 'trimmed', idempotentBatch(gone, 0, 9, 1))).errorCode,
    0,
    'deleted producer: any sequence (as Kafka after truncateHead)',
  );
  t.same(
    await send(b.client, 'trimmed', idempotentBatch(kept, 0, 0, 5)),
    { errorCode: 0, baseOffset: 5 },
    'a producer whose last batch straddles the log start is kept',
  );
  t.equal((await send(b.client, 'trimmed', idempotentBatch(kept, 0, 9, 1))).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
});
