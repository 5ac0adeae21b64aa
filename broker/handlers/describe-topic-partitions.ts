// DescribeTopicPartitions (KIP-966): topics in name order with their partitions, at most
// response_partition_limit partitions (capped at Kafka's max.request.partition.size.limit, 2000) per response;
// next_cursor says where the next request resumes. No topics listed means all topics. Semantics follow Kafka's
// DescribeTopicPartitionsRequestHandler and KRaftMetadataCache.getTopicMetadataForDescribeTopicResponse.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeTopicPartitionsRequest,
  DescribeTopicPartitionsResponseInput,
  DescribeTopicPartitionsResponsePartitionInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { topicNameProblem } from '../metadata/topics.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import { topicAuthorizedOperations } from './acl-ops.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { describeTopicPartitionsMaxCount } from '../limits.ts';

type ResponseTopic = NonNullable<DescribeTopicPartitionsResponseInput['topics']>[number];

const zeroUuid = 'AAAAAAAAAAAAAAAAAAAAAA';

function partitions(s: BrokerServices, t: TopicRecord, start: number, end: number): DescribeTopicPartitionsResponsePartitionInput[] {
  const out: DescribeTopicPartitionsResponsePartitionInput[] = [];
  for (let p = start; p < end; p++) {
    const owner = s.cluster.ownerOf(t.id, p);
    out.push({
      errorCode: owner ? ErrorCode.NONE : ErrorCode.LEADER_NOT_AVAILABLE,
      partitionIndex: p,
      leaderId: owner?.nodeId ?? -1,
      leaderEpoch: owner?.leaderEpoch ?? -1,
      replicaNodes: owner ? [owner.nodeId] : [],
      isrNodes: owner ? [owner.nodeId] : [],
      eligibleLeaderReplicas: [],
      lastKnownElr: [],
      offlineReplicas: [],
    });
  }
  return out;
}

export const describeTopicPartitionsHandler: ApiHandler<typeof ApiKey.DescribeTopicPartitions> = {
  apiKey: ApiKey.DescribeTopicPartitions,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx: RequestContext, req: DescribeTopicPartitionsRequest): DescribeTopicPartitionsResponseInput {
    const s = ctx.services;
    const all = req.topics.length === 0;
    const cursor = req.cursor;
    const from = cursor?.topicName ?? '';
    const names = new Set<string>();
    for (const name of all ? s.topics.all().map((t) => t.name) : req.topics.map((t) => t.name)) if (name >= from) names.add(name);
    // A bad cursor fails the whole request: every requested topic gets INVALID_REQUEST.
    if ((cursor && !all && !names.has(cursor.topicName)) || (cursor && cursor.partitionIndex < 0)) {
      return {
        throttleTimeMs: 0,
        topics: req.topics.map(
          (t): ResponseTopic => ({ errorCode: ErrorCode.INVALID_REQUEST, name: t.name, isInternal: false, partitions: [] }),
        ),
        nextCursor: null,
      };
    }
    let remaining = Math.max(Math.min(describeTopicPartitionsMaxCount, req.responsePartitionLimit), 1);
    const topics: ResponseTopic[] = [];
    let nextCursor: DescribeTopicPartitionsResponseInput['nextCursor'] = null;
    for (const name of [...names].sort()) {
      if (remaining === 0) {
        // The previous topics are complete; the next response starts with this one.
        nextCursor = { topicName: name, partitionIndex: 0 };
        break;
      }
      const t = s.topics.byName(name);
      if (!t) {
        if (!all) {
          const errorCode = topicNameProblem(name) ? ErrorCode.INVALID_TOPIC_EXCEPTION : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          topics.push({ errorCode, name, topicId: zeroUuid, isInternal: false, partitions: [], topicAuthorizedOperations });
        }
        continue;
      }
      const start = cursor && name === cursor.topicName ? cursor.partitionIndex : 0;
      const end = Math.min(t.partitions, start + remaining);
      const described = partitions(s, t, start, end);
      topics.push({ errorCode: ErrorCode.NONE, name, topicId: t.id, isInternal: false, partitions: described, topicAuthorizedOperations });
      if (end < t.partitions) {
        nextCursor = { topicName: name, partitionIndex: end };
        break;
      }
      remaining -= described.length;
    }
    return { throttleTimeMs: 0, topics, nextCursor };
  },
};
