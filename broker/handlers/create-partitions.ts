// CreatePartitions: grows a topic (never shrinks it), with optional manual assignments, validate_only.
// Checks and messages are Kafka's controller's (ReplicationControlManager.createPartitions); every partition
// has one replica, this broker, so an assignment must name exactly this broker.
import { ApiKey } from '../protocol/generated/index.ts';
import type { CreatePartitionsRequest, CreatePartitionsResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import { TopicChangedError } from '../metadata/topics.ts';
import { apiError, toApiError } from './api-error.ts';
import type { ApiError } from './api-error.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { topicMaxPartitionsCount } from '../limits.ts';

type Topic = CreatePartitionsRequest['topics'][number];
type Result = NonNullable<CreatePartitionsResponseInput['results']>[number];

/** Replicas per partition: this broker alone (what Metadata reports). */
const replicationFactor = 1;

function validateAssignment(s: BrokerServices, brokerIds: number[]): void {
  const invalid = (m: string) => new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, m);
  if (brokerIds.length === 0) throw invalid('The manual partition assignment includes an empty replica list.');
  const sorted = [...brokerIds].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i] !== s.nodeId)
      throw invalid(`The manual partition assignment includes broker ${sorted[i]}, but no such broker is registered.`);
    if (i > 0 && sorted[i] === sorted[i - 1])
      throw invalid(`The manual partition assignment includes the broker ${sorted[i]} more than once.`);
  }
  if (sorted.length !== replicationFactor) {
    throw invalid(
      `The manual partition assignment includes a partition with ${sorted.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`,
    );
  }
}

async function createPartitions(s: BrokerServices, t: Topic, validateOnly: boolean): Promise<ApiError> {
  try {
    await s.adminLock(async () => {
      const topic = s.topics.byName(t.name);
      if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const current = topic.partitions;
      if (t.count === current) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partition(s).`);
      if (t.count < current) {
        throw new KafkaError(
          ErrorCode.INVALID_PARTITIONS,
          `The topic ${t.name} currently has ${current} partition(s); ${t.count} would not be an increase.`,
        );
      }
      if (t.count > topicMaxPartitionsCount) {
        throw new KafkaError(
          ErrorCode.INVALID_PARTITIONS,
          `Number of partitions must be between 1 and ${topicMaxPartitionsCount}, got ${t.count}.`,
        );
      }
      const additional = t.count - current;
      if (t.assignments !== null) {
        if (t.assignments.length !== additional) {
          throw new KafkaError(
            ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            `Attempted to add ${additional} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`,
          );
        }
        for (const a of t.assignments) validateAssignment(s, a.brokerIds);
      }
      if (validateOnly) return;
      const updated = await s.topics.setPartitionCount(t.name, t.count);
      s.logs.ensurePartitions(updated);
      s.logger.info({ topic: t.name, from: current, to: t.count }, 'partitions created');
    });
    return apiError(ErrorCode.NONE);
  } catch (e) {
    if (e instanceof TopicChangedError) return apiError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, e.message);
    return toApiError(e);
  }
}

export const createPartitionsHandler: ApiHandler<typeof ApiKey.CreatePartitions> = {
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: CreatePartitionsRequest): Promise<CreatePartitionsResponseInput> {
    const counts = new Map<string, number>();
    for (const t of req.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    // Kafka answers a duplicated name once, first, and leaves the topic alone.
    const results: Result[] = [];
    for (const [name, n] of counts)
      if (n > 1) results.push({ name, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' });
    for (const t of req.topics) {
      if (counts.get(t.name)! > 1) continue;
      results.push({ name: t.name, ...(await createPartitions(ctx.services, t, req.validateOnly)) });
    }
    return { throttleTimeMs: 0, results };
  },
};
