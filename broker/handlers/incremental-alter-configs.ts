// IncrementalAlterConfigs: SET, DELETE, APPEND and SUBTRACT (list configs) on a topic's overrides.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponseInput,
  IncrementalAlterConfigsResponseAlterConfigsResourceResponseInput,
} from '../protocol/generated/index.ts';
import { alterConfigResources } from './config-alter.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const incrementalAlterConfigsHandler: ApiHandler<typeof ApiKey.IncrementalAlterConfigs> = {
  apiKey: ApiKey.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: IncrementalAlterConfigsRequest): Promise<IncrementalAlterConfigsResponseInput> {
    const resources = req.resources.map((r) => ({
      resourceType: r.resourceType,
      resourceName: r.resourceName,
      configs: r.configs.map((c) => ({ name: c.name, value: c.value, op: c.configOperation })),
    }));
    const results = await alterConfigResources(ctx.services, resources, true, req.validateOnly);
    return {
      throttleTimeMs: 0,
      responses: req.resources.map(
        (r, i): IncrementalAlterConfigsResponseAlterConfigsResourceResponseInput => ({
          ...results[i]!,
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        }),
      ),
    };
  },
};
