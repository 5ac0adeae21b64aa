// Produce and record timestamps (Kafka's LogValidator): a batch sent with maxTimestamp -1, as Sarama 1.22 sends
// every batch, gets its real maximum, so ListOffsets by timestamp finds its records and retention.ms expires
// them; every record's timestamp is checked against message.timestamp.before/after.max.ms, and a failing
// record inside an otherwise valid batch is named by its index in record_errors.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch, CompressionCodec, NO_TIMESTAMP } from '../../../broker/protocol/records/index.ts';
import type { BuildBatchOptions } from '../../../broker/protocol/records/index.ts';
import { createTopic, startTestBroker } from './support/client.ts';
import type { TestClient } from './support/client.ts';

const HOUR = 3_600_000;
const EARLIEST = -2;
const LATEST = -1;
const MAX_TIMESTAMP = -3;

function batch(timestamps: readonly number[], options: BuildBatchOptions = {}): Buffer {
  return buildRecordBatch(
    timestamps.map((timestampMs, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`), timestampMs })),
    options,
  );
}

async function produce(client: TestClient, topic: string, records: Buffer) {
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return r.responses[0].partitionResponses[0];
}

async function listOffset(client: TestClient, topic: string, timestamp: number): Promise<{ offset: number; timestamp: number }> {
  const r = await client.request(ApiKey.ListOffsets, 8, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }],
  });
  const p = r.topics[0].partitions[0];
  if (p.errorCode !== 0) throw new Error(`ListOffsets ${topic} ${timestamp}: error ${p.errorCode}`);
  return { offset: Number(p.offset), timestamp: Number(p.timestamp) };
}

t.test('a batch sent with maxTimestamp -1 is found by timestamp, plain and compressed', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'sarama');
  const base = Math.floor((Date.now() - HOUR) / 1000) * 1000;
  // Offsets 0-4 uncompressed, 5-9 lz4; the largest timestamp is in the middle of the second batch.
  const plain = [0, 1000, 2000, 3000, 4000].map((d) => base + d);
  const lz4 = [5000, 6000, 9000, 7000, 8000].map((d) => base + d);
  for (const [timestamps, compression] of [
    [plain, CompressionCodec.NONE],
    [lz4, CompressionCodec.LZ4],
  ] as const) {
    const p = await produce(client, 'sarama', batch(timestamps, { compression, maxTimestampMs: NO_TIMESTAMP }));
    t.equal(p.errorCode, 0, `codec ${compression}: accepted`);
  }
  t.same(await listOffset(client, 'sarama', base + 2500), { offset: 3, timestamp: base + 3000 }, 'inside the plain batch');
  t.same(await listOffset(client, 'sarama', base + 5500), { offset: 6, timestamp: base + 6000 }, 'inside the compressed batch');
  t.same(await listOffset(client, 'sarama', base + 6500), { offset: 7, timestamp: base + 9000 }, 'the first record at or after it');
  t.same(await listOffset(client, 'sarama', base + 9000), { offset: 7, timestamp: base + 9000 }, 'the largest timestamp');
  t.same(await listOffset(client, 'sarama', base + 9001), { offset: -1, timestamp: -1 }, 'nothing after it');
  t.same(await listOffset(client, 'sarama', MAX_TIMESTAMP), { offset: 7, timestamp: base + 9000 }, 'MAX_TIMESTAMP');
});

t.test('a batch sent with maxTimestamp -1 expires by retention.ms', async (t) => {
  const { client } = await startTestBroker(t, { 'log.retention.check.interval.ms': '200' });
  await createTopic(client, 'expiring', 1, { 'retention.ms': '60000' });
  const old = Date.now() - HOUR;
  const p = await produce(client, 'expiring', batch([old, old + 10, old + 20], { maxTimestampMs: NO_TIMESTAMP }));
  t.equal(p.errorCode, 0);
  // An hour old with retention.ms = 1 minute: the next retention check moves the log start past it.
  const deadline = Date.now() + 20_000;
  let earliest = await listOffset(client, 'expiring', EARLIEST);
  while (earliest.offset !== 3 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    earliest = await listOffset(client, 'expiring', EARLIEST);
  }
  t.equal(earliest.offset, 3, 'every record expired: the log start is the high watermark');
  t.equal((await listOffset(client, 'expiring', LATEST)).offset, 3);
});

t.test('an out-of-range record inside an otherwise valid batch: INVALID_TIMESTAMP with its index', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'checked', 1, { 'message.timestamp.before.max.ms': String(24 * HOUR) });
  const now = Date.now();
  const cases: { name: string; timestamps: number[]; options?: BuildBatchOptions; bad: number[] }[] = [
    // The first record and the header's maximum are fine: only the records themselves show the problem.
    { name: 'too old, in the middle', timestamps: [now, now - 48 * HOUR, now - 1], bad: [1] },
    { name: 'too new, header -1', timestamps: [now, now + 2 * HOUR, now], options: { maxTimestampMs: NO_TIMESTAMP }, bad: [1] },
    {
      name: 'zstd, two of four',
      timestamps: [now, now - 48 * HOUR, now, now + 3 * HOUR],
      options: { compression: CompressionCodec.ZSTD, maxTimestampMs: now },
      bad: [1, 3],
    },
  ];
  for (const c of cases) {
    const p = await produce(client, 'checked', batch(c.timestamps, c.options));
    t.equal(p.errorCode, ErrorCode.INVALID_TIMESTAMP, `${c.name}: INVALID_TIMESTAMP`);
    t.equal(Number(p.baseOffset), -1);
    t.same(
      p.recordErrors.map((e: { batchIndex: number }) => e.batchIndex),
      c.bad,
      `${c.name}: record_errors name the failing records`,
    );
    for (const e of p.recordErrors) t.match(e.batchIndexErrorMessage, /out of range/, 'with a message');
    t.match(p.errorMessage, `${c.bad.length} record(s) rejected`);
  }
  t.equal((await listOffset(client, 'checked', LATEST)).offset, 0, 'nothing was appended');
  const ok = await produce(client, 'checked', batch([now - 23 * HOUR, now, now + HOUR - 60_000]));
  t.equal(ok.errorCode, 0, 'records within both bounds are accepted');
});

t.test('a LogAppendTime topic refuses batches that claim LogAppendTime', async (t) => {
  const { client } = await startTestBroker(t);
  await createTopic(client, 'lat', 1, { 'message.timestamp.type': 'LogAppendTime' });
  const now = Date.now();
  const p = await produce(client, 'lat', batch([now, now], { logAppendTimeMs: now }));
  t.equal(p.errorCode, ErrorCode.INVALID_TIMESTAMP);
  t.same(
    p.recordErrors.map((e: { batchIndex: number }) => e.batchIndex),
    [0, 1],
  );
  const old = await produce(client, 'lat', batch([now - 48 * HOUR, now - 47 * HOUR], { maxTimestampMs: NO_TIMESTAMP }));
  t.equal(old.errorCode, 0, 'CreateTime records of any age: the broker stamps its time');
  t.ok(Number(old.logAppendTimeMs) >= now);
});
