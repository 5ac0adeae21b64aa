// DescribeCluster: the cluster id, the controller and the brokers (this one). v1 names the endpoint type asked
// for; a broker answers for brokers only (Kafka's AuthHelper.computeDescribeClusterResponse).
import { brokersOn } from '../cluster/cluster.ts';
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeClusterRequest,
  DescribeClusterResponseInput,
  DescribeClusterResponseDescribeClusterBrokerInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { clusterAuthorizedOperations, unsetAuthorizedOperations as unsetOperations } from './acl-ops.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** Kafka's EndpointType ids. */
const EndpointType = { UNKNOWN: 0, BROKER: 1, CONTROLLER: 2 } as const;
const endpointTypeNames = ['UNKNOWN', 'BROKER', 'CONTROLLER'];

export const describeClusterHandler: ApiHandler<typeof ApiKey.DescribeCluster> = {
  apiKey: ApiKey.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx: RequestContext, req: DescribeClusterRequest): DescribeClusterResponseInput {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const requested = v >= 1 ? req.endpointType : EndpointType.BROKER;
    if (requested !== EndpointType.BROKER) {
      // v0 has no endpoint type error codes: INVALID_REQUEST stands in for both.
      const known = requested === EndpointType.CONTROLLER;
      return {
        throttleTimeMs: 0,
        errorCode: v === 0 ? ErrorCode.INVALID_REQUEST : known ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
        errorMessage: known
          ? `The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type ${endpointTypeNames[requested]}`
          : `Unsupported endpoint type ${requested}`,
      };
    }
    const response: DescribeClusterResponseInput = {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      clusterId: s.clusterId,
      // KRaft brokers name a live broker as the controller, since clients cannot reach the real one.
      controllerId: s.cluster.controllerId(),
      brokers: brokersOn(
        s.cluster.liveBrokers(),
        ctx.listenerName,
        (b, e): DescribeClusterResponseDescribeClusterBrokerInput => ({ brokerId: b.nodeId, host: e.host, port: e.port, rack: b.rack }),
      ),
      clusterAuthorizedOperations: req.includeClusterAuthorizedOperations ? clusterAuthorizedOperations : unsetOperations,
    };
    if (v >= 1) response.endpointType = EndpointType.BROKER;
    return response;
  },
};
