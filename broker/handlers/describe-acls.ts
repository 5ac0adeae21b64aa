// DescribeAcls: Skafos has no authorizer (acl-ops.ts allows everything), so there are no ACLs to list. Answered
// as Apache Kafka answers when no authorizer is configured: SECURITY_DISABLED for the whole request, with
// Kafka's message, and no resources. v0 is not served: Kafka 4 removed it (KIP-896).
import { ApiKey } from '../protocol/generated/index.ts';
import type { DescribeAclsResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler } from './context.ts';

/** Kafka's message for every ACL request when no authorizer is configured. */
export const NO_AUTHORIZER_MESSAGE = 'No Authorizer is configured.';

export const describeAclsHandler: ApiHandler<typeof ApiKey.DescribeAcls> = {
  apiKey: ApiKey.DescribeAcls,
  minVersion: 1,
  maxVersion: 3,
  handle(): DescribeAclsResponseInput {
    return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER_MESSAGE, resources: [] };
  },
};
