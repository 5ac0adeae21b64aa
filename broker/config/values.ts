// Value types of the configuration table: each parses a trimmed raw string into its typed value or throws
// Invalid with a description of what is accepted (used in errors and in the reference).
import { isIP } from 'node:net';
import type { HostPort, JaasConfig, Listener, PrincipalMappingRule, ReadReplicaConfig, SecurityProtocol } from './types.ts';

// ---------------------------------------------------------------------------------------------------------
// Limits

/** Kafka's int. */
export const INT_MAX = 2_147_483_647;
/** Kafka's Long.MAX_VALUE; values above Number.MAX_SAFE_INTEGER up to this saturate (see `long`). */
const LONG_MAX = 9_223_372_036_854_775_807n;
const PORT_MAX = 65_535;
export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

// ---------------------------------------------------------------------------------------------------------
// Value parsers. Each takes the trimmed raw string and returns the typed value or throws Invalid.

export class Invalid extends Error {
  readonly expected: string;
  constructor(expected: string) {
    super(expected);
    this.expected = expected;
  }
}

/** Kafka's ConfigDef types, as DescribeConfigs reports them. */
export type KafkaConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';

export interface ValueType<T> {
  /** Human description of accepted values, for errors and the reference. */
  readonly describe: string;
  /** The Kafka type a key of this value type has (DescribeConfigs' configType). */
  readonly kafkaType: KafkaConfigType;
  parse(raw: string): T;
}

export function fmtInt(n: number | bigint): string {
  if (n === Number.MAX_SAFE_INTEGER) return '9223372036854775807';
  return String(n);
}

/** Integers as Java reads them: optional sign, decimal digits. */
function parseInteger(raw: string, min: number, max: number, saturate: boolean, describe: string): number {
  if (!/^[+-]?\d+$/.test(raw)) throw new Invalid(describe);
  const big = BigInt(raw);
  if (saturate && big > BigInt(Number.MAX_SAFE_INTEGER) && big <= LONG_MAX && max === Number.MAX_SAFE_INTEGER) {
    return Number.MAX_SAFE_INTEGER;
  }
  if (big < BigInt(min) || big > BigInt(max)) throw new Invalid(describe);
  return Number(big);
}

/** A Kafka int (32-bit) in [min, max]. */
export function int(min: number, max: number = INT_MAX, extra: readonly number[] = []): ValueType<number> {
  const describe = describeRange(min, max, extra);
  return {
    describe,
    kafkaType: 'int',
    parse(raw) {
      if (/^[+-]?\d+$/.test(raw) && extra.includes(Number(raw))) return Number(raw);
      return parseInteger(raw, min, max, false, describe);
    },
  };
}

/**
 * A Kafka long in [min, max]. With max = Number.MAX_SAFE_INTEGER, any value above it up to Long.MAX_VALUE
 * (9223372036854775807, "no limit" in Kafka) becomes Number.MAX_SAFE_INTEGER.
 */
export function long(min: number, max: number = Number.MAX_SAFE_INTEGER, extra: readonly number[] = []): ValueType<number> {
  const describe = describeRange(min, max, extra);
  return {
    describe,
    kafkaType: 'long',
    parse(raw) {
      if (/^[+-]?\d+$/.test(raw) && extra.includes(Number(raw))) return Number(raw);
      return parseInteger(raw, min, max, true, describe);
    },
  };
}

function describeRange(min: number, max: number, extra: readonly number[]): string {
  const range = `an integer in [${fmtInt(min)}, ${fmtInt(max)}]`;
  return extra.length === 0 ? range : `${extra.join(' or ')} or ${range}`;
}

/** Kafka reads booleans case-insensitively. */
export const bool: ValueType<boolean> = {
  describe: 'true or false',
  kafkaType: 'boolean',
  parse(raw) {
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw new Invalid('true or false');
  },
};

export function oneOf<const T extends string>(...values: T[]): ValueType<T> {
  const describe = `one of ${values.join(', ')}`;
  return {
    describe,
    kafkaType: 'string',
    parse(raw) {
      if ((values as string[]).includes(raw)) return raw as T;
      const caseless = values.find((v) => v.toLowerCase() === raw.toLowerCase());
      throw new Invalid(caseless === undefined ? describe : `${describe} (values are case-sensitive: ${caseless})`);
    },
  };
}

/** A string matching `pattern`. */
export function text(pattern: RegExp, describe: string): ValueType<string> {
  return {
    describe,
    kafkaType: 'string',
    parse(raw) {
      if (!pattern.test(raw)) throw new Invalid(describe);
      return raw;
    },
  };
}

