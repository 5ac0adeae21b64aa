// DescribeClientQuotas (KIP-546): the entities matching the filter and their quotas (broker/security/quota-admin.ts).
import { ApiKey } from '../protocol/generated/index.ts';
import type { DescribeClientQuotasRequest, DescribeClientQuotasResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { describeQuotas } from '../security/quota-admin.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const describeClientQuotasHandler: ApiHandler<typeof ApiKey.DescribeClientQuotas> = {
  apiKey: ApiKey.DescribeClientQuotas,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx: RequestContext, req: DescribeClientQuotasRequest): DescribeClientQuotasResponseInput {
    const found = describeQuotas(ctx.services.quotas, req.components, req.strict);
    if (typeof found === 'string') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: found, entries: null };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      entries: found.map(({ entity, values }) => ({
        entity: Object.entries(entity).map(([entityType, entityName]) => ({ entityType, entityName })),
        values: Object.entries(values).map(([key, value]) => ({ key, value: Number(value) })),
      })),
    };
  },
};
