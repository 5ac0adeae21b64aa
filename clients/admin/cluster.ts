// The cluster as the admin client sees it: bootstrap, broker metadata, connections by node id, routing
// (partition leaders, group and transaction coordinators, any broker for the rest; no controller: KRaft brokers
// forward admin requests themselves), and bounded retries with back-off within one deadline per call.
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { FindCoordinatorResponse, MetadataResponse } from '../../broker/protocol/generated/index.ts';
import { Connection } from './connection.ts';
import type { ConnectionSettings } from './connection.ts';
import { AdminConnectionError, AdminKafkaError, AdminLimitError, AdminTimeoutError, isRetriable } from './errors.ts';

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionRoute {
  leaderId: number;
  leaderEpoch: number;
}

/** Error codes after which cached routes are stale: the next attempt refreshes metadata or the coordinator. */
const staleRouteCodes = new Set([3, 5, 6, 14, 15, 16, 74, 75]);
// 3 UNKNOWN_TOPIC_OR_PARTITION, 5 LEADER_NOT_AVAILABLE, 6 NOT_LEADER_OR_FOLLOWER, 14 COORDINATOR_LOAD_IN_PROGRESS,
// 15 COORDINATOR_NOT_AVAILABLE, 16 NOT_COORDINATOR, 74 FENCED_LEADER_EPOCH, 75 UNKNOWN_LEADER_EPOCH

export function parseBootstrap(bootstrap: string | readonly string[]): { host: string; port: number }[] {
  const list = (typeof bootstrap === 'string' ? bootstrap.split(',') : bootstrap).map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new TypeError('bootstrap: no broker address given');
  return list.map((a) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(a);
    const port = m ? Number(m[2]) : Number.NaN;
    if (!m || !(port > 0 && port < 65536)) throw new TypeError(`bootstrap: "${a}" is not host:port`);
    return { host: m[1]!, port };
  });
}

export class Cluster {
  private readonly bootstrap: { host: string; port: number }[];
  private readonly connections = new Map<string, Connection>();
  private readonly opening = new Map<string, Promise<Connection>>();
  brokers = new Map<number, BrokerAddress>();
  clusterId: string | null = null;
  controllerId = -1;
  private readonly partitions = new Map<string, PartitionRoute>();
  private readonly coordinators = new Map<string, number>();
  private metadataFresh = false;
  private closedFlag = false;

  readonly settings: ConnectionSettings;

  constructor(bootstrap: string | readonly string[], settings: ConnectionSettings) {
    this.settings = settings;
    this.bootstrap = parseBootstrap(bootstrap);
  }

  /** Runs `attempt` until it succeeds, fails with a non-retriable error, runs out of attempts, or the deadline passes. */
  async withRetries<T>(what: string, timeoutMs: number | undefined, attempt: (deadlineMs: number) => Promise<T>): Promise<T> {
    const limits = this.settings.limits;
    const totalMs = timeoutMs ?? limits.defaultApiTimeoutMs;
    const deadlineMs = Date.now() + totalMs;
    let backoffMs = limits.retryBackoffMs;
    let last: unknown;
    for (let n = 1; ; n++) {
      if (this.closedFlag) throw new AdminLimitError('the admin client is closed');
      try {
        return await attempt(deadlineMs);
      } catch (e) {
        last = e;
        if (e instanceof AdminTimeoutError) throw new AdminTimeoutError(what, totalMs, e);
        if (!isRetriable(e)) throw e;
        if (e instanceof AdminConnectionError || (e instanceof AdminKafkaError && staleRouteCodes.has(e.code))) this.invalidate();
        if (n >= limits.maxAttempts) throw e;
        const waitMs = Math.min(backoffMs, deadlineMs - Date.now());
        if (waitMs <= 0) throw new AdminTimeoutError(what, totalMs, last);
        await new Promise((r) => setTimeout(r, waitMs));
        backoffMs = Math.min(backoffMs * 2, limits.retryBackoffMaxMs);
      }
    }
  }

  /** Forgets routes (leaders, coordinators) so that the next request looks them up again. */
  invalidate(): void {
    this.metadataFresh = false;
    this.partitions.clear();
    this.coordinators.clear();
  }

  private async openConnection(host: string, port: number, deadlineMs: number): Promise<Connection> {
    const key = `${host}:${port}`;
    const existing = this.connections.get(key);
    if (existing && !existing.closed) return existing;
    const pending = this.opening.get(key);
    if (pending) return pending;
    const p = (async () => {
      this.evictIdle();
      const c = new Connection(host, port, this.settings);
      try {
        await c.open(deadlineMs);
      } catch (e) {
        c.close();
        throw e;
      }
      this.connections.set(key, c);
      return c;
    })();
    this.opening.set(key, p);
    try {
      return await p;
    } finally {
      this.opening.delete(key);
    }
  }

