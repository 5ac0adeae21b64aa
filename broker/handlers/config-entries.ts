// Config resources as DescribeConfigs reports them (Kafka's ConfigHelper): each entry's value, source, synonyms
// in Kafka's order, type and documentation, for topics (overrides over broker settings over defaults), for this
// broker (dynamic configs over its static configuration; only Kafka's dynamic keys are writable), for the
// cluster-wide default broker resource, and for groups.
import { brokerConfigKafkaType, describeConfig, formatConfig, loadConfig, SENSITIVE_CONFIG_KEYS } from '../config.ts';
import type { BrokerConfig } from '../config.ts';
import { topicConfigDefs, topicConfigValue } from '../log/topic-config.ts';
import type { ConfigType, TopicConfigDef } from '../log/topic-config.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import { groupConfigDefs, groupConfigValue } from '../groups/group-config.ts';
import { dynamicKeyType, isDynamicBrokerKey, listenerBase } from '../config/dynamic-broker-keys.ts';
import { ErrorCode, KafkaError } from '../protocol/errors.ts';

/** Kafka's ConfigResource.Type ids. */
export const ResourceType = { UNKNOWN: 0, TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, CLIENT_METRICS: 16, GROUP: 32 } as const;

export function resourceTypeName(id: number): string | undefined {
  return Object.entries(ResourceType).find(([, v]) => v === id)?.[0];
}

/** A broker resource name as Kafka reads it (Integer.parseInt), or INVALID_REQUEST naming `what` ("Broker id"). */
export function parseBrokerId(name: string, what: string): number {
  const n = /^[+-]?\d+$/.test(name) ? Number(name) : NaN;
  if (!(n >= -2147483648 && n <= 2147483647))
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `${what} must be an integer, but it is: ${name}`);
  return n;
}

/** Kafka's DescribeConfigsResponse.ConfigSource ids. */
export const ConfigSource = {
  UNKNOWN: 0,
  TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
  CLIENT_METRICS_CONFIG: 7,
  GROUP_CONFIG: 8,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigType ids. */
const configTypeIds: Record<ConfigType, number> = {
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
};

export interface ConfigSynonym {
  name: string;
  value: string | null;
  source: number;
}

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  configSource: number;
  isSensitive: boolean;
  /** Every synonym, most significant first (the first one's source is `configSource`). */
  synonyms: ConfigSynonym[];
  configType: number;
  documentation: string;
}

// ---------------------------------------------------------------------------------------------------------
// Broker configs

/** The type of a broker config key Skafos knows (from the configuration table), or undefined. */
export function brokerConfigType(name: string): ConfigType | undefined {
  return brokerConfigKafkaType(name);
}

/** describeConfig() marks keys without a default value this way (Kafka's default for them is null). */
const noDefaultMarkers = new Set(['', '(unset)', '(generated)', '(listeners)']);

interface BrokerConfigValue {
  name: string;
  /** The effective value as written in a properties file; null when unset. */
  value: string | null;
  type: ConfigType;
  doc: string;
  /**
   * Set in the broker's configuration (Kafka's STATIC_BROKER_CONFIG). Skafos keeps no record of where each value
   * came from, so a value counts as set when it differs from the default.
   */
  configured: boolean;
  /** Kafka's DEFAULT_CONFIG value, or null when the key has no default. */
  defaultValue: string | null;
}

/** Properties-format lines of formatConfig: key → { value, commented }. */
function parseFormatted(text: string): Map<string, { value: string; commented: boolean }> {
  const out = new Map<string, { value: string; commented: boolean }>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const commented = line.startsWith('#');
    const body = commented ? line.slice(1) : line;
    const eq = body.indexOf('=');
    const value = body.slice(eq + 1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.set(body.slice(0, eq), { value, commented });
  }
  return out;
}

let defaultsFormatted: Map<string, { value: string; commented: boolean }> | null = null;
const brokerValuesCache = new WeakMap<BrokerConfig, BrokerConfigValue[]>();

