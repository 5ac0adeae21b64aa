import t from 'tap';
import { createRequire } from 'node:module';
import {
  BatchHeaderView,
  buildEndTxnMarkerBatch,
  ControlRecordType,
  encodeControlRecordKey,
  isBatchCrcValid,
  openBatchRecords,
  readControlRecordType,
  readEndTxnMarkerCoordinatorEpoch,
  RecordCursor,
  RecordsError,
  RecordsErrorReason,
  validateRecords,
} from '../../../../broker/protocol/records/index.ts';

import { catchRecordsError } from './helpers.ts';

const require = createRequire(import.meta.url);
const kafkajsDecodeBatch: (decoder: unknown) => Promise<{ isControlBatch: boolean; inTransaction: boolean; records: unknown[] }> =
  require('kafkajs/src/protocol/recordBatch/v0/decoder');
const KafkajsDecoder: new (buffer: Buffer) => unknown = require('kafkajs/src/protocol/decoder');

for (const [name, type] of [
  ['COMMIT', ControlRecordType.COMMIT],
  ['ABORT', ControlRecordType.ABORT],
] as const) {
  t.test(`${name} marker batch`, async (t) => {
    const batch = buildEndTxnMarkerBatch({
      type,
      coordinatorEpoch: 31,
      producerId: 1234,
      producerEpoch: 7,
      timestampMs: 1_700_000_000_000,
      baseOffset: 55,
      partitionLeaderEpoch: 4,
    });
    t.ok(isBatchCrcValid(batch, 0, batch.length));
    const view = new BatchHeaderView().reset(batch, 0);
    t.equal(view.isControl, true);
    t.equal(view.isTransactional, true);
    t.equal(view.producerId, 1234);
    t.equal(view.producerEpoch, 7);
    t.equal(view.baseSequence, -1);
    t.equal(view.recordCount, 1);
    t.equal(view.baseOffset, 55);
    t.equal(view.partitionLeaderEpoch, 4);
    t.equal(view.compression, 0);

    const cursor = new RecordCursor();
    openBatchRecords(batch, 0, cursor, { maxDecompressedBytes: 1024 });
    t.ok(cursor.next());
    t.equal(cursor.offset, 55);
    t.equal(cursor.keyLength, 4);
    t.equal(cursor.valueLength, 6);
    t.same([...cursor.key()!], [0, 0, 0, type]);
    t.equal(readControlRecordType(cursor.key()), type);
    t.equal(readEndTxnMarkerCoordinatorEpoch(cursor.value()), 31);
    t.notOk(cursor.next());

    const error = catchRecordsError(() =>
      validateRecords(batch, { maxBatchBytes: 1 << 20, maxBatchCount: 1, maxRecordsPerBatch: 1, allowControlBatches: true }),
    );
    t.equal(error?.reason, RecordsErrorReason.INVALID_BASE_OFFSET, 'validation is for appends, which carry baseOffset 0');
  });
}

t.test('markers validate for internal appends and decode with kafkajs', async (t) => {
  const batch = buildEndTxnMarkerBatch({
    type: ControlRecordType.COMMIT,
    coordinatorEpoch: 0,
    producerId: 1,
    producerEpoch: 0,
    timestampMs: 5,
  });
  const summary = validateRecords(batch, { maxBatchBytes: 1 << 20, maxBatchCount: 1, maxRecordsPerBatch: 1, allowControlBatches: true });
  t.equal(summary.control, true);
  t.equal(summary.transactional, true);
  const decoded = await kafkajsDecodeBatch(new KafkajsDecoder(batch));
  t.equal(decoded.isControlBatch, true);
  t.equal(decoded.inTransaction, true);
  t.equal(decoded.records.length, 1);
});

t.test('control key and marker value parsing', async (t) => {
  t.equal(readControlRecordType(encodeControlRecordKey(ControlRecordType.LEADER_CHANGE)), 2);
  t.equal(readControlRecordType(Buffer.from([0, 3, 0, 1])), 1, 'newer key versions parse as version 0');
  t.equal(readControlRecordType(Buffer.from([0, 0, 0x7f, 0x00])), 0x7f00, 'unknown types are returned for callers to ignore');
  t.throws(() => readControlRecordType(Buffer.from([0, 0, 0])), RecordsError);
  t.throws(() => readControlRecordType(null), RecordsError);
  t.throws(() => readControlRecordType(Buffer.from([0xff, 0xff, 0, 1])), RecordsError);
  t.throws(() => readEndTxnMarkerCoordinatorEpoch(Buffer.from([0, 0, 0, 0, 1])), RecordsError);
  t.throws(() => readEndTxnMarkerCoordinatorEpoch(Buffer.from([0x80, 0, 0, 0, 0, 1])), RecordsError);
  t.equal(readEndTxnMarkerCoordinatorEpoch(Buffer.from([0, 1, 0, 0, 1, 0, 9, 9])), 256, 'extra bytes of newer versions ignored');
  t.throws(
    () => buildEndTxnMarkerBatch({ type: 2 as 0, coordinatorEpoch: 0, producerId: 1, producerEpoch: 0, timestampMs: 0 }),
    RangeError,
  );
  t.throws(() => buildEndTxnMarkerBatch({ type: 1, coordinatorEpoch: 0, producerId: -1, producerEpoch: 0, timestampMs: 0 }), RangeError);
});