  private evictIdle(): void {
    for (const [k, c] of this.connections) if (c.closed) this.connections.delete(k);
    while (this.connections.size >= this.settings.limits.maxConnections) {
      let oldest: [string, Connection] | undefined;
      for (const e of this.connections) if (e[1].inFlight === 0 && (!oldest || e[1].lastUsedMs < oldest[1].lastUsedMs)) oldest = e;
      if (!oldest) throw new AdminLimitError(`${this.connections.size} connections busy (maxConnections)`);
      oldest[1].close();
      this.connections.delete(oldest[0]);
    }
  }

  /** A connection to any broker: an open one, else the known brokers and the bootstrap list in turn. */
  async any(deadlineMs: number): Promise<Connection> {
    for (const c of this.connections.values()) if (!c.closed) return c;
    const candidates = [...this.brokers.values(), ...this.bootstrap];
    let last: unknown;
    for (const b of candidates) {
      try {
        return await this.openConnection(b.host, b.port, deadlineMs);
      } catch (e) {
        last = e;
        if (!(e instanceof AdminConnectionError)) throw e;
      }
    }
    throw last instanceof Error ? last : new AdminConnectionError('bootstrap', 'no broker reachable');
  }

  /** A connection to broker `nodeId` (metadata refreshed first if it is not known). */
  async node(nodeId: number, deadlineMs: number): Promise<Connection> {
    if (!this.brokers.has(nodeId)) await this.refreshMetadata([], deadlineMs);
    const b = this.brokers.get(nodeId);
    if (!b) throw new AdminKafkaError(8, `broker ${nodeId} is not in the cluster metadata`); // BROKER_NOT_AVAILABLE (retriable? no)
    return this.openConnection(b.host, b.port, deadlineMs);
  }

  /** Metadata for `topics` (null: all topics; []: brokers only); updates the broker list and partition routes. */
  async refreshMetadata(topics: string[] | null, deadlineMs: number): Promise<MetadataResponse> {
    const c = await this.any(deadlineMs);
    const { body } = await c.request<MetadataResponse>(
      ApiKey.Metadata,
      () => ({ topics: topics === null ? null : topics.map((name) => ({ name })), allowAutoTopicCreation: false }),
      deadlineMs,
    );
    this.brokers = new Map(body.brokers.map((b) => [b.nodeId, { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }]));
    this.clusterId = body.clusterId;
    this.controllerId = body.controllerId;
    for (const t of body.topics) {
      if (t.errorCode !== 0 || t.name === null) continue;
      for (const p of t.partitions)
        this.partitions.set(`${t.name}\0${p.partitionIndex}`, { leaderId: p.leaderId, leaderEpoch: p.leaderEpoch });
    }
    this.metadataFresh = true;
    return body;
  }

  /** The leader of a partition; UNKNOWN_TOPIC_OR_PARTITION or LEADER_NOT_AVAILABLE (both retriable) otherwise. */
  async leaderOf(topic: string, partition: number, deadlineMs: number): Promise<PartitionRoute> {
    let route = this.partitions.get(`${topic}\0${partition}`);
    if (!route) {
      const md = await this.refreshMetadata([topic], deadlineMs);
      const t = md.topics.find((x) => x.name === topic);
      if (t && t.errorCode !== 0) throw new AdminKafkaError(t.errorCode, null, `topic ${topic}`);
      route = this.partitions.get(`${topic}\0${partition}`);
      if (!route) throw new AdminKafkaError(3, null, `${topic}-${partition}`);
    }
    if (route.leaderId < 0) throw new AdminKafkaError(5, null, `${topic}-${partition}`);
    return route;
  }

  /** The coordinator of a group (keyType 0) or transactional id (keyType 1), looked up with FindCoordinator. */
  async coordinator(keyType: 0 | 1, key: string, deadlineMs: number): Promise<Connection> {
    const cacheKey = `${keyType}\0${key}`;
    let nodeId = this.coordinators.get(cacheKey);
    if (nodeId === undefined) {
      const c = await this.any(deadlineMs);
      const { version, body } = await c.request<FindCoordinatorResponse>(
        ApiKey.FindCoordinator,
        (v) => (v >= 4 ? { keyType, coordinatorKeys: [key] } : { key, keyType }),
        deadlineMs,
      );
      const r = version >= 4 ? body.coordinators[0] : { ...body, key };
      if (!r) throw new AdminConnectionError(c.address, 'FindCoordinator answered no coordinator');
      if (r.errorCode !== 0) throw new AdminKafkaError(r.errorCode, r.errorMessage, `coordinator of ${key}`);
      nodeId = r.nodeId;
      if (!this.brokers.has(nodeId)) this.brokers.set(nodeId, { nodeId, host: r.host, port: r.port, rack: null });
      this.coordinators.set(cacheKey, nodeId);
    }
    return this.node(nodeId, deadlineMs);
  }

  get hasFreshMetadata(): boolean {
    return this.metadataFresh;
  }

  close(): void {
    this.closedFlag = true;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}
