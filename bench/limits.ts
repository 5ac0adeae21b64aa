// Limits scenario: what the machine and the store can do at most, measured in the same run as the broker
// figures (bench/lib/limits.ts): raw PUT and ranged-GET MiB/s of the brokers' object store at the broker's
// object size and concurrency, and loopback TCP MiB/s. Other scenarios print their figures as ratios to these.
import { BenchBackend } from './lib/backend.ts';
import { limitFigures, limits } from './lib/limits.ts';
import { fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';

export const description =
  "limits: raw PUT / ranged-GET MiB/s of the brokers' object store (8 MiB objects, 4 in flight; 4 MiB ranges) and loopback TCP MiB/s";

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const l = await limits(backend, o.quick);
  console.log(`\nstore: ${l.where}\n`);
  console.log(
    table(
      ['limit', 'MiB/s', 'p50 ms', 'p99 ms', 'shape'],
      [
        [
          'raw PUT',
          fmt(l.putMiBps),
          fmt(l.putLatencyMs.p50),
          fmt(l.putLatencyMs.p99),
          `${l.objectBytes / 2 ** 20} MiB objects, ${l.putConcurrency} in flight`,
        ],
        [
          'ranged GET ×1',
          fmt(l.get1MiBps),
          fmt(l.getLatencyMs.p50),
          fmt(l.getLatencyMs.p99),
          `${l.getRangeBytes / 2 ** 20} MiB ranges, 1 in flight`,
        ],
        ['ranged GET ×4', fmt(l.get4MiBps), '', '', `${l.getRangeBytes / 2 ** 20} MiB ranges, 4 in flight`],
        ['loopback TCP', fmt(l.loopbackMiBps), '', '', 'one connection, 1 MiB writes, sink in a child process'],
      ],
    ),
  );
  return { versions: { ours: oursVersion(), node: process.version }, backend: backend.describe(), limits: limitFigures(l) };
}
