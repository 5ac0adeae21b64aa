// Where the benchmark brokers keep their data, and what runs beside them.
//
//   embedded  the broker's default: a local object store (files under a fresh temp directory) and the embedded
//             SQLite metadata store. No object-store latency can be injected: the broker has no hook to delay
//             its local store (see bench/README.md), so scenarios that inject latency need --backend s3.
//   s3        a throwaway one-node Ceph cluster with radosgw (test/support/radosgw.ts, in its own state
//             directory so it is not the test suite's shared cluster) and a throwaway etcd member
//             (test/support/etcd.ts EtcdMember, owned by this process), all on 127.0.0.1. Brokers reach radosgw
//             through the latency proxy (bench/lib/latency-proxy.ts, a child process), which passes requests
//             through undelayed until a scenario sets a latency distribution. Each broker gets a fresh bucket
//             and a fresh etcd key prefix.
//
// One backend per bench process (memoised); run.ts closes it at the end.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LocalObjectStore } from '../../broker/storage/local-object-store.ts';
import { S3ObjectStore } from '../../broker/storage/s3-object-store.ts';
import type { ObjectStore } from '../../broker/storage/object-store.ts';
import { BrokerChild, brokerRoot } from './broker-process.ts';
import type { Backend } from './scenario.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}
interface EtcdLike {
  endpoint: string;
  destroy(): Promise<void>;
}

export interface BenchBroker {
  child: BrokerChild;
  dataDir: string;
  bucket: string | null;
  etcdPrefix: string | null;
  /** The same broker's data (directory, bucket, etcd prefix) under a new process: caches cold. */
  restart(): Promise<BenchBroker>;
  /** Stops the process and deletes its data. */
  destroy(): Promise<void>;
}

export interface EtcdOps {
  total: number;
  byMethod: Record<string, number>;
}

export class BenchBackend {
  readonly kind: Backend;
  private s3: S3Endpoint | null = null;
  private etcd: EtcdLike | null = null;
  private proxy: ChildProcess | null = null;
  proxyPort = 0;
  private readonly cleanups: (() => Promise<void>)[] = [];
  private latency: { p50Ms: number; p99Ms: number } | null = null;

  private constructor(kind: Backend) {
    this.kind = kind;
  }

  private static instances = new Map<Backend, Promise<BenchBackend>>();

  static get(kind: Backend): Promise<BenchBackend> {
    let b = BenchBackend.instances.get(kind);
    if (b === undefined) {
      b = (async () => {
        const backend = new BenchBackend(kind);
        if (kind === 's3') await backend.startS3();
        return backend;
      })();
      BenchBackend.instances.set(kind, b);
    }
    return b;
  }

  static async closeAll(): Promise<void> {
    for (const p of BenchBackend.instances.values()) await (await p).close();
    BenchBackend.instances.clear();
  }

