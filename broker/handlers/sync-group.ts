// SyncGroup: members of a new generation collect their assignment; the leader's assignment is stored and
// delivered byte for byte as it sent it.
import { ApiKey } from '../protocol/generated/index.ts';
import type { SyncGroupRequest, SyncGroupResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const syncGroupHandler: ApiHandler<typeof ApiKey.SyncGroup> = {
  apiKey: ApiKey.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx: RequestContext, req: SyncGroupRequest): Promise<SyncGroupResponseInput> {
    const v = ctx.apiVersion;
    const r = await ctx.services.groups.syncGroup(
      {
        groupId: req.groupId,
        generationId: req.generationId,
        memberId: req.memberId,
        groupInstanceId: v >= 3 ? req.groupInstanceId : null,
        protocolType: v >= 5 ? req.protocolType : null,
        protocolName: v >= 5 ? req.protocolName : null,
        assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
      },
      ctx.signal,
    );
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      ...(v >= 5 ? { protocolType: r.protocolType, protocolName: r.protocolName } : {}),
      assignment: r.assignment,
    };
  },
};
