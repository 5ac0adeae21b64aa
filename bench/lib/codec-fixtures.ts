// Fixture bytes for the codec scenario, built once with our own encoders (and, for record batches, a plain
// magic-2 batch writer: no compression, no producer id). Everything is deterministic (seeded PRNG), so two
// runs decode exactly the same bytes.
import { crc32c } from '@node-rs/crc32';
import { encodeFetchResponse, encodeMetadataResponse } from '../../broker/protocol/generated/index.ts';
import type {
  FetchResponseInput,
  FetchResponsePartitionDataInput,
  MetadataResponseInput,
  OffsetCommitRequestInput,
} from '../../broker/protocol/generated/index.ts';
import { Writer } from '../../broker/protocol/wire/writer.ts';

/** xorshift32: small, fast, deterministic; only used to fill fixtures. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      b[i] = v;
      if (i + 1 < n) b[i + 1] = v >>> 8;
      if (i + 2 < n) b[i + 2] = v >>> 16;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
  /** A random (non-zero) topic id in Kafka's text form, base64url without padding, as our codec uses. */
  uuid(): string {
    return this.bytes(16).toString('base64url');
  }
}

/** Our UUID text form (base64url) to @platformatic/kafka's (hyphenated hex), for cross-checking. */
export function uuidToHyphenatedHex(base64url: string): string {
  const h = Buffer.from(base64url, 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

// ------------------------------------------------------------------------------------------- Metadata v12

export interface MetadataFixtureSpec {
  topics: number;
  partitionsPerTopic: number;
  brokers: number;
  replicationFactor: number;
}

export interface MetadataFixture {
  spec: MetadataFixtureSpec;
  input: MetadataResponseInput;
  /** Response body (after the response header), as a client's parser receives it. */
  bytes: Buffer;
}

export function buildMetadataFixture(spec: MetadataFixtureSpec): MetadataFixture {
  const rnd = new Prng(0x5eed0001);
  const brokers = [];
  for (let b = 0; b < spec.brokers; b++) {
    brokers.push({ nodeId: b + 1, host: `broker-${b + 1}.skafos.internal`, port: 9092, rack: `rack-${String.fromCharCode(97 + (b % 3))}` });
  }
  const topics: NonNullable<MetadataResponseInput['topics']> = [];
  for (let t = 0; t < spec.topics; t++) {
    const partitions = [];
    for (let p = 0; p < spec.partitionsPerTopic; p++) {
      const replicas: number[] = [];
      for (let r = 0; r < spec.replicationFactor; r++) replicas.push(((t + p + r) % spec.brokers) + 1);
      // Every 7th partition has one follower out of sync, so ISR lengths vary as they do in real clusters.
      const isr = (t * spec.partitionsPerTopic + p) % 7 === 0 ? replicas.slice(0, -1) : replicas.slice();
      partitions.push({
        errorCode: 0,
        partitionIndex: p,
        leaderId: replicas[0]!,
        leaderEpoch: 3 + (p % 5),
        replicaNodes: replicas,
        isrNodes: isr,
        offlineReplicas: [],
      });
    }
    topics.push({
      errorCode: 0,
      name: `topic-${pad(t, 4)}`,
      topicId: rnd.uuid(),
      isInternal: false,
      partitions,
      topicAuthorizedOperations: -2147483648,
    });
  }
  const input: MetadataResponseInput = { throttleTimeMs: 0, brokers, clusterId: 'skafos-bench-cluster-0001', controllerId: 1, topics };
  const w = new Writer(1 << 20);
  encodeMetadataResponse(w, 12, input);
  return { spec, input, bytes: w.finish() };
}

// ----------------------------------------------------------------------------------------- OffsetCommit v9

export interface OffsetCommitFixtureSpec {
  topics: number;
  partitionsPerTopic: number;
}

/** The same commit, in each codec's own input shape (theirs takes int64 as bigint). */
export interface OffsetCommitFixture {
  spec: OffsetCommitFixtureSpec;
  ours: OffsetCommitRequestInput;
  theirs: {
    groupId: string;
    generationIdOrMemberEpoch: number;
    memberId: string;
    groupInstanceId: string | null;
    topics: {
      name: string;
      partitions: { partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: string | null }[];
    }[];
  };
}

export function buildOffsetCommitFixture(spec: OffsetCommitFixtureSpec): OffsetCommitFixture {
  const groupId = 'bench-consumer-group';
  const memberId = 'consumer-bench-1-8c1f6e2a-35d4-4b8e-9f0e-2a7c9d1b4e60';
  const generation = 17;
  const ours: OffsetCommitRequestInput = { groupId, generationIdOrMemberEpoch: generation, memberId, groupInstanceId: null, topics: [] };
  const theirs: OffsetCommitFixture['theirs'] = {
    groupId,
    generationIdOrMemberEpoch: generation,
    memberId,
    groupInstanceId: null,
    topics: [],
  };
  for (let t = 0; t < spec.topics; t++) {
    const name = `topic-${pad(t, 4)}`;
    const op = [];
    const tp = [];
    for (let p = 0; p < spec.partitionsPerTopic; p++) {
      const offset = 1_000_000_000 + t * 100_003 + p * 7_919;
      op.push({ partitionIndex: p, committedOffset: offset, committedLeaderEpoch: 3 + (p % 5), committedMetadata: '' });
      tp.push({ partitionIndex: p, committedOffset: BigInt(offset), committedLeaderEpoch: 3 + (p % 5), committedMetadata: '' });
    }
    ours.topics!.push({ name, partitions: op });
    theirs.topics.push({ name, partitions: tp });
  }
  return { spec, ours, theirs };
}

// ---------------------------------------------------------------------------------------------- Fetch v16

export interface FetchFixtureSpec {
  partitions: number;
  /** Record-batch bytes per partition (approximately: whole records, last batch may be short). */
  bytesPerPartition: number;
  /** Target size of one record batch. */
  batchBytes: number;
  /** Value size of every record. */
  valueBytes: number;
}

export interface FetchFixture {
  spec: FetchFixtureSpec;
  bytes: Buffer;
  topicId: string;
  batches: number;
  records: number;
  /** What a full iteration must see: sum of key, value, header key and header value lengths, and header count. */
  expect: { keyBytes: number; valueBytes: number; headerCount: number; headerBytes: number };
}

interface FixtureRecord {
  key: Buffer;
  value: Buffer;
  headers: [Buffer, Buffer][];
}

/** One uncompressed magic-2 batch with a valid CRC-32C. */
export function buildRecordBatch(baseOffset: number, baseTimestamp: number, records: FixtureRecord[]): Buffer {
  const body = new Writer(64 * 1024);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const rec = new Writer(2048);
    rec.int8(0); // attributes
    rec.varlong(i); // timestampDelta (1 ms apart)
    rec.varint(i); // offsetDelta
    rec.varint(r.key.length);
    rec.raw(r.key);
    rec.varint(r.value.length);
    rec.raw(r.value);
    rec.varint(r.headers.length);
    for (const [hk, hv] of r.headers) {
      rec.varint(hk.length);
      rec.raw(hk);
      rec.varint(hv.length);
      rec.raw(hv);
    }
    const bytes = rec.finish();
    body.varint(bytes.length);
    body.raw(bytes);
  }
  const recordBytes = body.finish();
  const batch = Buffer.alloc(61 + recordBytes.length);
  batch.writeBigInt64BE(BigInt(baseOffset), 0);
  batch.writeInt32BE(batch.length - 12, 8); // batchLength
  batch.writeInt32BE(5, 12); // partitionLeaderEpoch
  batch.writeInt8(2, 16); // magic
  batch.writeInt16BE(0, 21); // attributes: no compression, create time, not transactional
  batch.writeInt32BE(records.length - 1, 23); // lastOffsetDelta
  batch.writeBigInt64BE(BigInt(baseTimestamp), 27);
  batch.writeBigInt64BE(BigInt(baseTimestamp + records.length - 1), 35);
  batch.writeBigInt64BE(-1n, 43); // producerId
  batch.writeInt16BE(-1, 51); // producerEpoch
  batch.writeInt32BE(-1, 53); // baseSequence
  batch.writeInt32BE(records.length, 57);
  recordBytes.copy(batch, 61);
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

export function buildFetchFixture(spec: FetchFixtureSpec): FetchFixture {
  const rnd = new Prng(0x5eed0003);
  const topicId = rnd.uuid();
  const traceKey = Buffer.from('trace-id');
  const typeKey = Buffer.from('content-type');
  const typeValue = Buffer.from('application/octet-stream');
  const expect = { keyBytes: 0, valueBytes: 0, headerCount: 0, headerBytes: 0 };
  let batches = 0;
  let totalRecords = 0;
  const baseTimestamp = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const partitions: FetchResponsePartitionDataInput[] = [];
  for (let p = 0; p < spec.partitions; p++) {
    const chunks: Buffer[] = [];
    let partitionBytes = 0;
    let offset = 1_000_000 * (p + 1);
    while (partitionBytes < spec.bytesPerPartition) {
      const records: FixtureRecord[] = [];
      let batchBytes = 61;
      while (batchBytes < spec.batchBytes && partitionBytes + batchBytes < spec.bytesPerPartition) {
        const n = offset + records.length;
        const key = Buffer.from(`key-${pad(n, 9)}`);
        const value = rnd.bytes(spec.valueBytes);
        // Each record has 1 or 2 headers.
        const headers: [Buffer, Buffer][] = [[traceKey, rnd.bytes(16)]];
        if (n % 2 === 0) headers.push([typeKey, typeValue]);
        records.push({ key, value, headers });
        expect.keyBytes += key.length;
        expect.valueBytes += value.length;
        expect.headerCount += headers.length;
        for (const [hk, hv] of headers) expect.headerBytes += hk.length + hv.length;
        batchBytes += key.length + value.length + 20 + headers.reduce((s, [k, v]) => s + k.length + v.length + 2, 0);
      }
      const batch = buildRecordBatch(offset, baseTimestamp + offset, records);
      chunks.push(batch);
      partitionBytes += batch.length;
      offset += records.length;
      totalRecords += records.length;
      batches++;
    }
    partitions.push({
      partitionIndex: p,
      errorCode: 0,
      highWatermark: offset,
      lastStableOffset: offset,
      logStartOffset: 0,
      abortedTransactions: null,
      preferredReadReplica: -1,
      records: Buffer.concat(chunks),
    });
  }
  const input: FetchResponseInput = { throttleTimeMs: 0, errorCode: 0, sessionId: 424242, responses: [{ topicId, partitions }] };
  const w = new Writer(4096);
  encodeFetchResponse(w, 16, input);
  return { spec, bytes: w.finish(), topicId, batches, records: totalRecords, expect };
}
