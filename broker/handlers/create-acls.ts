// CreateAcls: one result per requested ACL, in order (broker/security/acl-admin.ts). Without an authorizer,
// SECURITY_DISABLED for each, as Apache Kafka answers. v0 is not served: Kafka 4 removed it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type { CreateAclsRequest, CreateAclsResponseInput, CreateAclsResponseAclCreationResultInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { createAcls } from '../security/acl-admin.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { NO_AUTHORIZER_MESSAGE } from './describe-acls.ts';

export const createAclsHandler: ApiHandler<typeof ApiKey.CreateAcls> = {
  apiKey: ApiKey.CreateAcls,
  minVersion: 1,
  maxVersion: 3,
  ordered: true,
  async handle(ctx: RequestContext, req: CreateAclsRequest): Promise<CreateAclsResponseInput> {
    const authorizer = ctx.services.authorizer;
    if (!authorizer) {
      return {
        throttleTimeMs: 0,
        results: req.creations.map(
          (): CreateAclsResponseAclCreationResultInput => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER_MESSAGE }),
        ),
      };
    }
    // Kafka answers a success with an empty message, not null.
    const outcomes = await createAcls(
      authorizer,
      req.creations.map((c) => ({
        resourceType: c.resourceType,
        resourceName: c.resourceName,
        patternType: c.resourcePatternType,
        principal: c.principal,
        host: c.host,
        operation: c.operation,
        permission: c.permissionType,
      })),
    );
    return {
      throttleTimeMs: 0,
      results: outcomes.map(
        (o): CreateAclsResponseAclCreationResultInput =>
          o === null ? { errorCode: ErrorCode.NONE, errorMessage: '' } : { errorCode: ErrorCode[o.code], errorMessage: o.message },
      ),
    };
  },
};
