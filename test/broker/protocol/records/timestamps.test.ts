// validateRecordTimestamps: every record's timestamp is checked against message.timestamp.before/after.max.ms
// (Kafka's LogValidator), failing records are listed by index, and a CreateTime batch's maxTimestamp is set
// from its records when the header's is missing (-1, Sarama 1.22) or wrong, with a valid CRC after.
import t from 'tap';
import { ErrorCode } from '../../../../broker/protocol/errors.ts';
import {
  BatchHeaderView,
  buildRecordBatch,
  CompressionCodec,
  compressRecords,
  isBatchCrcValid,
  NO_TIMESTAMP,
  openBatchRecords,
  RecordCursor,
  RecordsErrorReason,
  validateRecords,
  validateRecordTimestamps,
  writeBatchCrc,
  writeInt64,
} from '../../../../broker/protocol/records/index.ts';
import type { BuildBatchOptions, CompressionCodecId, RecordInput, TimestampLimits } from '../../../../broker/protocol/records/index.ts';
import { catchRecordsError } from './helpers.ts';

const NOW = 1_750_000_000_000;
const HOUR = 3_600_000;
const LIMITS: TimestampLimits = {
  nowMs: NOW,
  logAppendTime: false,
  beforeMaxMs: Number.MAX_SAFE_INTEGER,
  afterMaxMs: HOUR,
  maxDecompressedBytes: 1024 * 1024,
  maxRecordErrors: 1000,
};
const CODECS = [
  CompressionCodec.NONE,
  CompressionCodec.GZIP,
  CompressionCodec.SNAPPY,
  CompressionCodec.LZ4,
  CompressionCodec.ZSTD,
] as const;

function recordsAt(timestamps: readonly number[]): RecordInput[] {
  return timestamps.map((timestampMs, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`value-${i}`), timestampMs }));
}

function batch(timestamps: readonly number[], options: BuildBatchOptions = {}): Buffer {
  return buildRecordBatch(recordsAt(timestamps), options);
}

/** validateRecords then validateRecordTimestamps, as the produce path runs them. */
function check(records: Buffer, limits: Partial<TimestampLimits> = {}) {
  const summary = validateRecords(records, { maxBatchBytes: 1 << 24, maxBatchCount: 4, maxRecordsPerBatch: 1 << 20 });
  const errors = validateRecordTimestamps(records, { ...LIMITS, ...limits }, summary);
  return { summary, errors };
}

function headerOf(records: Buffer, position = 0): BatchHeaderView {
  return new BatchHeaderView().reset(records, position);
}

/** Every record's timestamp, read back the way a consumer would (decompressing when needed). */
function recordTimestamps(records: Buffer): number[] {
  const out: number[] = [];
  const cursor = openBatchRecords(records, 0, new RecordCursor(), { maxDecompressedBytes: 1 << 24 });
  while (cursor.next()) out.push(cursor.timestampMs);
  return out;
}

t.test('a batch sent with maxTimestamp -1 gets the largest record timestamp, for every codec', async (t) => {
  const timestamps = [NOW - 5000, NOW - 1000, NOW - 3000];
  for (const compression of CODECS) {
    const records = batch(timestamps, { compression, maxTimestampMs: NO_TIMESTAMP });
    t.equal(headerOf(records).maxTimestampMs, NO_TIMESTAMP, `codec ${compression}: the builder wrote -1`);
    const { summary, errors } = check(records);
    t.equal(errors, null, `codec ${compression}: every record is in range`);
    t.equal(headerOf(records).maxTimestampMs, NOW - 1000, `codec ${compression}: header corrected`);
    t.equal(headerOf(records).timestampType, 0, 'still CreateTime');
    t.ok(isBatchCrcValid(records, 0, records.length), `codec ${compression}: CRC rewritten`);
    t.equal(summary.maxTimestampMs, NOW - 1000, 'summary.maxTimestampMs follows');
    t.equal(summary.lastTimestampMs, NOW - 1000, 'summary.lastTimestampMs follows');
    t.same(recordTimestamps(records), timestamps, 'record timestamps untouched');
  }
});

