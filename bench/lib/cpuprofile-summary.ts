// Summarises a V8 .cpuprofile (from `node --cpu-prof bench/run.ts codec`) as self time per function.
// usage: node bench/lib/cpuprofile-summary.ts FILE.cpuprofile [TOP=30] [FILTER]
// FILTER, when given, keeps only functions whose location contains it (e.g. "broker/protocol").
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, filter] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node bench/lib/cpuprofile-summary.ts FILE.cpuprofile [TOP=30] [FILTER]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const selfMicros = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!;
  selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

const byFunction = new Map<string, number>();
let total = 0;
for (const node of profile.nodes) {
  const t = selfMicros.get(node.id) ?? 0;
  total += t;
  const { functionName, url, lineNumber } = node.callFrame;
  const where =
    url === ''
      ? ''
      : `${url
          .replace(/^file:\/\//, '')
          .replace(/^.*\/node_modules\//, '')
          .replace(`${process.cwd()}/`, '')}:${lineNumber + 1}`;
  const key = `${functionName || '(anonymous)'}  ${where}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + t);
}

const rows = [...byFunction]
  .filter(([k]) => filter === undefined || k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(topArg ?? 30));
console.log(`total sampled: ${(total / 1e6).toFixed(2)} s`);
for (const [k, t] of rows) {
  console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(7)} ms  ${k}`);
}
