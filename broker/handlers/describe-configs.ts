// DescribeConfigs: topic and broker configs with their sources, synonyms (v1+), types and documentation (v3+),
// as Kafka's ConfigHelper reports them. v0 has IsDefault in place of ConfigSource.
import { ApiKey } from '../protocol/generated/index.ts';
import type { DescribeConfigsRequest, DescribeConfigsResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import { topicNameProblem } from '../metadata/topics.ts';
import { defaultMessage, toApiError } from './api-error.ts';
import {
  brokerConfigEntries,
  brokerDefaultEntries,
  ConfigSource,
  groupConfigEntries,
  parseBrokerId,
  ResourceType,
  resourceTypeName,
  topicConfigEntries,
} from './config-entries.ts';
import type { ConfigEntry } from './config-entries.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

type Resource = DescribeConfigsRequest['resources'][number];
type Result = NonNullable<DescribeConfigsResponseInput['results']>[number];
type ResultConfig = NonNullable<Result['configs']>[number];

/** Kafka's log4j level names for the broker's log level (BROKER_LOGGER resources). */
const log4jLevels: Record<string, string> = {
  fatal: 'FATAL',
  error: 'ERROR',
  warn: 'WARN',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
  silent: 'OFF',
};

function entries(s: BrokerServices, r: Resource): ConfigEntry[] {
  switch (r.resourceType) {
    case ResourceType.TOPIC: {
      const problem = topicNameProblem(r.resourceName);
      if (problem) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
      const topic = s.topics.byName(r.resourceName);
      // Kafka sets no message here, so the field keeps its default: empty, not null.
      if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, '');
      return topicConfigEntries(topic, s.config, s.dynamicConfig);
    }
    case ResourceType.BROKER:
      // The cluster-wide default resource: the dynamic defaults only.
      if (r.resourceName === '') return brokerDefaultEntries(s.dynamicConfig);
      if (parseBrokerId(r.resourceName, 'Broker id') !== s.nodeId) {
        throw new KafkaError(
          ErrorCode.INVALID_REQUEST,
          `Unexpected broker id, expected ${s.nodeId} or empty string, but received ${r.resourceName}`,
        );
      }
      return brokerConfigEntries(s.dynamicConfig.static, s.dynamicConfig);
    case ResourceType.BROKER_LOGGER:
      if (r.resourceName === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty');
      if (parseBrokerId(r.resourceName, 'Broker id') !== s.nodeId) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${s.nodeId} but received ${r.resourceName}`);
      }
      // One logger; its level is static (IncrementalAlterConfigs refuses BROKER_LOGGER), hence read-only.
      return [
        {
          name: 'root',
          value: log4jLevels[s.logger.level] ?? s.logger.level.toUpperCase(),
          readOnly: true,
          isSensitive: false,
          configSource: ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG,
          synonyms: [],
          configType: 0,
          documentation: '',
        },
      ];
    case ResourceType.GROUP:
      // A group need not exist: Kafka describes the configs it would run with.
      if (r.resourceName === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Group name must not be empty');
      return groupConfigEntries(s.groupConfigs.get(r.resourceName), s.dynamicConfig.static);
    default:
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${resourceTypeName(r.resourceType)}`);
  }
}

function toResultConfig(e: ConfigEntry, version: number, includeSynonyms: boolean, includeDocumentation: boolean): ResultConfig {
  const c: ResultConfig = {
    name: e.name,
    value: e.value,
    readOnly: e.readOnly,
    isSensitive: e.isSensitive,
    configSource: e.configSource,
    synonyms: includeSynonyms ? e.synonyms : [],
    configType: e.configType,
    documentation: includeDocumentation ? e.documentation : null,
  };
  // IsDefault exists in v0 only, where it stands for the DEFAULT_CONFIG source.
  if (version === 0) c.isDefault = e.configSource === ConfigSource.DEFAULT_CONFIG;
  return c;
}

export const describeConfigsHandler: ApiHandler<typeof ApiKey.DescribeConfigs> = {
  apiKey: ApiKey.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  handle(ctx: RequestContext, req: DescribeConfigsRequest): DescribeConfigsResponseInput {
    const s = ctx.services;
    const base = (r: Resource): Result => ({ resourceType: r.resourceType, resourceName: r.resourceName, configs: [] });
    // A resource type Kafka does not know fails the whole request: every resource gets INVALID_REQUEST with
    // the generic message (Kafka throws while authorizing, before describing anything).
    if (req.resources.some((r) => r.resourceType === ResourceType.UNKNOWN || resourceTypeName(r.resourceType) === undefined)) {
      return {
        throttleTimeMs: 0,
        results: req.resources.map(
          (r): Result => ({
            ...base(r),
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: defaultMessage('INVALID_REQUEST'),
          }),
        ),
      };
    }
    const results: Result[] = req.resources.map((r): Result => {
      let all: ConfigEntry[];
      try {
        all = entries(s, r);
      } catch (e) {
        return { ...base(r), ...toApiError(e) };
      }
      const keys = r.configurationKeys;
      const wanted = keys === null || keys.length === 0 ? all : all.filter((e) => keys.includes(e.name));
      return {
        ...base(r),
        errorCode: ErrorCode.NONE,
        errorMessage: '',
        configs: wanted.map((e) => toResultConfig(e, ctx.apiVersion, req.includeSynonyms, req.includeDocumentation)),
      };
    });
    return { throttleTimeMs: 0, results };
  },
};
