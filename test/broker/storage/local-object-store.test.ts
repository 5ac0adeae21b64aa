import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareUtf8 } from '../../../broker/storage/fs-util.ts';
import { InvalidObjectKeyError, LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import { escapeSegment, unescapeSegment } from '../../../broker/storage/local-keys.ts';
import { ObjectNotFoundError } from '../../../broker/storage/object-store.ts';
import { objectStoreContract, pattern } from './object-store-contract.ts';

async function tempRoot(): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'skafos-objects-'));
  return { root: join(dir, 'objects'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Every file and directory under `root`, relative, directories with a trailing '/'. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        out.push(`${relative(root, path)}/`);
        await walk(path);
      } else {
        out.push(relative(root, path));
      }
    }
  };
  await walk(root);
  return out.sort();
}

const tempFiles = async (root: string) => (await tree(root)).filter((p) => p.split('/').at(-1)!.startsWith('.tmp-'));

objectStoreContract(t, 'local', async () => {
  const { root, cleanup } = await tempRoot();
  return { store: await LocalObjectStore.open(root), cleanup };
});

/** A fresh store for one test, closed and removed at its end. */
async function fresh(t: Test, options: Parameters<typeof LocalObjectStore.open>[1] = {}) {
  const { root, cleanup } = await tempRoot();
  const store = await LocalObjectStore.open(root, options);
  t.teardown(async () => {
    await store.close();
    await cleanup();
  });
  return { root, store };
}

t.test('invalid keys are rejected by every operation, and nothing is written', async (t) => {
  const { root, store } = await fresh(t);
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['/abs', /absolute/],
    ['/', /absolute/],
    ['a//b', /empty segment/],
    ['a/', /empty segment/],
    ['..', /"\.\." segment/],
    ['../x', /"\.\." segment/],
    ['a/../b', /"\.\." segment/],
    ['a/..', /"\.\." segment/],
    ['.', /"\." segment/],
    ['a/./b', /"\." segment/],
    ['a\0b', /NUL/],
    ['a\uD800b', /well-formed/],
    ['x'.repeat(1025), /1025 bytes long, the limit is 1024/],
    ['é'.repeat(513), /1026 bytes long/],
    ['a'.repeat(255), /escapes to a 255-byte file name/],
    [`ok/${'é'.repeat(100)}`, /segment 2 escapes to a 600-byte file name/],
  ];
  for (const [key, message] of bad) {
    const shown = JSON.stringify(key.slice(0, 20));
    const attempts: Array<[string, Promise<any>]> = [
      ['put', store.put(key, Buffer.from('x'))],
      ['put ifNoneMatch', store.put(key, [Buffer.from('x')], { ifNoneMatch: true })],
      ['get', store.get(key)],
      ['head', store.head(key)],
      ['delete', store.delete(['fine', key])],
    ];
    for (const [op, p] of attempts) {
      await t.rejects(p, InvalidObjectKeyError, `${op} ${shown}`);
      await t.rejects(p, { message }, `${op} ${shown}: message`);
    }
  }
  t.same(await tree(root), [], 'nothing was created');
  await t.rejects(store.put(42 as unknown as string, Buffer.alloc(1)), InvalidObjectKeyError, 'not a string');
  await t.rejects(store.put('k', 'text' as unknown as Buffer), TypeError, 'a string body');

  const longest = `${'x'.repeat(99)}/`.repeat(10) + 'y'.repeat(24);
  t.equal(Buffer.byteLength(longest), 1024);
  await store.put(longest, Buffer.from('max'));
  t.equal((await store.get(longest)).toString(), 'max', 'a 1024-byte key is fine');
  await store.put('a'.repeat(254), Buffer.from('254'));
  t.equal((await store.get('a'.repeat(254))).toString(), '254', 'a 254-byte segment is fine');

  t.same(await store.list('a//'), [], 'list under a prefix no valid key has');
  t.same(await store.list('../'), []);
  t.same(await store.list('x\0'), []);
  await t.rejects(store.list('', { limit: -1 }), RangeError);
  await t.rejects(store.list('', { limit: 1.5 }), RangeError);
});

