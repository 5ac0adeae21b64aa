// Benchmark dispatcher: `node bench/run.ts [SCENARIO ...] [--quick] [--out DIR]`.
// A scenario is any module bench/<name>.ts (other than this one) that exports `description` and `run`.
// With no scenario named, all of them run. Each scenario's report is written as
// <out>/<name>-<ISO timestamp>.json together with the machine and package versions.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './lib/report.ts';
import type { Scenario } from './lib/scenario.ts';

const benchDir = import.meta.dirname;
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3))
  .sort();

const usage = `usage: node bench/run.ts [SCENARIO ...] [--quick] [--out DIR]\nscenarios: ${available.join(', ')}`;

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        quick: { type: 'boolean', default: false },
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

const outDir = resolve(values.out);
for (const name of chosen) {
  const scenario = (await import(pathToFileURL(join(benchDir, `${name}.ts`)).href)) as Scenario;
  console.log(`\n== ${name}: ${scenario.description}${values.quick ? ' (quick)' : ''}\n`);
  const startedAt = new Date();
  const loadAtStart = os.loadavg();
  const report = await scenario.run({ quick: values.quick });
  const file = join(outDir, `${name}-${startedAt.toISOString().replace(/:/g, '-')}.json`);
  mkdirSync(outDir, { recursive: true });
  const doc = {
    scenario: name,
    description: scenario.description,
    startedAt: startedAt.toISOString(),
    duration: { value: Math.round((Date.now() - startedAt.getTime()) / 100) / 10, unit: 's' },
    quick: values.quick,
    machine: machineInfo(),
    // Other processes competing for the CPUs while the scenario ran (1, 5 and 15 minute averages).
    loadAverage: { start: loadAtStart, end: os.loadavg(), unit: 'runnable threads (1, 5, 15 min averages)' },
    ...report,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
  console.log(`\nresults written to ${file}`);
}
