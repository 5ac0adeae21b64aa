// MarkerChannel over in-memory fakes: local partitions (real PartitionLogs behind a fake log manager), a fake
// cluster saying who owns what, a fake broker-to-broker client recording WriteTxnMarkers requests, and a real
// TxnOffsetStore for `__consumer_offsets` partitions. Markers land once per partition with the job's producer,
// epoch and result; remote partitions are batched per broker; retriable failures and missing owners are
// retried until they succeed; obsolete markers and deleted topics settle; a job that is no longer current stops.
import t from 'tap';
import type { Test } from 'tap';
import type { BrokerEndpoint, PartitionOwner } from '../../../broker/cluster/cluster.ts';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ControlRecordType } from '../../../broker/protocol/records/constants.ts';
import { assignOffsets, buildRecordBatch } from '../../../broker/protocol/records/index.ts';
import type { BrokerClient } from '../../../broker/txn/broker-client.ts';
import type { MarkerJob } from '../../../broker/txn/coordinator.ts';
import { MarkerChannel } from '../../../broker/txn/markers.ts';
import type { MarkerServices } from '../../../broker/txn/markers.ts';
import { TxnOffsetStore } from '../../../broker/txn/txn-offsets.ts';
import type { PendingTxnOffsets } from '../../../broker/txn/txn-offsets.ts';
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { FakeLogs, FakeTopics } from '../../support/fake-partitions.ts';
import { settle, until } from '../../support/until.ts';

/** One offset of a transaction (the group coordinator's OffsetCommitEntry, as the txn layer names it). */
type OffsetCommitEntry = PendingTxnOffsets['offsets'][number];

const self = 1;

interface SentMarkers {
  host: string;
  port: number;
  apiKey: number;
  version: number;
  body: any;
}

/** The broker-to-broker client: records requests and answers with what `answer` returns (or throws). */
class FakeClient {
  readonly sent: SentMarkers[] = [];
  answer: (req: SentMarkers) => unknown = (req) => answerAll(req, ErrorCode.NONE);
  async request(host: string, port: number, apiKey: number, version: number, body: unknown): Promise<unknown> {
    const req = { host, port, apiKey, version, body: body as any };
    this.sent.push(req);
    return this.answer(req);
  }
}

/** A WriteTxnMarkers response giving `code` (or code(topic, partition)) to every partition asked for. */
function answerAll(req: SentMarkers, code: number | ((topic: string, partition: number) => number)) {
  return {
    markers: req.body.markers.map((m: any) => ({
      producerId: m.producerId,
      topics: m.topics.map((tt: any) => ({
        name: tt.name,
        partitions: tt.partitionIndexes.map((p: number) => ({
          partitionIndex: p,
          errorCode: typeof code === 'number' ? code : code(tt.name, p),
        })),
      })),
    })),
  };
}

function setup(t: Test) {
  const topics = new FakeTopics();
  const logs = new FakeLogs();
  /** Owner node of each data partition (`topic:partition`), null for none; unlisted: this broker. */
  const owners = new Map<string, number | null>();
  let groupOwner: number | null = self;
  const brokers = new Map<number, BrokerEndpoint>([
    [2, { nodeId: 2, host: 'b2', port: 9002, rack: null }],
    [3, { nodeId: 3, host: 'b3', port: 9003, rack: null }],
  ]);
  const services: MarkerServices = {
    nodeId: self,
    cluster: {
      broker: (nodeId) => brokers.get(nodeId),
      ownerOf: (topicId, partition): PartitionOwner | null => {
        const owner = owners.has(`${topicId}:${partition}`) ? owners.get(`${topicId}:${partition}`)! : self;
        return owner === null ? null : { nodeId: owner, leaderEpoch: 0 };
      },
      coordinatorOwner: () => (groupOwner === null ? null : { nodeId: groupOwner, leaderEpoch: 0 }),
    },
    topics,
    logs,
    config: { producerIdExpirationMs: 86_400_000, producerStateMaxProducers: 1000 },
    logger: silentLogger(),
  };
  const metadata = new MemoryMetadataStore();
  const applied: { groupId: string; entries: OffsetCommitEntry[] }[] = [];
  const offsets = new TxnOffsetStore({
    metadata,
    cluster: new FakeCoordinatorCluster('group'),
    logger: silentLogger(),
    groups: {
      validateTxnOffsetCommit: () => ErrorCode.NONE,
      applyTxnOffsets: async (groupId, entries) => {
        applied.push({ groupId, entries });
        return ErrorCode.NONE;
      },
    },
  });
  const client = new FakeClient();
  // The channel's retry backoff timers are unref'd: keep the event loop alive while a test awaits them.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const channel = new MarkerChannel({
    services: () => services,
    offsets,
    client: client as unknown as BrokerClient,
    logger: silentLogger(),
  });
  t.teardown(async () => {
    await offsets.close();
    await metadata.close();
  });
  const owner = (topic: string, partition: number, node: number | null) => owners.set(`${topics.byName(topic)!.id}:${partition}`, node);
  return {
    topics,
    logs,
    services,
    offsets,
    applied,
    client,
    channel,
    owner,
    setGroupOwner: (n: number | null) => (groupOwner = n),
  };
}

