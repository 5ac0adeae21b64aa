// AlterClientQuotas (KIP-546): one result per entity, in order (broker/security/quota-admin.ts).
import { ApiKey } from '../protocol/generated/index.ts';
import type { AlterClientQuotasRequest, AlterClientQuotasResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { alterQuotas, toEntity } from '../security/quota-admin.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const alterClientQuotasHandler: ApiHandler<typeof ApiKey.AlterClientQuotas> = {
  apiKey: ApiKey.AlterClientQuotas,
  minVersion: 0,
  maxVersion: 1,
  ordered: true,
  async handle(ctx: RequestContext, req: AlterClientQuotasRequest): Promise<AlterClientQuotasResponseInput> {
    const q = ctx.services.quotas;
    const entries = [];
    for (const e of req.entries) {
      const entity = toEntity(e.entity);
      let error: string | null = typeof entity === 'string' ? entity : null;
      if (typeof entity !== 'string') error = await alterQuotas(q, entity, e.ops, req.validateOnly);
      entries.push({
        errorCode: error === null ? ErrorCode.NONE : ErrorCode.INVALID_REQUEST,
        errorMessage: error,
        entity: e.entity.map((c) => ({ entityType: c.entityType, entityName: c.entityName })),
      });
    }
    return { throttleTimeMs: 0, entries };
  },
};
