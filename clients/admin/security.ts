// ACLs, client quotas and SCRAM credentials. Brokers without an authorizer answer the ACL APIs with
// SECURITY_DISABLED; brokers that do not serve the quota or SCRAM APIs with UNSUPPORTED_VERSION.
import { randomBytes } from 'node:crypto';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type {
  AlterClientQuotasResponse,
  AlterUserScramCredentialsResponse,
  CreateAclsResponse,
  DeleteAclsResponse,
  DescribeAclsResponse,
  DescribeClientQuotasResponse,
  DescribeUserScramCredentialsResponse,
} from '../../broker/protocol/generated/index.ts';
import type { Cluster } from './cluster.ts';
import { AdminKafkaError } from './errors.ts';
import { scramMinIterations, scramSaltedPassword } from './sasl.ts';
import type { ScramMechanism } from './sasl.ts';

const enumOf = <T extends string>(names: readonly T[]) =>
  Object.freeze(Object.fromEntries(names.map((n, i) => [n, i])) as Record<T, number>);
export const AclResourceType = enumOf([
  'UNKNOWN',
  'ANY',
  'TOPIC',
  'GROUP',
  'CLUSTER',
  'TRANSACTIONAL_ID',
  'DELEGATION_TOKEN',
  'USER',
] as const);
export const AclPatternType = enumOf(['UNKNOWN', 'ANY', 'MATCH', 'LITERAL', 'PREFIXED'] as const);
export const AclOperation = enumOf([
  'UNKNOWN',
  'ANY',
  'ALL',
  'READ',
  'WRITE',
  'CREATE',
  'DELETE',
  'ALTER',
  'DESCRIBE',
  'CLUSTER_ACTION',
  'DESCRIBE_CONFIGS',
  'ALTER_CONFIGS',
  'IDEMPOTENT_WRITE',
  'CREATE_TOKENS',
  'DESCRIBE_TOKENS',
  'TWO_PHASE_COMMIT',
] as const);
export const AclPermissionType = enumOf(['UNKNOWN', 'ANY', 'DENY', 'ALLOW'] as const);
const nameOf = <T extends string>(e: Record<T, number>, v: number): T => (Object.keys(e).find((k) => e[k as T] === v) ?? 'UNKNOWN') as T;

export interface AclBinding {
  resourceType: keyof typeof AclResourceType;
  resourceName: string;
  patternType: keyof typeof AclPatternType;
  /** "User:alice" */
  principal: string;
  host: string;
  operation: keyof typeof AclOperation;
  permission: keyof typeof AclPermissionType;
}

/** A filter: omitted fields match anything (ANY, or null names). */
export type AclFilter = Partial<AclBinding>;

function filterFields(f: AclFilter) {
  return {
    resourceTypeFilter: AclResourceType[f.resourceType ?? 'ANY'],
    resourceNameFilter: f.resourceName ?? null,
    patternTypeFilter: AclPatternType[f.patternType ?? 'ANY'],
    principalFilter: f.principal ?? null,
    hostFilter: f.host ?? null,
    operation: AclOperation[f.operation ?? 'ANY'],
    permissionType: AclPermissionType[f.permission ?? 'ANY'],
  };
}

export async function describeAcls(cluster: Cluster, filter: AclFilter, deadline: number): Promise<AclBinding[]> {
  const c = await cluster.any(deadline);
  const { body } = await c.request<DescribeAclsResponse>(ApiKey.DescribeAcls, () => filterFields(filter), deadline);
  if (body.errorCode !== 0) throw new AdminKafkaError(body.errorCode, body.errorMessage, 'DescribeAcls');
  return body.resources.flatMap((r) =>
    r.acls.map((a) => ({
      resourceType: nameOf(AclResourceType, r.resourceType),
      resourceName: r.resourceName,
      patternType: nameOf(AclPatternType, r.patternType),
      principal: a.principal,
      host: a.host,
      operation: nameOf(AclOperation, a.operation),
      permission: nameOf(AclPermissionType, a.permissionType),
    })),
  );
}

export async function createAcls(
  cluster: Cluster,
  acls: AclBinding[],
  deadline: number,
): Promise<{ acl: AclBinding; error: AdminKafkaError | null }[]> {
  const c = await cluster.any(deadline);
  const { body } = await c.request<CreateAclsResponse>(
    ApiKey.CreateAcls,
    () => ({
      creations: acls.map((a) => ({
        resourceType: AclResourceType[a.resourceType],
        resourceName: a.resourceName,
        resourcePatternType: AclPatternType[a.patternType],
        principal: a.principal,
        host: a.host,
        operation: AclOperation[a.operation],
        permissionType: AclPermissionType[a.permission],
      })),
    }),
    deadline,
  );
  return acls.map((acl, i) => {
    const r = body.results[i];
    return {
      acl,
      error: !r
        ? new AdminKafkaError(-1, 'no result')
        : r.errorCode === 0
          ? null
          : new AdminKafkaError(r.errorCode, r.errorMessage, 'CreateAcls'),
    };
  });
}

export async function deleteAcls(
  cluster: Cluster,
  filters: AclFilter[],
  deadline: number,
): Promise<{ filter: AclFilter; deleted: AclBinding[]; error: AdminKafkaError | null }[]> {
  const c = await cluster.any(deadline);
  const { body } = await c.request<DeleteAclsResponse>(ApiKey.DeleteAcls, () => ({ filters: filters.map(filterFields) }), deadline);
  return filters.map((filter, i) => {
    const r = body.filterResults[i];
    if (!r) return { filter, deleted: [], error: new AdminKafkaError(-1, 'no result') };
    return {
      filter,
      error: r.errorCode === 0 ? null : new AdminKafkaError(r.errorCode, r.errorMessage, 'DeleteAcls'),
      deleted: r.matchingAcls.map((a) => ({
        resourceType: nameOf(AclResourceType, a.resourceType),
        resourceName: a.resourceName,
        patternType: nameOf(AclPatternType, a.patternType),
        principal: a.principal,
        host: a.host,
        operation: nameOf(AclOperation, a.operation),
        permission: nameOf(AclPermissionType, a.permissionType),
      })),
    };
  });
}