/** A fraction in [0, 1], e.g. 0.05. */
export function fraction(): ValueType<number> {
  const describe = 'a decimal number from 0 to 1 (e.g. 0.05)';
  return {
    describe,
    kafkaType: 'double',
    parse(raw) {
      if (!/^(?:0|1|0?\.\d+|1\.0*)$/.test(raw)) throw new Invalid(describe);
      return Number(raw);
    },
  };
}

export function optional<T>(type: ValueType<T>): ValueType<T | null> {
  return {
    describe: `${type.describe}; empty for none`,
    kafkaType: type.kafkaType,
    parse: (raw) => (raw === '' ? null : type.parse(raw)),
  };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** `host:port` or `[ipv6]:port`. An empty host is allowed only when `emptyHost` is given (it replaces it). */
function parseHostPort(raw: string, opts: { emptyHost?: string; minPort: number }): HostPort | null {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(raw);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
    if (isIP(host) !== 6) return null;
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon < 0) return null;
    host = raw.slice(0, colon);
    portText = raw.slice(colon + 1);
    if (host === '') {
      if (opts.emptyHost === undefined) return null;
      host = opts.emptyHost;
    } else if (isIP(host) !== 4 && !HOSTNAME.test(host)) {
      return null;
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < opts.minPort || port > PORT_MAX) return null;
  return { host, port };
}

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;

function isSecurityProtocol(s: string): s is SecurityProtocol {
  return (SECURITY_PROTOCOLS as readonly string[]).includes(s);
}

/**
 * NAME://host:port entries. The security protocol is the name's in listener.security.protocol.map, applied by
 * resolveConfig; here it is the name itself when that is a protocol, else PLAINTEXT until resolved.
 */
export function listenerList(kind: 'bind' | 'advertise'): ValueType<Listener[]> {
  const describe =
    kind === 'bind'
      ? 'a comma-separated list of NAME://host:port (port 0 = ephemeral; empty host = all interfaces; NAME a security protocol or a name in listener.security.protocol.map)'
      : 'a comma-separated list of NAME://host:port with a routable host and a port in [1, 65535]';
  return {
    describe,
    kafkaType: 'string',
    parse(raw) {
      const parts = raw.split(',').map((s) => s.trim());
      if (parts.length === 0 || parts.some((p) => p === '')) throw new Invalid(describe);
      const out: Listener[] = [];
      for (const part of parts) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*):\/\/(.*)$/.exec(part);
        if (!m) throw new Invalid(`${describe}; "${part}" is not NAME://host:port`);
        const name = m[1]!.toUpperCase();
        const hp = parseHostPort(m[2]!, kind === 'bind' ? { emptyHost: '0.0.0.0', minPort: 0 } : { minPort: 1 });
        if (hp === null) throw new Invalid(`${describe}; "${part}" has no valid host:port`);
        if (kind === 'advertise' && (hp.host === '0.0.0.0' || hp.host === '::')) {
          throw new Invalid(`${describe}; "${part}" advertises the non-routable meta-address ${hp.host}`);
        }
        if (out.some((l) => l.name === name)) throw new Invalid(`${describe}; listener name ${name} appears twice`);
        out.push({ name, securityProtocol: isSecurityProtocol(name) ? name : 'PLAINTEXT', host: hp.host, port: hp.port });
      }
      return out;
    },
  };
}

/** listener.security.protocol.map: NAME:PROTOCOL pairs. */
export const securityProtocolMap: ValueType<Record<string, SecurityProtocol>> = {
  describe: `a comma-separated list of NAME:PROTOCOL, PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`,
  kafkaType: 'string',
  parse(raw) {
    const out: Record<string, SecurityProtocol> = {};
    if (raw === '') return out;
    for (const part of raw.split(',').map((s) => s.trim())) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*):([A-Za-z_]+)$/.exec(part);
      const proto = m?.[2]?.toUpperCase();
      if (!m || proto === undefined || !isSecurityProtocol(proto))
        throw new Invalid(`${securityProtocolMap.describe}; "${part}" is not one`);
      const name = m[1]!.toUpperCase();
      if (out[name] !== undefined) throw new Invalid(`${securityProtocolMap.describe}; ${name} appears twice`);
      out[name] = proto;
    }
    return out;
  },
};

