// Load generation for the produce/latency/partitions/connections/catch-up scenarios, on our own codec (the
// same technique as bench/lib/broker-load.ts: every Produce v9 request frame is encoded once, before the clock
// starts; sending one costs the client a correlation-id patch and a socket write), plus:
//   - closed loop (saturation): a fixed number of requests in flight, each re-sent when acknowledged;
//   - open loop (fixed rate): requests scheduled at a fixed interval whatever is in flight, latency measured
//     from the scheduled send time (no coordinated omission); a pool of frame copies per template so a frame
//     is never patched while queued;
//   - a tailing consumer (one connection, one Fetch v16 in flight) that reports, per batch, the time from the
//     producer's send to its arrival at the consumer (end-to-end latency), matched by (partition, base offset)
//     against the producer's acknowledgements;
//   - idle connections (connect + one ApiVersions each).
// Every time series sample is (completion time since the phase start, latency, record-value bytes).
import { crc32c } from '@node-rs/crc32';
import { decodeResponse, encodeRequest } from '../../broker/protocol/frame.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { FetchResponse, ProduceResponse } from '../../broker/protocol/generated/index.ts';
import { randomBatch } from './broker-load.ts';
import type { Progress } from './progress.ts';
import type { Sample } from './stats.ts';
import { WireConnection } from './wire-client.ts';

const correlationIdOffset = 8;
const MiB = 2 ** 20;

export interface ProducerSpec {
  port: number;
  topic: string;
  partitions: number;
  connections: number;
  recordsPerBatch: number;
  valueBytes: number;
  /** Batches per request, each for a different partition; must divide `partitions`. */
  partitionsPerRequest: number;
  timeoutMs?: number;
}

export interface ProduceRun {
  requests: number;
  records: number;
  valueBytes: number;
  elapsedMs: number;
  /** One per request, in completion order. */
  samples: Sample[];
  /** Requests the client could not send on time (open loop only: its scheduler fell behind by > 100 ms). */
  lateSends: number;
}

interface Template {
  /** Partitions of this request, in order. */
  partitions: number[];
  free: Buffer[];
  frame: Buffer;
}

/** Called on every acknowledged batch: (partition, base offset, send time as performance.now()). */
export type AckListener = (partition: number, baseOffset: number, sentAt: number) => void;

export class Producer {
  readonly spec: ProducerSpec;
  private readonly conns: WireConnection[];
  private readonly templates: Template[];
  readonly valueBytesPerRequest: number;
  readonly frameBytes: number;
  private rr = 0;

  private constructor(spec: ProducerSpec, conns: WireConnection[], templates: Template[]) {
    this.spec = spec;
    this.conns = conns;
    this.templates = templates;
    this.valueBytesPerRequest = spec.partitionsPerRequest * spec.recordsPerBatch * spec.valueBytes;
    this.frameBytes = templates[0]!.frame.length;
  }

  static async open(spec: ProducerSpec): Promise<Producer> {
    if (spec.partitions % spec.partitionsPerRequest !== 0) throw new Error('partitionsPerRequest must divide partitions');
    const groups = spec.partitions / spec.partitionsPerRequest;
    // Record values are random (incompressible); a few distinct batches are shared by all partitions.
    const distinct = Array.from({ length: Math.min(8, spec.partitions) }, () => randomBatch(spec.recordsPerBatch, spec.valueBytes));
    const templates: Template[] = [];
    for (let g = 0; g < groups; g++) {
      const partitions = Array.from({ length: spec.partitionsPerRequest }, (_, k) => g * spec.partitionsPerRequest + k);
      const frame = encodeRequest(ApiKey.Produce, 9, 0, 'skafos-bench', {
        transactionalId: null,
        acks: -1,
        timeoutMs: spec.timeoutMs ?? 30_000,
        topicData: [
          { name: spec.topic, partitionData: partitions.map((p, k) => ({ index: p, records: distinct[(g + k) % distinct.length]! })) },
        ],
      });
      templates.push({ partitions, free: [], frame });
    }
    const conns: WireConnection[] = [];
    for (let i = 0; i < spec.connections; i++) conns.push(await WireConnection.connect(spec.port));
    return new Producer(spec, conns, templates);
  }

