// The etcd metadata store through etcd outages, on an etcd member of its own (test/support/etcd.ts): a stopped
// etcd and a hung one (SIGSTOP) give MetadataUnavailableError within the request timeout, never a hang; once
// etcd is back, operations and watches resume on their own, without losing or repeating events; and committed
// transactions survive a crash (SIGKILL) and restart. Password authentication, whose tokens etcd forgets when it
// restarts.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { Etcd3 } from 'etcd3';
import { EtcdMetadataStore } from '../../../broker/metadata/etcd.ts';
import type { MetadataStore } from '../../../broker/metadata/store.ts';
import { EtcdMember, etcdMemberSkip } from '../../support/etcd.ts';
import { named, record, sleep, until } from './support/contract.ts';

const requestTimeoutMs = 1000;
/** Scheduling slack on top of the request timeout. */
const slackMs = 750;

const skip = etcdMemberSkip();

let member: EtcdMember | null = null;
async function etcd(): Promise<EtcdMember> {
  if (member === null) {
    member = await EtcdMember.create();
    t.teardown(() => member?.destroy());
  }
  if (!member.running) await member.start();
  return member;
}

async function openStore(t: Test, m: EtcdMember, prefix = `/outage-${randomBytes(4).toString('hex')}`): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.open({ endpoints: m.endpoints, prefix, requestTimeoutMs });
  t.teardown(() => store.close());
  return store;
}

async function openAuthStore(
  t: Test,
  m: EtcdMember,
  prefix: string,
  auth?: { username: string; password: string },
): Promise<EtcdMetadataStore> {
  const store = await EtcdMetadataStore.open({
    endpoints: m.endpoints,
    prefix,
    requestTimeoutMs,
    dialTimeoutMs: requestTimeoutMs,
    ...(auth ? { auth } : {}),
  });
  t.teardown(() => store.close());
  return store;
}

const put = (s: MetadataStore, key: string, value: string) => s.txn([], [{ type: 'put', key, value }]);

/** Runs op, expecting MetadataUnavailableError in at most the request timeout; returns the time it took. */
async function failsInTime(t: Test, what: string, op: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  await t.rejects(op(), named('MetadataUnavailableError', { message: /etcd/ }), `${what}: MetadataUnavailableError`);
  const ms = Date.now() - started;
  t.ok(ms <= requestTimeoutMs + slackMs, `${what}: rejected after ${ms} ms (request timeout ${requestTimeoutMs} ms)`);
  return ms;
}

/** Polls op until it succeeds; returns the milliseconds it took. */
async function recoveryMs(op: () => Promise<unknown>, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await op();
      return Date.now() - started;
    } catch (err) {
      if ((err as Error).name !== 'MetadataUnavailableError' || Date.now() - started > timeoutMs) throw err;
    }
  }
}

t.test('etcd stopped and restarted: typed errors in time, then automatic recovery without lost events', { skip }, async (t) => {
  const m = await etcd();
  const s = await openStore(t, m);
  const w = record(s, '/k/', 0);
  const lease = await s.grantLease(10_000);
  const written: string[] = [];
  const write = async (s: MetadataStore, i: number) => {
    const { revision } = await put(s, `/k/${i}`, `v${i}`);
    written.push(`put /k/${i}=v${i}@${revision}`);
  };
  for (let i = 0; i < 3; i++) await write(s, i);
  await w.waitEvents(3);

  await m.stop();
  const ms = await Promise.all([
    failsInTime(t, 'get', () => s.get('/k/0')),
    failsInTime(t, 'getPrefix', () => s.getPrefix('/k/')),
    failsInTime(t, 'txn', () => put(s, '/k/lost', 'x')),
    failsInTime(t, 'revision', () => s.revision()),
    failsInTime(t, 'grantLease', () => s.grantLease(5000)),
    failsInTime(t, 'keepAlive', () => lease.keepAlive()),
    failsInTime(t, 'revoke', () => lease.revoke()),
  ]);
  t.comment(`outage: operations rejected after ${Math.min(...ms)}..${Math.max(...ms)} ms`);
  const failure = await s.get('/k/0').catch((err: Error) => err);
  t.match(failure, { cause: Error }, 'the error carries its cause');
  t.comment(`error: ${(failure as Error).message}`);
  // A watch created during the outage starts once etcd is back, after everything this client saw.
  const during = record(s, '/k/', 0);

  await m.start();
  const restartedAt = Date.now();
  // Another client writes at once, before this store's watch stream is back: the resumed watch must replay it.
  const other = await openStore(t, m, s.prefix);
  for (let i = 3; i < 6; i++) await write(other, i);
  const opMs = await recoveryMs(() => s.get('/k/3'));
  for (let i = 6; i < 9; i++) await write(s, i);
  await w.waitEvents(9);
  const watchMs = Date.now() - restartedAt;
  t.comment(`recovery after etcd was healthy again: first operation ${opMs} ms; watch caught up ${watchMs} ms after the restart`);
  t.same(w.lines(), written, 'the watch has every event, in order, once');
  await during.waitEvents(6);
  t.same(during.lines(), written.slice(3), 'the watch created during the outage has every event after it');
  t.equal(await s.get('/k/lost'), null, 'the failed txn did not apply');
  await t.resolves(lease.keepAlive(), 'the lease survived the restart');
  await lease.revoke();
});

