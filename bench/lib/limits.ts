// The limits every broker figure is compared with, measured in the same run on the same machine:
//   PUT MiB/s     raw PUTs of the broker's WAL object size (skafos.flush.size.bytes, 8 MiB) at the flusher's
//                 concurrency (4), into the same store the brokers use, through the broker's own store client
//                 (LocalObjectStore: write + fsync + rename; S3ObjectStore: through the latency proxy, undelayed).
//   GET MiB/s     ranged GETs of skafos.readahead.bytes (4 MiB) from those objects, at concurrency 1 (one
//                 consumer's sequential read) and 4.
//   loopback TCP  one connection, 1 MiB writes from this process to a sink in a child process (what a client
//                 and the broker on one machine can exchange at most).
// Memoised per backend: scenarios that print ratios measure the limits once per bench process.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import type { BenchBackend } from './backend.ts';
import { Progress } from './progress.ts';
import { figure } from './report.ts';
import type { Figure } from './report.ts';
import { percentiles } from './stats.ts';

const MiB = 2 ** 20;

export interface Limits {
  objectBytes: number;
  putConcurrency: number;
  putMiBps: number;
  putLatencyMs: { p50: number; p99: number; max: number };
  getRangeBytes: number;
  get1MiBps: number;
  get4MiBps: number;
  getLatencyMs: { p50: number; p99: number };
  loopbackMiBps: number;
  where: string;
  volumeMiB: number;
}

const memo = new Map<string, Promise<Limits>>();

export function limits(backend: BenchBackend, quick: boolean): Promise<Limits> {
  const key = `${backend.kind}:${quick}`;
  let p = memo.get(key);
  if (p === undefined) {
    p = measureLimits(backend, quick);
    memo.set(key, p);
  }
  return p;
}

async function pool<T>(n: number, items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function measureLimits(backend: BenchBackend, quick: boolean): Promise<Limits> {
  const objectBytes = 8 * MiB;
  const putConcurrency = 4;
  const objects = quick ? 12 : 48;
  const rangeBytes = 4 * MiB;
  const { store, where, dispose } = await backend.rawStore();
  const injected = backend.injectedLatency;
  await backend.setLatency(null);
  try {
    const body = Buffer.alloc(objectBytes);
    for (let i = 0; i < objectBytes; i += 4) body.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
    const keys = Array.from({ length: objects }, (_, i) => `bench-limits/obj-${String(i).padStart(4, '0')}`);
    // Warm-up: two objects, not timed.
    await store.put('bench-limits/warm-0', body);
    await store.put('bench-limits/warm-1', body);
    let bar = new Progress('limits: raw PUT', (objects * objectBytes) / MiB, 'MiB');
    const putLat: number[] = [];
    let t0 = performance.now();
    let done = 0;
    await pool(putConcurrency, keys, async (k) => {
      const s = performance.now();
      await store.put(k, body);
      putLat.push(performance.now() - s);
      done += objectBytes;
      bar.update(done / MiB);
    });
    const putMiBps = (objects * objectBytes) / MiB / ((performance.now() - t0) / 1000);
    bar.end(`${putMiBps.toFixed(1)} MiB/s`);

    const ranges: { key: string; start: number }[] = [];
    for (const k of keys) for (let s = 0; s < objectBytes; s += rangeBytes) ranges.push({ key: k, start: s });
    const getLat: number[] = [];
    const getRun = async (conc: number) => {
      bar = new Progress(`limits: ranged GET ×${conc}`, (ranges.length * rangeBytes) / MiB, 'MiB');
      done = 0;
      t0 = performance.now();
      await pool(conc, ranges, async (r) => {
        const s = performance.now();
        const got = await store.get(r.key, { start: r.start, end: r.start + rangeBytes });
        getLat.push(performance.now() - s);
        if (got.length !== rangeBytes) throw new Error(`ranged GET returned ${got.length} bytes, expected ${rangeBytes}`);
        done += rangeBytes;
        bar.update(done / MiB);
      });
      const v = (ranges.length * rangeBytes) / MiB / ((performance.now() - t0) / 1000);
      bar.end(`${v.toFixed(1)} MiB/s`);
      return v;
    };
    const get1MiBps = await getRun(1);
    const get4MiBps = await getRun(4);
    await store.delete([...keys, 'bench-limits/warm-0', 'bench-limits/warm-1']);
    await store.close();
    const loopbackMiBps = await loopback(quick ? 512 : 2048);
    const pl = percentiles(putLat);
    const gl = percentiles(getLat);
    return {
      objectBytes,
      putConcurrency,
      putMiBps,
      putLatencyMs: { p50: pl.p50, p99: pl.p99, max: pl.max },
      getRangeBytes: rangeBytes,
      get1MiBps,
      get4MiBps,
      getLatencyMs: { p50: gl.p50, p99: gl.p99 },
      loopbackMiBps,
      where,
      volumeMiB: (objects * objectBytes) / MiB,
    };
  } finally {
    await backend.setLatency(injected);
    await dispose();
  }
}

/** MiB/s of one loopback TCP connection into a sink in a child process. */
async function loopback(totalMiB: number): Promise<number> {
  const sink = spawn(
    process.execPath,
    [
      '-e',
      `
    const s = require('node:net').createServer((c) => { let n = 0; c.on('data', (b) => { n += b.length; }); c.on('end', () => c.end(String(n))); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const port = await new Promise<number>((resolve) => createInterface({ input: sink.stdout! }).once('line', (l) => resolve(Number(l))));
    const chunk = Buffer.alloc(MiB, 7);
    const bar = new Progress('limits: loopback TCP', totalMiB, 'MiB');
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const c = connect({ host: '127.0.0.1', port }, () => {
        let sent = 0;
        const pump = () => {
          while (sent < totalMiB) {
            sent++;
            if (sent % 64 === 0) bar.update(sent);
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          c.end();
        };
        pump();
      });
      c.on('data', () => {});
      c.on('end', () => resolve());
      c.on('error', reject);
    });
    const v = totalMiB / ((performance.now() - t0) / 1000);
    bar.end(`${v.toFixed(0)} MiB/s`);
    return v;
  } finally {
    sink.stdin!.end();
    sink.kill('SIGTERM');
  }
}

export function limitFigures(l: Limits): Record<string, Figure | string> {
  return {
    store: l.where,
    objectSize: figure(l.objectBytes / MiB, 'MiB'),
    putConcurrency: figure(l.putConcurrency, 'PUTs in flight'),
    putThroughput: figure(l.putMiBps, 'MiB/s'),
    putLatencyP50: figure(l.putLatencyMs.p50, 'ms'),
    putLatencyP99: figure(l.putLatencyMs.p99, 'ms'),
    getRangeSize: figure(l.getRangeBytes / MiB, 'MiB'),
    rangedGetThroughputConcurrency1: figure(l.get1MiBps, 'MiB/s'),
    rangedGetThroughputConcurrency4: figure(l.get4MiBps, 'MiB/s'),
    getLatencyP50: figure(l.getLatencyMs.p50, 'ms'),
    getLatencyP99: figure(l.getLatencyMs.p99, 'ms'),
    loopbackTcp: figure(l.loopbackMiBps, 'MiB/s'),
    volume: figure(l.volumeMiB, 'MiB per measurement'),
  };
}