  close(): void {
    for (const c of this.conns) c.close();
  }

  private takeFrame(t: Template): Buffer {
    return t.free.pop() ?? Buffer.from(t.frame);
  }

  /** Sends one request for template `g`; resolves when acknowledged (and checked). */
  private async sendOne(
    g: number,
    latencyFrom: number | null,
    onAck: AckListener | undefined,
  ): Promise<{ sentAt: number; latencyMs: number }> {
    const t = this.templates[g]!;
    const conn = this.conns[this.rr++ % this.conns.length]!;
    const frame = this.takeFrame(t);
    const id = conn.correlationId();
    frame.writeInt32BE(id, correlationIdOffset);
    const sentAt = performance.now();
    let resFrame: Buffer;
    try {
      resFrame = await conn.send(frame, id);
    } finally {
      t.free.push(frame);
    }
    const latencyMs = performance.now() - (latencyFrom ?? sentAt);
    const res = decodeResponse(resFrame, ApiKey.Produce, 9).body as ProduceResponse;
    for (const tr of res.responses) {
      for (const p of tr.partitionResponses) {
        if (p.errorCode !== 0) throw new Error(`produce to ${tr.name}-${p.index}: error ${p.errorCode} ${p.errorMessage ?? ''}`);
        onAck?.(p.index, Number(p.baseOffset), latencyFrom ?? sentAt);
      }
    }
    return { sentAt, latencyMs };
  }

  /** Closed loop: `inFlight` requests out at all times until `targetValueBytes` are acknowledged or `durationMs` passed. */
  async saturate(o: {
    inFlight: number;
    targetValueBytes?: number;
    durationMs?: number;
    deadlineMs: number;
    progress?: Progress;
    onAck?: AckListener;
  }): Promise<ProduceRun> {
    const total = o.targetValueBytes !== undefined ? Math.ceil(o.targetValueBytes / this.valueBytesPerRequest) : Infinity;
    const samples: Sample[] = [];
    let issued = 0;
    let acked = 0;
    let failure: Error | null = null;
    const start = performance.now();
    const endAt = o.durationMs !== undefined ? start + o.durationMs : Infinity;
    const deadline = start + o.deadlineMs;
    let g = 0;
    const loop = async () => {
      while (failure === null && issued < total && performance.now() < endAt) {
        if (performance.now() > deadline) throw new Error(`produce did not finish within ${o.deadlineMs} ms`);
        issued++;
        const r = await this.sendOne(g++ % this.templates.length, null, o.onAck);
        acked++;
        samples.push({ atMs: performance.now() - start, latencyMs: r.latencyMs, bytes: this.valueBytesPerRequest });
        if (o.progress) {
          const el = (performance.now() - start) / 1000;
          const done = o.durationMs !== undefined ? el : (acked * this.valueBytesPerRequest) / MiB;
          o.progress.update(done, `${((acked * this.valueBytesPerRequest) / MiB / el).toFixed(1)} MiB/s`);
        }
      }
    };
    await Promise.all(
      Array.from({ length: o.inFlight }, () =>
        loop().catch((err: unknown) => {
          failure ??= err as Error;
          this.close();
        }),
      ),
    );
    if (failure) throw failure;
    return this.result(samples, performance.now() - start, 0);
  }

