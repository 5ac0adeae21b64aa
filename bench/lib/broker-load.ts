// Load generation for the broker scenario, built on our own codec: a producer that pipelines pre-encoded
// Produce v9 requests (acks=-1) over several connections, and a consumer that reads a topic back from offset 0
// with Fetch v16, checking every batch (CRC-32C, contiguous offsets) and counting records.
//
// The producer encodes every request frame once, before the clock starts: a slot is one frame plus one
// request in flight; when its response arrives, the slot patches a new correlation id into the same bytes and
// sends them again. So the client's work per request is one socket write and one small response decode, and
// the figures measure the broker rather than a client's record encoder. The broker never sees identical
// bytes as a problem: it assigns offsets itself (base offset and leader epoch are outside the batch CRC), and
// nothing here is idempotent or transactional.
import { randomBytes } from 'node:crypto';
import { crc32c } from '@node-rs/crc32';
import { encodeRequest } from '../../broker/protocol/frame.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { CreateTopicsResponse, FetchResponse, ProduceResponse } from '../../broker/protocol/generated/index.ts';
import { decodeResponse } from '../../broker/protocol/frame.ts';
import { buildRecordBatch } from '../../broker/protocol/records/index.ts';
import type { RecordInput } from '../../broker/protocol/records/index.ts';
import { WireConnection } from './wire-client.ts';

const produceVersion = 9;
const fetchVersion = 16;
const createTopicsVersion = 7;
/** Offset of the correlation id in a request frame: size (4), API key (2), API version (2). */
const correlationIdOffset = 8;
const clientId = 'skafos-bench';

