// A real S3 implementation for the tests: Debian's radosgw on a throwaway one-node Ceph cluster (one monitor,
// one memstore OSD, no manager), everything on 127.0.0.1 and all data under one temporary directory.
//
//   const s3 = await s3TestEndpoint();           // starts the cluster, or attaches to the running one
//   const { bucket, cleanup } = await createTestBucket(s3);
//
// One cluster per test run, shared by the test files (which tap runs in parallel processes). Its state lives in
// STATE_DIR (default /tmp/skafos-radosgw, or SKAFOS_TEST_RADOSGW_DIR):
//   lock         held (O_EXCL file with the owner's pid and start time) while a process starts, checks or
//                stops the cluster; a lock whose owner died is broken
//   state.json   endpoint, credentials, the daemons' pids and the cluster directory
//   clients/     one lease file per attached process (pid and start time)
//   cluster-*/   ceph.conf, the monitor's store, the OSD's directory, logs
// The first process starts the cluster (1 to 3 s; ~350 MB of memory, more while tests hold data) and a
// detached reaper; later ones find state.json, check the daemons are alive and radosgw answers, and attach (and
// restart the reaper if it is gone). The reaper stops the daemons (SIGKILL: the data is throwaway) and removes
// the directory once no attached process has been alive for SKAFOS_TEST_RADOSGW_IDLE_MS (default 5 minutes), so
// consecutive `npm test` runs reuse one cluster and nothing is left behind for long; it also cleans up if a
// daemon dies (the next attach starts a new cluster).
//
// An external S3 endpoint (MinIO, AWS) replaces all this when SKAFOS_TEST_S3_ENDPOINT is set (with
// SKAFOS_TEST_S3_ACCESS_KEY_ID, SKAFOS_TEST_S3_SECRET_ACCESS_KEY, optionally SKAFOS_TEST_S3_REGION and
// SKAFOS_TEST_S3_BUCKET_PREFIX, and SKAFOS_TEST_S3_PATH_STYLE=false for virtual-host addressing): nothing is
// started.
//
// As a command: node test/support/radosgw.ts start | status | stop   (reap is the reaper's own entry point).
// SKAFOS_TEST_CEPH_CONF_EXTRA adds lines to the [global] section of a new cluster's ceph.conf (debug levels...).
//
// Facts this relies on (Ceph 16 "pacific", Debian 12): radosgw hangs at authentication unless every messenger
// mode is crc; auth none is fine on loopback; pools need size 1 and few placement groups (one OSD); the monitor
// proposes map changes once a second by default, which makes radosgw's pool creation take ~10 s, so the paxos
// intervals are shortened; radosgw-admin and the daemons need distinct admin sockets.

import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { BucketLocationConstraint, S3Client } from '@aws-sdk/client-s3';
import { freePorts } from './ports.ts';

export interface S3TestEndpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** Test buckets are named <bucketPrefix><random>. */
  bucketPrefix: string;
  /** True for SKAFOS_TEST_S3_ENDPOINT (nothing started here). */
  external: boolean;
  /** radosgw only: an SSE-KMS key id its built-in test KMS knows, and where the cluster's logs are. */
  kmsKeyId: string | null;
  logDir: string | null;
}

export const STATE_DIR = process.env.SKAFOS_TEST_RADOSGW_DIR ?? '/tmp/skafos-radosgw';
const IDLE_MS = Number(process.env.SKAFOS_TEST_RADOSGW_IDLE_MS ?? 5 * 60_000);
const LOCK_TIMEOUT_MS = 120_000;
const START_TIMEOUT_MS = 90_000;
const STATE_VERSION = 2;
const REGION = 'us-east-1';
const KMS_KEY_ID = 'skafos-test-key';
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'monmaptool', 'ceph'];

interface ProcId {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22): tells a reused pid apart. */
  start: string;
}

interface State {
  version: number;
  id: string;
  dir: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  daemons: Record<string, ProcId>;
  reaper: ProcId | null;
  startedAt: number;
  startMs: number;
}

// ---------------------------------------------------------------------------------------------------------
// Public API

let attached: Promise<S3TestEndpoint> | undefined;

/** The S3 endpoint for this test process: the external one from the environment, or the shared radosgw. */
export function s3TestEndpoint(): Promise<S3TestEndpoint> {
  attached ??= attach();
  return attached;
}

