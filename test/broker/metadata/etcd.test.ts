// The etcd metadata store against a real etcd (test/support/etcd.ts): the shared contract suite, compaction,
// prefix isolation, lease TTL rounding, limits and error mapping. Outages: etcd-outage.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { loadConfig } from '../../../broker/config.ts';
import { EtcdMetadataStore, etcdStoreOptions } from '../../../broker/metadata/etcd.ts';
import type { EtcdMetadataStoreOptions } from '../../../broker/metadata/etcd.ts';
import { EtcdMember, etcdMemberSkip, externalEtcdEndpoints, sharedEtcd } from '../../support/etcd.ts';
import { metadataStoreContract, named, record, sleep, until } from './support/contract.ts';

/** A fresh prefix per store: stores of one test never see another test's keys. */
const testPrefix = () => `/skafos-test/${randomBytes(6).toString('hex')}`;

async function openStore(t: Test, endpoints: string[], options: Partial<EtcdMetadataStoreOptions> = {}) {
  const store = await EtcdMetadataStore.open({ endpoints, prefix: testPrefix(), ...options });
  t.teardown(() => store.close());
  return store;
}

function rawClient(t: Test, endpoints: string[]): Etcd3 {
  const client = new Etcd3({ hosts: endpoints });
  t.teardown(() => client.close());
  return client;
}

/**
 * An etcd member of this file's own, which nobody else writes to: the contract checks exact store-wide revision
 * arithmetic, and the compaction test compacts the whole etcd.
 */
let own: Promise<EtcdMember> | null = null;
function ownMember(): Promise<EtcdMember> {
  if (own === null) {
    own = EtcdMember.create();
    t.teardown(async () => (await own!).destroy());
  }
  return own;
}

t.test('contract', async (t) => {
  // An external etcd (SKAFOS_TEST_ETCD_ENDPOINTS) is trusted to be quiet while the contract runs.
  const endpoints = externalEtcdEndpoints() ?? (await ownMember()).endpoints;
  // 1 s minimum leases so the lease-expiry test runs with 1 s and 2 s TTLs (leaseTimeScale 5).
  metadataStoreContract(
    t,
    (options) =>
      EtcdMetadataStore.open({
        endpoints,
        prefix: testPrefix(),
        minLeaseTtlMs: 1000,
        ...(options?.limits ? { limits: options.limits } : {}),
      }),
    { leaseTimeScale: 5, historyLimits: false },
  );
});

t.test('compaction: a watch needing compacted revisions ends with CompactedRevisionError', { skip: etcdMemberSkip() }, async (t) => {
  const member = await ownMember();
  const s = await openStore(t, member.endpoints);
  const base = await s.revision();
  for (let i = 1; i <= 6; i++) await s.txn([], [{ type: 'put', key: `/c/${i}`, value: String(i) }]);
  const head = await s.revision();
  t.equal(head, base + 6);
  // etcd keeps revision `head - 2` and drops everything before it.
  await rawClient(t, member.endpoints).kv.compact({ revision: head - 2, physical: true });

  const errors: Error[] = [];
  const events: number[] = [];
  s.watchPrefix(
    '/c/',
    base + 1,
    (batch) => events.push(...batch.map((e) => (e.type === 'put' ? e.kv.modRevision : e.modRevision))),
    (err) => errors.push(err),
  );
  await until(() => errors.length > 0, 3000, 'the compaction error');
  t.match(errors[0], named('CompactedRevisionError', { requestedRevision: base + 1, compactedRevision: head - 3 }));
  t.same(events, [], 'no events before the error');

  const kept = record(s, '/c/', head - 2);
  await kept.waitEvents(3);
  t.same(
    kept.events().map((e) => (e.type === 'put' ? e.kv.key : e.key)),
    ['/c/4', '/c/5', '/c/6'],
    'a watch from the compaction revision on works',
  );
  t.equal((await s.getPrefix('/c/')).length, 6, 'compaction drops history, not keys');

  // Without onError the error is thrown where nobody can ignore it: as an uncaught exception.
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    s.watchPrefix('/c/', base + 1, () => {});
    await until(() => uncaught.length > 0, 3000, 'the uncaught compaction error');
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    for (const l of saved) process.on('uncaughtException', l);
  }
  t.match(uncaught[0], named('CompactedRevisionError'));
});

t.test('prefix isolation: stores with different prefixes never see each other', async (t) => {
  const { endpoints } = await sharedEtcd();
  const a = await openStore(t, endpoints);
  const b = await openStore(t, endpoints);
  t.not(a.prefix, b.prefix);
  const wa = record(a, '', 0);
  const wb = record(b, '', 0);
  await a.txn(
    [],
    [
      { type: 'put', key: '/k', value: 'a' },
      { type: 'put', key: '/topics/x', value: 'a' },
    ],
  );
  await b.txn([], [{ type: 'put', key: '/k', value: 'b' }]);
  t.equal((await a.get('/k'))?.value, 'a');
  t.equal((await b.get('/k'))?.value, 'b');
  t.same(
    (await a.getPrefix('')).map((kv) => kv.key),
    ['/k', '/topics/x'],
    'callers never see the prefix',
  );
  t.same(
    (await b.getPrefix('')).map((kv) => kv.key),
    ['/k'],
  );
  t.equal(
    (await b.txn([{ key: '/topics/x', target: 'createRevision', op: '=', value: 0 }], [])).succeeded,
    true,
    'compares see only their own keys',
  );

  // The etcd keys are prefix + key.
  const raw = rawClient(t, endpoints);
  t.equal(await raw.get(`${a.prefix}/topics/x`).string(), 'a');
  t.equal(await raw.get(`${b.prefix}/k`).string(), 'b');

  await a.txn([], [{ type: 'deletePrefix', prefix: '' }]);
  t.same(await a.getPrefix(''), [], 'deleting everything deletes only this prefix');
  t.equal((await b.get('/k'))?.value, 'b');
  await wa.waitEvents(4);
  await wb.waitEvents(1);
  await sleep(50);
  t.same(
    wa.lines().map((l) => l.replace(/@\d+$/, '')),
    ['put /k=a', 'put /topics/x=a', 'del /k', 'del /topics/x'],
  );
  t.same(
    wb.lines().map((l) => l.replace(/@\d+$/, '')),
    ['put /k=b'],
    'watches see only their prefix',
  );
  await b.txn([], [{ type: 'deletePrefix', prefix: '' }]);
});