  /** Open loop: `requestsPerSecond` for `durationMs`, then waits for the stragglers. */
  async fixedRate(o: {
    requestsPerSecond: number;
    durationMs: number;
    deadlineMs: number;
    progress?: Progress;
    onAck?: AckListener;
  }): Promise<ProduceRun> {
    const samples: Sample[] = [];
    const intervalMs = 1000 / o.requestsPerSecond;
    const total = Math.max(1, Math.round((o.durationMs / 1000) * o.requestsPerSecond));
    const start = performance.now();
    let sent = 0;
    let late = 0;
    let failure: Error | null = null;
    const pending = new Set<Promise<void>>();
    let g = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (sent < total && start + sent * intervalMs <= now && failure === null) {
          const scheduled = start + sent * intervalMs;
          if (now - scheduled > 100) late++;
          sent++;
          const p: Promise<void> = this.sendOne(g++ % this.templates.length, scheduled, o.onAck)
            .then(
              (r) => {
                samples.push({ atMs: performance.now() - start, latencyMs: r.latencyMs, bytes: this.valueBytesPerRequest });
              },
              (err: unknown) => {
                failure ??= err as Error;
              },
            )
            .finally(() => pending.delete(p));
          pending.add(p);
        }
        o.progress?.update(Math.min(o.durationMs, now - start) / 1000, `${pending.size} in flight`);
        if (sent >= total || failure !== null) return resolve();
        setTimeout(tick, Math.max(0, Math.min(5, start + sent * intervalMs - performance.now())));
      };
      tick();
    });
    const deadline = setTimeout(
      () => {
        failure ??= new Error(`fixed-rate produce: requests still unanswered ${o.deadlineMs} ms after the start`);
        this.close();
      },
      Math.max(1000, o.deadlineMs - (performance.now() - start)),
    );
    try {
      while (pending.size > 0) await Promise.all([...pending]);
    } finally {
      clearTimeout(deadline);
    }
    if (failure) throw failure;
    return this.result(samples, performance.now() - start, late);
  }

  private result(samples: Sample[], elapsedMs: number, lateSends: number): ProduceRun {
    const requests = samples.length;
    const records = requests * this.spec.partitionsPerRequest * this.spec.recordsPerBatch;
    return { requests, records, valueBytes: records * this.spec.valueBytes, elapsedMs, samples, lateSends };
  }
}

// ------------------------------------------------------------------------------------------- end to end

/** Matches acknowledgements and consumed batches by (partition, base offset): end-to-end latency per batch. */
export class EndToEnd {
  private readonly sent = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  readonly samples: Sample[] = [];
  private readonly origin: number;
  constructor(origin: number) {
    this.origin = origin;
  }
  readonly onAck: AckListener = (p, base, sentAt) => {
    const k = `${p}:${base}`;
    const at = this.seen.get(k);
    if (at !== undefined) {
      this.seen.delete(k);
      this.samples.push({ atMs: at - this.origin, latencyMs: at - sentAt, bytes: 0 });
    } else {
      this.sent.set(k, sentAt);
    }
  };
  consumed(p: number, base: number, at: number): void {
    const k = `${p}:${base}`;
    const sentAt = this.sent.get(k);
    if (sentAt !== undefined) {
      this.sent.delete(k);
      this.samples.push({ atMs: at - this.origin, latencyMs: at - sentAt, bytes: 0 });
    } else {
      this.seen.set(k, at);
    }
  }
}

/**
 * A consumer tailing every partition of a topic from offset 0 (one connection, one Fetch v16 in flight,
 * max_wait 500 ms, min_bytes 1) until stop() and then until it has caught up with `endOffsets()`. Batches'
 * CRCs are checked; each batch's arrival is reported to `e2e`.
 */
