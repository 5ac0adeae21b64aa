// A broker in a child process for benchmarks, so that its CPU time and memory can be measured apart from the
// load generator's: a fresh data directory, ephemeral ports (read from its JSON log lines), CPU time from
// /proc/<pid>/stat (all threads) and /proc/<pid>/task/<pid>/stat (the main, JavaScript thread), peak RSS from
// /proc/<pid>/status (VmHWM, which can be reset between phases), and the Prometheus text of its ops endpoint.
// Linux only (/proc). Every wait is bounded; stop() sends SIGTERM, then SIGKILL if the broker hangs.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..');
/**
 * The checkout whose bin/skafos.ts runs as the broker: this one, or SKAFOS_BENCH_BROKER_ROOT (e.g. a
 * `git archive` of a commit with node_modules linked in), to measure a fixed revision while the working tree
 * changes.
 */
export const brokerRoot = process.env.SKAFOS_BENCH_BROKER_ROOT ?? repoRoot;
const startTimeoutMs = 60_000;
const stopTimeoutMs = 60_000;

let clockTicksPerSecond: number | null = null;

/** The kernel's clock tick (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
export function clockTicks(): number {
  if (clockTicksPerSecond === null) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** utime + stime of /proc/<path>/stat, in seconds (resolution: one clock tick, usually 10 ms). */
function statCpuSeconds(path: string): number {
  const text = readFileSync(path, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/**
 * Whole-machine CPU time from /proc/stat, in seconds summed over all CPUs: busy (user, nice, system, irq,
 * softirq) and steal (time the hypervisor gave to other guests while this one wanted to run).
 */
export function machineCpu(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  return { busy: (user! + nice! + system! + irq! + softirq!) / clockTicks(), steal: (steal ?? 0) / clockTicks() };
}

/** CPU time of process `pid`: all its threads, and its main thread alone. */
export function processCpu(pid: number): CpuSample {
  return { process: statCpuSeconds(`/proc/${pid}/stat`), mainThread: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`) };
}

/** Resident set size of process `pid` now and its peak (VmHWM) since start or the last resetPeakRss, in bytes. */
export function processMemory(pid: number): { rssBytes: number; peakRssBytes: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kib('VmRSS'), peakRssBytes: kib('VmHWM') };
}

/** Resets VmHWM of process `pid` to its current RSS (writes 5 to /proc/<pid>/clear_refs); false when refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface CpuSample {
  /** Every thread of the process (JavaScript, libuv pool, V8 GC and compiler threads), in seconds. */
  process: number;
  /** The main thread alone (the one running JavaScript), in seconds. */
  mainThread: number;
}

export interface BrokerChildOptions {
  dataDir: string;
  /** Extra configuration, passed as --set key=value. */
  sets?: Record<string, string | number>;
  /** Extra node flags, placed before the script (e.g. --cpu-prof). */
  nodeFlags?: string[];
}

/** Brokers still running; killed if the bench process exits without stopping them (a crash, an uncaught error). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class BrokerChild {
  readonly child: ChildProcess;
  readonly pid: number;
  port = 0;
  opsPort = 0;
  /** Log lines seen (the last 200), for error messages. */
  private readonly lines: string[] = [];
  private readonly warnings: string[] = [];
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private hasExited = false;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.pid = child.pid!;
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        live.delete(child);
        this.hasExited = true;
        resolve({ code, signal });
      }),
    );
  }

  static async start(options: BrokerChildOptions): Promise<BrokerChild> {
    const sets: Record<string, string | number> = {
      'log.dirs': options.dataDir,
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'skafos.http.listener': '127.0.0.1:0',
      ...options.sets,
    };
    const args = [...(options.nodeFlags ?? []), join(brokerRoot, 'bin', 'skafos.ts'), 'broker'];
    for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${v}`);
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_COMPILE_CACHE: join(repoRoot, 'node_modules', '.cache', 'node-compile-cache') };
    // NODE_OPTIONS of the bench process (e.g. --cpu-prof) must not leak into the broker.
    delete env.NODE_OPTIONS;
    const child = spawn(process.execPath, args, { cwd: brokerRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const b = new BrokerChild(child);
    await b.waitReady();
    return b;
  }

  private waitReady(): Promise<void> {
    return new Promise((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => fail(new Error(`broker did not start within ${startTimeoutMs} ms:\n${this.tail()}`)), startTimeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.child.kill('SIGKILL');
        reject(err);
      };
      const onLine = (line: string) => {
        this.lines.push(line);
        if (this.lines.length > 200) this.lines.shift();
        let msg: { msg?: string; port?: number; address?: string; level?: string | number };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          if (line.trim() !== '' && this.warnings.length < 50) this.warnings.push(line);
          return;
        }
        const level = msg.level;
        const isProblem = typeof level === 'number' ? level >= 40 : ['warn', 'error', 'fatal'].includes(String(level));
        if (isProblem && this.warnings.length < 50) this.warnings.push(line);
        if (msg.msg === 'listening for Kafka clients' && typeof msg.port === 'number') this.port = msg.port;
        if (msg.msg === 'ops HTTP endpoint listening' && typeof msg.address === 'string')
          this.opsPort = Number(msg.address.split(':').pop());
        if (msg.msg === 'broker started') {
          clearTimeout(timer);
          if (this.port === 0 || this.opsPort === 0) reject(new Error(`broker started without reporting its ports:\n${this.tail()}`));
          else resolve();
        }
      };
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, nl));
          buffered = buffered.slice(nl + 1);
        }
      };
      // Both streams are always drained, so the broker never blocks on a full pipe.
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', onData);
      void this.exited.then(({ code, signal }) =>
        fail(new Error(`broker exited during startup (code ${code}, signal ${signal}):\n${this.tail()}`)),
      );
    });
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }

  /** The broker's JSON log entries (of the last 200 lines) whose msg is `msg`. */
  logEntries(msg: string): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.lines) {
      if (!line.includes(msg)) continue;
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry.msg === msg) out.push(entry);
      } catch {
        // not JSON
      }
    }
    return out;
  }

  /** Warnings and errors the broker logged (the first 50), and lines that were not JSON (e.g. stack traces). */
  problems(): string[] {
    return [...this.warnings];
  }

  cpu(): CpuSample {
    return processCpu(this.pid);
  }

  /** Resident set size now and its peak (VmHWM) since start or the last resetPeakRss(), in bytes. */
  memory(): { rssBytes: number; peakRssBytes: number } {
    return processMemory(this.pid);
  }

  /** Resets VmHWM to the current RSS (writes 5 to /proc/<pid>/clear_refs); false when the kernel refuses. */
  resetPeakRss(): boolean {
    return resetPeakRss(this.pid);
  }

  /** The ops endpoint's /metrics, as sample name (with labels, as printed) → value. */
  async metrics(): Promise<Map<string, number>> {
    const res = await fetch(`http://127.0.0.1:${this.opsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
    const out = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const sp = line.lastIndexOf(' ');
      out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
    }
    return out;
  }

  /** Graceful stop (SIGTERM), SIGKILL after a timeout. Resolves once the process has exited. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.hasExited) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), stopTimeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Immediate stop, for error paths. */
  kill(): void {
    if (!this.hasExited) this.child.kill('SIGKILL');
  }
}