/** Every broker config key with its value (the keys of formatConfig: log.retention.ms carries the retention). */
export function brokerConfigValues(config: BrokerConfig): BrokerConfigValue[] {
  const cached = brokerValuesCache.get(config);
  if (cached) return cached;
  defaultsFormatted ??= parseFormatted(formatConfig(loadConfig({})));
  const docs = new Map(describeConfig().map((d) => [d.key, d]));
  const values: BrokerConfigValue[] = [];
  for (const [name, { value, commented }] of parseFormatted(formatConfig(config))) {
    const d = docs.get(name);
    const dflt = defaultsFormatted.get(name);
    const field = d?.field ? (config[d.field] as unknown) : undefined;
    const unset = (commented && name === 'advertised.listeners') || (value === '' && (field === null || field === undefined));
    values.push({
      name,
      value: unset ? null : value,
      type: brokerConfigKafkaType(name) ?? 'string',
      doc: d?.doc ?? '',
      configured: !unset && (dflt === undefined || dflt.value !== value || dflt.commented !== commented),
      defaultValue: d === undefined || noDefaultMarkers.has(d.default) || dflt === undefined ? null : dflt.value,
    });
  }
  brokerValuesCache.set(config, values);
  return values;
}

/** The dynamic broker configs in force (DynamicBrokerConfig satisfies it), and the static configuration under them. */
export interface DynamicLayers {
  readonly static: BrokerConfig;
  /** The cluster-wide dynamic defaults (resource name ''). */
  defaults(): Readonly<Record<string, string>>;
  /** This broker's own dynamic configs. */
  perBroker(): Readonly<Record<string, string>>;
}

const noLayers = (config: BrokerConfig): DynamicLayers => ({ static: config, defaults: () => ({}), perBroker: () => ({}) });

/**
 * Kafka's configSynonyms for one broker key: its dynamic per-broker value, its dynamic default, its static
 * value, then its default.
 */
function brokerSynonyms(v: BrokerConfigValue | undefined, name: string, dyn?: DynamicLayers): ConfigSynonym[] {
  const out: ConfigSynonym[] = [];
  const own = dyn?.perBroker()[name];
  if (own !== undefined) out.push({ name, value: own, source: ConfigSource.DYNAMIC_BROKER_CONFIG });
  const dflt = dyn?.defaults()[name];
  if (dflt !== undefined) out.push({ name, value: dflt, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG });
  if (v?.configured) out.push({ name, value: v.value, source: ConfigSource.STATIC_BROKER_CONFIG });
  if (v && v.defaultValue !== null) out.push({ name, value: v.defaultValue, source: ConfigSource.DEFAULT_CONFIG });
  return out;
}

/** A dynamic key's type: Kafka's for it, else the one Skafos knows. */
function keyType(name: string): ConfigType {
  return (dynamicKeyType(name) as ConfigType | undefined) ?? brokerConfigKafkaType(name) ?? 'string';
}

function isSensitiveKey(name: string): boolean {
  return SENSITIVE_CONFIG_KEYS.has(name) || dynamicKeyType(name) === 'password';
}

function brokerEntry(name: string, value: string | null, synonyms: ConfigSynonym[], type: ConfigType, doc: string): ConfigEntry {
  const sensitive = isSensitiveKey(name);
  return {
    name,
    value: sensitive ? null : value,
    readOnly: !isDynamicBrokerKey(name) && listenerBase(name) === null,
    isSensitive: sensitive,
    configSource: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
    synonyms: sensitive ? synonyms.map((syn) => ({ ...syn, value: null })) : synonyms,
    configType: configTypeIds[type],
    documentation: doc,
  };
}

/**
 * This broker's configs (Kafka's createBrokerConfigEntry with perBrokerConfig): every key of its configuration,
 * then any other key holding a dynamic config; values are the ones in force (dynamic over static).
 */
