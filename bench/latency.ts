// Latency scenario: produce-ack and end-to-end latency at fixed rates of 25% and 75% of the saturation
// throughput measured just before (same broker, same request shape), without and (s3 backend) with injected
// object-store latency (bench/lib/latency-proxy.ts; --s3-latency P50,P99, default 30,120 ms per request).
// Requests: one 64 KiB batch (64 records of 1 KiB) for one of 16 partitions, open loop over 4 connections,
// latency measured from the scheduled send time. A consumer tails the topic (one Fetch in flight, max_wait
// 500 ms); end-to-end latency is the time from a batch's send to its arrival at the consumer.
import { flushLingerMsDefaults } from '../broker/config/params.ts';
import { WireConnection } from './lib/wire-client.ts';
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { createTopic, deleteTopic, GiB, MiB, target, writeChart } from './lib/common.ts';
import { limitFigures, limits } from './lib/limits.ts';
import { EndOffsets, EndToEnd, Producer, TailConsumer } from './lib/load.ts';
import type { ProduceRun } from './lib/load.ts';
import { costFigures, measure } from './lib/measure.ts';
import type { PhaseCost } from './lib/measure.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { cdfPoints, percentiles, perSecond } from './lib/stats.ts';
import type { Sample } from './lib/stats.ts';

export const description =
  'latency: produce-ack and end-to-end p50/p99/p99.9 at 25% and 75% of saturation, without and (--backend s3) with injected S3-like latency';

const partitions = 16;
const recordsPerBatch = 64;
const valueBytes = 1024;

