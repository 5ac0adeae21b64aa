// A real etcd for the tests (Debian's etcd-server; the binary is `etcd`, or $SKAFOS_TEST_ETCD_BIN).
//
//   sharedEtcd()     the one etcd of the test run, on 127.0.0.1 with random free client and peer ports and a temp
//                    data dir (fsync on: durability is tested). The first test file that asks starts it under a
//                    small detached supervisor (this file run as a script) and records it in
//                    /tmp/skafos-etcd/state.json ($SKAFOS_TEST_ETCD_STATE_DIR); later test files, in parallel or
//                    not, attach to it if it is healthy. Each user registers its pid under users/; the supervisor
//                    stops etcd and deletes its data once no user has been alive for a grace period (30 s), so
//                    a run leaves nothing behind, even when a test process is killed. Use a fresh random key
//                    prefix per test: other files share the etcd, and its revisions are global.
//   EtcdMember       an etcd owned by one test file (EtcdMember.create()), for tests that need the whole etcd:
//                    exact store-wide revision arithmetic, compaction, outages. stop()/start() stop and restart
//                    the SAME member (same data dir, same ports); pause()/resume() freeze it (SIGSTOP) to
//                    simulate a hung server. A detached reaper kills it if the test process dies.
//
// SKAFOS_TEST_ETCD_ENDPOINTS=http://host:2379[,...] runs against an external etcd: sharedEtcd() returns it and
// starts nothing; tests that need an EtcdMember skip (etcdMemberSkip()).

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

