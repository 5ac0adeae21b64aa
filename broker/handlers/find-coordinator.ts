// FindCoordinator: which broker coordinates a group (key type 0) or a transactional id (key type 1). The key
// maps to a coordinator partition as Kafka maps it to a partition of its internal topic; the partition's
// owner is the coordinator. v4+ asks for many keys at once.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  FindCoordinatorRequest,
  FindCoordinatorResponseInput,
  FindCoordinatorResponseCoordinatorInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { coordinatorPartitionOf, endpointOn } from '../cluster/cluster.ts';
import type { CoordinatorKind } from '../cluster/cluster.ts';
import { defaultMessage } from './api-error.ts';
import type { ApiHandler, RequestContext } from './context.ts';

const keyTypes: Record<number, CoordinatorKind> = { 0: 'group', 1: 'transaction' };

function lookup(ctx: RequestContext, keyType: number, key: string): FindCoordinatorResponseCoordinatorInput {
  const kind = keyTypes[keyType];
  const none = { key, nodeId: -1, host: '', port: -1 };
  if (kind === undefined)
    return { ...none, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown coordinator type received: ${keyType}` };
  const owner = ctx.services.cluster.coordinatorOwner(kind, coordinatorPartitionOf(key));
  const broker = owner === null ? undefined : ctx.services.cluster.broker(owner.nodeId);
  const endpoint = broker === undefined ? undefined : endpointOn(broker, ctx.listenerName);
  // Kafka always sends the error's message here, "NONE" included (Errors.message()).
  if (!broker || !endpoint)
    return { ...none, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: defaultMessage('COORDINATOR_NOT_AVAILABLE') };
  return { key, nodeId: broker.nodeId, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: 'NONE' };
}

export const findCoordinatorHandler: ApiHandler<typeof ApiKey.FindCoordinator> = {
  apiKey: ApiKey.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  handle(ctx: RequestContext, req: FindCoordinatorRequest): FindCoordinatorResponseInput {
    const v = ctx.apiVersion;
    if (v >= 4) return { throttleTimeMs: 0, coordinators: req.coordinatorKeys.map((key) => lookup(ctx, req.keyType, key)) };
    const r = lookup(ctx, v >= 1 ? req.keyType : 0, req.key);
    return {
      ...(v >= 1 ? { throttleTimeMs: 0, errorMessage: r.errorMessage } : {}),
      errorCode: r.errorCode,
      nodeId: r.nodeId,
      host: r.host,
      port: r.port,
    };
  },
};
