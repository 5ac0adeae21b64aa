// DeleteGroups: removes empty groups and their committed offsets.
import { ApiKey } from '../protocol/generated/index.ts';
import type { DeleteGroupsRequest, DeleteGroupsResponseInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const deleteGroupsHandler: ApiHandler<typeof ApiKey.DeleteGroups> = {
  apiKey: ApiKey.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: DeleteGroupsRequest): Promise<DeleteGroupsResponseInput> {
    const codes = await ctx.services.groups.deleteGroups(req.groupsNames);
    return { throttleTimeMs: 0, results: req.groupsNames.map((groupId, i) => ({ groupId, errorCode: codes[i]! })) };
  },
};
