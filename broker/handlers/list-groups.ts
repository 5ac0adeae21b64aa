// ListGroups: the groups this broker coordinates, optionally filtered by state (v4+) and type (v5+).
import { ApiKey } from '../protocol/generated/index.ts';
import type { ListGroupsRequest, ListGroupsResponseInput, ListGroupsResponseListedGroupInput } from '../protocol/generated/index.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const listGroupsHandler: ApiHandler<typeof ApiKey.ListGroups> = {
  apiKey: ApiKey.ListGroups,
  minVersion: 0,
  maxVersion: 5,
  handle(ctx: RequestContext, req: ListGroupsRequest): ListGroupsResponseInput {
    const v = ctx.apiVersion;
    const r = ctx.services.groups.listGroups(v >= 4 ? req.statesFilter : [], v >= 5 ? req.typesFilter : []);
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      groups: r.groups.map(
        (g): ListGroupsResponseListedGroupInput => ({
          groupId: g.groupId,
          protocolType: g.protocolType,
          ...(v >= 4 ? { groupState: g.state } : {}),
          ...(v >= 5 ? { groupType: g.type } : {}),
        }),
      ),
    };
  },
};
