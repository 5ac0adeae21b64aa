// The dynamic broker configs in force on this broker: the static configuration with the cluster-wide dynamic
// defaults and then this broker's own dynamic configs laid over it (Kafka's precedence), for the keys Skafos
// applies. The effective configuration is one frozen object, rebuilt and swapped when a change arrives through
// the metadata store's watch, so readers pay nothing per request beyond reading a field.
import { appliedDynamicKeys } from '../config/dynamic-broker-keys.ts';
import type { DynamicallyConfigured } from '../config/dynamic-broker-keys.ts';
import type { BrokerConfig } from '../config.ts';
import { ConfigDocuments } from './config-docs.ts';
import { brokerConfigKey, brokerConfigPrefix, parseBrokerConfigKey } from './layout.ts';
import type { MetadataStore } from './store.ts';

export type EffectiveConfig = BrokerConfig & DynamicallyConfigured;

/** Brokers (plus the default) whose dynamic configs are followed: every broker's, as the key space is shared. */
const maxBrokerConfigDocuments = 10_000;

export class DynamicBrokerConfig {
  readonly static: BrokerConfig;
  private readonly nodeId: number;
  private readonly docs: ConfigDocuments;
  private effective: EffectiveConfig;
  private readonly listeners: ((c: EffectiveConfig) => void)[] = [];

  constructor(args: { store: MetadataStore; config: BrokerConfig; nodeId: number }) {
    this.static = args.config;
    this.nodeId = args.nodeId;
    this.effective = args.config;
    this.docs = new ConfigDocuments({
      store: args.store,
      prefix: brokerConfigPrefix,
      keyOf: brokerConfigKey,
      nameOf: parseBrokerConfigKey,
      maxDocuments: maxBrokerConfigDocuments,
    });
  }

  async start(): Promise<void> {
    await this.docs.start((name) => {
      if (name === '' || name === String(this.nodeId)) this.rebuild();
    });
    this.rebuild();
  }

  /** The configuration in force; a new object after each change. */
  get current(): EffectiveConfig {
    return this.effective;
  }

  /** Calls `fn` with each new effective configuration. */
  onChange(fn: (c: EffectiveConfig) => void): void {
    this.listeners.push(fn);
  }

  /** The cluster-wide dynamic defaults (resource name ''). */
  defaults(): Readonly<Record<string, string>> {
    return this.docs.get('');
  }

  /** This broker's own dynamic configs. */
  perBroker(): Readonly<Record<string, string>> {
    return this.docs.get(String(this.nodeId));
  }

  /** Replaces the dynamic configs of `resourceName` ('' or a node id) with `change(current)`; see ConfigDocuments. */
  update(
    resourceName: string,
    change: (current: Readonly<Record<string, string>>) => Record<string, string>,
  ): Promise<Record<string, string>> {
    return this.docs.update(resourceName, change);
  }

  private rebuild(): void {
    const layered = { ...this.defaults(), ...this.perBroker() };
    let next: Record<string, unknown> = { ...this.static };
    const kafkaDefaults: Record<string, string> = {};
    for (const [name, value] of Object.entries(layered)) {
      const apply = appliedDynamicKeys[name];
      if (apply) next = { ...next, ...apply(value) };
      else kafkaDefaults[name] = value;
    }
    next.dynamicKafkaDefaults = Object.freeze(kafkaDefaults);
    this.effective = Object.freeze(next) as unknown as EffectiveConfig;
    for (const fn of this.listeners) fn(this.effective);
  }

  close(): void {
    this.docs.close();
  }
}
