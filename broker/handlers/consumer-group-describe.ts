// ConsumerGroupDescribe (KIP-848): epochs, assignor and members (with current and target assignments) of
// `consumer` groups. Unknown ids and classic groups are GROUP_ID_NOT_FOUND.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponseInput,
  ConsumerGroupDescribeResponseDescribedGroupInput,
  ConsumerGroupDescribeResponseMemberInput,
} from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { groupAuthorizedOperations as groupOperations, unsetAuthorizedOperations as unsetOperations } from './acl-ops.ts';

export const consumerGroupDescribeHandler: ApiHandler<typeof ApiKey.ConsumerGroupDescribe> = {
  apiKey: ApiKey.ConsumerGroupDescribe,
  minVersion: 0,
  maxVersion: 0,
  handle(ctx: RequestContext, req: ConsumerGroupDescribeRequest): ConsumerGroupDescribeResponseInput {
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId): ConsumerGroupDescribeResponseDescribedGroupInput => {
        const d = ctx.services.consumerGroups.describe(groupId);
        return {
          errorCode: d.errorCode,
          errorMessage: d.errorMessage,
          groupId,
          groupState: d.groupState,
          groupEpoch: d.groupEpoch,
          assignmentEpoch: d.assignmentEpoch,
          assignorName: d.assignorName,
          members: d.members.map(
            (m): ConsumerGroupDescribeResponseMemberInput => ({
              memberId: m.memberId,
              instanceId: m.instanceId,
              rackId: m.rackId,
              memberEpoch: m.memberEpoch,
              clientId: m.clientId,
              clientHost: m.clientHost,
              subscribedTopicNames: m.subscribedTopicNames,
              subscribedTopicRegex: m.subscribedTopicRegex,
              assignment: { topicPartitions: m.assignment },
              targetAssignment: { topicPartitions: m.targetAssignment },
            }),
          ),
          authorizedOperations: req.includeAuthorizedOperations && d.errorCode === 0 ? groupOperations : unsetOperations,
        };
      }),
    };
  },
};
