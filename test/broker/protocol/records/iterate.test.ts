import t from 'tap';
import { ErrorCode } from '../../../../broker/protocol/errors.ts';
import {
  BATCH_RECORDS_OFFSET,
  buildRecordBatch,
  CompressionCodec,
  compressRecords,
  openBatchRecords,
  RecordCursor,
  RecordsError,
  RecordsErrorReason,
  writeBatchCrc,
} from '../../../../broker/protocol/records/index.ts';
import type { CompressionCodecId } from '../../../../broker/protocol/records/index.ts';
import { catchRecordsError, mixedRecords, prng, randomBytes } from './helpers.ts';

const TEMPLATE = buildRecordBatch([{ key: null, value: null, timestampMs: 1_000 }]);

/** A batch whose records section is exactly `records` (compressed with `codec`), claiming `recordCount`. */
function rawBatch(records: Buffer, recordCount: number, codec: CompressionCodecId = CompressionCodec.NONE, trailing?: Buffer): Buffer {
  const section = compressRecords(codec, records);
  const batch = Buffer.concat([TEMPLATE.subarray(0, BATCH_RECORDS_OFFSET), section, trailing ?? Buffer.alloc(0)]);
  const batchEnd = BATCH_RECORDS_OFFSET + section.length;
  batch.writeInt32BE(batchEnd - 12, 8);
  batch.writeInt16BE(codec, 21);
  batch.writeInt32BE(recordCount - 1, 23);
  batch.writeInt32BE(recordCount, 57);
  writeBatchCrc(batch, 0, batchEnd);
  return batch;
}

/** Iterates everything (headers included). Returns 'ok:<records>' or the RecordsError reason; other exceptions propagate. */
function outcome(batch: Buffer, cursor = new RecordCursor()): string {
  const error = catchRecordsError(() => {
    openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1 << 20 });
    while (cursor.next()) {
      cursor.key();
      cursor.value();
      const headers = cursor.headers();
      while (headers.next()) {
        headers.key();
        headers.value();
      }
    }
  });
  if (error === undefined) return `ok:${cursor.index}`;
  if (error.code !== ErrorCode.INVALID_RECORD) throw new Error(`unexpected code ${error.code} (${error.reason})`);
  return error.reason;
}

const MIXED_RECORDS = buildRecordBatch(mixedRecords()).subarray(BATCH_RECORDS_OFFSET);
const MIXED_COUNT = mixedRecords().length;

t.test('the template records iterate cleanly', async (t) => {
  t.equal(outcome(rawBatch(MIXED_RECORDS, MIXED_COUNT)), `ok:${MIXED_COUNT}`);
});

