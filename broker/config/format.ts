// Writing a configuration back: formatConfig (properties text that loads to an equal config) and the
// reference rows describeConfig gives `skafos broker --help` and docs/configuration.md.
import { envName, flushLingerMsDefaults, PARAM_BY_KEY, PARAMS, unusedKeys } from './params.ts';
import type { BrokerConfig, ConfigDescription } from './types.ts';
import {
  fmtInt,
  formatHost,
  formatJaas,
  formatPrincipalMappingRules,
  formatListeners,
  formatSecurityProtocolMap,
  GIB,
  KIB,
  MIB,
} from './values.ts';

/** The value of `key` in `config`, written as in a properties file. */
export function rawOf(config: BrokerConfig, key: string): string {
  switch (key) {
    case 'listeners':
      return formatListeners(config.listeners);
    case 'advertised.listeners':
      return formatListeners(config.advertisedListeners);
    case 'listener.security.protocol.map':
      return formatSecurityProtocolMap(config.listenerSecurityProtocolMap);
    case 'ssl.principal.mapping.rules':
      return formatPrincipalMappingRules(config.sslPrincipalMappingRules);
    case 'sasl.jaas.config':
      return config.saslJaasConfig === null ? '' : formatJaas(config.saslJaasConfig);
    case 'log.retention.ms':
      return String(config.logRetentionMs);
    case 'log.retention.minutes':
    case 'log.retention.hours':
      return '';
    case 'skafos.http.listener':
      return config.httpListener === null ? '' : `${formatHost(config.httpListener.host)}:${config.httpListener.port}`;
  }
  const param = PARAM_BY_KEY.get(key);
  if (param === undefined || param.field === null) return '';
  const value = config[param.field];
  if (value === null) return '';
  if (Array.isArray(value)) return value.join(',');
  if (value === Number.MAX_SAFE_INTEGER) return fmtInt(value);
  return String(value);
}

/**
 * The effective configuration in properties format, one line per key. log.retention.ms carries the effective
 * retention (the minutes/hours inputs are omitted); keys that do not apply (the other store's settings, a
 * defaulted advertised.listeners) are commented out. Loading the text back gives an equal config.
 */
export function formatConfig(config: BrokerConfig): string {
  const unused = new Set(unusedKeys(config));
  if (config.advertisedListeners === config.listeners) unused.add('advertised.listeners');
  const lines: string[] = [];
  for (const param of PARAMS) {
    if (param.key === 'log.retention.minutes' || param.key === 'log.retention.hours') continue;
    lines.push(`${unused.has(param.key) ? '#' : ''}${param.key}=${escapeValue(rawOf(config, param.key))}`);
  }
  return `${lines.join('\n')}\n`;
}

function escapeValue(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/^[ \t]/, (c) => `\\${c}`);
}

// ---------------------------------------------------------------------------------------------------------
// Reference

function humanBytes(n: number): string {
  for (const [unit, size] of [
    ['GiB', GIB],
    ['MiB', MIB],
    ['KiB', KIB],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return '';
}

/** Every key with its type, default, documentation and environment variable, in table order. */
export function describeConfig(): readonly ConfigDescription[] {
  return PARAMS.map((param) => {
    let dflt = param.default ?? '';
    if (param.key.endsWith('.bytes') && dflt !== '' && Number(dflt) > 0) {
      const human = humanBytes(Number(dflt));
      if (human !== '') dflt = `${dflt} (${human})`;
    }
    if (param.key === 'advertised.listeners') dflt = '(listeners)';
    if (param.key === 'skafos.cluster.id') dflt = '(generated)';
    if (param.key === 'skafos.flush.linger.ms') dflt = `${flushLingerMsDefaults.s3} with s3, ${flushLingerMsDefaults.local} with local`;
    if (param.key === 'log.retention.ms' || param.key === 'log.retention.minutes') dflt = '(unset)';
    return Object.freeze({
      key: param.key,
      field: param.field,
      type: param.type.describe,
      default: dflt,
      doc: param.doc,
      env: envName(param.key),
    });
  });
}
