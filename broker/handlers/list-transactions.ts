// ListTransactions (v0-v1): the transactional ids this broker coordinates, filtered by state, producer id and
// (v1, KIP-994) how long their transaction has been running. The admin client asks every broker.
import { ApiKey } from '../protocol/generated/index.ts';
import type { ListTransactionsRequest, ListTransactionsResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const listTransactionsHandler: ApiHandler<typeof ApiKey.ListTransactions> = {
  apiKey: ApiKey.ListTransactions,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx: RequestContext, req: ListTransactionsRequest): ListTransactionsResponseInput {
    const r = ctx.services.txn.coordinator.list(req.stateFilters, req.producerIdFilters, ctx.apiVersion >= 1 ? req.durationFilter : -1);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, ...r };
  },
};
