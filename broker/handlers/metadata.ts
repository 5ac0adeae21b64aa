// Metadata: brokers, cluster id, and every requested topic's partitions (this broker leads them all on the
// embedded default). Unknown topics are created when both the broker and the request allow it.
import { brokersOn } from '../cluster/cluster.ts';
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  MetadataRequest,
  MetadataResponseInput,
  MetadataResponseTopicInput,
  MetadataResponsePartitionInput,
  MetadataResponseBrokerInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { createTopic } from './topic-ops.ts';
import { clusterAuthorizedOperations, topicAuthorizedOperations, unsetAuthorizedOperations as unsetOperations } from './acl-ops.ts';

function describeTopic(s: BrokerServices, t: TopicRecord, includeOps: boolean): MetadataResponseTopicInput {
  const partitions: MetadataResponsePartitionInput[] = [];
  for (let p = 0; p < t.partitions; p++) {
    const owner = s.cluster.ownerOf(t.id, p);
    // No live owner yet (just created, or its broker died and the lease has not run out): clients retry.
    partitions.push(
      owner
        ? {
            errorCode: ErrorCode.NONE,
            partitionIndex: p,
            leaderId: owner.nodeId,
            leaderEpoch: owner.leaderEpoch,
            replicaNodes: [owner.nodeId],
            isrNodes: [owner.nodeId],
            offlineReplicas: [],
          }
        : {
            errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
            partitionIndex: p,
            leaderId: -1,
            leaderEpoch: -1,
            replicaNodes: [],
            isrNodes: [],
            offlineReplicas: [],
          },
    );
  }
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.id,
    isInternal: false,
    partitions,
    topicAuthorizedOperations: includeOps ? topicAuthorizedOperations : unsetOperations,
  };
}

export const metadataHandler: ApiHandler<typeof ApiKey.Metadata> = {
  apiKey: ApiKey.Metadata,
  minVersion: 0,
  maxVersion: 12,
  async handle(ctx: RequestContext, req: MetadataRequest): Promise<MetadataResponseInput> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const includeOps = req.includeTopicAuthorizedOperations;
    // Kafka sets the topic operations on every topic answered by name, unknown or invalid ones included; topics
    // asked for by an unknown id keep the default.
    const topicOps = includeOps ? topicAuthorizedOperations : unsetOperations;
    const topics: MetadataResponseTopicInput[] = [];
    // v0: an empty list means all topics; v1+: null means all topics.
    const all = req.topics === null || (v === 0 && req.topics.length === 0);
    if (all) {
      for (const t of s.topics.all()) topics.push(describeTopic(s, t, includeOps));
    } else {
      const autoCreate = s.config.autoCreateTopicsEnable && req.allowAutoTopicCreation;
      for (const rt of req.topics!) {
        let t = rt.name !== null ? s.topics.byName(rt.name) : s.topics.byId(rt.topicId);
        if (!t && rt.name !== null && autoCreate) {
          const created = await createTopic(s, rt.name, -1, -1, {}, false);
          if (created.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION) {
            topics.push({
              errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
              name: rt.name,
              isInternal: false,
              partitions: [],
              topicAuthorizedOperations: topicOps,
            });
            continue;
          }
          t = created.topic ?? s.topics.byName(rt.name);
        }
        if (t) topics.push(describeTopic(s, t, includeOps));
        else if (rt.name === null)
          topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: rt.topicId, isInternal: false, partitions: [] });
        else
          topics.push({
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            name: rt.name,
            isInternal: false,
            partitions: [],
            topicAuthorizedOperations: topicOps,
          });
      }
    }
    return {
      throttleTimeMs: 0,
      brokers: brokersOn(
        s.cluster.liveBrokers(),
        ctx.listenerName,
        (b, e): MetadataResponseBrokerInput => ({
          nodeId: b.nodeId,
          host: e.host,
          port: e.port,
          rack: v >= 1 ? b.rack : null,
        }),
      ),
      clusterId: s.clusterId,
      controllerId: s.cluster.controllerId(),
      topics,
      // v8-v10 only: v11 moved it to DescribeCluster (KIP-700).
      clusterAuthorizedOperations:
        v >= 8 && v <= 10 && req.includeClusterAuthorizedOperations ? clusterAuthorizedOperations : unsetOperations,
    };
  },
};
