// Topic creation shared by CreateTopics and Metadata auto-creation.
import { ErrorCode } from '../protocol/errors.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import { TopicExistsError, topicNameProblem } from '../metadata/topics.ts';
import { topicConfigProblem } from '../log/topic-config.ts';
import type { BrokerServices } from './context.ts';
import { topicMaxPartitionsCount } from '../limits.ts';

export interface TopicCreation {
  errorCode: number;
  errorMessage: string | null;
  topic: TopicRecord | null;
}

export async function createTopic(
  s: BrokerServices,
  name: string,
  partitions: number,
  replicationFactor: number,
  configs: Record<string, string | null>,
  validateOnly: boolean,
): Promise<TopicCreation> {
  const nameProblem = topicNameProblem(name);
  if (nameProblem) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameProblem, topic: null };
  if (partitions === -1) partitions = s.config.numPartitions;
  if (replicationFactor === -1) replicationFactor = s.config.defaultReplicationFactor;
  if (partitions <= 0 || partitions > topicMaxPartitionsCount) {
    return {
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: `Number of partitions must be between 1 and ${topicMaxPartitionsCount}, got ${partitions}.`,
      topic: null,
    };
  }
  if (replicationFactor <= 0) {
    return {
      errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
      errorMessage: 'Replication factor must be larger than 0, or -1 to use the default value.',
      topic: null,
    };
  }
  const configProblem = topicConfigProblem(configs);
  if (configProblem) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: configProblem, topic: null };
  if (s.topics.byName(name))
    return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `Topic '${name}' already exists.`, topic: null };
  if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null, topic: null };
  try {
    const topic = await s.adminLock(() => s.topics.create(name, partitions, configs as Record<string, string>));
    s.logs.ensurePartitions(topic);
    s.logger.info({ topic: name, partitions }, 'topic created');
    return { errorCode: ErrorCode.NONE, errorMessage: null, topic };
  } catch (e) {
    if (e instanceof TopicExistsError) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: e.message, topic: null };
    throw e;
  }
}