/** A new empty bucket; `cleanup` deletes its objects, aborts its uploads and deletes it. */
export async function createTestBucket(
  s3: S3TestEndpoint,
  label = '',
): Promise<{ bucket: string; client: S3Client; cleanup: () => Promise<void> }> {
  const { CreateBucketCommand, DeleteBucketCommand } = await sdk();
  const client = await adminClient(s3);
  const suffix = `${label
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '')
    .slice(0, 20)}${label ? '-' : ''}${randomBytes(6).toString('hex')}`;
  const bucket = `${s3.bucketPrefix}${suffix}`.slice(0, 63);
  // Outside us-east-1, AWS wants the region restated.
  await client.send(
    new CreateBucketCommand({
      Bucket: bucket,
      ...(s3.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: s3.region as BucketLocationConstraint } }),
    }),
  );
  const cleanup = async () => {
    try {
      await emptyBucket(client, bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    } finally {
      client.destroy();
    }
  };
  return { bucket, client, cleanup };
}

/** The SDK, loaded on first use (the reaper, which runs this file too, does not need it). */
const sdk = () => import('@aws-sdk/client-s3');

/** A plain SDK client for the endpoint (for setup and checks behind the store's back). */
export async function adminClient(s3: S3TestEndpoint): Promise<S3Client> {
  const { S3Client } = await sdk();
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  const { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command } = await sdk();
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000, EncodingType: 'url' }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: decodeURIComponent(o.Key!.replaceAll('+', ' ')) }));
    if (keys.length === 0) break;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
  }
}

// ---------------------------------------------------------------------------------------------------------
// Attaching

async function attach(): Promise<S3TestEndpoint> {
  const external = process.env.SKAFOS_TEST_S3_ENDPOINT;
  if (external !== undefined && external !== '') {
    const accessKeyId = process.env.SKAFOS_TEST_S3_ACCESS_KEY_ID;
    const secretAccessKey = process.env.SKAFOS_TEST_S3_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new Error('SKAFOS_TEST_S3_ENDPOINT is set: SKAFOS_TEST_S3_ACCESS_KEY_ID and SKAFOS_TEST_S3_SECRET_ACCESS_KEY are needed too');
    }
    return {
      endpoint: external.replace(/\/+$/, ''),
      region: process.env.SKAFOS_TEST_S3_REGION || REGION,
      accessKeyId,
      secretAccessKey,
      forcePathStyle: process.env.SKAFOS_TEST_S3_PATH_STYLE !== 'false',
      bucketPrefix: process.env.SKAFOS_TEST_S3_BUCKET_PREFIX || 'skafos-test-',
      external: true,
      kmsKeyId: null,
      logDir: null,
    };
  }
  const state = await withLock(async () => {
    let current = await readState();
    if (current !== null && !(await healthy(current))) {
      await teardown(current, 'unhealthy');
      current = null;
    }
    if (current !== null && (current.reaper === null || !isAlive(current.reaper))) {
      // Whatever ended it, a cluster must not be left without its reaper.
      current.reaper = spawnReaper(current);
      await writeState(current);
    }
    current ??= await startCluster().catch((err: unknown) => {
      // One more try, with new ports, unless it cannot work (a port taken between probing and binding it).
      if ((err as Error).message.includes('not found on PATH')) throw err;
      process.stderr.write(`# radosgw: first start failed, retrying: ${(err as Error).message.split('\n')[0]}\n`);
      return startCluster();
    });
    await registerLease(); // under the lock, so the reaper cannot stop the cluster in between
    return current;
  });
  return {
    endpoint: state.endpoint,
    region: REGION,
    accessKeyId: state.accessKeyId,
    secretAccessKey: state.secretAccessKey,
    forcePathStyle: true,
    bucketPrefix: 'skafos-test-',
    external: false,
    kmsKeyId: KMS_KEY_ID,
    logDir: join(state.dir, 'log'),
  };
}

const clientsDir = () => join(STATE_DIR, 'clients');
const statePath = () => join(STATE_DIR, 'state.json');

async function registerLease(): Promise<void> {
  await mkdir(clientsDir(), { recursive: true });
  const me = procId(process.pid);
  if (me === null) return; // no /proc: the reaper then only goes by idle time without leases
  const path = join(clientsDir(), `${me.pid}-${me.start}`);
  await writeFile(path, '');
  process.once('exit', () => {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  });
}

