// A broker in a child process for integration tests: a temp data directory, port 0, readiness from the JSON
// log line "listening for Kafka clients", kill -9, SIGTERM, and restart on the same directory. Everything is
// bounded in time and torn down with the test (the process is killed, the directory removed).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cli = join(repoRoot, 'bin/skafos.ts');
/** Startup parses ~2.4 MB of generated TypeScript: a few seconds on this machine, more when tests run in parallel. */
const startTimeoutMs = 60_000;

export interface BrokerOptions {
  /** Data directory; a fresh temp directory (removed at teardown) when omitted. */
  dir?: string;
  /** Extra --set key=value pairs. */
  sets?: Record<string, string | number | boolean>;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One broker process. `restart()` starts a new one on the same directory and configuration. */
export class BrokerProcess {
  readonly dir: string;
  readonly sets: Record<string, string>;
  port = 0;
  /** Every log line of every incarnation (parsed JSON when it parses). */
  readonly logLines: string[] = [];
  private child: ChildProcess | null = null;
  private exitInfo: Promise<ExitInfo> | null = null;
  private exited: ExitInfo | null = null;

  constructor(dir: string, sets: Record<string, string>) {
    this.dir = dir;
    this.sets = sets;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the current process has not exited. */
  get alive(): boolean {
    return this.child !== null && this.exited === null;
  }

  /** Exit of the current process, once it has exited. */
  get exit(): ExitInfo | null {
    return this.exited;
  }

  async start(): Promise<void> {
    if (this.alive) throw new Error('broker already running');
    const args = [cli, 'broker'];
    for (const [k, v] of Object.entries(this.sets)) args.push('--set', `${k}=${v}`);
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = null;
    // 'close' rather than 'exit': by then every log line the process wrote has been read.
    this.exitInfo = new Promise((res) =>
      child.once('close', (code, signal) => {
        this.exited = { code, signal };
        res(this.exited);
      }),
    );
    const port = await new Promise<number>((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => done(new Error(`broker did not start within ${startTimeoutMs} ms:\n${this.tail()}`)), startTimeoutMs);
      const onExit = (code: number | null, signal: string | null) =>
        done(new Error(`broker exited during startup (code ${code}, signal ${signal}):\n${this.tail()}`));
      const done = (err: Error | null, p?: number) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if (err) {
          child.kill('SIGKILL');
          rej(err);
        } else res(p!);
      };
      child.once('exit', onExit);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.logLines.push(line);
          if (line.includes('"listening for Kafka clients"')) {
            try {
              done(null, (JSON.parse(line) as { port: number }).port);
            } catch {
              // not a JSON line after all; keep waiting
            }
          }
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => this.logLines.push(`[stderr] ${chunk}`));
    });
    this.port = port;
  }

  /** The last log lines, for failure messages. */
  tail(n = 30): string {
    return this.logLines.slice(-n).join('\n');
  }

  /** Log lines at level error/fatal (pino levels 50/60). */
  errorLines(): string[] {
    return this.logLines.filter((l) => /"level":"(error|fatal)"|"level":(50|60)/.test(l) || l.startsWith('[stderr]'));
  }

  /** SIGSTOP: the process is frozen (its lease keeps running out) until resume(). */
  pause(): void {
    if (this.alive) this.child!.kill('SIGSTOP');
  }

  resume(): void {
    if (this.alive) this.child!.kill('SIGCONT');
  }

  /** Resolves with the exit status once the process has exited by itself. */
  exitedPromise(): Promise<ExitInfo> {
    return this.exitInfo ?? Promise.resolve(this.exited ?? { code: null, signal: null });
  }

  /** kill -9; resolves when the process is gone. */
  async kill9(): Promise<void> {
    if (!this.alive) return;
    this.child!.kill('SIGKILL');
    await this.exitInfo;
  }

  /** SIGTERM; resolves with the exit status (kill -9 after `timeoutMs`). */
  async terminate(timeoutMs = 45_000): Promise<ExitInfo> {
    if (!this.alive) return this.exited!;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exitInfo!;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Starts again on the same directory and the same port (so clients that keep reconnecting to their bootstrap
   * address find it again). Kafka's listener sets SO_REUSEADDR, as Node does, so the port is free at once.
   */
  async restart(): Promise<void> {
    if (this.alive) await this.kill9();
    if (this.port !== 0) this.sets.listeners = `PLAINTEXT://127.0.0.1:${this.port}`;
    await this.start();
  }
}

/**
 * Starts a broker child process for test `t` on a temp directory with port 0; it is killed and its directory
 * removed when `t` ends. The flush linger is short by default so acks come fast.
 */
export async function startBroker(t: Test, opts: BrokerOptions = {}): Promise<BrokerProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'skafos-it-'));
  const sets: Record<string, string> = {
    'log.dirs': dir,
    listeners: 'PLAINTEXT://127.0.0.1:0',
    'skafos.http.listener': '',
    'skafos.flush.linger.ms': '5',
  };
  for (const [k, v] of Object.entries(opts.sets ?? {})) sets[k] = String(v);
  const b = new BrokerProcess(dir, sets);
  t.teardown(async () => {
    await b.kill9();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  });
  await b.start();
  return b;
}
