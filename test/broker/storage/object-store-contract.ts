// The behaviour every ObjectStore backend must show (broker/storage/object-store.ts), as tap subtests. A
// backend's test file calls objectStoreContract with a factory that makes an empty store; each subtest gets
// its own store and cleans it up.
//
// Semantics pinned down here beyond the interface's comments:
// - keys are listed in UTF-8 byte order (S3's), which differs from JavaScript's `<` for astral characters;
// - `a` and `a/b` are independent keys; list prefixes are plain string prefixes, not directories;
// - a put without ifNoneMatch replaces the object; the etag of head and list equals the one put returned and
//   changes when the object is replaced;
// - get's range is [start, end) with 0 <= start <= end <= size; an empty range is allowed and returns no
//   bytes; anything else (negative, reversed, past the end, non-integer) rejects with a RangeError. (S3 clamps
//   a range past the end and cannot express an empty one: its backend must check.)
// - list's limit 0 returns nothing; startAfter need not be an existing key.

import type { Test } from 'tap';
import { createHash } from 'node:crypto';
import type { ObjectStore } from '../../../broker/storage/object-store.ts';
import { ObjectNotFoundError, PreconditionFailedError } from '../../../broker/storage/object-store.ts';

export interface StoreUnderTest {
  store: ObjectStore;
  cleanup: () => Promise<void>;
}

