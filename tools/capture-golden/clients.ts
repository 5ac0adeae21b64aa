// The real Kafka clients the capture drives, how each is configured, and how to run one against a port.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
/** Debian's Python, where python3-kafka and python3-confluent-kafka are installed (not the first python3 on PATH). */
export const systemPython = process.env.GOLDEN_PYTHON ?? '/usr/bin/python3';
const kcatBin = process.env.GOLDEN_KCAT ?? 'kcat';
const stepTimeoutMs = 45_000;

export interface ClientSpec {
  /** Directory name under test/golden/. */
  name: string;
  clientId: string;
  groupId: string;
  /** The producer's acks setting; the Produce frames must carry it. */
  acks: number;
  /** Profiles (advertised version sets) to run this client against. */
  profiles: string[];
  /** Returns a human-readable version string, or throws when the client is not installed. */
  version(): string;
  /** The commands of one capture session, run in order against the broker's port. */
  steps(port: number): Step[];
}

export interface Step {
  label: string;
  command: string;
  args: string[];
  stdin?: string;
  /** The step only counts as done if its output contains this (the consumed record's value, say). */
  expectOutput?: string;
}

function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) throw new Error(`${command} exited with ${r.status}: ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

const nodeDriver = (file: string, port: number, c: { clientId: string; groupId: string; acks: number }): Step => ({
  label: file,
  command: process.execPath,
  args: [path.join(here, 'drivers', file), String(port), c.clientId, c.groupId, String(c.acks)],
  expectOutput: 'consumed golden',
});

const pythonDriver = (file: string, port: number, c: { clientId: string; groupId: string; acks: number }): Step => ({
  label: file,
  command: systemPython,
  args: [path.join(here, 'drivers', file), String(port), c.clientId, c.groupId, String(c.acks)],
  expectOutput: 'consumed golden',
});

export const clients: ClientSpec[] = [
  {
    name: 'kcat',
    clientId: 'golden-kcat',
    groupId: 'golden-group-kcat',
    acks: 1,
    profiles: ['latest', 'kafka-2.4', 'kafka-1.0', 'kafka-0.10.0'],
    version() {
      const out = run(kcatBin, ['-V']);
      const m = /Version (\S+) .*librdkafka (\S+)/.exec(out);
      if (m === null) throw new Error(`unexpected kcat -V output: ${out}`);
      return `kcat ${m[1]} (librdkafka ${m[2]})`;
    },
    steps(port) {
      const common = ['-b', `127.0.0.1:${port}`, '-X', `client.id=${this.clientId}`, '-X', 'fetch.wait.max.ms=100'];
      return [
        {
          label: 'kcat -P',
          command: kcatBin,
          args: [...common.slice(0, 4), '-P', '-t', 'golden', '-p', '0', '-k', 'golden-key', '-X', `acks=${this.acks}`],
          stdin: 'hello from kcat\n',
        },
        {
          label: 'kcat -C',
          command: kcatBin,
          args: [...common, '-C', '-t', 'golden', '-p', '0', '-o', 'beginning', '-c', '1', '-e'],
          expectOutput: 'golden-value',
        },
        {
          label: 'kcat -G',
          command: kcatBin,
          args: [...common, '-X', 'auto.offset.reset=earliest', '-X', 'heartbeat.interval.ms=100', '-G', this.groupId, 'golden', '-c', '1'],
          expectOutput: 'golden-value',
        },
      ];
    },
  },
  {
    name: 'confluent-kafka-python',
    clientId: 'golden-confluent',
    groupId: 'golden-group-confluent',
    acks: -1,
    profiles: ['latest', 'kafka-1.0'],
    version() {
      const out = run(systemPython, ['-c', 'import confluent_kafka as c; print(c.version()[0], c.libversion()[0])']).trim();
      const [py, lib] = out.split(' ');
      return `confluent-kafka-python ${py} (librdkafka ${lib})`;
    },
    steps(port) {
      return [pythonDriver('confluent_kafka_python.py', port, this)];
    },
  },
  {
    name: 'kafka-python',
    clientId: 'golden-kafka-python',
    groupId: 'golden-group-kafka-python',
    acks: 0,
    profiles: ['latest', 'kafka-1.0', 'kafka-0.10.0'],
    version() {
      return `kafka-python ${run(systemPython, ['-c', 'import kafka; print(kafka.__version__)']).trim()}`;
    },
    steps(port) {
      return [pythonDriver('kafka_python.py', port, this)];
    },
  },
  {
    name: 'kafkajs',
    clientId: 'golden-kafkajs',
    groupId: 'golden-group-kafkajs',
    acks: 1,
    profiles: ['latest', 'kafka-0.10.0'],
    version() {
      return `kafkajs ${packageVersion('kafkajs')}`;
    },
    steps(port) {
      return [nodeDriver('kafkajs.ts', port, this)];
    },
  },
  {
    name: 'platformatic-kafka',
    clientId: 'golden-platformatic',
    groupId: 'golden-group-platformatic',
    acks: -1,
    profiles: ['latest', 'kafka-3.0', 'kafka-2.4'],
    version() {
      return `@platformatic/kafka ${packageVersion('@platformatic/kafka')}`;
    },
    steps(port) {
      return [nodeDriver('platformatic-kafka.ts', port, this)];
    },
  },
];

export interface StepResult {
  label: string;
  ok: boolean;
  code: number | null;
  output: string;
  ms: number;
}

/** Runs one step with a time limit; the child is killed (by its own pid) when it overruns. */
export function runStep(step: Step): Promise<StepResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(step.command, step.args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: repoRoot });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n[capture] killed after ${stepTimeoutMs} ms`;
      child.kill('SIGKILL');
    }, stepTimeoutMs);
    child.on('error', (err) => {
      output += `\n[capture] ${err.message}`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const ok = code === 0 && (step.expectOutput === undefined || output.includes(step.expectOutput));
      if (code === 0 && !ok) output += `\n[capture] exited 0 but its output lacks ${JSON.stringify(step.expectOutput)}`;
      if (process.env.GOLDEN_VERBOSE)
        console.log(
          output
            .trim()
            .split('\n')
            .map((l) => `      | ${l}`)
            .join('\n'),
        );
      resolve({ label: step.label, ok, code, output, ms: Date.now() - started });
    });
    child.stdin.end(step.stdin ?? '');
  });
}