/** Leases of live processes; removes the others. */
async function liveLeases(): Promise<number> {
  let names: string[];
  try {
    names = await readdir(clientsDir());
  } catch {
    return 0;
  }
  let live = 0;
  for (const name of names) {
    const m = /^(\d+)-(\d+)$/.exec(name);
    if (m && isAlive({ pid: Number(m[1]), start: m[2]! })) live++;
    else await unlink(join(clientsDir(), name)).catch(() => {});
  }
  return live;
}

async function readState(): Promise<State | null> {
  let state: State;
  try {
    state = JSON.parse(await readFile(statePath(), 'utf8')) as State;
  } catch {
    return null;
  }
  // Left by another version of this file: unusable, but its daemons and directory can still be cleaned.
  if (state.version !== STATE_VERSION) state = { ...state, daemons: state.daemons ?? {}, reaper: state.reaper ?? null, endpoint: '' };
  return state;
}

/** Its daemons run and radosgw answers (patiently: a busy machine must not get a cluster in use torn down). */
async function healthy(state: State): Promise<boolean> {
  if (state.endpoint === '') return false;
  for (const id of Object.values(state.daemons)) if (!isAlive(id)) return false;
  for (let attempt = 1; attempt <= 3; attempt++) {
    if ((await httpStatus(state.endpoint, 5000)) === 200) return true;
    await sleep(500);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------
// Starting

async function startCluster(): Promise<State> {
  const missing = BINARIES.filter((b) => !onPath(b));
  if (missing.length > 0) {
    throw new Error(
      `radosgw test harness: ${missing.join(', ')} not found on PATH; install the Debian packages radosgw ceph-mon ceph-osd (tools/test-deps.sh does), or point SKAFOS_TEST_S3_ENDPOINT at an S3 store`,
    );
  }
  const started = Date.now();
  await mkdir(STATE_DIR, { recursive: true });
  const dir = await mkdtemp(join(STATE_DIR, 'cluster-'));
  const state: State = {
    version: STATE_VERSION,
    id: randomBytes(8).toString('hex'),
    dir,
    endpoint: '',
    accessKeyId: `SKAFOS${randomBytes(7).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(20).toString('base64url'),
    daemons: {},
    reaper: null,
    startedAt: started,
    startMs: 0,
  };
  // Written first, so that a failure half-way leaves something teardown() can clean.
  await writeState(state);
  try {
    const [monPort, rgwPort] = await freePorts(2);
    const fsid = randomUUID();
    for (const sub of ['mon/mon.a', 'osd/osd.0', 'run', 'log', 'rgw']) await mkdir(join(dir, sub), { recursive: true });
    const conf = join(dir, 'ceph.conf');
    await writeFile(conf, cephConf(dir, fsid, monPort!, rgwPort!));
    const c = ['-c', conf];

    await exec('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')], dir);
    await exec('ceph-mon', [...c, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap')], dir);
    state.daemons.mon = daemon('ceph-mon', [...c, '-f', '-i', 'a'], dir, 'mon.out');
    await writeState(state);

    const osdUuid = randomUUID();
    const osdId = (await exec('ceph', [...c, '--connect-timeout', '30', 'osd', 'new', osdUuid], dir)).trim();
    if (osdId !== '0') throw new Error(`ceph osd new returned ${JSON.stringify(osdId)}, expected 0`);
    await exec('ceph-osd', [...c, '-i', '0', '--mkfs', '--osd-uuid', osdUuid], dir);
    state.daemons.osd = daemon('ceph-osd', [...c, '-f', '-i', '0'], dir, 'osd.out');
    state.daemons.rgw = daemon('radosgw', [...c, '-f', '-n', 'client.rgw'], dir, 'rgw.out');
    await writeState(state);

    const endpoint = `http://127.0.0.1:${rgwPort}`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while ((await httpStatus(endpoint, 1000)) !== 200) {
      for (const [name, id] of Object.entries(state.daemons)) if (!isAlive(id)) throw new Error(`${name} exited during start`);
      if (Date.now() > deadline) throw new Error(`radosgw did not answer on ${endpoint} within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(100);
    }
    await exec(
      'radosgw-admin',
      [
        ...c,
        'user',
        'create',
        '--uid',
        'skafos-test',
        '--display-name',
        'skafos tests',
        '--access-key',
        state.accessKeyId,
        '--secret-key',
        state.secretAccessKey,
      ],
      dir,
    );
    state.endpoint = endpoint;
    state.reaper = spawnReaper(state);
    state.startMs = Date.now() - started;
    await writeState(state);
    process.stderr.write(`# radosgw: started a one-node Ceph cluster in ${state.startMs} ms at ${endpoint} (${dir})\n`);
    return state;
  } catch (err) {
    const logs = await logTails(dir);
    await teardown(state, 'failed start');
    throw new Error(`radosgw test harness: could not start the cluster in ${dir}: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind msgr2 = true
ms client mode = crc
ms service mode = crc
ms cluster mode = crc
ms mon client mode = crc
ms mon service mode = crc
ms mon cluster mode = crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = false
run dir = ${dir}/run
admin socket = ${dir}/run/$name.$pid.asok
log file = ${dir}/log/$name.log
pid file =
crash dir = ${dir}/crash
mon data = ${dir}/mon/$name
osd data = ${dir}/osd/$name
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
paxos propose interval = 0.01
paxos min wait = 0.001
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = ${1536 * 1024 * 1024}
osd op num shards = 2
osd op num threads per shard = 1
osd min pg log entries = 100
osd max pg log entries = 500
osd pg log dups tracked = 500
${process.env.SKAFOS_TEST_CEPH_CONF_EXTRA ?? ''}

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw data = ${dir}/rgw
rgw enable usage log = false
rgw dynamic resharding = false
rgw gc obj min wait = 30
rgw gc processor period = 30
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = ${KMS_KEY_ID}=${randomBytes(32).toString('base64')}
`;
}

function daemon(cmd: string, args: string[], dir: string, outName: string): ProcId {
  const fd = openSync(join(dir, 'log', outName), 'a');
  try {
    // Fewer glibc malloc arenas: the daemons' resident memory stays near what they use.
    const child = spawn(cmd, args, { cwd: dir, detached: true, stdio: ['ignore', fd, fd], env: { ...cleanEnv(), MALLOC_ARENA_MAX: '2' } });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    return procId(child.pid) ?? { pid: child.pid, start: '' };
  } finally {
    closeSync(fd);
  }
}

/**
 * The environment of the processes that outlive this one, without the test runner's: tap's NODE_OPTIONS hooks
 * a node process into the run, which ends it with the run.
 */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'TZ']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function spawnReaper(state: State): ProcId | null {
  const fd = openSync(join(state.dir, 'log', 'reaper.out'), 'a');
  try {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'reap', state.id], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...cleanEnv(), SKAFOS_TEST_RADOSGW_DIR: STATE_DIR, SKAFOS_TEST_RADOSGW_IDLE_MS: String(IDLE_MS) },
    });
    child.unref();
    return child.pid === undefined ? null : procId(child.pid);
  } finally {
    closeSync(fd);
  }
}