t.test('file layout: segments escaped, directories marked with %', async (t) => {
  const { root, store } = await fresh(t);
  await store.put('a/b/c', Buffer.from('1'));
  await store.put('a', Buffer.from('2'));
  await store.put('Topic/x y/.z/50%', Buffer.from('3'));
  await store.put('segments/0a1b/0/00000000000000000042.seg', Buffer.from('4'));
  t.same(await tree(root), [
    '%54opic%/',
    '%54opic%/x%20y%/',
    '%54opic%/x%20y%/%2Ez%/',
    '%54opic%/x%20y%/%2Ez%/50%25',
    'a',
    'a%/',
    'a%/b%/',
    'a%/b%/c',
    'segments%/',
    'segments%/0a1b%/',
    'segments%/0a1b%/0%/',
    'segments%/0a1b%/0%/00000000000000000042.seg',
  ]);
});

t.test('segment escaping round trips and is canonical', async (t) => {
  const alphabet = [
    'a',
    'z',
    'A',
    'Z',
    '0',
    '9',
    '.',
    '%',
    '-',
    '_',
    '~',
    ' ',
    '/',
    '\\',
    ':',
    '*',
    'é',
    'e\u0301',
    'ß',
    '\u{1F600}',
    '\uFFFD',
    '\t',
    '%2',
    '%41',
  ];
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let checked = 0;
  for (let i = 0; i < 5000; i++) {
    let s = '';
    for (let n = 1 + rand(8); n > 0; n--) s += alphabet[rand(alphabet.length)];
    if (s.includes('/') || s === '.' || s === '..') continue;
    const name = escapeSegment(s);
    if (!/^[a-z0-9\-_~=+,@%][a-z0-9\-_.~=+,@%A-F]*$/.test(name) || /[A-F]/.test(name.replace(/%[0-9A-F]{2}/g, ''))) {
      t.fail(`escaped name ${name} of ${JSON.stringify(s)} has unexpected characters`);
    }
    if (unescapeSegment(name) !== s) t.fail(`${JSON.stringify(s)} -> ${name} -> ${JSON.stringify(unescapeSegment(name))}`);
    checked++;
  }
  t.ok(checked > 4000, `${checked} random segments round trip`);
  for (const foreign of ['.DS_Store', '%61', '%4f', 'UPPER', 'a%2', 'a%', '%', '', 'ü', '%C3', '%2E', '%2E%2E', 'a b']) {
    t.equal(unescapeSegment(foreign), null, `${JSON.stringify(foreign)} is not an object name`);
  }
});

t.test('compareUtf8 agrees with UTF-8 byte order', async (t) => {
  const alphabet = [
    'a',
    'b',
    '-',
    '/',
    '0',
    '\u007f',
    '\u0080',
    '\u07ff',
    '\u0800',
    '\uD7FF',
    '\uE000',
    '\uFFFD',
    '\uFFFF',
    '\u{10000}',
    '\u{1F600}',
    '\u{10FFFF}',
  ];
  let seed = 99;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const word = () => Array.from({ length: rand(5) }, () => alphabet[rand(alphabet.length)]).join('');
  let mismatches = 0;
  for (let i = 0; i < 20000; i++) {
    const a = word();
    const b = word();
    if (Math.sign(compareUtf8(a, b)) !== Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))) mismatches++;
  }
  t.equal(mismatches, 0);
});

