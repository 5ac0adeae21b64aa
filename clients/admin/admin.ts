// The admin client: Kafka admin operations as plain typed objects. Each call has one deadline (`timeoutMs`,
// default `defaultApiTimeoutMs`) covering its retries; a retriable error (a moved leader or coordinator, a
// coordinator still loading, a lost connection) refreshes the routes and retries the whole call with back-off.
// Where Kafka answers per item (topic, partition, group, resource), the result has one entry per item with its
// own `error`; the call itself rejects only when nothing could be answered.
import { ApiKey, decodeConsumerProtocolAssignment } from '../../broker/protocol/generated/index.ts';
import type {
  ConsumerGroupDescribeResponse,
  CreatePartitionsResponse,
  CreateTopicsResponse,
  DeleteGroupsResponse,
  DeleteRecordsResponse,
  DeleteTopicsResponse,
  DescribeClusterResponse,
  DescribeConfigsResponse,
  DescribeGroupsResponse,
  IncrementalAlterConfigsResponse,
  ListGroupsResponse,
  ListOffsetsResponse,
  OffsetCommitResponse,
  OffsetDeleteResponse,
  OffsetFetchResponse,
} from '../../broker/protocol/generated/index.ts';
import { Reader } from '../../broker/protocol/wire/reader.ts';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Cluster } from './cluster.ts';
import type { BrokerAddress } from './cluster.ts';
import type { SaslOptions } from './sasl.ts';
import { AdminKafkaError, throwIfError } from './errors.ts';
import { defaultClientLimits } from './limits.ts';
import { producePartition, readPartition } from './messages.ts';
import * as security from './security.ts';
import type { AclBinding, AclFilter, QuotaEntity, QuotaEntry } from './security.ts';
import type { ScramMechanism } from './sasl.ts';
import * as txn from './transactions.ts';
import type { ListedTransaction, ProducerState, TransactionDescription } from './transactions.ts';
import type { ProduceInput, ReadResult } from './messages.ts';
import type { ClientLimits } from './limits.ts';

export interface AdminClientOptions {
  /** "host:port,host:port" or a list of "host:port". */
  bootstrap: string | readonly string[];
  clientId?: string;
  /** node:tls connection options (ca, cert, key, servername, rejectUnauthorized...); present means TLS. */
  tls?: TlsConnectionOptions;
  sasl?: SaslOptions;
  limits?: Partial<ClientLimits>;
}

export interface CallOptions {
  /** Deadline of the whole call, retries included (default `limits.defaultApiTimeoutMs`). */
  timeoutMs?: number;
}

export const ConfigResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, GROUP: 32 } as const;
export type ConfigResourceTypeName = keyof typeof ConfigResourceType;
const configResourceNames = new Map<number, ConfigResourceTypeName>(
  Object.entries(ConfigResourceType).map(([k, v]) => [v, k as ConfigResourceTypeName]),
);
const configSourceNames = [
  'UNKNOWN',
  'DYNAMIC_TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
];
const alterOps = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

/** Which offset ListOffsets looks up: a spec name or a timestamp (ms). */
export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | { timestampMs: number };
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface ClusterDescription {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerAddress[];
}

export interface PartitionDescription {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  error: AdminKafkaError | null;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  isInternal: boolean;
  partitions: PartitionDescription[];
  /** Present when `includeConfigs` was asked. */
  configs?: ConfigEntry[];
  error: AdminKafkaError | null;
}

export interface NewTopic {
  name: string;
  /** -1 (default) takes the broker's num.partitions. */
  partitions?: number;
  /** -1 (default) takes the broker's default.replication.factor. */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface TopicResult {
  name: string;
  topicId?: string;
  error: AdminKafkaError | null;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  source: string;
  isDefault: boolean;
  readOnly: boolean;
  isSensitive: boolean;
  synonyms: { name: string; value: string | null; source: string }[];
}

export interface ConfigResource {
  type: ConfigResourceTypeName;
  name: string;
}

export interface ConfigDescription extends ConfigResource {
  configs: ConfigEntry[];
  error: AdminKafkaError | null;
}

export interface ConfigAlteration {
  name: string;
  op?: keyof typeof alterOps;
  value?: string | null;
}

export interface ConfigAlterResult extends ConfigResource {
  error: AdminKafkaError | null;
}

export interface ListedOffset extends TopicPartition {
  offset: number;
  timestampMs: number;
  leaderEpoch: number;
  error: AdminKafkaError | null;
}

export interface PartitionOffsets {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  logStartOffset: number;
  highWatermark: number;
  lastStableOffset: number;
  error: AdminKafkaError | null;
}

export interface ListedGroup {
  groupId: string;
  protocolType: string;
  state: string;
  type: string;
}

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  /** Assigned partitions (decoded from the consumer protocol for classic consumer groups). */
  assignment: TopicPartition[];
}

