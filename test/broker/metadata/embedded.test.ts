import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { EmbeddedMetadataStore, formatVersion, lockFileName, metadataFileName } from '../../../broker/metadata/embedded.ts';
import { metadataStoreContract, named, record, sleep, until } from './support/contract.ts';

const dirs: string[] = [];
t.teardown(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-metadata-'));
  dirs.push(dir);
  return dir;
}

const childScript = new URL('./support/store-child.ts', import.meta.url).pathname;

interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
}

function startChild(mode: 'commit' | 'hold', dir: string): Child {
  const proc = spawn(process.execPath, [childScript, mode, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!; // an unfinished line is not a completed print
    lines.push(...parts);
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, lines, stderr: () => err, exited };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const proc = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => proc.on('exit', resolve));
  return proc.pid!;
}

const open = (t: Test, dir: string) =>
  EmbeddedMetadataStore.open(dir).then((s) => {
    t.teardown(() => s.close());
    return s;
  });

t.test('contract', async (t) => {
  metadataStoreContract(t, (options) => EmbeddedMetadataStore.open(tempDir(), options));
});

t.test('data, revision, lease counter and watch history survive close and reopen', async (t) => {
  const dir = tempDir();
  const s1 = await EmbeddedMetadataStore.open(dir);
  t.equal(s1.dataDir, dir);
  const lease1 = await s1.grantLease(60_000);
  const lease2 = await s1.grantLease(60_000);
  await s1.txn(
    [],
    [
      { type: 'put', key: '/a', value: '1' },
      { type: 'put', key: '/b', value: '\u{1f600}' },
    ],
  );
  await s1.txn([], [{ type: 'put', key: '/a', value: '2', lease: lease2.id }]);
  await s1.txn([], [{ type: 'delete', key: '/b' }]);
  await s1.close();
  await lease1.revoke().then(
    () => t.fail('a lease of a closed store'),
    (err: Error) => t.equal(err.name, 'MetadataStoreClosedError'),
  );

  const s2 = await open(t, dir);
  t.equal(await s2.revision(), 3);
  t.same(await s2.get('/a'), { key: '/a', value: '2', createRevision: 1, modRevision: 2, version: 2, lease: lease2.id });
  t.equal(await s2.get('/b'), null);
  const lease3 = await s2.grantLease(60_000);
  t.equal(lease3.id, lease2.id + 1, 'lease ids continue, never reused');
  const w = record(s2, '/', 1);
  await w.waitEvents(4);
  t.same(w.lines(), ['put /a=1@1', 'put /b=\u{1f600}@1', 'put /a=2@2', 'del /b@3'], 'history from before the restart');
  const r = await s2.txn([], [{ type: 'put', key: '/c', value: '3' }]);
  t.equal(r.revision, 4, 'revisions continue');
  await w.waitEvents(5);
});

t.test('a lease that expired while the store was closed is expired on open', async (t) => {
  const dir = tempDir();
  const s1 = await EmbeddedMetadataStore.open(dir);
  const short = await s1.grantLease(100);
  const long = await s1.grantLease(60_000);
  await s1.txn(
    [],
    [
      { type: 'put', key: '/short/1', value: 'x', lease: short.id },
      { type: 'put', key: '/short/2', value: 'x', lease: short.id },
      { type: 'put', key: '/long', value: 'y', lease: long.id },
    ],
  );
  await s1.close(); // as a crash would: the leases stay behind
  await sleep(200);

  const s2 = await open(t, dir);
  t.same(
    (await s2.getPrefix('/')).map((kv) => kv.key),
    ['/long'],
    'expired on open, before any timer',
  );
  t.equal(await s2.revision(), 2, 'one revision for the expiry');
  const w = record(s2, '/short/', 2);
  await w.waitEvents(2);
  t.same(w.lines(), ['del /short/1@2', 'del /short/2@2'], 'with delete events in the history');
});

t.test('a lease still valid on open expires later by timer', async (t) => {
  const dir = tempDir();
  const s1 = await EmbeddedMetadataStore.open(dir);
  const lease = await s1.grantLease(400);
  await s1.txn([], [{ type: 'put', key: '/k', value: 'x', lease: lease.id }]);
  await s1.close();
  const s2 = await open(t, dir);
  t.ok(await s2.get('/k'), 'still there');
  const w = record(s2, '/', 0);
  await until(() => w.events().length === 1, 2000, 'expiry');
  t.same(w.lines(), ['del /k@2']);
});

t.test('only one store per data directory', async (t) => {
  const dir = tempDir();
  const s1 = await EmbeddedMetadataStore.open(dir);
  t.ok(existsSync(join(dir, lockFileName)), 'lock file');
  t.match(readFileSync(join(dir, lockFileName), 'utf8'), new RegExp(`^${process.pid} `), 'holding the pid');
  const err = await EmbeddedMetadataStore.open(dir).then(
    () => null,
    (e: unknown) => e,
  );
  t.match(err, { name: 'MetadataStoreLockedError', dataDir: dir, holderPid: process.pid });
  t.match((err as Error).message, dir, 'the message names the directory');
  t.match((err as Error).message, String(process.pid), 'and the holder');
  await s1.txn([], [{ type: 'put', key: '/still', value: 'works' }]);
  await s1.close();
  t.notOk(existsSync(join(dir, lockFileName)), 'close removes the lock file');
  const s2 = await open(t, dir);
  t.equal((await s2.get('/still'))?.value, 'works');
  t.same(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
    'no temporary files left behind',
  );
});