const stateDir = process.env.SKAFOS_TEST_ETCD_STATE_DIR ?? '/tmp/skafos-etcd';
const etcdBin = process.env.SKAFOS_TEST_ETCD_BIN ?? 'etcd';
/** How long the shared etcd outlives its last user. */
const idleGraceMs = 30_000;
const startTimeoutMs = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function randomName(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function externalEtcdEndpoints(): string[] | null {
  const raw = process.env.SKAFOS_TEST_ETCD_ENDPOINTS?.trim();
  return raw ? raw.split(',').map((e) => e.trim()) : null;
}

let binaryChecked: string | null | undefined;
/** Why no etcd can be started here (no binary), or null. */
export function etcdBinaryMissing(): string | null {
  if (binaryChecked === undefined) {
    const r = spawnSync(etcdBin, ['--version'], { encoding: 'utf8' });
    binaryChecked =
      r.status === 0
        ? null
        : `${etcdBin} not found (apt-get install etcd-server, or set SKAFOS_TEST_ETCD_BIN / SKAFOS_TEST_ETCD_ENDPOINTS)`;
  }
  return binaryChecked;
}

/** A reason to skip tests that need their own EtcdMember, or false. */
export function etcdMemberSkip(): string | false {
  if (externalEtcdEndpoints() !== null) return 'SKAFOS_TEST_ETCD_ENDPOINTS is set: no etcd member is started';
  return etcdBinaryMissing() ?? false;
}

/** Whether etcd at `endpoint` answers its health check. */
export async function etcdHealthy(endpoint: string, timeoutMs = 1000): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function etcdArgs(name: string, dataDir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name',
    name,
    '--data-dir',
    dataDir,
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `${name}=${peer}`,
    '--initial-cluster-state',
    'new',
    '--initial-cluster-token',
    `${name}-${randomName()}`,
    // A single node elects itself within ~100 ms.
    '--heartbeat-interval',
    '10',
    '--election-timeout',
    '100',
    '--logger',
    'zap',
    '--log-level',
    'warn',
  ];
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A member owned by this process.

export class EtcdMember {
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly name: string;
  clientPort = 0;
  peerPort = 0;
  /** Extra etcd flags, e.g. ['--auth-token-ttl', '1']. */
  readonly extraArgs: readonly string[];
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #reaper: ChildProcess | null = null;

  private constructor(dir: string, extraArgs: readonly string[]) {
    this.dir = dir;
    this.extraArgs = extraArgs;
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'etcd.log');
    this.name = 'skafos-test';
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  get endpoints(): string[] {
    return [this.endpoint];
  }

  get running(): boolean {
    return this.#proc !== null;
  }

  get pid(): number | null {
    return this.#proc?.pid ?? null;
  }

  /** Starts a new member (fresh data dir, free ports) and waits until it is healthy. */
  static async create(extraArgs: readonly string[] = []): Promise<EtcdMember> {
    const missing = etcdBinaryMissing();
    if (missing !== null) throw new Error(missing);
    const member = new EtcdMember(mkdtempSync(join(tmpdir(), 'skafos-etcd-member-')), extraArgs);
    member.#startReaper();
    for (let attempt = 1; ; attempt++) {
      member.clientPort = await freePort();
      member.peerPort = await freePort();
      if (member.clientPort === member.peerPort) continue;
      try {
        await member.start();
        return member;
      } catch (err) {
        // Another process may have taken a port between freePort() and etcd's bind: try others.
        if (attempt >= 3 || !/address already in use/.test(tail(member.logFile, 50))) {
          await member.destroy();
          throw err;
        }
      }
    }
  }

  /** (Re)starts the member with its data dir and ports, and waits until it is healthy. */
  async start(): Promise<void> {
    if (this.#proc !== null) throw new Error('etcd member already running');
    const log = openSync(this.logFile, 'a');
    const proc = spawn(etcdBin, [...etcdArgs(this.name, this.dataDir, this.clientPort, this.peerPort), ...this.extraArgs], {
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.#proc = proc;
    let exited = false;
    this.#exited = new Promise((resolve) =>
      proc.once('exit', () => {
        exited = true;
        if (this.#proc === proc) this.#proc = null;
        resolve();
      }),
    );
    writeFileSync(join(this.dir, 'etcd.pid'), String(proc.pid));
    const deadline = Date.now() + startTimeoutMs;
    while (!(await etcdHealthy(this.endpoint, 500))) {
      if (exited) throw new Error(`etcd exited at start:\n${tail(this.logFile)}`);
      if (Date.now() > deadline) {
        await this.stop('SIGKILL');
        throw new Error(`etcd not healthy within ${startTimeoutMs} ms:\n${tail(this.logFile)}`);
      }
      await sleep(20);
    }
  }

  /** Stops the member (SIGTERM: clean shutdown; SIGKILL: crash) and waits for it to exit. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (proc === null) return;
    try {
      process.kill(proc.pid!, 'SIGCONT'); // a paused member cannot handle SIGTERM
    } catch {
      // gone
    }
    proc.kill(signal);
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await this.#exited;
    clearTimeout(killer);
  }

  /** Freezes the member: it keeps its connections but answers nothing (a hung server). */
  pause(): void {
    if (this.#proc !== null) process.kill(this.#proc.pid!, 'SIGSTOP');
  }

  resume(): void {
    if (this.#proc !== null) process.kill(this.#proc.pid!, 'SIGCONT');
  }

  /** Stops the member and deletes its files. */
  async destroy(): Promise<void> {
    await this.stop('SIGKILL');
    this.#reaper?.kill('SIGKILL');
    this.#reaper = null;
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A detached shell that kills the member and deletes its files if this process dies without destroy(). */
  #startReaper(): void {
    const script = [
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
      'p=$(cat "$2/etcd.pid" 2>/dev/null)',
      '[ -n "$p" ] && [ "$(cat /proc/$p/comm 2>/dev/null)" = etcd ] && kill -9 "$p"',
      'sleep 0.2; rm -rf "$2"',
    ].join('\n');
    this.#reaper = spawn('sh', ['-c', script, 'reaper', String(process.pid), this.dir], { detached: true, stdio: 'ignore' });
    this.#reaper.unref();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The shared etcd of a test run.

interface SharedState {
  endpoint: string;
  etcdPid: number;
  supervisorPid: number;
  dataDir: string;
  startedAtMs: number;
}

const statePath = () => join(stateDir, 'state.json');
const usersDir = () => join(stateDir, 'users');
const lockDir = () => join(stateDir, 'lock');

function readState(): SharedState | null {
  try {
    return JSON.parse(readFileSync(statePath(), 'utf8')) as SharedState;
  } catch {
    return null;
  }
}

/** Takes the start/stop lock (a directory holding the owner's pid); false if another live process has it. */
function tryLock(): boolean {
  try {
    mkdirSync(lockDir());
    writeFileSync(join(lockDir(), 'owner'), String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lockDir(), 'owner'), 'utf8'));
    } catch {
      // being created; or its creator died right after mkdir (then the age check below clears it)
    }
    const stale = Number.isInteger(owner) && owner > 0 ? !alive(owner) : lockAgeMs() > 10_000;
    if (stale) rmSync(lockDir(), { recursive: true, force: true });
    return false;
  }
}

function lockAgeMs(): number {
  try {
    return Date.now() - statSync(lockDir()).mtimeMs;
  } catch {
    return 0;
  }
}

function unlock(): void {
  rmSync(lockDir(), { recursive: true, force: true });
}

let registered = false;
function registerUser(): void {
  if (registered) return;
  registered = true;
  const file = join(usersDir(), String(process.pid));
  writeFileSync(file, '');
  process.once('exit', () => rmSync(file, { force: true }));
}

export interface SharedEtcd {
  endpoints: string[];
  /** An etcd given by SKAFOS_TEST_ETCD_ENDPOINTS (nothing was started). */
  external: boolean;
}

let shared: Promise<SharedEtcd> | null = null;

/** The etcd of this test run: started on first use, reused across test files while healthy. */
export function sharedEtcd(): Promise<SharedEtcd> {
  shared ??= attachShared().catch((err: unknown) => {
    shared = null;
    throw err;
  });
  return shared;
}

async function attachShared(): Promise<SharedEtcd> {
  const external = externalEtcdEndpoints();
  if (external !== null) return { endpoints: external, external: true };
  const missing = etcdBinaryMissing();
  if (missing !== null) throw new Error(missing);
  mkdirSync(usersDir(), { recursive: true });
  const deadline = Date.now() + 2 * startTimeoutMs;
  while (Date.now() < deadline) {
    if (!tryLock()) {
      await sleep(50);
      continue;
    }
    try {
      const state = readState();
      if (state !== null && alive(state.etcdPid) && alive(state.supervisorPid) && (await etcdHealthy(state.endpoint))) {
        registerUser(); // under the lock: the supervisor checks users under it before stopping etcd
        return { endpoints: [state.endpoint], external: false };
      }
      rmSync(statePath(), { force: true });
      registerUser();
      const endpoint = await startSupervisor();
      return { endpoints: [endpoint], external: false };
    } finally {
      unlock();
    }
  }
  throw new Error(`could not start or attach to the shared test etcd (state in ${stateDir})`);
}

async function startSupervisor(): Promise<string> {
  const log = join(stateDir, 'supervisor.log');
  const fd = openSync(log, 'w');
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), 'supervise'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, SKAFOS_TEST_ETCD_STATE_DIR: stateDir },
  });
  closeSync(fd);
  proc.unref();
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    const state = readState();
    if (state !== null && state.supervisorPid === proc.pid) return state.endpoint;
    if (!alive(proc.pid!) || Date.now() > deadline) throw new Error(`shared test etcd did not start:\n${tail(log)}`);
    await sleep(20);
  }
}

