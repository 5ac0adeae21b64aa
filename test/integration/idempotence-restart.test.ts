// Idempotent producer state across kill -9: a broker child process acknowledges an idempotent producer's
// batches, is killed with SIGKILL and restarted on the same directory; a retry of an acknowledged batch is
// still answered with its original offset (state rebuilt from the WAL), the sequence continues, and a batch
// that was never durable (killed before its flush) is appended afresh when retried.
import t from 'tap';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../broker/protocol/records/build.ts';
import { startBroker } from '../support/broker.ts';
import { TestClient, createTopic, produce } from '../broker/handlers/support/client.ts';

t.setTimeout(180_000);

function idempotentBatch(producerId: number, baseSequence: number, count: number): Buffer {
  const now = Date.now();
  return buildRecordBatch(
    Array.from({ length: count }, (_, i) => ({ key: null, value: Buffer.from(`v${baseSequence + i}`), timestampMs: now })),
    { producerId, producerEpoch: 0, baseSequence },
  );
}

function send(client: TestClient, records: Buffer, timeoutMs = 10000): Promise<{ errorCode: number; baseOffset: number }> {
  return client
    .request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs,
      topicData: [{ name: 'idem', partitionData: [{ index: 0, records: Buffer.from(records) }] }],
    })
    .then((r) => {
      const p = r.responses[0].partitionResponses[0];
      return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
    });
}

t.test('kill -9 and restart: retries of acknowledged batches are duplicates, unacknowledged ones are appended', async (t) => {
  // A long linger, so that a batch can be left unflushed on purpose; acknowledged batches are flushed by size.
  const b = await startBroker(t, { sets: { 'skafos.flush.linger.ms': 3000, 'skafos.compaction.enable': false } });
  let client = await TestClient.connect(b.port);
  await createTopic(client, 'idem');
  const init = await client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 });
  const pid = Number(init.producerId);
  const batches = Array.from({ length: 4 }, (_, i) => idempotentBatch(pid, i * 10, 10));
  const acked: number[] = [];
  for (const x of batches.slice(0, 3)) {
    const r = await send(client, x);
    t.equal(r.errorCode, 0);
    acked.push(r.baseOffset);
  }
  t.same(acked, [0, 10, 20]);
  // The fourth is appended but not durable (linger) when the broker dies.
  const unacked = send(client, batches[3]!).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 300));
  await b.kill9();
  t.ok((await unacked) instanceof Error, 'the unflushed batch was never acknowledged');
  client.close();

  await b.restart();
  client = await TestClient.connect(b.port);
  t.teardown(() => client.close());
  t.same(await send(client, batches[1]!), { errorCode: 0, baseOffset: 10 }, 'an acknowledged batch retried after kill -9 is a duplicate');
  t.same(await send(client, batches[2]!), { errorCode: 0, baseOffset: 20 }, 'the last one too');
  t.same(await send(client, batches[3]!), { errorCode: 0, baseOffset: 30 }, 'the batch lost with the process is appended afresh');
  t.same(await send(client, batches[3]!), { errorCode: 0, baseOffset: 30 }, 'and its retry is now a duplicate');
  const gap = await send(client, idempotentBatch(pid, 50, 1));
  t.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'a gap is still refused');
  t.equal(await produce(client, 'idem', 0, 1), 40, 'each batch once in the log');
});
