// Producer id blocks: unique across allocators sharing a metadata store (brokers of a cluster), never reused
// after a restart, allocated concurrently without duplicates.
import t from 'tap';
import { ProducerIdAllocator } from '../../../broker/log/producer-ids.ts';
import { producerIdBlockKey } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';

t.test('blocks from one counter: unique across allocators and restarts', async (t) => {
  const store = new MemoryMetadataStore();
  t.teardown(() => store.close());
  const a = new ProducerIdAllocator(store, 10);
  const b = new ProducerIdAllocator(store, 10);
  // Concurrent allocations on both "brokers".
  const ids = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).allocate()));
  t.equal(new Set(ids).size, 60, 'no id handed out twice');
  t.ok(ids.every((id) => Number.isInteger(id) && id >= 0));
  t.equal(a.blocks + b.blocks, 6, 'whole blocks, one request each');
  const before = JSON.parse((await store.get(producerIdBlockKey))!.value).nextBlockStart;
  t.equal(before, 60);
  // A restart: the rest of the old blocks is skipped, never reused.
  const c = new ProducerIdAllocator(store, 10);
  t.equal(await c.allocate(), 60);
  t.notOk(ids.includes(60));
});

t.test('a lost race is retried', async (t) => {
  const store = new MemoryMetadataStore();
  t.teardown(() => store.close());
  const a = new ProducerIdAllocator(store, 5);
  const realTxn = store.txn.bind(store);
  let raced = false;
  store.txn = async (compares, success, failure) => {
    if (!raced) {
      raced = true;
      await realTxn([], [{ type: 'put', key: producerIdBlockKey, value: JSON.stringify({ nextBlockStart: 100 }) }]);
    }
    return realTxn(compares, success, failure);
  };
  t.equal(await a.allocate(), 100, 'the block after the one another broker took');
});
