// The MetadataStore contract, as tap subtests run against any implementation (memory.test.ts, embedded.test.ts,
// etcd.test.ts). Revisions are asserted relative to the store's revision when a test starts (b), so a store
// whose revision does not start at 0 (etcd, with other prefixes in the same etcd) runs it too — as long as
// nothing else writes to it during a test.

import type { Test } from 'tap';
import type { MetadataStoreOptions } from '../../../../broker/metadata/engine.ts';
import type { KeyValue, MetadataStore, WatchEvent } from '../../../../broker/metadata/store.ts';

/** Opens a fresh, empty store. The suite closes what it opens. */
export type StoreFactory = (options?: MetadataStoreOptions) => Promise<MetadataStore>;

/** Matchers of typed errors by name (tap's typings want an Error for an object pattern). */
export const named = (name: string, extra: object = {}) => ({ name, ...extra }) as unknown as Error;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once check() holds, polling; rejects after timeoutMs. */
export async function until(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function eventKey(e: WatchEvent): string {
  return e.type === 'put' ? e.kv.key : e.key;
}

export function eventRev(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.modRevision;
}

/** A watch recording its batches. */
export function record(store: MetadataStore, prefix: string, fromRevision: number) {
  const batches: WatchEvent[][] = [];
  const watch = store.watchPrefix(prefix, fromRevision, (events) => batches.push(events));
  return {
    batches,
    watch,
    events: () => batches.flat(),
    /** Compact form: "put key=value@rev" / "del key@rev". */
    lines: () =>
      batches.flat().map((e) => (e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}@${e.kv.modRevision}` : `del ${e.key}@${e.modRevision}`)),
    waitEvents: (n: number) => until(() => batches.flat().length >= n, 3000, `${n} watch events`),
  };
}

async function put(store: MetadataStore, key: string, value: string, lease?: number) {
  return store.txn([], [{ type: 'put', key, value, ...(lease === undefined ? {} : { lease }) }]);
}

/** Keys sorted by UTF-8 bytes, the order the store promises. */
function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** What a store does differently from the engine, within the contract. */
export interface ContractOptions {
  /**
   * Multiplies the TTLs and waits of the lease-expiry test: a store whose lease clock is coarse (etcd: whole
   * seconds, expiry checked every 500 ms) uses 5, i.e. 1 s and 2 s leases instead of 200 and 400 ms. Default 1.
   */
  leaseTimeScale?: number;
  /**
   * Whether the store bounds its watch history by MetadataLimits.watchHistory* and refuses older revisions
   * synchronously (the engine). etcd compacts on its own schedule; it has its own compaction test. Default true.
   */
  historyLimits?: boolean;
}

export function metadataStoreContract(t: Test, open: StoreFactory, options: ContractOptions = {}): void {
  const scale = options.leaseTimeScale ?? 1;
  /** A fresh store closed when the subtest ends. */
  const fresh = async (t: Test, options?: MetadataStoreOptions) => {
    const store = await open(options);
    t.teardown(() => store.close());
    return store;
  };

  t.test('get, put and delete; revisions and versions', async (t) => {
    const s = await fresh(t);
    const r0 = await s.revision();
    t.equal(await s.get('/a'), null, 'missing key');

    const put1 = await put(s, '/a', 'one');
    t.same(put1, { succeeded: true, revision: r0 + 1 });
    t.same(await s.get('/a'), { key: '/a', value: 'one', createRevision: r0 + 1, modRevision: r0 + 1, version: 1, lease: 0 });

    await put(s, '/b', 'other');
    const put2 = await put(s, '/a', 'two');
    t.equal(put2.revision, r0 + 3);
    t.same(await s.get('/a'), { key: '/a', value: 'two', createRevision: r0 + 1, modRevision: r0 + 3, version: 2, lease: 0 });
    t.equal(await s.revision(), r0 + 3);

    const del = await s.txn([], [{ type: 'delete', key: '/a' }]);
    t.same(del, { succeeded: true, revision: r0 + 4 });
    t.equal(await s.get('/a'), null);

    const again = await put(s, '/a', 'three');
    t.same(
      await s.get('/a'),
      { key: '/a', value: 'three', createRevision: again.revision, modRevision: again.revision, version: 1, lease: 0 },
      'recreated: new createRevision, version 1',
    );
    t.same((await s.get('/b'))?.version, 1, 'other keys untouched');

    const same = await put(s, '/a', 'three');
    t.equal(same.revision, again.revision + 1, 'a put of an unchanged value is still a change');
  });

  t.test('a transaction writes at one revision; one that changes nothing keeps the revision', async (t) => {
    const s = await fresh(t);
    await put(s, '/x/0', 'v');
    const r = await s.revision();
    const res = await s.txn(
      [],
      [
        { type: 'put', key: '/x/1', value: 'a' },
        { type: 'put', key: '/x/2', value: 'b' },
        { type: 'delete', key: '/x/0' },
      ],
    );
    t.same(res, { succeeded: true, revision: r + 1 });
    const kvs = await s.getPrefix('/x/');
    t.same(
      kvs.map((kv) => [kv.key, kv.modRevision, kv.createRevision]),
      [
        ['/x/1', r + 1, r + 1],
        ['/x/2', r + 1, r + 1],
      ],
    );

    t.same(
      await s.txn(
        [],
        [
          { type: 'delete', key: '/nope' },
          { type: 'deletePrefix', prefix: '/none/' },
        ],
      ),
      { succeeded: true, revision: r + 1 },
      'deleting nothing is no write',
    );
    t.same(await s.txn([], []), { succeeded: true, revision: r + 1 }, 'empty transaction');
    t.same(
      await s.txn([{ key: '/x/1', target: 'version', op: '=', value: 9 }], [{ type: 'put', key: '/y', value: '1' }]),
      { succeeded: false, revision: r + 1 },
      'failed compare, no failure ops',
    );
    t.equal(await s.get('/y'), null);
    t.equal(await s.revision(), r + 1);
  });

  t.test('prefix scans: key order, limits, edge keys', async (t) => {
    const s = await fresh(t);
    const b = await s.revision();
    const keys = [
      'p',
      'p\u0000',
      'p\u0000z',
      'p/',
      'p/a',
      'pa',
      'p\u007f',
      'p\u0080',
      'p\u07ff',
      'p\u0800',
      'p\ud7ff',
      'p\ue000',
      'p\uffef',
      'p\uffff',
      'p\uffffz',
      'p\u{10000}',
      'p\u{1f600}',
      'p\u{10ffff}',
      'p\u{10ffff}\u{10ffff}',
      'p\u{10ffff}a',
      'o\u{10ffff}',
      'q',
      'q\u0000',
      '\u{10ffff}',
      '\u{10ffff}\u{10ffff}x',
    ];
    await s.txn(
      [],
      keys.slice(0, 12).map((key) => ({ type: 'put', key, value: key })),
    );
    await s.txn(
      [],
      keys.slice(12).map((key) => ({ type: 'put', key, value: key })),
    );

    const scan = async (prefix: string, limit?: number) => (await s.getPrefix(prefix, limit)).map((kv) => kv.key);
    const expect = (prefix: string) => byteOrder(keys.filter((k) => k.startsWith(prefix)));

    t.same(await scan(''), byteOrder(keys), 'everything, in UTF-8 byte (code point) order');
    for (const prefix of [
      'p',
      'p\u0000',
      'p/',
      'p\u007f',
      'p\ud7ff',
      'p\uffff',
      'p\u{10000}',
      'p\u{10ffff}',
      'p\u{10ffff}\u{10ffff}',
      'o',
      'q',
      '\u{10ffff}',
      'r',
      'pb',
    ]) {
      t.same(await scan(prefix), expect(prefix), `prefix ${JSON.stringify(prefix)}`);
    }
    t.same(await scan('p', 3), expect('p').slice(0, 3), 'limit');
    t.same(await scan('p', 0), expect('p'), 'limit 0 is all');
    t.same(await scan('p', 1000), expect('p'), 'limit above the count');
    const kv = (await s.getPrefix('p\u{1f600}'))[0]!;
    t.same(
      kv,
      { key: 'p\u{1f600}', value: 'p\u{1f600}', createRevision: b + 2, modRevision: b + 2, version: 1, lease: 0 },
      'values of high code points round trip',
    );

    await s.txn([], [{ type: 'deletePrefix', prefix: 'p\u{10ffff}' }]);
    t.same(
      await scan('p'),
      expect('p').filter((k) => !k.startsWith('p\u{10ffff}')),
      'deletePrefix with an unbounded-looking prefix',
    );
    await s.txn([], [{ type: 'deletePrefix', prefix: '\u{10ffff}' }]);
    t.same(await scan('\u{10ffff}'), []);
    t.same(await scan('q'), ['q', 'q\u0000'], 'neighbours untouched');
  });

  t.test('compares on every target and operator', async (t) => {
    const s = await fresh(t);
    const b = await s.revision();
    await put(s, '/k', 'v1'); // createRevision b+1
    await put(s, '/other', 'x');
    await put(s, '/k', 'v2'); // modRevision b+3, version 2
    const kv = (await s.get('/k'))!;
    t.same([kv.createRevision, kv.modRevision, kv.version], [b + 1, b + 3, 2]);

    const ops = ['=', '!=', '<', '>'] as const;
    const holds = (actual: number, op: (typeof ops)[number], v: number) =>
      ({ '=': actual === v, '!=': actual !== v, '<': actual < v, '>': actual > v })[op];
    for (const key of ['/k', '/missing']) {
      const current = key === '/k' ? kv : null;
      for (const target of ['modRevision', 'createRevision', 'version'] as const) {
        const actual = current === null ? 0 : current[target];
        for (const op of ops) {
          for (const value of [actual - 1, actual, actual + 1]) {
            const res = await s.txn([{ key, target, op, value }], []);
            t.equal(res.succeeded, holds(actual, op, value), `${key} ${target} ${op} ${value} (actual ${actual})`);
          }
        }
      }
    }
    t.equal((await s.txn([{ key: '/k', target: 'value', op: '=', value: 'v2' }], [])).succeeded, true);
    t.equal((await s.txn([{ key: '/k', target: 'value', op: '=', value: 'v1' }], [])).succeeded, false);
    t.equal((await s.txn([{ key: '/k', target: 'value', op: '!=', value: 'v1' }], [])).succeeded, true);
    t.equal((await s.txn([{ key: '/k', target: 'value', op: '!=', value: 'v2' }], [])).succeeded, false);
    t.equal(
      (await s.txn([{ key: '/missing', target: 'value', op: '=', value: '' }], [])).succeeded,
      false,
      'value compare on a missing key fails (etcd)',
    );
    t.equal((await s.txn([{ key: '/missing', target: 'value', op: '!=', value: 'x' }], [])).succeeded, false, 'even !=');
    t.equal(
      (await s.txn([{ key: '/missing', target: 'createRevision', op: '=', value: 0 }], [])).succeeded,
      true,
      'create-if-absent guard',
    );

    const both = [
      { key: '/k', target: 'version', op: '=', value: 2 },
      { key: '/other', target: 'value', op: '=', value: 'x' },
    ] as const;
    t.equal((await s.txn([...both], [])).succeeded, true, 'all compares hold');
    t.equal(
      (await s.txn([both[0], { key: '/other', target: 'value', op: '=', value: 'y' }], [])).succeeded,
      false,
      'one fails: the transaction fails',
    );
    t.equal(await s.revision(), b + 3, 'compares alone write nothing');
  });

  t.test('the failure branch runs when a compare fails', async (t) => {
    const s = await fresh(t);
    const b = await s.revision();
    await put(s, '/leader', 'b1');
    // Compare-and-swap: take leadership only if nobody holds it, else read back through the failure branch's write.
    const res = await s.txn(
      [{ key: '/leader', target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key: '/leader', value: 'b2' }],
      [
        { type: 'put', key: '/lost', value: 'b2' },
        { type: 'delete', key: '/nothing' },
      ],
    );
    t.same(res, { succeeded: false, revision: b + 2 });
    t.equal((await s.get('/leader'))?.value, 'b1');
    t.equal((await s.get('/lost'))?.value, 'b2');

    const ok = await s.txn(
      [{ key: '/leader', target: 'value', op: '=', value: 'b1' }],
      [{ type: 'put', key: '/leader', value: 'b3' }],
      [{ type: 'put', key: '/lost', value: 'again' }],
    );
    t.same(ok, { succeeded: true, revision: b + 3 });
    t.equal((await s.get('/leader'))?.value, 'b3');
    t.equal((await s.get('/lost'))?.value, 'b2', 'failure branch not applied');
  });

  t.test('deletePrefix deletes exactly the keys under the prefix, at one revision', async (t) => {
    const s = await fresh(t);
    const b = await s.revision();
    await s.txn(
      [],
      ['/t/a', '/t/b', '/t/b/c', '/t', '/tt', '/u'].map((key) => ({ type: 'put', key, value: '1' })),
    );
    const w = record(s, '', 0);
    const res = await s.txn(
      [],
      [
        { type: 'deletePrefix', prefix: '/t/' },
        { type: 'delete', key: '/t/a' },
      ],
    );
    t.same(res, { succeeded: true, revision: b + 2 });
    t.same(
      (await s.getPrefix('')).map((kv) => kv.key),
      ['/t', '/tt', '/u'],
    );
    await w.waitEvents(3);
    t.same(w.batches.length, 1, 'one revision, one batch');
    t.same(w.lines(), [`del /t/a@${b + 2}`, `del /t/b@${b + 2}`, `del /t/b/c@${b + 2}`], 'overlapping deletes delete a key once');
    await s.txn([], [{ type: 'deletePrefix', prefix: '' }]);
    t.same(await s.getPrefix(''), [], 'the empty prefix is every key');
  });

  t.test('invalid requests are typed errors and change nothing', async (t) => {
    const s = await fresh(t, { limits: { maxTxnOps: 4, maxValueBytes: 64, maxKeyBytes: 32, maxTxnBytes: 200 } });
    const b = await s.revision();
    const invalid = named('InvalidMetadataRequestError');
    const p = (key: string, value = 'v') => ({ type: 'put', key, value }) as const;
    await t.rejects(s.txn([], [p('/a'), p('/a')]), invalid, 'duplicate put');
    await t.rejects(s.txn([], [p('/a'), { type: 'delete', key: '/a' }]), invalid, 'put and delete of one key');
    await t.rejects(s.txn([], [{ type: 'deletePrefix', prefix: '/' }, p('/a')]), invalid, 'put under a deleted prefix');
    await t.rejects(s.txn([], [], [p('/a'), p('/a')]), invalid, 'the failure branch is checked too');
    await t.rejects(s.txn([], [p('/1'), p('/2'), p('/3'), p('/4'), p('/5')]), invalid, 'too many operations');
    await t.rejects(
      s.txn(
        Array.from({ length: 5 }, () => ({ key: '/a', target: 'version', op: '=', value: 0 }) as const),
        [],
      ),
      invalid,
      'too many compares',
    );
    await t.rejects(s.txn([], [p('/a', 'x'.repeat(65))]), invalid, 'value too large');
    await t.rejects(s.txn([], [p('/a', '\u00e9'.repeat(33))]), invalid, 'the limit is in UTF-8 bytes');
    await t.rejects(s.txn([], [p(`/${'k'.repeat(32)}`)]), invalid, 'key too large');
    await t.rejects(
      s.txn([], [p('/a', 'x'.repeat(60)), p('/b', 'x'.repeat(60)), p('/c', 'x'.repeat(60)), p('/d', 'x'.repeat(60))]),
      invalid,
      'transaction too large',
    );
    await t.rejects(s.txn([], [p('')]), invalid, 'empty key');
    await t.rejects(s.txn([], [p('/\ud800')]), invalid, 'lone surrogate in a key');
    await t.rejects(s.txn([], [p('/a', 'x\udc00')]), invalid, 'lone surrogate in a value');
    await t.rejects(s.txn([{ key: '/a', target: 'value', op: '<' as '=', value: 'x' }], []), invalid, 'ordering compare on a value');
    await t.rejects(s.txn([{ key: '/a', target: 'lease' as 'version', op: '=', value: 0 }], []), invalid, 'unknown target');
    await t.rejects(s.txn([], [{ type: 'put', key: '/a', value: 'v', lease: -1 }]), invalid, 'negative lease');
    await t.rejects(s.txn([], [{ type: 'bogus' } as never]), invalid, 'unknown op');
    await t.rejects(s.get(''), invalid);
    await t.rejects(s.getPrefix('/', -1), invalid);
    await t.rejects(s.grantLease(0), invalid, 'lease TTL too short');
    t.throws(() => s.watchPrefix('/', 1.5, () => {}), invalid);
    await t.rejects(s.txn([], [{ type: 'put', key: '/a', value: 'v', lease: 424242 }]), named('LeaseLostError'), 'unknown lease');
    await t.rejects(
      s.txn([], [p('/ok'), { type: 'put', key: '/b', value: 'v', lease: 424242 }]),
      named('LeaseLostError'),
      'nothing of it applies',
    );
    t.equal(await s.revision(), b);
    t.same(await s.getPrefix(''), []);
    t.same(
      await s.txn([], [p('/1'), p('/2'), p('/3'), p('/4', 'x'.repeat(64))]),
      { succeeded: true, revision: b + 1 },
      'at the limits is fine',
    );
  });

  t.test('leases: grant, attach, keepAlive extends, expiry deletes keys at one revision', async (t) => {
    const s = await fresh(t);
    const a = await s.grantLease(200 * scale);
    const b = await s.grantLease(400 * scale);
    t.ok(a.id > 0 && b.id > a.id, 'ids are positive and increasing');
    t.equal(a.ttlMs, 200 * scale);
    await s.txn(
      [],
      [
        { type: 'put', key: '/brokers/1', value: 'a', lease: a.id },
        { type: 'put', key: '/brokers/2', value: 'a', lease: a.id },
        { type: 'put', key: '/brokers/3', value: 'b', lease: b.id },
        { type: 'put', key: '/config', value: 'c' },
      ],
    );
    t.equal((await s.get('/brokers/1'))?.lease, a.id);
    const from = (await s.revision()) + 1;
    const w = record(s, '/brokers/', 0);

    // Keep b alive past a's expiry and past its own TTL: only a's keys go.
    const start = Date.now();
    while (Date.now() - start < 600 * scale) {
      await sleep(50 * scale);
      await b.keepAlive();
    }
    t.equal(await s.get('/brokers/1'), null, 'expired lease deleted its keys');
    t.equal(await s.get('/brokers/2'), null);
    t.equal((await s.get('/brokers/3'))?.value, 'b', 'kept-alive lease keeps its key');
    t.equal((await s.get('/config'))?.value, 'c', 'keys without a lease stay');
    await w.waitEvents(2);
    t.same(w.lines(), [`del /brokers/1@${from}`, `del /brokers/2@${from}`], 'delete events, one revision');
    t.equal(w.batches.length, 1);
    await t.rejects(a.keepAlive(), named('LeaseLostError'), 'keepAlive after expiry');
    await t.rejects(
      s.txn([], [{ type: 'put', key: '/brokers/1', value: 'again', lease: a.id }]),
      named('LeaseLostError'),
      'attach to an expired lease',
    );

    // Now let b lapse: the timer expires it without any access.
    await until(() => w.events().length >= 3, 2000 * scale, 'b to expire');
    t.same(w.lines().at(-1), `del /brokers/3@${from + 1}`);
    t.same(await s.getPrefix('/brokers/'), []);
  });

  t.test('leases: revoke, re-attaching a key, idempotent revoke', async (t) => {
    const s = await fresh(t);
    const lease = await s.grantLease(60_000);
    await s.txn(
      [],
      [
        { type: 'put', key: '/l/1', value: '1', lease: lease.id },
        { type: 'put', key: '/l/2', value: '2', lease: lease.id },
        { type: 'put', key: '/l/3', value: '3', lease: lease.id },
      ],
    );
    await put(s, '/l/3', 'detached'); // a put without a lease detaches the key
    t.equal((await s.get('/l/3'))?.lease, 0);
    const r = await s.revision();
    const w = record(s, '/l/', 0);
    await lease.keepAlive();
    t.equal(await s.revision(), r, 'keepAlive is no write of keys');
    await lease.revoke();
    t.equal(await s.revision(), r + 1, 'revoke deletes the keys at one revision');
    t.same(
      (await s.getPrefix('/l/')).map((kv) => kv.key),
      ['/l/3'],
    );
    await w.waitEvents(2);
    t.same(w.lines(), [`del /l/1@${r + 1}`, `del /l/2@${r + 1}`]);
    await t.rejects(lease.keepAlive(), named('LeaseLostError'), 'keepAlive after revoke');
    await t.resolves(lease.revoke(), 'revoking again is harmless');
    t.equal(await s.revision(), r + 1);

    const empty = await s.grantLease(60_000);
    await empty.revoke();
    t.equal(await s.revision(), r + 1, 'revoking a lease without keys writes no revision');
    const next = await s.grantLease(60_000);
    t.ok(next.id > empty.id, 'lease ids are not reused');
  });

  t.test('watches: history from a revision, then live events, in order', async (t) => {
    const s = await fresh(t);
    const b = await s.revision(); // revisions below are b + n
    await put(s, '/w/a', '1'); // 1
    await put(s, '/other', 'x'); // 2
    await put(s, '/w/b', '2'); // 3
    await s.txn(
      [],
      [
        { type: 'put', key: '/w/a', value: '3' },
        { type: 'delete', key: '/w/b' },
        { type: 'put', key: '/other', value: 'y' },
      ],
    ); // 4

    const calls: string[] = [];
    const all = record(s, '/w/', b + 1);
    const fromThree = record(s, '/w/', b + 3);
    const live = record(s, '/w/', 0);
    const future = record(s, '/w/', b + 6);
    const w = s.watchPrefix('/w/', b + 1, () => calls.push('called'));
    t.same(calls, [], 'history is not delivered synchronously');

    const pending = put(s, '/w/c', '5'); // 5
    t.same(calls, [], 'nor inside a transaction');
    await pending;
    await s.txn([], [{ type: 'deletePrefix', prefix: '/w/' }]); // 6
    await put(s, '/other', 'z'); // 7, not under the prefix

    const at = (lines: string[]) => lines.map((l) => l.replace(/@(\d+)$/, (_, n: string) => `@${b + Number(n)}`));
    await all.waitEvents(7);
    t.same(all.lines(), at(['put /w/a=1@1', 'put /w/b=2@3', 'put /w/a=3@4', 'del /w/b@4', 'put /w/c=5@5', 'del /w/a@6', 'del /w/c@6']));
    t.same(
      all.batches.map((batch) => batch.map((e) => eventRev(e) - b)),
      [[1], [3], [4, 4], [5], [6, 6]],
      'one batch per revision',
    );
    await fromThree.waitEvents(6);
    t.same(fromThree.lines(), at(['put /w/b=2@3', 'put /w/a=3@4', 'del /w/b@4', 'put /w/c=5@5', 'del /w/a@6', 'del /w/c@6']));
    await live.waitEvents(3);
    t.same(live.lines(), at(['put /w/c=5@5', 'del /w/a@6', 'del /w/c@6']), 'revision 0: only what happens after');
    await future.waitEvents(2);
    t.same(future.lines(), at(['del /w/a@6', 'del /w/c@6']), 'a future revision: events from it on');
    const kv = (all.events()[2] as { kv: KeyValue }).kv;
    t.same(
      kv,
      { key: '/w/a', value: '3', createRevision: b + 1, modRevision: b + 4, version: 2, lease: 0 },
      'history carries the whole key-value',
    );
    await until(() => calls.length > 0, 3000, 'the last watch'); // watches need not be served in creation order
    w.close();
  });

  t.test('watches: close stops delivery; a closed store stops all', async (t) => {
    const s = await open();
    const b = await s.revision();
    const w = record(s, '/', 0);
    const other = record(s, '/', 0);
    await put(s, '/a', '1');
    w.watch.close();
    // The engine drops even the undelivered events of earlier commits; etcd's may have arrived before the
    // transaction's answer. Nothing is delivered after close either way.
    const closedWith = w.lines();
    await put(s, '/b', '2');
    await other.waitEvents(2);
    await sleep(20);
    t.same(w.lines(), closedWith, 'closed: nothing delivered after close');
    t.same(closedWith, closedWith.length === 0 ? [] : [`put /a=1@${b + 1}`]);
    t.same(other.lines(), [`put /a=1@${b + 1}`, `put /b=2@${b + 2}`]);
    w.watch.close(); // idempotent

    const pending = put(s, '/c', '3');
    await pending;
    await s.close();
    // An event committed before close may or may not have been delivered yet (etcd's may arrive before the
    // transaction's answer); none is delivered after close.
    const atClose = other.lines();
    await sleep(20);
    t.same(other.lines(), atClose, 'closing the store stops delivery');
    t.same(atClose.slice(0, 2), [`put /a=1@${b + 1}`, `put /b=2@${b + 2}`]);
    await s.close(); // idempotent
    const closed = named('MetadataStoreClosedError');
    await t.rejects(s.get('/a'), closed);
    await t.rejects(s.txn([], []), closed);
    await t.rejects(s.revision(), closed);
    await t.rejects(s.grantLease(1000), closed);
    t.throws(() => s.watchPrefix('/', 0, () => {}), closed);
  });

  t.test('a throwing watch callback does not lose later events', async (t) => {
    const s = await fresh(t);
    const b = await s.revision();
    const seen: number[] = [];
    const errors: unknown[] = [];
    const onError = (err: unknown) => errors.push(err);
    // tap treats uncaught exceptions as failures; take them over for the duration of this test.
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onError);
    try {
      s.watchPrefix('/', 0, (events) => {
        seen.push(eventRev(events[0]!));
        if (seen.length === 1) throw new Error('consumer bug');
      });
      await put(s, '/a', '1');
      await put(s, '/b', '2');
      await until(() => seen.length >= 2);
    } finally {
      process.removeListener('uncaughtException', onError);
      for (const l of saved) process.on('uncaughtException', l);
    }
    t.same(seen, [b + 1, b + 2]);
    t.match(errors, [{ message: 'consumer bug' }], 'the error surfaces as uncaught');
  });

  t.test(
    'watch history is bounded: compacted revisions are a typed error',
    { skip: options.historyLimits === false && 'the store compacts on its own terms' },
    async (t) => {
      const s = await fresh(t, { limits: { watchHistoryRevisions: 5 } });
      for (let i = 1; i <= 12; i++) await put(s, `/h/${i}`, String(i));
      t.throws(() => s.watchPrefix('/h/', 1, () => {}), named('CompactedRevisionError', { requestedRevision: 1, compactedRevision: 7 }));
      t.throws(() => s.watchPrefix('/h/', 7, () => {}), named('CompactedRevisionError'));
      const w = record(s, '/h/', 8);
      await w.waitEvents(5);
      t.same(w.events().map(eventRev), [8, 9, 10, 11, 12], 'the last watchHistoryRevisions revisions are kept');
      t.same((await s.getPrefix('/h/')).length, 12, 'compaction drops history, not keys');

      const small = await fresh(t, { limits: { watchHistoryBytes: 1000 } });
      for (let i = 1; i <= 10; i++) await put(small, `/b/${i}`, 'x'.repeat(300)); // ~370 accounted bytes each
      t.throws(
        () => small.watchPrefix('/b/', 8, () => {}),
        named('CompactedRevisionError', { compactedRevision: 8 }),
        'bounded by bytes too',
      );
      const last = record(small, '/b/', 9);
      await last.waitEvents(2);
      t.same(last.events().map(eventRev), [9, 10]);
      await put(small, '/b/big', 'y'.repeat(2000));
      t.throws(() => small.watchPrefix('/b/', 10, () => {}), named('CompactedRevisionError'));
      const big = record(small, '/b/', 11);
      await big.waitEvents(1);
      t.same(big.events().map(eventRev), [11], 'the newest revision is always kept, even over the byte bound');
    },
  );

  t.test('results are not shared mutable state', async (t) => {
    const s = await fresh(t);
    await put(s, '/a', '1');
    const kv = (await s.get('/a'))!;
    try {
      (kv as { value: string }).value = 'changed';
    } catch {
      // frozen: fine
    }
    t.equal((await s.get('/a'))?.value, '1');
  });
}