export async function createTopic(port: number, name: string, partitions: number): Promise<string> {
  const conn = await WireConnection.connect(port);
  try {
    const res = await conn.request<CreateTopicsResponse>(ApiKey.CreateTopics, createTopicsVersion, {
      topics: [{ name, numPartitions: partitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    const t = res.topics[0]!;
    if (t.errorCode !== 0) throw new Error(`CreateTopics ${name}: error ${t.errorCode} ${t.errorMessage ?? ''}`);
    return t.topicId;
  } finally {
    conn.close();
  }
}

// ------------------------------------------------------------------------------------------------- produce

export interface ProduceSpec {
  port: number;
  topic: string;
  partitions: number;
  /** TCP connections (think: producer instances). */
  connections: number;
  /** Requests in flight per connection (max.in.flight.requests.per.connection). */
  inFlightPerConnection: number;
  recordsPerBatch: number;
  /** Value bytes of every record; records have no key and no headers. */
  valueBytes: number;
  /** Batches (each for a different partition) per request; must divide `partitions`. */
  partitionsPerRequest: number;
  /** Stop once this many record-value bytes have been acknowledged (rounded up to whole requests). */
  targetValueBytes: number;
  /** Request timeout sent to the broker. */
  timeoutMs: number;
  /** Abort the phase after this long. */
  deadlineMs: number;
}

export interface ProduceResult {
  requests: number;
  batches: number;
  records: number;
  /** Record-value bytes acknowledged (records × valueBytes). */
  valueBytes: number;
  /** Record-batch bytes acknowledged (what the broker stores: batch headers and record framing included). */
  batchBytes: number;
  /** Request frame bytes written (batches plus request headers). */
  wireBytes: number;
  /** From the first request written to the last response read. */
  elapsedMs: number;
  /** Per request, write → response, in ms, in completion order. */
  latenciesMs: number[];
  /** Per partition: records acknowledged, and the log end offset the acknowledgements imply. */
  recordsByPartition: number[];
  endOffsetByPartition: number[];
}

interface Slot {
  conn: WireConnection;
  frame: Buffer;
}

/** One record batch of `n` records with random values (incompressible), CreateTime = now. */
export function randomBatch(n: number, valueBytes: number): Buffer {
  const now = Date.now();
  const values = randomBytes(n * valueBytes);
  const records: RecordInput[] = [];
  for (let i = 0; i < n; i++) records.push({ key: null, value: values.subarray(i * valueBytes, (i + 1) * valueBytes), timestampMs: now });
  return buildRecordBatch(records);
}

/** A producer with its connections open and every request frame encoded; run() sends them. */
export interface PreparedProduce {
  /** Bytes of pre-built request frames the client holds. */
  readonly clientFrameBytes: number;
  /** Record-value bytes in flight when every slot has a request out. */
  readonly inFlightValueBytes: number;
  run(): Promise<ProduceResult>;
  close(): void;
}

export async function prepareProduce(spec: ProduceSpec): Promise<PreparedProduce> {
  if (spec.partitions % spec.partitionsPerRequest !== 0) throw new Error('partitionsPerRequest must divide partitions');
  const groups = spec.partitions / spec.partitionsPerRequest;
  const conns = await Promise.all(Array.from({ length: spec.connections }, () => WireConnection.connect(spec.port)));
  const close = () => {
    for (const c of conns) c.close();
  };
  // Slot s of connection c produces to partition group (c × inFlight + s) mod groups: every group gets the
  // same number of slots when groups divides connections × inFlight, so partitions fill evenly.
  const slots: Slot[] = [];
  let batchBytesPerRequest = 0;
  let clientFrameBytes = 0;
  for (let c = 0; c < spec.connections; c++) {
    for (let s = 0; s < spec.inFlightPerConnection; s++) {
      const g = (c * spec.inFlightPerConnection + s) % groups;
      const partitionData = [];
      let batchBytes = 0;
      for (let k = 0; k < spec.partitionsPerRequest; k++) {
        const records = randomBatch(spec.recordsPerBatch, spec.valueBytes);
        batchBytes += records.length;
        partitionData.push({ index: g * spec.partitionsPerRequest + k, records });
      }
      batchBytesPerRequest = batchBytes;
      const frame = encodeRequest(ApiKey.Produce, produceVersion, 0, clientId, {
        transactionalId: null,
        acks: -1,
        timeoutMs: spec.timeoutMs,
        topicData: [{ name: spec.topic, partitionData }],
      });
      clientFrameBytes += frame.length;
      slots.push({ conn: conns[c]!, frame });
    }
  }
  const valueBytesPerRequest = spec.partitionsPerRequest * spec.recordsPerBatch * spec.valueBytes;

  const run = async (): Promise<ProduceResult> => {
    const totalRequests = Math.ceil(spec.targetValueBytes / valueBytesPerRequest);
    const recordsByPartition = new Array<number>(spec.partitions).fill(0);
    const endOffsetByPartition = new Array<number>(spec.partitions).fill(0);
    const latenciesMs: number[] = [];
    let issued = 0;
    let wireBytes = 0;
    let failure: Error | null = null;
    // On the first failure (or the deadline) every connection closes, which fails the requests in flight.
    const fail = (err: Error) => {
      failure ??= err;
      close();
    };
    const deadline = setTimeout(() => fail(new Error(`produce did not finish within ${spec.deadlineMs} ms`)), spec.deadlineMs);

    const runSlot = async (slot: Slot): Promise<void> => {
      while (issued < totalRequests && failure === null) {
        issued++;
        const id = slot.conn.correlationId();
        slot.frame.writeInt32BE(id, correlationIdOffset);
        wireBytes += slot.frame.length;
        const t0 = performance.now();
        const frame = await slot.conn.send(slot.frame, id);
        latenciesMs.push(performance.now() - t0);
        const res = decodeResponse(frame, ApiKey.Produce, produceVersion).body as ProduceResponse;
        for (const t of res.responses) {
          for (const p of t.partitionResponses) {
            if (p.errorCode !== 0) throw new Error(`produce to ${t.name}-${p.index}: error ${p.errorCode} ${p.errorMessage ?? ''}`);
            recordsByPartition[p.index]! += spec.recordsPerBatch;
            endOffsetByPartition[p.index] = Math.max(endOffsetByPartition[p.index]!, p.baseOffset + spec.recordsPerBatch);
          }
        }
      }
    };

    const started = performance.now();
    try {
      await Promise.all(slots.map((s) => runSlot(s).catch((err: unknown) => fail(err as Error))));
    } finally {
      clearTimeout(deadline);
    }
    const elapsedMs = performance.now() - started;
    if (failure) throw failure;
    const requests = latenciesMs.length;
    const records = requests * spec.partitionsPerRequest * spec.recordsPerBatch;
    return {
      requests,
      batches: requests * spec.partitionsPerRequest,
      records,
      valueBytes: records * spec.valueBytes,
      batchBytes: requests * batchBytesPerRequest,
      wireBytes,
      elapsedMs,
      latenciesMs,
      recordsByPartition,
      endOffsetByPartition,
    };
  };
  return { clientFrameBytes, inFlightValueBytes: slots.length * valueBytesPerRequest, run, close };
}

// --------------------------------------------------------------------------------------------------- fetch

export interface FetchSpec {
  port: number;
  topic: string;
  topicId: string;
  partitions: number;
  /** Read each partition from offset 0 up to here (exclusive). */
  endOffsets: number[];
  maxBytes: number;
  partitionMaxBytes: number;
  maxWaitMs: number;
  deadlineMs: number;
}

export interface FetchResult {
  requests: number;
  records: number;
  batches: number;
  /** Record-batch bytes received (whole batches only). */
  batchBytes: number;
  /** Response frame bytes received. */
  wireBytes: number;
  elapsedMs: number;
  /** Per request, write → response fully received and checked, in ms. */
  latenciesMs: number[];
  recordsByPartition: number[];
}

/**
 * One consumer on one connection, as a Kafka consumer fetches from one broker: one Fetch in flight, every
 * partition not yet at its end offset in each request (the starting partition rotates so none starves under
 * max_bytes), records from offset 0. Every batch's CRC is checked and its base offset must continue the
 * previous batch's last offset. `conn` is opened (and closed) by the caller, outside the timed part.
 */
export async function runFetch(spec: FetchSpec, conn: WireConnection): Promise<FetchResult> {
  const offsets = new Array<number>(spec.partitions).fill(0);
  const recordsByPartition = new Array<number>(spec.partitions).fill(0);
  const latenciesMs: number[] = [];
  let records = 0;
  let batches = 0;
  let batchBytes = 0;
  let wireBytes = 0;
  let rotate = 0;
  let emptyResponses = 0;
  const started = performance.now();
  for (;;) {
    const todo: number[] = [];
    for (let k = 0; k < spec.partitions; k++) {
      const p = (rotate + k) % spec.partitions;
      if (offsets[p]! < spec.endOffsets[p]!) todo.push(p);
    }
    rotate = (rotate + 1) % spec.partitions;
    if (todo.length === 0) break;
    if (performance.now() - started > spec.deadlineMs) throw new Error(`fetch did not finish within ${spec.deadlineMs} ms`);
    const id = conn.correlationId();
    const req = encodeRequest(ApiKey.Fetch, fetchVersion, id, clientId, {
      replicaState: { replicaId: -1, replicaEpoch: -1 },
      maxWaitMs: spec.maxWaitMs,
      minBytes: 1,
      maxBytes: spec.maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: spec.topic,
          topicId: spec.topicId,
          partitions: todo.map((p) => ({
            partition: p,
            currentLeaderEpoch: -1,
            fetchOffset: offsets[p]!,
            lastFetchedEpoch: -1,
            logStartOffset: -1,
            partitionMaxBytes: spec.partitionMaxBytes,
          })),
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    const t0 = performance.now();
    const frame = await conn.send(req, id);
    wireBytes += frame.length + 4;
    const res = decodeResponse(frame, ApiKey.Fetch, fetchVersion).body as FetchResponse;
    if (res.errorCode !== 0) throw new Error(`fetch: top-level error ${res.errorCode}`);
    let got = 0;
    for (const t of res.responses) {
      for (const pd of t.partitions) {
        if (pd.errorCode !== 0) throw new Error(`fetch ${spec.topic}-${pd.partitionIndex}: error ${pd.errorCode}`);
        const data = pd.records;
        if (data === null) continue;
        const p = pd.partitionIndex;
        let pos = 0;
        // Whole batches only; a truncated last batch (allowed by the protocol) is fetched again next time.
        while (data.length - pos >= 61) {
          const size = 12 + data.readInt32BE(pos + 8);
          if (data.length - pos < size) break;
          const base = Number(data.readBigInt64BE(pos));
          if (base !== offsets[p]) throw new Error(`fetch ${spec.topic}-${p}: batch at offset ${base}, expected ${offsets[p]}`);
          if (crc32c(data.subarray(pos + 21, pos + size)) >>> 0 !== data.readUInt32BE(pos + 17)) {
            throw new Error(`fetch ${spec.topic}-${p}: CRC mismatch in the batch at offset ${base}`);
          }
          const n = data.readInt32BE(pos + 57);
          offsets[p] = base + data.readInt32BE(pos + 23) + 1;
          recordsByPartition[p]! += n;
          records += n;
          batches++;
          batchBytes += size;
          got += size;
          pos += size;
        }
      }
    }
    latenciesMs.push(performance.now() - t0);
    if (got === 0 && ++emptyResponses > 20)
      throw new Error(`fetch ${spec.topic}: ${emptyResponses} responses without data before the end offsets`);
  }
  return {
    requests: latenciesMs.length,
    records,
    batches,
    batchBytes,
    wireBytes,
    elapsedMs: performance.now() - started,
    latenciesMs,
    recordsByPartition,
  };
}

/** The q-quantile (0..1) of `values` (nearest rank). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
