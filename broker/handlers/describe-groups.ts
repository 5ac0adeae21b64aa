// DescribeGroups: state, protocol and members of groups (an unknown group is reported Dead, as Kafka does up
// to v5).
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeGroupsRequest,
  DescribeGroupsResponseInput,
  DescribeGroupsResponseDescribedGroupInput,
  DescribeGroupsResponseDescribedGroupMemberInput,
} from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** Kafka's AclOperation ids a group has (READ, DELETE, DESCRIBE); every one is allowed (no authorizer). */
const groupOperations = (1 << 3) | (1 << 6) | (1 << 8);
const unsetOperations = -2147483648;

export const describeGroupsHandler: ApiHandler<typeof ApiKey.DescribeGroups> = {
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(ctx: RequestContext, req: DescribeGroupsRequest): DescribeGroupsResponseInput {
    const v = ctx.apiVersion;
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId): DescribeGroupsResponseDescribedGroupInput => {
        const d = ctx.services.groups.describeGroup(groupId);
        return {
          errorCode: d.errorCode,
          groupId,
          groupState: d.state,
          protocolType: d.protocolType,
          protocolData: d.protocolData,
          members: d.members.map(
            (m): DescribeGroupsResponseDescribedGroupMemberInput => ({
              memberId: m.memberId,
              ...(v >= 4 ? { groupInstanceId: m.groupInstanceId } : {}),
              clientId: m.clientId,
              clientHost: m.clientHost,
              memberMetadata: m.metadata,
              memberAssignment: m.assignment,
            }),
          ),
          ...(v >= 3 ? { authorizedOperations: req.includeAuthorizedOperations ? groupOperations : unsetOperations } : {}),
        };
      }),
    };
  },
};
