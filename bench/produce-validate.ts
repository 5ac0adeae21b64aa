// Produce-path validation cost: what the broker does to one partition's batch before appending it.
//   header     validateRecords alone: framing, header checks, CRC-32C of the whole batch (all Produce did before
//              per-record timestamp checks)
//   default    + validateRecordTimestamps on a CreateTime topic with Kafka's default bounds (before.max.ms
//              unbounded, after.max.ms 1 h): uncompressed batches are walked in place; compressed ones with a
//              plausible header are settled by it without decompressing
//   read       + validateRecordTimestamps with before.max.ms bounded (7 days): compressed batches are decompressed
//              and walked too. This is also what a compressed batch with maxTimestamp -1 (Sarama 1.22) costs, plus
//              one more CRC pass to rewrite the header.
// The fixtures' headers are right, so nothing is rewritten and every call does the same work.
// Figures: batches/s (wall clock, median round), main-thread CPU seconds per GiB of batch bytes received, and the
// extra CPU per record over `header`.
import {
  buildRecordBatch,
  CompressionCodec,
  compressionCodecName,
  RecordsSummary,
  validateRecords,
  validateRecordTimestamps,
} from '../broker/protocol/records/index.ts';
import type { CompressionCodecId, RecordInput, TimestampLimits, ValidateLimits } from '../broker/protocol/records/index.ts';
import { Prng } from './lib/codec-fixtures.ts';
import { compare, gcBetweenRounds } from './lib/harness.ts';
import type { HarnessSettings } from './lib/harness.ts';
import { figure, fmt, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';

export const description =
  'produce-path batch validation: header + CRC alone vs with per-record timestamp checks (uncompressed and compressed)';

const fullSettings: HarnessSettings = { warmupMs: 1000, rounds: 12, roundMs: 300 };
const quickSettings: HarnessSettings = { warmupMs: 200, rounds: 3, roundMs: 150 };
const GiB = 2 ** 30;
const NOW = 1_750_000_000_000;

const validateLimits: ValidateLimits = { maxBatchBytes: 16 << 20, maxBatchCount: 1, maxRecordsPerBatch: 1 << 24 };
const defaultLimits: TimestampLimits = {
  nowMs: NOW,
  logAppendTime: false,
  beforeMaxMs: Number.MAX_SAFE_INTEGER,
  afterMaxMs: 3_600_000,
  maxDecompressedBytes: 64 << 20,
  maxRecordErrors: 1000,
};
const boundedLimits: TimestampLimits = { ...defaultLimits, beforeMaxMs: 7 * 24 * 3_600_000 };

interface Fixture {
  id: string;
  batch: Buffer;
  records: number;
  /** Bytes of the records section once decompressed. */
  recordBytes: number;
}

/** JSON-ish values (compress like real event payloads), 1 header, timestamps 0-2 ms apart. */
function fixture(recordCount: number, valueBytes: number, compression: CompressionCodecId): Fixture {
  const random = new Prng(42);
  const events = ['click', 'view', 'purchase', 'scroll', 'login'];
  const records: RecordInput[] = [];
  let ts = NOW - 60_000;
  for (let i = 0; i < recordCount; i++) {
    let value = `{"id":${i},"user":"user-${random.next() % 100_000}","event":"${events[i % events.length]}","ts":${ts},"pad":"`;
    while (value.length < valueBytes - 2) value += String.fromCharCode(97 + (random.next() % 26));
    value += '"}';
    records.push({
      key: Buffer.from(`key-${i % 1000}`),
      value: Buffer.from(value),
      headers: [{ key: 'trace', value: Buffer.from('0123456789abcdef') }],
      timestampMs: ts,
    });
    ts += random.next() % 3;
  }
  const batch = buildRecordBatch(records, { compression });
  const plain = compression === CompressionCodec.NONE ? batch : buildRecordBatch(records);
  return {
    id: `${recordCount}×${valueBytes}B ${compressionCodecName(compression)}`,
    batch,
    records: recordCount,
    recordBytes: plain.length - 61,
  };
}

const summary = new RecordsSummary();
const cpuPerGiB = (opsPerCpuSec: number, bytes: number) => GiB / bytes / opsPerCpuSec;

/** The three cases on one fixture: a table row and the result-file entry. */
function measure(fx: Fixture, settings: HarnessSettings): { row: string[]; result: Record<string, unknown> } {
  const batch = fx.batch;
  const withTimestamps = (limits: TimestampLimits) => () => {
    validateRecords(batch, validateLimits, summary);
    if (validateRecordTimestamps(batch, limits, summary) !== null) throw new Error('fixture rejected');
    return summary;
  };
  const cases = [
    { name: 'header', fn: () => validateRecords(batch, validateLimits, summary) },
    { name: 'default', fn: withTimestamps(defaultLimits) },
    { name: 'read', fn: withTimestamps(boundedLimits) },
  ];
  for (const c of cases) c.fn();
  const measured = compare(cases, settings);
  const [a, b, c] = measured;
  const extraNs = (r: typeof a) => ((1 / r!.medianOpsPerCpuSec - 1 / a!.medianOpsPerCpuSec) * 1e9) / fx.records;
  process.stdout.write(` ${measured.map((r) => fmt(r.medianOpsPerSec)).join(' / ')} batches/s\n`);
  const row = [
    fx.id,
    fmt(batch.length / 1024),
    fmt(fx.records),
    ...measured.map((r) => fmt(r.medianOpsPerSec)),
    ...measured.map((r) => fmt(cpuPerGiB(r.medianOpsPerCpuSec, batch.length))),
    fmt(extraNs(b)),
    fmt(extraNs(c)),
  ];
  const result = {
    fixture: fx.id,
    batchBytes: figure(batch.length, 'B'),
    recordBytes: figure(fx.recordBytes, 'B (records section, decompressed)'),
    records: figure(fx.records, 'records'),
    ...Object.fromEntries(
      measured.map((r) => [
        r.name,
        {
          batchesPerSec: figure(r.medianOpsPerSec, 'batches/s'),
          cpuPerGiB: figure(cpuPerGiB(r.medianOpsPerCpuSec, batch.length), 'CPU s per GiB of batch bytes'),
          cpuPerGiBRecords: figure(cpuPerGiB(r.medianOpsPerCpuSec, fx.recordBytes), 'CPU s per GiB of record bytes'),
          cpuShare: figure(r.medianCpuShare, 'main-thread CPU time / wall time'),
        },
      ]),
    ),
    extraCpuPerRecordDefault: figure(extraNs(b), 'CPU ns per record over header'),
    extraCpuPerRecordRead: figure(extraNs(c), 'CPU ns per record over header'),
  };
  return { row, result };
}

export async function run(options: ScenarioOptions): Promise<Record<string, unknown>> {
  const settings = options.quick ? quickSettings : fullSettings;
  const fixtures: Fixture[] = [
    fixture(16, 1000, CompressionCodec.NONE), // a 16 KiB batch (the Java producer's default batch.size)
    fixture(160, 100, CompressionCodec.NONE),
    fixture(1000, 1000, CompressionCodec.NONE), // ~1 MiB
    fixture(8000, 100, CompressionCodec.NONE), // ~1 MiB of small records: the per-record cost dominates
    fixture(8000, 100, CompressionCodec.LZ4),
    fixture(8000, 100, CompressionCodec.ZSTD),
    fixture(8000, 100, CompressionCodec.SNAPPY),
    fixture(8000, 100, CompressionCodec.GZIP),
    fixture(1000, 1000, CompressionCodec.LZ4),
  ];
  const rows: string[][] = [];
  const results = [];
  for (const fx of fixtures) {
    process.stdout.write(`  running ${fx.id} …`);
    const { row, result } = measure(fx, settings);
    rows.push(row);
    results.push(result);
  }
  console.log(
    `\n${table(
      [
        'batch',
        'KiB sent',
        'records',
        'header b/s',
        'default b/s',
        'read b/s',
        'header CPU s/GiB',
        'default CPU s/GiB',
        'read CPU s/GiB',
        'default +ns/rec',
        'read +ns/rec',
      ],
      rows,
    )}`,
  );
  console.log(
    `settings: warm-up ${settings.warmupMs} ms, ${settings.rounds} rounds ≥ ${settings.roundMs} ms per case, median reported` +
      `${gcBetweenRounds ? ', full GC before each round' : ''}`,
  );
  return { settings, results };
}
