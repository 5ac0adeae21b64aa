// DescribeAcls: the ACLs matching the filter, grouped by resource pattern (broker/security/acl-admin.ts).
// Without an authorizer, SECURITY_DISABLED for the whole request with Kafka's message, as Apache Kafka answers.
// v0 is not served: Kafka 4 removed it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeAclsRequest,
  DescribeAclsResponseInput,
  DescribeAclsResponseDescribeAclsResourceInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { describeAcls, unknownInFilter } from '../security/acl-admin.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** Kafka's message for every ACL request when no authorizer is configured. */
export const NO_AUTHORIZER_MESSAGE = 'No Authorizer is configured.';

export const describeAclsHandler: ApiHandler<typeof ApiKey.DescribeAcls> = {
  apiKey: ApiKey.DescribeAcls,
  minVersion: 1,
  maxVersion: 3,
  handle(ctx: RequestContext, req: DescribeAclsRequest): DescribeAclsResponseInput {
    const authorizer = ctx.services.authorizer;
    if (!authorizer)
      return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER_MESSAGE, resources: [] };
    const filter = {
      resourceType: req.resourceTypeFilter,
      resourceName: req.resourceNameFilter,
      patternType: req.patternTypeFilter,
      principal: req.principalFilter,
      host: req.hostFilter,
      operation: req.operation,
      permission: req.permissionType,
    };
    // A filter with codes Kafka does not know matches nothing (answered with no ACLs, as Kafka does).
    const invalid = unknownInFilter(filter);
    if (invalid !== null) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, resources: [] };
    const resources = new Map<string, DescribeAclsResponseDescribeAclsResourceInput & { acls: unknown[] }>();
    for (const b of describeAcls(authorizer, filter)) {
      const key = `${b.resourceType}/${b.patternType}/${b.resourceName}`;
      let r = resources.get(key);
      if (!r)
        resources.set(key, (r = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] }));
      r.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission });
    }
    // Kafka answers a success with an empty message, not null.
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: '', resources: [...resources.values()] };
  },
};
