// What every API handler gets: the broker's services and the request's context. One handler per Kafka API
// (broker/handlers/<api>.ts); each is small and delegates to the log and metadata layers.
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.ts';
import type { Cluster } from '../cluster/cluster.ts';
import type { GroupCoordinator } from '../groups/coordinator.ts';
import type { TxnService } from '../txn/service.ts';
import type { ConsumerGroupCoordinator } from '../groups/consumer-coordinator.ts';
import type { ApiMessages, RequestHeader } from '../protocol/generated/index.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { ConfigDocuments } from '../metadata/config-docs.ts';
import type { DynamicBrokerConfig } from '../metadata/dynamic-broker-config.ts';
import type { DynamicallyConfigured } from '../config/dynamic-broker-keys.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { ObjectStoreHealth } from '../storage/health.ts';
import type { KafkaPrincipal } from '../security/principal.ts';
import type { Authorizer } from '../security/authorizer.ts';
import type { ClientQuotas } from '../security/quotas.ts';
import type { SaslSession } from '../security/sasl/session.ts';
import type { ScramCredentialStore } from '../metadata/scram-credentials.ts';

export interface BrokerServices {
  /**
   * The configuration in force: the static one with the dynamic broker configs Skafos applies laid over it.
   * Replaced (never changed in place) when a dynamic config changes; read it at use, do not keep it.
   */
  config: BrokerConfig & DynamicallyConfigured;
  /** Dynamic broker configs: this broker's and the cluster-wide defaults, and the static configuration. */
  dynamicConfig: DynamicBrokerConfig;
  nodeId: number;
  clusterId: string;
  /** The advertised endpoint clients are told to use. */
  advertisedHost: string;
  advertisedPort: number;
  logs: LogManager;
  /** Live brokers, partition and coordinator ownership, and the fence for owner-only metadata writes. */
  cluster: Cluster;
  topics: TopicRegistry;
  metadata: MetadataStore;
  logger: Logger;
  /** Object-store health: Produce slows down when degraded and fails fast when unavailable. */
  storageHealth: ObjectStoreHealth;
  /** Serialises topic creation/deletion/partition changes in this broker. */
  adminLock: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The consumer group coordinator (classic groups and committed offsets) of the groups this broker serves. */
  groups: GroupCoordinator;
  /** Transactions: the transaction coordinator, pending transactional offsets, marker delivery (broker/txn/). */
  txn: TxnService;
  /** KIP-848 consumer groups (ConsumerGroupHeartbeat, ConsumerGroupDescribe); offsets stay with `groups`. */
  consumerGroups: ConsumerGroupCoordinator;
  /** GROUP config resources: each group's overrides (broker/groups/group-config.ts), cluster-wide. */
  groupConfigs: ConfigDocuments;
  /** The authorizer (`authorizer.class.name`), or null: every request allowed, the ACL APIs disabled. */
  authorizer: Authorizer | null;
  /** Client quotas (KIP-13/124/546): the cluster's, enforced on this broker's traffic. */
  quotas: ClientQuotas;
  /** SCRAM credentials (KIP-554), cluster-wide in the metadata store. */
  scramCredentials: ScramCredentialStore;
}

export interface RequestContext {
  services: BrokerServices;
  header: RequestHeader;
  apiVersion: number;
  clientAddress: string;
  /** The listener the request came in on (its name): brokers are described by their endpoints on it. */
  listenerName: string;
  /** The connection's SASL state on a SASL listener (SaslHandshake, SaslAuthenticate), null elsewhere. */
  sasl: SaslSession | null;
  /** Who sent the request: the connection's authenticated principal, or User:ANONYMOUS. */
  principal: KafkaPrincipal;
  /** Aborted when the connection closes or the broker shuts down. */
  signal: AbortSignal;
  /**
   * For an `ordered` handler: says its effects are applied, so the connection's next ordered request may start
   * (Produce calls it once its batches are appended, before waiting for them to be durable). Called anyway when
   * the handler finishes; calling it again does nothing. A no-op for other handlers.
   */
  applied: () => void;
  /** KIP-219: the client exceeded a quota; the connection stops reading its requests for `ms`. */
  throttle: (ms: number) => void;
}

/**
 * A handler of requests of type `Req`, answering with `Res`. The handler table holds them erased, as `Handler`
 * (request `unknown`): the connection passes each the body that the codec of the same API key decoded.
 */
export interface Handler<Req = unknown, Res = unknown> {
  apiKey: number;
  /** Versions this broker serves (ApiVersions advertises exactly these). */
  minVersion: number;
  maxVersion: number;
  /**
   * Its effects depend on the order of a connection's requests (appends, offset commits, admin changes). The
   * connection starts such a request only after the previous ordered one on the same connection has applied its
   * effects, as Kafka, which handles one request of a connection at a time, does; other requests stay concurrent.
   * spec/guarantees.md lists which APIs are ordered and why.
   */
  ordered?: boolean;
  /** Resolves to the response body, or null when Kafka sends no response (Produce with acks=0). */
  handle(ctx: RequestContext, request: Req): Promise<Res | null> | Res | null;
}

/**
 * The handler of API `K`: its request and response types are those of the API key (the generated `ApiMessages`).
 * `handle` is a property here, not a method, so a handler's declared request type is checked strictly against
 * its API's. Declare handle's return type in each handler: only a declared return type gets TypeScript's
 * excess-property check, which rejects a field the response does not have.
 */
export interface ApiHandler<K extends keyof ApiMessages> extends Handler<ApiMessages[K]['request'], ApiMessages[K]['response']> {
  apiKey: K;
  handle: (
    ctx: RequestContext,
    request: ApiMessages[K]['request'],
  ) => Promise<ApiMessages[K]['response'] | null> | ApiMessages[K]['response'] | null;
}