t.test('every single-byte mutation of the records gives a result or a typed error', async (t) => {
  const cursor = new RecordCursor();
  const seen = new Map<string, number>();
  for (const codec of [CompressionCodec.NONE, CompressionCodec.GZIP] as const) {
    for (let position = 0; position < MIXED_RECORDS.length; position++) {
      for (const value of [0x00, 0x01, 0x7f, 0x80, 0xff, MIXED_RECORDS[position]! ^ 0x40]) {
        const mutated = Buffer.from(MIXED_RECORDS);
        mutated[position] = value;
        // Same bytes followed by different garbage must give the same outcome: nothing reads past the batch.
        const withZeros = outcome(rawBatch(mutated, MIXED_COUNT, codec, Buffer.alloc(64, 0)), cursor);
        const withJunk = outcome(rawBatch(mutated, MIXED_COUNT, codec, Buffer.alloc(64, 0x81)), cursor);
        if (withZeros !== withJunk) {
          t.fail(`position ${position} value ${value}: ${withZeros} vs ${withJunk}`);
          return;
        }
        seen.set(withZeros, (seen.get(withZeros) ?? 0) + 1);
      }
    }
  }
  t.ok(seen.has(RecordsErrorReason.MALFORMED_RECORD));
  t.ok(seen.has(`ok:${MIXED_COUNT}`));
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(seen))}`);
});

t.test('truncating the records section at every position is a typed error', async (t) => {
  const notRejected: string[] = [];
  for (let length = 0; length < MIXED_RECORDS.length; length++) {
    const result = outcome(rawBatch(MIXED_RECORDS.subarray(0, length), MIXED_COUNT));
    if (result !== RecordsErrorReason.MALFORMED_RECORD && result !== RecordsErrorReason.RECORD_COUNT_MISMATCH) {
      notRejected.push(`truncated to ${length}: ${result}`);
    }
  }
  t.same(notRejected, [], `all ${MIXED_RECORDS.length} truncations rejected`);
});

t.test('random garbage with random record counts is rejected with a typed error', async (t) => {
  const random = prng(1234);
  const cursor = new RecordCursor();
  const accepted: string[] = [];
  const reasons = new Set<string>();
  let hugeCountsAccepted = 0;
  for (let round = 0; round < 3000; round++) {
    const records = randomBytes(random, Math.floor(random() * 160));
    const huge = round % 10 === 0;
    const recordCount = huge ? 0x7fffffff : Math.floor(random() * 12);
    const result = outcome(rawBatch(records, recordCount), cursor);
    if (result.startsWith('ok')) {
      accepted.push(`${result} of ${recordCount} from ${records.length} bytes`);
      if (huge) hugeCountsAccepted++;
    } else reasons.add(result);
  }
  // With this seed the only valid input is the empty records section declaring no records: random bytes
  // never form a well-bounded record, so any other acceptance means a bound is not checked.
  t.same(accepted, ['ok:0 of 0 from 0 bytes']);
  t.equal(hugeCountsAccepted, 0, 'a count of 2^31-1 is never satisfied');
  t.same([...reasons].sort(), [RecordsErrorReason.MALFORMED_RECORD, RecordsErrorReason.RECORD_COUNT_MISMATCH].sort());
});

t.test('record count disagreements', async (t) => {
  t.equal(outcome(rawBatch(MIXED_RECORDS, MIXED_COUNT - 1)), RecordsErrorReason.RECORD_COUNT_MISMATCH, 'records left over');
  t.equal(outcome(rawBatch(MIXED_RECORDS, MIXED_COUNT + 1)), RecordsErrorReason.RECORD_COUNT_MISMATCH, 'records missing');
  t.equal(outcome(rawBatch(Buffer.alloc(0), 0)), 'ok:0', 'an empty batch (left by compaction) iterates to nothing');
  const negative = rawBatch(MIXED_RECORDS, MIXED_COUNT);
  negative.writeInt32BE(-3, 57);
  writeBatchCrc(negative, 0, negative.length);
  t.equal(outcome(negative), RecordsErrorReason.RECORD_COUNT_MISMATCH);
});

t.test('a huge declared record count fails fast without allocating', async (t) => {
  const start = process.hrtime.bigint();
  const tiny = buildRecordBatch([{ key: null, value: null, timestampMs: 1 }]).subarray(BATCH_RECORDS_OFFSET);
  t.equal(outcome(rawBatch(tiny, 0x7fffffff, CompressionCodec.ZSTD)), RecordsErrorReason.RECORD_COUNT_MISMATCH);
  t.ok(process.hrtime.bigint() - start < 1_000_000_000n);
});

function record(body: number[]): Buffer {
  // length varint (zigzag) + body
  const length = body.length;
  return Buffer.from([(length << 1) & 0xff, ...body]);
}

t.test('malformed record fields', async (t) => {
  const cases: Array<[string, Buffer, string]> = [
    ['length varint of 6 bytes', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['negative length', Buffer.from([0x01, 0, 0, 0, 0, 0, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['body shorter than the minimum', record([0, 0, 0, 1]), RecordsErrorReason.MALFORMED_RECORD],
    [
      'timestampDelta varlong of 11 bytes',
      record([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 1, 0]),
      RecordsErrorReason.MALFORMED_RECORD,
    ],
    [
      'timestampDelta beyond ±2^52',
      record([0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 1, 1, 0]),
      RecordsErrorReason.MALFORMED_RECORD,
    ],
    ['key longer than the record', record([0, 0, 0, 20, 1, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['value longer than the record', record([0, 0, 0, 1, 20, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['negative header count', record([0, 0, 0, 1, 1, 1]), RecordsErrorReason.MALFORMED_RECORD],
    ['header count beyond the record', record([0, 0, 0, 1, 1, 40]), RecordsErrorReason.MALFORMED_RECORD],
    ['negative header key length', record([0, 0, 0, 1, 1, 2, 1, 1]), RecordsErrorReason.MALFORMED_RECORD],
    ['header value past the end', record([0, 0, 0, 1, 1, 2, 0, 30]), RecordsErrorReason.MALFORMED_RECORD],
    ['fields shorter than the declared body', record([0, 0, 0, 1, 1, 0, 0, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['fields longer than the declared body', Buffer.from([5 << 1, 0, 0, 0, 1, 1, 0]), RecordsErrorReason.MALFORMED_RECORD],
    ['valid minimal record', record([0, 0, 0, 1, 1, 0]), 'ok:1'],
    ['key length -2 reads as null, like Kafka', record([0, 0, 0, 3, 1, 0]), 'ok:1'],
  ];
  for (const [name, records, expected] of cases) t.equal(outcome(rawBatch(records, 1)), expected, name);
});

t.test('record fields: offsets, timestamps, attributes, positions', async (t) => {
  // attributes -1 (0xff), timestampDelta -3 (zigzag 5), offsetDelta 0, key "ab", value null, one header "h" → null
  const body = [0xff, 5, 0, 4, 0x61, 0x62, 1, 2, 2, 0x68, 1];
  const batch = rawBatch(record(body), 1);
  batch.writeBigInt64BE(77n, 0);
  batch.writeBigInt64BE(1_000n, 27);
  writeBatchCrc(batch, 0, batch.length);
  const cursor = new RecordCursor();
  openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1024 });
  t.ok(cursor.next());
  t.equal(cursor.attributes, -1);
  t.equal(cursor.timestampDelta, -3);
  t.equal(cursor.timestampMs, 997);
  t.equal(cursor.offsetDelta, 0);
  t.equal(cursor.offset, 77);
  t.equal(cursor.key()!.toString(), 'ab');
  t.equal(cursor.value(), null);
  t.equal(cursor.valueLength, -1);
  t.equal(cursor.headerCount, 1);
  t.equal(cursor.recordPosition, BATCH_RECORDS_OFFSET);
  t.equal(cursor.recordEnd, batch.length);
  const headers = cursor.headers();
  t.ok(headers.next());
  t.equal(headers.keyString(), 'h');
  t.equal(headers.value(), null);
  t.notOk(headers.next());
});

t.test('openBatchRecords checks the batch first', async (t) => {
  const cursor = new RecordCursor();
  const batch = buildRecordBatch(mixedRecords(), { compression: CompressionCodec.SNAPPY });
  const corrupted = Buffer.from(batch);
  corrupted[corrupted.length - 3] ^= 1;
  let error = catchRecordsError(() => openBatchRecords(corrupted, 0, cursor, { maxDecompressedBytes: 1 << 20 }));
  t.equal(error?.reason, RecordsErrorReason.CRC_MISMATCH);
  t.equal(error?.code, ErrorCode.CORRUPT_MESSAGE);
  error = catchRecordsError(() => openBatchRecords(batch.subarray(0, 70), 0, cursor, { maxDecompressedBytes: 1 << 20 }));
  t.equal(error?.reason, RecordsErrorReason.BATCH_TRUNCATED);
  error = catchRecordsError(() => openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 10 }));
  t.equal(error?.reason, RecordsErrorReason.DECOMPRESSED_TOO_LARGE);
  t.equal(error?.code, ErrorCode.MESSAGE_TOO_LARGE);
  const unknownCodec = Buffer.from(batch);
  unknownCodec.writeInt16BE(6, 21);
  writeBatchCrc(unknownCodec, 0, unknownCodec.length);
  error = catchRecordsError(() => openBatchRecords(unknownCodec, 0, cursor, { maxDecompressedBytes: 1 << 20 }));
  t.equal(error?.reason, RecordsErrorReason.UNKNOWN_COMPRESSION);
  t.ok(error instanceof RecordsError);
});
