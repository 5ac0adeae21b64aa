// Interoperability with the record-batch encoders and decoders of kafkajs and @platformatic/kafka.
//
// kafkajs ships only gzip; snappy, lz4 and zstd come from plugins (kafkajs-snappy, kafkajs-lz4,
// @kafkajs/zstd) that are not installed here. They are registered below with implementations
// independent of ours (@platformatic/wasm-utils for snappy and lz4, node:zlib for zstd), the way a
// kafkajs user registers a plugin, so kafkajs's batch framing is exercised for every codec.
import t from 'tap';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { lz4Compress, lz4Decompress, snappyCompress } from '@platformatic/wasm-utils';
import { compressionsAlgorithms, createRecordsBatch, readRecordsBatch, Reader } from '@platformatic/kafka';
import type { MessageRecord } from '@platformatic/kafka';
import {
  BatchHeaderView,
  buildRecordBatch,
  CompressionCodec,
  openBatchRecords,
  RecordCursor,
  validateRecords,
} from '../../../../broker/protocol/records/index.ts';
import type { CompressionCodecId, RecordInput, ValidateLimits } from '../../../../broker/protocol/records/index.ts';
import { mixedRecords } from './helpers.ts';

const require = createRequire(import.meta.url);
/* eslint-disable @typescript-eslint/no-explicit-any */
const kafkajsRecordBatch: { RecordBatch: (options: any) => Promise<{ buffer: Buffer }> } = require('kafkajs/src/protocol/recordBatch/v0');
const kafkajsRecord: (options: any) => unknown = require('kafkajs/src/protocol/recordBatch/record/v0');
const kafkajsDecodeBatch: (decoder: unknown) => Promise<any> = require('kafkajs/src/protocol/recordBatch/v0/decoder');
const KafkajsDecoder: new (buffer: Buffer) => unknown = require('kafkajs/src/protocol/decoder');
const KafkajsLong: { fromNumber(value: number): unknown } = require('kafkajs/src/utils/long');
const kafkajsCompression: { Codecs: Record<number, () => unknown> } = require('kafkajs/src/protocol/message/compression');

kafkajsCompression.Codecs[CompressionCodec.SNAPPY] = () => ({
  compress: async (encoder: { buffer: Buffer }) => Buffer.from(snappyCompress(encoder.buffer)),
  // platformatic's decoder understands both raw and xerial-framed snappy, like kafkajs-snappy.
  decompress: async (buffer: Buffer) => compressionsAlgorithms.snappy.decompressSync(buffer),
});
kafkajsCompression.Codecs[CompressionCodec.LZ4] = () => ({
  compress: async (encoder: { buffer: Buffer }) => Buffer.from(lz4Compress(encoder.buffer)),
  decompress: async (buffer: Buffer) => Buffer.from(lz4Decompress(buffer)),
});
kafkajsCompression.Codecs[CompressionCodec.ZSTD] = () => ({
  compress: async (encoder: { buffer: Buffer }) => zlib.zstdCompressSync(encoder.buffer),
  decompress: async (buffer: Buffer) => zlib.zstdDecompressSync(buffer),
});

const CODECS: Array<[string, CompressionCodecId]> = [
  ['none', CompressionCodec.NONE],
  ['gzip', CompressionCodec.GZIP],
  ['snappy', CompressionCodec.SNAPPY],
  ['lz4', CompressionCodec.LZ4],
  ['zstd', CompressionCodec.ZSTD],
];
const LIMITS: ValidateLimits = { maxBatchBytes: 1024 * 1024, maxBatchCount: 1, maxRecordsPerBatch: 10_000 };

/** Records kafkajs can express: string header keys, no null header values. */
function portableRecords(): RecordInput[] {
  return mixedRecords().map((record) => ({
    ...record,
    headers: record.headers?.filter((header) => typeof header.key === 'string' && header.value !== null),
  }));
}

interface Plain {
  offset: number;
  timestampMs: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string]>;
}

