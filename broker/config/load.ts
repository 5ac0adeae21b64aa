// Loading: reads the layers (defaults, environment, config file, --set), parses every supplied value, derives
// the folded fields and validates across keys; and the suggestion for an unknown key.
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import {
  envName,
  flushLingerMsDefaults,
  KAFKA_ONLY_KEYS,
  literalEnvName,
  PARAM_BY_KEY,
  PARAMS,
  SENSITIVE_CONFIG_KEYS,
  SKAFOS_PREFIX,
} from './params.ts';
import { parseProperties } from './properties.ts';
import type { BrokerConfig, JaasConfig, Listener, ListenerSecurity, LoadConfigOptions, SecurityProtocol, SslSettings } from './types.ts';
import { ConfigError } from './types.ts';
import { crossValidate } from './validate.ts';
import { Invalid } from './values.ts';

// ---------------------------------------------------------------------------------------------------------
// Suggestions

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** logRetentionMs, LOG_RETENTION_MS, log-retention-ms → log.retention.ms */
function normalizeKeyGuess(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1.$2')
    .toLowerCase()
    .replace(/[_\-\s]+/g, '.');
}

/** The known key closest to `key`, if close enough to be a plausible typo. */
export function suggestKey(key: string): string | null {
  const guess = normalizeKeyGuess(key);
  if (PARAM_BY_KEY.has(guess)) return guess;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const param of PARAMS) {
    const candidates = [param.key];
    if (param.key.startsWith(SKAFOS_PREFIX)) candidates.push(param.key.slice(SKAFOS_PREFIX.length));
    for (const candidate of candidates) {
      const d = levenshtein(guess, candidate);
      if (d < bestDistance) {
        bestDistance = d;
        best = param.key;
      }
    }
  }
  const allowed = Math.max(2, Math.floor(guess.length / 5));
  return bestDistance <= allowed ? best : null;
}

// ---------------------------------------------------------------------------------------------------------
// Loading

interface Supplied {
  readonly raw: string;
  /** Human description of where it came from. */
  readonly source: string;
}

type Layer = Map<string, Supplied>;

export interface ResolvedConfig {
  readonly config: BrokerConfig;
  /** Source of each key that was supplied (not defaulted): `--set`, `config file /x:3`, `environment SKAFOS_X`. */
  readonly sources: ReadonlyMap<string, string>;
}

/** Reads, validates and freezes the configuration. Throws ConfigError on the first problem found. */
export function loadConfig(options: LoadConfigOptions = {}): BrokerConfig {
  return resolveConfig(options).config;
}

/** loadConfig, plus where every supplied value came from (for the startup log). */
export function resolveConfig(options: LoadConfigOptions = {}): ResolvedConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = envLayer(options.env ?? {});
  const file = options.file === undefined ? new Map<string, Supplied>() : fileLayer(resolvePath(cwd, options.file));
  const sets = setLayer(options.sets ?? []);
  const layers: Layer[] = [env, file, sets];

  // Every supplied value must parse, even when a higher layer overrides it.
  const parsed = new Map<string, unknown>();
  const sources = new Map<string, string>();
  const raws = new Map<string, string>();
  for (const layer of layers) {
    for (const [key, supplied] of layer) {
      parsed.set(key, parseValue(key, supplied));
      sources.set(key, supplied.source);
      raws.set(key, supplied.raw);
    }
  }
  for (const param of PARAMS) {
    if (!parsed.has(param.key) && param.default !== null) {
      parsed.set(param.key, parseValue(param.key, { raw: param.default, source: 'default' }));
    }
  }

  const values: Record<string, unknown> = {};
  for (const param of PARAMS) {
    if (param.key === 'log.retention.ms') values.logRetentionMs = null; // derived below; keeps field order
    if (param.field !== null) values[param.field] = parsed.has(param.key) ? parsed.get(param.key) : null;
  }
  values.dataDir = resolvePath(cwd, values.dataDir as string);
  values.etcdEndpoints ??= [];
  resolveListeners(values, parsed);
  values.flushLingerMs ??= flushLingerMsDefaults[values.objectStore as BrokerConfig['objectStore']];
  values.logRetentionMs = retentionMs(layers, parsed);

  const config = values as unknown as BrokerConfig;
  crossValidate(config, sources, raws);
  const frozen = deepFreeze(config);
  return { config: frozen, sources };
}

