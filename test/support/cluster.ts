// A cluster of broker child processes in cluster mode over one etcd (a member owned by the test file, a fresh
// prefix) and one bucket of the shared radosgw. Node ids 1..n; a short membership lease so failover tests are
// quick. Each broker has its own data directory (only the node id file would live there).
import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import { startBroker } from './broker.ts';
import type { BrokerProcess } from './broker.ts';
import { createTestBucket, s3TestEndpoint } from './radosgw.ts';
import { sleep } from './run.ts';

export interface TestCluster {
  readonly brokers: BrokerProcess[];
  readonly prefix: string;
  readonly bucket: string;
  /** Bootstrap list of the brokers now alive. */
  bootstrap(): string;
  /** Starts one more broker with the given node id (or the next free one). */
  addBroker(nodeId?: number): Promise<BrokerProcess>;
}

export interface ClusterOptions {
  size: number;
  etcdEndpoint: string;
  sessionTimeoutMs?: number;
  sets?: Record<string, string | number | boolean>;
  label?: string;
}

export async function startCluster(t: Test, opts: ClusterOptions): Promise<TestCluster> {
  const s3 = await s3TestEndpoint();
  const { bucket, cleanup } = await createTestBucket(s3, opts.label ?? 'cluster');
  t.teardown(() => cleanup().catch(() => {}));
  const prefix = `/skafos-cluster-${randomBytes(5).toString('hex')}`;
  const common: Record<string, string | number | boolean> = {
    'skafos.object.store': 's3',
    'skafos.s3.bucket': bucket,
    'skafos.s3.endpoint': s3.endpoint,
    'skafos.s3.region': s3.region,
    'skafos.s3.path.style': s3.forcePathStyle,
    'skafos.s3.access.key.id': s3.accessKeyId,
    'skafos.s3.secret.access.key': s3.secretAccessKey,
    'skafos.metadata.store': 'etcd',
    'skafos.etcd.endpoints': opts.etcdEndpoint,
    'skafos.etcd.prefix': prefix,
    'skafos.cluster.mode': 'cluster',
    // SKAFOS_TEST_CLUSTER_SESSION_TIMEOUT_MS overrides it (e.g. 9000, the default, to measure failover as shipped).
    'broker.session.timeout.ms': Number(process.env.SKAFOS_TEST_CLUSTER_SESSION_TIMEOUT_MS ?? opts.sessionTimeoutMs ?? 3000),
    'skafos.flush.linger.ms': 10,
    ...opts.sets,
  };
  const brokers: BrokerProcess[] = [];
  const addBroker = async (nodeId?: number): Promise<BrokerProcess> => {
    const id = nodeId ?? brokers.length + 1;
    const b = await startBroker(t, { sets: { ...common, 'node.id': id } });
    brokers.push(b);
    return b;
  };
  // Sequentially: each start parses the generated codec, which is CPU-heavy on two cores.
  for (let i = 0; i < opts.size; i++) await addBroker(i + 1);
  return {
    brokers,
    prefix,
    bucket,
    bootstrap: () =>
      brokers
        .filter((b) => b.alive)
        .map((b) => `127.0.0.1:${b.port}`)
        .join(','),
    addBroker,
  };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await sleep(intervalMs);
  }
}
