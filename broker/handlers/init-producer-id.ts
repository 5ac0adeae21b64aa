// InitProducerId (v0-v5): a new producer id with epoch 0 for an idempotent producer, from the cluster-wide
// block allocator (broker/log/producer-ids.ts). As in Kafka, a non-transactional request always gets a fresh
// id, even when it names its current producer id and epoch (KIP-360, v3+): the epoch bump of an existing id
// only exists for transactional ids, which the transaction coordinator serves (spec/transactions.md).
import { ApiKey } from '../protocol/generated/index.ts';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { producerIdAllocator } from '../log/producer-ids.ts';
import type { ApiHandler, RequestContext } from './context.ts';

function failure(errorCode: number): InitProducerIdResponseInput {
  return { throttleTimeMs: 0, errorCode, producerId: -1, producerEpoch: -1 };
}

export const initProducerIdHandler: ApiHandler<typeof ApiKey.InitProducerId> = {
  apiKey: ApiKey.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx: RequestContext, req: InitProducerIdRequest): Promise<InitProducerIdResponseInput> {
    const s = ctx.services;
    // Kafka: a producer id without an epoch (or the reverse) is malformed.
    if ((req.producerId === -1) !== (req.producerEpoch === -1)) return failure(ErrorCode.INVALID_REQUEST);
    if (req.transactionalId !== null) {
      // Transactional: the transaction coordinator of the id (broker/txn/coordinator.ts, spec/transactions.md).
      const r = await s.txn.coordinator.initProducerId(req.transactionalId, req.transactionTimeoutMs, req.producerId, req.producerEpoch);
      return { throttleTimeMs: 0, ...r };
    }
    if (s.logs.fenced) return failure(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    let producerId: number;
    try {
      producerId = await producerIdAllocator(s.metadata).allocate();
    } catch (err) {
      // Metadata store unreachable: retriable, as Kafka's answer while its id block is not ready.
      s.logger.warn({ err }, 'could not allocate a producer id');
      return failure(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
};
