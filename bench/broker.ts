// Broker scenario: produce and fetch throughput of one broker on the embedded default (local data directory,
// embedded SQLite metadata), run as a child process so its CPU time and memory are measured apart from the
// load generator's. See bench/README.md for the figures and how to read them.
//
// Per round and per topic shape (1 partition, 16 partitions), on a fresh topic:
//   produce   1 KiB records, acks=-1, a fixed volume, pipelined Produce v9 requests (bench/lib/broker-load.ts)
//   fetch-1   one consumer reads the topic back from offset 0 (Fetch v16); record count and offsets checked
//   fetch-2   the same again (the broker's segment cache and the OS page cache as the first read left them)
// then, once, `produce-5-in-flight`: 1 partition, one connection with 5 requests in flight (the default of
// the Java producer and of @platformatic/kafka), to show what acks=-1 costs a client that does not pipeline
// deeply. Every phase records the broker's CPU time (all threads, and the main thread), the client's CPU time,
// the CPU time of everything else on the machine, the broker's peak RSS, and from the broker's /metrics its GC
// pauses and object store requests.
//
// Profiling: SKAFOS_BENCH_CPU_PROF=<dir> runs the broker under `node --cpu-prof`, crops the profile to the
// produce phases (and, separately, the fetch phases) and prints the top functions by self time
// (bench/lib/cpuprofile-summary.ts) and the callers of the top runtime functions (bench/lib/cpuprofile-callers.ts).
// SKAFOS_BENCH_BROKER_SETS="key=value ..." passes extra --set options to the broker.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTopic, prepareProduce, quantile, runFetch } from './lib/broker-load.ts';
import type { FetchResult, ProduceResult } from './lib/broker-load.ts';
import { BrokerChild, machineCpu } from './lib/broker-process.ts';
import type { CpuSample } from './lib/broker-process.ts';
import { formatCallers, topOtherFunctions } from './lib/cpuprofile-callers.ts';
import type { Profile } from './lib/cpuprofile-callers.ts';
import { cropProfile, monotonicMicros } from './lib/cpuprofile-window.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { Figure } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { WireConnection } from './lib/wire-client.ts';

export const description =
  'broker produce/fetch throughput: broker child process (local store, embedded metadata), 1 KiB records, acks=-1, 1 and 16 partitions';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

interface Shape {
  id: string;
  partitions: number;
  /** Batches per Produce request, each for a different partition. */
  partitionsPerRequest: number;
  connections: number;
  inFlightPerConnection: number;
}

interface Settings {
  rounds: number;
  produceBytes: number;
  warmupBytes: number;
  lowDepthBytes: number;
  valueBytes: number;
  recordsPerBatch: number;
  fetchMaxBytes: number;
  fetchPartitionMaxBytes: number;
  fetchMaxWaitMs: number;
  produceTimeoutMs: number;
  phaseDeadlineMs: number;
  shapes: Shape[];
  lowDepth: Shape;
}

// 256 records of 1 KiB: a 258 KiB batch (batch.size=256 KiB is a common throughput setting). Both shapes keep
// 32 MiB of record values in flight: 4 × skafos.flush.size.bytes, so the broker's 4 concurrent flushes can all
// be busy (with 16 MiB, produce throughput was ~15% lower; beyond 32 MiB, no higher, only slower to ack).
// 1 partition: 4 connections × 32 requests of one batch; 16 partitions: 4 connections × 8 requests of 4
// batches (1 MiB, the Java producer's default max.request.size).
const shapes: Shape[] = [
  { id: '1p', partitions: 1, partitionsPerRequest: 1, connections: 4, inFlightPerConnection: 32 },
  { id: '16p', partitions: 16, partitionsPerRequest: 4, connections: 4, inFlightPerConnection: 8 },
];
const lowDepth: Shape = { id: '1p-5-in-flight', partitions: 1, partitionsPerRequest: 1, connections: 1, inFlightPerConnection: 5 };