function plainFromOurs(batch: Buffer): Plain[] {
  const cursor = new RecordCursor();
  openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1 << 20 });
  const records: Plain[] = [];
  while (cursor.next()) {
    const headers: Array<[string, string]> = [];
    const headerCursor = cursor.headers();
    while (headerCursor.next()) headers.push([headerCursor.keyString(), headerCursor.value()!.toString('hex')]);
    records.push({
      offset: cursor.offset,
      timestampMs: cursor.timestampMs,
      key: cursor.key()?.toString('hex') ?? null,
      value: cursor.value()?.toString('hex') ?? null,
      headers,
    });
  }
  return records;
}

function plainFromInput(records: RecordInput[]): Plain[] {
  return records.map((record, index) => ({
    offset: index,
    timestampMs: record.timestampMs,
    key: record.key === null ? null : Buffer.from(record.key).toString('hex'),
    value: record.value === null ? null : Buffer.from(record.value).toString('hex'),
    headers: (record.headers ?? []).map((header) => [String(header.key), Buffer.from(header.value!).toString('hex')]),
  }));
}

async function kafkajsEncode(records: RecordInput[], codec: CompressionCodecId, producerId = -1): Promise<Buffer> {
  const firstTimestamp = records[0]!.timestampMs;
  const encoded = await kafkajsRecordBatch.RecordBatch({
    compression: codec,
    firstTimestamp,
    maxTimestamp: Math.max(...records.map((record) => record.timestampMs)),
    lastOffsetDelta: records.length - 1,
    producerId: KafkajsLong.fromNumber(producerId),
    producerEpoch: producerId >= 0 ? 2 : 0,
    firstSequence: producerId >= 0 ? 40 : 0,
    transactional: producerId >= 0,
    records: records.map((record, index) =>
      kafkajsRecord({
        offsetDelta: index,
        timestampDelta: record.timestampMs - firstTimestamp,
        key: record.key === null ? null : Buffer.from(record.key),
        value: record.value === null ? null : Buffer.from(record.value),
        headers: Object.fromEntries(
          (record.headers ?? []).reduce<Map<string, Buffer[]>>((map, header) => {
            const list = map.get(String(header.key)) ?? [];
            list.push(Buffer.from(header.value!));
            return map.set(String(header.key), list);
          }, new Map()),
        ),
      }),
    ),
  });
  return encoded.buffer;
}

for (const [name, codec] of CODECS) {
  t.test(`kafkajs ${name}`, async (t) => {
    const records = portableRecords();
    t.test('kafkajs encodes, we validate and iterate', async (t) => {
      const batch = await kafkajsEncode(records, codec, 12);
      const summary = validateRecords(batch, LIMITS);
      t.equal(summary.recordCount, records.length);
      t.equal(summary.compression, codec);
      t.equal(summary.producerId, 12);
      t.equal(summary.baseSequence, 40);
      t.equal(summary.transactional, true);
      const ours = plainFromOurs(batch);
      // kafkajs groups repeated header keys; compare headers as sorted multisets.
      const sortHeaders = (list: Plain[]) => list.map((record) => ({ ...record, headers: [...record.headers].sort() }));
      t.same(sortHeaders(ours), sortHeaders(plainFromInput(records)));
    });

    t.test('we encode, kafkajs decodes', async (t) => {
      const batch = buildRecordBatch(records, {
        compression: codec,
        baseOffset: 300,
        producerId: 8,
        producerEpoch: 1,
        baseSequence: 5,
        partitionLeaderEpoch: 3,
      });
      const decoded = await kafkajsDecodeBatch(new KafkajsDecoder(batch));
      t.equal(decoded.firstOffset, '300');
      t.equal(decoded.producerId, '8');
      t.equal(decoded.partitionLeaderEpoch, 3);
      t.equal(decoded.records.length, records.length);
      decoded.records.forEach((record: any, index: number) => {
        const input = records[index]!;
        t.equal(record.offset, String(300 + index));
        t.equal(record.timestamp, String(input.timestampMs));
        t.same(record.key === null ? null : Buffer.from(record.key), input.key === null ? null : Buffer.from(input.key));
        t.same(record.value === null ? null : Buffer.from(record.value), input.value === null ? null : Buffer.from(input.value));
        for (const header of input.headers ?? []) t.ok(String(header.key) in record.headers, `header ${String(header.key)}`);
      });
    });
  });
}

