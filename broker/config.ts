// The broker's one configuration module. Every setting, every limit and every default is declared once in
// the PARAMS table below; loadConfig() reads the layers, validates everything up front and returns a frozen
// BrokerConfig, or throws a ConfigError naming the key, the value, where it came from and what is expected.
//
// Layers, lowest to highest precedence:
//   1. defaults           (the table below; Apache Kafka's where Kafka has the key)
//   2. environment        SKAFOS_<KEY>: the key upper-cased with '.' → '_'; for `skafos.`-prefixed keys the
//                         prefix is dropped (skafos.s3.bucket → SKAFOS_S3_BUCKET; the literal form
//                         SKAFOS_SKAFOS_S3_BUCKET is accepted too). Unrelated SKAFOS_* variables are ignored.
//   3. config file        --config FILE, Java-properties format as Kafka's server.properties.
//   4. --set key=value    repeated; the last one for a key wins.
//
// Units are part of every name: *.ms, *.bytes, *.minutes, *.hours. Every value supplied in any layer is
// validated, even when a higher layer overrides it, and unknown keys are errors (with a suggestion).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve as resolvePath } from 'node:path';

// ---------------------------------------------------------------------------------------------------------
// Types

export interface Listener {
  /** Listener name as written (upper-cased); only PLAINTEXT exists for now. */
  readonly name: string;
  readonly securityProtocol: 'PLAINTEXT';
  /** Host to bind (listeners) or to advertise (advertised.listeners). IPv6 without brackets. */
  readonly host: string;
  /** 0 (listeners only) binds an ephemeral port. */
  readonly port: number;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';
export type CompressionType = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface BrokerConfig {
  // Kafka settings (Kafka's names, camelCased).
  readonly listeners: readonly Listener[];
  readonly advertisedListeners: readonly Listener[];
  /** -1: assigned by the cluster at first start and kept in log.dirs (cluster mode only). */
  readonly nodeId: number;
  /** broker.rack: spreads partition ownership across racks; null when unset. */
  readonly brokerRack: string | null;
  /** broker.session.timeout.ms: the membership lease; a broker silent this long loses its partitions. */
  readonly brokerSessionTimeoutMs: number;
  readonly clusterMode: 'auto' | 'single' | 'cluster';
  /** log.dirs: the data directory, absolute. */
  readonly dataDir: string;
  readonly numPartitions: number;
  readonly defaultReplicationFactor: number;
  readonly autoCreateTopicsEnable: boolean;
  readonly deleteTopicEnable: boolean;
  /** Effective retention time from log.retention.{ms,minutes,hours}; -1 = keep forever. */
  readonly logRetentionMs: number;
  /** -1 = no size limit. */
  readonly logRetentionBytes: number;
  readonly logRetentionCheckIntervalMs: number;
  readonly logSegmentBytes: number;
  readonly messageMaxBytes: number;
  readonly socketRequestMaxBytes: number;
  readonly logMessageTimestampType: TimestampType;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE (no limit). */
  readonly logMessageTimestampBeforeMaxMs: number;
  readonly logMessageTimestampAfterMaxMs: number;
  readonly compressionType: CompressionType;
  readonly groupInitialRebalanceDelayMs: number;
  readonly offsetsRetentionMinutes: number;
  readonly offsetsRetentionCheckIntervalMs: number;
  readonly offsetMetadataMaxBytes: number;
  readonly groupMinSessionTimeoutMs: number;
  readonly groupMaxSessionTimeoutMs: number;
  readonly groupMaxSize: number;
  readonly groupMaxGroups: number;
  readonly groupMaxRecordBytes: number;
  readonly groupConsumerHeartbeatIntervalMs: number;
  readonly groupConsumerSessionTimeoutMs: number;
  /** Bounds of a group's consumer.session.timeout.ms and consumer.heartbeat.interval.ms (GROUP configs). */
  readonly groupConsumerMinSessionTimeoutMs: number;
  readonly groupConsumerMaxSessionTimeoutMs: number;
  readonly groupConsumerMinHeartbeatIntervalMs: number;
  readonly groupConsumerMaxHeartbeatIntervalMs: number;
  readonly groupConsumerMaxSize: number;
  readonly groupConsumerAssignors: string[];
  readonly groupConsumerMaxSubscribedTopics: number;
  readonly connectionsMaxIdleMs: number;
  readonly queuedMaxRequests: number;
  readonly producerIdExpirationMs: number;
  /** Idempotent producers remembered per partition (skafos.producer.state.max.producers). */
  readonly producerStateMaxProducers: number;
  /** Transactions (spec/transactions.md). */
  readonly transactionMaxTimeoutMs: number;
  readonly transactionalIdExpirationMs: number;
  readonly transactionAbortTimedOutTransactionCleanupIntervalMs: number;
  readonly transactionRemoveExpiredTransactionCleanupIntervalMs: number;
  readonly transactionPartitionVerificationEnable: boolean;
  /** Partitions per transaction at most (skafos.transaction.max.partitions). */
  readonly transactionMaxPartitions: number;
  // Skafos settings (skafos.* keys, prefix dropped, camelCased).
  /** null: the broker generates one on first start and persists it. */
  readonly clusterId: string | null;
  readonly flushSizeBytes: number;
  readonly flushLingerMs: number;
  /** Object-store health thresholds (broker/storage/health.ts). */
  readonly storageHealthWindowMs: number;
  readonly storageHealthMinCalls: number;
  readonly storageHealthDegradedErrorRate: number;
  /** null: the store's default (broker/storage/health.ts: 2000 for S3, 1000 for the local store). */
  readonly storageHealthDegradedP99Ms: number | null;
  readonly storageHealthUnavailableErrorRate: number;
  readonly storageHealthUnavailableConsecutiveFailures: number;
  readonly storageHealthUnavailableStallMs: number;
  readonly storageHealthRecoveryHoldMs: number;
  readonly flushMaxPendingBytes: number;
  readonly cacheSegmentBytes: number;
  readonly cacheIndexBytes: number;
  readonly readaheadBytes: number;
  readonly prefetchMaxInflightBytes: number;
  readonly connectionMaxInflightBytes: number;
  readonly connectionMaxInflightRequests: number;
  readonly fetchMaxWaitCapMs: number;
  readonly metadataStore: 'embedded' | 'etcd';
  /** Normalised URL origins, e.g. http://10.0.0.1:2379. Empty unless metadataStore is etcd. */
  readonly etcdEndpoints: readonly string[];
  readonly etcdPrefix: string;
  readonly etcdDialTimeoutMs: number;
  readonly etcdRequestTimeoutMs: number;
  /** null: no etcd authentication. */
  readonly etcdUsername: string | null;
  /** File holding the password (its first line). */
  readonly etcdPasswordFile: string | null;
  /** PEM files for https:// endpoints; null: system roots / no client certificate. */
  readonly etcdTlsCaFile: string | null;
  readonly etcdTlsCertFile: string | null;
  readonly etcdTlsKeyFile: string | null;
  readonly objectStore: 'local' | 's3';
  readonly s3Bucket: string | null;
  readonly s3Region: string;
  /** null: AWS's endpoint for s3Region. */
  readonly s3Endpoint: string | null;
  readonly s3PathStyle: boolean;
  /** Both null: credentials from the standard AWS chain (environment, profile, web identity, container, instance). */
  readonly s3AccessKeyId: string | null;
  readonly s3SecretAccessKey: string | null;
  /** null: no SSE-KMS header (the bucket's default encryption applies). */
  readonly s3SseKmsKeyId: string | null;
  /** Buckets replicated from skafos.s3.bucket (e.g. by S3 replication) that GETs try first, in order. */
  readonly s3ReadReplicas: readonly ReadReplicaConfig[];
  readonly s3MaxConcurrentRequests: number;
  readonly s3MultipartThresholdBytes: number;
  readonly s3MultipartPartBytes: number;
  readonly s3ConnectTimeoutMs: number;
  readonly s3RequestTimeoutMs: number;
  readonly s3RetryMaxAttempts: number;
  readonly s3RetryBackoffBaseMs: number;
  readonly s3RetryBackoffMaxMs: number;
  readonly s3RetryBudgetTokens: number;
  /** null: the metrics/health HTTP endpoint is disabled. */
  readonly httpListener: HostPort | null;
  readonly logLevel: LogLevel;
  readonly retentionCheckpointIntervalMs: number;
  readonly partitionCheckpointIntervalMs: number;
  readonly compactionEnable: boolean;
  readonly compactionIntervalMs: number;
  readonly compactionMinAgeMs: number;
  readonly compactionMaxAgeMs: number;
  readonly segmentTargetBytes: number;
}

/** What loadConfig() reads. Nothing is read implicitly: pass `env: process.env` to honour the environment. */
export interface LoadConfigOptions {
  /** Path of a Java-properties file. */
  file?: string;
  /** `key=value` strings (as given to --set) or a key → value map. Later entries win. */
  sets?: readonly string[] | Readonly<Record<string, string>>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths (log.dirs, the config file) resolve against; default process.cwd(). */
  cwd?: string;
}

export class ConfigError extends Error {
  /** The key to fix, or null when the problem is not one key (an unreadable file, a malformed line). */
  readonly key: string | null;
  /** The offending value as supplied, or null. */
  readonly value: string | null;
  /** What would have been accepted, or null. */
  readonly expected: string | null;
  /** For an unknown key: the known key it probably meant, or null. */
  readonly suggestion: string | null;
  /** Where the value came from: `--set`, `config file /x.properties:12`, `environment SKAFOS_X`, `default`. */
  readonly source: string | null;

