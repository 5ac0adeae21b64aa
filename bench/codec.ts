// Codec scenario: our generated protocol codec against @platformatic/kafka's own encoders and decoders, on
// the same bytes. See bench/README.md for what each figure means.
//
// What each side runs (and produces), per operation:
//   metadata-v12-decode  ours:   decodeMetadataResponse(new Reader(body), 12)               → plain objects
//                        theirs: metadataV12.parseResponse(0, 3, 12, Reader.from(body))       → plain objects
//   offset-commit-v9-encode
//                        ours:   new Writer(1024); encodeOffsetCommitRequest(w, 9, input); w.finish()
//                                → one contiguous Buffer of the request body
//                        theirs: offsetCommitV9.createRequest(...).buffer
//                                → createRequest builds a DynamicBuffer (a list of small Buffers); its
//                                  Connection sends `writer.buffer`, i.e. the list concatenated into one
//                                  Buffer, so `.buffer` is counted: both sides end with the same bytes in one
//                                  contiguous Buffer (checked byte for byte before timing).
//   fetch-v16-decode-iterate
//                        ours:   decodeFetchResponse(new Reader(body), 16), then our records iterator over each
//                                partition's record bytes, reading every record's key, value and headers
//                        theirs: fetchV16.parseResponse(0, 1, 16, Reader.from(body)) (which decodes every batch
//                                and record eagerly), then a walk over every record's key, value and headers
// Both sides of a decode get the response body (what follows the response header), which is what
// @platformatic/kafka's Connection hands its parsers.
import { fetchV16, metadataV12, offsetCommitV9, Reader as PltReader } from '@platformatic/kafka';
import { decodeFetchResponse, decodeMetadataResponse, encodeOffsetCommitRequest } from '../broker/protocol/generated/index.ts';
import {
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BatchHeaderView,
  openBatchRecords,
  RecordCursor,
} from '../broker/protocol/records/index.ts';
import { Reader } from '../broker/protocol/wire/reader.ts';
import { Writer } from '../broker/protocol/wire/writer.ts';
import { buildFetchFixture, buildMetadataFixture, buildOffsetCommitFixture, uuidToHyphenatedHex } from './lib/codec-fixtures.ts';
import type { FetchFixture } from './lib/codec-fixtures.ts';
import { compare, gcBetweenRounds } from './lib/harness.ts';
import type { HarnessSettings } from './lib/harness.ts';
import { figure, fmt, installedVersion, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';

export const description =
  'protocol codec vs @platformatic/kafka: Metadata v12 decode, OffsetCommit v9 encode, Fetch v16 decode + record iteration';

/** The goal: ours at least this many times theirs, on every operation. */
const targetRatio = 1.5;
const MB = 1e6;

const fullSettings: HarnessSettings = { warmupMs: 1500, rounds: 20, roundMs: 400 };
const quickSettings: HarnessSettings = { warmupMs: 200, rounds: 3, roundMs: 150 };

interface Operation {
  id: string;
  title: string;
  /** Bytes counted per operation: the input decoded, or the output encoded. */
  bytes: number;
  bytesAre: 'input' | 'output';
  ours: () => unknown;
  theirs: () => unknown;
}

function medianOf(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`fixture cross-check failed: ${what}`);
}

// ------------------------------------------------------------------------------------------- Metadata v12

export function metadataOperation(): Operation {
  const fx = buildMetadataFixture({ topics: 1000, partitionsPerTopic: 16, brokers: 6, replicationFactor: 3 });
  const body = fx.bytes;
  const ours = () => decodeMetadataResponse(new Reader(body), 12);
  const theirs = () => metadataV12.parseResponse(0, 3, 12, PltReader.from(body));

  const a = ours();
  const b = theirs();
  check(a.topics.length === 1000 && b.topics.length === 1000, 'topic count');
  check(
    a.brokers.length === b.brokers.length && a.brokers[2]!.host === b.brokers[2]!.host && a.brokers[2]!.rack === b.brokers[2]!.rack,
    'brokers',
  );
  check(a.clusterId === b.clusterId && a.controllerId === b.controllerId, 'cluster id / controller');
  for (const t of [0, 1, 499, 999]) {
    const ta = a.topics[t]!;
    const tb = b.topics[t]!;
    check(ta.name === tb.name && ta.name === `topic-${String(t).padStart(4, '0')}`, `topic ${t} name`);
    check(uuidToHyphenatedHex(ta.topicId) === tb.topicId, `topic ${t} id`);
    check(ta.partitions.length === 16 && tb.partitions.length === 16, `topic ${t} partition count`);
    for (const p of [0, 7, 15]) {
      const pa = ta.partitions[p]!;
      const pb = tb.partitions[p]!;
      check(
        pa.partitionIndex === pb.partitionIndex && pa.leaderId === pb.leaderId && pa.leaderEpoch === pb.leaderEpoch,
        `topic ${t} partition ${p} leader`,
      );
      check(
        pa.replicaNodes.join() === pb.replicaNodes.join() && pa.isrNodes.join() === pb.isrNodes.join(),
        `topic ${t} partition ${p} replicas/isr`,
      );
      check(pa.replicaNodes.length === 3 && pb.offlineReplicas.length === 0, `topic ${t} partition ${p} shape`);
    }
  }
  return {
    id: 'metadata-v12-decode',
    title: 'Metadata v12 response decode (1,000 topics × 16 partitions)',
    bytes: body.length,
    bytesAre: 'input',
    ours,
    theirs,
  };
}

