// The broker's one configuration module. Every setting and every default is declared once, in the table of
// broker/config/params.ts; loadConfig() reads the layers, validates everything up front and returns a frozen
// BrokerConfig, or throws a ConfigError naming the key, the value, where it came from and what is expected.
// Internal limits (bounds that are not settings) are in broker/limits.ts; assertLimits checks the two together.
//
// Layers, lowest to highest precedence:
//   1. defaults           (the table; Apache Kafka's where Kafka has the key)
//   2. environment        SKAFOS_<KEY>: the key upper-cased with '.' → '_'; for `skafos.`-prefixed keys the
//                         prefix is dropped (skafos.s3.bucket → SKAFOS_S3_BUCKET; the literal form
//                         SKAFOS_SKAFOS_S3_BUCKET is accepted too). Unrelated SKAFOS_* variables are ignored.
//   3. config file        --config FILE, Java-properties format as Kafka's server.properties.
//   4. --set key=value    repeated; the last one for a key wins.
//
// Units are part of every name: *.ms, *.bytes, *.minutes, *.hours. Every value supplied in any layer is
// validated, even when a higher layer overrides it, and unknown keys are errors (with a suggestion).
//
// The parts: config/types.ts (BrokerConfig, ConfigError), config/values.ts (value parsers), config/params.ts
// (the table), config/properties.ts (the file format), config/load.ts (layers), config/validate.ts (checks
// across keys and against the limits), config/format.ts (formatConfig, the reference).
export { describeConfig, formatConfig } from './config/format.ts';
export { configDefaults, loadConfig, resolveConfig, suggestKey } from './config/load.ts';
export type { ResolvedConfig } from './config/load.ts';
export { brokerConfigKafkaType, envName, SENSITIVE_CONFIG_KEYS } from './config/params.ts';
export { parseProperties } from './config/properties.ts';
export type { PropertyEntry } from './config/properties.ts';
export { ConfigError } from './config/types.ts';
export type {
  BrokerConfig,
  CompressionType,
  ConfigDescription,
  HostPort,
  JaasConfig,
  Listener,
  ListenerSecurity,
  LoadConfigOptions,
  LogLevel,
  PrincipalMappingRule,
  ReadReplicaConfig,
  SecurityProtocol,
  SslSettings,
  TimestampType,
} from './config/types.ts';
export { assertLimits, clusterEnabled } from './config/validate.ts';
export type { KafkaConfigType } from './config/values.ts';
