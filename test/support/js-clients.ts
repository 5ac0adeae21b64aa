// kafkajs and @platformatic/kafka, in the test process. Neither has an assign-mode consumer without a consumer
// group (not implemented by the broker yet), so consumption goes through each client's own Fetch path:
// kafkajs' Broker.fetch (its request/response codecs, record-batch decoder and compression codecs) and
// @platformatic/kafka's public Consumer.fetch.
//
// kafkajs ships only gzip; snappy, lz4 and zstd come from codec plugins in real deployments (kafkajs-snappy,
// kafkajs-lz4, @kafkajs/zstd). The equivalents here use the same formats those plugins use: raw snappy,
// LZ4 frames, zstd frames.
import zlib from 'node:zlib';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaType, Message, RecordMetadata } from 'kafkajs';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { Consumer as PlatformaticConsumer, Producer as PlatformaticProducer } from '@platformatic/kafka';
import type { ConsumedRecord, Delivery, TestRecord } from './records.ts';
import { bigThreshold, valueBytes } from './records.ts';
import { createHash } from 'node:crypto';

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = kafkajs;

const xerialMagic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
function unsnappy(buf: Buffer): Buffer {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(xerialMagic)) return snappyUncompress(buf) as Buffer;
  const parts: Buffer[] = [];
  for (let pos = 16; pos < buf.length; ) {
    const n = buf.readUInt32BE(pos);
    parts.push(snappyUncompress(buf.subarray(pos + 4, pos + 4 + n)) as Buffer);
    pos += 4 + n;
  }
  return Buffer.concat(parts);
}

let codecsRegistered = false;
export function registerKafkajsCodecs(): void {
  if (codecsRegistered) return;
  codecsRegistered = true;
  const codecs = CompressionCodecs as unknown as Record<
    number,
    () => { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }
  >;
  codecs[CompressionTypes.Snappy] = () => ({
    async compress(e) {
      return snappyCompress(e.buffer);
    },
    async decompress(b) {
      return unsnappy(b);
    },
  });
  codecs[CompressionTypes.LZ4] = () => ({
    async compress(e) {
      return compressFrameSync(e.buffer);
    },
    async decompress(b) {
      return decompressFrameSync(b);
    },
  });
  codecs[CompressionTypes.ZSTD] = () => ({
    async compress(e) {
      return zlib.zstdCompressSync(e.buffer);
    },
    async decompress(b) {
      return zlib.zstdDecompressSync(b);
    },
  });
}

export const kafkajsCodec: Record<string, number> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

export function kafkajsClient(bootstrap: string, clientId = 'skafos-it'): KafkaType {
  registerKafkajsCodecs();
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
    connectionTimeout: 5000,
    requestTimeout: 30000,
  });
}

function headersObject(r: TestRecord): Record<string, string> {
  const h: Record<string, string> = {};
  for (const [k, v] of r.h ?? []) h[k] = v;
  return h;
}

/**
 * Sends records in chunks of `chunk` with kafkajs; each record's offset is its partition's base offset plus its
 * position among the chunk's records for that partition (kafkajs sends one batch per partition per send).
 */
export async function kafkajsProduce(
  kafka: KafkaType,
  topic: string,
  records: TestRecord[],
  opts: { codec?: string; acks?: number; chunk?: number } = {},
): Promise<Delivery[]> {
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 5 });
  await producer.connect();
  const deliveries: Delivery[] = [];
  try {
    const chunk = opts.chunk ?? 500;
    for (let s = 0; s < records.length; s += chunk) {
      const slice = records.slice(s, s + chunk);
      const messages: Message[] = slice.map((r) => ({
        key: r.k,
        value: valueBytes(r),
        headers: headersObject(r),
        partition: r.p,
        timestamp: r.ts !== undefined ? String(r.ts) : undefined,
      }));
      let meta: RecordMetadata[];
      try {
        meta = await producer.send({ topic, messages, acks: opts.acks ?? -1, compression: kafkajsCodec[opts.codec ?? 'none'] });
      } catch (e) {
        const err = e as Error & { type?: string };
        for (let i = 0; i < slice.length; i++) deliveries.push({ i: s + i, err: err.type ?? err.name, msg: err.message });
        continue;
      }
      const next = new Map<number, number>();
      for (const m of meta) next.set(m.partition, Number(m.baseOffset));
      slice.forEach((r, j) => {
        if (r.p === undefined) {
          deliveries.push({ i: s + j });
          return;
        }
        const o = next.get(r.p)!;
        next.set(r.p, o + 1);
        deliveries.push({ i: s + j, p: r.p, o });
      });
    }
  } finally {
    await producer.disconnect();
  }
  return deliveries;
}