// ----------------------------------------------------------------------------------------- OffsetCommit v9

export function offsetCommitOperation(): Operation {
  const fx = buildOffsetCommitFixture({ topics: 100, partitionsPerTopic: 16 });
  const input = fx.ours;
  const t = fx.theirs;
  // 1024: the initial capacity frame.ts's encodeRequest gives its Writer; the body is ~44 KB, so it grows.
  const ours = () => {
    const w = new Writer(1024);
    encodeOffsetCommitRequest(w, 9, input);
    return w.finish();
  };
  const theirs = () => offsetCommitV9.createRequest(t.groupId, t.generationIdOrMemberEpoch, t.memberId, t.groupInstanceId, t.topics).buffer;

  const a = ours();
  const b = theirs();
  check(a.equals(b), `OffsetCommit v9 bodies differ (ours ${a.length} bytes, theirs ${b.length} bytes)`);
  return {
    id: 'offset-commit-v9-encode',
    title: 'OffsetCommit v9 request encode (100 topics × 16 partitions)',
    bytes: a.length,
    bytesAre: 'output',
    ours,
    theirs,
  };
}

// ---------------------------------------------------------------------------------------------- Fetch v16

interface Tally {
  records: number;
  keyBytes: number;
  valueBytes: number;
  headerCount: number;
  headerBytes: number;
}

/** Walks @platformatic/kafka's decoded batches, touching every record's key, value and headers. */
function tallyTheirs(res: ReturnType<typeof fetchV16.parseResponse>, tally: Tally): void {
  const topics = res.responses;
  for (let t = 0; t < topics.length; t++) {
    const partitions = topics[t]!.partitions;
    for (let p = 0; p < partitions.length; p++) {
      const batches = partitions[p]!.records;
      if (batches == null) continue;
      for (let b = 0; b < batches.length; b++) {
        const records = batches[b]!.records;
        for (let i = 0; i < records.length; i++) {
          const r = records[i]!;
          tally.records++;
          if (r.key !== null) tally.keyBytes += r.key.length;
          if (r.value !== null) tally.valueBytes += r.value.length;
          const headers = r.headers;
          for (let h = 0; h < headers.length; h++) {
            const [hk, hv] = headers[h]!;
            tally.headerCount++;
            tally.headerBytes += (hk === null ? 0 : hk.length) + (hv === null ? 0 : hv.length);
          }
        }
      }
    }
  }
}

// One cursor and one header view, reused for every batch of every operation: that is how the records module
// is meant to be used (allocation-free iteration).
const cursor = new RecordCursor();
const batchHeader = new BatchHeaderView();
// CRC checking off on both sides: @platformatic/kafka's readRecordsBatch does not verify CRCs.
const openOptions = { maxDecompressedBytes: 64 << 20, verifyCrc: false };

/** Decodes the Fetch response with our codec and walks every record with our records iterator. */
function tallyOurs(body: Buffer, tally: Tally): void {
  const topics = decodeFetchResponse(new Reader(body), 16).responses;
  for (let t = 0; t < topics.length; t++) {
    const partitions = topics[t]!.partitions;
    for (let p = 0; p < partitions.length; p++) {
      const records = partitions[p]!.records;
      if (records === null) continue;
      // Like theirs, stop at a trailing partial batch (a broker may cut the last batch of a Fetch short).
      for (
        let pos = 0;
        records.length - pos >= BATCH_LOG_OVERHEAD_BYTES &&
        records.readInt32BE(pos + BATCH_LENGTH_OFFSET) <= records.length - pos - BATCH_LOG_OVERHEAD_BYTES;
        pos = batchHeader.end
      ) {
        openBatchRecords(records, pos, cursor, openOptions, batchHeader);
        while (cursor.next()) {
          tally.records++;
          const key = cursor.key();
          if (key !== null) tally.keyBytes += key.length;
          const value = cursor.value();
          if (value !== null) tally.valueBytes += value.length;
          const headers = cursor.headers();
          while (headers.next()) {
            const hv = headers.value();
            tally.headerCount++;
            tally.headerBytes += headers.key().length + (hv === null ? 0 : hv.length);
          }
        }
      }
    }
  }
}

