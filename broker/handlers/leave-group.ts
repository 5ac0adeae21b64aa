// LeaveGroup: one member (v0-v2) or a batch of members, by member id or group.instance.id (v3+), leaves.
import { ApiKey } from '../protocol/generated/index.ts';
import type { LeaveGroupRequest, LeaveGroupResponseInput, LeaveGroupResponseMemberResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const leaveGroupHandler: ApiHandler<typeof ApiKey.LeaveGroup> = {
  apiKey: ApiKey.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  handle(ctx: RequestContext, req: LeaveGroupRequest): LeaveGroupResponseInput {
    const v = ctx.apiVersion;
    const leaving =
      v >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
    const r = ctx.services.groups.leaveGroup(req.groupId, leaving);
    if (v >= 3) {
      return {
        throttleTimeMs: 0,
        errorCode: r.errorCode,
        members: r.members.map(
          (m): LeaveGroupResponseMemberResponseInput => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            errorCode: m.errorCode,
          }),
        ),
      };
    }
    // Before batches, the member's own error is the response's (Kafka's LeaveGroupResponse.getError).
    const memberError = r.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
    return { throttleTimeMs: 0, errorCode: r.errorCode !== ErrorCode.NONE ? r.errorCode : memberError };
  },
};