function envLayer(env: Readonly<Record<string, string | undefined>>): Layer {
  const layer: Layer = new Map();
  for (const param of PARAMS) {
    const names = [...new Set([envName(param.key), literalEnvName(param.key)])].filter((n) => env[n] !== undefined);
    if (names.length === 0) continue;
    if (names.length === 2 && env[names[0]!]!.trim() !== env[names[1]!]!.trim()) {
      throw new ConfigError(`${param.key} is set by both ${names[0]} and ${names[1]}, differently; unset one`, {
        key: param.key,
        value: env[names[1]!]!,
        source: `environment ${names[1]}`,
      });
    }
    layer.set(param.key, { raw: env[names[0]!]!.trim(), source: `environment ${names[0]}` });
  }
  return layer;
}

function fileLayer(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${why}`, { source: path });
  }
  const layer: Layer = new Map();
  for (const entry of parseProperties(text, path)) {
    const source = `config file ${path}:${entry.line}`;
    checkKnown(entry.key, entry.value, source);
    layer.set(entry.key, { raw: entry.value, source });
  }
  return layer;
}

function setLayer(sets: readonly string[] | Readonly<Record<string, string>>): Layer {
  const layer: Layer = new Map();
  const pairs: [string, string][] = [];
  if (Array.isArray(sets)) {
    for (const item of sets as readonly string[]) {
      const eq = item.indexOf('=');
      if (eq < 0) {
        throw new ConfigError(`--set ${JSON.stringify(item)} is not key=value`, {
          key: item.trim() || null,
          value: item,
          expected: 'key=value',
          source: '--set',
        });
      }
      pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
    }
  } else {
    for (const [key, value] of Object.entries(sets as Readonly<Record<string, string>>)) pairs.push([key.trim(), String(value).trim()]);
  }
  for (const [key, value] of pairs) {
    checkKnown(key, value, '--set');
    layer.delete(key); // keep insertion order = last occurrence
    layer.set(key, { raw: value, source: '--set' });
  }
  return layer;
}

/**
 * `listener.name.<listener>.<key>`: a per-listener override of one of PER_LISTENER_KEYS, the key optionally
 * prefixed by a SASL mechanism (`listener.name.sasl_ssl.plain.sasl.jaas.config`), as Kafka writes them.
 */
function listenerKey(key: string): { listener: string; mechanism: string | null; base: string } | null {
  const m = /^listener\.name\.([A-Za-z_][A-Za-z0-9_]*)\.(?:(plain|scram-sha-256|scram-sha-512)\.)?(.+)$/.exec(key);
  if (!m || !PER_LISTENER_KEYS.has(m[3]!)) return null;
  return { listener: m[1]!.toUpperCase(), mechanism: m[2]?.toUpperCase() ?? null, base: m[3]! };
}

/** The ssl.* keys a listener may override, with their BrokerConfig fields and SslSettings fields. */
const SSL_KEYS: readonly [string, string, keyof SslSettings][] = [
  ['ssl.keystore.location', 'sslKeystoreLocation', 'keystoreLocation'],
  ['ssl.key.password', 'sslKeyPassword', 'keyPassword'],
  ['ssl.keystore.certificate.chain', 'sslKeystoreCertificateChain', 'keystoreCertificateChain'],
  ['ssl.keystore.key', 'sslKeystoreKey', 'keystoreKey'],
  ['ssl.truststore.location', 'sslTruststoreLocation', 'truststoreLocation'],
  ['ssl.truststore.certificates', 'sslTruststoreCertificates', 'truststoreCertificates'],
  ['ssl.enabled.protocols', 'sslEnabledProtocols', 'enabledProtocols'],
  ['ssl.cipher.suites', 'sslCipherSuites', 'cipherSuites'],
  ['ssl.client.auth', 'sslClientAuth', 'clientAuth'],
  ['ssl.principal.mapping.rules', 'sslPrincipalMappingRules', 'principalMappingRules'],
];

const PER_LISTENER_KEYS: ReadonlySet<string> = new Set([
  'sasl.enabled.mechanisms',
  'sasl.jaas.config',
  'connections.max.reauth.ms',
  'ssl.keystore.type',
  'ssl.truststore.type',
  ...SSL_KEYS.map(([key]) => key),
]);

/** The base key of a key (itself, or the key a `listener.name.` prefix overrides). */
function baseKey(key: string): string {
  return listenerKey(key)?.base ?? key;
}

/** Listener security protocols from the map, advertised listeners, the inter-broker listener, per-listener security. */
function resolveListeners(values: Record<string, unknown>, parsed: ReadonlyMap<string, unknown>): void {
  const map = values.listenerSecurityProtocolMap as Record<string, SecurityProtocol>;
  // A name neither mapped nor a protocol keeps its provisional PLAINTEXT; validateListeners refuses it.
  const withProtocol = (ls: Listener[]) => ls.map((l) => ({ ...l, securityProtocol: map[l.name] ?? l.securityProtocol }));
  values.listeners = withProtocol(values.listeners as Listener[]);
  values.advertisedListeners =
    values.advertisedListeners === null ? values.listeners : withProtocol(values.advertisedListeners as Listener[]);
  const listeners = values.listeners as Listener[];
  if (values.interBrokerListenerName === null) {
    values.interBrokerListenerName = listeners.find((l) => l.name === 'PLAINTEXT')?.name ?? listeners[0]!.name;
  } else {
    values.interBrokerListenerName = (values.interBrokerListenerName as string).toUpperCase();
  }
  for (const key of parsed.keys()) {
    const lk = listenerKey(key);
    if (lk && !listeners.some((l) => l.name === lk.listener)) {
      throw new ConfigError(`${key}: there is no listener ${lk.listener} in listeners`, { key, source: key });
    }
  }
  const security: Record<string, ListenerSecurity> = {};
  for (const l of listeners) {
    const override = (base: string, mechanism: string | null) => {
      for (const [key, value] of parsed) {
        const lk = listenerKey(key);
        if (lk && lk.listener === l.name && lk.base === base && lk.mechanism === mechanism) return value;
      }
      return undefined;
    };
    const ssl: Record<string, unknown> = {};
    for (const [key, field, sslField] of SSL_KEYS) {
      const o = override(key, null);
      ssl[sslField] = o !== undefined ? o : values[field];
    }
    security[l.name] = {
      ssl: ssl as unknown as SslSettings,
      reauthMs: (override('connections.max.reauth.ms', null) as number | undefined) ?? (values.connectionsMaxReauthMs as number),
      saslEnabledMechanisms:
        (override('sasl.enabled.mechanisms', null) as string[] | undefined) ?? (values.saslEnabledMechanisms as string[]),
      plainJaas:
        (override('sasl.jaas.config', 'PLAIN') as JaasConfig | null | undefined) ??
        (override('sasl.jaas.config', null) as JaasConfig | null | undefined) ??
        (values.saslJaasConfig as JaasConfig | null),
    };
  }
  values.listenerSecurity = security;
}

function checkKnown(key: string, value: string, source: string): void {
  if (PARAM_BY_KEY.has(key) || listenerKey(key) !== null) return;
  if (key === '') throw new ConfigError(`empty key (${source})`, { key, value, source });
  const kafkaHint = KAFKA_ONLY_KEYS[key];
  const suggestion = suggestKey(key);
  const hint =
    kafkaHint !== undefined
      ? `; Kafka's ${key} does not apply to Skafos: ${kafkaHint}`
      : suggestion !== null
        ? `; did you mean ${suggestion}?`
        : '; `skafos broker --help` lists the keys';
  throw new ConfigError(`unknown config key ${JSON.stringify(key)} (${source})${hint}`, {
    key,
    value,
    expected: 'a known key',
    suggestion,
    source,
  });
}