t.test('a header maxTimestamp inconsistent with the records is corrected either way', async (t) => {
  const timestamps = [NOW - 10_000, NOW - 20_000, NOW - 2000, NOW - 15_000];
  for (const wrong of [NOW - 30_000, NOW - 10_000, NOW + 10 * HOUR]) {
    const records = batch(timestamps, { maxTimestampMs: wrong });
    t.equal(check(records).errors, null, `header ${wrong - NOW}: records in range (the header's value is not checked)`);
    t.equal(headerOf(records).maxTimestampMs, NOW - 2000, `header ${wrong - NOW} replaced`);
    t.ok(isBatchCrcValid(records, 0, records.length));
  }
});

t.test('a consistent batch is left byte for byte as sent', async (t) => {
  for (const compression of CODECS) {
    const records = batch([NOW - 3, NOW - 1, NOW - 2], { compression });
    const before = Buffer.from(records);
    const { errors, summary } = check(records);
    t.equal(errors, null);
    t.ok(records.equals(before), `codec ${compression}: not rewritten`);
    t.equal(summary.maxTimestampMs, NOW - 1);
  }
});

t.test('an out-of-range record inside an otherwise valid batch is reported with its index', async (t) => {
  for (const compression of CODECS) {
    const timestamps = [NOW - 1000, NOW - 900, NOW + 2 * HOUR, NOW - 800];
    const records = batch(timestamps, { compression });
    const before = Buffer.from(records);
    const { errors } = check(records);
    t.ok(errors !== null, `codec ${compression}: rejected`);
    t.equal(errors!.invalidRecords, 1);
    t.same(
      errors!.errors.map((e) => e.batchIndex),
      [2],
      'only the third record',
    );
    t.match(errors!.errors[0]!.message, `timestamp ${NOW + 2 * HOUR} is out of range`);
    t.match(errors!.errors[0]!.message, `[-Infinity, ${NOW + HOUR}]`);
    t.ok(records.equals(before), 'a rejected batch is not patched');
  }
});

t.test('both bounds, every failing record, and the cap on listed errors', async (t) => {
  const timestamps = [NOW - 2 * HOUR, NOW, NOW + HOUR, NOW + HOUR + 1, NOW - HOUR, NOW - HOUR - 1];
  const { errors } = check(batch(timestamps), { beforeMaxMs: HOUR });
  t.same(
    errors?.errors.map((e) => e.batchIndex),
    [0, 3, 5],
    'older than before.max.ms and newer than after.max.ms fail; the bounds themselves pass',
  );
  t.equal(errors?.invalidRecords, 3);
  const capped = check(batch(timestamps), { beforeMaxMs: HOUR, maxRecordErrors: 2 }).errors;
  t.equal(capped?.invalidRecords, 3, 'all failures counted');
  t.same(
    capped?.errors.map((e) => e.batchIndex),
    [0, 3],
    'the first two listed',
  );
  t.match(capped?.message, '3 record(s)');
  t.match(capped?.message, 'the first 2 are listed');
});

t.test('NO_TIMESTAMP records are not checked and do not count toward the maximum', async (t) => {
  // baseTimestamp -1: the records read as -1, 0 and -1 (deltas 0, 1, 0).
  const records = batch([NO_TIMESTAMP, 0, NO_TIMESTAMP], { maxTimestampMs: 77 });
  const { errors } = check(records, { beforeMaxMs: HOUR });
  t.same(
    errors?.errors.map((e) => e.batchIndex),
    [1],
    'timestamp 0 is far too old; the two -1 ones are not checked',
  );
  const allMissing = batch([NO_TIMESTAMP, NO_TIMESTAMP], { maxTimestampMs: 77 });
  const result = check(allMissing, { beforeMaxMs: HOUR });
  t.equal(result.errors, null);
  t.equal(headerOf(allMissing).maxTimestampMs, NO_TIMESTAMP, 'no record timestamp: the maximum is -1');
  t.equal(result.summary.maxTimestampMs, NO_TIMESTAMP);
});

