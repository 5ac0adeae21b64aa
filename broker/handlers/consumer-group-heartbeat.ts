// ConsumerGroupHeartbeat (KIP-848): a member of a `consumer` group joins, heartbeats, reconciles and leaves
// through this one API; the coordinator (broker/groups/consumer-coordinator.ts) runs the server-side assignor
// and answers with the member's epoch and, when it changed, its assignment.
import { ApiKey } from '../protocol/generated/index.ts';
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { clientHost, clientId } from './group-util.ts';

export const consumerGroupHeartbeatHandler: ApiHandler<typeof ApiKey.ConsumerGroupHeartbeat> = {
  apiKey: ApiKey.ConsumerGroupHeartbeat,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx: RequestContext, req: ConsumerGroupHeartbeatRequest): Promise<ConsumerGroupHeartbeatResponseInput> {
    const r = await ctx.services.consumerGroups.heartbeat({
      groupId: req.groupId,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      instanceId: req.instanceId,
      rackId: req.rackId,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      subscribedTopicNames: req.subscribedTopicNames,
      // v1+ (v0 decodes it as null).
      subscribedTopicRegex: ctx.apiVersion >= 1 ? req.subscribedTopicRegex : null,
      serverAssignor: req.serverAssignor,
      topicPartitions:
        req.topicPartitions === null ? null : req.topicPartitions.map((t) => ({ topicId: t.topicId, partitions: t.partitions })),
      clientId: clientId(ctx),
      clientHost: clientHost(ctx),
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      errorMessage: r.errorMessage,
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      assignment: r.assignment === null ? null : { topicPartitions: r.assignment },
    };
  },
};