function newTally(): Tally {
  return { records: 0, keyBytes: 0, valueBytes: 0, headerCount: 0, headerBytes: 0 };
}

export function fetchOperation(): { op: Operation; fx: FetchFixture } {
  const fx = buildFetchFixture({ partitions: 16, bytesPerPartition: 1 << 20, batchBytes: 64 * 1024, valueBytes: 1024 });
  const body = fx.bytes;
  // The tally is the operation's result: a sum over every key, value and header, so nothing can be skipped.
  const ours = () => {
    const tally = newTally();
    tallyOurs(body, tally);
    return tally;
  };
  const theirs = () => {
    const tally = newTally();
    tallyTheirs(fetchV16.parseResponse(0, 1, 16, PltReader.from(body)), tally);
    return tally;
  };

  const a = ours();
  const b = theirs();
  const want = { records: fx.records, ...fx.expect };
  for (const [side, got] of [
    ['ours', a],
    ['theirs', b],
  ] as const) {
    check(JSON.stringify(got) === JSON.stringify(want), `${side} walked ${JSON.stringify(got)}, fixture has ${JSON.stringify(want)}`);
  }
  const ra = decodeFetchResponse(new Reader(body), 16);
  const rb = fetchV16.parseResponse(0, 1, 16, PltReader.from(body));
  check(uuidToHyphenatedHex(ra.responses[0]!.topicId) === rb.responses[0]!.topicId, 'fetch topic id');
  check(
    ra.sessionId === rb.sessionId && ra.responses[0]!.partitions.length === rb.responses[0]!.partitions.length,
    'fetch session / partition count',
  );
  const pa = ra.responses[0]!.partitions[9]!;
  const pb = rb.responses[0]!.partitions[9]!;
  check(pa.partitionIndex === pb.partitionIndex && BigInt(pa.highWatermark) === pb.highWatermark, 'fetch partition 9 high watermark');
  const firstKey = rb.responses[0]!.partitions[0]!.records![0]!.records[0]!.key!.toString();
  check(firstKey === 'key-001000000', `first record key ${firstKey}`);
  return {
    op: {
      id: 'fetch-v16-decode-iterate',
      title: `Fetch v16 response decode + iterate (16 partitions × 1 MiB, ${fx.records} × 1 KiB records)`,
      bytes: body.length,
      bytesAre: 'input',
      ours,
      theirs,
    },
    fx,
  };
}

// ------------------------------------------------------------------------------------------------ scenario

