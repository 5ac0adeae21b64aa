import t from 'tap';
import {
  assignOffsets,
  BatchHeaderView,
  buildRecordBatch,
  CompressionCodec,
  isBatchCrcValid,
  openBatchRecords,
  RecordCursor,
  RecordsSummary,
  setBaseOffset,
  setLogAppendTime,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  TimestampType,
  validateRecords,
} from '../../../../broker/protocol/records/index.ts';
import type { CompressionCodecId, RecordInput, ValidateLimits } from '../../../../broker/protocol/records/index.ts';
import { mixedRecords, prng, randomBytes } from './helpers.ts';

const CODECS: Array<[string, CompressionCodecId]> = [
  ['none', CompressionCodec.NONE],
  ['gzip', CompressionCodec.GZIP],
  ['snappy', CompressionCodec.SNAPPY],
  ['lz4', CompressionCodec.LZ4],
  ['zstd', CompressionCodec.ZSTD],
];

const LIMITS: ValidateLimits = { maxBatchBytes: 8 * 1024 * 1024, maxBatchCount: 1, maxRecordsPerBatch: 100_000 };
const MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024;

interface DecodedRecord {
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<[Buffer, Buffer | null]>;
}

function decodeBatch(batch: Buffer, position = 0): DecodedRecord[] {
  const cursor = new RecordCursor();
  openBatchRecords(batch, position, cursor, { maxDecompressedBytes: MAX_DECOMPRESSED_BYTES });
  const decoded: DecodedRecord[] = [];
  while (cursor.next()) {
    const headers: Array<[Buffer, Buffer | null]> = [];
    const headerCursor = cursor.headers();
    while (headerCursor.next())
      headers.push([Buffer.from(headerCursor.key()), headerCursor.value() === null ? null : Buffer.from(headerCursor.value()!)]);
    decoded.push({
      offset: cursor.offset,
      timestampMs: cursor.timestampMs,
      key: cursor.key() === null ? null : Buffer.from(cursor.key()!),
      value: cursor.value() === null ? null : Buffer.from(cursor.value()!),
      headers,
    });
  }
  return decoded;
}

function expectedRecords(records: RecordInput[], baseOffset = 0): DecodedRecord[] {
  return records.map((record, index) => ({
    offset: baseOffset + index,
    timestampMs: record.timestampMs,
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers: (record.headers ?? []).map((header) => [
      typeof header.key === 'string' ? Buffer.from(header.key, 'utf8') : Buffer.from(header.key),
      header.value === null ? null : Buffer.from(header.value),
    ]),
  }));
}

for (const [name, codec] of CODECS) {
  t.test(`${name}: build → validate → iterate`, async (t) => {
    t.test('null and empty keys and values, headers, unicode', async (t) => {
      const records = mixedRecords();
      const batch = buildRecordBatch(records, { compression: codec, producerId: 42, producerEpoch: 3, baseSequence: 100 });
      const summary = validateRecords(batch, LIMITS);
      t.equal(summary.batchCount, 1);
      t.equal(summary.recordCount, records.length);
      t.equal(summary.totalBytes, batch.length);
      t.equal(summary.compression, codec);
      t.equal(summary.producerId, 42);
      t.equal(summary.producerEpoch, 3);
      t.equal(summary.baseSequence, 100);
      t.equal(summary.lastSequence, 100 + records.length - 1);
      t.equal(summary.firstTimestampMs, records[0]!.timestampMs);
      t.equal(summary.maxTimestampMs, Math.max(...records.map((record) => record.timestampMs)));
      t.equal(summary.lastTimestampMs, summary.maxTimestampMs);
      t.equal(summary.transactional, false);
      t.equal(summary.control, false);
      t.equal(summary.logAppendTime, false);
      t.same(decodeBatch(batch), expectedRecords(records));
    });

    t.test('10,000 tiny records', async (t) => {
      const records: RecordInput[] = [];
      for (let index = 0; index < 10_000; index++) {
        records.push({
          key: index % 3 === 0 ? null : Buffer.from([index & 0xff]),
          value: Buffer.from(String(index)),
          timestampMs: 1_700_000_000_000 + (index % 17),
        });
      }
      const batch = buildRecordBatch(records, {
        compression: codec,
        transactional: true,
        producerId: 7,
        producerEpoch: 0,
        baseSequence: 0,
      });
      const summary = validateRecords(batch, LIMITS);
      t.equal(summary.recordCount, 10_000);
      t.equal(summary.transactional, true);
      t.equal(summary.lastSequence, 9_999);
      const decoded = decodeBatch(batch);
      t.equal(decoded.length, 10_000);
      t.same(decoded, expectedRecords(records));
    });

    t.test('a ~1 MiB record', async (t) => {
      const random = prng(codec + 1);
      const bigValue = randomBytes(random, 1024 * 1024 - 100);
      const records: RecordInput[] = [
        { key: Buffer.from('big'), value: bigValue, headers: [{ key: 'h', value: Buffer.from('x') }], timestampMs: 5 },
        { key: null, value: Buffer.alloc(300_000, 0x61), timestampMs: 6 },
      ];
      const batch = buildRecordBatch(records, { compression: codec });
      t.equal(validateRecords(batch, LIMITS).recordCount, 2);
      const decoded = decodeBatch(batch);
      t.ok(decoded[0]!.value!.equals(bigValue));
      t.same(decoded, expectedRecords(records));
    });
  });
}

