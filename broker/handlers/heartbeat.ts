// Heartbeat: a member says it is alive; the answer tells it whether a rebalance is under way.
import { ApiKey } from '../protocol/generated/index.ts';
import type { HeartbeatRequest, HeartbeatResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const heartbeatHandler: ApiHandler<typeof ApiKey.Heartbeat> = {
  apiKey: ApiKey.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx: RequestContext, req: HeartbeatRequest): HeartbeatResponseInput {
    const groupInstanceId = ctx.apiVersion >= 3 ? req.groupInstanceId : null;
    return { throttleTimeMs: 0, errorCode: ctx.services.groups.heartbeat(req.groupId, req.memberId, groupInstanceId, req.generationId) };
  },
};
