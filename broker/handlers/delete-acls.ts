// DeleteAcls: one result per filter, in order, with the ACLs it deleted (broker/security/acl-admin.ts). Without
// an authorizer, SECURITY_DISABLED for each filter, as Apache Kafka answers. v0 is not served: Kafka 4 removed
// it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DeleteAclsRequest,
  DeleteAclsResponseInput,
  DeleteAclsResponseDeleteAclsFilterResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { deleteAcls, invalidFilter } from '../security/acl-admin.ts';
import type { AclBindingFilter } from '../security/acl.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { NO_AUTHORIZER_MESSAGE } from './describe-acls.ts';

export const deleteAclsHandler: ApiHandler<typeof ApiKey.DeleteAcls> = {
  apiKey: ApiKey.DeleteAcls,
  minVersion: 1,
  maxVersion: 3,
  ordered: true,
  async handle(ctx: RequestContext, req: DeleteAclsRequest): Promise<DeleteAclsResponseInput> {
    const authorizer = ctx.services.authorizer;
    if (!authorizer) {
      return {
        throttleTimeMs: 0,
        filterResults: req.filters.map(
          (): DeleteAclsResponseDeleteAclsFilterResultInput => ({
            errorCode: ErrorCode.SECURITY_DISABLED,
            errorMessage: NO_AUTHORIZER_MESSAGE,
            matchingAcls: [],
          }),
        ),
      };
    }
    const filters: AclBindingFilter[] = req.filters.map((f) => ({
      resourceType: f.resourceTypeFilter,
      resourceName: f.resourceNameFilter,
      patternType: f.patternTypeFilter,
      principal: f.principalFilter,
      host: f.hostFilter,
      operation: f.operation,
      permission: f.permissionType,
    }));
    let deleted: Awaited<ReturnType<typeof deleteAcls>>;
    try {
      deleted = await deleteAcls(authorizer, filters);
    } catch (e) {
      const message = `could not delete ACLs: ${(e as Error).message}`;
      return {
        throttleTimeMs: 0,
        filterResults: filters.map(() => ({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: message, matchingAcls: [] })),
      };
    }
    return {
      throttleTimeMs: 0,
      filterResults: filters.map((f, i): DeleteAclsResponseDeleteAclsFilterResultInput => {
        const invalid = invalidFilter(f);
        if (invalid !== null) return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid, matchingAcls: [] };
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          matchingAcls: deleted[i]!.map((b) => ({
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            resourceType: b.resourceType,
            resourceName: b.resourceName,
            patternType: b.patternType,
            principal: b.principal,
            host: b.host,
            operation: b.operation,
            permissionType: b.permission,
          })),
        };
      }),
    };
  },
};
