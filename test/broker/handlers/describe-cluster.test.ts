import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { startTestBroker } from './support/client.ts';

// Kafka's CLUSTER operations: CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
// IDEMPOTENT_WRITE 12 (no CREATE_TOKENS or DESCRIBE_TOKENS, which belong to USER).
const clusterAuthorizedOperations = 0b1_1111_1010_0000;

t.test('DescribeCluster', async (t) => {
  const { client, broker, port } = await startTestBroker(t);
  const clusterId = broker.services.clusterId;

  t.test('v0', async (t) => {
    const r = await client.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false });
    t.match(r, {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      clusterId,
      controllerId: 1,
      brokers: [{ brokerId: 1, host: '127.0.0.1', port, rack: null }],
      clusterAuthorizedOperations: -2147483648,
    });
  });

  t.test('v1: brokers endpoint, authorized operations', async (t) => {
    const r = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 });
    t.match(r, {
      errorCode: ErrorCode.NONE,
      endpointType: 1,
      clusterId,
      controllerId: 1,
      brokers: [{ brokerId: 1, port }],
      clusterAuthorizedOperations,
    });
  });

  t.test('v1: controllers and unknown endpoint types', async (t) => {
    const controllers = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 2 });
    t.match(controllers, {
      errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
      errorMessage: 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER',
      brokers: [],
      controllerId: -1,
    });
    const unknown = await client.request(ApiKey.DescribeCluster, 1, { includeClusterAuthorizedOperations: false, endpointType: 7 });
    t.match(unknown, { errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: 'Unsupported endpoint type 7', brokers: [] });
  });
});
