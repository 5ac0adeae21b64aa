// ACL bindings and filters with Kafka's enum codes (the numbers of the ACL APIs' wire fields), how a binding
// matches a filter (DescribeAcls, DeleteAcls) and how a binding is validated (CreateAcls), as Kafka does.

/** Kafka's ResourceType codes. */
export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;

/** Kafka's PatternType codes. */
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;

/** Kafka's AclOperation codes. */
export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
  TWO_PHASE_COMMIT: 15,
} as const;

/** Kafka's AclPermissionType codes. */
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The only cluster resource's name. */
export const CLUSTER_NAME = 'kafka-cluster';
/** A literal resource name matching every resource of its type. */
export const WILDCARD_RESOURCE = '*';
/** The principal matching every user. */
export const WILDCARD_PRINCIPAL = 'User:*';
export const WILDCARD_HOST = '*';

/** One ACL: who (principal, host) may or may not (permission) do what (operation) on which resources (pattern). */
export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  /** "User:alice" */
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permission: number;
}

/** A DescribeAcls or DeleteAcls filter: null matches any name, principal or host; ANY codes match any value. */
export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permission: number;
}

/** The operations each resource type supports (Kafka's AclEntry.supportedOperations), for authorized-operations fields. */
export const SUPPORTED_OPERATIONS: Readonly<Record<number, readonly number[]>> = {
  [ResourceType.TOPIC]: [3, 4, 5, 6, 7, 8, 10, 11],
  [ResourceType.GROUP]: [3, 6, 8, 10, 11],
  [ResourceType.CLUSTER]: [5, 7, 8, 9, 10, 11, 12],
  [ResourceType.TRANSACTIONAL_ID]: [4, 8, 15],
  [ResourceType.DELEGATION_TOKEN]: [8],
  [ResourceType.USER]: [13, 14],
};

/** Does the resource pattern of a binding match the filter's (Kafka's ResourcePatternFilter.matches)? */
function patternMatches(f: AclBindingFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (f.patternType === PatternType.ANY) return f.resourceName === null || f.resourceName === b.resourceName;
  if (f.patternType === PatternType.MATCH) {
    if (f.resourceName === null) return true;
    if (b.patternType === PatternType.LITERAL) return b.resourceName === f.resourceName || b.resourceName === WILDCARD_RESOURCE;
    return b.patternType === PatternType.PREFIXED && f.resourceName.startsWith(b.resourceName);
  }
  if (f.patternType !== b.patternType) return false;
  return f.resourceName === null || f.resourceName === b.resourceName;
}

/** Does the binding match the filter (Kafka's AclBindingFilter.matches)? */
export function filterMatches(f: AclBindingFilter, b: AclBinding): boolean {
  return (
    patternMatches(f, b) &&
    (f.principal === null || f.principal === b.principal) &&
    (f.host === null || f.host === b.host) &&
    (f.operation === AclOperation.ANY || f.operation === b.operation) &&
    (f.permission === AclPermission.ANY || f.permission === b.permission)
  );
}

/** Kafka's enum name of a code ("UNKNOWN" for a code it does not know, as its fromCode gives). */
function nameOf(codes: Record<string, number>, v: number): string {
  for (const [k, c] of Object.entries(codes)) if (c === v) return k;
  return 'UNKNOWN';
}

/**
 * Why Kafka refuses to create this binding (CreateAcls answers INVALID_REQUEST with it), or null when valid, with
 * Kafka's messages. Kafka's controller also refuses the filter-only values (ANY, MATCH), but through an unexpected
 * exception (UNKNOWN_SERVER_ERROR); Skafos answers them INVALID_REQUEST. A principal needs its type ("User:");
 * the cluster resource is named kafka-cluster.
 */
export function invalidBinding(b: AclBinding): string | null {
  const type = nameOf(ResourceType, b.resourceType);
  if (type === 'UNKNOWN' || type === 'ANY') return `Invalid resourceType ${type}`;
  const pattern = nameOf(PatternType, b.patternType);
  if (pattern !== 'LITERAL' && pattern !== 'PREFIXED') return `Invalid patternType ${pattern}`;
  const op = nameOf(AclOperation, b.operation);
  if (op === 'UNKNOWN' || op === 'ANY') return `Invalid operation ${op}`;
  const permission = nameOf(AclPermission, b.permission);
  if (permission !== 'ALLOW' && permission !== 'DENY') return `Invalid permissionType ${permission}`;
  if (b.resourceName === '') return 'Invalid empty resource name';
  if (!b.principal.includes(':'))
    return `Could not parse principal from \`${b.principal}\` (no colon is present separating the principal type from the principal name)`;
  if (b.host === '') return 'Host pattern cannot be null or empty';
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_NAME)
    return 'The only valid name for the CLUSTER resource is kafka-cluster';
  return null;
}
