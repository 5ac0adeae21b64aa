import t from 'tap';
import { readFileSync } from 'node:fs';
import * as limits from '../../broker/limits.ts';
import {
  groupStoreTxnMaxBytes,
  groupStoreTxnMaxOpsCount,
  manifestTxnMaxBytes,
  manifestTxnMaxOpsCount,
  metadataMaxTxnBytes,
  metadataMaxTxnOpsCount,
  ownershipTxnMaxChangesCount,
} from '../../broker/limits.ts';
import { defaultMetadataLimits } from '../../broker/metadata/limits.ts';

t.test('every limit is a positive number named with its unit', async (t) => {
  for (const [name, value] of Object.entries(limits)) {
    t.match(name, /(Ms|Bytes|Count|Tokens|PerBatch)$/, `${name} says its unit`);
    t.ok(typeof value === 'number' && Number.isSafeInteger(value) && value > 0, `${name} is a positive integer`);
  }
});

t.test('every limit has a one-line reason', async (t) => {
  const lines = readFileSync(new URL('../../broker/limits.ts', import.meta.url), 'utf8').split('\n');
  for (const name of Object.keys(limits)) {
    const i = lines.findIndex((l) => l.startsWith(`export const ${name} = `));
    t.match(lines[i - 1], /^\/\*\* .+ \*\/$/, `${name} has a doc comment`);
  }
});

t.test('writes batched into one metadata transaction stay below the store limits, with room for compares', async (t) => {
  for (const ops of [manifestTxnMaxOpsCount, groupStoreTxnMaxOpsCount, ownershipTxnMaxChangesCount]) t.ok(ops < metadataMaxTxnOpsCount);
  for (const bytes of [manifestTxnMaxBytes, groupStoreTxnMaxBytes]) t.ok(bytes < metadataMaxTxnBytes);
  t.equal(defaultMetadataLimits.maxTxnOps, metadataMaxTxnOpsCount, 'the metadata engine enforces the same limits');
  t.equal(defaultMetadataLimits.maxTxnBytes, metadataMaxTxnBytes);
});