function consumedFrom(
  p: number,
  o: number,
  key: Buffer | null,
  value: Buffer | null,
  headers: [string, string | null][],
  ts: number,
  tst: number,
): ConsumedRecord {
  const c: ConsumedRecord = { p, o, k: key === null ? null : key.toString('utf8'), h: headers, ts, tst };
  if (value !== null && value.length > bigThreshold) {
    c.vlen = value.length;
    c.vsha256 = createHash('sha256').update(value).digest('hex');
  } else c.v = value === null ? null : value.toString('utf8');
  return c;
}

/** Reads partitions from `from` to `until` (exclusive) with kafkajs' Broker.fetch. */
export async function kafkajsFetch(
  kafka: KafkaType,
  topic: string,
  ranges: Map<number, [number, number]>,
  timeoutMs = 30_000,
): Promise<ConsumedRecord[]> {
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster')!;
  const cluster = (kafka as any)[createCluster]({ allowAutoTopicCreation: false });
  await cluster.connect();
  const out: ConsumedRecord[] = [];
  try {
    await cluster.addTargetTopic(topic);
    const meta = cluster.findTopicPartitionMetadata(topic) as { partitionId: number; leader: number }[];
    const deadline = Date.now() + timeoutMs;
    const next = new Map<number, number>();
    for (const [p, [from]] of ranges) next.set(p, from);
    while ([...ranges].some(([p, [, until]]) => next.get(p)! < until)) {
      if (Date.now() > deadline)
        throw new Error(`kafkajs fetch of ${topic} incomplete after ${timeoutMs} ms: ${JSON.stringify([...next])}`);
      // Each partition from its leader (brokers of a cluster lead different partitions).
      const leaders = new Set([...ranges.keys()].map((p) => meta.find((m) => m.partitionId === p)!.leader));
      const responses = [];
      for (const leader of leaders) {
        const broker = await cluster.findBroker({ nodeId: leader });
        const partitions = [...ranges]
          .filter(([p, [, until]]) => next.get(p)! < until && meta.find((m) => m.partitionId === p)!.leader === leader)
          .map(([p]) => ({ partition: p, fetchOffset: String(next.get(p)), maxBytes: 1024 * 1024 }));
        if (partitions.length === 0) continue;
        const res = await broker.fetch({
          maxWaitTime: 200,
          minBytes: 1,
          maxBytes: 10 * 1024 * 1024,
          isolationLevel: 0,
          topics: [{ topic, partitions }],
        });
        responses.push(...res.responses);
      }
      for (const tr of responses) {
        for (const pr of tr.partitions) {
          if (pr.errorCode !== 0) throw new Error(`kafkajs fetch ${topic}/${pr.partition}: error ${pr.errorCode}`);
          const until = ranges.get(pr.partition)![1];
          for (const m of pr.messages) {
            const o = Number(m.offset);
            if (o < next.get(pr.partition)! || o >= until) continue;
            const headers: [string, string | null][] = Object.entries(m.headers ?? {}).map(([k, v]) => [
              k,
              v === null || v === undefined ? null : Buffer.from(v as Buffer).toString('utf8'),
            ]);
            out.push(
              consumedFrom(
                pr.partition,
                o,
                m.key ?? null,
                m.value ?? null,
                headers,
                Number(m.timestamp),
                m.batchContext?.timestampType ?? (m.attributes & 8 ? 1 : 0),
              ),
            );
            next.set(pr.partition, o + 1);
          }
        }
      }
    }
  } finally {
    await cluster.disconnect();
  }
  return out;
}

// ---- @platformatic/kafka

export function platformaticProducer(bootstrap: string, opts: { codec?: string; acks?: number } = {}) {
  return new PlatformaticProducer({
    clientId: 'skafos-it-platformatic',
    bootstrapBrokers: [bootstrap],
    idempotent: false,
    retries: 3,
    retryDelay: 100,
    acks: opts.acks ?? -1,
    compression: (opts.codec ?? 'none') as any,
    autocreateTopics: false,
    timeout: 30000,
  });
}

