// JoinGroup: a member joins (or rejoins) a classic group and waits for the rebalance; the coordinator
// (broker/groups/coordinator.ts) holds the response until the join phase completes.
import { ApiKey } from '../protocol/generated/index.ts';
import type { JoinGroupRequest, JoinGroupResponseInput, JoinGroupResponseMemberInput } from '../protocol/generated/index.ts';
import type { JoinResult } from '../groups/classic-group.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { clientHost, clientId } from './group-util.ts';

function response(v: number, r: JoinResult): JoinGroupResponseInput {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    // protocolName is nullable from v7 (with protocolType); before, an empty string stands for none.
    ...(v >= 7 ? { protocolType: r.protocolType, protocolName: r.protocolName } : { protocolName: r.protocolName ?? '' }),
    leader: r.leaderId,
    ...(v >= 9 ? { skipAssignment: r.skipAssignment } : {}),
    memberId: r.memberId,
    members: r.members.map(
      (m): JoinGroupResponseMemberInput => ({
        memberId: m.memberId,
        ...(v >= 5 ? { groupInstanceId: m.groupInstanceId } : {}),
        metadata: m.metadata,
      }),
    ),
  };
}

export const joinGroupHandler: ApiHandler<typeof ApiKey.JoinGroup> = {
  apiKey: ApiKey.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  async handle(ctx: RequestContext, req: JoinGroupRequest): Promise<JoinGroupResponseInput> {
    const v = ctx.apiVersion;
    const r = await ctx.services.groups.joinGroup(
      {
        groupId: req.groupId,
        memberId: req.memberId,
        groupInstanceId: v >= 5 ? req.groupInstanceId : null,
        requireKnownMemberId: v >= 4,
        supportSkipAssignment: v >= 9,
        clientId: clientId(ctx),
        clientHost: clientHost(ctx),
        // v0 has no rebalance timeout: the session timeout stands for it.
        rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
        sessionTimeoutMs: req.sessionTimeoutMs,
        protocolType: req.protocolType,
        protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      },
      ctx.signal,
    );
    return response(v, r);
  },
};