  private async startS3(): Promise<void> {
    // Our own radosgw cluster (not the tests' shared one): a separate state directory, and a memstore large
    // enough for the catch-up scenario's 2 GiB plus compaction copies. Set before the module reads them.
    process.env.SKAFOS_TEST_RADOSGW_DIR ??= join(tmpdir(), 'skafos-bench-radosgw');
    process.env.SKAFOS_TEST_CEPH_CONF_EXTRA ??= `memstore device bytes = ${8 * 2 ** 30}`;
    process.env.SKAFOS_TEST_RADOSGW_IDLE_MS ??= '60000';
    const rgw = await import('../../test/support/radosgw.ts');
    const ep = await rgw.s3TestEndpoint();
    this.s3 = { endpoint: ep.endpoint, region: ep.region, accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey };
    const createBucket = async (label: string) => {
      const { bucket, client, cleanup } = await rgw.createTestBucket(ep, label);
      client.destroy();
      this.cleanups.push(cleanup);
      return bucket;
    };
    this.createBucket = createBucket;
    const { EtcdMember } = await import('../../test/support/etcd.ts');
    const member = await EtcdMember.create();
    this.etcd = { endpoint: member.endpoint, destroy: () => member.destroy() };
    // The latency proxy, in its own process.
    const proxy = spawn(process.execPath, [join(import.meta.dirname, 'latency-proxy.ts'), ep.endpoint], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.proxy = proxy;
    this.proxyPort = await new Promise<number>((resolve, reject) => {
      const rl = createInterface({ input: proxy.stdout! });
      rl.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
      proxy.once('exit', (code) => reject(new Error(`latency proxy exited (${code})`)));
    });
  }

  private createBucket: (label: string) => Promise<string> = () => Promise.reject(new Error('not s3'));

  get proxyPid(): number | null {
    return this.proxy?.pid ?? null;
  }

  /** Sets (or with null, removes) the latency the proxy adds to every S3 request. */
  async setLatency(l: { p50Ms: number; p99Ms: number } | null): Promise<void> {
    if (this.kind !== 's3') {
      if (l !== null)
        throw new Error('object-store latency injection needs --backend s3 (the broker has no hook to delay its local store)');
      return;
    }
    const q = l === null ? 'p50=0' : `p50=${l.p50Ms}&p99=${l.p99Ms}`;
    const res = await fetch(`http://127.0.0.1:${this.proxyPort}/__bench/latency?${q}`);
    if (!res.ok) throw new Error(`latency proxy: HTTP ${res.status}`);
    this.latency = l;
  }

  get injectedLatency(): { p50Ms: number; p99Ms: number } | null {
    return this.latency;
  }

  /** Every etcd request served so far (unary calls and stream messages), or null on the embedded backend. */
  async etcdOps(): Promise<EtcdOps | null> {
    if (this.etcd === null) return null;
    const res = await fetch(`${this.etcd.endpoint}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    const byMethod: Record<string, number> = {};
    let total = 0;
    for (const line of text.split('\n')) {
      // Unary calls by method; streaming calls (Watch, LeaseKeepAlive) count their messages.
      const unary = /^grpc_server_handled_total\{.*grpc_method="([^"]+)".*grpc_type="unary".*\} (\S+)$/.exec(line);
      const stream = /^grpc_server_msg_received_total\{.*grpc_method="([^"]+)".*grpc_type="bidi_stream".*\} (\S+)$/.exec(line);
      const m = unary ?? stream;
      if (m === null) continue;
      const n = Number(m[2]);
      byMethod[m[1]!] = (byMethod[m[1]!] ?? 0) + n;
      total += n;
    }
    return { total, byMethod };
  }

  /** Broker settings for this backend, without the data directory. */
  private async brokerSets(label: string): Promise<{ sets: Record<string, string>; bucket: string | null; prefix: string | null }> {
    if (this.kind === 'embedded') return { sets: {}, bucket: null, prefix: null };
    const bucket = await this.createBucket(label);
    const prefix = `/bench-${randomBytes(4).toString('hex')}`;
    return { bucket, prefix, sets: this.s3Sets(bucket, prefix) };
  }

  private s3Sets(bucket: string, prefix: string): Record<string, string> {
    return {
      'skafos.object.store': 's3',
      'skafos.s3.bucket': bucket,
      'skafos.s3.endpoint': `http://127.0.0.1:${this.proxyPort}`,
      'skafos.s3.path.style': 'true',
      'skafos.s3.region': this.s3!.region,
      'skafos.s3.access.key.id': this.s3!.accessKeyId,
      'skafos.s3.secret.access.key': this.s3!.secretAccessKey,
      'skafos.metadata.store': 'etcd',
      'skafos.etcd.endpoints': this.etcd!.endpoint,
      'skafos.etcd.prefix': prefix,
    };
  }

  /** A broker child process on this backend. SKAFOS_BENCH_CPU_PROF=<dir> runs it under node --cpu-prof. */
  async startBroker(label: string, extraSets: Record<string, string | number> = {}): Promise<BenchBroker> {
    const dataDir = mkdtempSync(join(tmpdir(), `skafos-bench-${label}-`));
    const { sets, bucket, prefix } = await this.brokerSets(label);
    return this.launch(dataDir, { ...sets, ...extraSets }, bucket, prefix);
  }

  /**
   * `size` brokers in cluster mode sharing one bucket and one etcd prefix (s3 backend only), node ids 1..size,
   * each with its own data directory. `destroy()` of each stops it; the bucket goes with the backend.
   */
  async startCluster(label: string, size: number, extraSets: Record<string, string | number> = {}): Promise<BenchBroker[]> {
    if (this.kind !== 's3') throw new Error('a cluster needs --backend s3 (etcd and a shared bucket)');
    const { sets, bucket, prefix } = await this.brokerSets(label);
    const brokers: BenchBroker[] = [];
    try {
      // One after another: each start parses the generated codec, which is CPU-heavy on two cores.
      for (let i = 1; i <= size; i++) {
        const dataDir = mkdtempSync(join(tmpdir(), `skafos-bench-${label}-${i}-`));
        brokers.push(await this.launch(dataDir, { ...sets, 'skafos.cluster.mode': 'cluster', 'node.id': i, ...extraSets }, bucket, prefix));
      }
    } catch (err) {
      for (const b of brokers) await b.destroy().catch(() => {});
      throw err;
    }
    return brokers;
  }

  private async launch(
    dataDir: string,
    sets: Record<string, string | number>,
    bucket: string | null,
    prefix: string | null,
  ): Promise<BenchBroker> {
    const prof = process.env.SKAFOS_BENCH_CPU_PROF;
    const nodeFlags = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
    const envSets = Object.fromEntries(
      (process.env.SKAFOS_BENCH_BROKER_SETS ?? '')
        .split(/\s+/)
        .filter((s) => s.includes('='))
        .map((s) => [s.slice(0, s.indexOf('=')), s.slice(s.indexOf('=') + 1)]),
    );
    let child: BrokerChild;
    try {
      child = await BrokerChild.start({ dataDir, sets: { ...sets, ...envSets }, nodeFlags });
    } catch (err) {
      rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    const handle: BenchBroker = {
      child,
      dataDir,
      bucket,
      etcdPrefix: prefix,
      restart: async () => {
        await child.stop();
        return this.launch(dataDir, sets, bucket, prefix);
      },
      destroy: async () => {
        await child.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
    return handle;
  }

  /** The store the broker writes to, opened in this process (for the raw limits), and how to dispose of it. */
  async rawStore(): Promise<{ store: ObjectStore; where: string; dispose: () => Promise<void> }> {
    if (this.kind === 'embedded') {
      const dir = mkdtempSync(join(tmpdir(), 'skafos-bench-limits-'));
      const store = await LocalObjectStore.open(dir);
      return {
        store,
        where: `LocalObjectStore on ${dir} (same file system as the brokers' data directories)`,
        dispose: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }
    const bucket = await this.createBucket('limits');
    const store = new S3ObjectStore({
      bucket,
      region: this.s3!.region,
      endpoint: `http://127.0.0.1:${this.proxyPort}`,
      forcePathStyle: true,
      credentials: { accessKeyId: this.s3!.accessKeyId, secretAccessKey: this.s3!.secretAccessKey },
    });
    return {
      store,
      where: `S3ObjectStore (the broker's S3 client) → latency proxy → radosgw ${this.s3!.endpoint}, bucket ${bucket}`,
      dispose: async () => {},
    };
  }

  describe(): Record<string, unknown> {
    const root = brokerRoot === repoRoot ? undefined : `${brokerRoot} (SKAFOS_BENCH_BROKER_ROOT)`;
    if (this.kind === 'embedded') {
      return {
        brokerRoot: root,
        backend: 'embedded',
        objectStore: 'local (files under the OS temp directory, fsync on every put)',
        metadata: 'embedded SQLite',
      };
    }
    const version = (cmd: string, args: string[]) => {
      try {
        return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
      } catch {
        return 'unknown';
      }
    };
    return {
      brokerRoot: root,
      backend: 's3',
      objectStore: `radosgw (one-node Ceph, memstore OSD) at ${this.s3!.endpoint} via the latency proxy on 127.0.0.1:${this.proxyPort}`,
      metadata: `etcd at ${this.etcd!.endpoint} (one member, fsync on)`,
      radosgw: version('radosgw', ['--version']),
      etcd: version('etcd', ['--version']),
    };
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0)) await c().catch(() => {});
    if (this.proxy !== null) {
      this.proxy.kill('SIGTERM');
      this.proxy = null;
    }
    if (this.etcd !== null) {
      await this.etcd.destroy().catch(() => {});
      this.etcd = null;
    }
  }
}

export { repoRoot };
