// Topic-level configs: Kafka's names, the broker setting each falls back to (its synonym), and validation with
// Kafka's ConfigDef rules and messages (values are trimmed before parsing; numbers must fit the Java type).
import type { BrokerConfig } from '../config.ts';
import type { DynamicallyConfigured } from '../config/dynamic-broker-keys.ts';
import type { TopicRecord } from '../metadata/layout.ts';

export type ConfigType = 'long' | 'int' | 'boolean' | 'string' | 'list' | 'double' | 'class' | 'password' | 'short';

export interface TopicConfigDef {
  name: string;
  type: ConfigType;
  /** The broker config this topic config defaults to, and its value, when there is one. */
  synonym?: { name: string; value: (c: BrokerConfig) => string };
  /** The static default when the broker has no synonym. */
  defaultValue?: string;
  /**
   * Without `synonym`: Kafka's broker config this topic config falls back to, which Skafos does not let one
   * set. DescribeConfigs reports it as a DEFAULT_CONFIG synonym holding `defaultValue` (Kafka's default for it),
   * as Kafka does. Absent where Kafka reports no synonym (its first broker synonym has no default).
   */
  kafkaSynonym?: string;
  /**
   * Returns null, or the problem (with the offending part of a list value, which Kafka's message names), or a
   * whole message when Kafka's is not an "Invalid value" one.
   */
  validate?: (value: string) => string | { value: string; problem: string } | { message: string } | null;
  doc: string;
}

const longMax = '9223372036854775807';
const javaRange = { int: [-(2n ** 31n), 2n ** 31n - 1n], long: [-(2n ** 63n), 2n ** 63n - 1n] } as const;

/** Kafka's INT/LONG parsing (Integer.parseInt / Long.parseLong of the trimmed value) and Range.atLeast. */
function integer(type: 'int' | 'long', min: number | null): (v: string) => string | null {
  return (raw) => {
    const v = raw.trim();
    if (!/^[+-]?\d+$/.test(v)) return `Not a number of type ${type.toUpperCase()}`;
    const n = BigInt(v);
    if (n < javaRange[type][0] || n > javaRange[type][1]) return `Not a number of type ${type.toUpperCase()}`;
    return min === null || n >= BigInt(min) ? null : `Value must be at least ${min}`;
  };
}
const int = (min: number) => integer('int', min);
const long = (min: number | null) => integer('long', min);
function oneOf(...values: string[]): (v: string) => string | null {
  return (v) => (values.includes(v.trim()) ? null : `String must be one of: ${values.join(', ')}`);
}
function boolean(v: string): string | null {
  return ['true', 'false'].includes(v.trim().toLowerCase()) ? null : 'Expected value to be either true or false';
}
/** Kafka's LIST parsing (empty → no elements; elements split at commas with surrounding blanks) and ValidList. */
export function listElements(v: string): string[] {
  const trimmed = v.trim();
  return trimmed === '' ? [] : trimmed.split(/\s*,\s*/);
}
function listOf(...values: string[]): (v: string) => { value: string; problem: string } | null {
  return (v) => {
    const bad = listElements(v).find((e) => !values.includes(e));
    return bad === undefined ? null : { value: bad, problem: `String must be one of: ${values.join(', ')}` };
  };
}
/** Kafka's Range.between for an INT. */
function intBetween(min: number, max: number): (v: string) => string | null {
  return (v) => {
    const problem = int(min)(v);
    if (problem !== null) return problem;
    return Number(v.trim()) > max ? `Value must be no more than ${max}` : null;
  };
}
/** Kafka's GZIP level: -1 (the codec's default) or 1..9. */
function gzipLevel(v: string): string | null {
  const notInt = integer('int', null)(v);
  if (notInt !== null) return notInt;
  const n = Number(v.trim());
  return n === -1 || (n >= 1 && n <= 9) ? null : 'Value must be between 1 and 9 or equal to -1';
}
/** Kafka's ThrottledReplicaListValidator: '*', or [partitionId]:[brokerId] elements. */
function throttledReplicas(name: string): (v: string) => { value: string; problem: string } | null {
  return (v) => {
    const elements = listElements(v);
    const ok = (elements.length === 1 && elements[0] === '*') || elements.every((e) => /^\d+:\d+$/.test(e));
    return ok
      ? null
      : {
          value: `[${elements.join(', ')}]`,
          problem: `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`,
        };
  };
}
function ratio(v: string): string | null {
  const t = v.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return 'Not a number of type DOUBLE';
  const n = Number(t);
  return n < 0 ? 'Value must be at least 0' : n > 1 ? 'Value must be no more than 1' : null;
}