/** Sends records in chunks with @platformatic/kafka; offsets as for kafkajs (one batch per partition per send). */
export async function platformaticProduce(
  bootstrap: string,
  topic: string,
  records: TestRecord[],
  opts: { codec?: string; acks?: number; chunk?: number } = {},
): Promise<Delivery[]> {
  const producer = platformaticProducer(bootstrap, opts);
  const deliveries: Delivery[] = [];
  try {
    const chunk = opts.chunk ?? 500;
    for (let s = 0; s < records.length; s += chunk) {
      const slice = records.slice(s, s + chunk);
      let result;
      try {
        result = await producer.send({
          messages: slice.map((r) => ({
            topic,
            partition: r.p,
            key: r.k === null ? undefined : Buffer.from(r.k),
            value: valueBytes(r) ?? undefined,
            headers: new Map((r.h ?? []).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
            timestamp: r.ts !== undefined ? BigInt(r.ts) : undefined,
          })),
        });
      } catch (e) {
        const err = e as Error & { errors?: { apiId?: string }[]; apiId?: string };
        const code = findApiId(err) ?? err.name;
        for (let i = 0; i < slice.length; i++) deliveries.push({ i: s + i, err: code, msg: err.message });
        continue;
      }
      const next = new Map<number, number>();
      for (const o of result.offsets ?? []) next.set(o.partition, Number(o.offset));
      slice.forEach((r, j) => {
        if (r.p === undefined) return deliveries.push({ i: s + j });
        const o = next.get(r.p)!;
        next.set(r.p, o + 1);
        deliveries.push({ i: s + j, p: r.p, o });
      });
    }
  } finally {
    await producer.close();
  }
  return deliveries;
}

/** The first Kafka error name (apiId) in a @platformatic/kafka error tree. */
export function findApiId(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (e: any): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    if (typeof e.apiId === 'string') return e.apiId;
    for (const c of [...(Array.isArray(e.errors) ? e.errors : []), e.cause]) {
      const r = walk(c);
      if (r) return r;
    }
    return undefined;
  };
  return walk(err);
}

/** Reads partitions from `from` to `until` (exclusive) with @platformatic/kafka's Consumer.fetch. */
export async function platformaticFetch(
  bootstrap: string,
  topic: string,
  ranges: Map<number, [number, number]>,
  timeoutMs = 30_000,
): Promise<ConsumedRecord[]> {
  const consumer = new PlatformaticConsumer({
    clientId: 'skafos-it-platformatic',
    groupId: 'skafos-it-unused',
    bootstrapBrokers: [bootstrap],
    retries: 3,
    retryDelay: 100,
    maxWaitTime: 200,
    timeout: 30000,
  });
  const out: ConsumedRecord[] = [];
  try {
    consumer.topics.trackAll(topic);
    const md = await consumer.metadata({ topics: [topic] });
    const tm = md.topics.get(topic)!;
    const next = new Map<number, number>();
    for (const [p, [from]] of ranges) next.set(p, from);
    const deadline = Date.now() + timeoutMs;
    while ([...ranges].some(([p, [, until]]) => next.get(p)! < until)) {
      if (Date.now() > deadline)
        throw new Error(`platformatic fetch of ${topic} incomplete after ${timeoutMs} ms: ${JSON.stringify([...next])}`);
      const partitions = [...ranges]
        .filter(([p, [, until]]) => next.get(p)! < until)
        .map(([p]) => ({
          partition: p,
          fetchOffset: BigInt(next.get(p)!),
          partitionMaxBytes: 1024 * 1024,
          currentLeaderEpoch: -1,
          lastFetchedEpoch: -1,
        }));
      const leader = tm.partitions[partitions[0]!.partition]!.leader;
      const res = await consumer.fetch({
        node: leader,
        topics: [{ topicId: tm.id, partitions }],
        isolationLevel: 'READ_UNCOMMITTED' as any,
      });
      for (const tr of res.responses) {
        for (const pr of tr.partitions) {
          if (pr.errorCode !== 0) throw new Error(`platformatic fetch ${topic}/${pr.partitionIndex}: error ${pr.errorCode}`);
          const until = ranges.get(pr.partitionIndex)![1];
          for (const batch of pr.records ?? []) {
            const logAppend = (batch.attributes & 8) !== 0;
            for (const r of batch.records) {
              const o = Number(batch.firstOffset) + r.offsetDelta;
              if (o < next.get(pr.partitionIndex)! || o >= until) continue;
              const ts = logAppend ? Number(batch.maxTimestamp) : Number(batch.firstTimestamp + r.timestampDelta);
              const headers: [string, string | null][] = r.headers.map(([k, v]) => [
                k?.toString('utf8') ?? '',
                v === null ? null : v.toString('utf8'),
              ]);
              out.push(consumedFrom(pr.partitionIndex, o, r.key, r.value, headers, ts, logAppend ? 1 : 0));
              next.set(pr.partitionIndex, o + 1);
            }
          }
        }
      }
    }
  } finally {
    await consumer.close(true);
  }
  return out;
}
