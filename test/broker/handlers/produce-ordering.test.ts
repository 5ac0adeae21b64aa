// Pipelined Produce requests on one connection are appended in arrival order (spec/guarantees.md, "Order of a
// connection's requests"). Each case holds the first request at one of the steps Produce may wait at before it
// appends (room in the flush buffer, the producer-state rebuild, KIP-890 verification) while a second request,
// sent right behind it on the same connection, needs no wait: the log must still hold the first request's batch
// first, and no batch may be refused with a sequence error. Plain, idempotent and transactional producers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { RunningBroker } from '../../../broker/broker.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import {
  buildRecordBatch,
  openBatchRecords,
  RecordCursor,
  readBatchLength,
  BATCH_LOG_OVERHEAD_BYTES,
} from '../../../broker/protocol/records/index.ts';
import { createTopic, startBrokerIn } from './support/client.ts';
import type { TestClient } from './support/client.ts';

type Producer = 'plain' | 'idempotent' | 'transactional';
type WaitPoint = 'room' | 'rebuild' | 'verification';

const topic = 'ordered';
/** Partition the first request alone writes (and whose wait holds it up), and the one both requests write. */
const heldPartition = 0;
const sharedPartition = 1;
/** How long the first request is held: long enough that an unordered second request would append first. */
const holdMs = 300;

interface Identity {
  transactionalId: string | null;
  producerId: number;
  producerEpoch: number;
}

function batch(id: Identity, sequence: number, value: string, producer: Producer): Buffer {
  const records = [{ key: null, value: Buffer.from(value), timestampMs: Date.now() }];
  if (producer === 'plain') return buildRecordBatch(records);
  return buildRecordBatch(records, {
    producerId: id.producerId,
    producerEpoch: id.producerEpoch,
    baseSequence: sequence,
    transactional: producer === 'transactional',
  });
}

function produceRequest(id: Identity, partitions: { index: number; records: Buffer }[]) {
  return { transactionalId: id.transactionalId, acks: -1, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: partitions }] };
}

/** Values of every record in the partition, in log order (read_uncommitted). */
async function logValues(client: TestClient, partition: number): Promise<string[]> {
  const r = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      { topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  const p = r.responses[0].partitions[0];
  if (p.errorCode !== 0) throw new Error(`fetch ${topic}-${partition}: error ${p.errorCode}`);
  const data: Buffer = p.records ?? Buffer.alloc(0);
  const values: string[] = [];
  const cursor = new RecordCursor();
  for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos)) {
    openBatchRecords(data, pos, cursor, { maxDecompressedBytes: 1 << 20 });
    while (cursor.next()) values.push(cursor.buffer.toString('utf8', cursor.valuePosition, cursor.valuePosition + cursor.valueLength));
  }
  return values;
}

/** Makes the broker hold the first call of one wait step for `holdMs`; later calls go through untouched. */
function holdFirst(broker: RunningBroker, point: WaitPoint): { held: () => boolean } {
  const s = broker.services;
  let held = false;
  const delay = () => new Promise((r) => setTimeout(r, holdMs));
  if (point === 'room') {
    const flusher = s.logs.flusher;
    const original = flusher.waitForRoom.bind(flusher);
    flusher.waitForRoom = async (maxBytes: number, timeoutMs: number) => {
      if (!held) {
        held = true;
        await delay();
      }
      return original(maxBytes, timeoutMs);
    };
  } else if (point === 'rebuild') {
    const logs = s.logs;
    const original = logs.read.bind(logs);
    logs.read = (async (log: Parameters<typeof original>[0], ...rest: unknown[]) => {
      if (!held && log.partition === heldPartition) {
        held = true;
        await delay();
      }
      return (original as (...a: unknown[]) => unknown)(log, ...rest);
    }) as typeof logs.read;
  } else {
    const txn = s.txn;
    const original = txn.verify.bind(txn);
    txn.verify = async (...args: Parameters<typeof original>) => {
      if (!held) {
        held = true;
        await delay();
      }
      return original(...args);
    };
  }
  return { held: () => held };
}

