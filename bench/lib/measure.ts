// What a phase costs: broker CPU (all threads, main thread), client CPU, other load on the machine, broker peak
// RSS, object-store requests (the broker's /metrics: skafos_object_store_requests{op}), WAL flushes, and etcd
// requests (etcd's own /metrics; s3 backend only).
import { machineCpu } from './broker-process.ts';
import type { BenchBackend, EtcdOps } from './backend.ts';
import type { BenchBroker } from './backend.ts';
import { figure } from './report.ts';
import type { Figure } from './report.ts';

const ops = ['put', 'get', 'list', 'delete', 'head'] as const;
export type StoreOp = (typeof ops)[number];

interface Snapshot {
  t: number;
  brokerCpu: number;
  brokerMain: number;
  clientCpu: number;
  machineBusy: number;
  steal: number;
  store: Record<StoreOp, number>;
  flushes: number;
  flushBytes: number;
  etcd: EtcdOps | null;
}

async function snapshot(b: BenchBroker, backend: BenchBackend): Promise<Snapshot> {
  const m = await b.child.metrics();
  const cpu = b.child.cpu();
  const c = process.cpuUsage();
  const mc = machineCpu();
  const store = Object.fromEntries(ops.map((op) => [op, m.get(`skafos_object_store_requests{op="${op}"}`) ?? 0])) as Record<
    StoreOp,
    number
  >;
  return {
    t: performance.now(),
    brokerCpu: cpu.process,
    brokerMain: cpu.mainThread,
    clientCpu: (c.user + c.system) / 1e6,
    machineBusy: mc.busy,
    steal: mc.steal,
    store,
    flushes: m.get('skafos_flushes') ?? 0,
    flushBytes: m.get('skafos_flush_object_bytes') ?? 0,
    etcd: await backend.etcdOps(),
  };
}

export interface PhaseCost {
  elapsedS: number;
  brokerCpuS: number;
  brokerMainS: number;
  clientCpuS: number;
  /** CPU-seconds of everything else on the machine (incl. the latency proxy, radosgw, etcd) and steal. */
  otherCpuS: number;
  peakRssBytes: number;
  rssBytesAtEnd: number;
  store: Record<StoreOp, number>;
  flushes: number;
  flushBytes: number;
  etcdOps: number | null;
  etcdByMethod: Record<string, number> | null;
}

export async function measure<T>(b: BenchBroker, backend: BenchBackend, fn: () => Promise<T>): Promise<{ result: T; cost: PhaseCost }> {
  b.child.resetPeakRss();
  const s0 = await snapshot(b, backend);
  const result = await fn();
  const s1 = await snapshot(b, backend);
  const mem = b.child.memory();
  const elapsedS = (s1.t - s0.t) / 1000;
  const brokerCpuS = s1.brokerCpu - s0.brokerCpu;
  const clientCpuS = s1.clientCpu - s0.clientCpu;
  const byMethod: Record<string, number> | null =
    s1.etcd && s0.etcd
      ? Object.fromEntries(
          Object.entries(s1.etcd.byMethod)
            .map(([k, v]) => [k, v - (s0.etcd!.byMethod[k] ?? 0)])
            .filter(([, v]) => (v as number) > 0),
        )
      : null;
  return {
    result,
    cost: {
      elapsedS,
      brokerCpuS,
      brokerMainS: s1.brokerMain - s0.brokerMain,
      clientCpuS,
      otherCpuS: Math.max(0, s1.machineBusy - s0.machineBusy - brokerCpuS - clientCpuS) + (s1.steal - s0.steal),
      peakRssBytes: mem.peakRssBytes,
      rssBytesAtEnd: mem.rssBytes,
      store: Object.fromEntries(ops.map((op) => [op, s1.store[op] - s0.store[op]])) as Record<StoreOp, number>,
      flushes: s1.flushes - s0.flushes,
      flushBytes: s1.flushBytes - s0.flushBytes,
      etcdOps: s1.etcd && s0.etcd ? s1.etcd.total - s0.etcd.total : null,
      etcdByMethod: byMethod,
    },
  };
}

/** The cost figures of a phase, normalised by `gib` GiB of record values where it makes sense. */
export interface CostFigures {
  elapsed: Figure;
  brokerCpu: Figure;
  brokerCores: Figure;
  brokerMainThreadCores: Figure;
  clientCores: Figure;
  otherCores: Figure;
  brokerCpuPerGiB: Figure | null;
  clientCpuPerGiB: Figure | null;
  peakRss: Figure;
  rssAtEnd: Figure;
  puts: Figure;
  gets: Figure;
  lists: Figure;
  deletes: Figure;
  heads: Figure;
  putsPerGiB: Figure | null;
  putsPerSecond: Figure;
  flushes: Figure;
  etcdOps: Figure | null;
  etcdOpsPerSecond: Figure | null;
  etcdOpsPerGiB: Figure | null;
  etcdByMethod: Record<string, number> | null;
}

export function costFigures(c: PhaseCost, gib: number): CostFigures {
  return {
    elapsed: figure(c.elapsedS, 's'),
    brokerCpu: figure(c.brokerCpuS, 'CPU-s'),
    brokerCores: figure(c.brokerCpuS / c.elapsedS, 'cores'),
    brokerMainThreadCores: figure(c.brokerMainS / c.elapsedS, 'cores'),
    clientCores: figure(c.clientCpuS / c.elapsedS, 'cores'),
    otherCores: figure(c.otherCpuS / c.elapsedS, 'cores (other processes, radosgw/etcd/proxy, steal)'),
    brokerCpuPerGiB: gib > 0 ? figure(c.brokerCpuS / gib, 'CPU-s/GiB') : null,
    clientCpuPerGiB: gib > 0 ? figure(c.clientCpuS / gib, 'CPU-s/GiB') : null,
    peakRss: figure(c.peakRssBytes / 2 ** 20, 'MiB'),
    rssAtEnd: figure(c.rssBytesAtEnd / 2 ** 20, 'MiB'),
    puts: figure(c.store.put, 'requests'),
    gets: figure(c.store.get, 'requests'),
    lists: figure(c.store.list, 'requests'),
    deletes: figure(c.store.delete, 'requests'),
    heads: figure(c.store.head, 'requests'),
    putsPerGiB: gib > 0 ? figure(c.store.put / gib, 'PUTs/GiB') : null,
    putsPerSecond: figure(c.store.put / c.elapsedS, 'PUTs/s'),
    flushes: figure(c.flushes, 'WAL objects'),
    etcdOps: c.etcdOps === null ? null : figure(c.etcdOps, 'requests'),
    etcdOpsPerSecond: c.etcdOps === null ? null : figure(c.etcdOps / c.elapsedS, 'requests/s'),
    etcdOpsPerGiB: c.etcdOps === null || gib <= 0 ? null : figure(c.etcdOps / gib, 'requests/GiB'),
    etcdByMethod: c.etcdByMethod,
  };
}
