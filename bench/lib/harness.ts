// A small, fair micro-benchmark harness for comparing implementations of the same operation.
//
// For each comparison every case is warmed up (which also calibrates how many calls make one timing batch),
// then timed in several rounds. Rounds alternate which case goes first, and a full garbage collection runs
// before every round, so neither side is charged for the other's garbage or benefits from running first.
// A round repeats whole batches until `roundMs` has passed; its figure is calls / elapsed seconds. The
// reported figure is the median round. Each round also records the main thread's CPU time: on a shared
// machine, calls per CPU-second and the CPU share (CPU time / wall time, 1 when the thread was never
// descheduled) show how much other load depressed the wall-clock figures.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface HarnessSettings {
  /** Time each case runs untimed before measuring (JIT warm-up and batch calibration). */
  warmupMs: number;
  /** Timed rounds per case. */
  rounds: number;
  /** Minimum duration of one timed round. */
  roundMs: number;
}

export interface BenchCase {
  name: string;
  /** One operation. Its result is kept in a sink so the work cannot be optimised away. */
  fn: () => unknown;
}

export interface CaseResult {
  name: string;
  /** Median of the rounds, in operations per second. */
  medianOpsPerSec: number;
  minOpsPerSec: number;
  maxOpsPerSec: number;
  /** Every round's figure, in operations per second, in the order they ran. */
  roundsOpsPerSec: number[];
  /** Median of the rounds, in operations per second of main-thread CPU time (user + system). */
  medianOpsPerCpuSec: number;
  /** Median over rounds of main-thread CPU time / wall time. */
  medianCpuShare: number;
  roundsCpuShare: number[];
  /** Operations per timing batch (calibrated during warm-up). */
  batchSize: number;
  /** Operations executed across all timed rounds. */
  timedOperations: number;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as (() => void) | undefined;

/** Whether full garbage collections between rounds are available (they are unless the V8 flag is refused). */
export const gcBetweenRounds = typeof collectGarbage === 'function';

// Every result is stored here (a module-level variable V8 cannot prove unread), so no call can be elided.
let _sink: unknown;

function runBatch(fn: () => unknown, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) _sink = fn();
  return performance.now() - t0;
}

function warmUp(fn: () => unknown, settings: HarnessSettings): number {
  // Grow the batch until it is measurable, then keep running until the warm-up time is spent.
  let n = 1;
  let spent = 0;
  let perOpMs = 0;
  for (;;) {
    const ms = runBatch(fn, n);
    spent += ms;
    perOpMs = ms / n;
    if (spent >= settings.warmupMs) break;
    if (ms < 5) n *= 2;
  }
  // Aim for about 20 batches per round, so the clock is read rarely relative to the work.
  return Math.max(1, Math.floor(settings.roundMs / 20 / Math.max(perOpMs, 1e-6)));
}

interface Round {
  ops: number;
  ms: number;
  cpuMs: number;
}

function timedRound(fn: () => unknown, batchSize: number, roundMs: number): Round {
  let ops = 0;
  let ms = 0;
  const cpu0 = process.threadCpuUsage();
  do {
    ms += runBatch(fn, batchSize);
    ops += batchSize;
  } while (ms < roundMs);
  const cpu = process.threadCpuUsage(cpu0);
  return { ops, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs every case under the same settings, rounds interleaved, and returns one result per case (same order). */
export function compare(cases: BenchCase[], settings: HarnessSettings): CaseResult[] {
  const batch = cases.map((c) => {
    collectGarbage?.();
    return warmUp(c.fn, settings);
  });
  const rounds: number[][] = cases.map(() => []);
  const perCpu: number[][] = cases.map(() => []);
  const share: number[][] = cases.map(() => []);
  const ops = cases.map(() => 0);
  for (let r = 0; r < settings.rounds; r++) {
    // Rotate the starting case every round.
    for (let k = 0; k < cases.length; k++) {
      const i = (r + k) % cases.length;
      collectGarbage?.();
      const { ops: n, ms, cpuMs } = timedRound(cases[i]!.fn, batch[i]!, settings.roundMs);
      rounds[i]!.push(n / (ms / 1000));
      perCpu[i]!.push(n / (cpuMs / 1000));
      share[i]!.push(cpuMs / ms);
      ops[i]! += n;
    }
  }
  return cases.map((c, i) => ({
    name: c.name,
    medianOpsPerSec: median(rounds[i]!),
    minOpsPerSec: Math.min(...rounds[i]!),
    maxOpsPerSec: Math.max(...rounds[i]!),
    roundsOpsPerSec: rounds[i]!,
    medianOpsPerCpuSec: median(perCpu[i]!),
    medianCpuShare: median(share[i]!),
    roundsCpuShare: share[i]!,
    batchSize: batch[i]!,
    timedOperations: ops[i]!,
  }));
}
