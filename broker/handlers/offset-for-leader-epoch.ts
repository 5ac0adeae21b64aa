// OffsetForLeaderEpoch: the end offset of a leader epoch, which consumers (replica id -1, or -2 before v3)
// use to detect log truncation after a leader change (KIP-320). current_leader_epoch (v2+) fences requests
// with stale metadata: older → FENCED_LEADER_EPOCH, newer → UNKNOWN_LEADER_EPOCH (Partition.getLocalLog).
// The lookup is Kafka's leader-epoch cache's (leader-epochs.ts): the current epoch ends at the log end offset.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponseInput,
  OffsetForLeaderEpochResponseOffsetForLeaderTopicResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { endOffsetForEpoch } from '../log/leader-epochs.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

type Partition = OffsetForLeaderEpochRequest['topics'][number]['partitions'][number];
type EpochEndOffset = NonNullable<NonNullable<OffsetForLeaderEpochResponseInput['topics']>[number]['partitions']>[number];

/** RecordBatch.NO_PARTITION_LEADER_EPOCH: no current epoch given, nothing to fence. */
const noLeaderEpoch = -1;

function endOffset(s: BrokerServices, topicName: string, p: Partition): EpochEndOffset {
  // Errors leave leader_epoch and end_offset at their defaults, -1.
  const topic = s.topics.byName(topicName);
  if (!topic || p.partition < 0 || p.partition >= topic.partitions)
    return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
  const log = s.logs.partition(topic.id, p.partition);
  if (!log) return { partition: p.partition, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  if (p.currentLeaderEpoch !== noLeaderEpoch) {
    if (p.currentLeaderEpoch < log.leaderEpoch) return { partition: p.partition, errorCode: ErrorCode.FENCED_LEADER_EPOCH };
    if (p.currentLeaderEpoch > log.leaderEpoch) return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH };
  }
  const r = endOffsetForEpoch(log.epochStarts, p.leaderEpoch, log.nextOffset);
  return { partition: p.partition, errorCode: ErrorCode.NONE, leaderEpoch: r.epoch, endOffset: r.endOffset };
}

export const offsetForLeaderEpochHandler: ApiHandler<typeof ApiKey.OffsetForLeaderEpoch> = {
  apiKey: ApiKey.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx: RequestContext, req: OffsetForLeaderEpochRequest): OffsetForLeaderEpochResponseInput {
    // The replica id is not checked: followers and consumers get the same answer from the leader.
    return {
      throttleTimeMs: 0,
      topics: req.topics.map(
        (t): OffsetForLeaderEpochResponseOffsetForLeaderTopicResultInput => ({
          topic: t.topic,
          partitions: t.partitions.map((p) => endOffset(ctx.services, t.topic, p)),
        }),
      ),
    };
  },
};