/** Deterministic pseudo-random bytes for `seed`, so contents can be checked without keeping them. */
export function pattern(seed: string, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < length; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, length - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

async function rejectsWith(t: Test, p: Promise<unknown>, cls: new (...args: any[]) => Error, message: string): Promise<void> {
  try {
    await p;
    t.fail(`${message}: resolved, expected ${cls.name}`);
  } catch (err) {
    t.ok(err instanceof cls, `${message}: ${cls.name}`, { got: err });
  }
}

export function objectStoreContract(t: Test, name: string, makeStore: () => Promise<StoreUnderTest>): void {
  /** A subtest with a fresh store, cleaned up afterwards. */
  const test = (title: string, fn: (t: Test, store: ObjectStore) => Promise<void>) =>
    t.test(`${name}: ${title}`, async (t) => {
      const { store, cleanup } = await makeStore();
      t.teardown(async () => {
        await store.close();
        await cleanup();
      });
      await fn(t, store);
    });

  test('put then get returns the bytes; put returns the object info', async (t, store) => {
    const body = pattern('one', 100_000);
    const info = await store.put('topic/0/00000000000000000000.seg', body);
    t.equal(info.key, 'topic/0/00000000000000000000.seg');
    t.equal(info.sizeBytes, 100_000);
    t.type(info.etag, 'string');
    t.ok(info.etag.length > 0, 'etag is not empty');
    t.ok((await store.get('topic/0/00000000000000000000.seg')).equals(body));

    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await store.put('bytes', allBytes);
    t.ok((await store.get('bytes')).equals(allBytes), 'every byte value survives');

    const empty = await store.put('empty', Buffer.alloc(0));
    t.equal(empty.sizeBytes, 0);
    t.equal((await store.get('empty')).length, 0, 'empty object');

    const big = pattern('big', 5 * 1024 * 1024 + 17);
    await store.put('big', big);
    t.ok((await store.get('big')).equals(big), '5 MiB object');
  });

  test("the stored object does not alias the caller's buffers", async (t, store) => {
    const body = Buffer.from('original');
    await store.put('k', body);
    body.fill(0);
    const got = await store.get('k');
    t.equal(got.toString(), 'original');
    got.fill(1);
    t.equal((await store.get('k')).toString(), 'original');
  });

  test('Buffer[] bodies are stored as their concatenation', async (t, store) => {
    const parts = [Buffer.from('head-'), Buffer.alloc(0), pattern('mid', 70_000), Buffer.alloc(0), Buffer.from('-tail')];
    const info = await store.put('parts', parts);
    t.equal(info.sizeBytes, Buffer.concat(parts).length);
    t.ok((await store.get('parts')).equals(Buffer.concat(parts)));

    // More parts than one writev takes (IOV_MAX is 1024 on Linux), of varying sizes, some slices of one buffer.
    const backing = pattern('backing', 64 * 1024);
    const many = Array.from({ length: 3000 }, (_, i) => backing.subarray(i % 1000, (i % 1000) + (i % 37)));
    const manyInfo = await store.put('many', many);
    t.equal(manyInfo.sizeBytes, Buffer.concat(many).length);
    t.ok((await store.get('many')).equals(Buffer.concat(many)), '3000 parts');

    t.equal((await store.put('none', [])).sizeBytes, 0, 'no parts: empty object');
    t.equal((await store.get('none')).length, 0);
  });

  test('ranged gets return [start, end)', async (t, store) => {
    const body = pattern('range', 10_000);
    await store.put('r', body);
    for (const [start, end] of [
      [0, 10_000],
      [0, 1],
      [1, 2],
      [9_999, 10_000],
      [1234, 5678],
      [4096, 8192],
      [0, 0],
      [5000, 5000],
      [10_000, 10_000],
    ] as const) {
      const got = await store.get('r', { start, end });
      t.ok(got.equals(body.subarray(start, end)), `[${start}, ${end})`);
    }
    await store.put('e', Buffer.alloc(0));
    t.equal((await store.get('e', { start: 0, end: 0 })).length, 0, 'empty range of an empty object');
  });

  test('bad ranges reject with a RangeError', async (t, store) => {
    await store.put('r', pattern('range', 100));
    const bad: Array<[number, number, string]> = [
      [0, 101, 'end past the object'],
      [100, 101, 'start at the end, end past it'],
      [150, 200, 'entirely past the object'],
      [-1, 10, 'negative start'],
      [10, 5, 'end before start'],
      [1.5, 10, 'fractional start'],
      [0, Number.NaN, 'NaN end'],
    ];
    for (const [start, end, what] of bad) await rejectsWith(t, store.get('r', { start, end }), RangeError, what);
    await store.put('e', Buffer.alloc(0));
    await rejectsWith(t, store.get('e', { start: 0, end: 1 }), RangeError, 'any byte of an empty object');
  });

  test('missing keys: get rejects with ObjectNotFoundError, head returns null', async (t, store) => {
    await rejectsWith(t, store.get('nope'), ObjectNotFoundError, 'get');
    await rejectsWith(t, store.get('nope', { start: 0, end: 1 }), ObjectNotFoundError, 'ranged get');
    t.equal(await store.head('nope'), null);
    await store.put('dir/file', Buffer.from('x'));
    await rejectsWith(t, store.get('dir'), ObjectNotFoundError, 'a "directory" of a key is not an object');
    t.equal(await store.head('dir'), null);
    await rejectsWith(t, store.get('dir/file/below'), ObjectNotFoundError, 'below an object');
    t.equal(await store.head('dir/file/below'), null);
    await rejectsWith(t, store.get('dir/fil'), ObjectNotFoundError, 'a string prefix of a key');
    try {
      await store.get('nope');
    } catch (err) {
      t.equal((err as Error).name, 'ObjectNotFoundError');
      t.match((err as Error).message, /nope/, 'the message names the key');
    }
  });

  test('head and list report what put returned; a put replaces and changes the etag', async (t, store) => {
    const first = await store.put('h/k', Buffer.from('first version'));
    t.same(await store.head('h/k'), first);
    t.same(await store.list('h/'), [first]);
    const second = await store.put('h/k', Buffer.from('second, longer version'));
    t.equal(second.sizeBytes, 22);
    t.not(second.etag, first.etag, 'etag changes when the object is replaced');
    t.same(await store.head('h/k'), second);
    t.same(await store.list('h/'), [second]);
    t.equal((await store.get('h/k')).toString(), 'second, longer version');
  });

  test('a key and keys below it are independent objects', async (t, store) => {
    await store.put('p', Buffer.from('parent'));
    await store.put('p/q', Buffer.from('child'));
    await store.put('p/q/r', Buffer.from('grandchild'));
    t.equal((await store.get('p')).toString(), 'parent');
    t.equal((await store.get('p/q')).toString(), 'child');
    t.equal((await store.get('p/q/r')).toString(), 'grandchild');
    t.same(
      (await store.list('p')).map((o) => o.key),
      ['p', 'p/q', 'p/q/r'],
    );
    await store.delete(['p/q']);
    t.equal((await store.get('p')).toString(), 'parent');
    t.equal((await store.get('p/q/r')).toString(), 'grandchild');
    t.same(
      (await store.list('')).map((o) => o.key),
      ['p', 'p/q/r'],
    );
  });

  test('unusual but valid keys round trip through put, get, head and list', async (t, store) => {
    const keys = [
      'Topic-ABC/Partition 7/file.log',
      'topic-abc/partition 7/file.log', // differs only in case from the one above
      'üñí/ça/é', // NFC
      'üñí/ça/e\u0301', // NFD: a different key
      '.hidden/.x',
      "odd/%25/%/+=,@~_-!$&'()*;:?#[]",
      'emoji/\u{1F600}',
      'trailing-dot./x.',
      'a.b/c..d/...',
      'sp ace/ /  ',
    ];
    for (const key of keys) await store.put(key, Buffer.from(`body of ${key}`));
    for (const key of keys) {
      t.equal((await store.get(key)).toString(), `body of ${key}`, `get ${key}`);
      t.equal((await store.head(key))?.sizeBytes, Buffer.byteLength(`body of ${key}`), `head ${key}`);
    }
    t.same(
      (await store.list('')).map((o) => o.key),
      [...keys].sort(byUtf8),
    );
    t.same(
      (await store.list('üñí/ça/')).map((o) => o.key),
      ['üñí/ça/e\u0301', 'üñí/ça/é'],
    );
  });

  test('list returns keys in UTF-8 byte order, honouring prefix, startAfter and limit', async (t, store) => {
    // Chosen so that a naive directory walk or JavaScript string order gets it wrong: '-' < '/' < '0',
    // upper case before lower case, U+FFFD before U+1F600 in UTF-8 (after it in UTF-16).
    const keys = ['a', 'a-b', 'a/b', 'a/b/c', 'a/b-c', 'a/b0', 'a0', 'a\uFFFD', 'a\u{1F600}', 'A', 'b/x/y/z', 'b/x/y', 'bb', 'b-'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    const sorted = [...keys].sort(byUtf8);
    const all = await store.list('');
    t.same(
      all.map((o) => o.key),
      sorted,
      'whole listing',
    );
    for (const o of all) t.equal(o.sizeBytes, Buffer.byteLength(o.key), `size of ${o.key}`);

    const under = (prefix: string) => sorted.filter((k) => k.startsWith(prefix));
    for (const prefix of ['a', 'a/', 'a/b', 'a/b/', 'b', 'b/x/', 'b/x/y', 'A', 'a\uFFFD', 'z', 'a/b/c/d', 'c/']) {
      t.same(
        (await store.list(prefix)).map((o) => o.key),
        under(prefix),
        `prefix ${JSON.stringify(prefix)}`,
      );
    }

    for (const startAfter of ['', 'a', 'a/', 'a/b', 'a/b/c', 'a/a', 'a0', 'a00', 'A', 'b', 'b/x/y', '\u{10FFFF}', 'a\uFFFD']) {
      t.same(
        (await store.list('', { startAfter })).map((o) => o.key),
        sorted.filter((k) => byUtf8(k, startAfter) > 0),
        `startAfter ${JSON.stringify(startAfter)}`,
      );
    }
    t.same(
      (await store.list('a/', { startAfter: 'a' })).map((o) => o.key),
      under('a/'),
      'startAfter before the prefix',
    );
    t.same(await store.list('a/', { startAfter: 'b' }), [], 'startAfter past the prefix');

    t.same(
      (await store.list('', { limit: 3 })).map((o) => o.key),
      sorted.slice(0, 3),
      'limit',
    );
    t.same(await store.list('', { limit: 0 }), [], 'limit 0');
    t.same(
      (await store.list('a/', { limit: 2, startAfter: 'a/b' })).map((o) => o.key),
      under('a/')
        .filter((k) => byUtf8(k, 'a/b') > 0)
        .slice(0, 2),
    );

    for (const pageSize of [1, 2, 5]) {
      const paged: string[] = [];
      let startAfter: string | undefined;
      for (;;) {
        const page = await store.list('', { limit: pageSize, ...(startAfter === undefined ? {} : { startAfter }) });
        paged.push(...page.map((o) => o.key));
        if (page.length < pageSize) break;
        startAfter = page.at(-1)!.key;
      }
      t.same(paged, sorted, `paging ${pageSize} at a time`);
    }
  });

  test('list limit defaults to 1000', async (t, store) => {
    const keys = Array.from({ length: 1003 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Buffer.from(k))));
    const first = await store.list('many/');
    t.equal(first.length, 1000);
    t.same(
      first.map((o) => o.key),
      keys.slice(0, 1000),
    );
    t.same(
      (await store.list('many/', { startAfter: first.at(-1)!.key })).map((o) => o.key),
      keys.slice(1000),
    );
    t.same((await store.list('many/', { limit: 1003 })).length, 1003, 'a larger limit');
  });

  test('delete removes objects; missing keys and empty lists are fine', async (t, store) => {
    await store.put('d/1', Buffer.from('1'));
    await store.put('d/2', Buffer.from('2'));
    await store.put('d/20', Buffer.from('20'));
    await store.put('d', Buffer.from('d'));
    await store.delete(['d/2', 'never/was', 'd/2']);
    await rejectsWith(t, store.get('d/2'), ObjectNotFoundError, 'deleted object');
    t.equal(await store.head('d/2'), null);
    t.same(
      (await store.list('')).map((o) => o.key),
      ['d', 'd/1', 'd/20'],
    );
    await store.delete([]);
    await store.delete(['d/1', 'd/20']);
    t.same(
      (await store.list('')).map((o) => o.key),
      ['d'],
    );
    await store.put('d/1', Buffer.from('again'));
    t.equal((await store.get('d/1')).toString(), 'again', 'a key can be written again after delete');
    await store.delete(['d', 'd/1']);
    t.same(await store.list(''), []);
  });

  test('ifNoneMatch: the first put wins, later ones fail with PreconditionFailedError', async (t, store) => {
    const info = await store.put('once', Buffer.from('first'), { ifNoneMatch: true });
    t.equal(info.sizeBytes, 5);
    await rejectsWith(t, store.put('once', Buffer.from('second'), { ifNoneMatch: true }), PreconditionFailedError, 'second put');
    await rejectsWith(t, store.put('once', [Buffer.from('third')], { ifNoneMatch: true }), PreconditionFailedError, 'Buffer[] put');
    t.equal((await store.get('once')).toString(), 'first', 'the object is unchanged');
    t.same(await store.head('once'), info);
    await store.delete(['once']);
    await store.put('once', Buffer.from('after delete'), { ifNoneMatch: true });
    t.equal((await store.get('once')).toString(), 'after delete');
    await store.put('once', Buffer.from('unconditional'));
    t.equal((await store.get('once')).toString(), 'unconditional', 'a put without ifNoneMatch replaces');
  });

  test('concurrent ifNoneMatch puts of one key: exactly one wins', async (t, store) => {
    for (let round = 0; round < 5; round++) {
      const key = `race/${round}`;
      const bodies = Array.from({ length: 12 }, (_, i) => pattern(`${key}/${i}`, 1000 + i * 5000));
      const results = await Promise.allSettled(bodies.map((b) => store.put(key, b, { ifNoneMatch: true })));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      t.equal(won.length, 1, `round ${round}: one winner`);
      for (const r of results)
        if (r.status === 'rejected')
          t.ok(r.reason instanceof PreconditionFailedError, 'losers get PreconditionFailedError', { got: r.reason });
      t.ok((await store.get(key)).equals(bodies[won[0]!]!), "the stored object is the winner's");
    }
  });

  test('many concurrent operations on distinct keys', async (t, store) => {
    const keys = Array.from({ length: 100 }, (_, i) => `c/${i % 7}/${i}`);
    await Promise.all(keys.map((k, i) => store.put(k, pattern(k, 100 + i * 331))));
    const gots = await Promise.all(keys.map((k) => store.get(k)));
    gots.forEach((got, i) => t.ok(got.equals(pattern(keys[i]!, 100 + i * 331)), keys[i]!));
    await Promise.all([store.delete(keys.slice(0, 50)), ...keys.slice(50).map((k) => store.head(k))]);
    t.same(
      (await store.list('c/')).map((o) => o.key),
      keys.slice(50).sort(byUtf8),
    );
  });
}
