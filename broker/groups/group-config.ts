// GROUP config resources (Kafka 4.0's GroupConfig, KIP-848 and KIP-932): the keys a group may override, their
// broker settings (the `group.`-prefixed synonym), and validation with Kafka's rules and messages. The consumer
// keys are applied by the KIP-848 coordinator; the share keys are accepted and stored (Skafos has no share
// groups), validated against Kafka's default bounds.
import type { BrokerConfig } from '../config.ts';
import type { ConfigType } from '../log/topic-config.ts';

export interface GroupConfigDef {
  name: string;
  type: ConfigType;
  /** The broker config named `group.<name>`, when Kafka has one (the describe synonym). */
  brokerSynonym: string | null;
  /** The value this broker runs groups with when the group does not override it. */
  brokerValue: (c: BrokerConfig) => string;
  /** Kafka's static default of the broker synonym (or of the group key when there is no synonym). */
  kafkaDefault: string;
  doc: string;
}

// Kafka's defaults of the share group settings Skafos does not have (GroupCoordinatorConfig, ShareGroupConfig).
const share = {
  sessionTimeoutMs: 45000,
  minSessionTimeoutMs: 45000,
  maxSessionTimeoutMs: 60000,
  heartbeatIntervalMs: 5000,
  minHeartbeatIntervalMs: 5000,
  maxHeartbeatIntervalMs: 15000,
  recordLockDurationMs: 30000,
  minRecordLockDurationMs: 15000,
  maxRecordLockDurationMs: 60000,
} as const;

/** Every GROUP config key, in name order. */
export const groupConfigDefs: readonly GroupConfigDef[] = [
  {
    name: 'consumer.heartbeat.interval.ms',
    type: 'int',
    brokerSynonym: 'group.consumer.heartbeat.interval.ms',
    brokerValue: (c) => String(c.groupConsumerHeartbeatIntervalMs),
    kafkaDefault: '5000',
    doc: 'Heartbeat interval given to the members of this consumer (KIP-848) group.',
  },
  {
    name: 'consumer.session.timeout.ms',
    type: 'int',
    brokerSynonym: 'group.consumer.session.timeout.ms',
    brokerValue: (c) => String(c.groupConsumerSessionTimeoutMs),
    kafkaDefault: '45000',
    doc: 'A member of this consumer (KIP-848) group that sends no heartbeat for this long is removed from it.',
  },
  {
    name: 'share.auto.offset.reset',
    type: 'string',
    brokerSynonym: null,
    brokerValue: () => 'latest',
    kafkaDefault: 'latest',
    doc: 'Where a share group starts reading a partition (share groups: accepted, no effect).',
  },
  {
    name: 'share.heartbeat.interval.ms',
    type: 'int',
    brokerSynonym: 'group.share.heartbeat.interval.ms',
    brokerValue: () => String(share.heartbeatIntervalMs),
    kafkaDefault: String(share.heartbeatIntervalMs),
    doc: 'Heartbeat interval of the members of a share group (share groups: accepted, no effect).',
  },
  {
    name: 'share.record.lock.duration.ms',
    type: 'int',
    brokerSynonym: 'group.share.record.lock.duration.ms',
    brokerValue: () => String(share.recordLockDurationMs),
    kafkaDefault: String(share.recordLockDurationMs),
    doc: 'How long a share group member holds a record it was given (share groups: accepted, no effect).',
  },
  {
    name: 'share.session.timeout.ms',
    type: 'int',
    brokerSynonym: 'group.share.session.timeout.ms',
    brokerValue: () => String(share.sessionTimeoutMs),
    kafkaDefault: String(share.sessionTimeoutMs),
    doc: 'Session timeout of the members of a share group (share groups: accepted, no effect).',
  },
];

const byName = new Map(groupConfigDefs.map((d) => [d.name, d]));

export function groupConfigDef(name: string): GroupConfigDef | undefined {
  return byName.get(name);
}

/** GroupConfig's own defaults (what a key left out is validated with, whatever the broker runs with). */
const staticDefaults: Record<string, string> = {
  'consumer.heartbeat.interval.ms': '5000',
  'consumer.session.timeout.ms': '45000',
  'share.auto.offset.reset': 'latest',
  'share.heartbeat.interval.ms': String(share.heartbeatIntervalMs),
  'share.record.lock.duration.ms': String(share.recordLockDurationMs),
  'share.session.timeout.ms': String(share.sessionTimeoutMs),
};

