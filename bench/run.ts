// Benchmark dispatcher: `node bench/run.ts [SCENARIO ...] [--quick] [--backend embedded|s3] [--s3-latency P50,P99] [--out DIR]`.
// A scenario is any module bench/<name>.ts (other than this one) that exports `description` and `run`.
// With no scenario named, all of them run. Each scenario's report is written as
// <out>/<name>-<ISO timestamp>.json together with the machine and package versions; charts go next to it as
// <name>-<ISO timestamp>-<chart>.svg. Scenarios report the targets of issue 7 they measure (bench/lib/common.ts);
// they are printed together at the end and written to <out>/summary-<ISO timestamp>.json.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchBackend } from './lib/backend.ts';
import { targetResults } from './lib/common.ts';
import { machineInfo, table } from './lib/report.ts';
import type { Backend, Scenario } from './lib/scenario.ts';

const benchDir = import.meta.dirname;
// `limits` first: the other scenarios compare with it (measured once per process, bench/lib/limits.ts).
const order = ['limits', 'codec', 'broker', 'produce', 'latency', 'catch-up', 'cost', 'partitions', 'connections'];
const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));

const usage = `usage: node bench/run.ts [SCENARIO ...] [--quick] [--backend embedded|s3] [--s3-latency P50,P99] [--out DIR]\nscenarios: ${available.join(', ')}`;

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        quick: { type: 'boolean', default: false },
        backend: { type: 'string', default: 'embedded' },
        's3-latency': { type: 'string', default: '30,120' },
        out: { type: 'string', default: join(benchDir, 'results') },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
}
const { values, positionals } = parse();

if (values.help) {
  console.log(usage);
  process.exit(0);
}

const chosen = positionals.length > 0 ? positionals : available;
for (const name of chosen) {
  if (!available.includes(name)) {
    console.error(`unknown scenario "${name}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
}

if (values.backend !== 'embedded' && values.backend !== 's3') {
  console.error(`--backend must be embedded or s3\n${usage}`);
  process.exit(2);
}
const backend = values.backend as Backend;
const [p50Ms, p99Ms] = values['s3-latency'].split(',').map(Number) as [number, number];
if (!(p50Ms > 0) || !(p99Ms >= p50Ms)) {
  console.error(`--s3-latency wants P50,P99 in ms with 0 < P50 <= P99 (got ${values['s3-latency']})\n${usage}`);
  process.exit(2);
}

const outDir = resolve(values.out);
mkdirSync(outDir, { recursive: true });
const suiteStarted = new Date();
// Ctrl-C: stop the brokers and the backend's daemons (children get the signal too; this cleans the rest).
process.once('SIGINT', () => {
  void BenchBackend.closeAll().finally(() => process.exit(130));
});
try {
  for (const name of chosen) {
    const scenario = (await import(pathToFileURL(join(benchDir, `${name}.ts`)).href)) as Scenario;
    console.log(`\n== ${name}: ${scenario.description}${values.quick ? ' (quick)' : ''}${backend === 's3' ? ' [backend s3]' : ''}\n`);
    const startedAt = new Date();
    const loadAtStart = os.loadavg();
    const runId = `${name}-${startedAt.toISOString().replace(/:/g, '-')}`;
    const report = await scenario.run({ quick: values.quick, backend, s3Latency: { p50Ms, p99Ms }, outDir, runId });
    const file = join(outDir, `${runId}.json`);
    const doc = {
      scenario: name,
      description: scenario.description,
      startedAt: startedAt.toISOString(),
      duration: { value: Math.round((Date.now() - startedAt.getTime()) / 100) / 10, unit: 's' },
      quick: values.quick,
      backendOption: backend,
      machine: machineInfo(),
      // Other processes competing for the CPUs while the scenario ran (1, 5 and 15 minute averages).
      loadAverage: { start: loadAtStart, end: os.loadavg(), unit: 'runnable threads (1, 5, 15 min averages)' },
      ...report,
    };
    writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
    console.log(`\nresults written to ${file}`);
  }
} finally {
  await BenchBackend.closeAll();
}

if (targetResults.length > 0) {
  console.log(`\n== targets (issue 7), ${backend} backend${values.quick ? ', quick run: not figures to quote' : ''}\n`);
  console.log(
    table(
      ['target', 'measured', 'met', 'scenario'],
      targetResults.map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED', t.scenario]),
    ),
  );
  for (const t of targetResults.filter((x) => x.note)) console.log(`- ${t.target}: ${t.note}`);
  const file = join(outDir, `summary-${suiteStarted.toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        startedAt: suiteStarted.toISOString(),
        duration: { value: Math.round((Date.now() - suiteStarted.getTime()) / 100) / 10, unit: 's' },
        scenarios: chosen,
        quick: values.quick,
        backend,
        s3Latency: { p50: { value: p50Ms, unit: 'ms' }, p99: { value: p99Ms, unit: 'ms' } },
        machine: machineInfo(),
        loadAverage: { end: os.loadavg(), unit: 'runnable threads (1, 5, 15 min averages)' },
        targets: targetResults,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nsummary written to ${file}`);
}
