// What AlterConfigs and IncrementalAlterConfigs share: Kafka's broker-side preprocessing (ConfigAdminManager:
// duplicate resources and keys, null values, broker resources) and the controller's topic changes
// (ConfigurationControlManager + ControllerConfigurationValidator), with Kafka's error codes and messages.
// Broker resources take Kafka's dynamic broker configs (broker/config/dynamic-broker-keys.ts); GROUP resources
// take Kafka's group configs (broker/groups/group-config.ts).
import { ErrorCode, KafkaError } from '../protocol/errors.ts';
import { ConfigError, describeConfig, loadConfig } from '../config.ts';
import { TopicChangedError, topicNameProblem } from '../metadata/topics.ts';
import { topicConfigDef, topicConfigDefs, topicConfigProblem } from '../log/topic-config.ts';
import {
  appliedDynamicKeys,
  dynamicKeyType,
  isNonDynamic,
  isPerBrokerOnly,
  listenerBase,
  needsListenerPrefix,
} from '../config/dynamic-broker-keys.ts';
import { groupConfigProblem } from '../groups/group-config.ts';
import { ConfigDocumentsFullError } from '../metadata/config-docs.ts';
import { apiError, noError, toApiError } from './api-error.ts';
import type { ApiError } from './api-error.ts';
import { brokerConfigType, parseBrokerId, ResourceType, resourceTypeName } from './config-entries.ts';
import type { BrokerServices } from './context.ts';

/** Kafka's AlterConfigOp.OpType ids. */
export const OpType = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;
const opNames = ['SET', 'DELETE', 'APPEND', 'SUBTRACT'];

export interface ConfigChange {
  name: string;
  value: string | null;
  /** An OpType; legacy AlterConfigs sets every key (SET). */
  op: number;
}

export interface AlterResource {
  resourceType: number;
  resourceName: string;
  configs: ConfigChange[];
}

/** Java's String.split(","): trailing empty strings are dropped. */
function javaSplit(v: string): string[] {
  const parts = v.split(',');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Kafka's LIST defaults of the dynamic list keys, where APPEND/SUBTRACT on an unset key starts. */
const dynamicListDefaults: Record<string, string> = {
  'log.cleanup.policy': 'delete',
  'sasl.enabled.mechanisms': 'GSSAPI',
  'sasl.kerberos.principal.to.local.rules': 'DEFAULT',
  'ssl.enabled.protocols': 'TLSv1.2,TLSv1.3',
};

/** Every key of the broker's configuration (all static unless Kafka's dynamic keys). */
let staticKeys: ReadonlySet<string> | null = null;

/** A Scala Set as Kafka's messages print it. */
function scalaSet(names: string[]): string {
  return `Set(${names.join(', ')})`;
}

/** Kafka's ConfigDef parsing of one value of a dynamic key (its validators too, for the keys topic configs share). */
function dynamicValueProblem(name: string, value: string): string | null {
  const base = listenerBase(name) ?? name;
  const def = topicConfigDefs.find((d) => d.synonym?.name === base || (d.synonym === undefined && d.kafkaSynonym === base));
  if (def?.validate) {
    const problem = def.validate(value);
    if (problem === null || problem === undefined) return null;
    if (typeof problem === 'object' && 'message' in problem) return problem.message;
    const [shown, text] = typeof problem === 'string' ? [value, problem] : [problem.value, problem.problem];
    return `Invalid value ${shown} for configuration ${name}: ${text}`;
  }
  const type = dynamicKeyType(name) ?? brokerConfigType(name);
  const v = value.trim();
  const bits = { short: 16n, int: 32n, long: 64n } as const;
  if (type === 'short' || type === 'int' || type === 'long') {
    const limit = 2n ** (bits[type] - 1n);
    if (!/^[+-]?\d+$/.test(v) || BigInt(v) < -limit || BigInt(v) >= limit)
      return `Invalid value ${value} for configuration ${name}: Not a number of type ${type.toUpperCase()}`;
  } else if (type === 'double') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v))
      return `Invalid value ${value} for configuration ${name}: Not a number of type DOUBLE`;
  } else if (type === 'boolean') {
    if (v.toLowerCase() !== 'true' && v.toLowerCase() !== 'false')
      return `Invalid value ${value} for configuration ${name}: Expected value to be either true or false`;
  }
  // A key Skafos applies takes only what its static setting takes (bounds included, e.g. producer.id.expiration.ms
  // at least 1), checked by the same parser against the defaults of every other key.
  if (appliedDynamicKeys[name] !== undefined) {
    try {
      loadConfig({ sets: { [name]: v } });
    } catch (err) {
      if (err instanceof ConfigError) return `Invalid value ${value} for configuration ${name}: ${err.message}`;
      throw err;
    }
  }
  return null;
}

/**
 * Kafka's checks of a broker resource's dynamic configs after the change (DynamicBrokerConfig.validateConfigs):
 * keys that cannot change at runtime, SSL keys without a listener prefix, values, and per-broker keys set as a
 * cluster-wide default; then Skafos's own rules between sizes. Kafka answers INVALID_REQUEST for all of them.
 */