export const topicConfigDefs: readonly TopicConfigDef[] = [
  {
    name: 'cleanup.policy',
    type: 'list',
    defaultValue: 'delete',
    kafkaSynonym: 'log.cleanup.policy',
    doc: 'delete or compact, or both. A compacted topic refuses records without a key (INVALID_RECORD) and the log cleaner keeps only the latest record of each key in its segments (spec/compaction.md); retention deletes only with delete.',
    validate: listOf('compact', 'delete'),
  },
  {
    name: 'compression.gzip.level',
    type: 'int',
    defaultValue: '-1',
    kafkaSynonym: 'compression.gzip.level',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (batches are stored as the producer compressed them).',
    validate: gzipLevel,
  },
  {
    name: 'compression.lz4.level',
    type: 'int',
    defaultValue: '9',
    kafkaSynonym: 'compression.lz4.level',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (batches are stored as the producer compressed them).',
    validate: intBetween(1, 17),
  },
  {
    name: 'compression.type',
    type: 'string',
    synonym: { name: 'compression.type', value: (c) => c.compressionType },
    doc: 'Compression of batches written to the log.',
    validate: oneOf('uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'),
  },
  {
    name: 'compression.zstd.level',
    type: 'int',
    defaultValue: '3',
    kafkaSynonym: 'compression.zstd.level',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (batches are stored as the producer compressed them).',
    validate: intBetween(-131072, 22),
  },
  {
    name: 'delete.retention.ms',
    type: 'long',
    defaultValue: '86400000',
    kafkaSynonym: 'log.cleaner.delete.retention.ms',
    doc: 'Retention of delete markers of compacted topics.',
    validate: long(0),
  },
  {
    name: 'errors.deadletterqueue.group.enable',
    type: 'boolean',
    defaultValue: 'false',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (a dead-letter queue of share groups, which Skafos does not serve).',
    validate: boolean,
  },
  {
    name: 'file.delete.delay.ms',
    type: 'long',
    defaultValue: '60000',
    kafkaSynonym: 'log.segment.delete.delay.ms',
    doc: 'How long the log cleaner keeps a segment object it replaced before deleting it (reads in flight finish first).',
    validate: long(0),
  },
  {
    name: 'flush.messages',
    type: 'long',
    defaultValue: longMax,
    kafkaSynonym: 'log.flush.interval.messages',
    doc: 'Accepted for compatibility; durability comes from the object store.',
    validate: long(1),
  },
  {
    name: 'flush.ms',
    type: 'long',
    defaultValue: longMax,
    doc: 'Accepted for compatibility; durability comes from the object store.',
    validate: long(0),
  },
  {
    name: 'follower.replication.throttled.replicas',
    type: 'list',
    defaultValue: '',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (a replication throttle; Skafos has no replicas).',
    validate: throttledReplicas('follower.replication.throttled.replicas'),
  },
  {
    name: 'index.interval.bytes',
    type: 'int',
    defaultValue: '4096',
    kafkaSynonym: 'log.index.interval.bytes',
    doc: 'Accepted for compatibility.',
    validate: int(0),
  },
  {
    name: 'leader.replication.throttled.replicas',
    type: 'list',
    defaultValue: '',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (a replication throttle; Skafos has no replicas).',
    validate: throttledReplicas('leader.replication.throttled.replicas'),
  },
  {
    name: 'local.retention.bytes',
    type: 'long',
    defaultValue: '-2',
    kafkaSynonym: 'log.local.retention.bytes',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage: all of a Skafos log is in the object store).',
    validate: long(-2),
  },
  {
    name: 'local.retention.ms',
    type: 'long',
    defaultValue: '-2',
    kafkaSynonym: 'log.local.retention.ms',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage: all of a Skafos log is in the object store).',
    validate: long(-2),
  },
  {
    name: 'max.compaction.lag.ms',
    type: 'long',
    defaultValue: longMax,
    kafkaSynonym: 'log.cleaner.max.compaction.lag.ms',
    doc: 'Accepted for compatibility.',
    validate: long(1),
  },
  {
    name: 'max.decompressed.message.bytes',
    type: 'int',
    defaultValue: '2147483639',
    kafkaSynonym: 'max.decompressed.message.bytes',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (a bound on one record once decompressed).',
    validate: int(1),
  },
  {
    name: 'max.message.bytes',
    type: 'int',
    synonym: { name: 'message.max.bytes', value: (c) => String(c.messageMaxBytes) },
    doc: 'Largest record batch accepted.',
    validate: int(0),
  },
  {
    name: 'message.timestamp.after.max.ms',
    type: 'long',
    synonym: { name: 'log.message.timestamp.after.max.ms', value: (c) => String(c.logMessageTimestampAfterMaxMs) },
    doc: 'How far in the future a CreateTime timestamp may be.',
    validate: long(0),
  },
  {
    name: 'message.timestamp.before.max.ms',
    type: 'long',
    synonym: {
      name: 'log.message.timestamp.before.max.ms',
      value: (c) => String(c.logMessageTimestampBeforeMaxMs === Number.MAX_SAFE_INTEGER ? longMax : c.logMessageTimestampBeforeMaxMs),
    },
    doc: 'How far in the past a CreateTime timestamp may be.',
    validate: long(0),
  },
  {
    name: 'message.timestamp.type',
    type: 'string',
    synonym: { name: 'log.message.timestamp.type', value: (c) => c.logMessageTimestampType },
    doc: 'CreateTime or LogAppendTime.',
    validate: oneOf('CreateTime', 'LogAppendTime'),
  },
  {
    name: 'min.cleanable.dirty.ratio',
    type: 'double',
    defaultValue: '0.5',
    kafkaSynonym: 'log.cleaner.min.cleanable.ratio',
    doc: 'Accepted for compatibility.',
    validate: ratio,
  },
  {
    name: 'min.compaction.lag.ms',
    type: 'long',
    defaultValue: '0',
    kafkaSynonym: 'log.cleaner.min.compaction.lag.ms',
    doc: 'Accepted for compatibility.',
    validate: long(0),
  },
  {
    name: 'min.insync.replicas',
    type: 'int',
    defaultValue: '1',
    kafkaSynonym: 'min.insync.replicas',
    doc: 'Accepted for compatibility; the object store replicates.',
    validate: int(1),
  },
  {
    name: 'preallocate',
    type: 'boolean',
    defaultValue: 'false',
    kafkaSynonym: 'log.preallocate',
    doc: 'Accepted for compatibility.',
    validate: boolean,
  },
  {
    name: 'remote.copy.lag.bytes',
    type: 'long',
    defaultValue: '-1',
    kafkaSynonym: 'log.remote.copy.lag.bytes',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage).',
    validate: long(-1),
  },
  {
    name: 'remote.copy.lag.ms',
    type: 'long',
    defaultValue: '0',
    kafkaSynonym: 'log.remote.copy.lag.ms',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage).',
    validate: long(null),
  },
  {
    name: 'remote.log.copy.disable',
    type: 'boolean',
    defaultValue: 'false',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage).',
    validate: boolean,
  },
  {
    name: 'remote.log.delete.on.disable',
    type: 'boolean',
    defaultValue: 'false',
    doc: 'Accepted and stored for compatibility with Kafka 4.4; no effect in Skafos (tiered storage).',
    validate: boolean,
  },
  {
    name: 'remote.storage.enable',
    type: 'boolean',
    defaultValue: 'false',
    doc: 'Tiered storage, which Skafos does not need (every log is in the object store): true is refused as Kafka refuses it on a broker without tiered storage.',
    validate: (v) =>
      boolean(v) ??
      (v.trim().toLowerCase() === 'true'
        ? { message: 'Tiered Storage functionality is disabled in the broker. Topic cannot be configured with remote log storage.' }
        : null),
  },
  {
    name: 'retention.bytes',
    type: 'long',
    synonym: { name: 'log.retention.bytes', value: (c) => String(c.logRetentionBytes) },
    doc: 'Size above which the oldest data is deleted; negative: no limit.',
    validate: long(null),
  },
  {
    name: 'retention.ms',
    type: 'long',
    synonym: { name: 'log.retention.ms', value: (c) => String(c.logRetentionMs) },
    doc: 'Age above which data is deleted; -1: forever.',
    validate: long(-1),
  },
  {
    name: 'segment.bytes',
    type: 'int',
    synonym: { name: 'log.segment.bytes', value: (c) => String(c.logSegmentBytes) },
    doc: 'Accepted for compatibility. At least 1 MiB, as in Kafka 4.',
    validate: int(1048576),
  },
  {
    name: 'segment.index.bytes',
    type: 'int',
    defaultValue: '10485760',
    kafkaSynonym: 'log.index.size.max.bytes',
    doc: 'Accepted for compatibility.',
    validate: int(4),
  },
  { name: 'segment.jitter.ms', type: 'long', defaultValue: '0', doc: 'Accepted for compatibility.', validate: long(0) },
  { name: 'segment.ms', type: 'long', defaultValue: '604800000', doc: 'Accepted for compatibility.', validate: long(1) },
  {
    name: 'unclean.leader.election.enable',
    type: 'boolean',
    defaultValue: 'false',
    kafkaSynonym: 'unclean.leader.election.enable',
    doc: 'Accepted for compatibility.',
    validate: boolean,
  },
];

