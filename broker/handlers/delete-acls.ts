// DeleteAcls: Skafos has no authorizer (acl-ops.ts allows everything), so there are no ACLs to delete. Answered
// as Apache Kafka answers when no authorizer is configured: one result per filter, in order, each
// SECURITY_DISABLED with Kafka's message and no matching ACLs. v0 is not served: Kafka 4 removed it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DeleteAclsRequest,
  DeleteAclsResponseInput,
  DeleteAclsResponseDeleteAclsFilterResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { NO_AUTHORIZER_MESSAGE } from './describe-acls.ts';

export const deleteAclsHandler: ApiHandler<typeof ApiKey.DeleteAcls> = {
  apiKey: ApiKey.DeleteAcls,
  minVersion: 1,
  maxVersion: 3,
  handle(_ctx: RequestContext, req: DeleteAclsRequest): DeleteAclsResponseInput {
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
  },
};
