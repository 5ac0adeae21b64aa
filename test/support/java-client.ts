// The Apache Kafka Java client in a child process (test/java, built by tools/test-deps.sh): one JVM per scenario
// runs the driver skafos.driver.Main, which takes commands as JSON lines on stdin and answers each with a JSON
// line (its protocol is described in test/java/README.md). Client objects (producers, consumers, admins) are
// named by the test and live until closed or until the driver exits. Every call has a deadline; the process is
// killed when the test ends.
//
//   const java = await JavaDriver.start(t);
//   await java.call('producer.create', { name: 'p', config: { 'bootstrap.servers': b } });
//   const { acks } = await java.call<{ acks: [number, number][] }>('producer.send', { name: 'p', topic, records });
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { repoRoot } from './broker.ts';

export const javaDir = join(repoRoot, 'test/java');
/** The Kafka version the harness pins (test/java/pom.xml). */
export const kafkaVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(join(javaDir, 'pom.xml'), 'utf8'))![1]!;
export const javaBin = process.env.SKAFOS_TEST_JAVA ?? 'java';
const startTimeoutMs = 30_000;
const defaultCallTimeoutMs = 60_000;
/** Bound on the driver's stderr kept for failure messages. */
const maxStderrChars = 64 * 1024;
/** Bound on the events kept (rebalance callbacks, errors). */
const maxEvents = 10_000;

/** The jars of the pinned Kafka artifacts, as resolved by test/java/build.sh. */
export function kafkaClasspath(): string {
  const file = join(javaDir, 'target/classpath.txt');
  if (!existsSync(file) || !existsSync(join(javaDir, 'target/classes/skafos/driver/Main.class')))
    throw new Error('the Java test harness is not built: run `bash tools/test-deps.sh` (npm test does)');
  return readFileSync(file, 'utf8').trim();
}

/** The error a driver command answered with: the Java exception's class name and message. */
export class JavaError extends Error {
  readonly op: string;
  readonly javaClass: string;
  readonly javaMessage: string;

  constructor(op: string, javaClass: string, javaMessage: string) {
    super(`${op}: ${javaClass}: ${javaMessage}`);
    this.op = op;
    this.javaClass = javaClass;
    this.javaMessage = javaMessage;
  }
}

export interface JavaEvent {
  event: string;
  consumer?: string;
  partitions?: string[];
  error?: string;
  message?: string;
}

interface Pending {
  op: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class JavaDriver {
  readonly events: JavaEvent[] = [];
  private stderr = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited = false;
  private readonly closed: Promise<void>;
  private eventWaiters: (() => void)[] = [];
  private readonly child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.child = child;
    this.closed = new Promise((res) =>
      child.once('close', (code, signal) => {
        this.exited = true;
        for (const [, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${p.op}: the Java driver exited (code ${code}, signal ${signal}):\n${this.stderrTail()}`));
        }
        this.pending.clear();
        res();
      }),
    );
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.onLine(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-maxStderrChars);
    });
  }

  /**
   * Starts a driver JVM for test `t` (killed when `t` ends) and waits for it to be ready. `mainClass` is the
   * client driver, or skafos.tools.ToolRunner for Kafka's command-line tools (test/support/kafka-tools.ts).
   */
  static async start(t: Test, mainClass = 'skafos.driver.Main'): Promise<JavaDriver> {
    const cp = `${join(javaDir, 'target/classes')}:${kafkaClasspath()}`;
    // A short-lived client process: the client compiler only and the serial collector start fastest.
    const args = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx512m', '-cp', cp, mainClass];
    const child = spawn(javaBin, args, { cwd: javaDir, stdio: ['pipe', 'pipe', 'pipe'] });
    const d = new JavaDriver(child);
    t.teardown(() => d.kill());
    await d.waitForEvent((e) => e.event === 'ready', startTimeoutMs);
    return d;
  }

  private onLine(line: string): void {
    let msg: { id?: number; ok?: boolean; result?: unknown; error?: string; message?: string } & JavaEvent;
    try {
      msg = JSON.parse(line);
    } catch {
      this.stderr = `${this.stderr}[stdout] ${line}\n`.slice(-maxStderrChars);
      return;
    }
    if (msg.id !== undefined) {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new JavaError(p.op, msg.error ?? '?', msg.message ?? ''));
      return;
    }
    if (this.events.length >= maxEvents) this.events.shift();
    this.events.push(msg);
    const waiters = this.eventWaiters;
    this.eventWaiters = [];
    for (const w of waiters) w();
  }

  /** Runs one command; rejects with a JavaError when the driver answers an error, or after timeoutMs. */
  call<T = unknown>(op: string, params: Record<string, unknown> = {}, timeoutMs = defaultCallTimeoutMs): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${op}: the Java driver has exited:\n${this.stderrTail()}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${op}: no answer from the Java driver within ${timeoutMs} ms:\n${this.stderrTail()}`));
      }, timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (v: unknown) => void, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ ...params, id, op })}\n`);
    });
  }

  /** Like call, but answers the Java exception instead of rejecting with it. */
  async attempt<T = unknown>(
    op: string,
    params: Record<string, unknown> = {},
    timeoutMs = defaultCallTimeoutMs,
  ): Promise<{ ok: true; result: T } | { ok: false; error: string; message: string }> {
    try {
      return { ok: true, result: await this.call<T>(op, params, timeoutMs) };
    } catch (err) {
      if (err instanceof JavaError) return { ok: false, error: err.javaClass, message: err.javaMessage };
      throw err;
    }
  }

  /** Resolves with the first event (already seen or to come) matching `pred`; rejects after timeoutMs. */
  async waitForEvent(pred: (e: JavaEvent) => boolean, timeoutMs: number): Promise<JavaEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.exited) throw new Error(`the Java driver exited:\n${this.stderrTail()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching Java driver event within ${timeoutMs} ms:\n${this.stderrTail()}`);
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        this.eventWaiters.push(() => {
          clearTimeout(timer);
          res();
        });
      });
    }
  }

  stderrTail(lines = 40): string {
    return this.stderr.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Asks the driver to close its clients and exit; kills it after timeoutMs. */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.exited) return;
    this.child.stdin!.write(`${JSON.stringify({ op: 'exit' })}\n`);
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.closed;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    await this.closed;
  }
}
