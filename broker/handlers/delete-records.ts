// DeleteRecords: moves a partition's log start offset (low watermark) forward, durably. Offset -1 means the
// high watermark; beyond it, or negative, is OFFSET_OUT_OF_RANGE; a topic without the delete cleanup policy
// refuses (POLICY_VIOLATION), as Kafka's Partition.deleteRecordsOnLeader does.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DeleteRecordsRequest,
  DeleteRecordsResponseInput,
  DeleteRecordsResponseDeleteRecordsTopicResultInput,
  DeleteRecordsResponseDeleteRecordsPartitionResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { listElements, topicConfigValue } from '../log/topic-config.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

/** DeleteRecordsRequest.HIGH_WATERMARK */
export const HIGH_WATERMARK = -1;
/** DeleteRecordsResponse.INVALID_LOW_WATERMARK */
const invalidLowWatermark = -1;

interface PartitionResult {
  lowWatermark: number;
  errorCode: number;
}

function deletePartition(s: BrokerServices, topicName: string, partition: number, offset: number): Promise<PartitionResult> {
  const fail = (errorCode: number): PartitionResult => ({ lowWatermark: invalidLowWatermark, errorCode });
  // Under the admin lock: the topic cannot be deleted or changed while its log start moves.
  return s.adminLock(async () => {
    const topic = s.topics.byName(topicName);
    const log = topic && partition >= 0 && partition < topic.partitions ? s.logs.partition(topic.id, partition) : undefined;
    if (!topic || partition < 0 || partition >= topic.partitions) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (!log) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (s.logs.fenced) return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (!listElements(topicConfigValue(topic, 'cleanup.policy', s.config)).includes('delete')) return fail(ErrorCode.POLICY_VIOLATION);
    const target = offset === HIGH_WATERMARK ? log.highWatermark : offset;
    if (target < 0 || target > log.highWatermark) return fail(ErrorCode.OFFSET_OUT_OF_RANGE);
    try {
      return { lowWatermark: await s.logs.deleteRecordsBefore(log, target), errorCode: ErrorCode.NONE };
    } catch (err) {
      s.logger.warn({ err, topic: topicName, partition }, 'DeleteRecords failed');
      return fail(s.logs.fenced ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_SERVER_ERROR);
    }
  });
}

export const deleteRecordsHandler: ApiHandler<typeof ApiKey.DeleteRecords> = {
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: DeleteRecordsRequest): Promise<DeleteRecordsResponseInput> {
    // Kafka keys the request by topic-partition: a partition named twice is deleted up to its last offset.
    const wanted = new Map<string, Map<number, number>>();
    for (const t of req.topics) {
      let partitions = wanted.get(t.name);
      if (!partitions) wanted.set(t.name, (partitions = new Map()));
      for (const p of t.partitions) partitions.set(p.partitionIndex, p.offset);
    }
    const topics: DeleteRecordsResponseDeleteRecordsTopicResultInput[] = [];
    for (const [name, partitions] of wanted) {
      const results: DeleteRecordsResponseDeleteRecordsPartitionResultInput[] = [];
      for (const [partitionIndex, offset] of partitions)
        results.push({ partitionIndex, ...(await deletePartition(ctx.services, name, partitionIndex, offset)) });
      topics.push({ name, partitions: results });
    }
    return { throttleTimeMs: 0, topics };
  },
};
