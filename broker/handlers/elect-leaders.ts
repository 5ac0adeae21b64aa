// ElectLeaders: this broker leads every partition and is every partition's only (preferred) replica, so no
// election is ever needed. Results as Kafka's controller gives them (ReplicationControlManager.electLeaders):
// ELECTION_NOT_NEEDED per named partition; for all partitions (null), partitions not needing one are omitted.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  ElectLeadersRequest,
  ElectLeadersResponseInput,
  ElectLeadersResponseReplicaElectionResultInput,
  ElectLeadersResponsePartitionResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { defaultMessage } from './api-error.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** Kafka's ElectionType ids. */
const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

export const electLeadersHandler: ApiHandler<typeof ApiKey.ElectLeaders> = {
  apiKey: ApiKey.ElectLeaders,
  minVersion: 0,
  maxVersion: 2,
  handle(ctx: RequestContext, req: ElectLeadersRequest): ElectLeadersResponseInput {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const electionType = v >= 1 ? req.electionType : ElectionType.PREFERRED;
    if (electionType !== ElectionType.PREFERRED && electionType !== ElectionType.UNCLEAN) {
      // The whole request fails; every named partition carries the error.
      const errorMessage = `Unknown election type ${electionType}`;
      return {
        throttleTimeMs: 0,
        ...(v >= 1 ? { errorCode: ErrorCode.INVALID_REQUEST } : {}),
        replicaElectionResults: (req.topicPartitions ?? []).map(
          (t): ElectLeadersResponseReplicaElectionResultInput => ({
            topic: t.topic,
            partitionResult: t.partitions.map(
              (partitionId): ElectLeadersResponsePartitionResultInput => ({
                partitionId,
                errorCode: ErrorCode.INVALID_REQUEST,
                errorMessage,
              }),
            ),
          }),
        ),
      };
    }
    const replicaElectionResults: ElectLeadersResponseReplicaElectionResultInput[] =
      req.topicPartitions === null
        ? s.topics.all().map((t): ElectLeadersResponseReplicaElectionResultInput => ({ topic: t.name, partitionResult: [] }))
        : req.topicPartitions.map((t): ElectLeadersResponseReplicaElectionResultInput => {
            const topic = s.topics.byName(t.topic);
            return {
              topic: t.topic,
              partitionResult: t.partitions.map((partitionId): ElectLeadersResponsePartitionResultInput => {
                if (!topic)
                  return { partitionId, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `No such topic as ${t.topic}` };
                if (partitionId < 0 || partitionId >= topic.partitions) {
                  return {
                    partitionId,
                    errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                    errorMessage: `No such partition as ${t.topic}-${partitionId}`,
                  };
                }
                return { partitionId, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: defaultMessage('ELECTION_NOT_NEEDED') };
              }),
            };
          });
    return { throttleTimeMs: 0, ...(v >= 1 ? { errorCode: ErrorCode.NONE } : {}), replicaElectionResults };
  },
};