t.test('list ignores foreign files and directories', async (t) => {
  const { root, store } = await fresh(t);
  await store.put('d/obj', Buffer.from('real'));
  await store.put('top', Buffer.from('real'));
  await writeFile(join(root, '.DS_Store'), 'x');
  await writeFile(join(root, 'd%', '.DS_Store'), 'x');
  await writeFile(join(root, 'UPPER'), 'x');
  await writeFile(join(root, '%61'), 'x'); // non-canonical escape of "a"
  await writeFile(join(root, 'bad%2'), 'x');
  await mkdir(join(root, 'plain-dir'));
  await writeFile(join(root, 'plain-dir', 'f'), 'x');
  await mkdir(join(root, 'dir-named-like-a-file'));
  await writeFile(join(root, 'file-named-like-a-dir%'), 'x');
  await symlink(join(root, 'top'), join(root, 'link'));
  t.same(
    (await store.list('')).map((o) => o.key),
    ['d/obj', 'top'],
  );
  await t.rejects(store.get('dir-named-like-a-file'), ObjectNotFoundError);
  t.equal(await store.head('dir-named-like-a-file'), null);
});

t.test('delete removes directories it leaves empty, never the root', async (t) => {
  const { root, store } = await fresh(t);
  await store.put('x/y/z/1', Buffer.from('1'));
  await store.put('x/y/2', Buffer.from('2'));
  await store.delete(['x/y/z/1']);
  t.same(await tree(root), ['x%/', 'x%/y%/', 'x%/y%/2']);
  await store.delete(['x/y/2']);
  t.same(await tree(root), []);
  t.same(await store.list(''), []);
  await store.put('x/y/z/1', Buffer.from('again'));
  t.equal((await store.get('x/y/z/1')).toString(), 'again');
});

t.test('puts racing deletes of the last object in their directory', async (t) => {
  const { store } = await fresh(t);
  for (let round = 0; round < 30; round++) {
    await store.put(`r/${round}/a`, Buffer.from('a'));
    await Promise.all([store.delete([`r/${round}/a`]), store.put(`r/${round}/b`, Buffer.from('b'))]);
    t.equal((await store.get(`r/${round}/b`)).toString(), 'b');
  }
});

t.test('opening a store removes abandoned temporary files and empty directories', async (t) => {
  const { root, cleanup } = await tempRoot();
  t.teardown(cleanup);
  const first = await LocalObjectStore.open(root);
  await first.put('c/obj', Buffer.from('kept'));
  await first.close();

  const dead = spawn(process.execPath, ['-e', '']);
  const deadPid = dead.pid!;
  await new Promise((resolve) => dead.on('exit', resolve));

  await mkdir(join(root, 'a%', 'b%'), { recursive: true });
  await mkdir(join(root, 'empty%', 'nested%'), { recursive: true });
  await mkdir(join(root, 'live%'));
  const hours2 = new Date(Date.now() - 2 * 3600_000);
  const temps = {
    deadWriter: join(root, 'a%', 'b%', `.tmp-${deadPid}-0badcafe-1`),
    thisProcessNoInstance: join(root, `.tmp-${process.pid}-deadbeef-2`),
    unparseable: join(root, 'c%', '.tmp-garbage'),
    liveWriterFresh: join(root, 'live%', '.tmp-1-00000000-3'), // pid 1 is alive
    liveWriterStale: join(root, 'live%', '.tmp-1-00000000-4'),
  };
  for (const p of Object.values(temps)) await writeFile(p, 'partial');
  await utimes(temps.liveWriterStale, hours2, hours2);

  const store = await LocalObjectStore.open(root);
  t.teardown(() => store.close());
  t.equal(store.stats().tempFilesRemoved, 4);
  t.same(
    await tree(root),
    ['c%/', 'c%/obj', 'live%/', 'live%/.tmp-1-00000000-3'],
    "only the live writer's fresh temp file and the object remain",
  );
  t.equal((await store.get('c/obj')).toString(), 'kept');
});