export interface GroupDescription {
  groupId: string;
  /** 'classic' or 'consumer'. */
  type: string;
  state: string;
  protocolType: string;
  /** The assignor (classic: the protocol chosen; consumer: the server assignor). */
  assignor: string;
  groupEpoch?: number;
  members: GroupMember[];
  error: AdminKafkaError | null;
}

export interface CommittedOffset extends TopicPartition {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  error: AdminKafkaError | null;
}

export interface PartitionLag extends TopicPartition {
  committedOffset: number;
  endOffset: number;
  lag: number;
}

export interface PartitionResult extends TopicPartition {
  error: AdminKafkaError | null;
}

export interface GroupResult {
  groupId: string;
  error: AdminKafkaError | null;
}

function itemError(code: number, message: string | null | undefined, context?: string): AdminKafkaError | null {
  return code === 0 ? null : new AdminKafkaError(code, message, context);
}

function specTimestamp(spec: OffsetSpec): number {
  if (spec === 'earliest') return -2;
  if (spec === 'latest') return -1;
  if (spec === 'max-timestamp') return -3;
  return spec.timestampMs;
}

function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const i of items) {
    const k = key(i);
    const a = m.get(k);
    if (a) a.push(i);
    else m.set(k, [i]);
  }
  return m;
}

function byTopic(parts: readonly TopicPartition[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const p of parts) {
    const a = m.get(p.topic);
    if (a) a.push(p.partition);
    else m.set(p.topic, [p.partition]);
  }
  return m;
}

/** Decodes a consumer protocol assignment (int16 version, then the struct); [] when empty or not decodable. */
export function decodeAssignment(bytes: Buffer): TopicPartition[] {
  if (bytes.length < 2) return [];
  try {
    const r = new Reader(bytes);
    const version = Math.min(r.int16(), 3);
    const a = decodeConsumerProtocolAssignment(r, version);
    return a.assignedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
  } catch {
    return [];
  }
}

export class AdminClient {
  readonly limits: ClientLimits;
  private readonly cluster: Cluster;

  constructor(options: AdminClientOptions) {
    this.limits = { ...defaultClientLimits, ...options.limits };
    this.cluster = new Cluster(options.bootstrap, {
      clientId: options.clientId ?? 'skafos-admin',
      tls: options.tls,
      sasl: options.sasl,
      limits: this.limits,
    });
  }

  close(): void {
    this.cluster.close();
  }

  // ---- cluster and topics ----