async function writeState(state: State): Promise<void> {
  const tmp = `${statePath()}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2));
  await rename(tmp, statePath());
}

// ---------------------------------------------------------------------------------------------------------
// Stopping

/** Kills the daemons (only processes whose command line names the cluster directory) and removes everything. */
async function teardown(state: State, why: string): Promise<void> {
  const ids = Object.values(state.daemons);
  for (const id of ids) {
    if (isAlive(id) && cmdline(id.pid).includes(state.dir)) {
      try {
        process.kill(id.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  const deadline = Date.now() + 10_000;
  while (ids.some((id) => isAlive(id)) && Date.now() < deadline) await sleep(50);
  if (state.reaper !== null && state.reaper.pid !== process.pid && isAlive(state.reaper)) {
    try {
      process.kill(state.reaper.pid, 'SIGTERM');
    } catch {
      // gone meanwhile
    }
  }
  if (state.dir.startsWith(STATE_DIR)) await rm(state.dir, { recursive: true, force: true });
  const current = await readState();
  if (current === null || current.id === state.id) await rm(statePath(), { force: true });
  if (why !== 'failed start') process.stderr.write(`# radosgw: stopped cluster ${state.dir} (${why})\n`);
}

/** The reaper: stops the cluster once no attached process is alive for IDLE_MS, or when a daemon dies. */
async function reap(id: string): Promise<void> {
  let idleSince: number | null = null;
  for (;;) {
    await sleep(1000);
    const state = await readState();
    if (state === null || state.id !== id) return; // stopped or replaced by someone else
    const dead = Object.entries(state.daemons).find(([, p]) => !isAlive(p));
    const leases = await liveLeases();
    if (leases > 0 && dead === undefined) {
      idleSince = null;
      continue;
    }
    idleSince ??= Date.now();
    if (dead === undefined && Date.now() - idleSince < IDLE_MS) continue;
    const stopped = await withLock(async () => {
      const again = await readState();
      if (again === null || again.id !== id) return true;
      if (dead === undefined && (await liveLeases()) > 0) return false;
      await teardown({ ...again, reaper: null }, dead === undefined ? `idle for ${Math.round(IDLE_MS / 1000)} s` : `${dead[0]} died`);
      return true;
    });
    if (stopped) return;
    idleSince = null;
  }
}