t.test('LogAppendTime flag set by the producer', async (t) => {
  // CreateTime topic: the records' timestamp is the header's maxTimestamp; checked, then the batch becomes CreateTime.
  const flagged = batch([NOW - 10, NOW - 5], { logAppendTimeMs: NOW - 1 });
  t.equal(check(flagged).errors, null, 'CreateTime topic: a LogAppendTime batch with a timestamp in range passes');
  t.equal(headerOf(flagged).timestampType, 0, 'and is made CreateTime');
  t.equal(headerOf(flagged).maxTimestampMs, NOW - 1);
  t.ok(isBatchCrcValid(flagged, 0, flagged.length));
  const outOfRange = batch([NOW - 10, NOW - 5], { logAppendTimeMs: NOW + 2 * HOUR });
  t.same(
    check(outOfRange).errors?.errors.map((e) => e.batchIndex),
    [0, 1],
    'its time out of range: every record',
  );
  const noTime = batch([NOW - 10, NOW - 5], { logAppendTimeMs: NO_TIMESTAMP });
  const noTimeErrors = check(noTime).errors;
  t.same(
    noTimeErrors?.errors.map((e) => e.batchIndex),
    [0, 1],
    'without a time: every record',
  );
  t.match(noTimeErrors?.errors[0]?.message, 'LogAppendTime');

  // LogAppendTime topic: any batch claiming LogAppendTime fails, record by record; others are not read.
  const onLat = check(batch([NOW - 10, NOW - 5, NOW], { logAppendTimeMs: NOW }), { logAppendTime: true }).errors;
  t.same(
    onLat?.errors.map((e) => e.batchIndex),
    [0, 1, 2],
  );
  const ancient = batch([1000, 2000], { maxTimestampMs: NO_TIMESTAMP });
  const before = Buffer.from(ancient);
  t.equal(check(ancient, { logAppendTime: true }).errors, null, 'LogAppendTime topic: CreateTime records of any age pass');
  t.ok(ancient.equals(before), 'and are not patched here (the append stamps the broker time)');
});

t.test('a compressed batch is read only when its header cannot settle the outcome', async (t) => {
  const timestamps = [NOW - 5000, NOW - 1000, NOW - 3000];
  for (const compression of CODECS.slice(1)) {
    // A plausible header (>= baseTimestamp, in range) with before.max.ms unbounded (the default): trusted as is.
    const high = batch(timestamps, { compression, maxTimestampMs: NOW - 10 });
    const before = Buffer.from(high);
    t.equal(check(high).errors, null);
    t.ok(high.equals(before), `codec ${compression}: a plausible header is kept (records not read)`);
    // Below baseTimestamp: cannot be the maximum, so the records are read and the header corrected.
    const low = batch(timestamps, { compression, maxTimestampMs: NOW - 6000 });
    t.equal(check(low).errors, null);
    t.equal(headerOf(low).maxTimestampMs, NOW - 1000, `codec ${compression}: a header below the first record is corrected`);
    // before.max.ms bounded: records older than the first can only be found by reading, and then the header is exact.
    const bounded = batch(timestamps, { compression, maxTimestampMs: NOW - 10 });
    t.equal(check(bounded, { beforeMaxMs: HOUR }).errors, null);
    t.equal(headerOf(bounded).maxTimestampMs, NOW - 1000, `codec ${compression}: read when before.max.ms is bounded`);
    const older = batch([NOW, NOW - 2 * HOUR, NOW], { compression });
    t.same(
      check(older, { beforeMaxMs: HOUR }).errors?.errors.map((e) => e.batchIndex),
      [1],
      `codec ${compression}: an old record after the first is found`,
    );
  }
});