t.test('lease TTLs are rounded up to whole seconds, at least minLeaseTtlMs', async (t) => {
  const { endpoints } = await sharedEtcd();
  const s = await openStore(t, endpoints);
  t.equal(s.minLeaseTtlMs, 2000, 'default minimum 2 s');
  const raw = rawClient(t, endpoints);
  for (const [requested, granted] of [
    [10, 2000],
    [1999, 2000],
    [2000, 2000],
    [2001, 3000],
    [59_500, 60_000],
  ] as const) {
    const lease = await s.grantLease(requested);
    t.equal(lease.ttlMs, granted, `${requested} ms → ${granted} ms`);
    const info = await raw.leaseClient.leaseTimeToLive({ ID: lease.id });
    t.equal(Number(info.grantedTTL) * 1000, granted, 'etcd has the same TTL');
    t.ok(Number.isSafeInteger(lease.id) && lease.id > 0, 'ids are safe integers');
    await lease.revoke();
  }
  const fine = await openStore(t, endpoints, { minLeaseTtlMs: 1000 });
  const one = await fine.grantLease(10);
  t.equal(one.ttlMs, 1000);
  await one.revoke();
  await t.rejects(s.grantLease(0), named('InvalidMetadataRequestError'));
});

t.test("limits: etcd's 128 operations per transaction; etcd's refusals are typed errors", async (t) => {
  const { endpoints } = await sharedEtcd();
  const s = await openStore(t, endpoints);
  const puts = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'put', key: `/ops/${i}`, value: 'v' }) as const);
  t.equal((await s.txn([], puts(128))).succeeded, true, '128 operations');
  await t.rejects(s.txn([], puts(129)), named('InvalidMetadataRequestError'), '129 refused before sending');
  const lax = await openStore(t, endpoints, { limits: { maxTxnOps: 1000 } });
  await t.rejects(lax.txn([], puts(129)), named('InvalidMetadataRequestError', { message: /too many operations/ }), "etcd's own refusal");
  await t.rejects(s.txn([], [{ type: 'put', key: '/l', value: 'v', lease: 12345 }]), named('LeaseLostError'), 'unknown lease');
  await s.txn([], [{ type: 'deletePrefix', prefix: '' }]);
});

t.test('an unreachable etcd fails open() within the dial timeout', async (t) => {
  const started = Date.now();
  await t.rejects(
    EtcdMetadataStore.open({ endpoints: ['http://127.0.0.1:1'], dialTimeoutMs: 300 }),
    named('MetadataUnavailableError', { message: /cannot reach etcd/ }),
  );
  t.ok(Date.now() - started < 1500, `failed after ${Date.now() - started} ms`);
});

t.test('store options from the broker configuration', async (t) => {
  const dir = t.testdir({ password: 'secret pw\n', 'ca.pem': 'CA', 'cert.pem': 'CERT', 'key.pem': 'KEY' });
  const config = loadConfig({
    sets: [
      'skafos.metadata.store=etcd',
      'skafos.etcd.endpoints=https://e1:2379,https://e2:2379',
      'skafos.etcd.prefix=/clusters/prod',
      'skafos.etcd.request.timeout.ms=2500',
      'skafos.etcd.username=broker',
      `skafos.etcd.password.file=${join(dir, 'password')}`,
      `skafos.etcd.tls.ca.file=${join(dir, 'ca.pem')}`,
      `skafos.etcd.tls.cert.file=${join(dir, 'cert.pem')}`,
      `skafos.etcd.tls.key.file=${join(dir, 'key.pem')}`,
    ],
  });
  const options = etcdStoreOptions(config);
  t.same(options.endpoints, ['https://e1:2379', 'https://e2:2379']);
  t.equal(options.prefix, '/clusters/prod');
  t.equal(options.requestTimeoutMs, 2500);
  t.equal(options.dialTimeoutMs, 5000);
  t.same(options.auth, { username: 'broker', password: 'secret pw' }, "the password file's first line");
  t.same([options.tls?.ca?.toString(), options.tls?.cert?.toString(), options.tls?.key?.toString()], ['CA', 'CERT', 'KEY']);
  t.throws(
    () => loadConfig({ sets: ['skafos.metadata.store=etcd', 'skafos.etcd.endpoints=http://e1:2379', 'skafos.etcd.username=broker'] }),
    named('ConfigError', { key: 'skafos.etcd.username' }),
  );
  t.throws(
    () =>
      loadConfig({
        sets: ['skafos.metadata.store=etcd', 'skafos.etcd.endpoints=http://e1:2379', `skafos.etcd.tls.ca.file=${join(dir, 'ca.pem')}`],
      }),
    named('ConfigError', { key: 'skafos.etcd.tls.ca.file' }),
    'TLS needs https',
  );
  const plain = etcdStoreOptions(loadConfig({ sets: ['skafos.metadata.store=etcd', 'skafos.etcd.endpoints=http://e1:2379'] }));
  t.same(plain, { endpoints: ['http://e1:2379'], prefix: '/skafos', dialTimeoutMs: 5000, requestTimeoutMs: 5000 });
});
