// The log cleaner's algorithm (broker/log/cleaner.ts, spec/compaction.md) on one partition's log in memory: a log
// of 1 KiB JSON-like values over 2,000 keys (every key updated many times, 2 % tombstones), uncompressed and lz4, cleaned
// in one pass with a key map of 128 MiB (Kafka's default log.cleaner.dedupe.buffer.size) and, for the multi-pass
// case, a map holding a quarter of the keys. Figures: MiB of log cleaned per main-thread CPU second and per
// wall-clock second (median round), bytes kept, passes, and the process's peak RSS growth against the map size.
// Not measured here (the job's I/O): a pass GETs each cleanable segment once and PUTs each one that changed, so
// at the default 16 MiB segments about 64 GETs and at most 64 PUTs per GiB cleaned.
import { OffsetMap, cleanBatches } from '../broker/log/cleaner.ts';
import { buildRecordBatch, CompressionCodec, compressionCodecName } from '../broker/protocol/records/index.ts';
import type { CompressionCodecId } from '../broker/protocol/records/index.ts';
import { figure, fmt, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';

export const description = 'log cleaner: one partition cleaned in memory (key map, filter, rewrite), MiB/s per core, single and multi-pass';

const MiB = 2 ** 20;
const NOW = 1_750_000_000_000;

function buildLog(bytes: number, keys: number, codec: CompressionCodecId): { chunks: Buffer[]; bytes: number; records: number } {
  const chunks: Buffer[] = [];
  let offset = 0;
  let total = 0;
  // A small LCG: values that compress about as JSON events do (2-3x with lz4), the same on every run.
  let seed = 42;
  const hex = (n: number) => {
    let out = '';
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      out += (seed >>> 24).toString(16).padStart(2, '0');
    }
    return out;
  };
  while (total < bytes) {
    const records = Array.from({ length: 32 }, (_, i) => {
      const n = offset + i;
      const value = JSON.stringify({ id: n, user: `user-${n % 977}`, kind: 'update', payload: hex(230), pad: 'x'.repeat(500) });
      return {
        key: Buffer.from(`key-${(n * 7919) % keys}`),
        value: n % 50 === 0 ? null : Buffer.from(value),
        timestampMs: NOW - 60_000 + n,
      };
    });
    const batch = buildRecordBatch(records, { baseOffset: offset, compression: codec });
    chunks.push(batch);
    total += batch.length;
    offset += records.length;
  }
  return { chunks, bytes: total, records: offset };
}

function cleanFully(chunks: Buffer[], mapBytes: number): { chunks: Buffer[]; passes: number } {
  const map = new OffsetMap(mapBytes);
  let current = chunks;
  let dirty = 0;
  let passes = 0;
  for (;;) {
    const r = cleanBatches({
      chunks: current,
      endOffset: Number.MAX_SAFE_INTEGER,
      firstDirtyOffset: dirty,
      nowMs: NOW,
      deleteRetentionMs: 86_400_000,
      producerLastOffsets: new Map(),
      map,
      maxDecompressedBytes: 64 * MiB,
    });
    passes++;
    current = r.chunks;
    if (r.cleanedEnd === Number.MAX_SAFE_INTEGER) return { chunks: current, passes };
    dirty = r.cleanedEnd;
  }
}

export async function run(options: ScenarioOptions): Promise<Record<string, unknown>> {
  const logBytes = options.quick ? 16 * MiB : 128 * MiB;
  const rounds = options.quick ? 2 : 5;
  const keys = 2_000;
  const cases = [
    { codec: CompressionCodec.NONE, mapBytes: 128 * MiB, label: 'one pass' },
    { codec: CompressionCodec.LZ4, mapBytes: 128 * MiB, label: 'one pass' },
    // A map of a quarter of the keys (24 bytes a slot, 90 % used): several passes.
    { codec: CompressionCodec.NONE, mapBytes: Math.ceil((keys / 4 / 0.9) * 24), label: 'multi-pass' },
  ];
  const rows: string[][] = [];
  const results: Record<string, unknown>[] = [];
  for (const c of cases) {
    const log = buildLog(logBytes, keys, c.codec as CompressionCodecId);
    const cpu: number[] = [];
    const wall: number[] = [];
    let kept = 0;
    let passes = 0;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      const out = cleanFully(log.chunks, c.mapBytes);
      const c1 = process.cpuUsage(c0);
      wall.push((performance.now() - w0) / 1000);
      cpu.push((c1.user + c1.system) / 1e6);
      kept = out.chunks.reduce((n, b) => n + b.length, 0);
      passes = out.passes;
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const mib = log.bytes / MiB;
    const perCore = mib / median(cpu);
    const perWall = mib / median(wall);
    rows.push([
      `${compressionCodecName(c.codec)} ${c.label}`,
      fmt(mib),
      fmt(perCore),
      fmt(perWall),
      fmt(log.records / median(cpu) / 1000),
      fmt((kept / log.bytes) * 100),
      String(passes),
      fmt(c.mapBytes / MiB),
      fmt((rssPeak - rssBefore) / MiB),
    ]);
    results.push({
      case: `${compressionCodecName(c.codec)} ${c.label}`,
      logBytes: figure(log.bytes, 'bytes'),
      records: figure(log.records, 'records'),
      mibPerCpuSecond: figure(perCore, 'MiB/s'),
      mibPerWallSecond: figure(perWall, 'MiB/s'),
      recordsPerCpuSecond: figure(log.records / median(cpu), 'records/s'),
      keptShare: figure(kept / log.bytes, 'ratio'),
      passes: figure(passes, 'passes'),
      dedupeBufferBytes: figure(c.mapBytes, 'bytes'),
      rssGrowthBytes: figure(rssPeak - rssBefore, 'bytes'),
    });
  }
  console.log(
    table(
      ['case', 'log MiB', 'MiB/s per core', 'MiB/s wall', 'k records/s per core', 'kept %', 'passes', 'map MiB', 'RSS growth MiB'],
      rows,
    ),
  );
  return { settings: { logBytes, rounds, keys, valueBytes: 1000, recordsPerBatch: 32 }, results };
}
