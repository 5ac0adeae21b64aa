// CreateTopics: defaults (-1 partitions / replication factor), config overrides, validate_only.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  CreateTopicsRequest,
  CreateTopicsResponseInput,
  CreateTopicsResponseCreatableTopicResultInput,
  CreateTopicsResponseCreatableTopicConfigsInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { topicConfigDefs } from '../log/topic-config.ts';
import { topicConfigEntry } from './config-entries.ts';
import type { ApiHandler, RequestContext } from './context.ts';
import { createTopic } from './topic-ops.ts';

export const createTopicsHandler: ApiHandler<typeof ApiKey.CreateTopics> = {
  apiKey: ApiKey.CreateTopics,
  minVersion: 2,
  maxVersion: 7,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: CreateTopicsRequest): Promise<CreateTopicsResponseInput> {
    const s = ctx.services;
    const seen = new Map<string, number>();
    for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    const topics: CreateTopicsResponseCreatableTopicResultInput[] = [];
    for (const t of req.topics) {
      // Kafka sends an empty config list (not null) with an error.
      const base = { name: t.name, numPartitions: -1, replicationFactor: -1, configs: [] };
      if (seen.get(t.name)! > 1) {
        // One answer per name, as Kafka's (a map by topic name) has.
        if (topics.some((r) => r.name === t.name)) continue;
        topics.push({
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Create topics request from client \`${ctx.header.clientId}\` contains multiple entries for the following topics: ${t.name}`,
        });
        continue;
      }
      if (t.assignments.length > 0 && (t.numPartitions !== -1 || t.replicationFactor !== -1)) {
        topics.push({
          ...base,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.',
        });
        continue;
      }
      const partitions = t.assignments.length > 0 ? t.assignments.length : t.numPartitions;
      const replicationFactor = t.assignments.length > 0 ? t.assignments[0]!.brokerIds.length : t.replicationFactor;
      const configs: Record<string, string | null> = {};
      for (const c of t.configs) configs[c.name] = c.value;
      const r = await createTopic(s, t.name, partitions, replicationFactor, configs, req.validateOnly);
      if (r.errorCode !== ErrorCode.NONE) {
        topics.push({ ...base, errorCode: r.errorCode, errorMessage: r.errorMessage });
        continue;
      }
      const record = r.topic ?? {
        name: t.name,
        id: 'AAAAAAAAAAAAAAAAAAAAAA',
        partitions: partitions === -1 ? s.config.numPartitions : partitions,
        configs: configs as Record<string, string>,
        createdAtMs: 0,
      };
      topics.push({
        name: t.name,
        topicId: record.id,
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: record.partitions,
        replicationFactor: replicationFactor === -1 ? s.config.defaultReplicationFactor : replicationFactor,
        configs:
          ctx.apiVersion < 5
            ? null
            : topicConfigDefs.map((d): CreateTopicsResponseCreatableTopicConfigsInput => {
                const e = topicConfigEntry(d, record, s.config, s.dynamicConfig);
                return { name: e.name, value: e.value, readOnly: e.readOnly, configSource: e.configSource, isSensitive: e.isSensitive };
              }),
      });
    }
    return { throttleTimeMs: 0, topics };
  },
};
