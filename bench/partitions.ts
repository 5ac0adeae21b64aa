// Partitions scenario: the same byte rate (16 MiB/s of 1 KiB records, acks=all) spread over 1, 100, 1,000 and
// 10,000 partitions, a fresh broker for each count. Requests carry 200 KiB of values: one 200-record batch
// (1 partition) or 50 batches of 4 records for 50 partitions, cycling over all partitions, open loop. Figures:
// PUTs/s, etcd requests/s (--backend s3), broker RSS, produce-ack p99, broker CPU, and how long CreateTopics took.
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { createTopic, GiB, MiB, target, writeChart } from './lib/common.ts';
import { Producer } from './lib/load.ts';
import type { ProduceRun } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { percentiles, perSecond } from './lib/stats.ts';

export const description = 'partitions: 1, 100, 1,000, 10,000 partitions at the same byte rate; PUTs/s, etcd requests/s, RSS, produce p99';

interface Row {
  partitions: number;
  createS: number;
  run: ProduceRun;
  cost: PhaseCost;
  rssAfterCreate: number;
}

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const counts = [1, 100, 1000, 10000];
  const rateMiBps = 16;
  const phaseMs = o.quick ? 6_000 : 30_000;
  const rows: Row[] = [];
  for (const n of counts) {
    let broker: BenchBroker | null = await backend.startBroker(`partitions-${n}`);
    try {
      const b = broker;
      const t0 = performance.now();
      await createTopic(b.child.port, 'parts', n);
      const createS = (performance.now() - t0) / 1000;
      const ppr = n === 1 ? 1 : 50;
      const p = await Producer.open({
        port: b.child.port,
        topic: 'parts',
        partitions: n,
        connections: 4,
        recordsPerBatch: 200 / ppr,
        valueBytes: 1024,
        partitionsPerRequest: ppr,
      });
      const rssAfterCreate = b.child.memory().rssBytes;
      // Warm-up: 2 s at the rate, so every partition has been written once before the clock starts (10,000
      // partitions / 50 per request = 200 requests = 2.4 s at 82 requests/s).
      const rps = (rateMiBps * MiB) / p.valueBytesPerRequest;
      await p.fixedRate({ requestsPerSecond: rps, durationMs: Math.max(2000, (n / ppr / rps) * 1000 + 500), deadlineMs: 120_000 });
      const bar = new Progress(`${n} partitions at ${rateMiBps} MiB/s`, phaseMs / 1000, 's');
      const m = await measure(b, backend, () =>
        p.fixedRate({ requestsPerSecond: rps, durationMs: phaseMs, deadlineMs: phaseMs + 120_000, progress: bar }),
      );
      bar.end();
      p.close();
      rows.push({ partitions: n, createS, run: m.result, cost: m.cost, rssAfterCreate });
      await broker.destroy();
      broker = null;
    } finally {
      if (broker) await broker.destroy().catch(() => {});
    }
  }
  const fig = (r: Row) => {
    const l = percentiles(r.run.samples.map((s) => s.latencyMs));
    return {
      createTopic: figure(r.createS, 's'),
      achieved: figure(r.run.valueBytes / MiB / (r.run.elapsedMs / 1000), 'MiB/s'),
      ackP50: figure(l.p50, 'ms'),
      ackP99: figure(l.p99, 'ms'),
      rssAfterCreate: figure(r.rssAfterCreate / MiB, 'MiB'),
      ...costFigures(r.cost, r.run.valueBytes / GiB),
    };
  };
  const f = (x: { value: number } | null) => (x === null ? 'n/a' : fmt(x.value));
  console.log(
    `\n${rateMiBps} MiB/s of 1 KiB records over N partitions (${backend.kind} backend; ${phaseMs / 1000} s per count, fresh broker each)\n`,
  );
  console.log(
    table(
      [
        'partitions',
        'CreateTopics s',
        'MiB/s',
        'PUTs/s',
        'PUTs/GiB',
        'etcd req/s',
        'RSS MiB',
        'peak RSS MiB',
        'ack p50 ms',
        'ack p99 ms',
        'broker cores',
      ],
      rows.map((r) => {
        const x = fig(r);
        return [
          String(r.partitions),
          fmt(x.createTopic.value),
          fmt(x.achieved.value),
          fmt(x.putsPerSecond.value),
          f(x.putsPerGiB),
          f(x.etcdOpsPerSecond),
          fmt(x.rssAtEnd.value),
          fmt(x.peakRss.value),
          fmt(x.ackP50.value),
          fmt(x.ackP99.value),
          fmt(x.brokerCores.value),
        ];
      }),
    ),
  );
  const puts = rows.map((r) => fig(r).putsPerSecond.value);
  const spread = Math.max(...puts) / Math.min(...puts);
  target({
    scenario: 'partitions',
    target: 'PUTs/s flat from 1 to 10,000 partitions (max/min ≤ 1.25)',
    measured: `${puts.map((v) => fmt(v)).join(' / ')} PUTs/s (max/min ${fmt(spread)})`,
    met: spread <= 1.25,
  });
  const charts = {
    latency: writeChart(o, 'ack-p99-over-time', {
      title: `produce-ack p99 per second at ${rateMiBps} MiB/s, by partition count`,
      xLabel: 'seconds since the phase started',
      yLabel: 'ms',
      logY: true,
      series: rows.map((r) => ({
        name: `${r.partitions} partitions`,
        points: perSecond(r.run.samples).map((x) => [x.second, x.p99] as [number, number]),
      })),
    }),
  };
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      rate: figure(rateMiBps, 'MiB/s of record values'),
      duration: figure(phaseMs / 1000, 's per partition count'),
      request: '200 KiB of values: 1 batch of 200 records (1 partition) or 50 batches of 4 records',
      connections: 4,
      broker: 'defaults, a fresh broker per partition count',
    },
    rows: rows.map((r) => ({ partitions: r.partitions, ...fig(r) })),
    putsPerSecondSpread: figure(spread, 'max/min over partition counts'),
    charts,
  };
}