// ---- client quotas ----

/** A quota entity: e.g. { user: 'alice' } or { 'client-id': 'app' }; a null name is the default entity. */
export type QuotaEntity = Record<string, string | null>;

export interface QuotaEntry {
  entity: QuotaEntity;
  /** e.g. producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate */
  values: Record<string, number>;
}

export async function describeClientQuotas(
  cluster: Cluster,
  components: { entityType: string; match?: string | null; matchType?: 'EXACT' | 'DEFAULT' | 'SPECIFIED' }[],
  strict: boolean,
  deadline: number,
): Promise<QuotaEntry[]> {
  const c = await cluster.any(deadline);
  const matchTypes = { EXACT: 0, DEFAULT: 1, SPECIFIED: 2 };
  const { body } = await c.request<DescribeClientQuotasResponse>(
    ApiKey.DescribeClientQuotas,
    () => ({
      components: components.map((x) => ({
        entityType: x.entityType,
        matchType: matchTypes[x.matchType ?? 'EXACT'],
        match: x.match ?? null,
      })),
      strict,
    }),
    deadline,
  );
  if (body.errorCode !== 0) throw new AdminKafkaError(body.errorCode, body.errorMessage, 'DescribeClientQuotas');
  return (body.entries ?? []).map((e) => ({
    entity: Object.fromEntries(e.entity.map((x) => [x.entityType, x.entityName])),
    values: Object.fromEntries(e.values.map((v) => [v.key, v.value])),
  }));
}

export async function alterClientQuotas(
  cluster: Cluster,
  entries: { entity: QuotaEntity; set?: Record<string, number>; remove?: string[] }[],
  validateOnly: boolean,
  deadline: number,
): Promise<{ entity: QuotaEntity; error: AdminKafkaError | null }[]> {
  const c = await cluster.any(deadline);
  const { body } = await c.request<AlterClientQuotasResponse>(
    ApiKey.AlterClientQuotas,
    () => ({
      entries: entries.map((e) => ({
        entity: Object.entries(e.entity).map(([entityType, entityName]) => ({ entityType, entityName })),
        ops: [
          ...Object.entries(e.set ?? {}).map(([key, value]) => ({ key, value, remove: false })),
          ...(e.remove ?? []).map((key) => ({ key, value: 0, remove: true })),
        ],
      })),
      validateOnly,
    }),
    deadline,
  );
  return body.entries.map((r) => ({
    entity: Object.fromEntries(r.entity.map((x) => [x.entityType, x.entityName])),
    error: r.errorCode === 0 ? null : new AdminKafkaError(r.errorCode, r.errorMessage, 'AlterClientQuotas'),
  }));
}

// ---- SCRAM credentials ----

const scramMechanismIds: Record<ScramMechanism, number> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };

export async function describeUserScramCredentials(
  cluster: Cluster,
  users: string[] | null,
  deadline: number,
): Promise<
  { user: string; credentials: { mechanism: ScramMechanism | 'UNKNOWN'; iterations: number }[]; error: AdminKafkaError | null }[]
> {
  const c = await cluster.any(deadline);
  const { body } = await c.request<DescribeUserScramCredentialsResponse>(
    ApiKey.DescribeUserScramCredentials,
    () => ({ users: users === null ? null : users.map((name) => ({ name })) }),
    deadline,
  );
  if (body.errorCode !== 0) throw new AdminKafkaError(body.errorCode, body.errorMessage, 'DescribeUserScramCredentials');
  return body.results.map((r) => ({
    user: r.user,
    error: r.errorCode === 0 ? null : new AdminKafkaError(r.errorCode, r.errorMessage, r.user),
    credentials: r.credentialInfos.map((i) => ({
      mechanism: i.mechanism === 1 ? 'SCRAM-SHA-256' : i.mechanism === 2 ? 'SCRAM-SHA-512' : 'UNKNOWN',
      iterations: i.iterations,
    })),
  }));
}

/** Upserts (the salted password is computed here: the password never leaves this process) and deletes credentials. */
export async function alterUserScramCredentials(
  cluster: Cluster,
  upsertions: { user: string; mechanism: ScramMechanism; password: string; iterations?: number }[],
  deletions: { user: string; mechanism: ScramMechanism }[],
  deadline: number,
): Promise<{ user: string; error: AdminKafkaError | null }[]> {
  const c = await cluster.any(deadline);
  const ups = upsertions.map((u) => {
    const salt = randomBytes(32);
    const iterations = u.iterations ?? scramMinIterations;
    return {
      name: u.user,
      mechanism: scramMechanismIds[u.mechanism],
      iterations,
      salt,
      saltedPassword: scramSaltedPassword(u.mechanism, u.password, salt, iterations),
    };
  });
  const { body } = await c.request<AlterUserScramCredentialsResponse>(
    ApiKey.AlterUserScramCredentials,
    () => ({ upsertions: ups, deletions: deletions.map((d) => ({ name: d.user, mechanism: scramMechanismIds[d.mechanism] })) }),
    deadline,
  );
  return body.results.map((r) => ({
    user: r.user,
    error: r.errorCode === 0 ? null : new AdminKafkaError(r.errorCode, r.errorMessage, r.user),
  }));
}
