// Who calls a hot function: the self time of FUNCTION in a V8 .cpuprofile, grouped by its chain of callers
// (DEPTH frames up). Complements cpuprofile-summary.ts when the top entry is a runtime function such as
// Buffer's `concat`, whose cost belongs to whoever calls it.
// usage: node bench/lib/cpuprofile-callers.ts FILE.cpuprofile FUNCTION [DEPTH=3] [TOP=10]
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CallerRow {
  /** Callers, nearest first, as `function  file:line`. */
  chain: string[];
  micros: number;
}

function where(f: CallFrame): string {
  const url = f.url
    .replace(/^file:\/\//, '')
    .replace(/^.*\/node_modules\//, '')
    .replace(`${process.cwd()}/`, '');
  return `${f.functionName || '(anonymous)'}  ${url === '' ? '' : `${url}:${f.lineNumber + 1}`}`;
}

/** Self time of every node named `fn`, grouped by its `depth` nearest callers; total is all sampled time. */
export function callersOf(profile: Profile, fn: string, depth = 3): { rows: CallerRow[]; fnMicros: number; totalMicros: number } {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<number, number>();
  let totalMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const d = profile.timeDeltas[i] ?? 0;
    totalMicros += d;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + d);
  }
  const grouped = new Map<string, CallerRow>();
  let fnMicros = 0;
  for (const n of profile.nodes) {
    if (n.callFrame.functionName !== fn) continue;
    const t = self.get(n.id) ?? 0;
    if (t === 0) continue;
    fnMicros += t;
    const chain: string[] = [];
    for (let p = parent.get(n.id), k = 0; p !== undefined && k < depth; p = parent.get(p), k++) chain.push(where(byId.get(p)!.callFrame));
    const key = chain.join(' < ');
    const row = grouped.get(key) ?? { chain, micros: 0 };
    row.micros += t;
    grouped.set(key, row);
  }
  return { rows: [...grouped.values()].sort((a, b) => b.micros - a.micros), fnMicros, totalMicros };
}

/**
 * Names of the `n` functions with the most self time that are neither V8's pseudo-frames ((idle), (program),
 * (garbage collector)) nor code whose location contains `exclude`: runtime functions worth a callersOf().
 */
export function topOtherFunctions(profile: Profile, n: number, exclude: string): string[] {
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++)
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byName = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url } = node.callFrame;
    if (functionName === '' || functionName.startsWith('(') || url.includes(exclude)) continue;
    byName.set(functionName, (byName.get(functionName) ?? 0) + (self.get(node.id) ?? 0));
  }
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name]) => name);
}

export function formatCallers(profile: Profile, fn: string, depth = 3, top = 10): string {
  const { rows, fnMicros, totalMicros } = callersOf(profile, fn, depth);
  const lines = [
    `${fn}: ${(fnMicros / 1000).toFixed(0)} ms self time, ${((100 * fnMicros) / totalMicros).toFixed(1)}% of ${(totalMicros / 1e6).toFixed(2)} s sampled; by caller:`,
  ];
  for (const r of rows.slice(0, top)) {
    lines.push(
      `${((100 * r.micros) / totalMicros).toFixed(1).padStart(5)}%  ${(r.micros / 1000).toFixed(0).padStart(7)} ms  ${r.chain.join('  <  ')}`,
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const [file, fn, depthArg, topArg] = process.argv.slice(2);
  if (file === undefined || fn === undefined) {
    console.error('usage: node bench/lib/cpuprofile-callers.ts FILE.cpuprofile FUNCTION [DEPTH=3] [TOP=10]');
    process.exit(2);
  }
  console.log(formatCallers(JSON.parse(readFileSync(file, 'utf8')) as Profile, fn, Number(depthArg ?? 3), Number(topArg ?? 10)));
}