export function formatJaas(j: JaasConfig): string {
  const options = Object.entries(j.options).map(([k, v]) => ` ${k}="${v.replace(/["\\]/g, (c) => `\\${c}`)}"`);
  return `${j.loginModule} required${options.join('')};`;
}

export function formatSecurityProtocolMap(map: Readonly<Record<string, SecurityProtocol>>): string {
  return Object.entries(map)
    .map(([name, proto]) => `${name}:${proto}`)
    .join(',');
}

export const tlsProtocolList: ValueType<string[]> = {
  describe: 'a comma-separated list of TLSv1.2, TLSv1.3',
  kafkaType: 'list',
  parse(raw) {
    const names = raw
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    if (names.length === 0 || names.some((n) => n !== 'TLSv1.2' && n !== 'TLSv1.3')) throw new Invalid(tlsProtocolList.describe);
    return [...new Set(names)];
  },
};

export const cipherSuiteList: ValueType<string[]> = {
  describe: 'a comma-separated list of cipher suite names, or empty',
  kafkaType: 'list',
  parse(raw) {
    const names = raw
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    if (names.some((n) => !/^[A-Za-z0-9_-]+$/.test(n))) throw new Invalid(cipherSuiteList.describe);
    return names;
  },
};

export const principalMappingRules: ValueType<PrincipalMappingRule[]> = {
  describe: 'DEFAULT or RULE:pattern/replacement/[LU] rules, comma-separated',
  kafkaType: 'list',
  parse(raw) {
    const rules: PrincipalMappingRule[] = [];
    const re = /\s*(?:(DEFAULT)|RULE:((?:\\\/|[^/])*)\/((?:\\\/|[^/])*)\/([LU])?)\s*(?:,|$)/y;
    let pos = 0;
    while (pos < raw.length) {
      re.lastIndex = pos;
      const m = re.exec(raw);
      if (!m || re.lastIndex === pos) throw new Invalid(`${principalMappingRules.describe}; cannot read "${raw.slice(pos)}"`);
      if (m[1] !== undefined) rules.push({ default: true });
      else {
        const pattern = m[2]!.replaceAll('\\/', '/');
        try {
          new RegExp(pattern);
        } catch {
          throw new Invalid(`${principalMappingRules.describe}; "${pattern}" is not a regular expression`);
        }
        rules.push({ pattern, replacement: m[3]!.replaceAll('\\/', '/'), caseChange: (m[4] ?? '') as '' | 'L' | 'U' });
      }
      pos = re.lastIndex;
    }
    if (rules.length === 0) throw new Invalid(principalMappingRules.describe);
    return rules;
  },
};

export function formatPrincipalMappingRules(rules: readonly PrincipalMappingRule[]): string {
  return rules
    .map((r) =>
      'default' in r ? 'DEFAULT' : `RULE:${r.pattern.replaceAll('/', '\\/')}/${r.replacement.replaceAll('/', '\\/')}/${r.caseChange}`,
    )
    .join(',');
}

/** The SASL mechanisms Skafos implements. */
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

export const saslMechanismList: ValueType<string[]> = {
  describe: `a comma-separated list of SASL mechanisms among ${SASL_MECHANISMS.join(', ')}`,
  kafkaType: 'list',
  parse(raw) {
    const names = raw
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '');
    for (const n of names) {
      if (!(SASL_MECHANISMS as readonly string[]).includes(n)) {
        throw new Invalid(`${saslMechanismList.describe}; "${n}" is not one${n === 'GSSAPI' ? ' (Kerberos is not supported)' : ''}`);
      }
    }
    return [...new Set(names)];
  },
};

/**
 * sasl.jaas.config as Kafka writes it: `<LoginModule class> required key="value" ...;`. Only the options are kept
 * (PLAIN's user_<name>="password" entries are the credentials a PLAIN listener checks).
 */
export const jaasConfig: ValueType<JaasConfig | null> = {
  describe: 'a JAAS entry: <login module class> required key="value" ...;',
  kafkaType: 'password',
  parse(raw) {
    if (raw === '') return null;
    const m = /^\s*([A-Za-z0-9_.$]+)\s+(required|requisite|sufficient|optional)\s*([\s\S]*?);\s*$/.exec(raw);
    if (!m) throw new Invalid(jaasConfig.describe);
    const options: Record<string, string> = {};
    const re = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))/y;
    const body = m[3]!;
    let pos = 0;
    while (pos < body.length) {
      if (/^\s*$/.test(body.slice(pos))) break;
      re.lastIndex = pos;
      const o = re.exec(body);
      // Never echo the text: it holds passwords.
      if (!o) throw new Invalid(`${jaasConfig.describe} (an option is not key="value")`);
      options[o[1]!] = o[2] !== undefined ? o[2].replace(/\\(.)/g, '$1') : o[3]!;
      pos = re.lastIndex;
    }
    return { loginModule: m[1]!, options };
  },
};