/** Kafka's INT parsing (Integer.parseInt of the trimmed value) and Range.atLeast. */
function parseInt32(name: string, raw: string, min: number): number {
  const v = raw.trim();
  const n = /^[+-]?\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= -2147483648 && n <= 2147483647)) throw new Error(`Invalid value ${raw} for configuration ${name}: Not a number of type INT`);
  if (n < min) throw new Error(`Invalid value ${raw} for configuration ${name}: Value must be at least ${min}`);
  return n;
}

/**
 * Validates a group's whole set of overrides as Kafka's controller does (ControllerConfigurationValidator,
 * then GroupConfig.validate): null values, unknown names, each value's type and range, then the bounds the
 * broker sets. Returns the problem as Kafka words it (the INVALID_CONFIG message), or null.
 */
export function groupConfigProblem(configs: Record<string, string | null>, broker: BrokerConfig): string | null {
  const nulls = Object.keys(configs).filter((name) => configs[name] === null);
  if (nulls.length > 0) return `Null value not supported for group configs: ${nulls.join(',')}`;
  for (const name of Object.keys(configs)) if (!byName.has(name)) return `Unknown group config name: ${name}`;
  const all = { ...staticDefaults, ...(configs as Record<string, string>) };
  let v: Record<string, number>;
  try {
    // In Kafka's definition order.
    const cSt = parseInt32('consumer.session.timeout.ms', all['consumer.session.timeout.ms']!, 1);
    const cHb = parseInt32('consumer.heartbeat.interval.ms', all['consumer.heartbeat.interval.ms']!, 1);
    const sSt = parseInt32('share.session.timeout.ms', all['share.session.timeout.ms']!, 1);
    const sHb = parseInt32('share.heartbeat.interval.ms', all['share.heartbeat.interval.ms']!, 1);
    const sLock = parseInt32('share.record.lock.duration.ms', all['share.record.lock.duration.ms']!, 1000);
    v = { cSt, cHb, sSt, sHb, sLock };
  } catch (e) {
    return (e as Error).message;
  }
  const reset = all['share.auto.offset.reset']!.trim();
  if (reset !== 'latest' && reset !== 'earliest')
    return `Invalid value ${all['share.auto.offset.reset']} for configuration share.auto.offset.reset: String must be one of: latest, earliest`;
  const checks: [boolean, string][] = [
    [
      v.cHb! < broker.groupConsumerMinHeartbeatIntervalMs,
      'consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms',
    ],
    [
      v.cHb! > broker.groupConsumerMaxHeartbeatIntervalMs,
      'consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms',
    ],
    [
      v.cSt! < broker.groupConsumerMinSessionTimeoutMs,
      'consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms',
    ],
    [
      v.cSt! > broker.groupConsumerMaxSessionTimeoutMs,
      'consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms',
    ],
    [
      v.sHb! < share.minHeartbeatIntervalMs,
      'share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms',
    ],
    [
      v.sHb! > share.maxHeartbeatIntervalMs,
      'share.heartbeat.interval.ms must be less than or equal to group.share.max.heartbeat.interval.ms',
    ],
    [v.sSt! < share.minSessionTimeoutMs, 'share.session.timeout.ms must be greater than or equal to group.share.min.session.timeout.ms'],
    [v.sSt! > share.maxSessionTimeoutMs, 'share.session.timeout.ms must be less than or equal to group.share.max.session.timeout.ms'],
    [
      v.sLock! < share.minRecordLockDurationMs,
      'share.record.lock.duration.ms must be greater than or equal to group.share.min.record.lock.duration.ms',
    ],
    [
      v.sLock! > share.maxRecordLockDurationMs,
      'share.record.lock.duration.ms must be less than or equal to group.share.max.record.lock.duration.ms',
    ],
    [v.cSt! <= v.cHb!, 'consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms'],
    [v.sSt! <= v.sHb!, 'share.session.timeout.ms must be greater than share.heartbeat.interval.ms'],
  ];
  return checks.find(([bad]) => bad)?.[1] ?? null;
}

/** The effective value of a group config: the group's override, else the broker's value. */
export function groupConfigValue(overrides: Readonly<Record<string, string>>, def: GroupConfigDef, broker: BrokerConfig): string {
  return overrides[def.name] ?? def.brokerValue(broker);
}

/** A group's GROUP config overrides (Kafka names to values, validated when set); empty when it has none. */
export interface GroupConfigLookup {
  get(groupId: string): Readonly<Record<string, string>>;
}

/** An override as the number the coordinator uses (validated when set), or null when the group has none. */
export function groupConfigNumber(overrides: Readonly<Record<string, string>> | undefined, name: string): number | null {
  const v = overrides?.[name];
  return v === undefined ? null : Number(v.trim());
}
