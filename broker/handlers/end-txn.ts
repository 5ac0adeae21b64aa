// EndTxn (v0-v4): commits or aborts a producer's transaction at its transaction coordinator. Answered once the
// decision (PrepareCommit / PrepareAbort) is stored; the markers are written afterwards (spec/transactions.md).
// v5 (KIP-890 transaction version 2, epoch bump on every EndTxn) is not served.
import { ApiKey } from '../protocol/generated/index.ts';
import type { EndTxnRequest, EndTxnResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const endTxnHandler: ApiHandler<typeof ApiKey.EndTxn> = {
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx: RequestContext, req: EndTxnRequest): Promise<EndTxnResponseInput> {
    const errorCode = await ctx.services.txn.coordinator.endTransaction(
      req.transactionalId,
      req.producerId,
      req.producerEpoch,
      req.committed,
    );
    return { throttleTimeMs: 0, errorCode };
  },
};