t.test('several batches: each corrected, the summary spans them', async (t) => {
  const first = batch([NOW - 50, NOW - 40], { maxTimestampMs: NO_TIMESTAMP });
  const second = batch([NOW - 30, NOW - 45], { maxTimestampMs: NO_TIMESTAMP, compression: CompressionCodec.LZ4 });
  const records = Buffer.concat([first, second]);
  const { errors, summary } = check(records);
  t.equal(errors, null);
  t.equal(headerOf(records, 0).maxTimestampMs, NOW - 40);
  t.equal(headerOf(records, first.length).maxTimestampMs, NOW - 30);
  t.ok(isBatchCrcValid(records, 0, first.length) && isBatchCrcValid(records, first.length, records.length));
  t.equal(summary.maxTimestampMs, NOW - 30);
  t.equal(summary.lastTimestampMs, NOW - 30);
});

t.test('records that cannot be read are refused with a typed error', async (t) => {
  // A record count the records do not match: INVALID_RECORD (Kafka's record iterator).
  const short = batch([NOW, NOW]);
  short.writeInt32BE(2, 23); // lastOffsetDelta
  short.writeInt32BE(3, 57); // recordCount
  writeBatchCrc(short, 0, short.length);
  const e1 = catchRecordsError(() => check(short));
  t.equal(e1?.code, ErrorCode.INVALID_RECORD);
  t.equal(e1?.reason, RecordsErrorReason.RECORD_COUNT_MISMATCH);

  // A compressed section its codec cannot read: UNKNOWN_SERVER_ERROR, as Kafka answers (not retriable).
  const garbage = batch([NOW], { compression: CompressionCodec.LZ4, maxTimestampMs: NO_TIMESTAMP });
  garbage.fill(0x41, 61);
  writeBatchCrc(garbage, 0, garbage.length);
  const e2 = catchRecordsError(() => check(garbage));
  t.equal(e2?.code, ErrorCode.UNKNOWN_SERVER_ERROR);
  t.equal(e2?.reason, RecordsErrorReason.DECOMPRESSION_FAILED);

  // Above the decompression bound: MESSAGE_TOO_LARGE (the Java producer then splits the batch).
  const big = buildRecordBatch([{ key: null, value: Buffer.alloc(200_000), timestampMs: NOW }], {
    compression: CompressionCodec.ZSTD,
    maxTimestampMs: NO_TIMESTAMP,
  });
  const e3 = catchRecordsError(() => check(big, { maxDecompressedBytes: 100_000 }));
  t.equal(e3?.code, ErrorCode.MESSAGE_TOO_LARGE);
});

t.test('a compressed batch whose records were written by another encoder', async (t) => {
  // Hand-made: records of an uncompressed batch compressed into a new one, header maxTimestamp -1.
  for (const compression of [CompressionCodec.GZIP, CompressionCodec.ZSTD] as CompressionCodecId[]) {
    const plain = batch([NOW - 7, NOW - 9, NOW - 8]);
    const body = compressRecords(compression, plain.subarray(61));
    const records = Buffer.concat([plain.subarray(0, 61), body]);
    records.writeInt32BE(records.length - 12, 8);
    records.writeInt16BE(compression, 21);
    writeInt64(records, 35, NO_TIMESTAMP);
    writeBatchCrc(records, 0, records.length);
    t.equal(check(records).errors, null);
    t.equal(headerOf(records).maxTimestampMs, NOW - 7, `codec ${compression}`);
  }
});

t.test('limits are checked', async (t) => {
  const records = batch([NOW]);
  const summary = validateRecords(records, { maxBatchBytes: 1 << 20, maxBatchCount: 1, maxRecordsPerBatch: 10 });
  t.throws(() => validateRecordTimestamps(records, { ...LIMITS, afterMaxMs: -1 }, summary), RangeError);
  t.throws(() => validateRecordTimestamps(records, { ...LIMITS, nowMs: 1.5 }, summary), RangeError);
});
