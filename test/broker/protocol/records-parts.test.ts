// A records field given as several buffers (Fetch hands over its chunks without joining them) encodes to exactly
// the bytes of the same records as one buffer, for every version of the messages that carry records, compact
// and not, nullable and not; large parts go out by reference, not copied.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { decodeResponse, encodeRequest, encodeResponse } from '../../../broker/protocol/frame.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/index.ts';

const batches = [1, 2, 3].map((n) =>
  buildRecordBatch(Array.from({ length: n * 40 }, (_, i) => ({ key: null, value: Buffer.alloc(100 + i, n), timestampMs: 1 }))),
);
const joined = Buffer.concat(batches);

function fetchBody(records: Buffer | readonly Buffer[]) {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 't',
        topicId: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: [
          {
            partitionIndex: 0,
            errorCode: 0,
            highWatermark: 6,
            lastStableOffset: 6,
            logStartOffset: 0,
            abortedTransactions: null,
            preferredReadReplica: -1,
            records,
          },
        ],
      },
    ],
  };
}

t.test('Fetch responses: parts encode as the joined buffer, every version', async (t) => {
  for (let v = 4; v <= 17; v++) {
    const a = Buffer.concat(encodeResponse(ApiKey.Fetch, v, 7, fetchBody(batches)));
    const b = Buffer.concat(encodeResponse(ApiKey.Fetch, v, 7, fetchBody(joined)));
    t.ok(a.equals(b), `v${v}: same bytes`);
    const decoded = decodeResponse(a.subarray(4), ApiKey.Fetch, v).body as { responses: { partitions: { records: Buffer }[] }[] };
    t.ok(decoded.responses[0]!.partitions[0]!.records.equals(joined), `v${v}: decodes to the batches`);
  }
  const chunks = encodeResponse(ApiKey.Fetch, 16, 7, fetchBody(batches));
  t.ok(
    batches.every((part) => chunks.includes(part)),
    'parts above the zero-copy threshold are written by reference',
  );
});

t.test('Produce requests accept parts too (records, nullable, compact in v9+)', async (t) => {
  for (const v of [3, 8, 9, 11]) {
    const body = (records: Buffer | readonly Buffer[]) => ({
      transactionalId: null,
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: 't', partitionData: [{ index: 0, records }] }],
    });
    t.ok(
      encodeRequest(ApiKey.Produce, v, 1, 'c', body(batches)).equals(encodeRequest(ApiKey.Produce, v, 1, 'c', body(joined))),
      `v${v}: same bytes`,
    );
  }
  t.ok(
    Buffer.concat(encodeResponse(ApiKey.Fetch, 12, 7, fetchBody([]))).equals(
      Buffer.concat(encodeResponse(ApiKey.Fetch, 12, 7, fetchBody(Buffer.alloc(0)))),
    ),
    'no parts: empty records',
  );
});
