// Kafka scenario: Apache Kafka's own perf tools (kafka-producer-perf-test, kafka-consumer-perf-test, from the
// jars the Java test harness pins) against Apache Kafka 4.4 and against Skafos on the embedded default, in the
// same run on the same machine: the comparison users make first. 1 KiB records, acks=all, the producer's other
// settings at their defaults (linger.ms=5, batch.size=16384, no compression); 1 and 16 partitions as fast as the
// producer goes, and 16 partitions at a fixed 10,000 records/s (the produce-ack latency figure of issue 17).
//
// Each broker runs in its own process; its CPU time (all threads, /proc/<pid>/stat) and peak RSS (VmHWM, reset
// before each phase) are read around each tool run. Every tool run is its own JVM (as the kafka-*.sh scripts
// run), on the same cores as the brokers. Rounds alternate which broker goes first.
//
// Durability is not the same and the report says so: Apache Kafka with one replica acknowledges acks=all once
// the batch is in its page cache (no fsync, its default); Skafos' embedded default acknowledges after the
// object holding the batch is written and fsynced and its metadata commit is durable.
//
// Needs the Java harness (`bash tools/test-deps.sh`, which npm test runs first).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApacheKafka } from '../test/support/apache-kafka.ts';
import { javaBin, kafkaClasspath } from '../test/support/java-client.ts';
import { BrokerChild, processCpu, processMemory, resetPeakRss } from './lib/broker-process.ts';
import { figure, fmt, table } from './lib/report.ts';
import type { Figure } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';

export const description =
  'kafka-producer-perf-test and kafka-consumer-perf-test (1 KiB records, acks=all, 1 and 16 partitions, and 10,000 records/s on 16) against Apache Kafka 4.4 and Skafos (embedded default), same run';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const recordBytes = 1024;
/** What kafka-server-start.sh runs Kafka with by default (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS). */
const kafkaJvm = [
  '-Xmx1G',
  '-Xms1G',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
];
/** kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh set KAFKA_HEAP_OPTS=-Xmx512M. */
const toolJvm = ['-Xmx512M', '-XX:+UseG1GC'];
const toolTimeoutMs = 600_000;

type BrokerName = 'kafka' | 'skafos';

interface Target {
  name: BrokerName;
  bootstrap: string;
  pid: number;
}

interface ProduceFigures {
  records: number;
  recordsPerSec: number;
  mibPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p999Ms: number;
}

interface ConsumeFigures {
  records: number;
  mibPerSec: number;
  recordsPerSec: number;
}

interface PhaseResult<F> {
  broker: BrokerName;
  partitions: number;
  round: number;
  tool: F;
  brokerCpuSeconds: number;
  brokerCpuSecondsPerGiB: number;
  brokerPeakRssBytes: number;
}