async function identity(client: TestClient, producer: Producer): Promise<Identity> {
  if (producer === 'plain') return { transactionalId: null, producerId: -1, producerEpoch: -1 };
  const transactionalId = producer === 'transactional' ? 'ordering-txn' : null;
  const init = await client.request(ApiKey.InitProducerId, 4, {
    transactionalId,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
  if (init.errorCode !== 0) throw new Error(`InitProducerId: error ${init.errorCode}`);
  const id = { transactionalId, producerId: Number(init.producerId), producerEpoch: init.producerEpoch };
  if (producer === 'transactional') {
    const add = await client.request(ApiKey.AddPartitionsToTxn, 3, {
      v3AndBelowTransactionalId: transactionalId,
      v3AndBelowProducerId: id.producerId,
      v3AndBelowProducerEpoch: id.producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions: [heldPartition, sharedPartition] }],
    });
    const codes = add.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode);
    if (codes.some((c: number) => c !== 0)) throw new Error(`AddPartitionsToTxn: ${codes}`);
  }
  return id;
}

async function runCase(t: Test, producer: Producer, point: WaitPoint): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-ordering-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2' });
  await createTopic(b.client, topic, 2);
  if (point === 'rebuild') {
    // The held partition has data and, after a restart, no producer state: the first idempotent batch there
    // makes Produce rebuild it by reading the log (the read is what is held).
    const r = await b.client.request(
      ApiKey.Produce,
      9,
      produceRequest({ transactionalId: null, producerId: -1, producerEpoch: -1 }, [
        { index: heldPartition, records: batch({} as Identity, 0, 'before', 'plain') },
      ]),
    );
    t.equal(r.responses[0].partitionResponses[0].errorCode, 0, 'data before the restart');
    await b.close();
    b = await startBrokerIn(dir, { 'skafos.flush.linger.ms': '2' });
  }
  t.teardown(() => b.close());
  const client = b.client;
  const id = await identity(client, producer);
  const hold = holdFirst(b.broker, point);

  // Both requests leave back to back on one connection, before any answer.
  const first = client.request(
    ApiKey.Produce,
    9,
    produceRequest(id, [
      { index: heldPartition, records: batch(id, 0, 'first-held', producer) },
      { index: sharedPartition, records: batch(id, 0, 'first', producer) },
    ]),
  );
  const second = client.request(
    ApiKey.Produce,
    9,
    produceRequest(id, [{ index: sharedPartition, records: batch(id, 1, 'second', producer) }]),
  );
  const [r1, r2] = await Promise.all([first, second]);
  t.ok(hold.held(), `the first request was held at ${point}`);
  const codes = [
    ...r1.responses[0].partitionResponses.map((p: { index: number; errorCode: number }) => [`first ${p.index}`, p.errorCode]),
    ...r2.responses[0].partitionResponses.map((p: { index: number; errorCode: number }) => [`second ${p.index}`, p.errorCode]),
  ];
  t.same(codes, [
    [`first ${heldPartition}`, ErrorCode.NONE],
    [`first ${sharedPartition}`, ErrorCode.NONE],
    [`second ${sharedPartition}`, ErrorCode.NONE],
  ]);
  t.same(await logValues(client, sharedPartition), ['first', 'second'], 'the shared partition holds the batches in send order');
  const firstOffset = Number(r1.responses[0].partitionResponses[1].baseOffset);
  const secondOffset = Number(r2.responses[0].partitionResponses[0].baseOffset);
  t.ok(firstOffset < secondOffset, `offsets follow the send order (${firstOffset} < ${secondOffset})`);
}

const cases: [Producer, WaitPoint][] = [
  ['plain', 'room'],
  ['idempotent', 'room'],
  ['transactional', 'room'],
  ['idempotent', 'rebuild'],
  ['transactional', 'rebuild'],
  ['transactional', 'verification'],
];

for (const [producer, point] of cases) {
  t.test(`${producer} producer, first request held at ${point}`, (t) => runCase(t, producer, point));
}