export class TailConsumer {
  private stopping = false;
  /** Retriable partition errors seen (and retried), e.g. while leadership settles. */
  retriableErrors = 0;
  private readonly done: Promise<{ batches: number; bytes: number }>;
  constructor(conn: WireConnection, o: { topic: string; topicId: string; partitions: number; e2e: EndToEnd; endOffsets: () => number[] }) {
    const offsets = new Array<number>(o.partitions).fill(0);
    this.done = (async () => {
      let batches = 0;
      let bytes = 0;
      for (;;) {
        const ends = o.endOffsets();
        if (this.stopping && offsets.every((off, p) => off >= (ends[p] ?? 0))) break;
        const id = conn.correlationId();
        const req = encodeRequest(ApiKey.Fetch, 16, id, 'skafos-bench', {
          replicaState: { replicaId: -1, replicaEpoch: -1 },
          maxWaitMs: this.stopping ? 50 : 500,
          minBytes: 1,
          maxBytes: 50 * MiB,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic: o.topic,
              topicId: o.topicId,
              partitions: offsets.map((off, p) => ({
                partition: p,
                currentLeaderEpoch: -1,
                fetchOffset: off,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: 8 * MiB,
              })),
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        });
        const frame = await conn.send(req, id);
        const at = performance.now();
        const res = decodeResponse(frame, ApiKey.Fetch, 16).body as FetchResponse;
        let retry = false;
        for (const t of res.responses) {
          for (const pd of t.partitions) {
            if (pd.errorCode !== 0) {
              // Retriable while leadership settles (etcd metadata): NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
              // LEADER_NOT_AVAILABLE, NOT_LEADER... retried on the next fetch; anything else fails the phase.
              if (![3, 5, 6, 74, 75].includes(pd.errorCode))
                throw new Error(`tail fetch ${o.topic}-${pd.partitionIndex}: error ${pd.errorCode}`);
              this.retriableErrors++;
              retry = true;
              continue;
            }
            const data = pd.records;
            if (data === null) continue;
            let pos = 0;
            while (data.length - pos >= 61) {
              const size = 12 + data.readInt32BE(pos + 8);
              if (data.length - pos < size) break;
              const base = Number(data.readBigInt64BE(pos));
              if (crc32c(data.subarray(pos + 21, pos + size)) >>> 0 !== data.readUInt32BE(pos + 17))
                throw new Error(`tail fetch: CRC mismatch at ${pd.partitionIndex}/${base}`);
              if (base >= offsets[pd.partitionIndex]!) {
                o.e2e.consumed(pd.partitionIndex, base, at);
                offsets[pd.partitionIndex] = base + data.readInt32BE(pos + 23) + 1;
                batches++;
                bytes += size;
              }
              pos += size;
            }
          }
        }
        if (retry) await new Promise((r) => setTimeout(r, 50));
      }
      return { batches, bytes };
    })();
    // Kept until stop() (no unhandled rejection meanwhile).
    this.done.catch(() => {});
  }
  /** Stops once caught up with the end offsets; resolves with what was read. */
  async stop(timeoutMs = 60_000): Promise<{ batches: number; bytes: number }> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.done,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new Error(`tail consumer did not catch up within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Tracks the highest acknowledged end offset per partition (for a TailConsumer's stop condition). */
export class EndOffsets {
  readonly ends: number[];
  private readonly recordsPerBatch: number;
  constructor(partitions: number, recordsPerBatch: number) {
    this.ends = new Array<number>(partitions).fill(0);
    this.recordsPerBatch = recordsPerBatch;
  }
  readonly onAck: AckListener = (p, base) => {
    this.ends[p] = Math.max(this.ends[p]!, base + this.recordsPerBatch);
  };
}

// ------------------------------------------------------------------------------------------ connections

/** Opens `n` connections (each sends one ApiVersions v3 and waits for it), `batch` at a time. */
export async function openIdleConnections(port: number, n: number, batch: number, progress?: Progress): Promise<WireConnection[]> {
  const out: WireConnection[] = [];
  while (out.length < n) {
    const k = Math.min(batch, n - out.length);
    const conns = await Promise.all(
      Array.from({ length: k }, async () => {
        const c = await WireConnection.connect(port, 30_000);
        await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'skafos-bench', clientSoftwareVersion: '0' });
        return c;
      }),
    );
    out.push(...conns);
    progress?.update(out.length);
  }
  return out;
}
