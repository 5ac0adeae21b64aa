// The authorizer, with the semantics of Kafka's StandardAuthorizer: super users may do everything; otherwise an
// ACL matching the principal (or User:*), the client host (or *), the operation and the resource (a literal name,
// the literal wildcard *, or a prefix of the name) decides, DENY over ALLOW; ALLOW ACLs for READ, WRITE, DELETE
// or ALTER imply DESCRIBE and ALTER_CONFIGS implies DESCRIBE_CONFIGS; ALL is every operation. A resource with no
// ACL at all is allowed only with allow.everyone.if.no.acl.found.
//
// Decisions are cached by principal, client address, operation and resource (the cache starts over whenever the
// ACLs change), so the check of a request is a few Map lookups and allocates nothing once warm.
import type { Logger } from 'pino';
import type { AclStore, AclPatternRecord } from '../metadata/acl-store.ts';
import type { AclEntryRecord } from '../metadata/layout.ts';
import { authorizerCacheMaxCount } from '../limits.ts';
import {
  AclOperation,
  AclPermission,
  PatternType,
  ResourceType,
  SUPPORTED_OPERATIONS,
  WILDCARD_HOST,
  WILDCARD_PRINCIPAL,
  WILDCARD_RESOURCE,
} from './acl.ts';
import type { AclBinding } from './acl.ts';
import { principalString } from './principal.ts';
import type { KafkaPrincipal } from './principal.ts';

/** The names Kafka's `authorizer.class.name` takes for its ACL authorizers; Skafos's authorizer answers to both. */
export const KAFKA_AUTHORIZER_CLASS_NAMES: readonly string[] = [
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
];

export interface AuthorizerOptions {
  /** Principals that may do everything ("User:admin"). */
  superUsers: readonly string[];
  allowEveryoneIfNoAclFound: boolean;
  /** Decisions are logged here: denials at info, grants at debug (as Kafka's kafka.authorizer.logger). */
  logger: Logger;
}

/** One resource type's ACLs, by pattern. */
interface TypeIndex {
  literal: Map<string, AclEntryRecord[]>;
  prefixed: { prefix: string; acls: readonly AclEntryRecord[] }[];
}

type Decisions = Map<string, Map<number, Map<string, boolean>>>;