const common = {
  valueBytes: 1024,
  recordsPerBatch: 256,
  fetchMaxBytes: 50 * MiB,
  fetchPartitionMaxBytes: 8 * MiB,
  fetchMaxWaitMs: 500,
  produceTimeoutMs: 30_000,
  phaseDeadlineMs: 120_000,
  shapes,
  lowDepth,
};
const fullSettings: Settings = { ...common, rounds: 3, produceBytes: 512 * MiB, warmupBytes: 64 * MiB, lowDepthBytes: 16 * MiB };
const quickSettings: Settings = { ...common, rounds: 1, produceBytes: 128 * MiB, warmupBytes: 32 * MiB, lowDepthBytes: 4 * MiB };

/** Broker metrics read before and after every phase (null when the broker does not export one). */
const metricNames = {
  flushes: 'skafos_flushes',
  flushBytes: 'skafos_flush_object_bytes',
  puts: 'skafos_object_store_requests{op="put"}',
  gets: 'skafos_object_store_requests{op="get"}',
  deletes: 'skafos_object_store_requests{op="delete"}',
  cacheHits: 'skafos_segment_cache_hits',
  cacheMisses: 'skafos_segment_cache_misses',
  compactionSegments: 'skafos_compaction_segments_written',
  compactionBytes: 'skafos_compaction_bytes',
  healthTransitions: 'skafos_object_store_health_transitions',
  // prom-client's default Node metrics (main-thread GC pauses, by kind).
  gcMajorCount: 'nodejs_gc_duration_seconds_count{kind="major"}',
  gcMajorSeconds: 'nodejs_gc_duration_seconds_sum{kind="major"}',
  gcMinorSeconds: 'nodejs_gc_duration_seconds_sum{kind="minor"}',
  gcIncrementalSeconds: 'nodejs_gc_duration_seconds_sum{kind="incremental"}',
} as const;
type MetricKey = keyof typeof metricNames;

interface Measured<T> {
  result: T;
  elapsedMs: number;
  broker: CpuSample;
  client: CpuSample;
  metrics: Record<MetricKey, number | null>;
  peakRssBytes: number;
  /** CPU-seconds of everything else on the machine (other processes, kernel threads), and of steal. */
  others: number;
  steal: number;
  /** [start, end] in monotonic microseconds, for cropping a profile. */
  window: [number, number];
}

function clientCpu(): CpuSample {
  const p = process.cpuUsage();
  const t = process.threadCpuUsage();
  return { process: (p.user + p.system) / 1e6, mainThread: (t.user + t.system) / 1e6 };
}

async function measure<T>(broker: BrokerChild, peakResets: boolean, fn: () => Promise<T>): Promise<Measured<T>> {
  const m0 = await broker.metrics();
  if (peakResets) broker.resetPeakRss();
  const b0 = broker.cpu();
  const c0 = clientCpu();
  const k0 = machineCpu();
  const w0 = monotonicMicros();
  const t0 = performance.now();
  const result = await fn();
  const elapsedMs = performance.now() - t0;
  const w1 = monotonicMicros();
  const k1 = machineCpu();
  const c1 = clientCpu();
  const b1 = broker.cpu();
  const peakRssBytes = broker.memory().peakRssBytes;
  const m1 = await broker.metrics();
  const metrics = {} as Record<MetricKey, number | null>;
  for (const [k, name] of Object.entries(metricNames) as [MetricKey, string][]) {
    // GC series appear with the first collection of their kind: absent before means 0.
    const a = m0.get(name) ?? (name.startsWith('nodejs_gc_') ? 0 : undefined);
    const b = m1.get(name) ?? (name.startsWith('nodejs_gc_') ? 0 : undefined);
    metrics[k] = a === undefined || b === undefined ? null : b - a;
  }
  return {
    result,
    elapsedMs,
    metrics,
    peakRssBytes,
    window: [w0, w1],
    others: Math.max(0, k1.busy - k0.busy - (b1.process - b0.process) - (c1.process - c0.process)),
    steal: k1.steal - k0.steal,
    broker: { process: b1.process - b0.process, mainThread: b1.mainThread - b0.mainThread },
    client: { process: c1.process - c0.process, mainThread: c1.mainThread - c0.mainThread },
  };
}

