// InitProducerId v0-v5: fresh cluster-unique producer ids with epoch 0 for idempotent producers (also when a
// v3+ request names its current id and epoch, as Kafka does without a transactional id), INVALID_REQUEST for an
// id without an epoch; transactional ids keep their id and get their epoch bumped (more in test/broker/txn/);
// ids are never reused after a restart.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { producerIdBlockSize } from '../../../broker/log/producer-ids.ts';
import { startBrokerIn, startTestBroker } from './support/client.ts';

t.test('every version allocates a new id with epoch 0', async (t) => {
  const { client } = await startTestBroker(t);
  const seen = new Set<number>();
  // A fresh cluster's first block of ids starts at 0 and this broker hands them out in order.
  for (let v = 0; v <= 5; v++) {
    const r = await client.request(ApiKey.InitProducerId, v, { transactionalId: null, transactionTimeoutMs: 60000 });
    t.equal(r.errorCode, 0, `v${v}`);
    t.equal(r.producerEpoch, 0);
    t.equal(Number(r.producerId), v, `v${v}: the next id of the block`);
    seen.add(Number(r.producerId));
  }
  // KIP-360 (v3+) without a transactional id: Kafka hands out a fresh id rather than bumping the epoch.
  const first = [...seen][0]!;
  for (let v = 3; v <= 5; v++) {
    const r = await client.request(ApiKey.InitProducerId, v, {
      transactionalId: null,
      transactionTimeoutMs: 60000,
      producerId: first,
      producerEpoch: 0,
    });
    t.equal(r.errorCode, 0);
    t.equal(r.producerEpoch, 0);
    t.notOk(seen.has(Number(r.producerId)), `v${v}: a new id`);
    t.equal(Number(r.producerId), v + 3, `v${v}: the next id of the block`);
    seen.add(Number(r.producerId));
  }
});

t.test('malformed and transactional requests', async (t) => {
  const { client } = await startTestBroker(t);
  const bad = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId: null,
    transactionTimeoutMs: 60000,
    producerId: 5,
    producerEpoch: -1,
  });
  t.equal(bad.errorCode, ErrorCode.INVALID_REQUEST, 'an id without an epoch');
  t.equal(Number(bad.producerId), -1);
  // A transactional id is served by the transaction coordinator: same id, epoch bumped by each call.
  let pid = -1;
  for (let v = 0; v <= 5; v++) {
    const r = await client.request(ApiKey.InitProducerId, v, { transactionalId: 'txn-1', transactionTimeoutMs: 60000 });
    t.equal(r.errorCode, ErrorCode.NONE, `v${v}: a transactional id`);
    if (v === 0) pid = Number(r.producerId);
    t.equal(Number(r.producerId), pid);
    t.equal(r.producerEpoch, v);
  }
  const empty = await client.request(ApiKey.InitProducerId, 4, { transactionalId: '', transactionTimeoutMs: 60000 });
  t.equal(empty.errorCode, ErrorCode.INVALID_REQUEST, 'an empty transactional id');
});

t.test('ids are not reused after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-pid-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir);
  const r1 = await b.client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 });
  await b.close();
  b = await startBrokerIn(dir);
  const r2 = await b.client.request(ApiKey.InitProducerId, 4, { transactionalId: null, transactionTimeoutMs: 60000 });
  await b.close();
  t.equal(r1.errorCode, 0);
  t.equal(r2.errorCode, 0);
  // The first broker took the block [0, 1000) and used 0; the restarted one takes the next block, never the rest of
  // the first (spec/producer-state.md): ids handed out before a crash are never handed out again.
  t.equal(Number(r1.producerId), 0);
  t.equal(Number(r2.producerId), producerIdBlockSize);
});
