// TxnOffsetCommit (v0-v5): offsets a transactional producer commits for a consumer group, sent to the group's
// coordinator. They stay pending (broker/txn/txn-offsets.ts) and become the group's committed offsets only when
// the transaction commits; an abort drops them. v5 is transaction version 2 (KIP-890 part 2): the client sent no
// AddOffsetsToTxn, so the group's offsets partition is first added to the transaction here, as Kafka does.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponseInput,
  TxnOffsetCommitResponseTopicInput,
  TxnOffsetCommitResponsePartitionInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { groupOffsetsTopic } from '../txn/coordinator.ts';
import { produceErrorForVerification } from '../txn/verification.ts';
import type { OffsetCommitEntry } from '../groups/offsets.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** The first TxnOffsetCommit version of transaction version 2. */
const transactionV2Version = 5;

/**
 * Adds the group's offsets partition to the producer's transaction at its coordinator (Kafka's transactional
 * write verification with the add operation). Coordinator trouble becomes COORDINATOR_NOT_AVAILABLE (retriable),
 * a fenced producer INVALID_PRODUCER_EPOCH, as Kafka's group coordinator answers them.
 */
async function addOffsetsPartition(ctx: RequestContext, req: TxnOffsetCommitRequest): Promise<number> {
  const [code] = await ctx.services.txn.verify(
    req.transactionalId,
    req.producerId,
    req.producerEpoch,
    [{ topic: groupOffsetsTopic, partition: coordinatorPartitionOf(req.groupId) }],
    true,
  );
  if (code === ErrorCode.NONE) return code;
  const mapped = produceErrorForVerification(code!).errorCode;
  return mapped === ErrorCode.NOT_ENOUGH_REPLICAS ? ErrorCode.COORDINATOR_NOT_AVAILABLE : mapped;
}

export const txnOffsetCommitHandler: ApiHandler<typeof ApiKey.TxnOffsetCommit> = {
  apiKey: ApiKey.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 5,
  // commits of one connection apply in the order sent (a later commit of a partition wins).
  ordered: true,
  async handle(ctx: RequestContext, req: TxnOffsetCommitRequest): Promise<TxnOffsetCommitResponseInput> {
    const s = ctx.services;
    const now = Date.now();
    const maxMetadata = s.config.offsetMetadataMaxBytes;
    const offsets: OffsetCommitEntry[] = [];
    const tooLarge = new Set<string>();
    for (const t of req.topics) {
      for (const p of t.partitions) {
        if (p.committedMetadata !== null && p.committedMetadata.length > maxMetadata) {
          tooLarge.add(`${t.name}\0${p.partitionIndex}`);
          continue;
        }
        offsets.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch,
          metadata: p.committedMetadata,
          commitTimestampMs: now,
          expireTimestampMs: null,
        });
      }
    }
    let code: number = ErrorCode.NONE;
    if (req.groupId === '') code = ErrorCode.INVALID_GROUP_ID;
    else if (ctx.apiVersion >= transactionV2Version && offsets.length > 0) code = await addOffsetsPartition(ctx, req);
    if (code === ErrorCode.NONE && offsets.length > 0) {
      const pending = s.txn.offsets.commit({
        groupId: req.groupId,
        producerId: req.producerId,
        producerEpoch: req.producerEpoch,
        generationId: req.generationIdOrMemberEpoch,
        memberId: req.memberId,
        groupInstanceId: req.groupInstanceId,
        offsets,
      });
      // Queued behind this connection's earlier commits of the producer: the next may start.
      ctx.applied();
      code = await pending;
    }
    return {
      throttleTimeMs: 0,
      topics: req.topics.map(
        (t): TxnOffsetCommitResponseTopicInput => ({
          name: t.name,
          partitions: t.partitions.map(
            (p): TxnOffsetCommitResponsePartitionInput => ({
              partitionIndex: p.partitionIndex,
              errorCode: tooLarge.has(`${t.name}\0${p.partitionIndex}`) ? ErrorCode.OFFSET_METADATA_TOO_LARGE : code,
            }),
          ),
        }),
      ),
    };
  },
};