  constructor(
    message: string,
    details: {
      key?: string | null;
      value?: string | null;
      expected?: string | null;
      suggestion?: string | null;
      source?: string | null;
    } = {},
  ) {
    super(message);
    this.name = 'ConfigError';
    this.key = details.key ?? null;
    this.value = details.value ?? null;
    this.expected = details.expected ?? null;
    this.suggestion = details.suggestion ?? null;
    this.source = details.source ?? null;
  }
}

/** One row of the configuration reference. */
export interface ConfigDescription {
  readonly key: string;
  /** The BrokerConfig field it sets, or null for inputs folded into another field (log.retention.hours). */
  readonly field: keyof BrokerConfig | null;
  /** Accepted values, e.g. `int [1, 2147483647]`. */
  readonly type: string;
  /** The default as one would write it in the file; '' for none. */
  readonly default: string;
  readonly doc: string;
  /** Environment variable that sets it. */
  readonly env: string;
}

// ---------------------------------------------------------------------------------------------------------
// Limits

/** Kafka's int. */
const INT_MAX = 2_147_483_647;
/** Kafka's Long.MAX_VALUE; values above Number.MAX_SAFE_INTEGER up to this saturate (see `long`). */
const LONG_MAX = 9_223_372_036_854_775_807n;
/** setTimeout/setInterval treat larger delays as 1 ms, so every period or delay used as a timer is capped. */
export const TIMER_MAX_MS = 2_147_483_647;
const PORT_MAX = 65_535;
const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

// ---------------------------------------------------------------------------------------------------------
// Value parsers. Each takes the trimmed raw string and returns the typed value or throws Invalid.

class Invalid extends Error {
  readonly expected: string;
  constructor(expected: string) {
    super(expected);
    this.expected = expected;
  }
}

interface ValueType<T> {
  /** Human description of accepted values, for errors and the reference. */
  readonly describe: string;
  parse(raw: string): T;
}

function fmtInt(n: number | bigint): string {
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
function int(min: number, max: number = INT_MAX, extra: readonly number[] = []): ValueType<number> {
  const describe = describeRange(min, max, extra);
  return {
    describe,
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
function long(min: number, max: number = Number.MAX_SAFE_INTEGER, extra: readonly number[] = []): ValueType<number> {
  const describe = describeRange(min, max, extra);
  return {
    describe,
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
const bool: ValueType<boolean> = {
  describe: 'true or false',
  parse(raw) {
    const lower = raw.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    throw new Invalid('true or false');
  },
};

function oneOf<const T extends string>(...values: T[]): ValueType<T> {
  const describe = `one of ${values.join(', ')}`;
  return {
    describe,
    parse(raw) {
      if ((values as string[]).includes(raw)) return raw as T;
      const caseless = values.find((v) => v.toLowerCase() === raw.toLowerCase());
      throw new Invalid(caseless === undefined ? describe : `${describe} (values are case-sensitive: ${caseless})`);
    },
  };
}

/** A string matching `pattern`. */
function text(pattern: RegExp, describe: string): ValueType<string> {
  return {
    describe,
    parse(raw) {
      if (!pattern.test(raw)) throw new Invalid(describe);
      return raw;
    },
  };
}

/** A fraction in [0, 1], e.g. 0.05. */
function fraction(): ValueType<number> {
  const describe = 'a decimal number from 0 to 1 (e.g. 0.05)';
  return {
    describe,
    parse(raw) {
      if (!/^(?:0|1|0?\.\d+|1\.0*)$/.test(raw)) throw new Invalid(describe);
      return Number(raw);
    },
  };
}

function optional<T>(type: ValueType<T>): ValueType<T | null> {
  return {
    describe: `${type.describe}; empty for none`,
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

const KNOWN_SECURITY_PROTOCOLS = ['SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

function listenerList(kind: 'bind' | 'advertise'): ValueType<Listener[]> {
  const describe =
    kind === 'bind'
      ? 'a comma-separated list of PLAINTEXT://host:port (port 0 = ephemeral; empty host = all interfaces)'
      : 'a comma-separated list of PLAINTEXT://host:port with a routable host and a port in [1, 65535]';
  return {
    describe,
    parse(raw) {
      const parts = raw.split(',').map((s) => s.trim());
      if (parts.length === 0 || parts.some((p) => p === '')) throw new Invalid(describe);
      const out: Listener[] = [];
      for (const part of parts) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*):\/\/(.*)$/.exec(part);
        if (!m) throw new Invalid(`${describe}; "${part}" is not NAME://host:port`);
        const name = m[1]!.toUpperCase();
        if (KNOWN_SECURITY_PROTOCOLS.includes(name)) {
          throw new Invalid(`${describe}; security protocol ${name} is not supported yet (only PLAINTEXT)`);
        }
        if (name !== 'PLAINTEXT') {
          throw new Invalid(
            `${describe}; listener name ${name} is not supported (only PLAINTEXT; listener.security.protocol.map is not supported)`,
          );
        }
        const hp = parseHostPort(m[2]!, kind === 'bind' ? { emptyHost: '0.0.0.0', minPort: 0 } : { minPort: 1 });
        if (hp === null) throw new Invalid(`${describe}; "${part}" has no valid host:port`);
        if (kind === 'advertise' && (hp.host === '0.0.0.0' || hp.host === '::')) {
          throw new Invalid(`${describe}; "${part}" advertises the non-routable meta-address ${hp.host}`);
        }
        if (out.some((l) => l.name === name)) throw new Invalid(`${describe}; listener name ${name} appears twice`);
        out.push({ name, securityProtocol: 'PLAINTEXT', host: hp.host, port: hp.port });
      }
      return out;
    },
  };
}

const httpListener: ValueType<HostPort | null> = {
  describe: 'host:port (port 0 = ephemeral), or empty to disable',
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
const FILE_PATH = /^[A-Za-z0-9/._~+@:,=-]+$/;
const FILE_PATH_DESCRIBE = 'a file path: letters, digits and / . _ ~ + @ : , = -';

/** KIP-848 server-side assignor names (Kafka's class names are accepted for the two Skafos has). */
const consumerAssignors: ValueType<string[]> = {
  describe: "a comma-separated list of uniform, range (or Kafka's UniformAssignor / RangeAssignor class names); the first is the default",
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

const etcdEndpoints: ValueType<string[]> = {
  describe: 'a comma-separated list of http:// or https:// URLs (scheme://host:port, no path), or empty',
  parse(raw) {
    if (raw === '') return [];
    return raw.split(',').map((part) => {
      const origin = httpUrl(part.trim());
      if (origin === null) throw new Invalid(`${etcdEndpoints.describe}; "${part.trim()}" is not one`);
      return origin;
    });
  },
};

const endpointUrl: ValueType<string | null> = {
  describe: 'an http:// or https:// URL without path (scheme://host[:port]), or empty for AWS',
  parse(raw) {
    if (raw === '') return null;
    const origin = httpUrl(raw);
    if (origin === null) throw new Invalid(endpointUrl.describe);
    return origin;
  },
};

export interface ReadReplicaConfig {
  readonly name: string;
  readonly bucket: string;
  readonly region: string;
  /** null: AWS's endpoint for the region. */
  readonly endpoint: string | null;
}

const readReplicaList: ValueType<ReadReplicaConfig[]> = {
  describe: 'a comma-separated list of NAME=BUCKET@REGION or NAME=BUCKET@REGION@ENDPOINT, in order of preference, or empty',
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
const dataDir: ValueType<string> = {
  describe: 'a directory path',
  parse(raw) {
    if (raw === '') throw new Invalid(dataDir.describe);
    if (raw.includes(',')) throw new Invalid(`${dataDir.describe}; Skafos uses a single data directory`);
    return raw;
  },
};

// ---------------------------------------------------------------------------------------------------------
// The table: every key the broker reads.

interface Param {
  readonly key: string;
  /** null: folded into another field by build(). */
  readonly field: keyof BrokerConfig | null;
  readonly type: ValueType<unknown>;
  /** Raw default as written in a file; null = unset (parse is not called; the field is null/derived). */
  readonly default: string | null;
  readonly doc: string;
}

function p(key: string, field: keyof BrokerConfig | null, type: ValueType<unknown>, dflt: string | null, doc: string): Param {
  return { key, field, type, default: dflt, doc };
}

const PARAMS: readonly Param[] = [
  // Kafka keys
  p(
    'listeners',
    'listeners',
    listenerList('bind'),
    'PLAINTEXT://127.0.0.1:9092',
    'Addresses the Kafka protocol listens on. Only the PLAINTEXT security protocol exists for now; `PLAINTEXT://:9092` binds all IPv4 interfaces, `[::]` all IPv6 ones.',
  ),
  p(
    'advertised.listeners',
    'advertisedListeners',
    listenerList('advertise'),
    null,
    'Addresses given to clients in Metadata responses. Default: `listeners` (which then must not bind 0.0.0.0 or [::]; with port 0 the bound port is advertised).',
  ),
  p(
    'node.id',
    'nodeId',
    int(0, INT_MAX, [-1]),
    '1',
    "This broker's id, unique in the cluster. In cluster mode, -1 has the cluster assign one (from 1001 up) at first start, kept in log.dirs for later starts. A broker started with the id of a live one takes the id over and the other one stops.",
  ),
  p(
    'broker.rack',
    'brokerRack',
    optional(text(/^[A-Za-z0-9._:-]{1,128}$/, 'a rack name: letters, digits and . _ : -')),
    null,
    'Rack (or availability zone) of this broker: partition ownership is spread across racks.',
  ),
  p(
    'broker.session.timeout.ms',
    'brokerSessionTimeoutMs',
    int(1000, TIMER_MAX_MS),
    '9000',
    'Cluster mode: the membership lease. A broker that has not renewed it for this long (killed, paused, cut off from etcd) is out of the cluster and its partitions move to others; it can no longer commit anything.',
  ),
  p(
    'skafos.cluster.mode',
    'clusterMode',
    oneOf('auto', 'single', 'cluster'),
    'auto',
    '`cluster`: brokers sharing one etcd divide partitions and coordinators between them (membership under a lease, ownership with fencing; spec/cluster.md). `single`: this broker leads every partition (one broker per metadata store). `auto`: cluster with skafos.metadata.store=etcd, single otherwise.',
  ),
  p(
    'log.dirs',
    'dataDir',
    dataDir,
    './data',
    "The data directory: the local object store and the embedded metadata store keep their files here. One directory (Kafka's comma list is refused); a relative path resolves against the working directory at start.",
  ),
  p('num.partitions', 'numPartitions', int(1), '1', 'Partitions of auto-created topics, and of CreateTopics requests that give none.'),
  p(
    'default.replication.factor',
    'defaultReplicationFactor',
    int(1, 32767),
    '1',
    'Replication factor recorded for topics created without one. Values above 1 are accepted for client compatibility: durability comes from the object store, which replicates every segment, so the broker keeps no extra copies.',
  ),
  p(
    'auto.create.topics.enable',
    'autoCreateTopicsEnable',
    bool,
    'true',
    'Create a topic when a client asks for metadata of, or produces to, a missing one.',
  ),
  p('delete.topic.enable', 'deleteTopicEnable', bool, 'true', 'Allow DeleteTopics; when false it fails with TOPIC_DELETION_DISABLED.'),
  p(
    'log.retention.ms',
    null,
    long(0, Number.MAX_SAFE_INTEGER, [-1]),
    null,
    'Time to keep a segment after its newest record; -1 keeps data forever. Precedence as in Kafka: log.retention.ms, then log.retention.minutes, then log.retention.hours. Across layers, the highest layer that sets any of the three decides.',
  ),
  p(
    'log.retention.minutes',
    null,
    int(0, INT_MAX, [-1]),
    null,
    'Retention in minutes, used when log.retention.ms is not set in the same layer; -1 = forever.',
  ),
  p(
    'log.retention.hours',
    null,
    int(0, INT_MAX, [-1]),
    '168',
    'Retention in hours, used when neither log.retention.ms nor log.retention.minutes is set; -1 = forever.',
  ),
  p(
    'log.retention.bytes',
    'logRetentionBytes',
    long(0, Number.MAX_SAFE_INTEGER, [-1]),
    '-1',
    'Maximum bytes kept per partition before the oldest segments are deleted; -1 = no size limit.',
  ),
  p(
    'log.retention.check.interval.ms',
    'logRetentionCheckIntervalMs',
    long(1, TIMER_MAX_MS),
    '300000',
    'How often segments are checked for deletion under the retention policy.',
  ),
  p('log.segment.bytes', 'logSegmentBytes', int(14), String(GIB), "Size at which a partition's log rolls to a new segment."),
  p(
    'message.max.bytes',
    'messageMaxBytes',
    int(0),
    '1048588',
    'Largest record batch the broker accepts (after compression). Must not exceed socket.request.max.bytes or skafos.flush.max.pending.bytes.',
  ),
  p(
    'socket.request.max.bytes',
    'socketRequestMaxBytes',
    int(1),
    String(100 * MIB),
    'Largest request the broker reads; a bigger one closes the connection.',
  ),
  p(
    'producer.id.expiration.ms',
    'producerIdExpirationMs',
    long(1, Number.MAX_SAFE_INTEGER),
    '86400000',
    "A partition forgets an idempotent producer whose last batch is older than this (by the batch's max timestamp); its next batch is then accepted with any sequence.",
  ),
  p(
    'transaction.partition.verification.enable',
    'transactionPartitionVerificationEnable',
    bool,
    'true',
    "KIP-890: before the first transactional batch of a transaction is appended to a partition, ask the transaction coordinator whether the partition is in the producer's ongoing transaction; refused batches cannot leave a hanging transaction.",
  ),
  p(
    'transaction.max.timeout.ms',
    'transactionMaxTimeoutMs',
    int(1, TIMER_MAX_MS),
    '900000',
    'Largest transaction.timeout.ms a transactional producer may ask for; InitProducerId with a longer one gets INVALID_TRANSACTION_TIMEOUT.',
  ),
  p(
    'transactional.id.expiration.ms',
    'transactionalIdExpirationMs',
    long(1, Number.MAX_SAFE_INTEGER),
    '604800000',
    'A transactional id with no transaction in progress and no update for this long is forgotten by its coordinator.',
  ),
  p(
    'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    'transactionAbortTimedOutTransactionCleanupIntervalMs',
    int(1, TIMER_MAX_MS),
    '10000',
    'How often the transaction coordinator aborts transactions open longer than their timeout (fencing their producer).',
  ),
  p(
    'transaction.remove.expired.transaction.cleanup.interval.ms',
    'transactionRemoveExpiredTransactionCleanupIntervalMs',
    int(1, TIMER_MAX_MS),
    '3600000',
    'How often the transaction coordinator removes expired transactional ids (transactional.id.expiration.ms).',
  ),
  p(
    'log.message.timestamp.type',
    'logMessageTimestampType',
    oneOf('CreateTime', 'LogAppendTime'),
    'CreateTime',
    "CreateTime keeps the producer's timestamps; LogAppendTime replaces them with the broker's clock.",
  ),
  p(
    'log.message.timestamp.before.max.ms',
    'logMessageTimestampBeforeMaxMs',
    long(0),
    '9223372036854775807',
    "With CreateTime: reject a batch whose timestamp is further than this behind the broker's clock. Values above 2^53-1 (Kafka's Long.MAX_VALUE default) mean no limit.",
  ),
  p(
    'log.message.timestamp.after.max.ms',
    'logMessageTimestampAfterMaxMs',
    long(0),
    '3600000',
    "With CreateTime: reject a batch whose timestamp is further than this ahead of the broker's clock.",
  ),
  p(
    'compression.type',
    'compressionType',
    oneOf('producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'),
    'producer',
    'Compression of stored batches; `producer` keeps what the producer sent.',
  ),
  p(
    'group.initial.rebalance.delay.ms',
    'groupInitialRebalanceDelayMs',
    int(0, TIMER_MAX_MS),
    '3000',
    'How long the coordinator waits for more members to join an empty consumer group before the first rebalance.',
  ),
  p(
    'offsets.retention.minutes',
    'offsetsRetentionMinutes',
    int(1),
    '10080',
    'Committed offsets of a group with no members are deleted after this long.',
  ),
  p(
    'offsets.retention.check.interval.ms',
    'offsetsRetentionCheckIntervalMs',
    long(1, TIMER_MAX_MS),
    '600000',
    'How often the group coordinator looks for expired committed offsets.',
  ),
  p(
    'offset.metadata.max.bytes',
    'offsetMetadataMaxBytes',
    int(0),
    '4096',
    'Largest metadata string an OffsetCommit may attach to an offset; longer ones fail with OFFSET_METADATA_TOO_LARGE.',
  ),
  p(
    'group.min.session.timeout.ms',
    'groupMinSessionTimeoutMs',
    int(0, TIMER_MAX_MS),
    '6000',
    'Smallest session timeout a consumer group member may ask for (JoinGroup answers INVALID_SESSION_TIMEOUT below it).',
  ),
  p(
    'group.max.session.timeout.ms',
    'groupMaxSessionTimeoutMs',
    int(0, TIMER_MAX_MS),
    '1800000',
    'Largest session timeout a consumer group member may ask for (JoinGroup answers INVALID_SESSION_TIMEOUT above it).',
  ),
  p(
    'group.max.size',
    'groupMaxSize',
    int(1),
    '1000',
    'Most members a classic consumer group may have; further members get GROUP_MAX_SIZE_REACHED. Kafka has no limit by default; Skafos bounds the memory a group holds.',
  ),
  p(
    'skafos.group.max.groups',
    'groupMaxGroups',
    int(1),
    '100000',
    'Most consumer groups one broker serves; new groups beyond it get COORDINATOR_NOT_AVAILABLE until expired or deleted groups make room.',
  ),
  p(
    'skafos.group.max.record.bytes',
    'groupMaxRecordBytes',
    int(1024, 1000 * 1024),
    String(768 * 1024),
    'Largest stored group state (members, subscriptions, assignments); a SyncGroup whose assignment would exceed it fails with UNKNOWN_SERVER_ERROR, as Kafka fails an oversized group record.',
  ),
  p(
    'group.consumer.heartbeat.interval.ms',
    'groupConsumerHeartbeatIntervalMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'Heartbeat interval the coordinator gives members of `consumer` (KIP-848) groups.',
  ),
  p(
    'group.consumer.session.timeout.ms',
    'groupConsumerSessionTimeoutMs',
    int(1, TIMER_MAX_MS),
    '45000',
    'A member of a `consumer` (KIP-848) group that sends no ConsumerGroupHeartbeat for this long is removed from the group.',
  ),
  p(
    'group.consumer.min.session.timeout.ms',
    'groupConsumerMinSessionTimeoutMs',
    int(1, TIMER_MAX_MS),
    '45000',
    'Smallest consumer.session.timeout.ms a `consumer` (KIP-848) group may be configured with (IncrementalAlterConfigs on a GROUP resource).',
  ),
  p(
    'group.consumer.max.session.timeout.ms',
    'groupConsumerMaxSessionTimeoutMs',
    int(1, TIMER_MAX_MS),
    '60000',
    'Largest consumer.session.timeout.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.min.heartbeat.interval.ms',
    'groupConsumerMinHeartbeatIntervalMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'Smallest consumer.heartbeat.interval.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.max.heartbeat.interval.ms',
    'groupConsumerMaxHeartbeatIntervalMs',
    int(1, TIMER_MAX_MS),
    '15000',
    'Largest consumer.heartbeat.interval.ms a `consumer` (KIP-848) group may be configured with.',
  ),
  p(
    'group.consumer.max.size',
    'groupConsumerMaxSize',
    int(1),
    '1000',
    'Most members a `consumer` (KIP-848) group may have; further members get GROUP_MAX_SIZE_REACHED. Kafka has no limit by default; Skafos bounds the memory and the stored state of a group.',
  ),
  p(
    'group.consumer.assignors',
    'groupConsumerAssignors',
    consumerAssignors,
    'uniform,range',
    'Server-side assignors of `consumer` (KIP-848) groups; a member may name one with group.remote.assignor, others get UNSUPPORTED_ASSIGNOR. The first is the default.',
  ),
  p(
    'skafos.group.consumer.max.subscribed.topics',
    'groupConsumerMaxSubscribedTopics',
    int(1),
    '10000',
    'Most topic names (plus a regex) one member of a `consumer` (KIP-848) group may subscribe to; a larger subscription gets INVALID_REQUEST.',
  ),
  p(
    'connections.max.idle.ms',
    'connectionsMaxIdleMs',
    long(1, TIMER_MAX_MS),
    '600000',
    'Close client connections idle for longer than this.',
  ),
  p(
    'queued.max.requests',
    'queuedMaxRequests',
    int(1),
    '500',
    'Requests read but not yet answered, across all connections, before the broker stops reading from sockets.',
  ),
  // Skafos keys
  p(
    'skafos.cluster.id',
    'clusterId',
    optional(text(/^[A-Za-z0-9_-]{1,64}$/, '1 to 64 characters of A-Z a-z 0-9 _ -')),
    null,
    'Cluster id reported to clients. Default: generated on the first start and persisted in the metadata store; set it only to pin a known id.',
  ),
  p(
    'skafos.flush.size.bytes',
    'flushSizeBytes',
    int(1, GIB),
    String(8 * MIB),
    "A partition's buffered produce data is written to the object store once it reaches this size.",
  ),
  p(
    'skafos.storage.health.window.ms',
    'storageHealthWindowMs',
    int(1000, TIMER_MAX_MS),
    '30000',
    'Sliding window over which object-store call latency and errors are judged.',
  ),
  p(
    'skafos.storage.health.min.calls',
    'storageHealthMinCalls',
    int(1),
    '20',
    'Below this many calls in the window, error rates are not judged (latency, consecutive failures and stalls still are).',
  ),
  p(
    'skafos.storage.health.degraded.error.rate',
    'storageHealthDegradedErrorRate',
    fraction(),
    '0.05',
    'Share of failed or throttled object-store calls at which the store is degraded: producers get throttle_time_ms.',
  ),
  p(
    'skafos.storage.health.degraded.p99.ms',
    'storageHealthDegradedP99Ms',
    optional(int(1, TIMER_MAX_MS)),
    null,
    "p99 object-store call latency at which the store is degraded; empty for the store's default: 2000 with skafos.object.store=s3, 1000 with local (a disk answers in milliseconds). Event-loop stalls are not counted as store latency.",
  ),
  p(
    'skafos.storage.health.unavailable.error.rate',
    'storageHealthUnavailableErrorRate',
    fraction(),
    '0.5',
    'Share of failed calls at which the store is unavailable: Produce fails fast with NOT_ENOUGH_REPLICAS, /readyz answers 503.',
  ),
  p(
    'skafos.storage.health.unavailable.consecutive.failures',
    'storageHealthUnavailableConsecutiveFailures',
    int(1),
    '10',
    'Consecutive failed object-store calls after which the store is unavailable.',
  ),
  p(
    'skafos.storage.health.unavailable.stall.ms',
    'storageHealthUnavailableStallMs',
    int(1, TIMER_MAX_MS),
    '15000',
    'An object-store call in flight this long makes the store unavailable (a stalled connection).',
  ),
  p(
    'skafos.storage.health.recovery.hold.ms',
    'storageHealthRecoveryHoldMs',
    int(0, TIMER_MAX_MS),
    '5000',
    'A worse health state is left only after this long without signals of it.',
  ),
  p(
    'skafos.flush.linger.ms',
    'flushLingerMs',
    int(0, TIMER_MAX_MS),
    '250',
    'Buffered produce data is written at the latest this long after its first batch arrived, even below skafos.flush.size.bytes.',
  ),
  p(
    'skafos.flush.max.pending.bytes',
    'flushMaxPendingBytes',
    long(1),
    String(64 * MIB),
    'Produce data buffered or being written, broker-wide; beyond it produce requests wait (backpressure). At least skafos.flush.size.bytes and message.max.bytes.',
  ),
  p(
    'skafos.cache.segment.bytes',
    'cacheSegmentBytes',
    long(0),
    String(256 * MIB),
    'L1 cache of hot segment data in memory; 0 disables it.',
  ),
  p('skafos.cache.index.bytes', 'cacheIndexBytes', long(0), String(64 * MIB), 'L2 cache of segment indexes in memory; 0 disables it.'),
  p(
    'skafos.readahead.bytes',
    'readaheadBytes',
    long(0),
    String(4 * MIB),
    'Bytes fetched from the object store beyond what a fetch needs, for the next sequential fetch; 0 disables read-ahead.',
  ),
  p(
    'skafos.prefetch.max.inflight.bytes',
    'prefetchMaxInflightBytes',
    long(0),
    String(64 * MIB),
    'Object-store bytes being loaded ahead of need at once, broker-wide: read-ahead, and the ranges of every partition a fetch is about to read (loaded together rather than one after another). Beyond it, reads load on demand; 0 disables both.',
  ),
  p(
    'skafos.connection.max.inflight.bytes',
    'connectionMaxInflightBytes',
    long(1),
    String(100 * MIB),
    'Request bytes read but not yet answered on one connection before the broker stops reading from it. At least socket.request.max.bytes.',
  ),
  p(
    'skafos.connection.max.inflight.requests',
    'connectionMaxInflightRequests',
    int(1, 65535),
    '100',
    'Requests read but not yet answered on one connection before the broker stops reading from it.',
  ),
  p(
    'skafos.producer.state.max.producers',
    'producerStateMaxProducers',
    int(1, 2000),
    '1000',
    "Idempotent producers remembered per partition; beyond it the least recently written one is forgotten (its retries are no longer recognised as duplicates). Bounds the producer-state snapshot in each partition manifest (about 300 bytes per producer; at most 2000 so that a manifest stays within the metadata store's value limits; spec/producer-state.md).",
  ),
  p(
    'skafos.transaction.max.partitions',
    'transactionMaxPartitions',
    int(1, 10000),
    '1000',
    "Partitions (and consumer groups) one transaction may span; AddPartitionsToTxn beyond it gets INVALID_REQUEST. Bounds the transaction's document in the metadata store.",
  ),
  p(
    'skafos.fetch.max.wait.cap.ms',
    'fetchMaxWaitCapMs',
    int(0, TIMER_MAX_MS),
    '30000',
    "Upper bound on a Fetch request's max_wait_ms: longer waits are shortened to this.",
  ),
  p(
    'skafos.metadata.store',
    'metadataStore',
    oneOf('embedded', 'etcd'),
    'embedded',
    'Where cluster metadata lives: `embedded` (in log.dirs; single broker) or `etcd` (shared by all brokers).',
  ),
  p(
    'skafos.etcd.endpoints',
    'etcdEndpoints',
    etcdEndpoints,
    null,
    'etcd client URLs, comma-separated (e.g. http://10.0.0.1:2379,http://10.0.0.2:2379). Required with skafos.metadata.store=etcd, refused otherwise.',
  ),
  p(
    'skafos.etcd.prefix',
    'etcdPrefix',
    text(
      /^\/(?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+$/,
      'a key prefix like /skafos or /clusters/prod: starts with /, no trailing /, segments of A-Z a-z 0-9 . _ -',
    ),
    '/skafos',
    'Prefix of every key this cluster writes in etcd (/skafos/topics/... for /skafos). Clusters sharing an etcd need prefixes that do not nest: /skafos/prod and /skafos/staging, not /skafos and /skafos/prod.',
  ),
  p(
    'skafos.etcd.dial.timeout.ms',
    'etcdDialTimeoutMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'At start, the broker gives up (and exits) if etcd has not answered within this time.',
  ),
  p(
    'skafos.etcd.request.timeout.ms',
    'etcdRequestTimeoutMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'Deadline of every metadata operation, retries included: a request that certainly did not reach etcd (no connection, no leader) is retried on another endpoint until then; afterwards the operation fails with a retriable error. Outages never make an operation hang longer.',
  ),
  p(
    'skafos.etcd.username',
    'etcdUsername',
    optional(text(/^[A-Za-z0-9._@-]{1,128}$/, 'a user name: letters, digits and . _ @ -')),
    null,
    'etcd user for password authentication, with skafos.etcd.password.file. Its role needs read-write on the prefix range `<skafos.etcd.prefix>/`. Default: no authentication.',
  ),
  p(
    'skafos.etcd.password.file',
    'etcdPasswordFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'File whose first line is the password of skafos.etcd.username (kept out of the configuration).',
  ),
  p(
    'skafos.etcd.tls.ca.file',
    'etcdTlsCaFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    "PEM file of the CA that signed etcd's certificate, for https:// endpoints. Default: the system's roots.",
  ),
  p(
    'skafos.etcd.tls.cert.file',
    'etcdTlsCertFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'PEM client certificate for etcd (client-certificate authentication), with skafos.etcd.tls.key.file.',
  ),
  p(
    'skafos.etcd.tls.key.file',
    'etcdTlsKeyFile',
    optional(text(FILE_PATH, FILE_PATH_DESCRIBE)),
    null,
    'PEM private key of skafos.etcd.tls.cert.file.',
  ),
  p(
    'skafos.object.store',
    'objectStore',
    oneOf('local', 's3'),
    'local',
    'Where segments live: `local` (files under log.dirs; single broker, for development) or `s3` (S3 or an S3-compatible store).',
  ),
  p(
    'skafos.s3.bucket',
    's3Bucket',
    optional(
      text(
        /^(?=.{3,63}$)[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
        'an S3 bucket name: 3 to 63 characters of a-z 0-9 . -, starting and ending with a letter or digit',
      ),
    ),
    null,
    'Bucket holding the segments. Required with skafos.object.store=s3.',
  ),
  p(
    'skafos.s3.region',
    's3Region',
    text(/^[a-z0-9-]{1,64}$/, 'a region name such as us-east-1'),
    'us-east-1',
    'Region used to sign requests (and to pick the AWS endpoint).',
  ),
  p(
    'skafos.s3.endpoint',
    's3Endpoint',
    endpointUrl,
    null,
    'Endpoint of an S3-compatible store (MinIO, R2, ...), e.g. http://127.0.0.1:9000. Default: AWS.',
  ),
  p(
    'skafos.s3.path.style',
    's3PathStyle',
    bool,
    'false',
    'Address the bucket in the path (endpoint/bucket/key) instead of the host name; most S3-compatible stores need true.',
  ),
  p(
    'skafos.s3.access.key.id',
    's3AccessKeyId',
    optional(text(/^[A-Za-z0-9/+=._~-]{1,256}$/, 'an access key id: letters, digits and / + = . _ ~ -')),
    null,
    'Static credentials, with skafos.s3.secret.access.key (both or neither). Default: the standard AWS credential chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity, ECS/EKS container and EC2 instance roles), which is preferable to a secret in a config file.',
  ),
  p(
    'skafos.s3.secret.access.key',
    's3SecretAccessKey',
    optional(text(/^[A-Za-z0-9/+=._~-]{1,512}$/, 'a secret access key: letters, digits and / + = . _ ~ -')),
    null,
    'Secret of skafos.s3.access.key.id. Never reported by DescribeConfigs.',
  ),
  p(
    'skafos.s3.sse.kms.key.id',
    's3SseKmsKeyId',
    optional(text(/^[A-Za-z0-9:/_.+=@-]{1,2048}$/, 'a KMS key id, key ARN, alias name (alias/...) or alias ARN')),
    null,
    "Encrypt every object written with SSE-KMS under this key. Default: no encryption header (the bucket's default encryption applies).",
  ),
  p(
    'skafos.s3.read.replicas',
    's3ReadReplicas',
    readReplicaList,
    '',
    'Read replicas of skafos.s3.bucket (cross-region replication), tried first for GETs in this order; an object missing there (replication lag) or a replica that errs falls back to the next and finally to skafos.s3.bucket; an erring replica is skipped for 30 s. Same credentials as skafos.s3.bucket.',
  ),
  p(
    'skafos.s3.max.concurrent.requests',
    's3MaxConcurrentRequests',
    int(1, 4096),
    '64',
    'S3 requests in flight at once (each holds one kept-alive connection); more wait in FIFO order. Multipart parts count one each.',
  ),
  p(
    'skafos.s3.multipart.threshold.bytes',
    's3MultipartThresholdBytes',
    long(5 * MIB, 5 * GIB),
    String(32 * MIB),
    'Objects larger than this are written with a multipart upload, parts in parallel; smaller ones with one PUT. Conditional writes (If-None-Match) always use one PUT up to 5 GiB.',
  ),
  p(
    'skafos.s3.multipart.part.bytes',
    's3MultipartPartBytes',
    long(5 * MIB, 5 * GIB),
    String(8 * MIB),
    "Size of a multipart upload's parts (the last may be smaller); raised for an object that would need more than 10000 parts.",
  ),
  p(
    'skafos.s3.connect.timeout.ms',
    's3ConnectTimeoutMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'An S3 connection not established within this time fails the attempt (which may be retried).',
  ),
  p(
    'skafos.s3.request.timeout.ms',
    's3RequestTimeoutMs',
    int(1, TIMER_MAX_MS),
    '30000',
    'An S3 request whose connection moves no bytes for this long (a stalled connection) fails the attempt (which may be retried).',
  ),
  p(
    'skafos.s3.retry.max.attempts',
    's3RetryMaxAttempts',
    int(1, 100),
    '6',
    'Attempts per S3 request, the first included, for retryable failures: throttling (503 SlowDown, 429), other 5xx, 409 ConditionalRequestConflict, timeouts and network errors.',
  ),
  p(
    'skafos.s3.retry.backoff.base.ms',
    's3RetryBackoffBaseMs',
    int(1, TIMER_MAX_MS),
    '100',
    'The wait before retry n is random in [0, min(skafos.s3.retry.backoff.max.ms, this × 2^(n-1))] (exponential backoff, full jitter).',
  ),
  p(
    'skafos.s3.retry.backoff.max.ms',
    's3RetryBackoffMaxMs',
    int(1, TIMER_MAX_MS),
    '5000',
    'Upper bound on the wait before one retry. At least skafos.s3.retry.backoff.base.ms.',
  ),
  p(
    'skafos.s3.retry.budget.tokens',
    's3RetryBudgetTokens',
    int(0, 1_000_000),
    '500',
    'Retry budget shared by all S3 requests: a token bucket of this size, starting full, from which a retry takes 5 tokens and to which a successful request adds 1. When it is empty, failures are not retried, so a store that fails everything gets one attempt per call and calls fail fast. 0 disables retries.',
  ),
  p(
    'skafos.http.listener',
    'httpListener',
    httpListener,
    '127.0.0.1:9644',
    'Address of the operations HTTP endpoint (/metrics, /healthz, /readyz); empty disables it.',
  ),
  p(
    'skafos.log.level',
    'logLevel',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
    'info',
    'Level of the structured (JSON, stdout) log.',
  ),
  p(
    'skafos.retention.checkpoint.interval.ms',
    'retentionCheckpointIntervalMs',
    int(1, TIMER_MAX_MS),
    '10000',
    'How often retention progress is checkpointed.',
  ),
  p(
    'skafos.partition.checkpoint.interval.ms',
    'partitionCheckpointIntervalMs',
    int(1, TIMER_MAX_MS),
    '5000',
    "How often each partition's state is checkpointed.",
  ),
  p(
    'skafos.compaction.enable',
    'compactionEnable',
    bool,
    'true',
    "Merge each partition's older WAL data into per-partition segment objects in the background, so WAL objects and their metadata keys are deleted, start-up reads small per-partition manifests instead of every WAL object's index, and old data is read through segment indexes.",
  ),
  p(
    'skafos.compaction.interval.ms',
    'compactionIntervalMs',
    int(100, TIMER_MAX_MS),
    '15000',
    "How often the compactor looks for data to merge into segments; also the most often compaction rewrites one partition's manifest.",
  ),
  p(
    'skafos.compaction.min.age.ms',
    'compactionMinAgeMs',
    long(0, TIMER_MAX_MS),
    '30000',
    'WAL data younger than this is never compacted (recent data stays where tailing consumers read it from memory). At most skafos.compaction.max.age.ms.',
  ),
  p(
    'skafos.compaction.max.age.ms',
    'compactionMaxAgeMs',
    long(0, TIMER_MAX_MS),
    '600000',
    'WAL data this old is compacted even when a partition has less than skafos.segment.target.bytes of it, which bounds how long WAL objects live.',
  ),
  p(
    'skafos.segment.target.bytes',
    'segmentTargetBytes',
    int(64 * KIB, GIB),
    String(16 * MIB),
    'Size at which the compactor cuts a segment object (a run of whole flushed chunks reaching it; one large chunk can take a segment over it). Segments are built in memory: a compaction pass holds up to four (at most 256 MiB, or one segment when larger). Partitions with more than 1000 segments have adjacent small ones merged up to this size, which bounds their manifest.',
  ),
];

const PARAM_BY_KEY = new Map(PARAMS.map((param) => [param.key, param]));

/** Keys whose values are secrets: DescribeConfigs reports them as sensitive, without the value (as Kafka does). */
export const SENSITIVE_CONFIG_KEYS: ReadonlySet<string> = new Set(['skafos.s3.secret.access.key']);

const SKAFOS_PREFIX = 'skafos.';
const ENV_PREFIX = 'SKAFOS_';

/** The environment variable for a key: skafos.s3.bucket → SKAFOS_S3_BUCKET, log.segment.bytes → SKAFOS_LOG_SEGMENT_BYTES. */
export function envName(key: string): string {
  const bare = key.startsWith(SKAFOS_PREFIX) ? key.slice(SKAFOS_PREFIX.length) : key;
  return ENV_PREFIX + bare.toUpperCase().replaceAll('.', '_');
}

/** The literal form, SKAFOS_SKAFOS_S3_BUCKET, also accepted for skafos.* keys. */
function literalEnvName(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replaceAll('.', '_');
}

// Self-checks at load: the table is the only source of truth, so keep it consistent.
{
  const envs = new Map<string, string>();
  const fields = new Set<string>();
  for (const param of PARAMS) {
    for (const name of new Set([envName(param.key), literalEnvName(param.key)])) {
      const other = envs.get(name);
      if (other !== undefined) throw new Error(`config table: ${param.key} and ${other} share ${name}`);
      envs.set(name, param.key);
    }
    if (param.field !== null) {
      if (fields.has(param.field)) throw new Error(`config table: field ${param.field} set by two keys`);
      fields.add(param.field);
    }
  }
}

/** Kafka keys people copy from server.properties that mean nothing here: a specific hint instead of a guess. */
const KAFKA_ONLY_KEYS: Readonly<Record<string, string>> = {
  'broker.id': 'use node.id',
  'log.dir': 'use log.dirs',
  'zookeeper.connect': 'Skafos has no ZooKeeper; cluster metadata lives in skafos.metadata.store',
  'process.roles': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.quorum.voters': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.quorum.bootstrap.servers': 'Skafos has no KRaft controllers; cluster metadata lives in skafos.metadata.store',
  'controller.listener.names': 'Skafos has no KRaft controllers',
  'inter.broker.listener.name': 'Skafos brokers do not talk to each other over Kafka listeners',
  'listener.security.protocol.map': 'only the PLAINTEXT listener exists for now',
  'num.network.threads': 'Skafos has no network or I/O thread pools to size',
  'num.io.threads': 'Skafos has no network or I/O thread pools to size',
  'num.recovery.threads.per.data.dir': 'segments live in the object store; there is no local log recovery',
  'offsets.topic.replication.factor': 'durability comes from the object store',
  'transaction.state.log.replication.factor': 'durability comes from the object store',
  'transaction.state.log.min.isr': 'durability comes from the object store',
  'min.insync.replicas': 'durability comes from the object store',
  'log.flush.interval.messages': 'flushing is governed by skafos.flush.size.bytes and skafos.flush.linger.ms',
  'log.flush.interval.ms': 'flushing is governed by skafos.flush.size.bytes and skafos.flush.linger.ms',
  'socket.send.buffer.bytes': 'socket buffers are left to the operating system',
  'socket.receive.buffer.bytes': 'socket buffers are left to the operating system',
};

// ---------------------------------------------------------------------------------------------------------
// Java-properties parsing

export interface PropertyEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line where the entry starts. */
  readonly line: number;
}

/**
 * Parses the Java-properties format (java.util.Properties.load): `key=value`, `key: value` or `key value`;
 * `#` and `!` comment lines; a line ending in an odd number of backslashes continues on the next one
 * (leading whitespace of the continuation dropped); escapes \t \n \r \f \uXXXX, and \x = x for any other x.
 * Keys and values are trimmed (unlike Java, trailing whitespace is dropped unless escaped). Duplicate keys are
 * an error: `source` names the file in messages.
 */
export function parseProperties(text: string, source = 'config'): PropertyEntry[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const physical = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < physical.length; i++) {
    const startLine = i + 1;
    let line = physical[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines.
    while (endsWithOddBackslashes(line) && i + 1 < physical.length) {
      i++;
      line = line.slice(0, -1) + physical[i]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithOddBackslashes(line)) line = line.slice(0, -1);
    // Key ends at the first unescaped '=', ':' or whitespace.
    let k = 0;
    while (k < line.length) {
      const c = line[k]!;
      if (c === '\\') {
        k += 2;
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      k++;
    }
    const rawKey = line.slice(0, Math.min(k, line.length));
    let v = k;
    while (v < line.length && /[ \t\f]/.test(line[v]!)) v++;
    if (v < line.length && (line[v] === '=' || line[v] === ':')) v++;
    while (v < line.length && /[ \t\f]/.test(line[v]!)) v++;
    const key = unescapeProperty(rawKey, source, startLine);
    const value = unescapeProperty(trimUnescapedEnd(line.slice(v)), source, startLine);
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new ConfigError(`${key} is set twice in ${source} (lines ${previous} and ${startLine})`, {
        key,
        value,
        source: `${source}:${startLine}`,
      });
    }
    seen.set(key, startLine);
    entries.push({ key, value, line: startLine });
  }
  return entries;
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function trimUnescapedEnd(s: string): string {
  let end = s.length;
  while (end > 0 && /[ \t\f]/.test(s[end - 1]!)) {
    // Keep whitespace preceded by an odd run of backslashes (it is escaped).
    let n = 0;
    for (let i = end - 2; i >= 0 && s[i] === '\\'; i--) n++;
    if (n % 2 === 1) break;
    end--;
  }
  return s.slice(0, end);
}

function unescapeProperty(s: string, source: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    switch (next) {
      case undefined:
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) {
          throw new ConfigError(`malformed \\uXXXX escape in ${source}:${line}`, { source: `${source}:${line}` });
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += next;
    }
  }
  return out;
}

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
  values.advertisedListeners ??= values.listeners;
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

function checkKnown(key: string, value: string, source: string): void {
  if (PARAM_BY_KEY.has(key)) return;
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
  const param = PARAM_BY_KEY.get(key)!;
  try {
    return param.type.parse(supplied.raw);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    throw new ConfigError(`invalid ${key} ${JSON.stringify(supplied.raw)} (${supplied.source}): expected ${err.expected}`, {
      key,
      value: supplied.raw,
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

/** skafos.cluster.mode resolved: whether brokers share etcd and divide partitions between them. */
export function clusterEnabled(c: Pick<BrokerConfig, 'clusterMode' | 'metadataStore'>): boolean {
  return c.clusterMode === 'cluster' || (c.clusterMode === 'auto' && c.metadataStore === 'etcd');
}

function crossValidate(c: BrokerConfig, sources: ReadonlyMap<string, string>, raws: ReadonlyMap<string, string>): void {
  const fail = (key: string, message: string) => {
    const source = sources.get(key) ?? 'default';
    const value = raws.get(key) ?? rawOf(c, key);
    throw new ConfigError(`invalid ${key} ${JSON.stringify(value)} (${source}): ${message}`, {
      key,
      value,
      expected: message,
      source,
    });
  };
  const missing = (key: string, because: string) => {
    throw new ConfigError(`${key} is required when ${because} (set it in the config file, with --set or ${envName(key)})`, {
      key,
      expected: 'a value',
    });
  };

  // Stores: what a store needs must be set, and settings of the store not chosen are a mistake, not a no-op.
  if (c.objectStore === 's3' && c.s3Bucket === null) missing('skafos.s3.bucket', 'skafos.object.store=s3');
  if (c.metadataStore === 'etcd' && c.etcdEndpoints.length === 0) missing('skafos.etcd.endpoints', 'skafos.metadata.store=etcd');
  if (c.clusterMode === 'cluster' && c.metadataStore !== 'etcd')
    fail('skafos.cluster.mode', 'cluster mode needs a shared metadata store: set skafos.metadata.store=etcd');
  if (c.nodeId === -1 && !clusterEnabled(c)) fail('node.id', '-1 (assigned by the cluster) needs cluster mode');
  for (const key of unusedKeys(c)) {
    if (sources.has(key)) {
      const [store, choice] = key.startsWith('skafos.s3.')
        ? ['skafos.object.store', c.objectStore]
        : ['skafos.metadata.store', c.metadataStore];
      fail(key, `set, but ${store} is ${choice}; set ${store}=${key.startsWith('skafos.s3.') ? 's3' : 'etcd'} or remove it`);
    }
  }

  // S3 settings that go together
  if ((c.s3AccessKeyId === null) !== (c.s3SecretAccessKey === null)) {
    const [set, unset] =
      c.s3AccessKeyId === null
        ? ['skafos.s3.secret.access.key', 'skafos.s3.access.key.id']
        : ['skafos.s3.access.key.id', 'skafos.s3.secret.access.key'];
    fail(set, `${unset} must be set too (or neither, for the standard AWS credential chain)`);
  }
  if (c.s3RetryBackoffBaseMs > c.s3RetryBackoffMaxMs) {
    fail('skafos.s3.retry.backoff.base.ms', `must not exceed skafos.s3.retry.backoff.max.ms (${c.s3RetryBackoffMaxMs})`);
  }

  // etcd settings that go together
  if (c.etcdPasswordFile !== null && c.etcdUsername === null) fail('skafos.etcd.password.file', 'skafos.etcd.username must be set too');
  if (c.etcdUsername !== null && c.etcdPasswordFile === null) fail('skafos.etcd.username', 'skafos.etcd.password.file must be set too');
  if ((c.etcdTlsCertFile === null) !== (c.etcdTlsKeyFile === null)) {
    const [set, unset] =
      c.etcdTlsCertFile === null
        ? ['skafos.etcd.tls.key.file', 'skafos.etcd.tls.cert.file']
        : ['skafos.etcd.tls.cert.file', 'skafos.etcd.tls.key.file'];
    fail(set, `${unset} must be set too (or neither)`);
  }
  if ((c.etcdTlsCaFile !== null || c.etcdTlsCertFile !== null) && !c.etcdEndpoints.every((e) => e.startsWith('https:'))) {
    fail(
      c.etcdTlsCaFile !== null ? 'skafos.etcd.tls.ca.file' : 'skafos.etcd.tls.cert.file',
      'TLS needs every skafos.etcd.endpoints URL to be https://',
    );
  }

  // Sizes that must nest
  if (c.messageMaxBytes > c.socketRequestMaxBytes) {
    fail('message.max.bytes', `must not exceed socket.request.max.bytes (${c.socketRequestMaxBytes})`);
  }
  if (c.messageMaxBytes > c.flushMaxPendingBytes) {
    fail(
      'message.max.bytes',
      `must not exceed skafos.flush.max.pending.bytes (${c.flushMaxPendingBytes}), or a maximal batch could never be accepted`,
    );
  }
  if (c.flushSizeBytes > c.flushMaxPendingBytes) {
    fail('skafos.flush.size.bytes', `must not exceed skafos.flush.max.pending.bytes (${c.flushMaxPendingBytes})`);
  }
  if (c.compactionMinAgeMs > c.compactionMaxAgeMs) {
    fail('skafos.compaction.min.age.ms', `must not exceed skafos.compaction.max.age.ms (${c.compactionMaxAgeMs})`);
  }
  if (c.storageHealthDegradedErrorRate > c.storageHealthUnavailableErrorRate) {
    fail(
      'skafos.storage.health.degraded.error.rate',
      `must not exceed skafos.storage.health.unavailable.error.rate (${c.storageHealthUnavailableErrorRate})`,
    );
  }
  if (c.socketRequestMaxBytes > c.connectionMaxInflightBytes) {
    fail(
      'socket.request.max.bytes',
      `must not exceed skafos.connection.max.inflight.bytes (${c.connectionMaxInflightBytes}), or a maximal request could never be read`,
    );
  }

  // Listeners
  for (const a of c.advertisedListeners) {
    if (!c.listeners.some((l) => l.name === a.name)) fail('advertised.listeners', `listener ${a.name} is not in listeners`);
  }
  if (!sources.has('advertised.listeners')) {
    for (const l of c.listeners) {
      if (l.host === '0.0.0.0' || l.host === '::') {
        fail('listeners', `binds the non-routable meta-address ${l.host}, so advertised.listeners must be set`);
      }
    }
  }
  if (c.httpListener !== null) {
    const h = c.httpListener;
    for (const l of c.listeners) {
      if (h.port !== 0 && h.port === l.port && hostsOverlap(h.host, l.host)) {
        fail('skafos.http.listener', `port ${h.port} is also used by listeners (${formatListeners([l])})`);
      }
    }
  }
}

/** Keys that belong to the object store or metadata store not selected. */
function unusedKeys(c: BrokerConfig): string[] {
  const keys: string[] = [];
  if (c.objectStore !== 's3') keys.push(...PARAMS.filter((param) => param.key.startsWith('skafos.s3.')).map((param) => param.key));
  if (c.metadataStore !== 'etcd') keys.push(...PARAMS.filter((param) => param.key.startsWith('skafos.etcd.')).map((param) => param.key));
  return keys;
}

function hostsOverlap(a: string, b: string): boolean {
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  return a === b || wild(a) || wild(b);
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function formatListeners(listeners: readonly Listener[]): string {
  return listeners.map((l) => `${l.name}://${formatHost(l.host)}:${l.port}`).join(',');
}

/** The value of `key` in `config`, written as in a properties file. */
function rawOf(config: BrokerConfig, key: string): string {
  switch (key) {
    case 'listeners':
      return formatListeners(config.listeners);
    case 'advertised.listeners':
      return formatListeners(config.advertisedListeners);
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

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as object)) deepFreeze(child);
  }
  return value;
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
