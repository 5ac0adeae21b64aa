// ConfigDocuments: two instances on one store (two brokers of a cluster) see each other's changes through the
// watch; a document deleted here is not brought back by the watch delivering its older put late; concurrent
// updates are compare-and-set and re-applied; the document limit.
import t from 'tap';
import { ConfigDocuments, ConfigDocumentsFullError } from '../../../broker/metadata/config-docs.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';

const prefix = '/docs/';
function docs(store: MemoryMetadataStore, maxDocuments = 10): ConfigDocuments {
  return new ConfigDocuments({
    store,
    prefix,
    keyOf: (n) => prefix + n,
    nameOf: (k) => (k.startsWith(prefix) ? k.slice(prefix.length) : null),
    maxDocuments,
  });
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('changes reach the other instance; deletes stay deleted', async (t) => {
  const store = new MemoryMetadataStore();
  const a = docs(store);
  const b = docs(store);
  const seen: string[] = [];
  await a.start();
  await b.start((name) => seen.push(name));
  t.teardown(() => {
    a.close();
    b.close();
  });
  await a.update('x', () => ({ k: '1' }));
  await until('b to see x', () => b.get('x').k === '1');
  t.same(seen, ['x']);
  // A put and a delete in quick succession on a: its watch delivers the put after the delete happened.
  await a.update('y', () => ({ k: '2' }));
  await a.update('y', () => ({}));
  t.same(a.get('y'), {}, 'deleted here at once');
  await until('b to see y come and go', () => seen.filter((n) => n === 'y').length === 2);
  t.same(b.get('y'), {});
  // a's watch delivers events in revision order: once it shows b's later write, it has passed y's put.
  await b.update('z', () => ({ k: '4' }));
  await until('a to see z', () => a.get('z').k === '4');
  t.same(a.get('y'), {}, 'the late put event did not bring it back');
  t.same(a.names(), ['x', 'z']);
  await b.update('z', () => ({}));
  await until('a to see z go', () => a.get('z').k === undefined);
  // b updates from the current stored value, whatever its cache says.
  const written = await b.update('x', (cur) => ({ ...cur, j: '3' }));
  t.same(written, { k: '1', j: '3' });
  await until('a to see the change', () => a.get('x').j === '3');
});

t.test('the document limit', async (t) => {
  const store = new MemoryMetadataStore();
  const a = docs(store, 1);
  await a.start();
  t.teardown(() => a.close());
  await a.update('one', () => ({ k: 'v' }));
  await t.rejects(
    a.update('two', () => ({ k: 'v' })),
    ConfigDocumentsFullError,
  );
  await a.update('one', () => ({ k: 'w' }));
  t.same(a.get('one'), { k: 'w' }, 'an existing document may still change');
});