const job = (partitions: [string, number][], commit = true, producerEpoch = 2): MarkerJob => ({
  transactionalId: 'tx',
  producerId: 500,
  producerEpoch,
  commit,
  coordinatorEpoch: 4,
  partitions: partitions.map(([topic, partition]) => ({ topic, partition })),
});

/** A transactional batch of producer 500 at `epoch`: opens the producer's transaction in the partition. */
function appendTransactional(logs: FakeLogs, log: ReturnType<FakeLogs['lead']>[number], epoch = 2): void {
  const batch = buildRecordBatch([{ key: null, value: Buffer.from('v'), timestampMs: Date.now() }], {
    producerId: 500,
    producerEpoch: epoch,
    baseSequence: 0,
    transactional: true,
  });
  logs.append(log, batch, 1, null, (records, baseOffset, leaderEpoch) => assignOffsets(records, baseOffset, leaderEpoch));
}

t.test('local partitions: one marker each, with the job’s producer, epoch and result, closing the transaction', async (t) => {
  const s = setup(t);
  const [a0, a1] = s.logs.lead(s.topics.add('a', 2));
  const [b0] = s.logs.lead(s.topics.add('b', 1));
  for (const log of [a0!, a1!, b0!]) appendTransactional(s.logs, log);
  t.equal(
    await s.channel.send(
      job([
        ['a', 0],
        ['a', 1],
      ]),
      () => true,
    ),
    true,
  );
  t.equal(await s.channel.send(job([['b', 0]], false), () => true), true);
  t.same(s.logs.markers(a0!), [{ offset: 1, producerId: 500, producerEpoch: 2, type: ControlRecordType.COMMIT }]);
  t.same(s.logs.markers(a1!), [{ offset: 1, producerId: 500, producerEpoch: 2, type: ControlRecordType.COMMIT }]);
  t.same(s.logs.markers(b0!), [{ offset: 1, producerId: 500, producerEpoch: 2, type: ControlRecordType.ABORT }]);
  for (const log of [a0!, a1!, b0!]) {
    t.notOk(log.producerState!.hasOngoingTxn(500, 2), `${log.topicName}-${log.partition}: the transaction is closed`);
    t.equal(log.producerState!.lastStableOffset(log.highWatermark), 2, 'the last stable offset moves past the marker');
  }
  t.same(
    b0!.producerState!.abortedTxns(0, 10).map((x) => [x.producerId, x.firstOffset]),
    [[500, 0]],
    'the aborted transaction is indexed for read_committed fetches',
  );
  t.same(s.client.sent, [], 'nothing sent to other brokers');
});

t.test('remote partitions: one WriteTxnMarkers per owning broker, partitions grouped by topic', async (t) => {
  const s = setup(t);
  s.topics.add('a', 3);
  s.topics.add('b', 2);
  s.owner('a', 0, 2);
  s.owner('a', 2, 2);
  s.owner('b', 1, 2);
  s.owner('a', 1, 3);
  t.equal(
    await s.channel.send(
      job([
        ['a', 0],
        ['b', 1],
        ['a', 1],
        ['a', 2],
      ]),
      () => true,
    ),
    true,
  );
  const sorted = [...s.client.sent].sort((x, y) => x.port - y.port);
  t.same(
    sorted.map((r) => [r.host, r.port, r.apiKey, r.version]),
    [
      ['b2', 9002, ApiKey.WriteTxnMarkers, 1],
      ['b3', 9003, ApiKey.WriteTxnMarkers, 1],
    ],
  );
  t.same(sorted[0]!.body, {
    markers: [
      {
        producerId: 500,
        producerEpoch: 2,
        transactionResult: true,
        coordinatorEpoch: 4,
        topics: [
          { name: 'a', partitionIndexes: [0, 2] },
          { name: 'b', partitionIndexes: [1] },
        ],
      },
    ],
  });
  t.same(sorted[1]!.body.markers[0].topics, [{ name: 'a', partitionIndexes: [1] }]);
});

