// A scripted single-node "broker" built on our codec. It answers just enough for a real client to produce one
// message, read one message and run a one-member consumer group, and records every request frame the client sends
// and every response frame it sends back, byte for byte.
import net from 'node:net';
import { decodeRequest, encodeResponse, FrameSplitter, peekRequestHeader } from '../../broker/protocol/frame.ts';
import { apiCodecs, ApiKey } from '../../broker/protocol/generated/index.ts';
import type {
  ApiVersionsResponseInput,
  FetchRequest,
  FetchResponseInput,
  FindCoordinatorRequest,
  FindCoordinatorResponseInput,
  HeartbeatResponseInput,
  InitProducerIdResponseInput,
  JoinGroupRequest,
  JoinGroupResponseInput,
  LeaveGroupRequest,
  LeaveGroupResponseInput,
  ListOffsetsRequest,
  ListOffsetsResponseInput,
  MetadataRequest,
  MetadataResponseInput,
  OffsetCommitRequest,
  OffsetCommitResponseInput,
  OffsetFetchRequest,
  OffsetFetchResponseInput,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponseInput,
  ProduceRequest,
  ProduceResponseInput,
  RequestHeader,
  SyncGroupRequest,
  SyncGroupResponseInput,
} from '../../broker/protocol/generated/index.ts';
import type { Profile } from './profiles.ts';

// Nested message types, derived from the top-level ones so they do not depend on the generator's naming of structs.
type Elem<T> = NonNullable<T> extends readonly (infer E)[] ? E : never;
type MetadataTopicOut = Elem<MetadataResponseInput['topics']>;
type FetchPartitionOut = Elem<Elem<FetchResponseInput['responses']>['partitions']>;
type ListOffsetsPartitionOut = Elem<Elem<ListOffsetsResponseInput['topics']>['partitions']>;
type OffsetFetchPartitionOut = Elem<Elem<OffsetFetchResponseInput['topics']>['partitions']>;
import { cannedRecordsFor } from './records.ts';

export const goldenTopic = 'golden';
/** The topic's id, in Kafka's base64url text form. */
export const goldenTopicId = Buffer.from('skafos-golden-id').toString('base64url');
export const nodeId = 1;
export const clusterId = 'skafos-golden-cluster';
export const producerId = 4000;
/** One record at offset 0: the high watermark. */
const highWatermark = 1;
/** How long an empty Fetch is held (at most its max wait), so idle consumers do not spin. */
const emptyFetchHoldMs = 100;

const errors = {
  none: 0,
  offsetOutOfRange: 1,
  unknownTopicOrPartition: 3,
  unsupportedVersion: 35,
  memberIdRequired: 79,
} as const;

export interface RecordedResponse {
  /** The response frame, size prefix included. */
  bytes: Buffer;
  /** The version it is encoded at (an ApiVersions error response is v0 whatever the request's version). */
  version: number;
}

export interface Exchange {
  session: string;
  connection: number;
  /** Arrival order within the session. */
  seq: number;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** The request frame, size prefix included, exactly as read from the socket. */
  request: Buffer;
  /** Set when our codec could not decode the frame (then the connection is closed, as Kafka does). */
  decodeError?: string;
  /** The request's version is outside what this profile advertised. */
  unadvertised?: boolean;
  response?: RecordedResponse;
  /** Produce with acks=0: Kafka sends no response. */
  noResponse?: boolean;
}

interface Reply {
  body: unknown;
  version: number;
}

interface GroupState {
  generationId: number;
  memberId: string | null;
  protocolName: string | null;
  memberMetadata: Buffer;
  assignment: Buffer;
  committed: Map<string, number>;
}

export class FakeBroker {
  readonly session: string;
  readonly profile: Profile;
  readonly exchanges: Exchange[] = [];
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  private connections = 0;
  private groups = new Map<string, GroupState>();
  private memberCounter = 0;
  port = 0;