/** The supervisor: runs etcd, publishes state.json, and stops etcd once no user is alive for idleGraceMs. */
async function supervise(): Promise<void> {
  const member = await EtcdMember.create();
  const state: SharedState = {
    endpoint: member.endpoint,
    etcdPid: member.pid!,
    supervisorPid: process.pid,
    dataDir: member.dataDir,
    startedAtMs: Date.now(),
  };
  writeFileSync(`${statePath()}.tmp`, JSON.stringify(state));
  renameSync(`${statePath()}.tmp`, statePath());
  console.log(`etcd ${member.endpoint} pid ${member.pid}, data ${member.dataDir}`);
  let idleSince = Date.now();
  for (;;) {
    await sleep(500);
    if (!member.running) {
      console.log('etcd exited');
      break;
    }
    const users = readdirSync(usersDir())
      .map(Number)
      .filter((pid) => {
        if (alive(pid)) return true;
        rmSync(join(usersDir(), String(pid)), { force: true });
        return false;
      });
    if (users.length > 0) idleSince = Date.now();
    if (Date.now() - idleSince < idleGraceMs || !tryLock()) continue;
    try {
      if (readdirSync(usersDir()).some((f) => alive(Number(f)))) continue; // a user registered meanwhile
      rmSync(statePath(), { force: true });
      console.log('idle: stopping etcd');
      break;
    } finally {
      unlock();
    }
  }
  const current = readState();
  if (current?.supervisorPid === process.pid) rmSync(statePath(), { force: true });
  await member.destroy();
}

if (import.meta.main && process.argv[2] === 'supervise') {
  if (!existsSync(usersDir())) mkdirSync(usersDir(), { recursive: true });
  await supervise();
}