interface Phase {
  injection: string;
  injected: { p50Ms: number; p99Ms: number } | null;
  load: number;
  saturationMiBps: number;
  run: ProduceRun;
  e2e: Sample[];
  cost: PhaseCost;
}

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  const backend = await BenchBackend.get(o.backend);
  const lim = await limits(backend, o.quick);
  const satMs = o.quick ? 5_000 : 15_000;
  const phaseMs = o.quick ? 8_000 : 60_000;
  const injections: { name: string; l: { p50Ms: number; p99Ms: number } | null }[] = [{ name: 'none', l: null }];
  if (backend.kind === 's3')
    injections.push({ name: `S3-like (p50 ${o.s3Latency.p50Ms} ms, p99 ${o.s3Latency.p99Ms} ms)`, l: o.s3Latency });
  const phases: Phase[] = [];
  const saturation: Record<string, number> = {};
  let broker: BenchBroker | null = await backend.startBroker('latency');
  let n = 0;
  try {
    const b = broker;
    const open = async () => {
      const topic = `latency-${n++}`;
      const topicId = await createTopic(b.child.port, topic, partitions);
      const p = await Producer.open({
        port: b.child.port,
        topic,
        partitions,
        connections: 4,
        recordsPerBatch,
        valueBytes,
        partitionsPerRequest: 1,
      });
      return { topic, topicId, p };
    };
    for (const inj of injections) {
      await backend.setLatency(inj.l);
      // Saturation with the same request shape: 512 requests (32 MiB) in flight.
      {
        const { topic, p } = await open();
        const bar = new Progress(`saturation, injection ${inj.l ? 'on' : 'off'}`, satMs / 1000, 's');
        const r = await p.saturate({ inFlight: 512, durationMs: satMs, deadlineMs: satMs + 120_000, progress: bar });
        p.close();
        await deleteTopic(b.child.port, topic).catch((err: unknown) =>
          console.error(`note: could not delete topic ${topic}: ${(err as Error).message}`),
        );
        saturation[inj.name] = r.valueBytes / MiB / (r.elapsedMs / 1000);
        bar.end(`${saturation[inj.name]!.toFixed(1)} MiB/s`);
      }
      for (const load of [0.25, 0.75]) {
        const { topic, topicId, p } = await open();
        const rate = (load * saturation[inj.name]! * MiB) / p.valueBytesPerRequest;
        const origin = performance.now();
        const e2e = new EndToEnd(origin);
        const ends = new EndOffsets(partitions, recordsPerBatch);
        const conn = await WireConnection.connect(b.child.port);
        const consumer = new TailConsumer(conn, { topic, topicId, partitions, e2e, endOffsets: () => ends.ends });
        const bar = new Progress(`${Math.round(load * 100)}% of saturation, injection ${inj.l ? 'on' : 'off'}`, phaseMs / 1000, 's');
        try {
          const m = await measure(b, backend, async () => {
            const r = await p.fixedRate({
              requestsPerSecond: rate,
              durationMs: phaseMs,
              deadlineMs: phaseMs + 120_000,
              progress: bar,
              onAck: (pp, base, at) => {
                ends.onAck(pp, base, at);
                e2e.onAck(pp, base, at);
              },
            });
            await consumer.stop();
            return r;
          });
          bar.end();
          phases.push({
            injection: inj.name,
            injected: inj.l,
            load,
            saturationMiBps: saturation[inj.name]!,
            run: m.result,
            e2e: e2e.samples,
            cost: m.cost,
          });
        } finally {
          conn.close();
          p.close();
          await deleteTopic(b.child.port, topic).catch((err: unknown) =>
            console.error(`note: could not delete topic ${topic}: ${(err as Error).message}`),
          );
        }
      }
    }
    await backend.setLatency(null);
    await broker.destroy();
    broker = null;
  } finally {
    await backend.setLatency(null).catch(() => {});
    if (broker) await broker.destroy().catch(() => {});
  }

  // ---------------------------------------------------------------------------------------------- report
  const label = (ph: Phase) => `${Math.round(ph.load * 100)}% ${ph.injected ? `inj ${ph.injected.p50Ms}/${ph.injected.p99Ms}` : 'no inj'}`;
  const fig = (ph: Phase) => {
    const a = percentiles(ph.run.samples.map((s) => s.latencyMs));
    const e = percentiles(ph.e2e.map((s) => s.latencyMs));
    const mibps = ph.run.valueBytes / MiB / (ph.run.elapsedMs / 1000);
    // The target's bound: linger + the store's PUT p99 (measured raw in limits, plus the injected p99) + 50 ms.
    const putP99 = lim.putLatencyMs.p99 + (ph.injected?.p99Ms ?? 0);
    const lingerMs = flushLingerMsDefaults[backend.kind === 's3' ? 's3' : 'local']; // the broker runs with the default
    return {
      saturation: figure(ph.saturationMiBps, 'MiB/s'),
      offered: figure(ph.load * ph.saturationMiBps, 'MiB/s'),
      achieved: figure(mibps, 'MiB/s'),
      ackP50: figure(a.p50, 'ms'),
      ackP99: figure(a.p99, 'ms'),
      ackP999: figure(a.p999, 'ms'),
      ackMax: figure(a.max, 'ms'),
      acks: figure(a.count, 'requests'),
      e2eP50: figure(e.p50, 'ms'),
      e2eP99: figure(e.p99, 'ms'),
      e2eP999: figure(e.p999, 'ms'),
      e2eMax: figure(e.max, 'ms'),
      e2eBatches: figure(e.count, 'batches'),
      ackP99Bound: figure(lingerMs + putP99 + 50, `ms (linger ${lingerMs} + store PUT p99 + 50)`),
      lateSends: figure(ph.run.lateSends, 'requests sent > 100 ms late by the client'),
      ...costFigures(ph.cost, ph.run.valueBytes / GiB),
    };
  };
  console.log(
    `\nLatency at fixed rates (${backend.kind} backend; requests of one 64 KiB batch, 16 partitions; ack = produce request → acks=all response; e2e = send → consumer receives the batch)\n`,
  );
  console.log(
    table(
      [
        'phase',
        'sat MiB/s',
        'rate MiB/s',
        'ack p50',
        'ack p99',
        'ack p99.9',
        'e2e p50',
        'e2e p99',
        'e2e p99.9',
        'ack p99 bound',
        'broker cores',
        'client cores',
        'PUTs/s',
      ],
      phases.map((ph) => {
        const f = fig(ph);
        return [
          label(ph),
          fmt(f.saturation.value),
          fmt(f.achieved.value),
          fmt(f.ackP50.value),
          fmt(f.ackP99.value),
          fmt(f.ackP999.value),
          fmt(f.e2eP50.value),
          fmt(f.e2eP99.value),
          fmt(f.e2eP999.value),
          fmt(f.ackP99Bound.value),
          fmt(f.brokerCores!.value),
          fmt(f.clientCores!.value),
          fmt(f.putsPerSecond!.value),
        ];
      }),
    ),
  );
  console.log('(all latencies in ms)');
  for (const ph of phases) {
    const f = fig(ph);
    target({
      scenario: 'latency',
      target: `produce-ack p99 ≤ linger + PUT p99 + 50 ms (${label(ph)})`,
      measured: `${fmt(f.ackP99.value)} ms vs ${fmt(f.ackP99Bound.value)} ms`,
      met: f.ackP99.value <= f.ackP99Bound.value,
    });
    if (ph.injected)
      target({
        scenario: 'latency',
        target: `end-to-end p99 < 1 s with S3-like latency (${label(ph)})`,
        measured: `${fmt(f.e2eP99.value)} ms`,
        met: f.e2eP99.value < 1000,
      });
  }
  if (backend.kind !== 's3') {
    target({
      scenario: 'latency',
      target: 'end-to-end p99 < 1 s with S3-like latency',
      measured: 'not measured',
      met: null,
      note: 'latency injection needs --backend s3: the broker has no hook to delay its local object store',
    });
  }

  const charts = {
    latency: writeChart(o, 'latency-over-time', {
      title: `latency percentiles over time, per second (${backend.kind})`,
      xLabel: 'seconds since the phase started',
      yLabel: 'ms',
      logY: true,
      series: phases.flatMap((ph) => [
        { name: `${label(ph)} ack p99`, points: perSecond(ph.run.samples).map((x) => [x.second, x.p99] as [number, number]) },
        { name: `${label(ph)} e2e p99`, points: perSecond(ph.e2e).map((x) => [x.second, x.p99] as [number, number]), dashed: true },
      ]),
    }),
    latencyP50: writeChart(o, 'latency-p50-over-time', {
      title: `latency p50 over time, per second (${backend.kind})`,
      xLabel: 'seconds since the phase started',
      yLabel: 'ms',
      logY: true,
      series: phases.flatMap((ph) => [
        { name: `${label(ph)} ack p50`, points: perSecond(ph.run.samples).map((x) => [x.second, x.p50] as [number, number]) },
        { name: `${label(ph)} e2e p50`, points: perSecond(ph.e2e).map((x) => [x.second, x.p50] as [number, number]), dashed: true },
      ]),
    }),
    throughput: writeChart(o, 'throughput', {
      title: 'produce throughput over time at the fixed rates',
      xLabel: 'seconds since the phase started',
      yLabel: 'MiB/s acknowledged',
      series: phases.map((ph) => ({
        name: label(ph),
        points: perSecond(ph.run.samples).map((x) => [x.second, x.mibPerSec] as [number, number]),
      })),
    }),
    cdf: writeChart(o, 'latency-cdf', {
      title: 'latency distribution: produce-ack (solid) and end-to-end (dashed)',
      xLabel: 'fraction of requests / batches (nines scale)',
      yLabel: 'ms',
      logY: true,
      ninesX: true,
      series: phases.flatMap((ph) => [
        { name: `${label(ph)} ack`, points: cdfPoints(ph.run.samples.map((s) => s.latencyMs)).map(([v, f]) => [f, v] as [number, number]) },
        {
          name: `${label(ph)} e2e`,
          points: cdfPoints(ph.e2e.map((s) => s.latencyMs)).map(([v, f]) => [f, v] as [number, number]),
          dashed: true,
        },
      ]),
    }),
  };
  console.log(`charts: ${Object.values(charts).join(', ')}`);
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      partitions,
      recordsPerBatch,
      valueBytes: figure(valueBytes, 'bytes'),
      requestBytes: figure(64, 'KiB of values, one batch for one partition'),
      connections: 4,
      saturationProbe: { inFlight: figure(512, 'requests (32 MiB)'), duration: figure(satMs / 1000, 's') },
      phaseDuration: figure(phaseMs / 1000, 's'),
      loads: [0.25, 0.75],
      injections: injections.map((i) => ({
        name: i.name,
        p50: i.l ? figure(i.l.p50Ms, 'ms') : null,
        p99: i.l ? figure(i.l.p99Ms, 'ms') : null,
        distribution: i.l ? "log-normal fitted to p50 and p99, added to every S3 request's response" : null,
      })),
      consumer: 'one connection, one Fetch v16 in flight, max_wait 500 ms, min_bytes 1, every partition',
      broker: 'defaults (skafos.flush.linger.ms 250, skafos.flush.size.bytes 8 MiB)',
      embeddedNote:
        backend.kind === 'embedded'
          ? 'no injection on the embedded backend: the broker has no hook to delay its local object store; use --backend s3'
          : undefined,
    },
    limits: limitFigures(lim),
    phases: phases.map((ph) => ({
      phase: label(ph),
      injection: ph.injection,
      load: ph.load,
      ...fig(ph),
      perSecondAck: perSecond(ph.run.samples),
      perSecondE2e: perSecond(ph.e2e),
    })),
    charts,
  };
}
