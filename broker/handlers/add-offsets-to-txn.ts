// AddOffsetsToTxn (v0-v4): adds a consumer group's coordinator partition to a producer's transaction (as
// Kafka adds the group's __consumer_offsets partition), so that its COMMIT or ABORT marker also applies or drops
// the offsets the producer commits for the group with TxnOffsetCommit.
import { ApiKey } from '../protocol/generated/index.ts';
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { groupOffsetsTopic } from '../txn/coordinator.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const addOffsetsToTxnHandler: ApiHandler<typeof ApiKey.AddOffsetsToTxn> = {
  apiKey: ApiKey.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx: RequestContext, req: AddOffsetsToTxnRequest): Promise<AddOffsetsToTxnResponseInput> {
    if (req.groupId === '') return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_GROUP_ID };
    const errorCode = await ctx.services.txn.coordinator.addPartitions(req.transactionalId, req.producerId, req.producerEpoch, [
      { topic: groupOffsetsTopic, partition: coordinatorPartitionOf(req.groupId) },
    ]);
    return { throttleTimeMs: 0, errorCode };
  },
};