function brokerConfigsProblem(props: Record<string, string>, changed: string[], perBroker: boolean, s: BrokerServices): string | null {
  const names = Object.keys(props);
  staticKeys ??= new Set(describeConfig().map((d) => d.key));
  const known = staticKeys;
  const nonDynamic = names.filter((n) => isNonDynamic(n, (k) => known.has(k) || brokerConfigType(k) !== undefined));
  if (nonDynamic.length > 0) return `Cannot update these configs dynamically: ${scalaSet(nonDynamic)}`;
  const unprefixed = names.filter(needsListenerPrefix);
  if (unprefixed.length > 0)
    return `These security configs can be dynamically updated only per-listener using the listener prefix: ${scalaSet(unprefixed)}`;
  for (const n of names) {
    const problem = dynamicValueProblem(n, props[n]!);
    if (problem) return problem;
  }
  if (!perBroker) {
    const perBrokerOnly = names.filter(isPerBrokerOnly);
    if (perBrokerOnly.length > 0)
      return `Cannot update these configs at default cluster level, broker id must be specified: ${scalaSet(perBrokerOnly)}`;
  }
  if (changed.includes('message.max.bytes') && props['message.max.bytes'] !== undefined) {
    const max = Number(props['message.max.bytes'].trim());
    const c = s.dynamicConfig.static;
    if (max > c.socketRequestMaxBytes) return `message.max.bytes must not exceed socket.request.max.bytes (${c.socketRequestMaxBytes})`;
    if (max > c.flushMaxPendingBytes) return `message.max.bytes must not exceed skafos.flush.max.pending.bytes (${c.flushMaxPendingBytes})`;
  }
  return null;
}

/**
 * A BROKER resource: this broker's dynamic configs (its node id) or the cluster-wide defaults (''). Kafka's
 * broker-side preprocessing (ConfigAdminManager: the broker id, APPEND/SUBTRACT on lists only) and validation,
 * then the change is stored in the metadata store, where every broker of the cluster picks it up.
 */
async function alterBroker(s: BrokerServices, r: AlterResource, incremental: boolean, validateOnly: boolean): Promise<void> {
  const perBroker = r.resourceName !== '';
  if (perBroker) {
    const id = parseBrokerId(r.resourceName, 'Node id');
    if (id !== s.nodeId)
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${s.nodeId}, but received ${r.resourceName}`);
  }
  for (const c of r.configs) {
    if (!incremental) continue;
    if (c.op === OpType.APPEND || c.op === OpType.SUBTRACT) {
      if ((dynamicKeyType(c.name) ?? brokerConfigType(c.name)) !== 'list')
        throw new KafkaError(
          ErrorCode.INVALID_CONFIG,
          `Config value ${c.op === OpType.APPEND ? 'append' : 'subtract'} is not allowed for config key: ${c.name}`,
        );
    } else if (c.op !== OpType.SET && c.op !== OpType.DELETE) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown operations type ${c.op}`);
    }
  }
  const change = (current: Readonly<Record<string, string>>): Record<string, string> => {
    const next = newConfigs(current, r, incremental, (name) =>
      (dynamicKeyType(name) ?? brokerConfigType(name)) === 'list' ? (current[name] ?? dynamicListDefaults[name] ?? '') : undefined,
    ) as Record<string, string>;
    const problem = brokerConfigsProblem(
      next,
      r.configs.map((c) => c.name),
      perBroker,
      s,
    );
    if (problem) throw new KafkaError(ErrorCode.INVALID_REQUEST, problem);
    return next;
  };
  const current = perBroker ? s.dynamicConfig.perBroker() : s.dynamicConfig.defaults();
  if (validateOnly) {
    change(current);
    return;
  }
  await s.adminLock(async () => {
    const configs = await s.dynamicConfig.update(r.resourceName, change);
    s.logger.info(
      { resource: r.resourceName === '' ? 'cluster default' : `broker ${r.resourceName}`, configs },
      'dynamic broker configs changed',
    );
  });
}

/**
 * A resource's overrides after the changes (Kafka's controller applies incremental ops to the current
 * overrides). `listDefault` gives the static default of a LIST key, undefined for a key of another type.
 */
function newConfigs(
  current: Readonly<Record<string, string>>,
  r: AlterResource,
  incremental: boolean,
  listDefault: (name: string) => string | undefined,
): Record<string, string | null> {
  if (!incremental) return Object.fromEntries(r.configs.map((c) => [c.name, c.value]));
  for (const c of r.configs)
    if (opNames[c.op] === undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown operations type ${c.op}`);
  const next: Record<string, string | null> = { ...current };
  for (const c of r.configs) {
    switch (c.op) {
      case OpType.SET:
        next[c.name] = c.value;
        break;
      case OpType.DELETE:
        delete next[c.name];
        break;
      default: {
        const dflt = listDefault(c.name);
        if (dflt === undefined)
          throw new KafkaError(ErrorCode.INVALID_CONFIG, `Can't ${opNames[c.op]} to key ${c.name} because its type is not LIST.`);
        // An unset list starts from the static default (Kafka's configSchema.getDefault), not the broker's.
        const parts = javaSplit(next[c.name] ?? dflt).filter((p) => p !== '');
        for (const v of javaSplit(c.value!)) {
          if (c.op === OpType.APPEND) {
            if (!parts.includes(v)) parts.push(v);
          } else {
            const i = parts.indexOf(v);
            if (i >= 0) parts.splice(i, 1);
          }
        }
        next[c.name] = parts.join(',');
      }
    }
  }
  return next;
}