const byName = new Map(topicConfigDefs.map((d) => [d.name, d]));

export function topicConfigDef(name: string): TopicConfigDef | undefined {
  return byName.get(name);
}

/**
 * Validates overrides as Kafka's controller does (ControllerConfigurationValidator, then LogConfig.validate):
 * null values first, then unknown names, then values in definition order. Returns the problem as Kafka words
 * it (the INVALID_CONFIG error message), or null.
 */
export function topicConfigProblem(configs: Record<string, string | null>): string | null {
  const nulls = Object.keys(configs).filter((name) => configs[name] === null);
  if (nulls.length > 0) return `Null value not supported for topic configs: ${nulls.join(',')}`;
  for (const name of Object.keys(configs)) if (!byName.has(name)) return `Unknown topic config name: ${name}`;
  for (const def of topicConfigDefs) {
    const value = configs[def.name];
    if (value === undefined || value === null) continue;
    const problem = def.validate?.(value);
    if (problem === null || problem === undefined) continue;
    if (typeof problem === 'object' && 'message' in problem) return problem.message;
    const [shown, text] = typeof problem === 'string' ? [value, problem] : [problem.value, problem.problem];
    return `Invalid value ${shown} for configuration ${def.name}: ${text}`;
  }
  return null;
}

/**
 * The effective value of a topic config: the override, else the broker synonym (`broker` is the configuration
 * in force, dynamic broker configs included), else a dynamic value of Kafka's synonym, else the static default.
 */
export function topicConfigValue(topic: TopicRecord, name: string, broker: BrokerConfig & DynamicallyConfigured): string {
  const override = topic.configs[name];
  if (override !== undefined) return override;
  const def = byName.get(name);
  if (!def) throw new Error(`unknown topic config ${name}`);
  if (def.synonym) return def.synonym.value(broker);
  return (def.kafkaSynonym !== undefined ? broker.dynamicKafkaDefaults?.[def.kafkaSynonym] : undefined) ?? def.defaultValue!;
}

export function topicNumber(topic: TopicRecord, name: string, broker: BrokerConfig): number {
  // Longs past 2^53 (Long.MAX_VALUE and any other value the validators take up to it) saturate: a bound that large
  // is no bound, and an unsafe number would make exact arithmetic on it throw.
  const n = Number(topicConfigValue(topic, name, broker));
  return Math.min(n, Number.MAX_SAFE_INTEGER);
}
