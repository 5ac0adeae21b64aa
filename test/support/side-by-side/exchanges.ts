// The scripted exchanges of the side-by-side check (test/integration/side-by-side.test.ts): raw requests through
// the project's codec, the same ones in the same order to Apache Kafka and to Skafos. Some set up what later
// ones read (topics, records, a group, a transaction); each one's answer is normalised and compared.
//
// An exchange runs at one version or at every version both brokers serve (`versions: 'common'`), which is how
// version-specific fields and errors get covered. `request` builds the body from the broker's own state (topic
// ids, member ids, producer ids differ between brokers); `after` records what later exchanges need.
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/build.ts';

/** What one broker's run has learnt so far (each broker has its own). */
export interface BrokerState {
  topicIds: Map<string, string>;
  /** Named values picked from earlier answers: member ids, producer ids and epochs. */
  values: Map<string, unknown>;
  /** The versions this broker serves, per API key. */
  versions: Map<number, { min: number; max: number }>;
}

export interface Exchange {
  /** Unique and stable: `<api>.<case>` (the version is appended when it runs at several). */
  id: string;
  api: number;
  /** A version, or every version both brokers serve, optionally within [from, to]. */
  versions: number | { common: true; from?: number; to?: number };
  request: (s: BrokerState, version: number) => unknown;
  after?: (response: any, s: BrokerState, version: number) => void;
  /** Compare error messages verbatim instead of only whether there is one. */
  keepMessages?: boolean;
  /** Request timeout (long polls). */
  timeoutMs?: number;
  /**
   * For a state that settles asynchronously (Kafka's metadata cache catching up with its controller): the
   * request is repeated, for a bounded time, until the answer satisfies this; the last answer is compared.
   */
  settled?: (response: any) => boolean;
}

export const P = 'sbs'; // topic-name prefix
const topicA = `${P}-a`; // 3 partitions, the records
const topicB = `${P}-b`; // 1 partition, configs
const topicC = `${P}-c`; // partitions added, deleted at the end
const topicTxn = `${P}-txn`;
const missing = `${P}-missing`;
const group = `${P}-group`;
const txnId = `${P}-txn-id`;
/** A topic id no broker knows (the exchanges that name an unknown id use it). */
export const unknownTopicId = 'AAAAAAAAAAAAAAAAAAAAAQ';
const common = (from?: number, to?: number) => ({ common: true as const, from, to });
const enc = (s: string) => Buffer.from(s);
const nowMs = () => Date.now();

function batch(
  n: number,
  opts: { producerId?: number; producerEpoch?: number; baseSequence?: number; transactional?: boolean; ts?: number } = {},
): Buffer {
  const ts = opts.ts ?? nowMs();
  return buildRecordBatch(
    Array.from({ length: n }, (_, i) => ({ key: enc(`k${i}`), value: enc(`v${i}`), timestampMs: ts + i })),
    { producerId: opts.producerId, producerEpoch: opts.producerEpoch, baseSequence: opts.baseSequence, transactional: opts.transactional },
  );
}

function produce(topic: string, partition: number, records: Buffer | null, acks = -1, transactionalId: string | null = null) {
  return { transactionalId, acks, timeoutMs: 10_000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

const creatable = (name: string, numPartitions: number, configs: Record<string, string> = {}, replicationFactor = 1) => ({
  name,
  numPartitions,
  replicationFactor,
  assignments: [],
  configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
});

const metadataOf = (topics: string[] | null, v: number, auto = false) => ({
  topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name, topicId: undefined })),
  allowAutoTopicCreation: auto,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

const learnTopicIds = (r: any, s: BrokerState) => {
  for (const t of r.topics ?? []) if (t.name && t.topicId) s.topicIds.set(t.name, t.topicId);
};

const listOffsets = (topic: string, partitions: number[], timestamp: number, isolationLevel = 0) => ({
  replicaId: -1,
  isolationLevel,
  topics: [
    { name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 })) },
  ],
  timeoutMs: 10_000,
});

