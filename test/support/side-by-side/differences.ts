// The known differences between Skafos and Apache Kafka, read from spec/differences.md: its table rows
//
//   | `exchange glob` | `field glob` | reason |
//
// name the exchanges (ids with their version, `metadata.topics.v12`) and the fields (`topics[0].errorCode`) where
// the side-by-side check (test/integration/side-by-side.test.ts) finds the two brokers answering differently,
// and why. `*` in a glob matches any run of characters. Every difference found must match a row, and every row
// must match a difference found, so the file stays exactly true.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../broker.ts';

export interface KnownDifference {
  exchange: string;
  field: string;
  reason: string;
  line: number;
  exchangeRe: RegExp;
  fieldRe: RegExp;
}

export const differencesFile = join(repoRoot, 'spec/differences.md');

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

export function knownDifferences(text = readFileSync(differencesFile, 'utf8')): KnownDifference[] {
  const out: KnownDifference[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    const m = /^\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!m) continue;
    const [, exchange, field, reason] = m as unknown as [string, string, string, string];
    out.push({ exchange, field, reason: reason.trim(), line: i + 1, exchangeRe: globToRegExp(exchange), fieldRe: globToRegExp(field) });
  }
  return out;
}