function parseValue(key: string, supplied: Supplied): unknown {
  const base = baseKey(key);
  const param = PARAM_BY_KEY.get(base)!;
  try {
    return param.type.parse(supplied.raw);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    // A secret's value is never repeated in an error (it ends up in logs).
    const shown = SENSITIVE_CONFIG_KEYS.has(base) ? '(hidden)' : JSON.stringify(supplied.raw);
    throw new ConfigError(`invalid ${key} ${shown} (${supplied.source}): expected ${err.expected}`, {
      key,
      value: SENSITIVE_CONFIG_KEYS.has(base) ? '(hidden)' : supplied.raw,
      expected: err.expected,
      source: supplied.source,
    });
  }
}

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;

/** Kafka's precedence ms > minutes > hours, applied in the highest layer that sets any of them. */
function retentionMs(layers: readonly Layer[], parsed: ReadonlyMap<string, unknown>): number {
  let layer: Layer | undefined;
  for (let i = layers.length - 1; i >= 0 && layer === undefined; i--) {
    const l = layers[i]!;
    if (l.has('log.retention.ms') || l.has('log.retention.minutes') || l.has('log.retention.hours')) layer = l;
  }
  const pick = (key: string) => (layer === undefined ? undefined : layer.has(key) ? (parsed.get(key) as number) : undefined);
  const ms = pick('log.retention.ms');
  if (ms !== undefined) return ms;
  const minutes = pick('log.retention.minutes');
  if (minutes !== undefined) return minutes < 0 ? -1 : minutes * MS_PER_MINUTE;
  const hours = pick('log.retention.hours') ?? (parsed.get('log.retention.hours') as number);
  return hours < 0 ? -1 : hours * MS_PER_HOUR;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
}

/**
 * Every setting at its default, from the table. Modules that have a default for an option a caller may omit
 * take it from here, never from a literal of their own.
 */
export const configDefaults: BrokerConfig = loadConfig({ cwd: '/' });