  constructor(session: string, profile: Profile) {
    this.session = session;
    this.profile = profile;
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no port');
    this.port = addr.port;
    return this.port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: net.Socket): void {
    const connection = ++this.connections;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const splitter = new FrameSplitter();
    // Responses leave in request order even when one of them (an empty Fetch) is held back.
    let chain: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      try {
        splitter.push(chunk, (frame) => {
          const exchange = this.record(connection, frame);
          const pending = this.handle(exchange, frame);
          chain = chain
            .then(async () => {
              const reply = await pending;
              if (reply === 'close') {
                socket.destroy();
                return;
              }
              if (reply === null) return;
              const bytes = Buffer.concat(encodeResponse(exchange.apiKey, reply.version, exchange.correlationId, reply.body));
              exchange.response = { bytes, version: reply.version };
              if (!socket.destroyed) socket.write(bytes);
            })
            .catch((err: unknown) => {
              exchange.decodeError ??= `response failed: ${(err as Error).stack ?? String(err)}`;
              socket.destroy();
            });
        });
      } catch (err) {
        console.error(`[${this.session}] framing error: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
  }

  private record(connection: number, frame: Buffer): Exchange {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(frame.length);
    const request = Buffer.concat([prefix, frame]);
    let apiKey = -1;
    let apiVersion = -1;
    let correlationId = -1;
    try {
      ({ apiKey, apiVersion, correlationId } = peekRequestHeader(frame));
    } catch {
      // recorded with its decode error below
    }
    const exchange: Exchange = {
      session: this.session,
      connection,
      seq: this.exchanges.length,
      apiKey,
      apiVersion,
      correlationId,
      clientId: null,
      request,
    };
    this.exchanges.push(exchange);
    return exchange;
  }

  private async handle(exchange: Exchange, frame: Buffer): Promise<Reply | null | 'close'> {
    let header: RequestHeader;
    let body: unknown;
    const range = this.profile.versions.get(exchange.apiKey);
    if (range === undefined || exchange.apiVersion < range[0] || exchange.apiVersion > range[1]) exchange.unadvertised = true;
    if (exchange.apiKey === ApiKey.ApiVersions) {
      const codec = apiCodecs[ApiKey.ApiVersions]!;
      const max = Math.min(range?.[1] ?? 0, codec.maxVersion);
      if (exchange.apiVersion > max) {
        // Kafka's answer to an ApiVersions request newer than it knows: a v0 response with UNSUPPORTED_VERSION
        // and its own ApiVersions range, so the client can retry with a version both sides know.
        exchange.unadvertised = true;
        try {
          exchange.clientId = decodeRequest(frame).header.clientId;
        } catch (err) {
          exchange.decodeError = (err as Error).message;
        }
        const reply: ApiVersionsResponseInput = {
          errorCode: errors.unsupportedVersion,
          apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: max }],
        };
        return { body: reply, version: 0 };
      }
    }
    try {
      const decoded = decodeRequest(frame);
      header = decoded.header;
      body = decoded.body;
    } catch (err) {
      exchange.decodeError = (err as Error).message;
      console.error(`[${this.session}] cannot decode API ${exchange.apiKey} v${exchange.apiVersion}: ${exchange.decodeError}`);
      return 'close';
    }
    exchange.clientId = header.clientId;
    const v = exchange.apiVersion;
    switch (exchange.apiKey) {
      case ApiKey.ApiVersions:
        return { body: this.apiVersions(v), version: v };
      case ApiKey.Metadata:
        return { body: this.metadata(body as MetadataRequest, v), version: v };
      case ApiKey.Produce: {
        const req = body as ProduceRequest;
        if (req.acks === 0) {
          exchange.noResponse = true;
          return null;
        }
        return { body: this.produce(req, v), version: v };
      }
      case ApiKey.Fetch: {
        const req = body as FetchRequest;
        const { reply, empty } = this.fetch(req, v);
        if (empty) await new Promise((r) => setTimeout(r, Math.max(0, Math.min(req.maxWaitMs, emptyFetchHoldMs))));
        return { body: reply, version: v };
      }
      case ApiKey.ListOffsets:
        return { body: this.listOffsets(body as ListOffsetsRequest, v), version: v };
      case ApiKey.FindCoordinator:
        return { body: this.findCoordinator(body as FindCoordinatorRequest, v), version: v };
      case ApiKey.JoinGroup:
        return { body: this.joinGroup(body as JoinGroupRequest, header, v), version: v };
      case ApiKey.SyncGroup:
        return { body: this.syncGroup(body as SyncGroupRequest, v), version: v };
      case ApiKey.Heartbeat: {
        const reply: HeartbeatResponseInput = { errorCode: errors.none };
        return { body: reply, version: v };
      }
      case ApiKey.LeaveGroup:
        return { body: this.leaveGroup(body as LeaveGroupRequest, v), version: v };
      case ApiKey.OffsetCommit:
        return { body: this.offsetCommit(body as OffsetCommitRequest), version: v };
      case ApiKey.OffsetFetch:
        return { body: this.offsetFetch(body as OffsetFetchRequest, v), version: v };
      case ApiKey.InitProducerId: {
        const reply: InitProducerIdResponseInput = { errorCode: errors.none, producerId, producerEpoch: 0 };
        return { body: reply, version: v };
      }
      case ApiKey.OffsetForLeaderEpoch:
        return { body: this.offsetForLeaderEpoch(body as OffsetForLeaderEpochRequest, v), version: v };
      default:
        // Kafka closes the connection on a request it does not know.
        console.error(`[${this.session}] unhandled API ${exchange.apiKey} v${v}: closing the connection`);
        return 'close';
    }
  }

  private apiVersions(v: number): ApiVersionsResponseInput {
    const apiKeys = [...this.profile.versions.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([apiKey, [minVersion, maxVersion]]) => ({ apiKey, minVersion, maxVersion }));
    const reply: ApiVersionsResponseInput = { errorCode: errors.none, apiKeys };
    if (v >= 3) {
      reply.supportedFeatures = [];
      reply.finalizedFeaturesEpoch = -1;
      reply.finalizedFeatures = [];
    }
    return reply;
  }

  private metadata(req: MetadataRequest, v: number): MetadataResponseInput {
    const all = req.topics === null || (v === 0 && req.topics.length === 0);
    const wanted = all ? [{ name: goldenTopic, topicId: goldenTopicId }] : req.topics!;
    const topics: MetadataTopicOut[] = wanted.map((t) => {
      const known = t.name === goldenTopic || (t.name === null && t.topicId === goldenTopicId);
      const topic: MetadataTopicOut = {
        errorCode: known ? errors.none : errors.unknownTopicOrPartition,
        name: known ? goldenTopic : t.name,
        partitions: known
          ? [
              {
                errorCode: errors.none,
                partitionIndex: 0,
                leaderId: nodeId,
                ...(v >= 7 ? { leaderEpoch: 0 } : {}),
                replicaNodes: [nodeId],
                isrNodes: [nodeId],
                ...(v >= 5 ? { offlineReplicas: [] } : {}),
              },
            ]
          : [],
      };
      if (v >= 10 && known) topic.topicId = goldenTopicId;
      return topic;
    });
    const reply: MetadataResponseInput = {
      brokers: [{ nodeId, host: '127.0.0.1', port: this.port, rack: null }],
      topics,
    };
    if (v >= 2) reply.clusterId = clusterId;
    if (v >= 1) reply.controllerId = nodeId;
    return reply;
  }

  private produce(req: ProduceRequest, v: number): ProduceResponseInput {
    return {
      responses: req.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) => {
          const known = t.name === goldenTopic && p.index === 0;
          return {
            index: p.index,
            errorCode: known ? errors.none : errors.unknownTopicOrPartition,
            baseOffset: known ? 0 : -1,
            ...(v >= 2 ? { logAppendTimeMs: -1 } : {}),
            ...(v >= 5 ? { logStartOffset: 0 } : {}),
          };
        }),
      })),
    };
  }

  private fetch(req: FetchRequest, v: number): { reply: FetchResponseInput; empty: boolean } {
    let empty = true;
    const responses = req.topics.map((t) => {
      const known = v >= 13 ? t.topicId === goldenTopicId : t.topic === goldenTopic;
      return {
        ...(v >= 13 ? { topicId: t.topicId } : { topic: t.topic }),
        partitions: t.partitions.map((p): FetchPartitionOut => {
          const out: FetchPartitionOut = { partitionIndex: p.partition, highWatermark: highWatermark };
          if (v >= 4) {
            out.lastStableOffset = highWatermark;
            out.abortedTransactions = req.isolationLevel === 1 ? [] : null;
          }
          if (v >= 5) out.logStartOffset = 0;
          if (!known || p.partition !== 0) {
            out.errorCode = errors.unknownTopicOrPartition;
            out.highWatermark = -1;
            if (v >= 4) out.lastStableOffset = -1;
            if (v >= 5) out.logStartOffset = -1;
            out.records = Buffer.alloc(0);
            empty = false;
          } else if (p.fetchOffset === 0) {
            out.records = cannedRecordsFor(v);
            empty = false;
          } else if (p.fetchOffset === highWatermark) {
            out.records = Buffer.alloc(0);
          } else {
            out.errorCode = errors.offsetOutOfRange;
            out.records = Buffer.alloc(0);
            empty = false;
          }
          return out;
        }),
      };
    });
    const reply: FetchResponseInput = { responses };
    if (v >= 7) {
      reply.errorCode = errors.none;
      reply.sessionId = 0;
    }
    return { reply, empty };
  }

  private listOffsets(req: ListOffsetsRequest, v: number): ListOffsetsResponseInput {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p): ListOffsetsPartitionOut => {
          const known = t.name === goldenTopic && p.partitionIndex === 0;
          const offset = p.timestamp === -1 ? highWatermark : 0;
          if (!known)
            return {
              partitionIndex: p.partitionIndex,
              errorCode: errors.unknownTopicOrPartition,
              ...(v === 0 ? { oldStyleOffsets: [] } : {}),
            };
          if (v === 0) return { partitionIndex: p.partitionIndex, errorCode: errors.none, oldStyleOffsets: [offset] };
          return { partitionIndex: p.partitionIndex, errorCode: errors.none, timestamp: -1, offset, ...(v >= 4 ? { leaderEpoch: 0 } : {}) };
        }),
      })),
    };
  }

  private findCoordinator(req: FindCoordinatorRequest, v: number): FindCoordinatorResponseInput {
    if (v >= 4) {
      return {
        coordinators: req.coordinatorKeys.map((key) => ({
          key,
          nodeId,
          host: '127.0.0.1',
          port: this.port,
          errorCode: errors.none,
          errorMessage: null,
        })),
      };
    }
    return { errorCode: errors.none, ...(v >= 1 ? { errorMessage: null } : {}), nodeId, host: '127.0.0.1', port: this.port };
  }

  private group(groupId: string): GroupState {
    let g = this.groups.get(groupId);
    if (g === undefined) {
      g = {
        generationId: 0,
        memberId: null,
        protocolName: null,
        memberMetadata: Buffer.alloc(0),
        assignment: Buffer.alloc(0),
        committed: new Map(),
      };
      this.groups.set(groupId, g);
    }
    return g;
  }

  private joinGroup(req: JoinGroupRequest, header: RequestHeader, v: number): JoinGroupResponseInput {
    const g = this.group(req.groupId);
    // ProtocolType and a null ProtocolName exist from v7; before, an error response carries an empty name.
    const protocolFields = (name: string | null) =>
      v >= 7 ? { protocolType: name === null ? null : req.protocolType, protocolName: name } : { protocolName: name ?? '' };
    if (req.memberId === '' && v >= 4) {
      // KIP-394: a new member first gets its id, then joins again with it.
      const memberId = `${header.clientId ?? 'client'}-member-${++this.memberCounter}`;
      return { errorCode: errors.memberIdRequired, generationId: -1, ...protocolFields(null), leader: '', memberId, members: [] };
    }
    const memberId = req.memberId !== '' ? req.memberId : `${header.clientId ?? 'client'}-member-${++this.memberCounter}`;
    const chosen = req.protocols[0]!;
    g.generationId += 1;
    g.memberId = memberId;
    g.protocolName = chosen.name;
    g.memberMetadata = chosen.metadata;
    return {
      errorCode: errors.none,
      generationId: g.generationId,
      ...protocolFields(chosen.name),
      leader: memberId,
      memberId,
      members: [{ memberId, ...(v >= 5 ? { groupInstanceId: req.groupInstanceId } : {}), metadata: chosen.metadata }],
    };
  }

  private syncGroup(req: SyncGroupRequest, v: number): SyncGroupResponseInput {
    const g = this.group(req.groupId);
    const mine = req.assignments.find((a) => a.memberId === req.memberId);
    if (mine !== undefined) g.assignment = mine.assignment;
    const reply: SyncGroupResponseInput = { errorCode: errors.none, assignment: g.assignment };
    if (v >= 5) {
      reply.protocolType = req.protocolType ?? 'consumer';
      reply.protocolName = req.protocolName ?? g.protocolName;
    }
    return reply;
  }

  private leaveGroup(req: LeaveGroupRequest, v: number): LeaveGroupResponseInput {
    const g = this.group(req.groupId);
    g.memberId = null;
    if (v >= 3) {
      return {
        errorCode: errors.none,
        members: req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode: errors.none })),
      };
    }
    return { errorCode: errors.none };
  }

  private offsetCommit(req: OffsetCommitRequest): OffsetCommitResponseInput {
    const g = this.group(req.groupId);
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          g.committed.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
          return { partitionIndex: p.partitionIndex, errorCode: errors.none };
        }),
      })),
    };
  }

  private committedPartitions(groupId: string, topics: { name: string; partitionIndexes: number[] }[] | null, v: number) {
    const g = this.group(groupId);
    const list =
      topics ??
      [...g.committed.keys()].reduce<{ name: string; partitionIndexes: number[] }[]>((acc, key) => {
        const [name, p] = key.split(':') as [string, string];
        acc.push({ name, partitionIndexes: [Number(p)] });
        return acc;
      }, []);
    return list.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map(
        (partitionIndex): OffsetFetchPartitionOut => ({
          partitionIndex,
          committedOffset: g.committed.get(`${t.name}:${partitionIndex}`) ?? -1,
          ...(v >= 5 ? { committedLeaderEpoch: -1 } : {}),
          metadata: '',
          errorCode: errors.none,
        }),
      ),
    }));
  }

  private offsetFetch(req: OffsetFetchRequest, v: number): OffsetFetchResponseInput {
    if (v >= 8) {
      return {
        groups: req.groups.map((grp) => ({
          groupId: grp.groupId,
          topics: this.committedPartitions(grp.groupId, grp.topics, v),
          errorCode: errors.none,
        })),
      };
    }
    return { topics: this.committedPartitions(req.groupId, req.topics, v), ...(v >= 2 ? { errorCode: errors.none } : {}) };
  }

  private offsetForLeaderEpoch(req: OffsetForLeaderEpochRequest, v: number): OffsetForLeaderEpochResponseInput {
    return {
      topics: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const known = t.topic === goldenTopic && p.partition === 0;
          return {
            errorCode: known ? errors.none : errors.unknownTopicOrPartition,
            partition: p.partition,
            ...(v >= 1 ? { leaderEpoch: known ? 0 : -1 } : {}),
            endOffset: known ? highWatermark : -1,
          };
        }),
      })),
    };
  }
}