t.test('failed and conditional puts leave no temporary files behind', async (t) => {
  const { root, store } = await fresh(t);
  for (let i = 0; i < 5; i++) {
    await Promise.allSettled(Array.from({ length: 8 }, (_, j) => store.put('same', pattern(`${i}/${j}`, 50_000), { ifNoneMatch: true })));
  }
  await Promise.allSettled(Array.from({ length: 8 }, () => store.put('other/x', pattern('x', 1000))));
  t.same(await tempFiles(root), []);
});

t.test('etags survive reopening', async (t) => {
  const { root, cleanup } = await tempRoot();
  t.teardown(cleanup);
  const a = await LocalObjectStore.open(root);
  const info = await a.put('k/v', Buffer.from('value'));
  await a.close();
  const b = await LocalObjectStore.open(root);
  t.same(await b.head('k/v'), info);
  t.same(await b.list('k/'), [info]);
  await b.close();
});

t.test('stats count requests, errors and bytes', async (t) => {
  const { store } = await fresh(t, { maxConcurrentOps: 5 });
  await store.put('a', Buffer.alloc(10));
  await store.put('b', [Buffer.alloc(3), Buffer.alloc(4)]);
  await store.put('a', Buffer.alloc(1), { ifNoneMatch: true }).catch(() => {});
  await store.get('a');
  await store.get('b', { start: 1, end: 3 });
  await store.get('missing').catch(() => {});
  await store.head('a');
  await store.head('missing');
  await store.delete(['a', 'b', 'missing']);
  await store.list('');
  const s = store.stats();
  t.same(s, {
    requests: { put: 3, get: 3, head: 2, delete: 1, list: 1 },
    errors: { put: 1, get: 1, head: 0, delete: 0, list: 0 },
    bytesWritten: 17,
    bytesRead: 12,
    keysDeleted: 3,
    keysListed: 0,
    inFlight: 0,
    queued: 0,
    peakInFlight: 3, // the delete's three unlinks run in parallel
    maxConcurrentOps: 5,
    tempFilesRemoved: 0,
  });
  s.requests.put = 1000;
  t.equal(store.stats().requests.put, 3, 'stats() returns a copy');
});

t.test('at most maxConcurrentOps operations run (and hold descriptors) at once', async (t) => {
  const { root, store } = await fresh(t, { maxConcurrentOps: 3 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => store.put(`pre/${i}`, pattern(`pre/${i}`, 100_000))));

  // On Linux, also watch the process's descriptors that point into the store.
  let maxFds = 0;
  let sampling = process.platform === 'linux';
  const sample = () => {
    if (!sampling) return;
    let n = 0;
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
      } catch {
        // closed meanwhile
      }
    }
    maxFds = Math.max(maxFds, n);
    setImmediate(sample);
  };
  sample();

  const ops: Array<Promise<unknown>> = [];
  for (let i = 0; i < 60; i++) {
    switch (i % 6) {
      case 0:
        ops.push(store.put(`c/${i}`, [pattern(`c/${i}`, 200_000), Buffer.from('end')]));
        break;
      case 1:
        ops.push(store.get(`pre/${i % 10}`));
        break;
      case 2:
        ops.push(store.get(`pre/${i % 10}`, { start: 10, end: 90_000 }));
        break;
      case 3:
        ops.push(store.head(`pre/${i % 10}`));
        break;
      case 4:
        ops.push(store.list('pre/'));
        break;
      case 5:
        ops.push(store.put(`c/${i}`, pattern(`c/${i}`, 1000), { ifNoneMatch: true }));
        break;
    }
  }
  ops.push(store.delete(Array.from({ length: 10 }, (_, i) => `nothing/${i}`)));
  await new Promise((resolve) => setImmediate(resolve));
  const during = store.stats();
  t.equal(during.inFlight, 3, 'three running');
  t.ok(during.queued > 50, `the rest queued (${during.queued})`);
  await Promise.all(ops);
  sampling = false;
  const after = store.stats();
  t.equal(after.peakInFlight, 3, 'never more than three at once');
  t.equal(after.inFlight, 0);
  t.equal(after.queued, 0);
  if (process.platform === 'linux') t.ok(maxFds <= 3 && maxFds > 0, `at most 3 descriptors into the store seen open (${maxFds})`);
  t.equal((await store.get('pre/3', { start: 5, end: 6 }))[0], pattern('pre/3', 10)[5], 'still works');
});

