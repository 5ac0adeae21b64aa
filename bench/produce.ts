// Produce scenario: saturation throughput at acks=all (acks=-1) for 1 KiB and 16 KiB records on 1 and 64
// partitions, one broker child process. Per shape and round, on a fresh topic (deleted afterwards): a closed
// loop keeping 32 MiB of record values in flight (bench/lib/load.ts). Figures: MiB/s and records/s, produce-ack
// latency, broker CPU-seconds per GiB and MiB/s per broker core, the client's CPU beside it, peak RSS, PUTs
// per GiB; and the ratio of MiB/s to the raw PUT bandwidth of the same store (bench/lib/limits.ts).
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { createTopic, deleteTopic, GiB, MiB, target, writeChart } from './lib/common.ts';
import { limitFigures, limits } from './lib/limits.ts';
import { Producer } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { cdfPoints, median, percentiles, perSecond } from './lib/stats.ts';
import type { ProduceRun } from './lib/load.ts';

export const description =
  'produce at saturation, acks=all: 1 KiB and 16 KiB records × 1 and 64 partitions; MiB/s, records/s, broker CPU-s/GiB, MiB/s per core, peak RSS, vs raw PUT MiB/s';

interface Shape {
  id: string;
  valueBytes: number;
  recordsPerBatch: number;
  partitions: number;
  partitionsPerRequest: number;
  connections: number;
  inFlightPerConnection: number;
}

// Every request batch is 256 KiB of values (a common batch.size for throughput); 32 MiB in flight in all
// shapes (4 × the 8 MiB flush size: the flusher's 4 concurrent WAL PUTs can all be busy; see bench/README.md).
const shapes: Shape[] = [
  {
    id: '1KiB-1p',
    valueBytes: 1024,
    recordsPerBatch: 256,
    partitions: 1,
    partitionsPerRequest: 1,
    connections: 4,
    inFlightPerConnection: 32,
  },
  {
    id: '1KiB-64p',
    valueBytes: 1024,
    recordsPerBatch: 256,
    partitions: 64,
    partitionsPerRequest: 4,
    connections: 4,
    inFlightPerConnection: 8,
  },
  {
    id: '16KiB-1p',
    valueBytes: 16384,
    recordsPerBatch: 16,
    partitions: 1,
    partitionsPerRequest: 1,
    connections: 4,
    inFlightPerConnection: 32,
  },
  {
    id: '16KiB-64p',
    valueBytes: 16384,
    recordsPerBatch: 16,
    partitions: 64,
    partitionsPerRequest: 4,
    connections: 4,
    inFlightPerConnection: 8,
  },
];

