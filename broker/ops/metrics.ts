// Metrics: one prom-client Registry per broker (never prom-client's global one, so several brokers in one
// test process do not collide), Node's default process metrics, and helpers that give every broker metric a
// consistent name:
//
//   const metrics = createMetrics({ version });
//   const produced = metrics.counter({ name: 'produce_bytes_total', help: 'Bytes appended', labelNames: ['topic'] });
//   produced.inc({ topic }, bytes);                       // exported as skafos_produce_bytes_total
//   metrics.histogram({ name: 'flush_duration_seconds', help: '...', buckets: LATENCY_BUCKETS_SECONDS });
//
// Naming rules (checked): lower_snake_case; the `skafos_` prefix is added when missing; counters end in
// `_total`. Conventions (not checked): base units in the name (`_seconds`, `_bytes`), never milliseconds.
// Asking twice for the same name returns the same metric if the kind and labels match, and throws otherwise.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, HistogramConfiguration } from 'prom-client';

export const METRIC_PREFIX = 'skafos_';

/** Latency buckets from 0.5 ms to 30 s: object-store calls and request handling both land inside. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Size buckets from 1 KiB to 64 MiB, by powers of 4. */
export const SIZE_BUCKETS_BYTES: readonly number[] = [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

interface MetricOptions<L extends string> {
  /** Without the prefix (`produce_bytes_total`) or with it (`skafos_produce_bytes_total`). */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

export interface CounterOptions<L extends string> extends MetricOptions<L> {
  collect?: CounterConfiguration<L>['collect'];
}

export interface GaugeOptions<L extends string> extends MetricOptions<L> {
  /** Called at every scrape, to set the gauge from current state. */
  collect?: GaugeConfiguration<L>['collect'];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  buckets?: readonly number[];
}

export interface CreateMetricsOptions {
  /** Register Node's process metrics (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...). Default true. */
  defaultMetrics?: boolean;
  /** Exported as skafos_build_info{version="..."} 1 when given. */
  version?: string;
}

export class Metrics {
  readonly registry: Registry;

  constructor(options: CreateMetricsOptions = {}) {
    this.registry = new Registry();
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    if (options.version !== undefined) {
      this.gauge({
        name: 'build_info',
        help: 'Skafos version and Node.js version; always 1.',
        labelNames: ['version', 'node_version'],
      }).set({ version: options.version, node_version: process.version }, 1);
    }
  }

  counter<L extends string = string>(options: CounterOptions<L>): Counter<L> {
    const name = metricName(options.name);
    if (!name.endsWith('_total')) throw new Error(`counter ${name}: counter names end in _total`);
    return this.getOrCreate(
      name,
      'counter',
      options.labelNames,
      () =>
        new Counter<L>({
          name,
          help: options.help,
          labelNames: options.labelNames ?? [],
          registers: [this.registry],
          ...(options.collect ? { collect: options.collect } : {}),
        }),
    );
  }

  gauge<L extends string = string>(options: GaugeOptions<L>): Gauge<L> {
    const name = metricName(options.name);
    return this.getOrCreate(
      name,
      'gauge',
      options.labelNames,
      () =>
        new Gauge<L>({
          name,
          help: options.help,
          labelNames: options.labelNames ?? [],
          registers: [this.registry],
          ...(options.collect ? { collect: options.collect } : {}),
        }),
    );
  }

  histogram<L extends string = string>(options: HistogramOptions<L>): Histogram<L> {
    const name = metricName(options.name);
    const config: HistogramConfiguration<L> = {
      name,
      help: options.help,
      labelNames: options.labelNames ?? [],
      registers: [this.registry],
    };
    if (options.buckets) config.buckets = [...options.buckets];
    return this.getOrCreate(name, 'histogram', options.labelNames, () => new Histogram<L>(config));
  }

  /** The Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  private getOrCreate<M>(name: string, kind: string, labelNames: readonly string[] | undefined, create: () => M): M {
    const existing = this.registry.getSingleMetric(name) as unknown as
      | { constructor: { name: string }; labelNames?: readonly string[] }
      | undefined;
    if (existing === undefined) return create();
    const existingKind = existing.constructor.name.toLowerCase();
    const sameLabels = JSON.stringify([...(existing.labelNames ?? [])].sort()) === JSON.stringify([...(labelNames ?? [])].sort());
    if (existingKind !== kind || !sameLabels) {
      throw new Error(`metric ${name} is already registered as a ${existingKind} with labels [${(existing.labelNames ?? []).join(', ')}]`);
    }
    return existing as unknown as M;
  }
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  return new Metrics(options);
}

/** `produce_bytes_total` → `skafos_produce_bytes_total`; rejects names Prometheus would mangle. */
export function metricName(name: string): string {
  const full = name.startsWith(METRIC_PREFIX) ? name : METRIC_PREFIX + name;
  if (!/^[a-z][a-z0-9_]*$/.test(full) || full.endsWith('_')) {
    throw new Error(`metric name ${JSON.stringify(name)}: use lower_snake_case ([a-z0-9_], starting with a letter)`);
  }
  return full;
}
