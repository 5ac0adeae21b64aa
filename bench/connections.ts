// Connections scenario: 5,000 idle client connections (each connected and past one ApiVersions request) held
// open against one broker while a producer runs at a fixed rate (16 MiB/s, 64 KiB requests, 16 partitions);
// compared with the same producer without them. Figures: broker RSS with and without, per idle connection,
// and the produce-ack p99 meanwhile. Needs 5,000+ file descriptors on each side (ulimit -n).
import { execFileSync } from 'node:child_process';
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { createTopic, GiB, MiB, target } from './lib/common.ts';
import { openIdleConnections, Producer } from './lib/load.ts';
import type { ProduceRun } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { percentiles } from './lib/stats.ts';

export const description =
  'connections: 5,000 idle client connections; broker RSS and produce p99 meanwhile, against the same load without them';

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const idle = 5000;
  let fdLimit = 'unknown';
  try {
    fdLimit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    /* reported as unknown */
  }
  if (fdLimit !== 'unlimited' && Number(fdLimit) < idle + 500)
    throw new Error(`ulimit -n is ${fdLimit}: ${idle} connections need more (ulimit -n 20000)`);
  const phaseMs = o.quick ? 6_000 : 30_000;
  const rateMiBps = 16;
  let broker: BenchBroker | null = await backend.startBroker('connections');
  const phases: { phase: string; run: ProduceRun; cost: PhaseCost; rssBefore: number }[] = [];
  let connectS = 0;
  let rssIdleOnly = 0;
  try {
    const b = broker;
    await createTopic(b.child.port, 'conns', 16);
    const p = await Producer.open({
      port: b.child.port,
      topic: 'conns',
      partitions: 16,
      connections: 4,
      recordsPerBatch: 64,
      valueBytes: 1024,
      partitionsPerRequest: 1,
    });
    const rps = (rateMiBps * MiB) / p.valueBytesPerRequest;
    await p.fixedRate({ requestsPerSecond: rps, durationMs: 2000, deadlineMs: 60_000 });
    const phase = async (name: string) => {
      const rssBefore = b.child.memory().rssBytes;
      const bar = new Progress(`produce ${rateMiBps} MiB/s, ${name}`, phaseMs / 1000, 's');
      const m = await measure(b, backend, () =>
        p.fixedRate({ requestsPerSecond: rps, durationMs: phaseMs, deadlineMs: phaseMs + 120_000, progress: bar }),
      );
      bar.end();
      phases.push({ phase: name, run: m.result, cost: m.cost, rssBefore });
    };
    await phase('without idle connections');
    const rss0 = b.child.memory().rssBytes;
    const cbar = new Progress('opening idle connections', idle, 'connections');
    const t0 = performance.now();
    const conns = await openIdleConnections(b.child.port, idle, 250, cbar);
    connectS = (performance.now() - t0) / 1000;
    cbar.end();
    await new Promise((r) => setTimeout(r, 1000));
    rssIdleOnly = b.child.memory().rssBytes - rss0;
    try {
      await phase(`with ${idle} idle connections`);
      const open = (await b.child.metrics()).get('skafos_connections') ?? NaN;
      if (open < idle) throw new Error(`broker reports ${open} connections, expected at least ${idle}`);
    } finally {
      for (const c of conns) c.close();
      p.close();
    }
    await broker.destroy();
    broker = null;
  } finally {
    if (broker) await broker.destroy().catch(() => {});
  }
  const fig = (x: (typeof phases)[number]) => {
    const l = percentiles(x.run.samples.map((s) => s.latencyMs));
    return {
      achieved: figure(x.run.valueBytes / MiB / (x.run.elapsedMs / 1000), 'MiB/s'),
      ackP50: figure(l.p50, 'ms'),
      ackP99: figure(l.p99, 'ms'),
      ackP999: figure(l.p999, 'ms'),
      rssBefore: figure(x.rssBefore / MiB, 'MiB'),
      ...costFigures(x.cost, x.run.valueBytes / GiB),
    };
  };
  console.log(`\nProduce at ${rateMiBps} MiB/s with and without ${idle} idle connections (${backend.kind} backend)\n`);
  console.log(
    table(
      ['phase', 'MiB/s', 'ack p50 ms', 'ack p99 ms', 'ack p99.9 ms', 'RSS MiB', 'peak RSS MiB', 'broker cores'],
      phases.map((x) => {
        const f = fig(x);
        return [
          x.phase,
          fmt(f.achieved.value),
          fmt(f.ackP50.value),
          fmt(f.ackP99.value),
          fmt(f.ackP999.value),
          fmt(f.rssAtEnd.value),
          fmt(f.peakRss.value),
          fmt(f.brokerCores.value),
        ];
      }),
    ),
  );
  console.log(
    `\n${idle} connections opened in ${fmt(connectS)} s; broker RSS grew by ${fmt(rssIdleOnly / MiB)} MiB (${fmt(rssIdleOnly / idle / 1024)} KiB per connection)`,
  );
  const [a, b2] = phases.map((x) => fig(x).ackP99.value) as [number, number];
  target({
    scenario: 'connections',
    target: `produce p99 with ${idle} idle connections (no issue target; reported)`,
    measured: `${fmt(b2)} ms vs ${fmt(a)} ms without`,
    met: null,
  });
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      idleConnections: idle,
      openedPerBatch: 250,
      idleConnection: 'TCP connect + one ApiVersions v3, then nothing',
      rate: figure(rateMiBps, 'MiB/s'),
      duration: figure(phaseMs / 1000, 's per phase'),
      ulimitN: fdLimit,
    },
    connectTime: figure(connectS, 's'),
    rssPerIdleConnection: figure(rssIdleOnly / idle / 1024, 'KiB'),
    rssGrowthForIdle: figure(rssIdleOnly / MiB, 'MiB'),
    phases: phases.map((x) => ({ phase: x.phase, ...fig(x) })),
  };
}
