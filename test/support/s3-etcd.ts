// A broker child process on real S3 (the shared radosgw, a fresh bucket) and etcd (a member owned by the test
// file, a fresh prefix), with its ops HTTP endpoint on a free port for /metrics and /readyz; Prometheus text
// parsing; etcd's own request counters; the broker's resident memory.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { startBroker } from './broker.ts';
import type { BrokerProcess } from './broker.ts';
import { createTestBucket, s3TestEndpoint } from './radosgw.ts';
import type { S3TestEndpoint } from './radosgw.ts';
import { freePort } from './ports.ts';

export interface S3EtcdBroker {
  broker: BrokerProcess;
  s3: S3TestEndpoint;
  bucket: string;
  prefix: string;
  httpPort: number;
  metrics(): Promise<Metrics>;
  readyz(): Promise<number>;
}

/**
 * Starts a broker on a fresh bucket of the shared radosgw (reached through `s3Endpoint` when given, e.g. a fault
 * proxy) and a fresh prefix of `etcdEndpoint`. The bucket is emptied and deleted when `t` ends.
 */
export async function startS3EtcdBroker(
  t: Test,
  opts: {
    etcdEndpoint: string;
    s3Endpoint?: (s3: S3TestEndpoint) => string;
    sets?: Record<string, string | number | boolean>;
    label?: string;
  },
): Promise<S3EtcdBroker> {
  const s3 = await s3TestEndpoint();
  const { bucket, cleanup } = await createTestBucket(s3, opts.label ?? 's3etcd');
  t.teardown(() => cleanup().catch(() => {}));
  const prefix = `/skafos-it-${randomBytes(5).toString('hex')}`;
  const httpPort = await freePort();
  const broker = await startBroker(t, {
    sets: {
      'skafos.object.store': 's3',
      'skafos.s3.bucket': bucket,
      'skafos.s3.endpoint': opts.s3Endpoint ? opts.s3Endpoint(s3) : s3.endpoint,
      'skafos.s3.region': s3.region,
      'skafos.s3.path.style': s3.forcePathStyle,
      'skafos.s3.access.key.id': s3.accessKeyId,
      'skafos.s3.secret.access.key': s3.secretAccessKey,
      'skafos.metadata.store': 'etcd',
      'skafos.etcd.endpoints': opts.etcdEndpoint,
      'skafos.etcd.prefix': prefix,
      'skafos.http.listener': `127.0.0.1:${httpPort}`,
      ...opts.sets,
    },
  });
  return {
    broker,
    s3,
    bucket,
    prefix,
    httpPort,
    metrics: () => scrape(`http://127.0.0.1:${httpPort}/metrics`),
    readyz: async () => (await getWhenListening(`http://127.0.0.1:${httpPort}/readyz`)).status,
  };
}

/** Prometheus samples by `name{labels}` (labels as written), plus helpers. */
export class Metrics {
  readonly samples = new Map<string, number>();
  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^(\S+?(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
      if (m) this.samples.set(m[1]!, Number(m[2]));
    }
  }

  /** Sum of every sample whose name is `name` (any labels) and whose labels contain `labelMatch`. */
  sum(name: string, labelMatch = ''): number {
    let n = 0;
    for (const [k, v] of this.samples) {
      const base = k.includes('{') ? k.slice(0, k.indexOf('{')) : k;
      if (base === name && k.includes(labelMatch)) n += v;
    }
    return n;
  }

  /** Label value → sample, for one label of one metric. */
  byLabel(name: string, label: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.samples) {
      if (!k.startsWith(`${name}{`)) continue;
      const m = new RegExp(`${label}="([^"]*)"`).exec(k);
      if (m) out[m[1]!] = v;
    }
    return out;
  }
}

/** GET with retries while the endpoint is not listening yet (the ops endpoint starts after the Kafka listener). */
export async function getWhenListening(url: string, timeoutMs = 10000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetch(url, { signal: AbortSignal.timeout(5000) });
    } catch (e) {
      if (Date.now() > deadline || (e as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function scrape(url: string): Promise<Metrics> {
  const res = await getWhenListening(url);
  return new Metrics(await res.text());
}

/** etcd's own counters of MVCC operations (etcd 3.4/3.5 names). */
export async function etcdOps(endpoint: string): Promise<{ put: number; txn: number; range: number; delete: number }> {
  const m = await scrape(`${endpoint}/metrics`);
  return {
    put: m.sum('etcd_mvcc_put_total'),
    txn: m.sum('etcd_mvcc_txn_total'),
    range: m.sum('etcd_mvcc_range_total'),
    delete: m.sum('etcd_mvcc_delete_total'),
  };
}

/** VmRSS of a process in bytes, or null when it is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