t.test('uncompressed keys and values are views into the batch buffer', async (t) => {
  const batch = buildRecordBatch([
    { key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'a', value: Buffer.from('b') }], timestampMs: 1 },
  ]);
  const cursor = new RecordCursor();
  openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1024 });
  t.ok(cursor.next());
  t.equal(cursor.key()!.buffer, batch.buffer);
  t.equal(cursor.value()!.buffer, batch.buffer);
  t.equal(cursor.keyPosition, cursor.key()!.byteOffset - batch.byteOffset);
  const headers = cursor.headers();
  t.ok(headers.next());
  t.equal(headers.value()!.buffer, batch.buffer);
  t.equal(headers.keyString(), 'a');
  t.notOk(headers.next());
  t.notOk(cursor.next());
  t.notOk(cursor.next(), 'stays done');
});

t.test('one cursor reused across batches of different codecs', async (t) => {
  const cursor = new RecordCursor();
  for (const [, codec] of CODECS) {
    const records = mixedRecords();
    const batch = buildRecordBatch(records, { compression: codec, baseOffset: 1000 });
    openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1 << 20 });
    let count = 0;
    while (cursor.next()) {
      t.equal(cursor.offset, 1000 + count);
      t.equal(cursor.index, count);
      count++;
    }
    t.equal(count, records.length);
  }
});

t.test('several batches in one buffer: validation limits and iteration by header view', async (t) => {
  const batches = CODECS.map(([, codec], index) =>
    buildRecordBatch(
      [
        { key: null, value: Buffer.from(`batch ${index}`), timestampMs: 100 + index },
        { key: null, value: Buffer.from('second'), timestampMs: 200 + index },
      ],
      { compression: codec },
    ),
  );
  const records = Buffer.concat(batches);
  const summary = new RecordsSummary();
  t.equal(validateRecords(records, { ...LIMITS, maxBatchCount: 5 }, summary), summary, 'fills the given summary');
  t.equal(summary.batchCount, 5);
  t.equal(summary.recordCount, 10);
  t.equal(summary.firstTimestampMs, 100);
  t.equal(summary.lastTimestampMs, 204);
  t.equal(summary.maxTimestampMs, 204);
  t.equal(summary.compression, CompressionCodec.ZSTD, 'last compressed codec');

  const nextOffset = assignOffsets(records, 500, 9);
  t.equal(nextOffset, 510);
  const view = new BatchHeaderView();
  const cursor = new RecordCursor();
  let expectedOffset = 500;
  let batchIndex = 0;
  for (let position = 0; position < records.length; position = view.end) {
    view.reset(records, position);
    t.equal(view.baseOffset, expectedOffset);
    t.equal(view.partitionLeaderEpoch, 9);
    t.equal(view.lastOffset, expectedOffset + 1);
    t.ok(isBatchCrcValid(records, position, view.end), 'offsets and epoch are outside the CRC');
    openBatchRecords(records, position, cursor, { maxDecompressedBytes: 1024 }, view);
    t.ok(cursor.next());
    t.equal(cursor.value()!.toString(), `batch ${batchIndex}`);
    t.equal(cursor.offset, expectedOffset);
    t.ok(cursor.next());
    t.notOk(cursor.next());
    expectedOffset += 2;
    batchIndex++;
  }
  t.equal(batchIndex, 5);
});

t.test('header view exposes every field', async (t) => {
  const batch = buildRecordBatch(mixedRecords(), {
    compression: CompressionCodec.LZ4,
    baseOffset: 2 ** 40,
    partitionLeaderEpoch: 17,
    producerId: 2 ** 35,
    producerEpoch: 12,
    baseSequence: 2147483646,
    transactional: true,
  });
  const view = new BatchHeaderView().reset(batch, 0);
  t.equal(view.baseOffset, 2 ** 40);
  t.equal(view.batchLength, batch.length - 12);
  t.equal(view.batchBytes, batch.length);
  t.equal(view.end, batch.length);
  t.equal(view.partitionLeaderEpoch, 17);
  t.equal(view.magic, 2);
  t.equal(view.compression, CompressionCodec.LZ4);
  t.equal(view.timestampType, TimestampType.CREATE_TIME);
  t.equal(view.isTransactional, true);
  t.equal(view.isControl, false);
  t.equal(view.hasDeleteHorizon, false);
  t.equal(view.lastOffsetDelta, 5);
  t.equal(view.recordCount, 6);
  t.equal(view.baseTimestampMs, 1_700_000_000_000);
  t.equal(view.maxTimestampMs, 1_700_000_100_000);
  t.equal(view.producerId, 2 ** 35);
  t.equal(view.producerEpoch, 12);
  t.equal(view.baseSequence, 2147483646);
  t.equal(view.lastSequence, 3, 'sequences 2147483646, 2147483647, 0, 1, 2, 3');
  t.equal(view.attributes, CompressionCodec.LZ4 | 0x10);
});