export function brokerConfigEntries(config: BrokerConfig, dyn: DynamicLayers = noLayers(config)): ConfigEntry[] {
  const own = dyn.perBroker();
  const dflts = dyn.defaults();
  const out = brokerConfigValues(dyn.static).map((v) => {
    const value = own[v.name] ?? dflts[v.name] ?? v.value;
    return brokerEntry(v.name, value, brokerSynonyms(v, v.name, dyn), v.type, v.doc);
  });
  const listed = new Set(out.map((e) => e.name));
  const extra = [...new Set([...Object.keys(own), ...Object.keys(dflts)])].filter((n) => !listed.has(n)).sort();
  for (const name of extra) out.push(brokerEntry(name, own[name] ?? dflts[name]!, brokerSynonyms(undefined, name, dyn), keyType(name), ''));
  return out;
}

/** The cluster-wide default resource (Kafka's createBrokerConfigEntry without perBrokerConfig): its dynamic defaults only. */
export function brokerDefaultEntries(dyn: DynamicLayers): ConfigEntry[] {
  const docs = new Map(brokerConfigValues(dyn.static).map((v) => [v.name, v]));
  return Object.entries(dyn.defaults())
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) =>
      brokerEntry(
        name,
        value,
        [{ name, value, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }],
        docs.get(name)?.type ?? keyType(name),
        docs.get(name)?.doc ?? '',
      ),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Topic configs

/**
 * One topic config (Kafka's createTopicConfigEntry): the override, then the broker synonym's dynamic, static and
 * default values. `config` is the configuration in force (dynamic configs included), `dyn` the layers under it.
 */
export function topicConfigEntry(
  def: TopicConfigDef,
  topic: TopicRecord,
  config: BrokerConfig,
  dyn: DynamicLayers = noLayers(config),
): ConfigEntry {
  const value = topicConfigValue(topic, def.name, config);
  const synonyms: ConfigSynonym[] = [];
  if (topic.configs[def.name] !== undefined) synonyms.push({ name: def.name, value, source: ConfigSource.TOPIC_CONFIG });
  if (def.synonym) {
    const broker = brokerConfigValues(dyn.static).find((v) => v.name === def.synonym!.name);
    if (broker) synonyms.push(...brokerSynonyms(broker, broker.name, dyn));
  } else if (def.kafkaSynonym !== undefined && def.defaultValue !== undefined) {
    synonyms.push(...brokerSynonyms(undefined, def.kafkaSynonym, dyn));
    synonyms.push({ name: def.kafkaSynonym, value: def.defaultValue, source: ConfigSource.DEFAULT_CONFIG });
  }
  return {
    name: def.name,
    value,
    readOnly: false,
    isSensitive: false,
    configSource: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
    synonyms,
    configType: configTypeIds[def.type],
    documentation: def.doc,
  };
}

export function topicConfigEntries(topic: TopicRecord, config: BrokerConfig, dyn?: DynamicLayers): ConfigEntry[] {
  return topicConfigDefs.map((def) => topicConfigEntry(def, topic, config, dyn));
}

// ---------------------------------------------------------------------------------------------------------
// Group configs

/**
 * A group's configs (Kafka's createGroupConfigEntry): every GROUP config key, the group's override first
 * (GROUP_CONFIG), then the synonyms of the broker config `group.<key>`, or, for a key without one, a
 * DEFAULT_CONFIG synonym under its own name.
 */
export function groupConfigEntries(overrides: Readonly<Record<string, string>>, config: BrokerConfig): ConfigEntry[] {
  return groupConfigDefs.map((def) => {
    const value = groupConfigValue(overrides, def, config);
    const synonyms: ConfigSynonym[] = [];
    if (overrides[def.name] !== undefined) synonyms.push({ name: def.name, value, source: ConfigSource.GROUP_CONFIG });
    const broker = def.brokerSynonym === null ? undefined : brokerConfigValues(config).find((v) => v.name === def.brokerSynonym);
    if (broker) synonyms.push(...brokerSynonyms(broker, broker.name));
    else synonyms.push({ name: def.brokerSynonym ?? def.name, value: def.kafkaDefault, source: ConfigSource.DEFAULT_CONFIG });
    return {
      name: def.name,
      value,
      readOnly: false,
      isSensitive: false,
      configSource: synonyms[0]!.source,
      synonyms,
      configType: configTypeIds[def.type],
      documentation: def.doc,
    };
  });
}
