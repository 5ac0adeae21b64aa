// DescribeGroups: state, protocol and members of groups. An unknown group is reported Dead up to v5, and from v6
// (KIP-1043) with GROUP_ID_NOT_FOUND, as Kafka 4 does.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeGroupsRequest,
  DescribeGroupsResponseInput,
  DescribeGroupsResponseDescribedGroupInput,
  DescribeGroupsResponseDescribedGroupMemberInput,
} from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { groupAuthorizedOperations as groupOperations, unsetAuthorizedOperations as unsetOperations } from './acl-ops.ts';

/** DescribeGroups v6 answers GROUP_ID_NOT_FOUND for a group that does not exist. */
const firstNotFoundVersion = 6;

export const describeGroupsHandler: ApiHandler<typeof ApiKey.DescribeGroups> = {
  apiKey: ApiKey.DescribeGroups,
  minVersion: 0,
  maxVersion: 6,
  handle(ctx: RequestContext, req: DescribeGroupsRequest): DescribeGroupsResponseInput {
    const v = ctx.apiVersion;
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((groupId): DescribeGroupsResponseDescribedGroupInput => {
        const d = ctx.services.groups.describeGroup(groupId);
        if (v >= firstNotFoundVersion && d.errorCode === ErrorCode.NONE && d.state === 'Dead') {
          return {
            errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
            errorMessage: `Group ${groupId} not found.`,
            groupId,
            groupState: 'Dead',
            protocolType: '',
            protocolData: '',
            members: [],
            authorizedOperations: unsetOperations,
          };
        }
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