const fetchOf = (s: BrokerState, _v: number, topic: string, partition: number, offset: number, maxWaitMs = 0, isolationLevel = 0) => ({
  replicaId: -1,
  maxWaitMs,
  minBytes: 1,
  maxBytes: 1 << 20,
  isolationLevel,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [
    {
      topic,
      topicId: s.topicIds.get(topic) ?? 'AAAAAAAAAAAAAAAAAAAAAA',
      partitions: [
        { partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 1 << 20 },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

const describeConfigs = (type: number, name: string, keys: string[] | null, includeSynonyms = false) => ({
  resources: [{ resourceType: type, resourceName: name, configurationKeys: keys }],
  includeSynonyms,
  includeDocumentation: false,
});

const TOPIC = 2;
const BROKER = 4;

export function exchanges(): Exchange[] {
  const x: Exchange[] = [];
  const add = (e: Exchange) => x.push(e);

  // ---------------------------------------------------------------- topics
  add({
    id: 'create-topics.create',
    api: ApiKey.CreateTopics,
    versions: 7,
    request: () => ({
      topics: [
        creatable(topicA, 3),
        creatable(topicB, 1, { 'retention.ms': '3600000', 'cleanup.policy': 'delete' }),
        creatable(topicC, 1),
        creatable(topicTxn, 1),
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    }),
    after: learnTopicIds,
  });
  const createCases: [string, object][] = [
    ['exists', creatable(topicA, 3)],
    ['bad-name', creatable('bad name!', 1)],
    ['dots-and-underscores-name', creatable(`${P}.x_y`, 1)],
    ['zero-partitions', creatable(`${P}-zero`, 0)],
    ['replication-3', creatable(`${P}-rf3`, 1, {}, 3)],
    ['bad-config-value', creatable(`${P}-badcfg`, 1, { 'retention.ms': 'soon' })],
    ['unknown-config', creatable(`${P}-unkcfg`, 1, { 'no.such.config': '1' })],
    ['long-name', creatable('x'.repeat(250), 1)],
    ['dot-name', creatable('.', 1)],
  ];
  for (const [name, topic] of createCases)
    add({
      id: `create-topics.${name}`,
      api: ApiKey.CreateTopics,
      versions: common(2),
      request: () => ({ topics: [topic], timeoutMs: 30_000, validateOnly: true }),
    });
  add({
    id: 'create-topics.validate-only-new',
    api: ApiKey.CreateTopics,
    versions: common(1),
    request: () => ({ topics: [creatable(`${P}-validate`, 2, { 'retention.ms': '1000' })], timeoutMs: 30_000, validateOnly: true }),
  });
  add({
    id: 'create-topics.duplicate-in-request',
    api: ApiKey.CreateTopics,
    versions: 7,
    request: () => ({ topics: [creatable(`${P}-dup`, 1), creatable(`${P}-dup`, 1)], timeoutMs: 30_000, validateOnly: true }),
  });

  add({
    id: 'metadata.topics',
    api: ApiKey.Metadata,
    versions: common(),
    request: (_s, v) => metadataOf([topicA, topicB, missing], v),
    after: learnTopicIds,
  });
  add({
    id: 'metadata.cluster-operations',
    api: ApiKey.Metadata,
    versions: common(8, 10),
    request: (_s, v) => ({ ...metadataOf([topicB], v), includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: true }),
  });
  add({
    id: 'metadata.no-topics',
    api: ApiKey.Metadata,
    versions: common(1),
    request: () => ({ topics: [], allowAutoTopicCreation: false }),
  });
  add({ id: 'metadata.bad-name', api: ApiKey.Metadata, versions: common(4), request: (_s, v) => metadataOf(['bad name!'], v, true) });
  add({
    id: 'describe-topic-partitions.topics',
    api: ApiKey.DescribeTopicPartitions,
    versions: common(),
    request: () => ({ topics: [{ name: topicA }, { name: missing }], responsePartitionLimit: 2000, cursor: null }),
  });
  add({
    id: 'describe-topic-partitions.cursor',
    api: ApiKey.DescribeTopicPartitions,
    versions: common(),
    request: () => ({ topics: [{ name: topicA }, { name: topicB }], responsePartitionLimit: 2, cursor: null }),
  });

  // ---------------------------------------------------------------- produce
  add({ id: 'produce.records', api: ApiKey.Produce, versions: common(3), request: () => produce(topicA, 0, batch(3)) });
  add({ id: 'produce.acks-1', api: ApiKey.Produce, versions: common(3), request: () => produce(topicA, 1, batch(2), 1) });
  add({ id: 'produce.acks-2', api: ApiKey.Produce, versions: 9, request: () => produce(topicA, 1, batch(1), 2) });
  add({ id: 'produce.unknown-topic', api: ApiKey.Produce, versions: common(3), request: () => produce(missing, 0, batch(1)) });
  add({ id: 'produce.unknown-partition', api: ApiKey.Produce, versions: common(3), request: () => produce(topicA, 7, batch(1)) });
  add({
    id: 'produce.corrupt-crc',
    api: ApiKey.Produce,
    versions: 9,
    request: () => {
      const b = batch(2);
      b[b.length - 1] ^= 0xff;
      return produce(topicA, 2, b);
    },
  });
  add({
    id: 'produce.too-old-timestamp',
    api: ApiKey.Produce,
    versions: 9,
    request: () => produce(topicB, 0, batch(1, { ts: 1_000 })),
  });
  add({
    id: 'produce.idempotent-without-pid',
    api: ApiKey.Produce,
    versions: 9,
    request: () => produce(topicA, 2, batch(1, { producerId: 123456, producerEpoch: 0, baseSequence: 0 })),
  });

  // ---------------------------------------------------------------- list offsets, fetch
  for (const [name, ts] of [
    ['earliest', -2],
    ['latest', -1],
    ['by-time-old', 1_000],
    ['by-time-future', 9_999_999_999_999],
  ] as const)
    add({ id: `list-offsets.${name}`, api: ApiKey.ListOffsets, versions: common(1), request: () => listOffsets(topicA, [0, 1, 2], ts) });
  add({
    id: 'list-offsets.max-timestamp',
    api: ApiKey.ListOffsets,
    versions: common(7),
    request: () => listOffsets(topicA, [0, 1, 2], -3),
  });
  add({ id: 'list-offsets.unknown-partition', api: ApiKey.ListOffsets, versions: common(1), request: () => listOffsets(topicA, [9], -1) });
  add({ id: 'list-offsets.unknown-topic', api: ApiKey.ListOffsets, versions: common(1), request: () => listOffsets(missing, [0], -1) });
  add({ id: 'list-offsets.read-committed', api: ApiKey.ListOffsets, versions: common(2), request: () => listOffsets(topicA, [0], -1, 1) });

  add({ id: 'fetch.from-zero', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 0, 0) });
  add({ id: 'fetch.at-end', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 0, 3, 10) });
  add({ id: 'fetch.out-of-range', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 0, 1000) });
  add({ id: 'fetch.middle-of-batch', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 0, 1) });
  add({ id: 'fetch.unknown-partition', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 9, 0) });
  add({
    id: 'fetch.unknown-topic-id',
    api: ApiKey.Fetch,
    versions: common(13),
    request: (s, v) => {
      const f = fetchOf(s, v, topicA, 0, 0);
      f.topics[0]!.topicId = unknownTopicId;
      return f;
    },
  });
  add({
    id: 'offset-for-leader-epoch.current',
    api: ApiKey.OffsetForLeaderEpoch,
    versions: common(2),
    request: () => ({
      replicaId: -1,
      topics: [{ topic: topicA, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    }),
  });
  add({
    id: 'offset-for-leader-epoch.unknown',
    api: ApiKey.OffsetForLeaderEpoch,
    versions: common(2),
    request: () => ({
      replicaId: -1,
      topics: [{ topic: missing, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    }),
  });

  // ---------------------------------------------------------------- configs
  add({
    id: 'describe-configs.topic-keys',
    api: ApiKey.DescribeConfigs,
    versions: common(),
    request: () =>
      describeConfigs(TOPIC, topicB, ['retention.ms', 'cleanup.policy', 'segment.bytes', 'min.insync.replicas', 'compression.type']),
  });
  add({
    id: 'describe-configs.topic-synonyms',
    api: ApiKey.DescribeConfigs,
    versions: common(1),
    request: () => describeConfigs(TOPIC, topicB, ['retention.ms', 'max.message.bytes'], true),
  });
  add({
    id: 'describe-configs.unknown-topic',
    api: ApiKey.DescribeConfigs,
    versions: common(),
    request: () => describeConfigs(TOPIC, missing, null),
  });
  add({
    id: 'describe-configs.unknown-key',
    api: ApiKey.DescribeConfigs,
    versions: common(),
    request: () => describeConfigs(TOPIC, topicB, ['no.such.config']),
  });
  add({
    id: 'describe-configs.bad-resource-type',
    api: ApiKey.DescribeConfigs,
    versions: 4,
    request: () => describeConfigs(99, 'x', null),
  });
  add({
    id: 'describe-configs.broker-keys',
    api: ApiKey.DescribeConfigs,
    versions: 4,
    request: () =>
      describeConfigs(BROKER, '', ['num.partitions', 'default.replication.factor', 'auto.create.topics.enable', 'message.max.bytes']),
  });
  const alter = (configs: [string, string | null][], validateOnly = false) => ({
    resources: [{ resourceType: TOPIC, resourceName: topicB, configs: configs.map(([name, value]) => ({ name, value })) }],
    validateOnly,
  });
  add({
    id: 'alter-configs.valid',
    api: ApiKey.AlterConfigs,
    versions: common(),
    request: () =>
      alter([
        ['retention.ms', '7200000'],
        ['cleanup.policy', 'delete'],
      ]),
  });
  add({ id: 'alter-configs.bad-value', api: ApiKey.AlterConfigs, versions: common(), request: () => alter([['retention.ms', 'x']], true) });
  add({
    id: 'alter-configs.unknown-key',
    api: ApiKey.AlterConfigs,
    versions: common(),
    request: () => alter([['no.such.config', '1']], true),
  });
  const incAlter = (configs: [string, number, string | null][], name = topicB, validateOnly = false) => ({
    resources: [
      {
        resourceType: TOPIC,
        resourceName: name,
        configs: configs.map(([name, configOperation, value]) => ({ name, configOperation, value })),
      },
    ],
    validateOnly,
  });
  add({
    id: 'incremental-alter-configs.set',
    api: ApiKey.IncrementalAlterConfigs,
    versions: common(),
    request: () => incAlter([['retention.ms', 0, '5400000']]),
  });
  add({
    id: 'incremental-alter-configs.delete',
    api: ApiKey.IncrementalAlterConfigs,
    versions: common(),
    request: () => incAlter([['max.message.bytes', 1, null]]),
  });
  add({
    id: 'incremental-alter-configs.append-list',
    api: ApiKey.IncrementalAlterConfigs,
    versions: 1,
    request: () => incAlter([['cleanup.policy', 2, 'compact']], topicB, true),
  });
  add({
    id: 'incremental-alter-configs.append-scalar',
    api: ApiKey.IncrementalAlterConfigs,
    versions: 1,
    request: () => incAlter([['retention.ms', 2, '1']], topicB, true),
  });
  add({
    id: 'incremental-alter-configs.bad-op',
    api: ApiKey.IncrementalAlterConfigs,
    versions: 1,
    request: () => incAlter([['retention.ms', 7, '1']], topicB, true),
  });
  add({
    id: 'incremental-alter-configs.unknown-topic',
    api: ApiKey.IncrementalAlterConfigs,
    versions: 1,
    request: () => incAlter([['retention.ms', 0, '1']], missing, true),
  });
  add({
    id: 'incremental-alter-configs.bad-value',
    api: ApiKey.IncrementalAlterConfigs,
    versions: 1,
    request: () => incAlter([['retention.ms', 0, '-7']], topicB, true),
  });
  // Validation of every topic config, with Kafka's exact messages.
  const topicValues: [string, string][] = [
    ['compression.gzip.level', '0'],
    ['compression.gzip.level', '9'],
    ['compression.gzip.level', 'x'],
    ['compression.lz4.level', '18'],
    ['compression.zstd.level', '-131073'],
    ['errors.deadletterqueue.group.enable', 'maybe'],
    ['follower.replication.throttled.replicas', 'x'],
    ['follower.replication.throttled.replicas', '0:1,1:2'],
    ['leader.replication.throttled.replicas', '*'],
    ['local.retention.bytes', '-3'],
    ['local.retention.ms', '100'],
    ['max.decompressed.message.bytes', '0'],
    ['remote.copy.lag.bytes', '-2'],
    ['remote.copy.lag.ms', '-1'],
    ['remote.log.copy.disable', 'true'],
    ['remote.storage.enable', 'true'],
    ['retention.ms', '-2'],
    ['segment.bytes', '100'],
    ['cleanup.policy', 'compact,delete'],
    ['cleanup.policy', 'shred'],
    ['message.timestamp.type', 'LogAppendTime'],
    ['min.cleanable.dirty.ratio', '1.5'],
    ['max.message.bytes', '-1'],
  ];
  for (const [name, value] of topicValues)
    add({
      id: `incremental-alter-configs.value-${name}=${value}`,
      api: ApiKey.IncrementalAlterConfigs,
      versions: 1,
      keepMessages: true,
      request: () => incAlter([[name, 0, value]], topicB, true),
    });
  add({
    id: 'describe-configs.after-alter',
    api: ApiKey.DescribeConfigs,
    versions: 4,
    request: () => describeConfigs(TOPIC, topicB, ['retention.ms', 'cleanup.policy', 'max.message.bytes'], true),
  });

  // ---------------------------------------------------------------- partitions, records
  add({
    id: 'create-partitions.increase',
    api: ApiKey.CreatePartitions,
    versions: 3,
    request: () => ({ topics: [{ name: topicC, count: 3, assignments: null }], timeoutMs: 30_000, validateOnly: false }),
  });
  for (const [name, topic, count] of [
    ['same-count', topicC, 3],
    ['decrease', topicC, 2],
    ['unknown-topic', missing, 2],
    ['zero', topicC, 0],
  ] as const)
    add({
      id: `create-partitions.${name}`,
      api: ApiKey.CreatePartitions,
      versions: common(),
      request: () => ({ topics: [{ name: topic, count, assignments: null }], timeoutMs: 30_000, validateOnly: true }),
    });
  const deleteRecords = (topic: string, partition: number, offset: number) => ({
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset }] }],
    timeoutMs: 30_000,
  });
  add({ id: 'delete-records.beyond-hw', api: ApiKey.DeleteRecords, versions: common(), request: () => deleteRecords(topicA, 0, 999) });
  add({
    id: 'delete-records.unknown-partition',
    api: ApiKey.DeleteRecords,
    versions: common(),
    request: () => deleteRecords(topicA, 9, 0),
  });
  add({ id: 'delete-records.unknown-topic', api: ApiKey.DeleteRecords, versions: common(), request: () => deleteRecords(missing, 0, 0) });
  add({ id: 'delete-records.negative', api: ApiKey.DeleteRecords, versions: common(), request: () => deleteRecords(topicA, 1, -5) });
  add({ id: 'delete-records.one', api: ApiKey.DeleteRecords, versions: 2, request: () => deleteRecords(topicA, 0, 1) });
  add({ id: 'delete-records.to-hw', api: ApiKey.DeleteRecords, versions: 2, request: () => deleteRecords(topicA, 1, -1) });
  add({
    id: 'list-offsets.after-delete-records',
    api: ApiKey.ListOffsets,
    versions: common(1),
    request: () => listOffsets(topicA, [0, 1], -2),
  });
  add({ id: 'fetch.below-log-start', api: ApiKey.Fetch, versions: common(4), request: (s, v) => fetchOf(s, v, topicA, 0, 0) });

  // ---------------------------------------------------------------- coordinators and a classic group
  add({ id: 'find-coordinator.group', api: ApiKey.FindCoordinator, versions: common(0, 3), request: () => ({ key: group, keyType: 0 }) });
  add({ id: 'find-coordinator.txn', api: ApiKey.FindCoordinator, versions: common(1, 3), request: () => ({ key: txnId, keyType: 1 }) });
  add({
    id: 'find-coordinator.batch',
    api: ApiKey.FindCoordinator,
    versions: common(4),
    request: () => ({ keyType: 0, coordinatorKeys: [group, `${group}-2`] }),
  });
  add({
    id: 'find-coordinator.bad-key-type',
    api: ApiKey.FindCoordinator,
    versions: common(4),
    request: () => ({ keyType: 9, coordinatorKeys: [group] }),
  });

  const protocols = [{ name: 'range', metadata: Buffer.from([0, 0, 0, 0, 0, 1, 0, 1, 0x41, 0xff, 0xff, 0xff, 0xff]) }];
  const join = (_s: BrokerState, memberId: string) => ({
    groupId: group,
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 30_000,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols,
    reason: null,
  });
  add({
    id: 'join-group.member-id-required',
    api: ApiKey.JoinGroup,
    versions: 9,
    request: (s) => join(s, ''),
    after: (r, s) => s.values.set('memberId', r.memberId),
  });
  add({
    id: 'join-group.join',
    api: ApiKey.JoinGroup,
    versions: 9,
    request: (s) => join(s, String(s.values.get('memberId'))),
    after: (r, s) => s.values.set('generation', r.generationId),
  });
  add({ id: 'join-group.unknown-member', api: ApiKey.JoinGroup, versions: 9, request: (s) => join(s, 'nobody') });
  add({
    id: 'join-group.bad-session-timeout',
    api: ApiKey.JoinGroup,
    versions: 9,
    request: (s) => ({ ...join(s, ''), groupId: `${group}-timeouts`, sessionTimeoutMs: 1 }),
  });
  add({ id: 'join-group.empty-group-id', api: ApiKey.JoinGroup, versions: 9, request: (s) => ({ ...join(s, ''), groupId: '' }) });
  const sync = (s: BrokerState, generationId: number, assignments = true) => ({
    groupId: group,
    generationId,
    memberId: String(s.values.get('memberId')),
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: assignments
      ? [{ memberId: String(s.values.get('memberId')), assignment: Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }]
      : [],
  });
  add({
    id: 'sync-group.wrong-generation',
    api: ApiKey.SyncGroup,
    versions: 5,
    request: (s) => sync(s, Number(s.values.get('generation')) + 5),
  });
  add({ id: 'sync-group.leader', api: ApiKey.SyncGroup, versions: 5, request: (s) => sync(s, Number(s.values.get('generation'))) });
  add({
    id: 'sync-group.wrong-protocol',
    api: ApiKey.SyncGroup,
    versions: 5,
    request: (s) => ({ ...sync(s, Number(s.values.get('generation'))), protocolName: 'roundrobin' }),
  });
  const hb = (s: BrokerState, generationId: number, memberId = String(s.values.get('memberId'))) => ({
    groupId: group,
    generationId,
    memberId,
    groupInstanceId: null,
  });
  add({ id: 'heartbeat.ok', api: ApiKey.Heartbeat, versions: common(), request: (s) => hb(s, Number(s.values.get('generation'))) });
  add({ id: 'heartbeat.wrong-generation', api: ApiKey.Heartbeat, versions: common(), request: (s) => hb(s, 999) });
  add({
    id: 'heartbeat.unknown-member',
    api: ApiKey.Heartbeat,
    versions: common(),
    request: (s) => hb(s, Number(s.values.get('generation')), 'nobody'),
  });
  add({
    id: 'heartbeat.unknown-group',
    api: ApiKey.Heartbeat,
    versions: common(),
    request: (s) => ({ ...hb(s, 1), groupId: `${group}-none` }),
  });
  const commit = (s: BrokerState, generationId: number, offset: number, memberId = String(s.values.get('memberId')), groupId = group) => ({
    groupId,
    generationIdOrMemberEpoch: generationId,
    memberId,
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: topicA,
        topicId: s.topicIds.get(topicA),
        partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, committedMetadata: 'meta' }],
      },
    ],
  });
  add({
    id: 'offset-commit.member',
    api: ApiKey.OffsetCommit,
    versions: common(2),
    request: (s) => commit(s, Number(s.values.get('generation')), 2),
  });
  add({ id: 'offset-commit.wrong-generation', api: ApiKey.OffsetCommit, versions: common(2), request: (s) => commit(s, 77, 2) });
  add({
    id: 'offset-commit.unknown-member',
    api: ApiKey.OffsetCommit,
    versions: common(2),
    request: (s) => commit(s, Number(s.values.get('generation')), 2, 'nobody'),
  });
  add({
    id: 'offset-commit.simple-new-group',
    api: ApiKey.OffsetCommit,
    versions: common(2),
    request: (s) => commit(s, -1, 1, '', `${group}-simple`),
  });
  add({
    id: 'offset-commit.unknown-topic',
    api: ApiKey.OffsetCommit,
    versions: 8,
    request: (s) => ({
      ...commit(s, -1, 1, '', `${group}-simple`),
      topics: [
        { name: missing, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] },
      ],
    }),
  });
  add({
    id: 'offset-commit.big-metadata',
    api: ApiKey.OffsetCommit,
    versions: 8,
    request: (s) => {
      const c = commit(s, -1, 1, '', `${group}-simple`);
      c.topics[0]!.partitions[0]!.committedMetadata = 'm'.repeat(5000);
      return c;
    },
  });
  const offsetFetch = (groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null) => ({
    groupId,
    topics,
    requireStable: false,
    groups: [{ groupId, memberId: null, memberEpoch: -1, topics }],
  });
  add({
    id: 'offset-fetch.committed',
    api: ApiKey.OffsetFetch,
    versions: common(1),
    request: () => offsetFetch(group, [{ name: topicA, partitionIndexes: [0, 1] }]),
  });
  add({ id: 'offset-fetch.all', api: ApiKey.OffsetFetch, versions: common(2), request: () => offsetFetch(`${group}-simple`, null) });
  add({
    id: 'offset-fetch.unknown-group',
    api: ApiKey.OffsetFetch,
    versions: common(1),
    request: () => offsetFetch(`${group}-none`, [{ name: topicA, partitionIndexes: [0] }]),
  });
  add({
    id: 'offset-fetch.unknown-topic',
    api: ApiKey.OffsetFetch,
    versions: common(1),
    request: () => offsetFetch(group, [{ name: missing, partitionIndexes: [0] }]),
  });
  add({
    id: 'describe-groups.stable',
    api: ApiKey.DescribeGroups,
    versions: common(),
    request: () => ({ groups: [group], includeAuthorizedOperations: true }),
  });
  add({
    id: 'describe-groups.unknown',
    api: ApiKey.DescribeGroups,
    versions: common(),
    request: () => ({ groups: [`${group}-none`], includeAuthorizedOperations: false }),
  });
  add({ id: 'list-groups.all', api: ApiKey.ListGroups, versions: common(), request: () => ({ statesFilter: [], typesFilter: [] }) });
  add({
    id: 'list-groups.stable',
    api: ApiKey.ListGroups,
    versions: common(4),
    request: () => ({ statesFilter: ['Stable'], typesFilter: [] }),
  });
  add({
    id: 'list-groups.bad-state',
    api: ApiKey.ListGroups,
    versions: common(4),
    request: () => ({ statesFilter: ['Wobbly'], typesFilter: [] }),
  });
  add({
    id: 'offset-delete.subscribed',
    api: ApiKey.OffsetDelete,
    versions: common(),
    request: () => ({ groupId: group, topics: [{ name: topicA, partitions: [{ partitionIndex: 0 }] }] }),
  });
  add({
    id: 'leave-group.member',
    api: ApiKey.LeaveGroup,
    versions: 5,
    request: (s) => ({ groupId: group, members: [{ memberId: String(s.values.get('memberId')), groupInstanceId: null, reason: 'done' }] }),
  });
  add({
    id: 'leave-group.unknown-member',
    api: ApiKey.LeaveGroup,
    versions: 5,
    request: () => ({ groupId: group, members: [{ memberId: 'nobody', groupInstanceId: null }] }),
  });
  add({
    id: 'describe-groups.empty',
    api: ApiKey.DescribeGroups,
    versions: 5,
    request: () => ({ groups: [group], includeAuthorizedOperations: false }),
  });
  add({
    id: 'offset-delete.empty-group',
    api: ApiKey.OffsetDelete,
    versions: 0,
    request: () => ({ groupId: group, topics: [{ name: topicA, partitions: [{ partitionIndex: 0 }, { partitionIndex: 1 }] }] }),
  });
  add({
    id: 'delete-groups.groups',
    api: ApiKey.DeleteGroups,
    versions: common(),
    request: () => ({ groupsNames: [`${group}-simple`, `${group}-none`] }),
  });

  // ---------------------------------------------------------------- KIP-848 groups
  add({
    id: 'consumer-group-heartbeat.join',
    api: ApiKey.ConsumerGroupHeartbeat,
    versions: 0,
    request: () => ({
      groupId: `${group}-848`,
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: [topicA],
      serverAssignor: null,
      topicPartitions: [],
    }),
  });
  add({
    id: 'consumer-group-heartbeat.unknown-member',
    api: ApiKey.ConsumerGroupHeartbeat,
    versions: 0,
    request: () => ({ groupId: `${group}-848`, memberId: 'nobody', memberEpoch: 5, subscribedTopicNames: null, topicPartitions: null }),
  });
  add({
    id: 'consumer-group-heartbeat.bad-assignor',
    api: ApiKey.ConsumerGroupHeartbeat,
    versions: 0,
    request: () => ({
      groupId: `${group}-848b`,
      memberId: '',
      memberEpoch: 0,
      rebalanceTimeoutMs: 30_000,
      subscribedTopicNames: [topicA],
      serverAssignor: 'nope',
      topicPartitions: [],
    }),
  });
  add({
    id: 'consumer-group-describe.unknown',
    api: ApiKey.ConsumerGroupDescribe,
    versions: 0,
    request: () => ({ groupIds: [`${group}-none`], includeAuthorizedOperations: false }),
  });

  // ---------------------------------------------------------------- producers and transactions
  add({
    id: 'init-producer-id.idempotent',
    api: ApiKey.InitProducerId,
    versions: common(),
    request: () => ({ transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }),
  });
  add({
    id: 'init-producer-id.txn',
    api: ApiKey.InitProducerId,
    versions: 4,
    request: () => ({ transactionalId: txnId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }),
    after: (r, s) => {
      s.values.set('pid', r.producerId);
      s.values.set('epoch', r.producerEpoch);
    },
  });
  add({
    id: 'init-producer-id.bad-timeout',
    api: ApiKey.InitProducerId,
    versions: 4,
    request: () => ({ transactionalId: `${txnId}-2`, transactionTimeoutMs: 999_999_999, producerId: -1, producerEpoch: -1 }),
  });
  const pid = (s: BrokerState) => Number(s.values.get('pid'));
  const epoch = (s: BrokerState) => Number(s.values.get('epoch'));
  add({
    id: 'end-txn.not-begun',
    api: ApiKey.EndTxn,
    versions: 4,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s), committed: true }),
  });
  add({
    id: 'add-partitions-to-txn.wrong-epoch',
    api: ApiKey.AddPartitionsToTxn,
    versions: 3,
    request: (s) => ({
      v3AndBelowTransactionalId: txnId,
      v3AndBelowProducerId: pid(s),
      v3AndBelowProducerEpoch: epoch(s) + 3,
      v3AndBelowTopics: [{ name: topicTxn, partitions: [0] }],
    }),
  });
  add({
    id: 'add-partitions-to-txn.add',
    api: ApiKey.AddPartitionsToTxn,
    versions: 3,
    request: (s) => ({
      v3AndBelowTransactionalId: txnId,
      v3AndBelowProducerId: pid(s),
      v3AndBelowProducerEpoch: epoch(s),
      v3AndBelowTopics: [{ name: topicTxn, partitions: [0] }],
    }),
  });
  add({
    id: 'produce.transactional',
    api: ApiKey.Produce,
    versions: 9,
    request: (s) =>
      produce(topicTxn, 0, batch(2, { producerId: pid(s), producerEpoch: epoch(s), baseSequence: 0, transactional: true }), -1, txnId),
  });
  add({
    id: 'produce.transactional-duplicate',
    api: ApiKey.Produce,
    versions: 9,
    request: (s) =>
      produce(topicTxn, 0, batch(2, { producerId: pid(s), producerEpoch: epoch(s), baseSequence: 0, transactional: true }), -1, txnId),
  });
  add({
    id: 'produce.transactional-gap',
    api: ApiKey.Produce,
    versions: 9,
    request: (s) =>
      produce(topicTxn, 0, batch(1, { producerId: pid(s), producerEpoch: epoch(s), baseSequence: 7, transactional: true }), -1, txnId),
  });
  add({ id: 'list-offsets.txn-open', api: ApiKey.ListOffsets, versions: 9, request: () => listOffsets(topicTxn, [0], -1, 1) });
  add({ id: 'fetch.txn-read-committed', api: ApiKey.Fetch, versions: 12, request: (s, v) => fetchOf(s, v, topicTxn, 0, 0, 0, 1) });
  add({
    id: 'describe-transactions.ongoing',
    api: ApiKey.DescribeTransactions,
    versions: 0,
    request: () => ({ transactionalIds: [txnId, `${txnId}-none`] }),
  });
  add({
    id: 'list-transactions.all',
    api: ApiKey.ListTransactions,
    versions: common(),
    request: () => ({ stateFilters: [], producerIdFilters: [], durationFilter: -1 }),
  });
  add({
    id: 'list-transactions.ongoing',
    api: ApiKey.ListTransactions,
    versions: common(),
    request: () => ({ stateFilters: ['Ongoing'], producerIdFilters: [], durationFilter: -1 }),
  });
  add({
    id: 'list-transactions.bad-state',
    api: ApiKey.ListTransactions,
    versions: common(),
    request: () => ({ stateFilters: ['Sleeping'], producerIdFilters: [], durationFilter: -1 }),
  });
  add({
    id: 'describe-producers.txn',
    api: ApiKey.DescribeProducers,
    versions: 0,
    request: () => ({
      topics: [
        { name: topicTxn, partitionIndexes: [0, 5] },
        { name: missing, partitionIndexes: [0] },
      ],
    }),
  });
  add({
    id: 'add-offsets-to-txn.add',
    api: ApiKey.AddOffsetsToTxn,
    versions: 3,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s), groupId: `${group}-txn` }),
  });
  add({
    id: 'txn-offset-commit.commit',
    api: ApiKey.TxnOffsetCommit,
    versions: 3,
    request: (s) => ({
      transactionalId: txnId,
      groupId: `${group}-txn`,
      producerId: pid(s),
      producerEpoch: epoch(s),
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        { name: topicTxn, partitions: [{ partitionIndex: 0, committedOffset: 2, committedLeaderEpoch: -1, committedMetadata: null }] },
      ],
    }),
  });
  add({
    id: 'end-txn.wrong-epoch',
    api: ApiKey.EndTxn,
    versions: 4,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s) + 1, committed: true }),
  });
  add({
    id: 'end-txn.commit',
    api: ApiKey.EndTxn,
    versions: 4,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s), committed: true }),
  });
  add({
    id: 'end-txn.commit-again',
    api: ApiKey.EndTxn,
    versions: 4,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s), committed: true }),
  });
  add({
    id: 'end-txn.abort-after-commit',
    api: ApiKey.EndTxn,
    versions: 4,
    request: (s) => ({ transactionalId: txnId, producerId: pid(s), producerEpoch: epoch(s), committed: false }),
  });
  add({
    id: 'end-txn.unknown-id',
    api: ApiKey.EndTxn,
    versions: 4,
    request: () => ({ transactionalId: `${txnId}-none`, producerId: 5, producerEpoch: 0, committed: true }),
  });

  // ---------------------------------------------------------------- cluster, ACLs, reassignments
  add({
    id: 'describe-cluster.brokers',
    api: ApiKey.DescribeCluster,
    versions: common(),
    request: () => ({ includeClusterAuthorizedOperations: true, endpointType: 1, includeFencedBrokers: false }),
  });
  add({
    id: 'describe-cluster.controllers',
    api: ApiKey.DescribeCluster,
    versions: common(1),
    request: () => ({ includeClusterAuthorizedOperations: false, endpointType: 2, includeFencedBrokers: false }),
  });
  const aclFilter = {
    resourceTypeFilter: 1,
    resourceNameFilter: null,
    patternTypeFilter: 1,
    principalFilter: null,
    hostFilter: null,
    operation: 1,
    permissionType: 1,
  };
  add({ id: 'describe-acls.any', api: ApiKey.DescribeAcls, versions: common(1), request: () => aclFilter });
  add({
    id: 'create-acls.one',
    api: ApiKey.CreateAcls,
    versions: common(1),
    request: () => ({
      creations: [
        {
          resourceType: 2,
          resourceName: topicA,
          resourcePatternType: 3,
          principal: 'User:alice',
          host: '*',
          operation: 3,
          permissionType: 3,
        },
      ],
    }),
  });
  add({ id: 'delete-acls.any', api: ApiKey.DeleteAcls, versions: common(1), request: () => ({ filters: [aclFilter] }) });
  add({
    id: 'list-partition-reassignments.all',
    api: ApiKey.ListPartitionReassignments,
    versions: common(),
    request: () => ({ timeoutMs: 10_000, topics: null }),
  });
  add({
    id: 'alter-partition-reassignments.unknown',
    api: ApiKey.AlterPartitionReassignments,
    versions: 0,
    request: () => ({ timeoutMs: 10_000, topics: [{ name: missing, partitions: [{ partitionIndex: 0, replicas: [1] }] }] }),
  });
  add({
    id: 'elect-leaders.preferred',
    api: ApiKey.ElectLeaders,
    versions: common(1),
    request: () => ({ electionType: 0, topicPartitions: [{ topic: topicA, partitions: [0] }], timeoutMs: 10_000 }),
  });
  add({
    id: 'describe-log-dirs.topic',
    api: ApiKey.DescribeLogDirs,
    versions: common(1),
    request: () => ({ topics: [{ topic: missing, partitions: [0] }] }),
  });

  // ---------------------------------------------------------------- deletes, last
  add({ id: 'delete-topics.unknown', api: ApiKey.DeleteTopics, versions: common(), request: (_s, v) => deleteTopics([missing], v) });
  add({ id: 'delete-topics.delete', api: ApiKey.DeleteTopics, versions: 6, request: (_s, v) => deleteTopics([topicC], v) });
  add({
    id: 'metadata.after-delete',
    api: ApiKey.Metadata,
    versions: 12,
    request: (_s, v) => metadataOf([topicC], v),
    settled: (r) => r.topics[0]?.errorCode !== 0,
  });
  return x;
}

function deleteTopics(names: string[], v: number) {
  return v >= 6
    ? { topics: names.map((name) => ({ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' })), timeoutMs: 30_000 }
    : { topicNames: names, timeoutMs: 30_000 };
}