  async describeCluster(opts: CallOptions = {}): Promise<ClusterDescription> {
    return this.cluster.withRetries('describeCluster', opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.any(deadline);
      if (c.versionFor(ApiKey.DescribeCluster) >= 0) {
        const { body } = await c.request<DescribeClusterResponse>(ApiKey.DescribeCluster, () => ({}), deadline);
        throwIfError(body.errorCode, body.errorMessage, 'DescribeCluster');
        return {
          clusterId: body.clusterId,
          controllerId: body.controllerId,
          brokers: body.brokers.map((b) => ({ nodeId: b.brokerId, host: b.host, port: b.port, rack: b.rack })),
        };
      }
      await this.cluster.refreshMetadata([], deadline);
      return { clusterId: this.cluster.clusterId, controllerId: this.cluster.controllerId, brokers: [...this.cluster.brokers.values()] };
    });
  }

  /** Topic names (internal topics only with `includeInternal`), sorted. */
  async listTopics(opts: CallOptions & { includeInternal?: boolean } = {}): Promise<string[]> {
    return this.cluster.withRetries('listTopics', opts.timeoutMs, async (deadline) => {
      const md = await this.cluster.refreshMetadata(null, deadline);
      return md.topics
        .filter((t) => t.errorCode === 0 && t.name !== null && (opts.includeInternal || !t.isInternal))
        .map((t) => t.name!)
        .sort();
    });
  }

  async describeTopics(names: string[], opts: CallOptions & { includeConfigs?: boolean } = {}): Promise<TopicDescription[]> {
    const topics = await this.cluster.withRetries('describeTopics', opts.timeoutMs, async (deadline) => {
      const md = await this.cluster.refreshMetadata(names, deadline);
      return names.map((name): TopicDescription => {
        const t = md.topics.find((x) => x.name === name);
        if (!t) return { name, topicId: '', isInternal: false, partitions: [], error: new AdminKafkaError(3, null, name) };
        const partitions = t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leaderId: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas,
            error: itemError(p.errorCode, null),
          }))
          .sort((a, b) => a.partition - b.partition);
        return { name, topicId: t.topicId, isInternal: t.isInternal, partitions, error: itemError(t.errorCode, null, name) };
      });
    });
    if (opts.includeConfigs) {
      const ok = topics.filter((t) => t.error === null);
      const configs = await this.describeConfigs(
        ok.map((t) => ({ type: 'TOPIC' as const, name: t.name })),
        opts,
      );
      for (const t of ok) t.configs = configs.find((c) => c.name === t.name)?.configs ?? [];
    }
    return topics;
  }

  async createTopics(topics: NewTopic[], opts: CallOptions & { validateOnly?: boolean } = {}): Promise<TopicResult[]> {
    return this.cluster.withRetries('createTopics', opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.any(deadline);
      const { body } = await c.request<CreateTopicsResponse>(
        ApiKey.CreateTopics,
        () => ({
          topics: topics.map((t) => ({
            name: t.name,
            numPartitions: t.partitions ?? -1,
            replicationFactor: t.replicationFactor ?? -1,
            assignments: [],
            configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
          })),
          timeoutMs: Math.max(0, deadline - Date.now()),
          validateOnly: opts.validateOnly ?? false,
        }),
        deadline,
      );
      return body.topics.map((t) => ({ name: t.name, topicId: t.topicId, error: itemError(t.errorCode, t.errorMessage, t.name) }));
    });
  }

  async deleteTopics(names: string[], opts: CallOptions = {}): Promise<TopicResult[]> {
    return this.cluster.withRetries('deleteTopics', opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.any(deadline);
      const { body } = await c.request<DeleteTopicsResponse>(
        ApiKey.DeleteTopics,
        (v) => ({
          ...(v >= 6 ? { topics: names.map((name) => ({ name })) } : { topicNames: names }),
          timeoutMs: Math.max(0, deadline - Date.now()),
        }),
        deadline,
      );
      return body.responses.map((t) => ({
        name: t.name ?? '',
        topicId: t.topicId,
        error: itemError(t.errorCode, t.errorMessage, t.name ?? ''),
      }));
    });
  }

  /** Raises topics' partition counts to `count` (Kafka refuses a decrease with INVALID_PARTITIONS). */
  async createPartitions(
    increases: { topic: string; count: number }[],
    opts: CallOptions & { validateOnly?: boolean } = {},
  ): Promise<TopicResult[]> {
    return this.cluster.withRetries('createPartitions', opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.any(deadline);
      const { body } = await c.request<CreatePartitionsResponse>(
        ApiKey.CreatePartitions,
        () => ({
          topics: increases.map((i) => ({ name: i.topic, count: i.count, assignments: null })),
          timeoutMs: Math.max(0, deadline - Date.now()),
          validateOnly: opts.validateOnly ?? false,
        }),
        deadline,
      );
      return body.results.map((r) => ({ name: r.name, error: itemError(r.errorCode, r.errorMessage, r.name) }));
    });
  }

  // ---- configs ----

  /** Configs of topics, brokers and groups; `keys` limits the names returned. BROKER resources go to that broker. */
  async describeConfigs(
    resources: ConfigResource[],
    opts: CallOptions & { keys?: string[]; synonyms?: boolean } = {},
  ): Promise<ConfigDescription[]> {
    return this.cluster.withRetries('describeConfigs', opts.timeoutMs, async (deadline) => {
      const out: ConfigDescription[] = [];
      const groups = groupBy(resources, (r) => (r.type === 'BROKER' || r.type === 'BROKER_LOGGER' ? r.name : ''));
      for (const [target, items] of groups) {
        const c =
          target === '' || !/^\d+$/.test(target) ? await this.cluster.any(deadline) : await this.cluster.node(Number(target), deadline);
        const { body } = await c.request<DescribeConfigsResponse>(
          ApiKey.DescribeConfigs,
          () => ({
            resources: items.map((r) => ({
              resourceType: ConfigResourceType[r.type],
              resourceName: r.name,
              configurationKeys: opts.keys ?? null,
            })),
            includeSynonyms: opts.synonyms ?? false,
            includeDocumentation: false,
          }),
          deadline,
        );
        for (const r of body.results) {
          out.push({
            type: configResourceNames.get(r.resourceType) ?? 'TOPIC',
            name: r.resourceName,
            error: itemError(r.errorCode, r.errorMessage, r.resourceName),
            configs: r.configs.map((e) => ({
              name: e.name,
              value: e.value,
              source: configSourceNames[e.configSource] ?? 'UNKNOWN',
              isDefault: e.configSource === 5,
              readOnly: e.readOnly,
              isSensitive: e.isSensitive,
              synonyms: e.synonyms.map((s) => ({ name: s.name, value: s.value, source: configSourceNames[s.source] ?? 'UNKNOWN' })),
            })),
          });
        }
      }
      return out;
    });
  }

  async incrementalAlterConfigs(
    changes: (ConfigResource & { configs: ConfigAlteration[] })[],
    opts: CallOptions & { validateOnly?: boolean } = {},
  ): Promise<ConfigAlterResult[]> {
    return this.cluster.withRetries('incrementalAlterConfigs', opts.timeoutMs, async (deadline) => {
      const out: ConfigAlterResult[] = [];
      const groups = groupBy(changes, (r) => (r.type === 'BROKER' || r.type === 'BROKER_LOGGER' ? r.name : ''));
      for (const [target, items] of groups) {
        const c =
          target === '' || !/^\d+$/.test(target) ? await this.cluster.any(deadline) : await this.cluster.node(Number(target), deadline);
        const { body } = await c.request<IncrementalAlterConfigsResponse>(
          ApiKey.IncrementalAlterConfigs,
          () => ({
            resources: items.map((r) => ({
              resourceType: ConfigResourceType[r.type],
              resourceName: r.name,
              configs: r.configs.map((a) => ({ name: a.name, configOperation: alterOps[a.op ?? 'SET'], value: a.value ?? null })),
            })),
            validateOnly: opts.validateOnly ?? false,
          }),
          deadline,
        );
        for (const r of body.responses) {
          out.push({
            type: configResourceNames.get(r.resourceType) ?? 'TOPIC',
            name: r.resourceName,
            error: itemError(r.errorCode, r.errorMessage, r.resourceName),
          });
        }
      }
      return out;
    });
  }

  // ---- offsets and records ----

  /** ListOffsets to each partition's leader; per-partition results in the order asked. */
  async listOffsets(
    partitions: (TopicPartition & { spec: OffsetSpec })[],
    opts: CallOptions & { isolation?: IsolationLevel } = {},
  ): Promise<ListedOffset[]> {
    return this.cluster.withRetries('listOffsets', opts.timeoutMs, (deadline) =>
      this.listOffsetsOnce(partitions, opts.isolation ?? 'read_uncommitted', deadline),
    );
  }

  private async listOffsetsOnce(
    partitions: (TopicPartition & { spec: OffsetSpec })[],
    isolation: IsolationLevel,
    deadline: number,
  ): Promise<ListedOffset[]> {
    // A request may name a partition once: the n-th spec asked for a partition goes in the n-th round.
    const results: (ListedOffset | undefined)[] = new Array(partitions.length);
    const seen = new Map<string, number>();
    const rounds: { i: number; p: TopicPartition & { spec: OffsetSpec }; leaderId: number; leaderEpoch: number }[][] = [];
    for (const [i, p] of partitions.entries()) {
      const key = `${p.topic}\0${p.partition}`;
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      try {
        const r = await this.cluster.leaderOf(p.topic, p.partition, deadline);
        (rounds[n] ??= []).push({ i, p, ...r });
      } catch (e) {
        if (e instanceof AdminKafkaError && e.code === 3) {
          results[i] = { topic: p.topic, partition: p.partition, offset: -1, timestampMs: -1, leaderEpoch: -1, error: e };
        } else throw e;
      }
    }
    for (const round of rounds) {
      await Promise.all(
        [...groupBy(round, (r) => r.leaderId)].map(async ([leaderId, items]) => {
          const c = await this.cluster.node(leaderId, deadline);
          const { body } = await c.request<ListOffsetsResponse>(
            ApiKey.ListOffsets,
            () => ({
              replicaId: -1,
              isolationLevel: isolation === 'read_committed' ? 1 : 0,
              topics: [...groupBy(items, (i) => i.p.topic)].map(([name, ps]) => ({
                name,
                partitions: ps.map((i) => ({
                  partitionIndex: i.p.partition,
                  currentLeaderEpoch: i.leaderEpoch,
                  timestamp: specTimestamp(i.p.spec),
                })),
              })),
            }),
            deadline,
          );
          for (const t of body.topics) {
            for (const p of t.partitions) {
              const error = itemError(p.errorCode, null, `${t.name}-${p.partitionIndex}`);
              if (error?.retriable) throw error;
              const item = items.find((i) => i.p.topic === t.name && i.p.partition === p.partitionIndex);
              if (!item) continue;
              results[item.i] = {
                topic: t.name,
                partition: p.partitionIndex,
                offset: p.offset,
                timestampMs: p.timestamp,
                leaderEpoch: p.leaderEpoch,
                error,
              };
            }
          }
        }),
      );
    }
    return partitions.map(
      (p, i) =>
        results[i] ?? {
          topic: p.topic,
          partition: p.partition,
          offset: -1,
          timestampMs: -1,
          leaderEpoch: -1,
          error: new AdminKafkaError(-1, 'no answer for this partition'),
        },
    );
  }

  /** For a topic page: each partition's leader, log start offset, high watermark and last stable offset. */
  async topicOffsets(topic: string, opts: CallOptions = {}): Promise<PartitionOffsets[]> {
    return this.cluster.withRetries('topicOffsets', opts.timeoutMs, async (deadline) => {
      const md = await this.cluster.refreshMetadata([topic], deadline);
      const t = md.topics.find((x) => x.name === topic);
      if (!t) throw new AdminKafkaError(3, null, topic);
      throwIfError(t.errorCode, null, topic);
      const ps = t.partitions.map((p) => ({ topic, partition: p.partitionIndex })).sort((a, b) => a.partition - b.partition);
      const [start, end, stable] = await Promise.all([
        this.listOffsetsOnce(
          ps.map((p) => ({ ...p, spec: 'earliest' as const })),
          'read_uncommitted',
          deadline,
        ),
        this.listOffsetsOnce(
          ps.map((p) => ({ ...p, spec: 'latest' as const })),
          'read_uncommitted',
          deadline,
        ),
        this.listOffsetsOnce(
          ps.map((p) => ({ ...p, spec: 'latest' as const })),
          'read_committed',
          deadline,
        ),
      ]);
      return ps.map((p, i) => {
        const meta = t.partitions.find((x) => x.partitionIndex === p.partition)!;
        return {
          partition: p.partition,
          leaderId: meta.leaderId,
          leaderEpoch: meta.leaderEpoch,
          logStartOffset: start[i]!.offset,
          highWatermark: end[i]!.offset,
          lastStableOffset: stable[i]!.offset,
          error: start[i]!.error ?? end[i]!.error ?? stable[i]!.error,
        };
      });
    });
  }

  /** Deletes records before `offset` (-1: the high watermark); resolves with each partition's new low watermark. */
  async deleteRecords(
    partitions: (TopicPartition & { offset: number })[],
    opts: CallOptions = {},
  ): Promise<(PartitionResult & { lowWatermark: number })[]> {
    return this.cluster.withRetries('deleteRecords', opts.timeoutMs, async (deadline) => {
      const routed = await Promise.all(
        partitions.map(async (p) => ({ p, ...(await this.cluster.leaderOf(p.topic, p.partition, deadline)) })),
      );
      const results = new Map<string, PartitionResult & { lowWatermark: number }>();
      await Promise.all(
        [...groupBy(routed, (r) => r.leaderId)].map(async ([leaderId, items]) => {
          const c = await this.cluster.node(leaderId, deadline);
          const { body } = await c.request<DeleteRecordsResponse>(
            ApiKey.DeleteRecords,
            () => ({
              topics: [...groupBy(items, (i) => i.p.topic)].map(([name, ps]) => ({
                name,
                partitions: ps.map((i) => ({ partitionIndex: i.p.partition, offset: i.p.offset })),
              })),
              timeoutMs: Math.max(0, deadline - Date.now()),
            }),
            deadline,
          );
          for (const t of body.topics) {
            for (const p of t.partitions) {
              const error = itemError(p.errorCode, null, `${t.name}-${p.partitionIndex}`);
              if (error?.retriable) throw error;
              results.set(`${t.name}\0${p.partitionIndex}`, {
                topic: t.name,
                partition: p.partitionIndex,
                lowWatermark: p.lowWatermark,
                error,
              });
            }
          }
        }),
      );
      return partitions.map((p) => results.get(`${p.topic}\0${p.partition}`)!);
    });
  }

  // ---- groups ----

  /** Groups of every broker (ListGroups is answered per broker). */
  async listGroups(opts: CallOptions & { states?: string[]; types?: string[] } = {}): Promise<ListedGroup[]> {
    return this.cluster.withRetries('listGroups', opts.timeoutMs, async (deadline) => {
      await this.cluster.refreshMetadata([], deadline);
      const all = await Promise.all(
        [...this.cluster.brokers.keys()].map(async (id) => {
          const c = await this.cluster.node(id, deadline);
          const { body } = await c.request<ListGroupsResponse>(
            ApiKey.ListGroups,
            (v) => ({ statesFilter: opts.states ?? [], ...(v >= 5 ? { typesFilter: opts.types ?? [] } : {}) }),
            deadline,
          );
          throwIfError(body.errorCode, null, `ListGroups on broker ${id}`);
          return body.groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, state: g.groupState, type: g.groupType }));
        }),
      );
      return all.flat().sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    });
  }

  /** Describes groups of both protocols: ConsumerGroupDescribe first, DescribeGroups for classic groups. */
  async describeGroups(groupIds: string[], opts: CallOptions = {}): Promise<GroupDescription[]> {
    return Promise.all(
      groupIds.map((g) =>
        this.cluster.withRetries(`describeGroups(${g})`, opts.timeoutMs, (deadline) => this.describeGroupOnce(g, deadline)),
      ),
    );
  }

  private async describeGroupOnce(groupId: string, deadline: number): Promise<GroupDescription> {
    const c = await this.cluster.coordinator(0, groupId, deadline);
    if (c.versionFor(ApiKey.ConsumerGroupDescribe) >= 0) {
      const { body } = await c.request<ConsumerGroupDescribeResponse>(
        ApiKey.ConsumerGroupDescribe,
        () => ({ groupIds: [groupId] }),
        deadline,
      );
      const g = body.groups[0];
      if (g && g.errorCode === 0) {
        return {
          groupId,
          type: 'consumer',
          state: g.groupState,
          protocolType: 'consumer',
          assignor: g.assignorName,
          groupEpoch: g.groupEpoch,
          members: g.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.instanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            assignment: m.assignment.topicPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topicName, partition }))),
          })),
          error: null,
        };
      }
      // GROUP_ID_NOT_FOUND (69) covers classic groups too: DescribeGroups answers for those.
      if (g && g.errorCode !== 69) {
        const error = itemError(g.errorCode, g.errorMessage, groupId);
        if (error?.retriable) throw error;
        return { groupId, type: 'consumer', state: 'Unknown', protocolType: '', assignor: '', members: [], error };
      }
    }
    const { body } = await c.request<DescribeGroupsResponse>(ApiKey.DescribeGroups, () => ({ groups: [groupId] }), deadline);
    const g = body.groups[0]!;
    const error = itemError(g.errorCode, g.errorMessage, groupId);
    if (error?.retriable) throw error;
    const consumer = g.protocolType === 'consumer' || g.protocolType === '';
    return {
      groupId,
      type: 'classic',
      state: g.groupState,
      protocolType: g.protocolType,
      assignor: g.protocolData,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        assignment: consumer ? decodeAssignment(m.memberAssignment) : [],
      })),
      error,
    };
  }

  /** Committed offsets of a group (all its partitions, or `partitions`). */
  async listConsumerGroupOffsets(
    groupId: string,
    opts: CallOptions & { partitions?: TopicPartition[]; requireStable?: boolean } = {},
  ): Promise<CommittedOffset[]> {
    return this.cluster.withRetries(`listConsumerGroupOffsets(${groupId})`, opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.coordinator(0, groupId, deadline);
      const topics = opts.partitions ? [...byTopic(opts.partitions)].map(([name, partitionIndexes]) => ({ name, partitionIndexes })) : null;
      const { version, body } = await c.request<OffsetFetchResponse>(
        ApiKey.OffsetFetch,
        (v) =>
          v >= 8
            ? { groups: [{ groupId, topics }], requireStable: opts.requireStable ?? false }
            : { groupId, topics, ...(v >= 7 ? { requireStable: opts.requireStable ?? false } : {}) },
        deadline,
      );
      const group = version >= 8 ? body.groups[0]! : { errorCode: body.errorCode, topics: body.topics };
      const groupError = itemError(group.errorCode, null, groupId);
      if (groupError) throw groupError;
      const out: CommittedOffset[] = [];
      for (const t of group.topics) {
        for (const p of t.partitions) {
          const error = itemError(p.errorCode, null, `${t.name}-${p.partitionIndex}`);
          if (error?.retriable) throw error;
          out.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            leaderEpoch: p.committedLeaderEpoch,
            metadata: p.metadata,
            error,
          });
        }
      }
      return out.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
    });
  }

  /** Commits offsets for a group with no active members (Kafka refuses it while members are in it). */
  async alterConsumerGroupOffsets(
    groupId: string,
    offsets: (TopicPartition & { offset: number; metadata?: string })[],
    opts: CallOptions = {},
  ): Promise<PartitionResult[]> {
    return this.cluster.withRetries(`alterConsumerGroupOffsets(${groupId})`, opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.coordinator(0, groupId, deadline);
      const { body } = await c.request<OffsetCommitResponse>(
        ApiKey.OffsetCommit,
        () => ({
          groupId,
          generationIdOrMemberEpoch: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [...groupBy(offsets, (o) => o.topic)].map(([name, ps]) => ({
            name,
            partitions: ps.map((p) => ({
              partitionIndex: p.partition,
              committedOffset: p.offset,
              committedLeaderEpoch: -1,
              committedMetadata: p.metadata ?? null,
            })),
          })),
        }),
        deadline,
      );
      const out: PartitionResult[] = [];
      for (const t of body.topics) {
        for (const p of t.partitions) {
          const error = itemError(p.errorCode, null, `${groupId} ${t.name}-${p.partitionIndex}`);
          if (error?.retriable) throw error;
          out.push({ topic: t.name, partition: p.partitionIndex, error });
        }
      }
      return out;
    });
  }

  /** Deletes a group's committed offsets for partitions no member is subscribed to. */
  async deleteConsumerGroupOffsets(groupId: string, partitions: TopicPartition[], opts: CallOptions = {}): Promise<PartitionResult[]> {
    return this.cluster.withRetries(`deleteConsumerGroupOffsets(${groupId})`, opts.timeoutMs, async (deadline) => {
      const c = await this.cluster.coordinator(0, groupId, deadline);
      const { body } = await c.request<OffsetDeleteResponse>(
        ApiKey.OffsetDelete,
        () => ({
          groupId,
          topics: [...byTopic(partitions)].map(([name, ps]) => ({ name, partitions: ps.map((partitionIndex) => ({ partitionIndex })) })),
        }),
        deadline,
      );
      const top = itemError(body.errorCode, null, groupId);
      if (top) throw top;
      const out: PartitionResult[] = [];
      for (const t of body.topics) {
        for (const p of t.partitions) {
          const error = itemError(p.errorCode, null, `${groupId} ${t.name}-${p.partitionIndex}`);
          if (error?.retriable) throw error;
          out.push({ topic: t.name, partition: p.partitionIndex, error });
        }
      }
      return out;
    });
  }

  async deleteGroups(groupIds: string[], opts: CallOptions = {}): Promise<GroupResult[]> {
    return Promise.all(
      groupIds.map((groupId) =>
        this.cluster.withRetries(`deleteGroups(${groupId})`, opts.timeoutMs, async (deadline) => {
          const c = await this.cluster.coordinator(0, groupId, deadline);
          const { body } = await c.request<DeleteGroupsResponse>(ApiKey.DeleteGroups, () => ({ groupsNames: [groupId] }), deadline);
          const r = body.results[0]!;
          const error = itemError(r.errorCode, r.errorMessage, groupId);
          if (error?.retriable) throw error;
          return { groupId, error };
        }),
      ),
    );
  }

  /** A group's lag: committed offsets against end offsets (the high watermark, or the LSO for read_committed). */
  async consumerGroupLag(
    groupId: string,
    opts: CallOptions & { isolation?: IsolationLevel } = {},
  ): Promise<{ partitions: PartitionLag[]; totalLag: number }> {
    const committed = (await this.listConsumerGroupOffsets(groupId, opts)).filter((c) => c.error === null && c.offset >= 0);
    const ends = await this.listOffsets(
      committed.map((c) => ({ topic: c.topic, partition: c.partition, spec: 'latest' as const })),
      opts,
    );
    const partitions = committed.map((c, i) => {
      const endOffset = ends[i]!.error ? -1 : ends[i]!.offset;
      return {
        topic: c.topic,
        partition: c.partition,
        committedOffset: c.offset,
        endOffset,
        lag: endOffset < 0 ? 0 : Math.max(0, endOffset - c.offset),
      };
    });
    return { partitions, totalLag: partitions.reduce((s, p) => s + p.lag, 0) };
  }

  // ---- messages ----

  /**
   * Reads up to `maxRecords` records of one partition from an offset, the earliest offset, or the first offset
   * at or after a timestamp, fetching at most `maxBytes` bytes of record data (both capped by the limits).
   * Keys, values and header values are copies (they do not hold the fetch response). Control records are skipped.
   * read_committed stops at the last stable offset and skips the records of aborted transactions.
   */
  async readMessages(
    topic: string,
    partition: number,
    opts: CallOptions & {
      from: { offset: number } | { timestampMs: number } | 'earliest' | 'latest';
      /** read_committed reads up to the last stable offset and leaves out aborted transactions' records. */
      isolation?: IsolationLevel;
      maxRecords: number;
      maxBytes?: number;
    },
  ): Promise<ReadResult> {
    return this.cluster.withRetries(`readMessages(${topic}-${partition})`, opts.timeoutMs, async (deadline) => {
      let start: number;
      if (typeof opts.from === 'object' && 'offset' in opts.from) start = opts.from.offset;
      else {
        const spec: OffsetSpec = typeof opts.from === 'object' ? { timestampMs: opts.from.timestampMs } : opts.from;
        const [r] = await this.listOffsetsOnce([{ topic, partition, spec }], opts.isolation ?? 'read_uncommitted', deadline);
        if (r!.error) throw r!.error;
        if (r!.offset < 0) {
          // no record at or after the timestamp: start at the end
          const [end] = await this.listOffsetsOnce([{ topic, partition, spec: 'latest' }], opts.isolation ?? 'read_uncommitted', deadline);
          if (end!.error) throw end!.error;
          start = end!.offset;
        } else start = r!.offset;
      }
      return readPartition(
        this.cluster,
        this.limits,
        topic,
        partition,
        start,
        opts.maxRecords,
        opts.maxBytes ?? this.limits.maxReadBytes,
        deadline,
        opts.isolation === 'read_committed',
      );
    });
  }

  /** Produces a few records to one partition in one batch (acks=all, not idempotent: a retry may duplicate them). */
  async produce(
    topic: string,
    partition: number,
    records: ProduceInput[],
    opts: CallOptions = {},
  ): Promise<{ baseOffset: number; logAppendTimeMs: number }> {
    return this.cluster.withRetries(`produce(${topic}-${partition})`, opts.timeoutMs, (deadline) =>
      producePartition(this.cluster, topic, partition, records, deadline),
    );
  }

  // ---- security ----

  async describeAcls(filter: AclFilter = {}, opts: CallOptions = {}): Promise<AclBinding[]> {
    return this.cluster.withRetries('describeAcls', opts.timeoutMs, (d) => security.describeAcls(this.cluster, filter, d));
  }

  async createAcls(acls: AclBinding[], opts: CallOptions = {}): Promise<{ acl: AclBinding; error: AdminKafkaError | null }[]> {
    return this.cluster.withRetries('createAcls', opts.timeoutMs, (d) => security.createAcls(this.cluster, acls, d));
  }

  async deleteAcls(
    filters: AclFilter[],
    opts: CallOptions = {},
  ): Promise<{ filter: AclFilter; deleted: AclBinding[]; error: AdminKafkaError | null }[]> {
    return this.cluster.withRetries('deleteAcls', opts.timeoutMs, (d) => security.deleteAcls(this.cluster, filters, d));
  }

  async describeClientQuotas(
    components: { entityType: string; match?: string | null; matchType?: 'EXACT' | 'DEFAULT' | 'SPECIFIED' }[],
    opts: CallOptions & { strict?: boolean } = {},
  ): Promise<QuotaEntry[]> {
    return this.cluster.withRetries('describeClientQuotas', opts.timeoutMs, (d) =>
      security.describeClientQuotas(this.cluster, components, opts.strict ?? false, d),
    );
  }

  async alterClientQuotas(
    entries: { entity: QuotaEntity; set?: Record<string, number>; remove?: string[] }[],
    opts: CallOptions & { validateOnly?: boolean } = {},
  ): Promise<{ entity: QuotaEntity; error: AdminKafkaError | null }[]> {
    return this.cluster.withRetries('alterClientQuotas', opts.timeoutMs, (d) =>
      security.alterClientQuotas(this.cluster, entries, opts.validateOnly ?? false, d),
    );
  }

  /** SCRAM credentials of `users` (null: every user). */
  async describeUserScramCredentials(users: string[] | null = null, opts: CallOptions = {}) {
    return this.cluster.withRetries('describeUserScramCredentials', opts.timeoutMs, (d) =>
      security.describeUserScramCredentials(this.cluster, users, d),
    );
  }

  async alterUserScramCredentials(
    changes: {
      upsert?: { user: string; mechanism: ScramMechanism; password: string; iterations?: number }[];
      delete?: { user: string; mechanism: ScramMechanism }[];
    },
    opts: CallOptions = {},
  ): Promise<{ user: string; error: AdminKafkaError | null }[]> {
    return this.cluster.withRetries('alterUserScramCredentials', opts.timeoutMs, (d) =>
      security.alterUserScramCredentials(this.cluster, changes.upsert ?? [], changes.delete ?? [], d),
    );
  }

  // ---- transactions ----

  async listTransactions(
    filters: { states?: string[]; producerIds?: number[]; durationMs?: number; transactionalIdPattern?: string } = {},
    opts: CallOptions = {},
  ): Promise<ListedTransaction[]> {
    return this.cluster.withRetries('listTransactions', opts.timeoutMs, (d) => txn.listTransactions(this.cluster, filters, d));
  }

  async describeTransactions(transactionalIds: string[], opts: CallOptions = {}): Promise<TransactionDescription[]> {
    return Promise.all(
      transactionalIds.map((id) =>
        this.cluster.withRetries(`describeTransactions(${id})`, opts.timeoutMs, (d) => txn.describeTransaction(this.cluster, id, d)),
      ),
    );
  }

  async describeProducers(
    partitions: TopicPartition[],
    opts: CallOptions = {},
  ): Promise<{ topic: string; partition: number; producers: ProducerState[]; error: AdminKafkaError | null }[]> {
    return Promise.all(
      partitions.map((p) =>
        this.cluster.withRetries(`describeProducers(${p.topic}-${p.partition})`, opts.timeoutMs, (d) =>
          txn.describeProducers(this.cluster, p.topic, p.partition, d),
        ),
      ),
    );
  }
}
