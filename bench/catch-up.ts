// Catch-up scenario: one consumer reads a topic from offset 0 (2 GiB of record values; 192 MiB with --quick),
// first with cold caches (the broker restarted on the same data: its segment and index caches empty), then
// again (warm: the caches as the first read left them). The topic (16 partitions, 1 KiB records) is produced
// at saturation first. Reads use bench/lib/broker-load.ts runFetch (one Fetch v16 in flight, max_bytes 50 MiB,
// 8 MiB per partition, every batch's CRC and offsets checked). Figures: MiB/s and its ratio to the raw
// ranged-GET MiB/s of the same store (bench/lib/limits.ts), GETs per GiB read, broker CPU per GiB.
// Embedded backend: "cold" is cold for the broker only; the OS page cache still holds the files just written.
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { runFetch } from './lib/broker-load.ts';
import type { FetchResult } from './lib/broker-load.ts';
import { createTopic, MiB, target, waitTopicReady } from './lib/common.ts';
import { limitFigures, limits } from './lib/limits.ts';
import { EndOffsets, Producer } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { percentiles } from './lib/stats.ts';
import { WireConnection } from './lib/wire-client.ts';

export const description =
  'catch-up: one consumer reads 2 GiB from offset 0, cold caches (broker restarted) and warm; MiB/s vs raw ranged-GET MiB/s';

const partitions = 16;

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const lim = await limits(backend, o.quick);
  const volume = (o.quick ? 192 : 2048) * MiB;
  let broker: BenchBroker | null = await backend.startBroker('catchup');
  const reads: { phase: string; result: FetchResult; cost: PhaseCost }[] = [];
  let produceMiBps = 0;
  try {
    const topic = 'catchup';
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
    const bar = new Progress('producing the topic', volume / MiB, 'MiB');
    const r = await p.saturate({ inFlight: 32, targetValueBytes: volume, deadlineMs: 1_800_000, progress: bar, onAck: ends.onAck });
    p.close();
    produceMiBps = r.valueBytes / MiB / (r.elapsedMs / 1000);
    bar.end(`${produceMiBps.toFixed(1)} MiB/s`);
    broker = await broker.restart();
    await waitTopicReady(broker.child.port, topic, topicId, partitions);
    for (const phase of ['cold', 'warm']) {
      const b = broker;
      const conn = await WireConnection.connect(b.child.port);
      // runFetch reports nothing while it runs: the bar shows the broker's bytes served via elapsed time only.
      const rbar = new Progress(`catch-up read (${phase})`, 1, 'reads');
      const t0 = performance.now();
      const timer = setInterval(() => rbar.update(0, `${((performance.now() - t0) / 1000).toFixed(0)} s`), 1000);
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
        rbar.end(`${((m.result.records * 1024) / MiB / (m.result.elapsedMs / 1000)).toFixed(1)} MiB/s`);
        if (m.result.records * 1024 !== r.valueBytes)
          throw new Error(`catch-up ${phase}: read ${m.result.records} records, produced ${r.records}`);
        reads.push({ phase, ...m });
      } finally {
        clearInterval(timer);
        conn.close();
      }
    }
    await broker.destroy();
    broker = null;
  } finally {
    if (broker) await broker.destroy().catch(() => {});
  }

  const best = Math.max(lim.get1MiBps, lim.get4MiBps);
  const fig = (x: (typeof reads)[number]) => {
    const mib = (x.result.records * 1024) / MiB;
    const mibps = mib / (x.result.elapsedMs / 1000);
    const l = percentiles(x.result.latenciesMs);
    return {
      throughput: figure(mibps, 'MiB/s of record values'),
      volume: figure(mib, 'MiB'),
      fetches: figure(x.result.requests, 'requests'),
      fetchP50: figure(l.p50, 'ms'),
      fetchP99: figure(l.p99, 'ms'),
      ratioToRangedGet1: figure(mibps / lim.get1MiBps, 'ratio (÷ raw ranged GET, 1 in flight)'),
      ratioToRangedGet4: figure(mibps / lim.get4MiBps, 'ratio (÷ raw ranged GET, 4 in flight)'),
      getsPerGiB: figure(x.cost.store.get / (mib / 1024), 'GETs/GiB read'),
      ...costFigures(x.cost, mib / 1024),
    };
  };
  console.log(
    `\nCatch-up read of ${fmt(volume / MiB)} MiB from offset 0 (${backend.kind} backend; topic produced at ${fmt(produceMiBps)} MiB/s; one consumer)\n`,
  );
  console.log(
    table(
      [
        'read',
        'MiB/s',
        'fetch p50 ms',
        'fetch p99 ms',
        'GETs',
        'GETs/GiB',
        'broker CPU-s/GiB',
        'broker cores',
        'client cores',
        'peak RSS MiB',
        '÷ GET ×1',
        '÷ GET ×4',
      ],
      reads.map((x) => {
        const f = fig(x);
        return [
          x.phase,
          fmt(f.throughput.value),
          fmt(f.fetchP50.value),
          fmt(f.fetchP99.value),
          fmt(f.gets.value),
          fmt(f.getsPerGiB.value),
          fmt(f.brokerCpuPerGiB!.value),
          fmt(f.brokerCores.value),
          fmt(f.clientCores.value),
          fmt(f.peakRss.value),
          `${fmt(f.ratioToRangedGet1.value)}×`,
          `${fmt(f.ratioToRangedGet4.value)}×`,
        ];
      }),
    ),
  );
  console.log(
    `\nlimits (same run): ranged GET ${fmt(lim.get1MiBps)} MiB/s (1 in flight), ${fmt(lim.get4MiBps)} MiB/s (4 in flight), ${lim.getRangeBytes / MiB} MiB ranges`,
  );
  for (const x of reads) {
    const v = fig(x).throughput.value;
    target({
      scenario: 'catch-up',
      target: `catch-up ≥ 70% of raw ranged-GET MiB/s (${x.phase})`,
      measured: `${fmt((100 * v) / best)}% (${fmt(v)} of ${fmt(best)} MiB/s)`,
      met: v >= 0.7 * best,
    });
  }
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      volume: figure(volume / MiB, 'MiB of record values'),
      partitions,
      valueBytes: figure(1024, 'bytes'),
      consumer:
        'bench/lib/broker-load.ts runFetch: one connection, one Fetch v16 in flight, max_bytes 50 MiB, partition_max_bytes 8 MiB, max_wait 500 ms',
      cold:
        backend.kind === 'embedded'
          ? 'broker restarted (its caches empty); the OS page cache is not dropped'
          : "broker restarted (its caches empty); radosgw's memstore holds everything in memory",
      broker: 'defaults (skafos.cache.segment.bytes 256 MiB, skafos.readahead.bytes 4 MiB)',
    },
    produce: figure(produceMiBps, 'MiB/s (while writing the topic)'),
    limits: limitFigures(lim),
    reads: reads.map((x) => ({ phase: x.phase, ...fig(x) })),
  };
}