export class Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private readonly allowEveryone: boolean;
  private readonly logger: Logger;
  private index = new Map<number, TypeIndex>();
  private patterns: readonly AclPatternRecord[] = [];
  private cache = new WeakMap<KafkaPrincipal, Decisions>();
  private cached = 0;
  private readonly principalNames = new WeakMap<KafkaPrincipal, string>();
  /** Decisions made since start (cached ones included): skafos_authorizer_decisions_total. */
  allowed = 0;
  denied = 0;
  private store: AclStore | null = null;

  constructor(options: AuthorizerOptions) {
    this.superUsers = new Set(options.superUsers);
    this.allowEveryone = options.allowEveryoneIfNoAclFound;
    this.logger = options.logger;
  }

  /** Follows the cluster's ACLs in `store` (each change rebuilds the index). */
  async start(store: AclStore): Promise<void> {
    this.store = store;
    await store.start(() => this.setAcls(store.all()));
  }

  get acls(): AclStore {
    if (!this.store) throw new Error('the authorizer has no ACL store');
    return this.store;
  }

  /** Replaces every ACL (the store's current set): the index is rebuilt and cached decisions dropped. */
  setAcls(patterns: Iterable<AclPatternRecord>): void {
    const index = new Map<number, TypeIndex>();
    const all: AclPatternRecord[] = [];
    for (const p of patterns) {
      all.push(p);
      let t = index.get(p.resourceType);
      if (!t) index.set(p.resourceType, (t = { literal: new Map(), prefixed: [] }));
      if (p.patternType === PatternType.LITERAL) t.literal.set(p.name, [...(t.literal.get(p.name) ?? []), ...p.acls]);
      else if (p.patternType === PatternType.PREFIXED) t.prefixed.push({ prefix: p.name, acls: p.acls });
    }
    this.index = index;
    this.patterns = all;
    this.cache = new WeakMap();
    this.cached = 0;
  }

  /** Every ACL binding. */
  bindings(): AclBinding[] {
    const out: AclBinding[] = [];
    for (const p of this.patterns) {
      for (const a of p.acls) {
        out.push({
          resourceType: p.resourceType,
          resourceName: p.name,
          patternType: p.patternType,
          principal: a.principal,
          host: a.host,
          operation: a.operation,
          permission: a.permission,
        });
      }
    }
    return out;
  }

  private nameOf(principal: KafkaPrincipal): string {
    let name = this.principalNames.get(principal);
    if (name === undefined) this.principalNames.set(principal, (name = principalString(principal)));
    return name;
  }

  /**
   * May `principal`, connected from `clientAddress` ("host:port" as the connection knows it), do `operation` on
   * the resource? Counted and logged; cached until the ACLs change.
   */
  authorize(principal: KafkaPrincipal, clientAddress: string, operation: number, resourceType: number, name: string): boolean {
    let byClient = this.cache.get(principal);
    if (byClient === undefined) this.cache.set(principal, (byClient = new Map()));
    let byOp = byClient.get(clientAddress);
    if (byOp === undefined) byClient.set(clientAddress, (byOp = new Map()));
    const opKey = resourceType * 32 + operation;
    let byName = byOp.get(opKey);
    if (byName === undefined) byOp.set(opKey, (byName = new Map()));
    let allowed = byName.get(name);
    if (allowed === undefined) {
      allowed = this.decide(this.nameOf(principal), hostOf(clientAddress), operation, resourceType, name);
      if (++this.cached > authorizerCacheMaxCount) {
        this.cache = new WeakMap();
        this.cached = 0;
      } else byName.set(name, allowed);
    }
    if (allowed) {
      this.allowed++;
      if (this.logger.isLevelEnabled('debug')) this.log('debug', principal, clientAddress, operation, resourceType, name, true);
    } else {
      this.denied++;
      if (this.logger.isLevelEnabled('info')) this.log('info', principal, clientAddress, operation, resourceType, name, false);
    }
    return allowed;
  }

  private log(level: 'debug' | 'info', p: KafkaPrincipal, client: string, op: number, type: number, name: string, allowed: boolean): void {
    this.logger[level](
      { principal: this.nameOf(p), client, operation: opName(op), resourceType: typeName(type), resource: name },
      allowed ? 'authorized' : 'denied',
    );
  }

  /** The decision itself, uncached (Kafka's StandardAuthorizerData.authorize). */
  decide(principal: string, host: string, operation: number, resourceType: number, name: string): boolean {
    if (this.superUsers.has(principal)) return true;
    const t = this.index.get(resourceType);
    let found = false;
    let allow = false;
    const visit = (acls: readonly AclEntryRecord[] | undefined): boolean => {
      if (acls === undefined) return false;
      for (const a of acls) {
        found = true;
        if (a.principal !== principal && a.principal !== WILDCARD_PRINCIPAL) continue;
        if (a.host !== host && a.host !== WILDCARD_HOST) continue;
        if (a.permission === AclPermission.DENY) {
          if (a.operation === AclOperation.ALL || a.operation === operation) return true;
        } else if (a.permission === AclPermission.ALLOW && implies(a.operation, operation)) allow = true;
      }
      return false;
    };
    if (t !== undefined) {
      if (visit(t.literal.get(name)) || visit(t.literal.get(WILDCARD_RESOURCE))) return false;
      for (const p of t.prefixed) if (name.startsWith(p.prefix) && visit(p.acls)) return false;
    }
    if (allow) return true;
    return !found && this.allowEveryone;
  }

  /**
   * May the principal do `operation` on some resource of the type (Kafka's authorizeByResourceType: an ALLOW
   * ACL, literal or prefixed, that no DENY covers)? Used where Kafka accepts any such grant (InitProducerId
   * for an idempotent producer: WRITE on some topic). Not cached: it serves rare requests.
   */
  authorizeByResourceType(principal: KafkaPrincipal, clientAddress: string, operation: number, resourceType: number): boolean {
    const who = this.nameOf(principal);
    if (this.superUsers.has(who)) return this.count(true);
    const host = hostOf(clientAddress);
    const t = this.index.get(resourceType);
    if (t === undefined) return this.count(this.allowEveryone);
    const applies = (a: AclEntryRecord) =>
      (a.principal === who || a.principal === WILDCARD_PRINCIPAL) && (a.host === host || a.host === WILDCARD_HOST);
    const denies = (a: AclEntryRecord) =>
      applies(a) && a.permission === AclPermission.DENY && (a.operation === AclOperation.ALL || a.operation === operation);
    const allows = (a: AclEntryRecord) => applies(a) && a.permission === AclPermission.ALLOW && implies(a.operation, operation);
    if (t.literal.get(WILDCARD_RESOURCE)?.some(denies)) return this.count(false);
    const deniedPrefix = (name: string) => t.prefixed.some((p) => name.startsWith(p.prefix) && p.acls.some(denies));
    for (const [name, acls] of t.literal) {
      if (acls.some(allows) && !acls.some(denies) && !deniedPrefix(name)) return this.count(true);
    }
    for (const p of t.prefixed) if (p.acls.some(allows) && !deniedPrefix(p.prefix)) return this.count(true);
    return this.count(false);
  }

  private count(allowed: boolean): boolean {
    if (allowed) this.allowed++;
    else this.denied++;
    return allowed;
  }

  /** The operations the principal may do on the resource, as a KIP-430 bit field (bit n: operation code n). */
  authorizedOperations(principal: KafkaPrincipal, clientAddress: string, resourceType: number, name: string): number {
    let bits = 0;
    for (const op of SUPPORTED_OPERATIONS[resourceType] ?? []) {
      if (this.decide(this.nameOf(principal), hostOf(clientAddress), op, resourceType, name)) bits |= 1 << op;
    }
    return bits;
  }

  close(): void {
    this.store?.close();
  }
}

/** Does an ALLOW ACL for `granted` allow `requested`? */
function implies(granted: number, requested: number): boolean {
  if (granted === requested || granted === AclOperation.ALL) return true;
  if (requested === AclOperation.DESCRIBE)
    return (
      granted === AclOperation.READ || granted === AclOperation.WRITE || granted === AclOperation.DELETE || granted === AclOperation.ALTER
    );
  return requested === AclOperation.DESCRIBE_CONFIGS && granted === AclOperation.ALTER_CONFIGS;
}

/** The host of "host:port" / "[v6]:port" / "::ffff:1.2.3.4:port", as Kafka's InetAddress.getHostAddress() gives it. */
export function hostOf(clientAddress: string): string {
  const colon = clientAddress.lastIndexOf(':');
  let host = colon > 0 && /^\d+$/.test(clientAddress.slice(colon + 1)) ? clientAddress.slice(0, colon) : clientAddress;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return host;
}

const opNames = new Map(Object.entries(AclOperation).map(([k, v]) => [v as number, k]));
const typeNames = new Map(Object.entries(ResourceType).map(([k, v]) => [v as number, k]));
export const opName = (op: number) => opNames.get(op) ?? String(op);
export const typeName = (t: number) => typeNames.get(t) ?? String(t);