function platformaticMessages(records: RecordInput[]): MessageRecord[] {
  return records.map((record) => ({
    topic: 'interop',
    partition: 0,
    key: record.key === null ? undefined : Buffer.from(record.key),
    value: record.value === null ? (undefined as unknown as Buffer) : Buffer.from(record.value),
    timestamp: BigInt(record.timestampMs),
    headers: new Map((record.headers ?? []).map((header) => [Buffer.from(String(header.key)), Buffer.from(header.value!)])),
  }));
}

const PLATFORMATIC_CODECS = { 0: 'none', 1: 'gzip', 2: 'snappy', 3: 'lz4', 4: 'zstd' } as const;

for (const [name, codec] of CODECS) {
  t.test(`@platformatic/kafka ${name}`, async (t) => {
    // platformatic writes headers through a Map: keep header keys unique. Its varint64 writer also
    // mis-encodes negative deltas below -2^31 (a record at timestamp 0 after one at 1.7e12 reads back
    // as +1.7e12 even with platformatic's own reader), so keep timestamps within that range.
    const records = portableRecords().map((record) => ({
      ...record,
      timestampMs: Math.max(record.timestampMs, 1_699_000_000_000),
      headers: record.headers?.filter((header, index, all) => all.findIndex((other) => other.key === header.key) === index),
    }));
    t.test('platformatic encodes, we validate and iterate', async (t) => {
      const batch = createRecordsBatch(platformaticMessages(records), {
        compression: PLATFORMATIC_CODECS[codec],
        producerId: 21n,
        producerEpoch: 4,
        partitionLeaderEpoch: 2,
      }).buffer;
      const summary = validateRecords(batch, LIMITS);
      t.equal(summary.recordCount, records.length);
      t.equal(summary.compression, codec);
      t.equal(summary.producerId, 21);
      t.equal(summary.producerEpoch, 4);
      t.equal(new BatchHeaderView().reset(batch, 0).partitionLeaderEpoch, 2);
      // platformatic writes an absent key/value as null.
      t.same(plainFromOurs(batch), plainFromInput(records));
    });

    t.test('we encode, platformatic decodes', async (t) => {
      const batch = buildRecordBatch(records, { compression: codec, baseOffset: 9, producerId: 77, producerEpoch: 5, baseSequence: 1 });
      const decoded = readRecordsBatch(Reader.from(batch));
      t.equal(decoded.firstOffset, 9n);
      t.equal(decoded.producerId, 77n);
      t.equal(decoded.firstSequence, 1);
      t.equal(decoded.records.length, records.length);
      decoded.records.forEach((record, index) => {
        const input = records[index]!;
        t.equal(decoded.firstTimestamp + record.timestampDelta, BigInt(input.timestampMs));
        t.equal(record.offsetDelta, index);
        t.same(record.key === null ? null : Buffer.from(record.key), input.key === null ? null : Buffer.from(input.key));
        t.same(record.value === null ? null : Buffer.from(record.value), input.value === null ? null : Buffer.from(input.value));
        t.same(
          record.headers.map(([key, value]) => [key!.toString(), value!.toString('hex')]),
          (input.headers ?? []).map((header) => [String(header.key), Buffer.from(header.value!).toString('hex')]),
        );
      });
    });
  });
}

t.test('10,000 records from each library iterate with one cursor', async (t) => {
  const records: RecordInput[] = Array.from({ length: 10_000 }, (_, index) => ({
    key: null,
    value: Buffer.from(`v${index}`),
    timestampMs: 1_700_000_000_000 + index,
  }));
  const fromKafkajs = await kafkajsEncode(records, CompressionCodec.LZ4);
  const fromPlatformatic = createRecordsBatch(platformaticMessages(records), { compression: 'zstd' }).buffer;
  const cursor = new RecordCursor();
  for (const batch of [fromKafkajs, fromPlatformatic]) {
    t.equal(validateRecords(batch, LIMITS).recordCount, 10_000);
    openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1 << 20 });
    let count = 0;
    while (cursor.next()) {
      if (cursor.value()!.toString() !== `v${count}` || cursor.timestampMs !== 1_700_000_000_000 + count) break;
      count++;
    }
    t.equal(count, 10_000);
  }
});