/** Stops the cluster now, whoever is attached. */
export async function stopRadosgw(): Promise<void> {
  await withLock(async () => {
    const state = await readState();
    if (state !== null) await teardown(state, 'stop requested');
  });
}

// ---------------------------------------------------------------------------------------------------------
// The lock

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(STATE_DIR, { recursive: true });
  const path = join(STATE_DIR, 'lock');
  const me = procId(process.pid) ?? { pid: process.pid, start: '' };
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(`${me.pid} ${me.start}`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const [pid, start] = (await readFile(path, 'utf8').catch(() => '')).split(' ');
    if (pid !== undefined && /^\d+$/.test(pid) && !isAlive({ pid: Number(pid), start: start ?? '' })) {
      // The owner died holding it: move it aside (only one breaker wins the rename) and try again.
      const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
      if (
        await rename(path, aside).then(
          () => true,
          () => false,
        )
      )
        await rm(aside, { force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`radosgw test harness: ${path} held by pid ${pid} for more than ${LOCK_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

function procId(pid: number): ProcId | null {
  const stat = procStat(pid);
  return stat === null ? null : { pid, start: stat.start };
}

function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return null;
  }
}

/** Alive and the same process (not a zombie, not a reused pid). Without /proc, falls back to kill(pid, 0). */
function isAlive(id: ProcId): boolean {
  const stat = procStat(id.pid);
  if (stat !== null) return stat.state !== 'Z' && stat.state !== 'X' && (id.start === '' || stat.start === id.start);
  try {
    process.kill(id.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function onPath(bin: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/sbin'])) {
    try {
      closeSync(openSync(join(dir, bin), 'r'));
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

function exec(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`.slice(0, 4000)));
      else resolve(stdout);
    });
  });
}

function httpStatus(endpoint: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/`, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

async function logTails(dir: string, lines = 25): Promise<string> {
  const out: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(join(dir, 'log')).sort();
  } catch {
    return '(no logs)';
  }
  for (const name of names) {
    const text = await readFile(join(dir, 'log', name), 'utf8').catch(() => '');
    const tail = text.trimEnd().split('\n').slice(-lines).join('\n');
    if (tail !== '') out.push(`--- ${name} (last ${lines} lines) ---\n${tail}`);
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Command line

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, arg] = process.argv.slice(2);
  const main = async () => {
    switch (command) {
      case 'start': {
        const s3 = await s3TestEndpoint();
        process.stdout.write(`${JSON.stringify(s3, null, 2)}\n`);
        break;
      }
      case 'status': {
        const state = await readState();
        if (state === null) process.stdout.write('not running\n');
        else
          process.stdout.write(
            `${(await healthy(state)) ? 'healthy' : 'unhealthy'}: ${JSON.stringify({ ...state, leases: await liveLeases() }, null, 2)}\n`,
          );
        break;
      }
      case 'stop':
        await stopRadosgw();
        break;
      case 'reap':
        for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
          process.on(signal, () => {
            process.stderr.write(`# radosgw reaper: ${signal}, exiting\n`);
            process.exit(1);
          });
        }
        await reap(arg!);
        break;
      default:
        process.stderr.write('usage: node test/support/radosgw.ts start | status | stop\n');
        process.exitCode = 2;
    }
  };
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
