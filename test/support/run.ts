// Runs client programs (kcat, Debian's python3 with confluent-kafka / kafka-python, node scripts) with a time
// limit: past it the process is killed (SIGKILL) and the result says so. Nothing outlives its test.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './broker.ts';

/** Debian's python3: the only one that has confluent_kafka and kafka (kafka-python). */
export const python = process.env.SKAFOS_TEST_PYTHON ?? '/usr/bin/python3';
export const kcatBin = process.env.SKAFOS_TEST_KCAT ?? 'kcat';
export const clientScripts = join(repoRoot, 'test/integration/clients');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

const live = new Set<ReturnType<typeof spawn>>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? repoRoot, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({
        code,
        signal,
        timedOut,
        ms: Date.now() - started,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the program may exit without reading all of its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Describes a run for an assertion message. */
export function describeRun(r: RunResult, maxChars = 4000): string {
  const cut = (s: string) => (s.length > maxChars ? `…${s.slice(-maxChars)}` : s);
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' TIMED OUT' : ''} after ${r.ms} ms\n--- stderr\n${cut(r.stderr)}\n--- stdout\n${cut(r.stdout)}`;
}

export function kcat(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(kcatBin, args, opts);
}

/** Runs test/integration/clients/<script> with Debian's python3; `request` goes to its stdin as JSON. */
export function pythonClient(script: string, request: unknown, opts: RunOptions = {}): Promise<RunResult> {
  return run(python, ['-u', join(clientScripts, script)], {
    ...opts,
    input: JSON.stringify(request),
    env: { PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
  });
}

/** Parses a client script's JSON-lines stdout. */
export function jsonLines<T = any>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/** Runs a promise with a time limit. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
