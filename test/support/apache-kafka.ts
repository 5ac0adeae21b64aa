// Apache Kafka itself as a reference broker: a single-node KRaft broker+controller from the jars the Java
// harness pins (test/java/pom.xml, built by tools/test-deps.sh), to run a test scenario against both it and
// Skafos. Everything is on 127.0.0.1 on free ports, with its data, configuration and log (server.log) in a
// temporary directory that is removed afterwards; the log never goes to the test output (its tail is in the
// error when the start fails). The broker exits when this process does, however it ends (ParentWatch below);
// a directory left by a killed test process is removed by the next start.
//
//   const kafka = await startApacheKafka(t);   // one per test file; stopped and removed when t ends
//   kafka.bootstrap                            // '127.0.0.1:<port>'
//
// Start: the storage is formatted (kafka.tools.StorageTool format, static quorum of this one controller), then
// kafka.Kafka runs with the generated server.properties (under skafos.driver.ParentWatch, so that it exits when
// this process dies, however it dies); ready once the log says the server started and the
// port accepts connections (bounded by startTimeoutMs). Stop: SIGTERM, SIGKILL after stopTimeoutMs.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { javaBin, javaDir, kafkaClasspath } from './java-client.ts';
import { freePorts } from './ports.ts';

/** A JVM start plus KRaft's first election and metadata load: ~5-15 s on this machine, more under load. */
const startTimeoutMs = 120_000;
const formatTimeoutMs = 60_000;
const stopTimeoutMs = 20_000;

export interface ApacheKafka {
  bootstrap: string;
  port: number;
  /** The broker's JVM (its CPU time and memory are read from /proc by the bench). */
  pid: number;
  dir: string;
  /** The last lines of server.log. */
  logTail(lines?: number): Promise<string>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * Starts a reference broker for test `t`; `overrides` are extra server.properties lines. Single node, so the
 * internal topics have one replica; the initial rebalance delay is 0 as in Kafka's own tests.
 */
export async function startApacheKafka(
  t: Pick<Test, 'teardown'>,
  overrides: Record<string, string | number> = {},
  options: { jvmOptions?: string[] } = {},
): Promise<ApacheKafka> {
  const cp = kafkaClasspath();
  sweepOrphans();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  writeFileSync(join(dir, 'owner'), String(process.pid));
  const [port, controllerPort] = await freePorts(2);
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 5,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    ...overrides,
  };
  const propsFile = join(dir, 'server.properties');
  writeFileSync(
    propsFile,
    `${Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  const logFile = join(dir, 'server.log');
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(
    log4j,
    [
      'status = warn',
      'appender.file.type = File',
      'appender.file.name = FILE',
      `appender.file.fileName = ${logFile}`,
      'appender.file.layout.type = PatternLayout',
      'appender.file.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.file.ref = FILE',
      '',
    ].join('\n'),
  );
  // C1 only: less compilation work competing for a busy machine's cores during the start; a test broker needs no peak speed.
  // options.jvmOptions replace these (the bench runs Kafka as its start script does).
  const jvm = [
    ...(options.jvmOptions ?? ['-Xmx768m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']),
    `-Dlog4j2.configurationFile=${log4j}`,
    '-cp',
    cp,
  ];

  let child: ChildProcess | null = null;
  const logTail = async (lines = 40) =>
    (await readFile(logFile, 'utf8').catch(() => '(no server.log)')).trimEnd().split('\n').slice(-lines).join('\n');
  const stop = async () => {
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const c = child;
      const gone = new Promise((res) => c.once('close', res));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), stopTimeoutMs);
      await gone;
      clearTimeout(timer);
      live.delete(c);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  t.teardown(stop);

  // Kafka's cluster ids are 16 random bytes in unpadded base64url.
  const clusterId = randomBytes(16).toString('base64url');
  await execJava([...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile], dir, formatTimeoutMs);

  const out = openSync(join(dir, 'stdout.log'), 'a');
  // Under ParentWatch, which exits the JVM when its stdin (a pipe from this process) closes: the broker does
  // not outlive a test process that was killed.
  const watched = [...jvm.slice(0, -1), `${join(javaDir, 'target/classes')}:${cp}`, 'skafos.driver.ParentWatch', 'kafka.Kafka', propsFile];
  child = spawn(javaBin, watched, { cwd: dir, stdio: ['pipe', out, out] });
  closeSync(out);
  live.add(child);
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Apache Kafka exited during startup (${child.exitCode ?? child.signalCode}):\n${await logTail()}`);
    }
    const text = await readFile(logFile, 'utf8').catch(() => '');
    if (text.includes('Kafka Server started') && (await accepts(port!))) break;
    if (Date.now() > deadline) throw new Error(`Apache Kafka did not start within ${startTimeoutMs} ms:\n${await logTail()}`);
    await sleep(200);
  }
  return { bootstrap: `127.0.0.1:${port}`, port: port!, pid: child.pid!, dir, logTail, stop };
}

const dirPrefix = 'skafos-apache-kafka-';

/** Removes the directories of reference brokers whose test process died without cleaning up (killed). */
function sweepOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(dirPrefix)) continue;
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, 'owner'), 'utf8'));
    } catch {
      continue; // being created, or not ours
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function execJava(args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(javaBin, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`java ${args.slice(-5).join(' ')} failed: ${err.message}\n${stdout}${stderr}`.slice(0, 4000)));
      else resolve(stdout);
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, timeout: 2000 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}
