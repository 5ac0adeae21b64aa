// Client quotas with a broker process: a producer whose client id has producer_byte_rate = 1 MiB/s, which does
// not wait out the throttle times it is given (so only the broker's muting of its connection, KIP-219, holds it),
// and an unlimited producer on the same broker at the same time. Rates are measured over the last 20 s of 40 s
// and reported; the limited one must stay within 10% of its quota. The first 20 s are not counted: a fresh rate
// lets a burst of 10 s worth through (Kafka measures over at least 10 windows), and when that burst's window
// expires the rate drops and lets a smaller one through, and so on, damped.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../broker/protocol/records/build.ts';

t.setTimeout(180_000);
const MiB = 1 << 20;
const batchBytes = 64 * 1024;

async function producer(port: number, clientId: string, until: number, from: number): Promise<{ bytes: number; throttled: number }> {
  const c = await RawConnection.connect(port);
  const value = Buffer.alloc(batchBytes, 7);
  let bytes = 0;
  let throttled = 0;
  try {
    while (Date.now() < until) {
      const r = await c.request(
        ApiKey.Produce,
        9,
        {
          transactionalId: null,
          acks: 1,
          timeoutMs: 30000,
          topicData: [
            { name: 'quota', partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value, timestampMs: Date.now() }]) }] },
          ],
        },
        { clientId, timeoutMs: 60_000 },
      );
      if (r.responses[0].partitionResponses[0].errorCode !== 0)
        throw new Error(`produce error ${r.responses[0].partitionResponses[0].errorCode}`);
      if (r.throttleTimeMs > 0) throttled++;
      if (Date.now() >= from) bytes += batchBytes;
    }
  } finally {
    c.close();
  }
  return { bytes, throttled };
}

t.test('producer_byte_rate holds one producer, not the other', async (t) => {
  const b = await startBroker(t, { sets: { 'skafos.flush.linger.ms': 5 } });
  const admin = await RawConnection.connect(b.port);
  t.teardown(() => admin.close());
  await admin.request(ApiKey.CreateTopics, 7, {
    topics: [{ name: 'quota', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 10000,
    validateOnly: false,
  });
  const q = await admin.request(ApiKey.AlterClientQuotas, 1, {
    entries: [
      { entity: [{ entityType: 'client-id', entityName: 'slow' }], ops: [{ key: 'producer_byte_rate', value: MiB, remove: false }] },
    ],
    validateOnly: false,
  });
  t.equal(q.entries[0].errorCode, 0);

  // The unlimited producer alone first, as the baseline.
  const start0 = Date.now();
  const alone = await producer(b.port, 'fast', start0 + 10_000, start0);
  const aloneRate = alone.bytes / MiB / 10;

  const start = Date.now();
  const [slow, fast] = await Promise.all([
    producer(b.port, 'slow', start + 40_000, start + 20_000),
    producer(b.port, 'fast', start + 40_000, start + 20_000),
  ]);
  const start1 = Date.now();
  const aloneAfter = await producer(b.port, 'fast', start1 + 10_000, start1);
  const aloneAfterRate = aloneAfter.bytes / MiB / 10;
  const slowRate = slow.bytes / MiB / 20;
  const fastRate = fast.bytes / MiB / 20;
  t.comment(`limited producer: ${slowRate.toFixed(3)} MiB/s over the last 20 s (quota 1 MiB/s), ${slow.throttled} throttled responses`);
  t.comment(
    `unlimited producer: ${fastRate.toFixed(1)} MiB/s beside it, alone ${aloneRate.toFixed(1)} MiB/s before and ${aloneAfterRate.toFixed(1)} MiB/s after (one request in flight, acks=1: its rate follows the machine's load); ${fast.throttled} throttled responses`,
  );
  t.ok(slowRate <= 1.1 && slowRate >= 0.9, 'the limited producer is held within 10% of 1 MiB/s');
  t.equal(fast.throttled, 0, 'the unlimited producer is never throttled');
});
