// CreateAcls, DescribeAcls and DeleteAcls on the cluster's ACLs (the authorizer's store), with Kafka's
// validation: what each request's handler calls.
import { AclStoreFullError } from '../metadata/acl-store.ts';
import { AclOperation, AclPermission, PatternType, ResourceType, filterMatches, invalidBinding } from './acl.ts';
import type { AclBinding, AclBindingFilter } from './acl.ts';
import type { Authorizer } from './authorizer.ts';

/** An ACL operation's outcome: null when it succeeded, else Kafka's error code and message. */
export type AclError = { code: 'INVALID_REQUEST' | 'UNKNOWN_SERVER_ERROR' | 'POLICY_VIOLATION'; message: string } | null;

/** Creates each binding (one outcome per binding, in order); an invalid binding fails alone. */
export async function createAcls(authorizer: Authorizer, bindings: readonly AclBinding[]): Promise<AclError[]> {
  return Promise.all(
    bindings.map(async (b): Promise<AclError> => {
      const invalid = invalidBinding(b);
      if (invalid !== null) return { code: 'INVALID_REQUEST', message: invalid };
      try {
        await authorizer.acls.add(b.resourceType, b.patternType, b.resourceName, [
          { principal: b.principal, host: b.host, operation: b.operation, permission: b.permission },
        ]);
        return null;
      } catch (e) {
        if (e instanceof AclStoreFullError) return { code: 'POLICY_VIOLATION', message: e.message };
        return { code: 'UNKNOWN_SERVER_ERROR', message: `could not store the ACL: ${(e as Error).message}` };
      }
    }),
  );
}

const isKnown = (codes: Record<string, number>, v: number) => Object.values(codes).includes(v);

/**
 * A filter holding the UNKNOWN code (0) itself: Kafka cannot even parse the request (it closes the connection);
 * Skafos answers INVALID_REQUEST with this message. null otherwise.
 */
export function unknownInFilter(f: AclBindingFilter): string | null {
  if (f.resourceType === 0 || f.patternType === 0 || f.operation === 0 || f.permission === 0) return 'The filter contains UNKNOWN elements';
  return null;
}

/**
 * Why DeleteAcls refuses a filter (INVALID_REQUEST, Kafka's messages), or null: codes Kafka does not know, or
 * UNKNOWN itself (see unknownInFilter). DescribeAcls answers such a filter with no ACLs instead, as Kafka does.
 */
export function invalidFilter(f: AclBindingFilter): string | null {
  const unknown = unknownInFilter(f);
  if (unknown !== null) return unknown;
  if (!isKnown(ResourceType, f.resourceType) || !isKnown(PatternType, f.patternType)) return 'Unknown patternFilter.';
  if (!isKnown(AclOperation, f.operation) || !isKnown(AclPermission, f.permission)) return 'Unknown entryFilter.';
  return null;
}

/** The bindings matching the filter. */
export function describeAcls(authorizer: Authorizer, filter: AclBindingFilter): AclBinding[] {
  return authorizer.bindings().filter((b) => filterMatches(filter, b));
}

/** Deletes the bindings matching each filter; resolves with those deleted, per filter (a binding goes to the first filter matching it). */
export async function deleteAcls(authorizer: Authorizer, filters: readonly AclBindingFilter[]): Promise<AclBinding[][]> {
  const out: AclBinding[][] = filters.map(() => []);
  // The resource patterns any filter touches, each rewritten once (guarded by its revision).
  const patterns = new Map<string, { resourceType: number; patternType: number; name: string }>();
  for (const b of authorizer.bindings()) {
    if (filters.some((f) => invalidFilter(f) === null && filterMatches(f, b)))
      patterns.set(`${b.resourceType}/${b.patternType}/${b.resourceName}`, {
        resourceType: b.resourceType,
        patternType: b.patternType,
        name: b.resourceName,
      });
  }
  await Promise.all(
    [...patterns.values()].map((p) =>
      authorizer.acls.update(p.resourceType, p.patternType, p.name, (current) => {
        for (const list of out) for (let i = list.length - 1; i >= 0; i--) if (samePattern(list[i]!, p)) list.splice(i, 1);
        const kept: (typeof current)[number][] = [];
        for (const a of current) {
          const b: AclBinding = { resourceType: p.resourceType, resourceName: p.name, patternType: p.patternType, ...a };
          const i = filters.findIndex((f) => invalidFilter(f) === null && filterMatches(f, b));
          if (i < 0) kept.push(a);
          else out[i]!.push(b);
        }
        return kept;
      }),
    ),
  );
  return out;
}

const samePattern = (b: AclBinding, p: { resourceType: number; patternType: number; name: string }) =>
  b.resourceType === p.resourceType && b.patternType === p.patternType && b.resourceName === p.name;