t.test('a hung etcd (SIGSTOP): operations time out, then resume after SIGCONT', { skip }, async (t) => {
  const m = await etcd();
  const s = await openStore(t, m);
  const w = record(s, '/h/', 0);
  const { revision } = await put(s, '/h/before', '1');
  await w.waitEvents(1);
  m.pause();
  try {
    const ms = await Promise.all([failsInTime(t, 'get', () => s.get('/h/before')), failsInTime(t, 'txn', () => put(s, '/h/during', '2'))]);
    t.comment(`hung etcd: operations rejected after ${Math.min(...ms)}..${Math.max(...ms)} ms`);
  } finally {
    m.resume();
  }
  const opMs = await recoveryMs(() => put(s, '/h/after', '3'));
  t.comment(`recovery after SIGCONT: ${opMs} ms`);
  await until(() => w.lines().some((l) => l.startsWith('put /h/after=3')), 5000, 'the watch to resume');
  const lines = w.lines();
  t.same(lines[0], `put /h/before=1@${revision}`);
  t.same(lines.at(-1)?.replace(/@\d+$/, ''), 'put /h/after=3');
  // A txn that timed out may still have been applied once etcd woke up: the watch shows exactly what happened.
  t.same(
    lines.slice(1, -1).map((l) => l.replace(/@\d+$/, '')),
    (await s.get('/h/during')) === null ? [] : ['put /h/during=2'],
  );
});

t.test('durability: committed transactions survive a crash (SIGKILL) and restart', { skip }, async (t) => {
  const m = await etcd();
  const s = await openStore(t, m);
  const committed: Array<[number, number]> = [];
  for (let i = 0; i < 50; i++) {
    const { succeeded, revision } = await s.txn(
      [{ key: `/d/${i - 1}`, target: 'version', op: i === 0 ? '=' : '>', value: 0 }],
      [{ type: 'put', key: `/d/${i}`, value: `value ${i}` }],
    );
    if (!succeeded) throw new Error(`txn ${i} found its predecessor missing`);
    committed.push([i, revision]);
  }
  await m.stop('SIGKILL');
  await m.start();
  const kvs = await s.getPrefix('/d/'); // the same store reconnects by itself
  t.equal(kvs.length, 50, 'every committed txn is there');
  const byKey = new Map(kvs.map((kv) => [kv.key, kv]));
  t.ok(
    committed.every(([i, revision]) => byKey.get(`/d/${i}`)?.value === `value ${i}` && byKey.get(`/d/${i}`)?.modRevision === revision),
    'values and revisions',
  );
  t.ok((await s.revision()) >= committed.at(-1)![1]);
});

t.test('password authentication, across token expiry and an etcd restart', { skip }, async (t) => {
  const member = await EtcdMember.create(['--auth-token-ttl', '1']); // auth stays enabled: a member of its own
  t.teardown(() => member.destroy());
  const admin = new Etcd3({ hosts: member.endpoints });
  t.teardown(() => admin.close());
  await admin.user('root').create('root-pw');
  await admin.user('root').addRole('root');
  await admin.role('skafos').create();
  await admin.role('skafos').grant({ permission: 'Readwrite', range: admin.range({ prefix: '/auth/' }) });
  await admin.user('broker').create('broker-pw');
  await admin.user('broker').addRole('skafos');
  await admin.auth.authEnable();

  const s = await openAuthStore(t, member, '/auth', { username: 'broker', password: 'broker-pw' });
  await s.txn([], [{ type: 'put', key: '/k', value: 'v' }]);
  t.equal((await s.get('/k'))?.value, 'v');
  const w = record(s, '/', 0);
  await s.txn([], [{ type: 'put', key: '/k', value: 'w' }]);
  await w.waitEvents(1);
  const lease = await s.grantLease(5000);
  await lease.keepAlive();

  // etcd forgets its (simple) tokens after --auth-token-ttl and when it restarts: the store renews its own.
  await sleep(2100);
  await lease.keepAlive();
  await member.stop();
  await member.start();
  const writer = await openAuthStore(t, member, '/auth', { username: 'broker', password: 'broker-pw' });
  await writer.txn([], [{ type: 'put', key: '/k', value: 'after restart' }]);
  await w.waitEvents(2); // the watch stream, re-opened with a renewed token
  t.match(w.events()[1], { type: 'put', kv: { value: 'after restart' } });
  await lease.keepAlive();
  await lease.revoke();

  const started = Date.now();
  await t.rejects(openAuthStore(t, member, '/auth'), named('MetadataUnavailableError'), 'no credentials');
  await t.rejects(
    openAuthStore(t, member, '/auth', { username: 'broker', password: 'wrong' }),
    named('MetadataUnavailableError'),
    'wrong password',
  );
  const outside = await openAuthStore(t, member, '/elsewhere', { username: 'broker', password: 'broker-pw' }).catch((err: Error) => err);
  t.match(outside, named('MetadataUnavailableError', { message: /permission denied/ }), 'a prefix the user may not read');
  t.ok(Date.now() - started < 2500, 'refusals are not retried until the deadline');
});