interface Row {
  shape: Shape;
  round: number;
  run: ProduceRun;
  cost: PhaseCost;
}

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const rounds = o.quick ? 1 : 2;
  const volume = (o.quick ? 64 : 512) * MiB;
  const warmup = (o.quick ? 16 : 64) * MiB;
  const lim = await limits(backend, o.quick);
  let broker: BenchBroker | null = await backend.startBroker('produce');
  const rows: Row[] = [];
  try {
    const b = broker;
    let n = 0;
    const once = async (shape: Shape, bytes: number, label: string): Promise<{ run: ProduceRun; cost: PhaseCost }> => {
      const topic = `produce-${shape.id}-${n++}`.toLowerCase();
      await createTopic(b.child.port, topic, shape.partitions);
      const p = await Producer.open({
        port: b.child.port,
        topic,
        partitions: shape.partitions,
        connections: shape.connections,
        recordsPerBatch: shape.recordsPerBatch,
        valueBytes: shape.valueBytes,
        partitionsPerRequest: shape.partitionsPerRequest,
      });
      try {
        const bar = new Progress(label, bytes / MiB, 'MiB');
        const m = await measure(b, backend, () =>
          p.saturate({
            inFlight: shape.inFlightPerConnection * shape.connections,
            targetValueBytes: bytes,
            deadlineMs: 300_000,
            progress: bar,
          }),
        );
        bar.end(`${(m.result.valueBytes / MiB / (m.result.elapsedMs / 1000)).toFixed(1)} MiB/s`);
        return { run: m.result, cost: m.cost };
      } finally {
        p.close();
        await deleteTopic(b.child.port, topic).catch((err: unknown) =>
          console.error(`note: could not delete topic ${topic}: ${(err as Error).message}`),
        );
      }
    };
    for (const shape of shapes) await once(shape, warmup / shapes.length, `warm-up ${shape.id}`);
    for (let r = 1; r <= rounds; r++) {
      for (const shape of shapes) {
        const x = await once(shape, volume, `round ${r}/${rounds} ${shape.id}`);
        rows.push({ shape, round: r, ...x });
      }
    }
    await broker.destroy();
    broker = null;
  } finally {
    if (broker) await broker.destroy().catch(() => {});
  }

  // ---------------------------------------------------------------------------------------------- report
  const fig = (r: Row) => {
    const gib = r.run.valueBytes / GiB;
    const mibps = r.run.valueBytes / MiB / (r.run.elapsedMs / 1000);
    const lat = percentiles(r.run.samples.map((s) => s.latencyMs));
    const c = costFigures(r.cost, gib);
    return {
      throughput: figure(mibps, 'MiB/s'),
      recordsPerSecond: figure(r.run.records / (r.run.elapsedMs / 1000), 'records/s'),
      ackLatencyP50: figure(lat.p50, 'ms'),
      ackLatencyP99: figure(lat.p99, 'ms'),
      ackLatencyP999: figure(lat.p999, 'ms'),
      mibPerBrokerCore: figure(mibps / (r.cost.brokerCpuS / (r.run.elapsedMs / 1000)), 'MiB/s per broker core (MiB per broker CPU-second)'),
      ratioToRawPut: figure(mibps / lim.putMiBps, 'ratio (produce MiB/s ÷ raw PUT MiB/s)'),
      ratioToLoopback: figure(mibps / lim.loopbackMiBps, 'ratio (produce MiB/s ÷ loopback TCP MiB/s)'),
      volume: figure(r.run.valueBytes / MiB, 'MiB of record values'),
      requests: figure(r.run.requests, 'requests'),
      ...c,
    };
  };
  const med = (s: Shape, k: string): number =>
    median(
      rows.filter((r) => r.shape === s).map((r) => ((fig(r) as Record<string, unknown>)[k] as { value: number } | null)?.value ?? NaN),
    );
  const range = (s: Shape): string => {
    const v = rows.filter((r) => r.shape === s).map((r) => fig(r).throughput.value);
    return v.length > 1 ? ` [${fmt(Math.min(...v))}–${fmt(Math.max(...v))}]` : '';
  };
  console.log(
    `\nProduce, acks=all, saturation (${rounds === 1 ? '1 round' : `median of ${rounds} rounds, MiB/s range in brackets`}; MiB = 2^20 bytes of record values; ${backend.kind} backend)\n`,
  );
  console.log(
    table(
      [
        'shape',
        'MiB/s',
        'records/s',
        'ack p50 ms',
        'ack p99 ms',
        'broker CPU-s/GiB',
        'MiB/s per core',
        'broker cores',
        'client cores',
        'other cores',
        'peak RSS MiB',
        'PUTs/GiB',
        '÷ raw PUT',
      ],
      shapes.map((s) => [
        s.id,
        `${fmt(med(s, 'throughput'))}${range(s)}`,
        fmt(med(s, 'recordsPerSecond')),
        fmt(med(s, 'ackLatencyP50')),
        fmt(med(s, 'ackLatencyP99')),
        fmt(med(s, 'brokerCpuPerGiB')),
        fmt(med(s, 'mibPerBrokerCore')),
        fmt(med(s, 'brokerCores')),
        fmt(med(s, 'clientCores')),
        fmt(med(s, 'otherCores')),
        fmt(med(s, 'peakRss')),
        fmt(med(s, 'putsPerGiB')),
        `${fmt(med(s, 'ratioToRawPut'))}×`,
      ]),
    ),
  );
  console.log(
    `\nlimits (same run): raw PUT ${fmt(lim.putMiBps)} MiB/s (${lim.objectBytes / MiB} MiB objects, ${lim.putConcurrency} in flight), loopback TCP ${fmt(lim.loopbackMiBps)} MiB/s`,
  );
  for (const s of shapes) {
    const perCore = med(s, 'mibPerBrokerCore');
    target({
      scenario: 'produce',
      target: `ingest ≥ 45 MiB/s per broker core (${s.id})`,
      measured: `${fmt(perCore)} MiB/s per core`,
      met: perCore >= 45,
    });
    const ratio = med(s, 'ratioToRawPut');
    target({
      scenario: 'produce',
      target: `produce ≥ 70% of raw PUT MiB/s (${s.id})`,
      measured: `${fmt(100 * ratio)}% (${fmt(med(s, 'throughput'))} of ${fmt(lim.putMiBps)} MiB/s)`,
      met: ratio >= 0.7,
    });
    const puts = med(s, 'putsPerGiB');
    target({ scenario: 'produce', target: `≤ 130 PUTs per GiB at load (${s.id})`, measured: `${fmt(puts)} PUTs/GiB`, met: puts <= 130 });
  }

  // Charts: the last round of every shape.
  const last = shapes.map((s) => rows.filter((r) => r.shape === s).at(-1)!);
  const charts = {
    throughput: writeChart(o, 'throughput', {
      title: `produce throughput over time (acks=all, ${backend.kind})`,
      xLabel: 'seconds since the phase started',
      yLabel: 'MiB/s (record values)',
      series: [
        ...last.map((r) => ({
          name: r.shape.id,
          points: perSecond(r.run.samples).map((b) => [b.second, b.mibPerSec] as [number, number]),
        })),
        {
          name: 'raw PUT limit',
          points: [
            [0, lim.putMiBps],
            [Math.max(...last.map((r) => r.run.elapsedMs / 1000)), lim.putMiBps],
          ],
          dashed: true,
        },
      ],
    }),
    latency: writeChart(o, 'ack-latency', {
      title: 'produce-ack latency over time (p50 solid per shape, p99 of each second)',
      xLabel: 'seconds since the phase started',
      yLabel: 'ms',
      logY: true,
      series: last.flatMap((r) => [
        { name: `${r.shape.id} p50`, points: perSecond(r.run.samples).map((b) => [b.second, b.p50] as [number, number]) },
        { name: `${r.shape.id} p99`, points: perSecond(r.run.samples).map((b) => [b.second, b.p99] as [number, number]), dashed: true },
      ]),
    }),
    cdf: writeChart(o, 'ack-latency-cdf', {
      title: 'produce-ack latency distribution at saturation',
      xLabel: 'fraction of requests (nines scale)',
      yLabel: 'ms',
      logY: true,
      ninesX: true,
      series: last.map((r) => ({
        name: r.shape.id,
        points: cdfPoints(r.run.samples.map((s) => s.latencyMs)).map(([v, f]) => [f, v] as [number, number]),
      })),
    }),
  };
  console.log(`charts: ${Object.values(charts).join(', ')}`);

  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    loadGenerator:
      'bench/lib/load.ts closed loop: pre-encoded Produce v9 frames (acks=-1), 32 MiB of record values in flight, re-sent with a new correlation id when acknowledged; client CPU is clientCores',
    settings: {
      rounds,
      volume: figure(volume / MiB, 'MiB per phase'),
      warmup: figure(warmup / MiB, 'MiB in all'),
      acks: -1,
      compression: 'none',
      shapes: shapes.map((s) => ({
        ...s,
        requestBytes: figure((s.partitionsPerRequest * s.recordsPerBatch * s.valueBytes) / 1024, 'KiB of values'),
        inFlight: figure(
          (s.connections * s.inFlightPerConnection * s.partitionsPerRequest * s.recordsPerBatch * s.valueBytes) / MiB,
          'MiB',
        ),
      })),
      broker: 'defaults (skafos.flush.size.bytes 8 MiB, skafos.flush.linger.ms 250, 4 concurrent flushes) plus SKAFOS_BENCH_BROKER_SETS',
    },
    limits: limitFigures(lim),
    summary: shapes.map((s) => {
      const one = fig(rows.find((r) => r.shape === s)!);
      return {
        shape: s.id,
        ...Object.fromEntries(
          Object.entries(one).map(([k, v]) => [
            k,
            v && typeof v === 'object' && 'unit' in v ? figure(med(s, k), (v as { unit: string }).unit) : v,
          ]),
        ),
      };
    }),
    phases: rows.map((r) => ({ shape: r.shape.id, round: r.round, ...fig(r), perSecond: perSecond(r.run.samples) })),
    charts,
  };
}