// ------------------------------------------------------------------------------------------------- phases

type PhaseId = 'produce' | 'fetch-1' | 'fetch-2';

interface PhaseRecord {
  round: number;
  shape: string;
  phase: PhaseId;
  partitions: number;
  records: number;
  valueBytes: number;
  batchBytes: number;
  requests: number;
  elapsedMs: number;
  latenciesMs: number[];
  m: Measured<unknown>;
}

function phaseRecord(
  round: number,
  shape: Shape,
  phase: PhaseId,
  m: Measured<ProduceResult | FetchResult>,
  valueBytes: number,
): PhaseRecord {
  const r = m.result;
  return {
    round,
    shape: shape.id,
    phase,
    partitions: shape.partitions,
    records: r.records,
    valueBytes: r.records * valueBytes,
    batchBytes: r.batchBytes,
    requests: r.requests,
    elapsedMs: r.elapsedMs,
    latenciesMs: r.latenciesMs,
    m,
  };
}

/** Every figure of one phase, each with its unit. */
function figures(p: PhaseRecord): Record<string, Figure | null> {
  const s = p.elapsedMs / 1000;
  /** The CPU-measurement window (a few ms longer than the load's own clock). */
  const cs = p.m.elapsedMs / 1000;
  const gib = p.valueBytes / GiB;
  const mib = p.valueBytes / MiB;
  const { broker, client, metrics } = p.m;
  const perGiB = (n: number | null) => (n === null ? null : figure(n / gib, 'per GiB of record values'));
  return {
    elapsed: figure(s, 's'),
    records: figure(p.records, 'records'),
    valueBytes: figure(p.valueBytes, 'bytes (record values: records × 1,024)'),
    batchBytes: figure(p.batchBytes, 'bytes (record batches as stored: headers and record framing included)'),
    requests: figure(p.requests, 'requests'),
    throughput: figure(mib / s, 'MiB/s of record values'),
    batchThroughput: figure(p.batchBytes / MiB / s, 'MiB/s of record batches'),
    recordsPerSecond: figure(p.records / s, 'records/s'),
    latencyP50: figure(
      quantile(p.latenciesMs, 0.5),
      p.phase === 'produce' ? 'ms (request written → acknowledgement read)' : 'ms (request written → response read and checked)',
    ),
    latencyP99: figure(quantile(p.latenciesMs, 0.99), 'ms'),
    latencyMax: figure(Math.max(...p.latenciesMs), 'ms'),
    brokerCpu: figure(broker.process, 'CPU-seconds (all threads)'),
    brokerMainThreadCpu: figure(broker.mainThread, 'CPU-seconds (main thread)'),
    brokerCores: figure(broker.process / cs, 'cores (broker CPU-seconds / wall seconds)'),
    brokerMainThreadShare: figure(broker.mainThread / cs, 'of one core (main-thread CPU-seconds / wall seconds)'),
    brokerCpuPerGiB: figure(broker.process / gib, 'broker CPU-seconds per GiB of record values'),
    throughputPerBrokerCore: figure(mib / broker.process, 'MiB/s per broker core (MiB of record values per broker CPU-second)'),
    brokerPeakRss: figure(p.m.peakRssBytes / MiB, 'MiB (VmHWM during the phase)'),
    clientCpu: figure(client.process, 'CPU-seconds (load generator, all threads)'),
    clientMainThreadCpu: figure(client.mainThread, 'CPU-seconds (load generator, main thread)'),
    clientCpuPerGiB: figure(client.process / gib, 'client CPU-seconds per GiB of record values'),
    clientCores: figure(client.process / cs, 'cores (client CPU-seconds / wall seconds)'),
    otherCores: figure(p.m.others / cs, 'cores busy with other work on the machine (/proc/stat busy time less broker and client)'),
    stealCores: figure(p.m.steal / cs, 'cores stolen by the hypervisor (/proc/stat steal)'),
    flushes: metrics.flushes === null ? null : figure(metrics.flushes, 'WAL objects written'),
    puts: metrics.puts === null ? null : figure(metrics.puts, 'object store PUTs (WAL objects, compacted segments, ...)'),
    flushBytes: metrics.flushBytes === null ? null : figure(metrics.flushBytes, 'bytes of WAL objects written'),
    putBytes:
      metrics.flushBytes === null
        ? null
        : figure(
            metrics.flushBytes + (metrics.compactionBytes ?? 0),
            'bytes PUT (WAL objects + record bytes moved into segments by compaction)',
          ),
    putsPerGiB: perGiB(metrics.puts),
    bytesPerPut:
      metrics.puts && metrics.flushBytes !== null
        ? figure((metrics.flushBytes + (metrics.compactionBytes ?? 0)) / metrics.puts / MiB, 'MiB per PUT')
        : null,
    compactionSegments:
      metrics.compactionSegments === null ? null : figure(metrics.compactionSegments, 'segment objects written by background compaction'),
    compactionBytes:
      metrics.compactionBytes === null ? null : figure(metrics.compactionBytes / MiB, 'MiB moved into segments by background compaction'),
    gets: metrics.gets === null ? null : figure(metrics.gets, 'object store GETs'),
    deletes: metrics.deletes === null ? null : figure(metrics.deletes, 'object store DELETE requests'),
    gcMajor: metrics.gcMajorCount === null ? null : figure(metrics.gcMajorCount, 'major (mark-compact) GCs of the broker'),
    gcMajorPerGiB: perGiB(metrics.gcMajorCount),
    gcPauseSeconds:
      metrics.gcMajorSeconds === null
        ? null
        : figure(
            metrics.gcMajorSeconds + (metrics.gcMinorSeconds ?? 0) + (metrics.gcIncrementalSeconds ?? 0),
            'seconds of broker main-thread GC pauses (major + minor + incremental steps)',
          ),
    gcPauseShare:
      metrics.gcMajorSeconds === null
        ? null
        : figure(
            (metrics.gcMajorSeconds + (metrics.gcMinorSeconds ?? 0) + (metrics.gcIncrementalSeconds ?? 0)) / cs,
            'of wall time the broker main thread spent in GC pauses',
          ),
    healthTransitions:
      metrics.healthTransitions === null
        ? null
        : figure(metrics.healthTransitions, 'object store health state changes (degraded throttles Produce)'),
    cacheHits: metrics.cacheHits === null ? null : figure(metrics.cacheHits, 'segment cache hits'),
    cacheMisses: metrics.cacheMisses === null ? null : figure(metrics.cacheMisses, 'segment cache misses'),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// --------------------------------------------------------------------------------------------------- run

export async function run(options: ScenarioOptions): Promise<Record<string, unknown>> {
  const st = options.quick ? quickSettings : fullSettings;
  const profDirEnv = process.env.SKAFOS_BENCH_CPU_PROF;
  const profDir = profDirEnv ? resolve(profDirEnv) : null;
  // SKAFOS_BENCH_BROKER_SETS="key=value key=value": extra broker configuration (--set), for experiments.
  const extraSets: Record<string, string> = {};
  for (const kv of (process.env.SKAFOS_BENCH_BROKER_SETS ?? '').split(/\s+/).filter(Boolean)) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new Error(`SKAFOS_BENCH_BROKER_SETS: expected key=value, got ${kv}`);
    extraSets[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (Object.keys(extraSets).length > 0) console.log(`broker configuration overrides: ${JSON.stringify(extraSets)}`);
  if (profDir) mkdirSync(profDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'skafos-bench-broker-'));
  const startedAt = performance.now();
  let broker: BrokerChild | null = null;
  const records: PhaseRecord[] = [];
  const lowDepthRecords: PhaseRecord[] = [];
  const produceWindows: [number, number][] = [];
  const fetchWindows: [number, number][] = [];
  let peakResets = false;
  let topicsCreated = 0;
  try {
    broker = await BrokerChild.start({ dataDir, sets: extraSets, nodeFlags: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] });
    peakResets = broker.resetPeakRss();
    const b = broker;
    console.log(
      `broker pid ${b.pid}, Kafka port ${b.port}, ops port ${b.opsPort}, data ${dataDir}${profDir ? `, profiling into ${profDir}` : ''}`,
    );

    /** One produce phase on a fresh topic, then (optionally) two full reads of it. */
    const produceAndFetch = async (round: number, shape: Shape, bytes: number, fetches: number, into: PhaseRecord[]): Promise<void> => {
      const topic = `bench-${shape.id}-${++topicsCreated}`;
      const topicId = await createTopic(b.port, topic, shape.partitions);
      const load = await prepareProduce({
        port: b.port,
        topic,
        partitions: shape.partitions,
        connections: shape.connections,
        inFlightPerConnection: shape.inFlightPerConnection,
        recordsPerBatch: st.recordsPerBatch,
        valueBytes: st.valueBytes,
        partitionsPerRequest: shape.partitionsPerRequest,
        targetValueBytes: bytes,
        timeoutMs: st.produceTimeoutMs,
        deadlineMs: st.phaseDeadlineMs,
      });
      let produced: Measured<ProduceResult>;
      try {
        produced = await measure(b, peakResets, () => load.run());
      } finally {
        load.close();
      }
      const pr = produced.result;
      for (let p = 0; p < shape.partitions; p++) {
        // A fresh topic: acknowledged records must account for every offset below the highest one acknowledged.
        if (pr.endOffsetByPartition[p] !== pr.recordsByPartition[p]) {
          throw new Error(
            `${topic}-${p}: ${pr.recordsByPartition[p]} records acknowledged but offsets up to ${pr.endOffsetByPartition[p]}`,
          );
        }
      }
      if (into === records) produceWindows.push(produced.window);
      into.push(phaseRecord(round, shape, 'produce', produced, st.valueBytes));
      for (let f = 1; f <= fetches; f++) {
        const conn = await WireConnection.connect(b.port);
        let fetched: Measured<FetchResult>;
        try {
          fetched = await measure(b, peakResets, () =>
            runFetch(
              {
                port: b.port,
                topic,
                topicId,
                partitions: shape.partitions,
                endOffsets: pr.endOffsetByPartition,
                maxBytes: st.fetchMaxBytes,
                partitionMaxBytes: st.fetchPartitionMaxBytes,
                maxWaitMs: st.fetchMaxWaitMs,
                deadlineMs: st.phaseDeadlineMs,
              },
              conn,
            ),
          );
        } finally {
          conn.close();
        }
        const fr = fetched.result;
        if (fr.records !== pr.records || fr.recordsByPartition.some((n, p) => n !== pr.recordsByPartition[p])) {
          throw new Error(
            `${topic}: fetched ${fr.records} records (${fr.recordsByPartition.join(',')}), produced ${pr.records} (${pr.recordsByPartition.join(',')})`,
          );
        }
        if (into === records) fetchWindows.push(fetched.window);
        into.push(phaseRecord(round, shape, f === 1 ? 'fetch-1' : 'fetch-2', fetched, st.valueBytes));
      }
    };

    // Warm-up (JIT, buffers, page cache of the data directory): both shapes, not recorded.
    for (const shape of st.shapes) await produceAndFetch(0, shape, st.warmupBytes / st.shapes.length, 1, []);
    console.log(`warm-up done (${fmt((performance.now() - startedAt) / 1000)} s)`);

    for (let round = 1; round <= st.rounds; round++) {
      for (const shape of st.shapes) {
        await produceAndFetch(round, shape, st.produceBytes, 2, records);
        const last = records.slice(-3);
        console.log(
          `round ${round} ${shape.id}: ${last.map((r) => `${r.phase} ${fmt(figures(r).throughput!.value)} MiB/s (other load ${fmt((r.m.others + r.m.steal) / (r.m.elapsedMs / 1000))} cores)`).join(', ')}`,
        );
      }
    }
    await produceAndFetch(1, st.lowDepth, st.lowDepthBytes, 0, lowDepthRecords);

    const problems = b.problems();
    if (problems.length > 0) console.log(`\nbroker warnings/errors (${problems.length}):\n${problems.slice(0, 10).join('\n')}`);
    const stopped = await b.stop();
    if (stopped.code !== 0) console.log(`note: broker exited with code ${stopped.code} signal ${stopped.signal}`);
    broker = null;

    // ------------------------------------------------------------------------------------------- profile
    let profile: Record<string, unknown> | null = null;
    if (profDir) {
      const file = readdirSync(profDir)
        .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${b.pid}.`))
        .sort()
        .pop();
      if (file === undefined) {
        console.log(`no profile of pid ${b.pid} found in ${profDir}`);
      } else {
        const full = join(profDir, file);
        const cropped = join(profDir, `produce-phases.${b.pid}.cpuprofile`);
        const crop = cropProfile(full, cropped, produceWindows);
        const summaryScript = join(import.meta.dirname, 'lib', 'cpuprofile-summary.ts');
        const top = execFileSync(process.execPath, [summaryScript, cropped, '15'], { encoding: 'utf8' });
        const ours = execFileSync(process.execPath, [summaryScript, cropped, '15', 'broker/'], { encoding: 'utf8' });
        // Runtime functions (Buffer.concat, allocation, ...) are charged to their callers in our code.
        const p = JSON.parse(readFileSync(cropped, 'utf8')) as Profile;
        const callers = topOtherFunctions(p, 3, '/broker/').map((fn) => formatCallers(p, fn, 3, 4));
        console.log(
          `\nbroker CPU profile, produce phases only (${fmt(crop.keptMicros / 1e6)} s sampled; ${cropped}):\n${top}\nbroker/ code only:\n${ours}\nruntime functions by caller:\n${callers.join('\n')}`,
        );
        const croppedFetch = join(profDir, `fetch-phases.${b.pid}.cpuprofile`);
        const cropFetch = cropProfile(full, croppedFetch, fetchWindows);
        const topFetch = execFileSync(process.execPath, [summaryScript, croppedFetch, '10'], { encoding: 'utf8' });
        console.log(`broker CPU profile, fetch phases only (${fmt(cropFetch.keptMicros / 1e6)} s sampled; ${croppedFetch}):\n${topFetch}`);
        profile = {
          fullProfile: full,
          producePhasesProfile: cropped,
          sampled: figure(crop.keptMicros / 1e6, 's'),
          top15: top.trim().split('\n'),
          top15Broker: ours.trim().split('\n'),
          runtimeCallers: callers.map((c) => c.split('\n')),
          fetchPhasesProfile: croppedFetch,
          fetchSampled: figure(cropFetch.keptMicros / 1e6, 's'),
          fetchTop10: topFetch.trim().split('\n'),
        };
      }
    }

    return report(st, records, lowDepthRecords, peakResets, profile, extraSets);
  } finally {
    broker?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------------ report

const phaseTitle: Record<PhaseId, string> = { produce: 'produce', 'fetch-1': 'fetch (1st read)', 'fetch-2': 'fetch (2nd read)' };

function report(
  st: Settings,
  records: PhaseRecord[],
  lowDepthRecords: PhaseRecord[],
  peakResets: boolean,
  profile: Record<string, unknown> | null,
  extraSets: Record<string, string>,
): Record<string, unknown> {
  const groups: { shape: Shape; phase: PhaseId; rounds: PhaseRecord[] }[] = [];
  for (const shape of st.shapes) {
    for (const phase of ['produce', 'fetch-1', 'fetch-2'] as PhaseId[]) {
      groups.push({ shape, phase, rounds: records.filter((r) => r.shape === shape.id && r.phase === phase) });
    }
  }
  for (const r of lowDepthRecords) groups.push({ shape: st.lowDepth, phase: r.phase, rounds: [r] });

  /** Median over rounds of one figure (null when any round lacks it). */
  const med = (rs: PhaseRecord[], key: string): number | null => {
    const values = rs.map((r) => figures(r)[key]?.value);
    return values.some((v) => v === undefined || v === null || Number.isNaN(v)) ? null : median(values as number[]);
  };
  const f = (v: number | null): string => (v === null ? '-' : fmt(v));
  const label = (g: (typeof groups)[number]) => `${g.shape.id} ${phaseTitle[g.phase]}`;

  const roundsNote = st.rounds > 1 ? `median of ${st.rounds} rounds; MiB/s range in brackets` : '1 round';
  console.log(`\nThroughput and latency (${roundsNote}; MiB = 2^20 bytes of record values, 1 KiB per record)\n`);
  console.log(
    table(
      ['shape / phase', 'MiB/s', 'records/s', 'p50 ms', 'p99 ms', 'requests', 'in flight'],
      groups.map((g) => {
        const tp = g.rounds.map((r) => figures(r).throughput!.value);
        const range = g.rounds.length > 1 ? ` [${fmt(Math.min(...tp))}–${fmt(Math.max(...tp))}]` : '';
        const inFlight =
          g.phase === 'produce'
            ? `${g.shape.connections}×${g.shape.inFlightPerConnection}×${fmt((g.shape.partitionsPerRequest * st.recordsPerBatch * st.valueBytes) / MiB)} MiB`
            : '1 fetch';
        return [
          label(g),
          `${f(med(g.rounds, 'throughput'))}${range}`,
          f(med(g.rounds, 'recordsPerSecond')),
          f(med(g.rounds, 'latencyP50')),
          f(med(g.rounds, 'latencyP99')),
          f(med(g.rounds, 'requests')),
          inFlight,
        ];
      }),
    ),
  );
  console.log(`\nCPU and memory (${roundsNote.split(';')[0]})\n`);
  console.log(
    table(
      [
        'shape / phase',
        'broker CPU-s/GiB',
        'MiB/s per core',
        'broker cores',
        'main thread',
        'GC pause %',
        'major GCs/GiB',
        'client CPU-s/GiB',
        'client cores',
        'other cores',
        'peak RSS MiB',
      ],
      groups.map((g) => [
        label(g),
        f(med(g.rounds, 'brokerCpuPerGiB')),
        f(med(g.rounds, 'throughputPerBrokerCore')),
        f(med(g.rounds, 'brokerCores')),
        f(med(g.rounds, 'brokerMainThreadShare')),
        f(med(g.rounds, 'gcPauseShare') === null ? null : 100 * med(g.rounds, 'gcPauseShare')!),
        f(med(g.rounds, 'gcMajorPerGiB')),
        f(med(g.rounds, 'clientCpuPerGiB')),
        f(med(g.rounds, 'clientCores')),
        f(med(g.rounds, 'otherCores') === null ? null : med(g.rounds, 'otherCores')! + med(g.rounds, 'stealCores')!),
        f(med(g.rounds, 'brokerPeakRss')),
      ]),
    ),
  );
  console.log(`\nObject store (${roundsNote.split(';')[0]})\n`);
  console.log(
    table(
      ['shape / phase', 'PUTs', 'PUTs/GiB', 'MiB/PUT', 'GETs', 'cache hit/miss', 'compacted MiB'],
      groups.map((g) => [
        label(g),
        f(med(g.rounds, 'puts')),
        f(med(g.rounds, 'putsPerGiB')),
        f(med(g.rounds, 'bytesPerPut')),
        f(med(g.rounds, 'gets')),
        `${f(med(g.rounds, 'cacheHits'))}/${f(med(g.rounds, 'cacheMisses'))}`,
        f(med(g.rounds, 'compactionBytes')),
      ]),
    ),
  );
  const busiest = Math.max(...[...records, ...lowDepthRecords].map((r) => (r.m.others + r.m.steal) / (r.m.elapsedMs / 1000)));
  if (busiest > 0.25) {
    console.log(
      `note: other work on the machine (other processes, kernel threads, hypervisor steal) took up to ${fmt(busiest)} cores during a phase; ` +
        'wall-clock figures (MiB/s, latency) suffer first, CPU-seconds per GiB much less',
    );
  }
  const transitions = [...records, ...lowDepthRecords].filter((r) => (r.m.metrics.healthTransitions ?? 0) > 0);
  if (transitions.length > 0) {
    console.log(
      `note: the broker's object store health changed state during ${transitions.map((r) => `round ${r.round} ${r.shape} ${r.phase}`).join(', ')} (see its log: a degraded store throttles Produce)`,
    );
  }
  if (!peakResets) console.log('note: the kernel refused to reset VmHWM, so peak RSS is since the broker started');

  const produceBatchBytes = records.find((r) => r.phase === 'produce');
  return {
    versions: { ours: oursVersion(), node: process.version },
    loadGenerator: {
      kind: 'hand-rolled, on our codec (bench/lib/broker-load.ts): pre-encoded Produce v9 frames re-sent with new correlation ids; Fetch v16 consumer checking every batch CRC and offset',
      why: "@platformatic/kafka's producer spent as much CPU as the broker it was loading (see bench/README.md), on a machine whose cores the two share",
    },
    settings: {
      rounds: st.rounds,
      produceVolume: figure(st.produceBytes / MiB, 'MiB of record values per produce phase'),
      warmupVolume: figure(st.warmupBytes / MiB, 'MiB of record values (split over the shapes, not recorded)'),
      recordValueBytes: figure(st.valueBytes, 'bytes (no key, no headers)'),
      recordsPerBatch: figure(st.recordsPerBatch, 'records'),
      batchBytes: produceBatchBytes
        ? figure(
            produceBatchBytes.batchBytes /
              (produceBatchBytes.requests * st.shapes.find((s) => s.id === produceBatchBytes.shape)!.partitionsPerRequest),
            'bytes per batch',
          )
        : null,
      compression: 'none',
      acks: -1,
      idempotent: false,
      shapes: [...st.shapes, st.lowDepth].map((s) => ({
        ...s,
        inFlight: figure(
          (s.connections * s.inFlightPerConnection * s.partitionsPerRequest * st.recordsPerBatch * st.valueBytes) / MiB,
          'MiB of record values in flight (when every slot has a request out)',
        ),
      })),
      fetch: {
        version: 16,
        maxBytes: figure(st.fetchMaxBytes, 'bytes'),
        partitionMaxBytes: figure(st.fetchPartitionMaxBytes, 'bytes'),
        maxWaitMs: figure(st.fetchMaxWaitMs, 'ms'),
        minBytes: figure(1, 'bytes'),
        consumer: 'one connection, one Fetch in flight, every unfinished partition in each request',
      },
      broker:
        'defaults of bin/skafos.ts broker (local object store, embedded metadata; e.g. skafos.flush.size.bytes 8 MiB, skafos.flush.linger.ms 250, skafos.flush.max.pending.bytes 64 MiB, skafos.cache.segment.bytes 256 MiB), except brokerOverrides',
      brokerOverrides: extraSets,
    },
    summary: groups.map((g) => {
      const keys = Object.keys(figures(g.rounds[0]!));
      const out: Record<string, unknown> = { shape: g.shape.id, phase: g.phase, rounds: g.rounds.length };
      for (const k of keys) {
        const v = med(g.rounds, k);
        const unit = figures(g.rounds[0]!)[k]?.unit;
        out[k] = v === null || unit === undefined ? null : figure(v, unit);
      }
      return out;
    }),
    phases: [...records, ...lowDepthRecords].map((r) => ({
      round: r.round,
      shape: r.shape,
      phase: r.phase,
      partitions: r.partitions,
      ...figures(r),
    })),
    profile,
  };
}
