// AlterPartitionReassignments: a Skafos partition has no replicas to reassign. Its single owner is chosen by
// the cluster from the live brokers and moved by handovers (spec/cluster.md), never by a client. Per partition,
// as Kafka's controller checks them: an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION; a cancel
// (replicas null) is NO_REASSIGNMENT_IN_PROGRESS, since none ever is; a new replica list is
// INVALID_REPLICA_ASSIGNMENT. The request itself succeeds (NONE); there is nothing to wait for, so timeoutMs
// is not used.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponseInput,
  AlterPartitionReassignmentsResponseReassignableTopicResponseInput,
  AlterPartitionReassignmentsResponseReassignablePartitionResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { apiError } from './api-error.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const NO_REPLICAS_MESSAGE =
  'Skafos partitions have no replicas to reassign: ' +
  'each partition has a single owner, which the cluster chooses from the live brokers.';

export const alterPartitionReassignmentsHandler: ApiHandler<typeof ApiKey.AlterPartitionReassignments> = {
  apiKey: ApiKey.AlterPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx: RequestContext, req: AlterPartitionReassignmentsRequest): AlterPartitionReassignmentsResponseInput {
    const responses = req.topics.map((t): AlterPartitionReassignmentsResponseReassignableTopicResponseInput => {
      const topic = ctx.services.topics.byName(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p): AlterPartitionReassignmentsResponseReassignablePartitionResponseInput => {
          const partitionIndex = p.partitionIndex;
          if (!topic)
            return { partitionIndex, ...apiError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find a topic named ${t.name}.`) };
          if (partitionIndex < 0 || partitionIndex >= topic.partitions) {
            return {
              partitionIndex,
              ...apiError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unable to find partition ${t.name}:${partitionIndex}.`),
            };
          }
          // Kafka sends the default message as null (ApiError.fromThrowable).
          if (p.replicas === null) return { partitionIndex, ...apiError(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS) };
          return { partitionIndex, ...apiError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, NO_REPLICAS_MESSAGE) };
        }),
      };
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
};