t.test('close waits for operations under way; later ones reject', async (t) => {
  const { root, cleanup } = await tempRoot();
  t.teardown(cleanup);
  const store = await LocalObjectStore.open(root, { maxConcurrentOps: 1 });
  const puts = Array.from({ length: 5 }, (_, i) => store.put(`k/${i}`, pattern(`${i}`, 100_000)));
  const closed = store.close();
  await t.resolves(Promise.all(puts), 'queued operations still complete');
  await closed;
  await t.rejects(store.get('k/1'), /closed object store/);
  await t.rejects(store.put('k/9', Buffer.alloc(1)), /closed object store/);
  const again = await LocalObjectStore.open(root);
  t.equal((await again.list('k/')).length, 5);
  await again.close();
});

t.test('objects acknowledged before a kill -9 are intact after reopening', async (t) => {
  const { root, cleanup } = await tempRoot();
  t.teardown(cleanup);
  // The child writes numbered objects (half as Buffer[], a third with ifNoneMatch) and replaces `latest`
  // after each, printing the number once both puts have resolved.
  const child = `
    const { LocalObjectStore } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../../broker/storage/local-object-store.ts')).href)});
    const { pattern } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'object-store-contract.ts')).href)});
    const store = await LocalObjectStore.open(process.env.ROOT);
    for (let i = Number(process.env.FIRST); ; i++) {
      const key = 'crash/' + (i % 7) + '/' + i;
      const body = pattern(key, (i * 7919) % 100000);
      const half = body.length >> 1;
      await store.put(key, i % 2 ? [body.subarray(0, half), body.subarray(half)] : body, { ifNoneMatch: i % 3 === 0 });
      const latest = Buffer.concat([Buffer.from(i + '\\n'), pattern('latest/' + i, (i * 104729) % 50000)]);
      await store.put('crash/latest', latest);
      process.stdout.write(i + '\\n');
    }`;
  const checkIntact = async (store: LocalObjectStore, acknowledged: number[]) => {
    const listed = await store.list('crash/', { limit: 100_000 });
    const listedKeys = new Set(listed.map((o) => o.key));
    let bad = 0;
    for (const i of acknowledged) {
      const key = `crash/${i % 7}/${i}`;
      if (!listedKeys.has(key)) bad++;
      const body = await store.get(key).catch(() => null);
      if (!body?.equals(pattern(key, (i * 7919) % 100000))) bad++;
    }
    t.equal(bad, 0, `all ${acknowledged.length} acknowledged objects listed and intact`);
    for (const o of listed) {
      if (o.key === 'crash/latest') continue;
      const i = Number(o.key.split('/')[2]);
      if (!(await store.get(o.key)).equals(pattern(o.key, (i * 7919) % 100000))) t.fail(`unacknowledged ${o.key} is torn`);
    }
    const latest = await store.get('crash/latest');
    const nl = latest.indexOf(10);
    const version = Number(latest.subarray(0, nl).toString());
    t.ok(version >= Math.max(...acknowledged), `latest is at least the last acknowledged version (${version})`);
    t.ok(latest.subarray(nl + 1).equals(pattern(`latest/${version}`, (version * 104729) % 50000)), 'latest is intact');
  };

  const acknowledged: number[] = [];
  for (const [round, killAfter] of [
    [0, 15],
    [1, 40],
    [2, 70],
  ] as const) {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
      env: { ...process.env, ROOT: root, FIRST: String(round * 10_000) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    let buffered = '';
    let seen = 0;
    proc.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        acknowledged.push(Number(line));
        if (++seen === killAfter) proc.kill('SIGKILL');
      }
    });
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => proc.on('exit', (c, s) => resolve([c, s])));
    t.equal(signal, 'SIGKILL', `round ${round}: child killed after ${seen} acknowledgements`, { code, stderr });
    const store = await LocalObjectStore.open(root);
    t.same(await tempFiles(root), [], 'no temporary files after reopening');
    await checkIntact(store, acknowledged);
    await store.close();
  }
});

