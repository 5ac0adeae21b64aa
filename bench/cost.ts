// Cost scenario: object-store and metadata requests per GiB written and read, requests while idle, and a
// dollar figure at a stated S3 price list. One broker, a 16-partition topic of 1 KiB records:
//   write   produce 1 GiB (128 MiB with --quick) at saturation, acks=all
//   settle  no traffic for 50 s (10 s --quick): compaction (skafos.compaction.min.age.ms 30 s, interval 15 s)
//           rewrites the WAL into segments and deletes WAL objects; counted as write cost
//   read    broker restarted (caches cold), one consumer reads the topic from offset 0
//   idle    no traffic for 60 s (10 s --quick): PUTs/s, GETs/s, LISTs/s, etcd requests/s
//   (between read and idle: wait until compaction has made no PUT for 30 s; counted as write cost)
// Object-store requests come from the broker's /metrics (skafos_object_store_requests{op}); etcd requests from
// etcd's /metrics (grpc_server_handled_total for unary calls, grpc_server_msg_received_total for stream
// messages; --backend s3 only: the embedded SQLite store exports no operation counter).
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { runFetch } from './lib/broker-load.ts';
import { createTopic, GiB, MiB, target, waitTopicReady } from './lib/common.ts';
import { EndOffsets, Producer } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress, waitWithProgress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { WireConnection } from './lib/wire-client.ts';

export const description =
  'cost: object-store PUT/GET/LIST/DELETE and etcd requests per GiB written and read, idle PUTs/s, $ per GiB at S3 Standard prices';

/** S3 Standard, us-east-1, as published by AWS (request pricing; storage and transfer not included). */
export const s3Prices = {
  source: 'https://aws.amazon.com/s3/pricing/ (S3 Standard, US East (N. Virginia); request prices as listed in 2025)',
  putCopyPostListPer1000: 0.005,
  getSelectOtherPer1000: 0.0004,
  deletePer1000: 0,
  storagePerGBMonth: 0.023,
};

function dollars(c: PhaseCost): number {
  return (
    ((c.store.put + c.store.list) * s3Prices.putCopyPostListPer1000 +
      (c.store.get + c.store.head) * s3Prices.getSelectOtherPer1000 +
      c.store.delete * s3Prices.deletePer1000) /
    1000
  );
}