t.test('a stale lock file is taken over', async (t) => {
  const dir = tempDir();
  const lock = join(dir, lockFileName);
  writeFileSync(lock, `${await deadPid()} 0123\n`);
  const s1 = await EmbeddedMetadataStore.open(dir);
  t.match(readFileSync(lock, 'utf8'), new RegExp(`^${process.pid} `), 'the lock is ours now');
  await s1.close();

  writeFileSync(lock, 'junk');
  const s2 = await EmbeddedMetadataStore.open(dir);
  await s2.close();
  t.notOk(existsSync(lock));
});

t.test('a live process holding the directory locks it out until it dies', async (t) => {
  const dir = tempDir();
  const child = startChild('hold', dir);
  t.teardown(() => child.proc.kill('SIGKILL'));
  await until(() => child.lines.includes('ready'), 10_000, `child to open the store (${child.stderr()})`);
  await t.rejects(EmbeddedMetadataStore.open(dir), named('MetadataStoreLockedError', { holderPid: child.proc.pid }));
  child.proc.kill('SIGKILL');
  await child.exited;
  const s = await open(t, dir);
  t.equal(await s.revision(), 0);
});

t.test("SQLite's file lock backs up the lock file", async (t) => {
  const dir = tempDir();
  const s1 = await open(t, dir);
  unlinkSync(join(dir, lockFileName)); // someone deletes the lock file of a running broker
  await t.rejects(EmbeddedMetadataStore.open(dir), named('MetadataStoreLockedError', { holderPid: null }));
  t.notOk(existsSync(join(dir, lockFileName)), 'the failed open removed the lock file it made');
  await s1.txn([], [{ type: 'put', key: '/a', value: '1' }]);
  t.equal((await s1.get('/a'))?.value, '1', 'the first store is unharmed');
});

t.test('file format', async (t) => {
  const dir = tempDir();
  const s = await EmbeddedMetadataStore.open(dir);
  await s.txn([], [{ type: 'put', key: '/a', value: '1' }]);
  await s.close();
  const db = new DatabaseSync(join(dir, metadataFileName));
  t.teardown(() => db.close());
  t.same({ ...(db.prepare('PRAGMA journal_mode').get() as object) }, { journal_mode: 'wal' });
  t.same({ ...(db.prepare('PRAGMA user_version').get() as object) }, { user_version: formatVersion });
  const tables = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map(
    (r) => r.name,
  );
  t.same(tables, ['history', 'kv', 'leases', 'meta']);
  t.same(
    { ...(db.prepare('SELECT * FROM kv').get() as object) },
    { key: '/a', value: '1', create_rev: 1, mod_rev: 1, version: 1, lease: 0 },
  );
  t.same({ ...(db.prepare('SELECT * FROM meta').get() as object) }, { id: 1, revision: 1, compacted_revision: 0, last_lease_id: 0 });
});

t.test('a file of another format version is refused', async (t) => {
  const dir = tempDir();
  await (await EmbeddedMetadataStore.open(dir)).close();
  const db = new DatabaseSync(join(dir, metadataFileName));
  db.exec('PRAGMA user_version = 99');
  db.close();
  await t.rejects(EmbeddedMetadataStore.open(dir), /format version 99/);
  t.notOk(existsSync(join(dir, lockFileName)), 'the lock is released');
});

t.test('committed transactions survive kill -9', async (t) => {
  const dir = tempDir();
  const child = startChild('commit', dir);
  t.teardown(() => child.proc.kill('SIGKILL'));
  await until(() => child.lines.length >= 300, 60_000, `child commits (${child.stderr()})`);
  child.proc.kill('SIGKILL');
  const code = await child.exited;
  t.equal(code, null, 'killed, not exited');
  const printed = child.lines.map((l) => l.split(' ').map(Number) as [number, number]);
  t.ok(printed.length >= 300, `${printed.length} commits printed before the kill`);
  t.same(
    printed.map(([i]) => i),
    printed.map((_, n) => n + 1),
    'printed in order',
  );
  const [lastI, lastRevision] = printed.at(-1)!;

  const s = await open(t, dir); // also takes over the dead child's lock
  t.ok((await s.revision()) >= lastRevision, 'the revision covers every printed commit');
  const kvs = await s.getPrefix('/durable/');
  const present = new Set(kvs.map((kv) => kv.key));
  const missing = printed.filter(([i]) => !present.has(`/durable/${i}`)).map(([i]) => i);
  t.same(missing, [], 'every printed commit is there');
  t.equal((await s.get(`/durable/${lastI}`))?.value, `value ${lastI}`);
  t.ok(Number((await s.get('/durable-leased'))?.value) >= lastI, 'the leased key too, with its lease alive');
  t.ok(kvs.length <= lastI + 1, 'at most one commit beyond the last print (committed, not yet printed)');
});