function java(mainClass: string, args: string[], jvm: string[] = toolJvm): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      javaBin,
      [...jvm, '-cp', kafkaClasspath(), mainClass, ...args],
      { timeout: toolTimeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * MiB },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${mainClass} ${args.join(' ')}: ${err.message}\n${stdout.slice(-4000)}${stderr.slice(-4000)}`));
        else resolve(stdout);
      },
    );
  });
}

/** The summary line kafka-producer-perf-test prints last. */
export function parseProducerSummary(stdout: string): ProduceFigures {
  const m =
    /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$/m.exec(
      stdout,
    );
  if (!m) throw new Error(`kafka-producer-perf-test printed no summary:\n${stdout.slice(-2000)}`);
  const n = m.slice(1).map(Number) as number[];
  return {
    records: n[0]!,
    recordsPerSec: n[1]!,
    mibPerSec: (n[1]! * recordBytes) / MiB,
    avgLatencyMs: n[3]!,
    maxLatencyMs: n[4]!,
    p50Ms: n[5]!,
    p95Ms: n[6]!,
    p99Ms: n[7]!,
    p999Ms: n[8]!,
  };
}

/** The CSV line kafka-consumer-perf-test prints under its header. */
export function parseConsumerSummary(stdout: string): ConsumeFigures {
  const lines = stdout.trim().split('\n');
  const at = lines.findIndex((l) => l.startsWith('start.time, end.time'));
  if (at < 0 || at + 1 >= lines.length) throw new Error(`kafka-consumer-perf-test printed no summary:\n${stdout.slice(-2000)}`);
  const header = lines[at]!.split(',').map((s) => s.trim());
  const values = lines[at + 1]!.split(',').map((s) => s.trim());
  const col = (name: string) => Number(values[header.indexOf(name)]);
  return { records: col('data.consumed.in.nMsg'), mibPerSec: col('MB.sec'), recordsPerSec: col('nMsg.sec') };
}

async function measured<F>(
  target: Target,
  partitions: number,
  round: number,
  bytes: number,
  run: () => Promise<F>,
): Promise<PhaseResult<F>> {
  resetPeakRss(target.pid);
  const c0 = processCpu(target.pid).process;
  const tool = await run();
  const cpu = processCpu(target.pid).process - c0;
  return {
    broker: target.name,
    partitions,
    round,
    tool,
    brokerCpuSeconds: cpu,
    brokerCpuSecondsPerGiB: cpu / (bytes / GiB),
    brokerPeakRssBytes: processMemory(target.pid).peakRssBytes,
  };
}

function createTopic(bootstrap: string, topic: string, partitions: number): Promise<string> {
  return java('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    bootstrap,
    '--create',
    '--topic',
    topic,
    '--partitions',
    String(partitions),
    '--replication-factor',
    '1',
  ]);
}

/** kafka-producer-perf-test with acks=all and its other defaults; `throughput` -1 = as fast as it can. */
function produce(topic: string, records: number, throughput: number, bootstrap: string): Promise<string> {
  return java('org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(recordBytes),
    '--throughput',
    String(throughput),
    '--producer-props',
    `bootstrap.servers=${bootstrap}`,
    'acks=all',
  ]);
}

const ratePartitions = 16;
const rateRecordsPerSec = 10_000;

export async function run(options: ScenarioOptions): Promise<Record<string, unknown>> {
  const records = options.quick ? 20_000 : 300_000;
  const rounds = options.quick ? 1 : 2;
  const bytes = records * recordBytes;
  const teardowns: (() => unknown)[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'skafos-bench-kafka-'));
  const produced: PhaseResult<ProduceFigures>[] = [];
  const consumed: PhaseResult<ConsumeFigures>[] = [];
  const atRate: PhaseResult<ProduceFigures>[] = [];
  const rateRecords = rateRecordsPerSec * (options.quick ? 5 : 20);
  try {
    const kafka = await startApacheKafka({ teardown: (fn) => void teardowns.push(fn) }, { 'num.partitions': 1 }, { jvmOptions: kafkaJvm });
    const skafos = await BrokerChild.start({ dataDir });
    teardowns.push(() => skafos.stop());
    const targets: Target[] = [
      { name: 'kafka', bootstrap: kafka.bootstrap, pid: kafka.pid },
      { name: 'skafos', bootstrap: `127.0.0.1:${skafos.port}`, pid: skafos.pid },
    ];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        // The issue-17 latency figure: 16 partitions at a fixed 10,000 records/s (not saturation).
        {
          const topic = `perf-rate-r${round}`;
          await createTopic(target.bootstrap, topic, ratePartitions);
          console.log(`${target.name}, ${ratePartitions} partitions at ${rateRecordsPerSec} records/s, round ${round + 1}`);
          atRate.push(
            await measured(target, ratePartitions, round, rateRecords * recordBytes, async () =>
              parseProducerSummary(await produce(topic, rateRecords, rateRecordsPerSec, target.bootstrap)),
            ),
          );
        }
        for (const partitions of [1, 16]) {
          const topic = `perf-${partitions}p-r${round}`;
          const bs = ['--bootstrap-server', target.bootstrap];
          await createTopic(target.bootstrap, topic, partitions);
          console.log(`${target.name}, ${partitions} partition(s), round ${round + 1}: producing ${records} records`);
          produced.push(
            await measured(target, partitions, round, bytes, async () =>
              parseProducerSummary(await produce(topic, records, -1, target.bootstrap)),
            ),
          );
          console.log(`${target.name}, ${partitions} partition(s), round ${round + 1}: consuming`);
          consumed.push(
            await measured(target, partitions, round, bytes, async () =>
              parseConsumerSummary(
                await java('org.apache.kafka.tools.ConsumerPerformance', [
                  ...bs,
                  '--topic',
                  topic,
                  '--messages',
                  String(records),
                  '--timeout',
                  '60000',
                  '--group',
                  `perf-${topic}`,
                ]),
              ),
            ),
          );
          const got = consumed.at(-1)!.tool.records;
          if (got !== records) throw new Error(`${target.name} ${topic}: the consumer read ${got} records of ${records}`);
        }
      }
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn();
    rmSync(dataDir, { recursive: true, force: true });
  }

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const rows: Record<string, Figure>[] = [];
  const lines: string[][] = [];
  for (const partitions of [1, 16]) {
    const pick = <F>(xs: PhaseResult<F>[], b: BrokerName) => xs.filter((x) => x.broker === b && x.partitions === partitions);
    const of = (b: BrokerName) => {
      const p = pick(produced, b);
      const c = pick(consumed, b);
      return {
        produceMiBs: median(p.map((x) => x.tool.mibPerSec)),
        p50: median(p.map((x) => x.tool.p50Ms)),
        p99: median(p.map((x) => x.tool.p99Ms)),
        p999: median(p.map((x) => x.tool.p999Ms)),
        produceCpu: median(p.map((x) => x.brokerCpuSecondsPerGiB)),
        produceRss: Math.max(...p.map((x) => x.brokerPeakRssBytes)),
        consumeMiBs: median(c.map((x) => x.tool.mibPerSec)),
        consumeCpu: median(c.map((x) => x.brokerCpuSecondsPerGiB)),
        consumeRss: Math.max(...c.map((x) => x.brokerPeakRssBytes)),
      };
    };
    const k = of('kafka');
    const s = of('skafos');
    const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
    for (const [name, v] of [
      ['kafka', k],
      ['skafos', s],
    ] as const) {
      rows.push({
        partitions: figure(partitions, 'partitions'),
        [`${name}.produce`]: figure(v.produceMiBs, 'MiB/s'),
        [`${name}.produceP50`]: figure(v.p50, 'ms'),
        [`${name}.produceP99`]: figure(v.p99, 'ms'),
        [`${name}.produceP999`]: figure(v.p999, 'ms'),
        [`${name}.produceCpu`]: figure(v.produceCpu, 'broker CPU-s per GiB'),
        [`${name}.producePeakRss`]: figure(v.produceRss / MiB, 'MiB'),
        [`${name}.consume`]: figure(v.consumeMiBs, 'MiB/s'),
        [`${name}.consumeCpu`]: figure(v.consumeCpu, 'broker CPU-s per GiB'),
        [`${name}.consumePeakRss`]: figure(v.consumeRss / MiB, 'MiB'),
      });
      lines.push([
        name,
        String(partitions),
        fmt(v.produceMiBs),
        `${v.p50} / ${v.p99} / ${v.p999}`,
        fmt(v.produceCpu),
        fmt(v.produceRss / MiB),
        fmt(v.consumeMiBs),
        fmt(v.consumeCpu),
        fmt(v.consumeRss / MiB),
      ]);
    }
    lines.push([
      'skafos/kafka',
      String(partitions),
      fmt(ratio(s.produceMiBs, k.produceMiBs)),
      `${fmt(ratio(s.p50, k.p50))} / ${fmt(ratio(s.p99, k.p99))} / ${fmt(ratio(s.p999, k.p999))}`,
      fmt(ratio(s.produceCpu, k.produceCpu)),
      fmt(ratio(s.produceRss, k.produceRss)),
      fmt(ratio(s.consumeMiBs, k.consumeMiBs)),
      fmt(ratio(s.consumeCpu, k.consumeCpu)),
      fmt(ratio(s.consumeRss, k.consumeRss)),
    ]);
  }
  console.log(
    table(
      [
        'broker',
        'partitions',
        'produce MiB/s',
        'latency p50/p99/p99.9 ms',
        'produce CPU-s/GiB',
        'produce peak RSS MiB',
        'consume MiB/s',
        'consume CPU-s/GiB',
        'consume peak RSS MiB',
      ],
      lines,
    ),
  );
  const rateRows = (['kafka', 'skafos'] as const).map((b) => {
    const p = atRate.filter((x) => x.broker === b);
    return {
      broker: b,
      recordsPerSec: median(p.map((x) => x.tool.recordsPerSec)),
      p50: median(p.map((x) => x.tool.p50Ms)),
      p99: median(p.map((x) => x.tool.p99Ms)),
      p999: median(p.map((x) => x.tool.p999Ms)),
      cpu: median(p.map((x) => x.brokerCpuSecondsPerGiB)),
    };
  });
  console.log(
    `\n${ratePartitions} partitions at ${rateRecordsPerSec} records/s (${rateRecords} records):\n` +
      table(
        ['broker', 'records/s', 'latency p50/p99/p99.9 ms', 'produce CPU-s/GiB'],
        rateRows.map((r) => [r.broker, fmt(r.recordsPerSec), `${r.p50} / ${r.p99} / ${r.p999}`, fmt(r.cpu)]),
      ),
  );
  console.log(
    `\n${records} records of ${recordBytes} B per phase, ${rounds} round(s), medians over rounds. Apache Kafka acks=all with one replica does not fsync before acknowledging; Skafos' embedded default does.`,
  );
  return {
    settings: {
      records,
      recordBytes,
      rounds,
      acks: 'all',
      producerDefaults: 'linger.ms=5, batch.size=16384, compression none',
      kafkaJvm,
      toolJvm,
    },
    durability:
      'Apache Kafka (1 replica) acknowledges once in page cache, no fsync; Skafos embedded default acknowledges after an fsynced object write and a durable metadata commit',
    summary: rows,
    atRate: rateRows.map((r) => ({
      broker: r.broker,
      partitions: figure(ratePartitions, 'partitions'),
      target: figure(rateRecordsPerSec, 'records/s'),
      recordsPerSec: figure(r.recordsPerSec, 'records/s'),
      p50: figure(r.p50, 'ms'),
      p99: figure(r.p99, 'ms'),
      p999: figure(r.p999, 'ms'),
      produceCpu: figure(r.cpu, 'broker CPU-s per GiB'),
    })),
    phases: { produced, consumed, atRate },
  };
}