t.test('ifNoneMatch puts of the same keys from several processes: exactly one wins each', async (t) => {
  const { root, cleanup } = await tempRoot();
  t.teardown(cleanup);
  const keys = 25;
  const child = `
    const { LocalObjectStore } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../../broker/storage/local-object-store.ts')).href)});
    const { PreconditionFailedError } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, '../../../broker/storage/object-store.ts')).href)});
    const { pattern } = await import(${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'object-store-contract.ts')).href)});
    const store = await LocalObjectStore.open(process.env.ROOT);
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.START_AT) - Date.now()));
    const results = await Promise.allSettled(Array.from({ length: ${keys} }, (_, k) =>
      store.put('x/' + k, pattern(process.env.ME + '/' + k, 20000 + k * 1000), { ifNoneMatch: true })));
    results.forEach((r, k) => console.log(k, r.status === 'fulfilled' ? 'won' : r.reason instanceof PreconditionFailedError ? 'lost' : 'error ' + r.reason));
    await store.close();`;
  const startAt = Date.now() + 2000;
  const outputs = await Promise.all(
    ['p0', 'p1', 'p2', 'p3'].map(
      (me) =>
        new Promise<[string, string]>((resolve) => {
          const proc = spawn(process.execPath, ['--input-type=module', '-e', child], {
            env: { ...process.env, ROOT: root, ME: me, START_AT: String(startAt) },
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          proc.stdout.on('data', (d) => (out += d));
          proc.on('exit', () => resolve([me, out]));
        }),
    ),
  );
  const winners = new Map<number, string[]>();
  let lines = 0;
  for (const [me, out] of outputs) {
    for (const line of out.trim().split('\n')) {
      const [k, result] = line.split(' ', 2);
      lines++;
      if (result === 'won') winners.set(Number(k), [...(winners.get(Number(k)) ?? []), me]);
      else if (result !== 'lost') t.fail(`${me}: ${line}`);
    }
  }
  t.equal(lines, 4 * keys, 'every process reported every key');
  const store = await LocalObjectStore.open(root);
  t.teardown(() => store.close());
  let ok = 0;
  for (let k = 0; k < keys; k++) {
    const w = winners.get(k) ?? [];
    if (w.length === 1 && (await store.get(`x/${k}`)).equals(pattern(`${w[0]}/${k}`, 20000 + k * 1000))) ok++;
    else t.fail(`key ${k}: winners ${JSON.stringify(w)}`);
  }
  t.equal(ok, keys, 'one winner per key, and the object is its body');
  t.same(await tempFiles(root), []);
});

t.test("a second store on the same root does not remove the first one's temporary files", async (t) => {
  const { root, store } = await fresh(t);
  const puts = Array.from({ length: 8 }, (_, i) => store.put(`two/${i}`, pattern(`two/${i}`, 1_000_000)));
  // Open the second store while the first has temporary files.
  let inFlight = 0;
  for (let tries = 0; inFlight === 0 && tries < 1000; tries++) inFlight = (await tempFiles(root)).length;
  t.ok(inFlight > 0, `${inFlight} temporary files present when the second store opens`);
  const second = await LocalObjectStore.open(root);
  await t.resolves(Promise.all(puts), "the first store's puts all succeed");
  t.equal(second.stats().tempFilesRemoved, 0);
  t.equal((await second.list('two/')).length, 8);
  await second.close();
});