t.test('retriable failures are retried until every partition has its marker', async (t) => {
  const s = setup(t);
  const [local] = s.logs.lead(s.topics.add('l', 1));
  s.topics.add('r', 2);
  s.owner('r', 0, 2);
  s.owner('r', 1, null); // no owner yet
  let calls = 0;
  s.client.answer = (req) => {
    calls++;
    if (calls === 1) throw new Error('connection refused');
    if (calls === 2) return answerAll(req, (_topic, p) => (p === 0 ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE));
    return answerAll(req, ErrorCode.NONE);
  };
  // The local marker's first append is abandoned (its flush failed): it must be written again.
  s.logs.autoCommit = false;
  const done = s.channel.send(
    job([
      ['l', 0],
      ['r', 0],
      ['r', 1],
    ]),
    () => true,
  );
  await until(() => s.logs.appends.length === 1, 'the local append');
  s.logs.abandon(local!);
  s.logs.autoCommit = true;
  await until(() => s.client.sent.length >= 2, 'the retried request');
  s.owner('r', 1, 2);
  t.equal(await done, true);
  t.same(
    s.logs.markers(local!).map((m) => m.type),
    [ControlRecordType.COMMIT],
    'exactly one durable marker after the abandoned attempt',
  );
  t.equal(s.logs.appends.length, 2, 'appended twice: the abandoned attempt and the retry');
  const asked = s.client.sent.map((r) =>
    r.body.markers[0].topics.flatMap((x: any) => x.partitionIndexes.map((p: number) => `${x.name}-${p}`)).sort(),
  );
  // Round 1: r-0 (connection refused), r-1 has no owner. Round 2: r-0 (NOT_LEADER_OR_FOLLOWER). Round 3: both.
  t.same(asked, [['r-0'], ['r-0'], ['r-0', 'r-1']], 'each round asks for what is left, once it has an owner');
});

t.test('settled without a marker: deleted topics, missing partitions, obsolete epochs', async (t) => {
  const s = setup(t);
  const [log] = s.logs.lead(s.topics.add('x', 1));
  appendTransactional(s.logs, log!, 3);
  s.topics.add('remote', 1);
  s.owner('remote', 0, 2);
  s.client.answer = (req) => answerAll(req, ErrorCode.TRANSACTION_COORDINATOR_FENCED);
  const result = await s.channel.send(
    job([
      ['gone', 0],
      ['x', 7],
      ['x', 0],
      ['remote', 0],
    ]),
    () => true,
  );
  t.equal(result, true, 'every partition settled');
  t.same(s.logs.markers(log!), [], 'a marker of an older producer epoch than the partition has is refused');
  t.ok(log!.producerState!.hasOngoingTxn(500, 3), 'the newer transaction stays open');
  t.equal(s.client.sent.length, 1, 'a fenced coordinator answer is not retried');
  s.client.answer = (req) => answerAll(req, ErrorCode.INVALID_PRODUCER_EPOCH);
  t.equal(await s.channel.send(job([['remote', 0]]), () => true), true);
  t.equal(s.client.sent.length, 2, 'nor is an obsolete epoch');
});

t.test('a job that is no longer current stops, written or not', async (t) => {
  const s = setup(t);
  const [log] = s.logs.lead(s.topics.add('a', 1));
  t.equal(await s.channel.send(job([['a', 0]]), () => false), false);
  t.same(s.logs.appends, [], 'nothing written for a job that is not current');
  s.owner('a', 0, null);
  let current = true;
  const sending = s.channel.send(job([['a', 0]]), () => current);
  await settle();
  current = false;
  t.equal(await sending, false, 'a retry loop ends when the coordinator loses the transaction');
  t.same(s.logs.markers(log!), []);
});

t.test('__consumer_offsets partitions apply or drop the transaction’s pending offsets', async (t) => {
  const s = setup(t);
  await s.offsets.start();
  const groupPartition = coordinatorPartitionOf('grp');
  const offsetsFor = (n: number): OffsetCommitEntry[] => [
    { topic: 't', partition: 0, offset: n, leaderEpoch: -1, metadata: null, commitTimestampMs: 1, expireTimestampMs: null },
  ];
  const commit = (producerId: number, n: number) =>
    s.offsets.commit({
      groupId: 'grp',
      producerId,
      producerEpoch: 2,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: offsetsFor(n),
    });
  t.equal(await commit(500, 42), ErrorCode.NONE);
  t.equal(await s.channel.send(job([['__consumer_offsets', groupPartition]]), () => true), true);
  t.same(s.applied, [{ groupId: 'grp', entries: offsetsFor(42) }], 'COMMIT applied them');
  t.notOk(s.offsets.hasPending('grp', 't', 0));
  t.equal(await commit(500, 43), ErrorCode.NONE);
  t.equal(await s.channel.send(job([['__consumer_offsets', groupPartition]], false), () => true), true);
  t.equal(s.applied.length, 1, 'ABORT applied nothing');
  t.notOk(s.offsets.hasPending('grp', 't', 0), 'and dropped them');

  s.setGroupOwner(3);
  t.equal(await s.channel.send(job([['__consumer_offsets', groupPartition]]), () => true), true);
  t.same(
    s.client.sent.map((r) => [r.port, r.body.markers[0].topics]),
    [[9003, [{ name: '__consumer_offsets', partitionIndexes: [groupPartition] }]]],
    'sent to the group coordinator’s broker when it is another',
  );
});
