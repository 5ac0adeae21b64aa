// The committed generated codec must be exactly what the generator makes from the definitions.
import t from 'tap';
import { generate } from '../../tools/generate-protocol/generate.ts';
import { generatedDir, staleFiles } from '../../tools/generate-protocol/main.ts';
import { parseVersionRange, stripJsonComments, inRange } from '../../tools/generate-protocol/spec.ts';
import { olderSpecDir, specDir } from '../broker/protocol/support/random-messages.ts';

t.test('committed generated code is up to date', async (t) => {
  const files = generate(specDir, olderSpecDir);
  t.ok(files.size > 90, `${files.size} files`);
  t.same(staleFiles(files, generatedDir), [], 'stale files (run: npm run generate:protocol)');
});

t.test('generation is deterministic', async (t) => {
  const a = generate(specDir, olderSpecDir);
  const b = generate(specDir, olderSpecDir);
  t.same([...a.entries()], [...b.entries()]);
});

t.test('version ranges', async (t) => {
  t.same(parseVersionRange('3+', 'x'), { lo: 3, hi: Infinity });
  t.same(parseVersionRange('1-4', 'x'), { lo: 1, hi: 4 });
  t.same(parseVersionRange('7', 'x'), { lo: 7, hi: 7 });
  t.notOk(inRange(parseVersionRange('none', 'x'), 0));
  t.throws(() => parseVersionRange('1-', 'x'));
});

t.test('comments are stripped outside strings only', async (t) => {
  t.same(JSON.parse(stripJsonComments('// c\n{"a": "x//y" // tail\n}')), { a: 'x//y' });
});