t.test('in-place patchers', async (t) => {
  t.test('baseOffset and partitionLeaderEpoch keep the CRC valid', async (t) => {
    const batch = buildRecordBatch(mixedRecords(), { compression: CompressionCodec.GZIP });
    const crcBefore = batch.readUInt32BE(17);
    setBaseOffset(batch, 0, 123_456_789_012);
    setPartitionLeaderEpoch(batch, 0, 77);
    t.equal(batch.readUInt32BE(17), crcBefore);
    t.ok(isBatchCrcValid(batch, 0, batch.length));
    const view = new BatchHeaderView().reset(batch, 0);
    t.equal(view.baseOffset, 123_456_789_012);
    t.equal(view.partitionLeaderEpoch, 77);
    t.equal(decodeBatch(batch)[2]!.offset, 123_456_789_014);
    t.throws(() => setBaseOffset(batch, 0, -1), RangeError);
    t.throws(() => setBaseOffset(batch, batch.length - 10, 0), RangeError);
  });

  for (const [name, codec] of CODECS) {
    t.test(`${name}: LogAppendTime sets the type bit and maxTimestamp and keeps the CRC valid`, async (t) => {
      const records = mixedRecords();
      const batch = buildRecordBatch(records, { compression: codec });
      const appendTimeMs = 1_800_000_000_123;
      t.equal(setLogAppendTime(batch, 0, appendTimeMs), true);
      t.ok(isBatchCrcValid(batch, 0, batch.length), 'CRC recomputed');
      const view = new BatchHeaderView().reset(batch, 0);
      t.equal(view.timestampType, TimestampType.LOG_APPEND_TIME);
      t.equal(view.maxTimestampMs, appendTimeMs);
      t.equal(view.baseTimestampMs, records[0]!.timestampMs, 'baseTimestamp untouched');
      const summary = validateRecords(batch, LIMITS);
      t.equal(summary.logAppendTime, true);
      t.equal(summary.maxTimestampMs, appendTimeMs);
      for (const record of decodeBatch(batch)) t.equal(record.timestampMs, appendTimeMs, 'every record reads the append time');
      t.equal(setLogAppendTime(batch, 0, appendTimeMs), false, 'no change, no CRC work');
      t.equal(setMaxTimestamp(batch, 0, TimestampType.CREATE_TIME, 1_700_000_100_000), true, 'back to CreateTime');
      t.ok(isBatchCrcValid(batch, 0, batch.length));
      t.same(decodeBatch(batch), expectedRecords(records));
    });
  }

  t.test('builder can produce LogAppendTime batches directly', async (t) => {
    const batch = buildRecordBatch([{ key: null, value: Buffer.from('x'), timestampMs: 1 }], { logAppendTimeMs: 99 });
    const view = new BatchHeaderView().reset(batch, 0);
    t.equal(view.timestampType, TimestampType.LOG_APPEND_TIME);
    t.equal(view.maxTimestampMs, 99);
    t.equal(decodeBatch(batch)[0]!.timestampMs, 99);
  });
});

t.test('builder rejects invalid input', async (t) => {
  t.throws(() => buildRecordBatch([]), RangeError);
  t.throws(() => buildRecordBatch([{ key: null, value: null, timestampMs: 1.5 }]), RangeError);
  t.throws(() => buildRecordBatch([{ key: null, value: null, timestampMs: 1 }], { compression: 5 as CompressionCodecId }), RangeError);
  t.throws(() => buildRecordBatch([{ key: null, value: null, timestampMs: 1 }], { producerEpoch: 40_000 }), RangeError);
  t.throws(() => buildRecordBatch([{ key: null, value: null, timestampMs: 1 }], { baseOffset: -5 }), RangeError);
});

t.test('timestamps far apart and negative timestamps round-trip', async (t) => {
  const records: RecordInput[] = [
    { key: null, value: null, timestampMs: -1 },
    { key: null, value: null, timestampMs: 253_402_300_799_999 },
    { key: null, value: null, timestampMs: -62_135_596_800_000 },
    { key: null, value: null, timestampMs: 2 ** 30 },
    { key: null, value: null, timestampMs: -(2 ** 30) },
  ];
  const batch = buildRecordBatch(records);
  t.same(
    decodeBatch(batch).map((record) => record.timestampMs),
    records.map((record) => record.timestampMs),
  );
});