/** Waits until the broker's PUT count has not moved for `quietMs` (or `maxMs` passed). */
async function quiesce(b: BenchBroker, quietMs: number, maxMs: number): Promise<void> {
  const bar = new Progress('cost: waiting for compaction to finish', maxMs / 1000, 's (at most)');
  const t0 = performance.now();
  let last = -1;
  let since = t0;
  while (performance.now() - t0 < maxMs) {
    const puts = (await b.child.metrics()).get('skafos_object_store_requests{op="put"}') ?? 0;
    if (puts !== last) {
      last = puts;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) {
      break;
    }
    bar.update((performance.now() - t0) / 1000);
    await new Promise((r) => setTimeout(r, 1000));
  }
  bar.end();
}

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const volume = (o.quick ? 128 : 1024) * MiB;
  const settleMs = o.quick ? 10_000 : 50_000;
  const idleMs = o.quick ? 10_000 : 60_000;
  const partitions = 16;
  let broker: BenchBroker | null = await backend.startBroker('cost');
  const phases: Record<string, PhaseCost> = {};
  let readBytes = 0;
  try {
    const topic = 'cost';
    const topicId = await createTopic(broker.child.port, topic, partitions);
    const ends = new EndOffsets(partitions, 256);
    const p = await Producer.open({
      port: broker.child.port,
      topic,
      partitions,
      connections: 4,
      recordsPerBatch: 256,
      valueBytes: 1024,
      partitionsPerRequest: 4,
    });
    const bar = new Progress('cost: write', volume / MiB, 'MiB');
    const b0 = broker;
    phases.write = (
      await measure(b0, backend, () =>
        p.saturate({ inFlight: 32, targetValueBytes: volume, deadlineMs: 1_800_000, progress: bar, onAck: ends.onAck }),
      )
    ).cost;
    p.close();
    bar.end();
    phases.settle = (await measure(b0, backend, () => waitWithProgress('cost: settle (compaction)', settleMs))).cost;
    broker = await broker.restart();
    await waitTopicReady(broker.child.port, topic, topicId, partitions);
    const b = broker;
    const conn = await WireConnection.connect(b.child.port);
    const rbar = new Progress('cost: read (cold)', 1, 'reads');
    try {
      const m = await measure(b, backend, () =>
        runFetch(
          {
            port: b.child.port,
            topic,
            topicId,
            partitions,
            endOffsets: ends.ends,
            maxBytes: 50 * MiB,
            partitionMaxBytes: 8 * MiB,
            maxWaitMs: 500,
            deadlineMs: 1_800_000,
          },
          conn,
        ),
      );
      phases.read = m.cost;
      readBytes = m.result.records * 1024;
    } finally {
      conn.close();
      rbar.end();
    }
    // Compaction of what was written may still be running (it resumes after the restart): wait until the
    // broker has made no PUT for 30 s (10 s --quick), at most 5 min (40 s --quick), and count that as write cost.
    phases.quiesce = (await measure(b, backend, () => quiesce(b, o.quick ? 10_000 : 30_000, o.quick ? 40_000 : 300_000))).cost;
    phases.idle = (await measure(b, backend, () => waitWithProgress('cost: idle', idleMs))).cost;
    await broker.destroy();
    broker = null;
  } finally {
    if (broker) await broker.destroy().catch(() => {});
  }

  const writeGiB = volume / GiB;
  const readGiB = readBytes / GiB;
  const w = phases.write!;
  const s = phases.settle!;
  const q = phases.quiesce!;
  const sum = (op: 'put' | 'get' | 'list' | 'delete' | 'head') => w.store[op] + s.store[op] + q.store[op];
  const writeEtcd = w.etcdOps === null ? null : w.etcdOps + s.etcdOps! + q.etcdOps!;
  const r = phases.read!;
  const idle = phases.idle!;
  const perGiB = (n: number, gib: number) => figure(n / gib, 'requests/GiB');
  const figures = {
    written: {
      volume: figure(writeGiB, 'GiB of record values'),
      putsPerGiBAtLoad: perGiB(w.store.put, writeGiB),
      putsPerGiB: perGiB(sum('put'), writeGiB),
      getsPerGiB: perGiB(sum('get'), writeGiB),
      listsPerGiB: perGiB(sum('list'), writeGiB),
      deletesPerGiB: perGiB(sum('delete'), writeGiB),
      headsPerGiB: perGiB(sum('head'), writeGiB),
      etcdOpsPerGiB: writeEtcd === null ? null : perGiB(writeEtcd, writeGiB),
      dollarsPerGiB: figure((dollars(w) + dollars(s) + dollars(q)) / writeGiB, 'USD/GiB (requests only)'),
      quiesceTime: figure(q.elapsedS, 's after the read until compaction made no PUT for 30 s'),
    },
    read: {
      volume: figure(readGiB, 'GiB of record values'),
      getsPerGiB: perGiB(r.store.get, readGiB),
      listsPerGiB: perGiB(r.store.list, readGiB),
      headsPerGiB: perGiB(r.store.head, readGiB),
      putsPerGiB: perGiB(r.store.put, readGiB),
      etcdOpsPerGiB: r.etcdOps === null ? null : perGiB(r.etcdOps, readGiB),
      dollarsPerGiB: figure(dollars(r) / readGiB, 'USD/GiB (requests only)'),
    },
    idle: {
      duration: figure(idle.elapsedS, 's'),
      putsPerSecond: figure(idle.store.put / idle.elapsedS, 'PUTs/s'),
      getsPerSecond: figure(idle.store.get / idle.elapsedS, 'GETs/s'),
      listsPerSecond: figure(idle.store.list / idle.elapsedS, 'LISTs/s'),
      deletesPerSecond: figure(idle.store.delete / idle.elapsedS, 'DELETEs/s'),
      etcdOpsPerSecond: idle.etcdOps === null ? null : figure(idle.etcdOps / idle.elapsedS, 'requests/s'),
      dollarsPerMonth: figure((dollars(idle) / idle.elapsedS) * 86400 * 30, 'USD per 30 days idle (requests only)'),
    },
  };
  const f = (x: { value: number } | null) => (x === null ? 'n/a' : fmt(x.value));
  console.log(
    `\nObject-store and metadata requests (${backend.kind} backend; write = produce + settle + compaction until quiet; read = cold read of everything)\n`,
  );
  console.log(
    table(
      ['per', 'PUT', 'GET', 'LIST', 'DELETE', 'HEAD', 'etcd', 'USD (requests)'],
      [
        [
          'GiB written (at load)',
          fmt(w.store.put / writeGiB),
          fmt(w.store.get / writeGiB),
          fmt(w.store.list / writeGiB),
          fmt(w.store.delete / writeGiB),
          fmt(w.store.head / writeGiB),
          w.etcdOps === null ? 'n/a' : fmt(w.etcdOps / writeGiB),
          `$${(dollars(w) / writeGiB).toFixed(5)}`,
        ],
        [
          'GiB written (+ compaction)',
          f(figures.written.putsPerGiB),
          f(figures.written.getsPerGiB),
          f(figures.written.listsPerGiB),
          f(figures.written.deletesPerGiB),
          f(figures.written.headsPerGiB),
          f(figures.written.etcdOpsPerGiB),
          `$${figures.written.dollarsPerGiB.value.toFixed(5)}`,
        ],
        [
          'GiB read (cold)',
          f(figures.read.putsPerGiB),
          f(figures.read.getsPerGiB),
          f(figures.read.listsPerGiB),
          fmt(r.store.delete / readGiB),
          f(figures.read.headsPerGiB),
          f(figures.read.etcdOpsPerGiB),
          `$${figures.read.dollarsPerGiB.value.toFixed(5)}`,
        ],
        [
          'second idle',
          f(figures.idle.putsPerSecond),
          f(figures.idle.getsPerSecond),
          f(figures.idle.listsPerSecond),
          f(figures.idle.deletesPerSecond),
          fmt(idle.store.head / idle.elapsedS),
          f(figures.idle.etcdOpsPerSecond),
          `$${(dollars(idle) / idle.elapsedS).toFixed(7)}`,
        ],
      ],
    ),
  );
  console.log(
    `\nprices: S3 Standard us-east-1, PUT/COPY/POST/LIST $${s3Prices.putCopyPostListPer1000} per 1,000, GET and others $${s3Prices.getSelectOtherPer1000} per 1,000, DELETE free (storage $${s3Prices.storagePerGBMonth}/GB-month not included)`,
  );
  target({
    scenario: 'cost',
    target: '≤ 130 PUTs per GiB at load (16 partitions)',
    measured: `${fmt(w.store.put / writeGiB)} PUTs/GiB (${fmt(figures.written.putsPerGiB.value)} with compaction)`,
    met: w.store.put / writeGiB <= 130,
  });
  target({
    scenario: 'cost',
    target: 'no PUTs while idle',
    measured: `${fmt(idle.store.put)} PUTs in ${fmt(idle.elapsedS)} s`,
    met: idle.store.put === 0,
  });
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      volume: figure(volume / MiB, 'MiB'),
      partitions,
      valueBytes: figure(1024, 'bytes'),
      settle: figure(settleMs / 1000, 's'),
      idle: figure(idleMs / 1000, 's'),
      broker: 'defaults (skafos.compaction.min.age.ms 30000, skafos.compaction.interval.ms 15000)',
      prices: s3Prices,
      etcd:
        backend.kind === 's3' ? "requests counted from etcd's /metrics" : 'n/a: the embedded metadata store exports no operation counter',
    },
    figures,
    phases: Object.fromEntries(
      Object.entries(phases).map(([k, c]) => [k, costFigures(c, k === 'read' ? readGiB : k === 'idle' || k === 'quiesce' ? 0 : writeGiB)]),
    ),
  };
}
