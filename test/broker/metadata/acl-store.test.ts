// AclStore: two instances on one store (two brokers of a cluster) see each other's ACLs through the watch;
// adding an existing ACL changes nothing; concurrent changes of one resource pattern are compare-and-set and
// re-applied; the ACL count limit; a pattern whose last ACL goes is deleted from the store.
import t from 'tap';
import { AclStore, AclStoreFullError } from '../../../broker/metadata/acl-store.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { aclKey } from '../../../broker/metadata/layout.ts';
import { until } from '../../support/until.ts';

const entry = (principal: string, operation = 3) => ({ principal, host: '*', operation, permission: 3 });
const count = (s: AclStore) => [...s.all()].reduce((n, p) => n + p.acls.length, 0);

t.test('ACLs reach the other instance; duplicates are not added; empty patterns are deleted', async (t) => {
  const store = new MemoryMetadataStore();
  const a = new AclStore(store, 100);
  const b = new AclStore(store, 100);
  let changes = 0;
  await a.start(() => {});
  await b.start(() => changes++);
  t.teardown(() => {
    a.close();
    b.close();
  });
  await a.add(2, 4, 'app-', [entry('User:alice')]);
  await until(() => count(b) === 1, 'the ACL on the other instance');
  t.ok(changes >= 2, 'onChange ran (at start and for the change)');
  t.strictSame(
    [...b.all()].map((p) => [p.resourceType, p.patternType, p.name]),
    [[2, 4, 'app-']],
  );
  await a.add(2, 4, 'app-', [entry('User:alice')]);
  t.equal(count(a), 1, 'the same ACL twice is one ACL');
  await b.update(2, 4, 'app-', () => []);
  await until(() => count(a) === 0, 'the deletion on the other instance');
  t.equal(await store.get(aclKey(2, 4, 'app-')), null, 'the key is gone');
});

t.test('concurrent changes of one pattern are all kept', async (t) => {
  const store = new MemoryMetadataStore();
  const a = new AclStore(store, 100);
  const b = new AclStore(store, 100);
  await a.start(() => {});
  await b.start(() => {});
  t.teardown(() => {
    a.close();
    b.close();
  });
  await Promise.all([a.add(3, 3, 'g', [entry('User:a')]), b.add(3, 3, 'g', [entry('User:b')]), a.add(3, 3, 'g', [entry('User:c')])]);
  await until(() => count(a) === 3 && count(b) === 3, 'all three on both');
});

t.test('the ACL count is bounded', async (t) => {
  const store = new MemoryMetadataStore();
  const a = new AclStore(store, 2);
  await a.start(() => {});
  t.teardown(() => a.close());
  await a.add(2, 3, 't', [entry('User:a'), entry('User:b')]);
  await t.rejects(a.add(2, 3, 'u', [entry('User:c')]), AclStoreFullError);
});
