// The shared engine: key order and prefix ranges (etcd byte order), compares, limits, fail-stop on storage errors.
import t from 'tap';
import { compareHolds, compareKeys, prefixEnd } from '../../../broker/metadata/backend.ts';
import { MetadataEngine } from '../../../broker/metadata/engine.ts';
import { defaultMetadataLimits } from '../../../broker/metadata/limits.ts';
import { MemoryBackend, MemoryMetadataStore } from '../../../broker/metadata/memory.ts';

const utf8Order = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

t.test('compareKeys is UTF-8 byte order', async (t) => {
  const samples = [
    '',
    'a',
    'ab',
    'b',
    '\u0000',
    '\u007f',
    '\u0080',
    '\ud7ff',
    '\ue000',
    '\uffff',
    '\u{10000}',
    '\u{1f600}',
    '\u{10ffff}',
    'a\u{10000}',
    'a\uffff',
    '\u{10000}a',
    '\u{10001}',
  ];
  for (const a of samples)
    for (const b of samples) t.equal(Math.sign(compareKeys(a, b)), utf8Order(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  t.ok('\u{10000}' < '\uffff' && compareKeys('\u{10000}', '\uffff') > 0, 'differs from UTF-16 order where it must');
});

t.test('prefixEnd bounds exactly the keys with the prefix', async (t) => {
  t.equal(prefixEnd(''), null);
  t.equal(prefixEnd('a'), 'b');
  t.equal(prefixEnd('/x/'), '/x0');
  t.equal(prefixEnd('a\ud7ff'), 'a\ue000', 'skips the surrogate range');
  t.equal(prefixEnd('a\uffff'), 'a\u{10000}');
  t.equal(prefixEnd('a\u{10ffff}'), 'b', 'drops a maximal last code point');
  t.equal(prefixEnd('\u{10ffff}\u{10ffff}'), null, 'no bound');
  const keys = ['a', 'a\u0000', 'a\uffff', 'a\u{10000}', 'a\u{10ffff}', 'a\u{10ffff}z', 'b', 'a\ud7ff', 'a\ud7ffz', 'a\ue000'];
  for (const prefix of ['a', 'a\uffff', 'a\u{10ffff}', 'a\ud7ff']) {
    const end = prefixEnd(prefix)!;
    for (const k of keys) {
      const inRange = compareKeys(k, prefix) >= 0 && compareKeys(k, end) < 0;
      t.equal(inRange, k.startsWith(prefix), `${JSON.stringify(k)} in range of ${JSON.stringify(prefix)}`);
    }
  }
});

t.test('compareHolds treats a missing key as revisions 0 and fails value compares', async (t) => {
  t.ok(compareHolds({ key: 'k', target: 'version', op: '=', value: 0 }, null));
  t.ok(compareHolds({ key: 'k', target: 'modRevision', op: '<', value: 1 }, null));
  t.notOk(compareHolds({ key: 'k', target: 'value', op: '!=', value: 'x' }, null));
});

t.test('limits are named, positive and checked', async (t) => {
  t.equal(defaultMetadataLimits.watchHistoryRevisions, 10_000);
  t.equal(defaultMetadataLimits.maxTxnOps, 128);
  t.throws(() => new MemoryMetadataStore({ limits: { maxTxnOps: 0 } }), RangeError);
  t.throws(() => new MemoryMetadataStore({ limits: { minLeaseTtlMs: 10, maxLeaseTtlMs: 5 } }), RangeError);
});

t.test('a storage failure stops the store (fail-stop) without losing the committed state', async (t) => {
  let failApply = false;
  const backend = new MemoryBackend();
  const apply = backend.apply.bind(backend);
  backend.apply = (commit) => {
    if (failApply) throw new Error('disk on fire');
    apply(commit);
  };
  const s = new MetadataEngine(backend);
  await s.txn([], [{ type: 'put', key: '/a', value: '1' }]);
  failApply = true;
  await t.rejects(s.txn([], [{ type: 'put', key: '/b', value: '2' }]), { name: 'MetadataUnavailableError', message: /disk on fire/ });
  await t.rejects(s.get('/a'), { name: 'MetadataUnavailableError' }, 'every later operation fails too');
  t.throws(() => s.watchPrefix('/', 0, () => {}), { name: 'MetadataUnavailableError' });
  await t.resolves(s.close(), 'close still works');
  t.same(backend.header(), { revision: 1, compactedRevision: 0, lastLeaseId: 0 }, 'the failed commit never happened');
});