export async function run(options: ScenarioOptions): Promise<Record<string, unknown>> {
  const settings = options.quick ? quickSettings : fullSettings;
  const t0 = performance.now();
  const metadata = metadataOperation();
  const offsetCommit = offsetCommitOperation();
  const fetch = fetchOperation();
  const operations = [metadata, offsetCommit, fetch.op];
  console.log(
    `fixtures built and cross-checked in ${fmt(performance.now() - t0)} ms; ` +
      `settings: warm-up ${settings.warmupMs} ms, ${settings.rounds} rounds ≥ ${settings.roundMs} ms per side, ` +
      `median reported${gcBetweenRounds ? ', full GC before each round' : ''}\n`,
  );

  const results = [];
  const rows: string[][] = [];
  let minShare = 1;
  for (const op of operations) {
    process.stdout.write(`  running ${op.id} …`);
    const [ours, theirs] = compare(
      [
        { name: 'ours', fn: op.ours },
        { name: 'theirs', fn: op.theirs },
      ],
      settings,
    );
    const ratio = ours!.medianOpsPerSec / theirs!.medianOpsPerSec;
    const cpuRatio = ours!.medianOpsPerCpuSec / theirs!.medianOpsPerCpuSec;
    // Both sides' round r ran back to back, so they saw nearly the same machine: the median of the per-round
    // ratios is the ratio least disturbed by load that comes and goes.
    const pairedRatio = medianOf(ours!.roundsOpsPerSec.map((o, r) => o / theirs!.roundsOpsPerSec[r]!));
    minShare = Math.min(minShare, ours!.medianCpuShare, theirs!.medianCpuShare);
    process.stdout.write(` ${fmt(ratio)}×\n`);
    const side = (r: typeof ours) => ({
      opsPerSec: figure(r!.medianOpsPerSec, 'ops/s'),
      throughput: figure((r!.medianOpsPerSec * op.bytes) / MB, 'MB/s'),
      minOpsPerSec: figure(r!.minOpsPerSec, 'ops/s'),
      maxOpsPerSec: figure(r!.maxOpsPerSec, 'ops/s'),
      roundsOpsPerSec: { values: r!.roundsOpsPerSec, unit: 'ops/s' },
      opsPerCpuSec: figure(r!.medianOpsPerCpuSec, 'ops per main-thread CPU second'),
      cpuShare: figure(r!.medianCpuShare, 'main-thread CPU time / wall time'),
      roundsCpuShare: { values: r!.roundsCpuShare, unit: 'main-thread CPU time / wall time' },
      batchSize: figure(r!.batchSize, 'ops'),
      timedOperations: figure(r!.timedOperations, 'ops'),
    });
    results.push({
      id: op.id,
      operation: op.title,
      bytesPerOperation: figure(op.bytes, 'B'),
      bytesAre: op.bytesAre,
      ours: side(ours),
      theirs: side(theirs),
      ratio: figure(ratio, 'ours/theirs (median ops/s)'),
      pairedRatio: figure(pairedRatio, 'median over rounds of ours/theirs (same round, back to back)'),
      cpuTimeRatio: figure(cpuRatio, 'ours/theirs (median ops per main-thread CPU second)'),
      meetsTarget: ratio >= targetRatio,
    });
    rows.push([
      op.id,
      `${fmt(op.bytes / 1024)} KiB ${op.bytesAre === 'input' ? 'in' : 'out'}`,
      fmt(ours!.medianOpsPerSec),
      fmt(theirs!.medianOpsPerSec),
      fmt((ours!.medianOpsPerSec * op.bytes) / MB),
      fmt((theirs!.medianOpsPerSec * op.bytes) / MB),
      `${fmt(ratio)}×${ratio >= targetRatio ? '' : ' (< target)'}`,
      `${fmt(pairedRatio)}×`,
    ]);
  }
  console.log(
    `\n${table(['operation', 'bytes/op', 'ours ops/s', 'theirs ops/s', 'ours MB/s', 'theirs MB/s', 'ours/theirs', 'paired'], rows)}`,
  );
  console.log(`\ntarget: ours ≥ ${targetRatio}× theirs on every operation (wall-clock ratio); MB = 10^6 bytes`);
  if (minShare < 0.9) {
    console.log(
      `note: in the median round the benchmark thread was on a CPU only ${fmt(minShare * 100)}% of the time on one side ` +
        '(descheduled by other load on the machine, or waiting for V8\'s parallel GC threads); the ratios, the "paired" one ' +
        'above all, are steadier than the absolute figures',
    );
  }

  return {
    packages: {
      ours: oursVersion(),
      theirs: { name: '@platformatic/kafka', version: installedVersion('@platformatic/kafka') },
    },
    settings: {
      warmup: figure(settings.warmupMs, 'ms'),
      rounds: settings.rounds,
      minRoundDuration: figure(settings.roundMs, 'ms'),
      statistic: 'median of rounds',
      roundOrder: 'alternating (the side that goes first rotates every round)',
      gcBeforeEachRound: gcBetweenRounds,
      megabyte: figure(MB, 'B'),
      targetRatio: figure(targetRatio, 'ours/theirs'),
    },
    fixtures: {
      metadata: { topics: 1000, partitionsPerTopic: 16, brokers: 6, replicationFactor: 3, bytes: figure(metadata.bytes, 'B') },
      offsetCommit: { topics: 100, partitionsPerTopic: 16, bytes: figure(offsetCommit.bytes, 'B') },
      fetch: {
        partitions: fetch.fx.spec.partitions,
        bytesPerPartition: figure(fetch.fx.spec.bytesPerPartition, 'B'),
        batchBytes: figure(fetch.fx.spec.batchBytes, 'B'),
        valueBytes: figure(fetch.fx.spec.valueBytes, 'B'),
        batches: fetch.fx.batches,
        records: fetch.fx.records,
        headersPerRecord: '1 or 2 (alternating)',
        compression: 'none',
        bytes: figure(fetch.fx.bytes.length, 'B'),
      },
    },
    results,
  };
}
