// DescribeTransactions (v0): state, producer, timeout and partitions of transactional ids this broker
// coordinates (others get NOT_COORDINATOR; the admin client asks each id's coordinator).
import { ApiKey } from '../protocol/generated/index.ts';
import type { DescribeTransactionsRequest, DescribeTransactionsResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const describeTransactionsHandler: ApiHandler<typeof ApiKey.DescribeTransactions> = {
  apiKey: ApiKey.DescribeTransactions,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx: RequestContext, req: DescribeTransactionsRequest): DescribeTransactionsResponseInput {
    return { throttleTimeMs: 0, transactionStates: req.transactionalIds.map((id) => ctx.services.txn.coordinator.describe(id)) };
  },
};
