// CreateAcls: Skafos has no authorizer (acl-ops.ts allows everything), so no ACL can be stored. Answered as
// Apache Kafka answers when no authorizer is configured: one result per requested creation, in order, each
// SECURITY_DISABLED with Kafka's message. v0 is not served: Kafka 4 removed it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type { CreateAclsRequest, CreateAclsResponseInput, CreateAclsResponseAclCreationResultInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { NO_AUTHORIZER_MESSAGE } from './describe-acls.ts';

export const createAclsHandler: ApiHandler<typeof ApiKey.CreateAcls> = {
  apiKey: ApiKey.CreateAcls,
  minVersion: 1,
  maxVersion: 3,
  handle(_ctx: RequestContext, req: CreateAclsRequest): CreateAclsResponseInput {
    return {
      throttleTimeMs: 0,
      results: req.creations.map(
        (): CreateAclsResponseAclCreationResultInput => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER_MESSAGE }),
      ),
    };
  },
};
