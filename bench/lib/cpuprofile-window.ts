// Crops a V8 .cpuprofile to time windows, so that a profile of a whole process (node --cpu-prof writes one at
// exit) can be summarised for one phase only, e.g. with bench/lib/cpuprofile-summary.ts.
//
// V8 stamps profiles with its monotonic clock in microseconds, which on Linux is CLOCK_MONOTONIC, the clock of
// process.hrtime.bigint() in any process on the machine: windows measured by a parent process with
// `process.hrtime.bigint() / 1000n` apply to a child's profile as they are.
import { readFileSync, writeFileSync } from 'node:fs';

interface Profile {
  nodes: unknown[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Monotonic clock in microseconds, comparable with V8 profile timestamps (see above). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface CropResult {
  samplesKept: number;
  samplesTotal: number;
  /** Sampled time kept, in microseconds. */
  keptMicros: number;
}

/**
 * Writes to `outFile` the profile `inFile` with only the samples taken inside one of `windows` ([start, end]
 * pairs in microseconds of the monotonic clock). Every sample keeps its time delta, so self times stay right.
 */
export function cropProfile(inFile: string, outFile: string, windows: [number, number][]): CropResult {
  const p = JSON.parse(readFileSync(inFile, 'utf8')) as Profile;
  const samples: number[] = [];
  const deltas: number[] = [];
  let t = p.startTime;
  let kept = 0;
  let first = -1;
  let last = -1;
  for (let i = 0; i < p.samples.length; i++) {
    const d = p.timeDeltas[i] ?? 0;
    t += d;
    if (windows.some(([a, b]) => t >= a && t <= b)) {
      samples.push(p.samples[i]!);
      deltas.push(d);
      kept += d;
      if (first < 0) first = t;
      last = t;
    }
  }
  // timeDeltas[0] is normally relative to startTime; keep that true for the cropped profile.
  const startTime = first < 0 ? p.startTime : first - (deltas[0] ?? 0);
  writeFileSync(outFile, JSON.stringify({ ...p, startTime, endTime: last < 0 ? p.startTime : last, samples, timeDeltas: deltas }));
  return { samplesKept: samples.length, samplesTotal: p.samples.length, keptMicros: kept };
}