function topicListDefault(name: string): string | undefined {
  const def = topicConfigDef(name);
  return def?.type === 'list' ? (def.defaultValue ?? '') : undefined;
}

/** A GROUP resource (Kafka's controller: ControllerConfigurationValidator and GroupConfig.validate). */
async function alterGroup(s: BrokerServices, r: AlterResource, incremental: boolean, validateOnly: boolean): Promise<void> {
  if (r.resourceName === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Default group resources are not allowed.');
  const change = (current: Readonly<Record<string, string>>): Record<string, string> => {
    // No GROUP config is a list.
    const next = newConfigs(current, r, incremental, () => undefined);
    const problem = groupConfigProblem(next, s.config);
    if (problem) throw new KafkaError(ErrorCode.INVALID_CONFIG, problem);
    return next as Record<string, string>;
  };
  if (validateOnly) {
    change(s.groupConfigs.get(r.resourceName));
    return;
  }
  await s.adminLock(async () => {
    try {
      const configs = await s.groupConfigs.update(r.resourceName, change);
      s.logger.info({ group: r.resourceName, configs }, 'group configs changed');
    } catch (e) {
      if (e instanceof ConfigDocumentsFullError) throw new KafkaError(ErrorCode.POLICY_VIOLATION, e.message);
      throw e;
    }
  });
}

async function alterTopic(s: BrokerServices, r: AlterResource, incremental: boolean, validateOnly: boolean): Promise<void> {
  const name = r.resourceName;
  if (name === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Default topic resources are not allowed.');
  const nameProblem = topicNameProblem(name);
  if (nameProblem) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, nameProblem);
  await s.adminLock(async () => {
    for (let attempt = 1; ; attempt++) {
      const topic = s.topics.byName(name);
      const next = newConfigs(topic?.configs ?? {}, r, incremental, topicListDefault);
      const problem = topicConfigProblem(next);
      if (problem) throw new KafkaError(ErrorCode.INVALID_CONFIG, problem);
      if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
      const configs = next as Record<string, string>;
      const same =
        Object.keys(configs).length === Object.keys(topic.configs).length &&
        Object.entries(configs).every(([k, v]) => topic.configs[k] === v);
      if (validateOnly || same) return;
      try {
        await s.topics.setConfigs(name, configs);
        s.logger.info({ topic: name, configs }, 'topic configs changed');
        return;
      } catch (e) {
        // Changed by someone else meanwhile (the registry has re-read it): apply the changes again.
        if (!(e instanceof TopicChangedError) || attempt >= 3) throw e;
      }
    }
  });
}

async function alterResource(s: BrokerServices, r: AlterResource, incremental: boolean, validateOnly: boolean): Promise<ApiError> {
  try {
    const names = r.configs.map((c) => c.name);
    if (new Set(names).size !== names.length) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
    const nulls = r.configs.filter((c) => c.value === null && (!incremental || c.op !== OpType.DELETE)).map((c) => c.name);
    if (nulls.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
    switch (r.resourceType) {
      case ResourceType.BROKER:
        await alterBroker(s, r, incremental, validateOnly);
        break;
      case ResourceType.TOPIC:
        await alterTopic(s, r, incremental, validateOnly);
        break;
      case ResourceType.BROKER_LOGGER:
        // Legacy AlterConfigs never supported logger resources; log levels here are static (skafos.log.level).
        if (!incremental) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown resource type ${r.resourceType}`);
        throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Log levels cannot be changed at runtime; set skafos.log.level');
      case ResourceType.GROUP:
        await alterGroup(s, r, incremental, validateOnly);
        break;
      case ResourceType.CLIENT_METRICS:
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type: ${resourceTypeName(r.resourceType)}`);
      default:
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown resource type ${r.resourceType}`);
    }
    return noError;
  } catch (e) {
    return toApiError(e);
  }
}

/** One result per resource, in request order. A resource named twice fails both times. */
export async function alterConfigResources(
  s: BrokerServices,
  resources: AlterResource[],
  incremental: boolean,
  validateOnly: boolean,
): Promise<ApiError[]> {
  const key = (r: AlterResource) => `${r.resourceType}\u0000${r.resourceName}`;
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
  const results: ApiError[] = [];
  for (const r of resources) {
    if (counts.get(key(r))! > 1) results.push(apiError(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.'));
    else results.push(await alterResource(s, r, incremental, validateOnly));
  }
  return results;
}
