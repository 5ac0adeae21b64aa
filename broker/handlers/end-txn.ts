// EndTxn: commits or aborts a producer's transaction at its transaction coordinator. Answered once the decision
// (PrepareCommit / PrepareAbort) is stored; the markers are written afterwards (spec/transactions.md). v0-v4 are
// transaction version 1; v5 is version 2 (KIP-890 part 2): the epoch is bumped by every EndTxn and the answer
// carries the producer id and epoch to continue with. As in Kafka, the request's version decides, whatever
// transaction.version is finalized.
import { ApiKey } from '../protocol/generated/index.ts';
import type { EndTxnRequest, EndTxnResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** The first EndTxn version of transaction version 2. */
const transactionV2Version = 5;

export const endTxnHandler: ApiHandler<typeof ApiKey.EndTxn> = {
  apiKey: ApiKey.EndTxn,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx: RequestContext, req: EndTxnRequest): Promise<EndTxnResponseInput> {
    const coordinator = ctx.services.txn.coordinator;
    if (ctx.apiVersion >= transactionV2Version) {
      const r = await coordinator.endTransactionV2(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
      return { throttleTimeMs: 0, errorCode: r.errorCode, producerId: r.producerId, producerEpoch: r.producerEpoch };
    }
    const errorCode = await coordinator.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed);
    return { throttleTimeMs: 0, errorCode };
  },
};
