import t from 'tap';
import type { Test } from 'tap';
import { ErrorCode } from '../../../../broker/protocol/errors.ts';
import {
  buildEndTxnMarkerBatch,
  buildRecordBatch,
  CompressionCodec,
  ControlRecordType,
  RecordsError,
  RecordsErrorReason,
  validateRecords,
  writeBatchCrc,
  writeInt64,
} from '../../../../broker/protocol/records/index.ts';
import type { RecordsErrorReasonId, ValidateLimits } from '../../../../broker/protocol/records/index.ts';
import { catchRecordsError, legacyMessageSet, mixedRecords } from './helpers.ts';

const LIMITS: ValidateLimits = { maxBatchBytes: 1024 * 1024, maxBatchCount: 1, maxRecordsPerBatch: 10_000 };

function smallBatch(compression: 0 | 1 | 2 | 3 | 4 = CompressionCodec.NONE): Buffer {
  return buildRecordBatch(
    [
      { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h', value: Buffer.from('x') }], timestampMs: 1000 },
      { key: null, value: Buffer.from('v2'), timestampMs: 1001 },
    ],
    { compression },
  );
}

function expectRejection(t: Test, records: Buffer, code: number, reason: RecordsErrorReasonId, limits: ValidateLimits = LIMITS): void {
  const error = catchRecordsError(() => validateRecords(records, limits));
  t.ok(error instanceof RecordsError, `rejected (${reason})`);
  t.equal(error?.code, code, `code for ${reason}`);
  t.equal(error?.reason, reason);
}

/** Mutates a copy of `batch` and re-seals its CRC, so later checks are reached. */
function mutate(batch: Buffer, edit: (copy: Buffer) => void): Buffer {
  const copy = Buffer.from(batch);
  edit(copy);
  writeBatchCrc(copy, 0, copy.length);
  return copy;
}

t.test('valid batches pass for every codec', async (t) => {
  for (const codec of [0, 1, 2, 3, 4] as const) {
    const summary = validateRecords(smallBatch(codec), LIMITS);
    t.equal(summary.recordCount, 2);
    t.equal(summary.compression, codec);
  }
});

t.test('CRC corruption anywhere in the covered range is CORRUPT_MESSAGE', async (t) => {
  for (const codec of [CompressionCodec.NONE, CompressionCodec.ZSTD]) {
    const batch = smallBatch(codec);
    for (let position = 17; position < batch.length; position++) {
      const corrupted = Buffer.from(batch);
      corrupted[position] ^= 0x5a;
      const error = catchRecordsError(() => validateRecords(corrupted, LIMITS));
      if (error === undefined || error.code !== ErrorCode.CORRUPT_MESSAGE || error.reason !== RecordsErrorReason.CRC_MISMATCH) {
        t.fail(`byte ${position} flipped: expected crc_mismatch, got ${error?.reason}`);
        return;
      }
    }
    t.pass(`every flipped byte of a ${batch.length}-byte batch detected`);
  }
});

t.test('partitionLeaderEpoch is outside the CRC (clients may send anything)', async (t) => {
  const batch = smallBatch();
  batch.writeInt32BE(12345, 12);
  t.equal(validateRecords(batch, LIMITS).recordCount, 2);
});

t.test('truncation at every byte position gives a typed error', async (t) => {
  const batch = smallBatch();
  for (let length = 0; length < batch.length; length++) {
    const error = catchRecordsError(() => validateRecords(batch.subarray(0, length), LIMITS));
    if (error === undefined) {
      t.fail(`truncated to ${length} bytes: accepted`);
      return;
    }
    if (error.reason !== RecordsErrorReason.NO_BATCH || error.code !== ErrorCode.INVALID_RECORD) {
      t.fail(`truncated to ${length} bytes: ${error.reason} ${error.code}`);
      return;
    }
  }
  t.pass('first batch incomplete → INVALID_RECORD no_batch (Kafka: "must have at least one record batch")');

  const two = Buffer.concat([batch, batch]);
  for (let length = batch.length + 1; length < two.length; length++) {
    const error = catchRecordsError(() => validateRecords(two.subarray(0, length), { ...LIMITS, maxBatchCount: 2 }));
    if (error?.reason !== RecordsErrorReason.TRAILING_BYTES || error.code !== ErrorCode.CORRUPT_MESSAGE) {
      t.fail(`two batches truncated to ${length} bytes: ${error?.reason}`);
      return;
    }
  }
  t.pass('incomplete second batch → CORRUPT_MESSAGE trailing_bytes');
});

t.test('message formats v0 and v1 are rejected with INVALID_RECORD', async (t) => {
  for (const magic of [0, 1] as const) {
    expectRejection(
      t,
      legacyMessageSet(magic, Buffer.from('key'), Buffer.from('value')),
      ErrorCode.INVALID_RECORD,
      RecordsErrorReason.UNSUPPORTED_MAGIC,
    );
    expectRejection(t, legacyMessageSet(magic, null, null), ErrorCode.INVALID_RECORD, RecordsErrorReason.UNSUPPORTED_MAGIC);
    const afterV2 = Buffer.concat([smallBatch(), legacyMessageSet(magic, null, Buffer.from('x'))]);
    expectRejection(t, afterV2, ErrorCode.INVALID_RECORD, RecordsErrorReason.UNSUPPORTED_MAGIC, { ...LIMITS, maxBatchCount: 2 });
  }
});

t.test('magic outside 0..2 is CORRUPT_MESSAGE', async (t) => {
  for (const magic of [3, 127, -1]) {
    const batch = smallBatch();
    batch.writeInt8(magic, 16);
    expectRejection(t, batch, ErrorCode.CORRUPT_MESSAGE, RecordsErrorReason.INVALID_MAGIC);
  }
});

t.test('batchLength checks', async (t) => {
  const tooSmall = smallBatch();
  tooSmall.writeInt32BE(13, 8);
  expectRejection(t, tooSmall, ErrorCode.CORRUPT_MESSAGE, RecordsErrorReason.BATCH_LENGTH_TOO_SMALL);
  const negative = smallBatch();
  negative.writeInt32BE(-1, 8);
  expectRejection(t, negative, ErrorCode.CORRUPT_MESSAGE, RecordsErrorReason.BATCH_LENGTH_TOO_SMALL);
  const belowHeader = smallBatch().subarray(0, 40);
  belowHeader.writeInt32BE(28, 8);
  expectRejection(t, belowHeader, ErrorCode.CORRUPT_MESSAGE, RecordsErrorReason.BATCH_TRUNCATED);
  const beyond = smallBatch();
  beyond.writeInt32BE(beyond.length, 8);
  expectRejection(t, beyond, ErrorCode.INVALID_RECORD, RecordsErrorReason.NO_BATCH);
});

t.test('empty records', async (t) => {
  expectRejection(t, Buffer.alloc(0), ErrorCode.INVALID_RECORD, RecordsErrorReason.NO_BATCH);
});

t.test('batch count limit (Produce allows exactly one)', async (t) => {
  const two = Buffer.concat([smallBatch(), smallBatch()]);
  expectRejection(t, two, ErrorCode.INVALID_RECORD, RecordsErrorReason.TOO_MANY_BATCHES);
  t.equal(validateRecords(two, { ...LIMITS, maxBatchCount: 2 }).batchCount, 2);
});

t.test('client batches must have baseOffset 0', async (t) => {
  const batch = smallBatch();
  writeInt64(batch, 0, 5);
  expectRejection(t, batch, ErrorCode.INVALID_RECORD, RecordsErrorReason.INVALID_BASE_OFFSET);
});

t.test('maxBatchBytes → MESSAGE_TOO_LARGE', async (t) => {
  const batch = smallBatch();
  expectRejection(t, batch, ErrorCode.MESSAGE_TOO_LARGE, RecordsErrorReason.BATCH_TOO_LARGE, {
    ...LIMITS,
    maxBatchBytes: batch.length - 1,
  });
  t.equal(validateRecords(batch, { ...LIMITS, maxBatchBytes: batch.length }).recordCount, 2);
});

t.test('compression ids 5..7 → UNKNOWN_SERVER_ERROR, as Kafka answers', async (t) => {
  for (const codec of [5, 6, 7]) {
    const batch = mutate(smallBatch(), (copy) => copy.writeInt16BE(codec, 21));
    expectRejection(t, batch, ErrorCode.UNKNOWN_SERVER_ERROR, RecordsErrorReason.UNKNOWN_COMPRESSION);
  }
});

t.test('record count checks → INVALID_RECORD', async (t) => {
  const cases: Array<[string, (copy: Buffer) => void]> = [
    [
      'count 0',
      (copy) => {
        copy.writeInt32BE(0, 57);
        copy.writeInt32BE(-1, 23);
      },
    ],
    ['count disagrees with lastOffsetDelta', (copy) => copy.writeInt32BE(3, 57)],
    ['negative lastOffsetDelta', (copy) => copy.writeInt32BE(-2, 23)],
    [
      'count more than the bytes can hold',
      (copy) => {
        copy.writeInt32BE(1000, 57);
        copy.writeInt32BE(999, 23);
      },
    ],
    ['INT32_MAX lastOffsetDelta', (copy) => copy.writeInt32BE(0x7fffffff, 23)],
  ];
  for (const [name, edit] of cases) {
    const error = catchRecordsError(() => validateRecords(mutate(smallBatch(), edit), LIMITS));
    t.equal(error?.code, ErrorCode.INVALID_RECORD, name);
    t.equal(error?.reason, RecordsErrorReason.INVALID_RECORD_COUNT, name);
  }
  const many = buildRecordBatch(
    Array.from({ length: 50 }, (_, index) => ({ key: null, value: null, timestampMs: index })),
    { compression: CompressionCodec.ZSTD },
  );
  expectRejection(t, many, ErrorCode.INVALID_RECORD, RecordsErrorReason.INVALID_RECORD_COUNT, { ...LIMITS, maxRecordsPerBatch: 49 });
  t.equal(validateRecords(many, { ...LIMITS, maxRecordsPerBatch: 50 }).recordCount, 50);
  // A compressed batch may claim many records in few bytes; only maxRecordsPerBatch bounds it.
  const claims = mutate(smallBatch(CompressionCodec.ZSTD), (copy) => {
    copy.writeInt32BE(9_999, 57);
    copy.writeInt32BE(9_998, 23);
  });
  t.equal(validateRecords(claims, LIMITS).recordCount, 9_999);
});

t.test('control batches from clients → INVALID_RECORD unless allowed', async (t) => {
  const marker = buildEndTxnMarkerBatch({
    type: ControlRecordType.COMMIT,
    coordinatorEpoch: 4,
    producerId: 9,
    producerEpoch: 2,
    timestampMs: 10,
  });
  expectRejection(t, marker, ErrorCode.INVALID_RECORD, RecordsErrorReason.CONTROL_BATCH_FROM_CLIENT);
  const summary = validateRecords(marker, { ...LIMITS, allowControlBatches: true });
  t.equal(summary.control, true);
  t.equal(summary.transactional, true);
  t.equal(summary.producerId, 9);
});

t.test('producerId without a sequence → INVALID_RECORD', async (t) => {
  const batch = buildRecordBatch(mixedRecords(), { producerId: 3, producerEpoch: 0, baseSequence: -1 });
  expectRejection(t, batch, ErrorCode.INVALID_RECORD, RecordsErrorReason.INVALID_SEQUENCE);
  const ok = buildRecordBatch(mixedRecords(), { producerId: -1, producerEpoch: 0, baseSequence: 0 });
  t.equal(validateRecords(ok, LIMITS).producerId, -1, 'non-idempotent producers may send any sequence');
});

t.test('limits are asserted', async (t) => {
  const batch = smallBatch();
  t.throws(() => validateRecords(batch, { ...LIMITS, maxBatchBytes: 10 }), RangeError);
  t.throws(() => validateRecords(batch, { ...LIMITS, maxBatchCount: 0 }), RangeError);
  t.throws(() => validateRecords(batch, { ...LIMITS, maxRecordsPerBatch: Number.NaN }), RangeError);
});

t.test('errors are KafkaErrors with positions', async (t) => {
  const two = Buffer.concat([smallBatch(), smallBatch()]);
  two[two.length - 1] ^= 1;
  const error = catchRecordsError(() => validateRecords(two, { ...LIMITS, maxBatchCount: 2 }));
  t.equal(error?.reason, RecordsErrorReason.CRC_MISMATCH);
  t.equal(error?.position, two.length / 2, 'position of the failing batch');
  t.equal(error?.retriable, true, 'CORRUPT_MESSAGE is retriable');
  t.equal(error?.name, 'RecordsError');
});