export const httpListener: ValueType<HostPort | null> = {
  describe: 'host:port (port 0 = ephemeral), or empty to disable',
  kafkaType: 'string',
  parse(raw) {
    if (raw === '') return null;
    const hp = parseHostPort(raw, { minPort: 0 });
    if (hp === null) throw new Invalid(httpListener.describe);
    return hp;
  },
};

function httpUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return null;
  return url.origin;
}

/** Paths of the etcd credential files (no spaces or shell-special characters, so that a typo is caught). */
export const FILE_PATH = /^[A-Za-z0-9/._~+@:,=-]+$/;
export const FILE_PATH_DESCRIBE = 'a file path: letters, digits and / . _ ~ + @ : , = -';

/** KIP-848 server-side assignor names (Kafka's class names are accepted for the two Skafos has). */
export const consumerAssignors: ValueType<string[]> = {
  describe: "a comma-separated list of uniform, range (or Kafka's UniformAssignor / RangeAssignor class names); the first is the default",
  kafkaType: 'list',
  parse(raw) {
    const names = raw
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '')
      .map((n) => {
        const short = n.replace(/^org\.apache\.kafka\.coordinator\.group\.assignor\./, '');
        const name = short === 'UniformAssignor' ? 'uniform' : short === 'RangeAssignor' ? 'range' : short;
        if (name !== 'uniform' && name !== 'range') throw new Invalid(`${consumerAssignors.describe}; "${n}" is not one`);
        return name;
      });
    if (names.length === 0) throw new Invalid(consumerAssignors.describe);
    return [...new Set(names)];
  },
};

export const etcdEndpoints: ValueType<string[]> = {
  describe: 'a comma-separated list of http:// or https:// URLs (scheme://host:port, no path), or empty',
  kafkaType: 'list',
  parse(raw) {
    if (raw === '') return [];
    return raw.split(',').map((part) => {
      const origin = httpUrl(part.trim());
      if (origin === null) throw new Invalid(`${etcdEndpoints.describe}; "${part.trim()}" is not one`);
      return origin;
    });
  },
};

export const endpointUrl: ValueType<string | null> = {
  describe: 'an http:// or https:// URL without path (scheme://host[:port]), or empty for AWS',
  kafkaType: 'string',
  parse(raw) {
    if (raw === '') return null;
    const origin = httpUrl(raw);
    if (origin === null) throw new Invalid(endpointUrl.describe);
    return origin;
  },
};

export const readReplicaList: ValueType<ReadReplicaConfig[]> = {
  describe: 'a comma-separated list of NAME=BUCKET@REGION or NAME=BUCKET@REGION@ENDPOINT, in order of preference, or empty',
  kafkaType: 'list',
  parse(raw) {
    if (raw === '') return [];
    const names = new Set<string>();
    return raw.split(',').map((part) => {
      const m = /^([A-Za-z0-9_-]{1,64})=([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])@([a-z0-9-]{1,64})(?:@(.+))?$/.exec(part.trim());
      if (!m) throw new Invalid(`${readReplicaList.describe}; "${part.trim()}" is not one`);
      const endpoint = m[4] === undefined ? null : httpUrl(m[4]);
      if (m[4] !== undefined && endpoint === null)
        throw new Invalid(`${readReplicaList.describe}; "${m[4]}" is not an http(s) URL without path`);
      if (names.has(m[1]!)) throw new Invalid(`${readReplicaList.describe}; the name "${m[1]}" is used twice`);
      names.add(m[1]!);
      return { name: m[1]!, bucket: m[2]!, region: m[3]!, endpoint };
    });
  },
};

/** log.dirs is a list in Kafka; Skafos has one data directory. */
export const dataDir: ValueType<string> = {
  describe: 'a directory path',
  kafkaType: 'string',
  parse(raw) {
    if (raw === '') throw new Invalid(dataDir.describe);
    if (raw.includes(',')) throw new Invalid(`${dataDir.describe}; Skafos uses a single data directory`);
    return raw;
  },
};

export function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function formatListeners(listeners: readonly Listener[]): string {
  return listeners.map((l) => `${l.name}://${formatHost(l.host)}:${l.port}`).join(',');
}
