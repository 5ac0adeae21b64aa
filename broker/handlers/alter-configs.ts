// AlterConfigs (legacy): replaces a topic's whole set of overrides; keys left out go back to their defaults.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  AlterConfigsRequest,
  AlterConfigsResponseInput,
  AlterConfigsResponseAlterConfigsResourceResponseInput,
} from '../protocol/generated/index.ts';
import { alterConfigResources, OpType } from './config-alter.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const alterConfigsHandler: ApiHandler<typeof ApiKey.AlterConfigs> = {
  apiKey: ApiKey.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: AlterConfigsRequest): Promise<AlterConfigsResponseInput> {
    const resources = req.resources.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      configs: r.configs.map((c) => ({ name: c.name, value: c.value, op: OpType.SET })),
    }));
    const results = await alterConfigResources(ctx.services, resources, false, req.validateOnly);
    return {
      throttleTimeMs: 0,
      responses: req.resources.map(
        (r, i): AlterConfigsResponseAlterConfigsResourceResponseInput => ({
          ...results[i]!,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        }),
      ),
    };
  },
};
