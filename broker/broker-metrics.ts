// The broker's gauges on the ops endpoint (/metrics): object store health and read replicas, connections,
// topics and groups, the flusher and caches, compaction and producer state, WAL and segment collection, and
// the object store's requests. Each is read when scraped.
import type { BrokerServices } from './handlers/context.ts';
import { producerStateStats } from './log/producer-state.ts';
import type { Metrics } from './ops/metrics.ts';
import type { HealthState } from './storage/health.ts';
import type { ReplicaReadObjectStore } from './storage/replica-object-store.ts';

const healthStateValue: Record<HealthState, number> = { healthy: 0, degraded: 1, unavailable: 2 };

/** Registers every gauge, in this order. */
export function registerMetrics(
  metrics: Metrics,
  s: BrokerServices,
  store: { stats(): { requests: Record<string, number> } },
  replicas: ReplicaReadObjectStore | null,
  connections: () => number,
): void {
  objectStoreHealthMetrics(metrics, s, replicas);
  brokerMetrics(metrics, s, connections);
  flushAndCacheMetrics(metrics, s);
  compactionMetrics(metrics, s);
  cleanerMetrics(metrics, s);
  collectionAndIndexMetrics(metrics, s);
  authorizerMetrics(metrics, s);
  metrics.gauge({
    name: 'object_store_requests',
    help: 'Object store requests since start, by operation.',
    labelNames: ['op'],
    collect() {
      const st = store.stats();
      for (const [op, n] of Object.entries(st.requests)) this.set({ op }, n);
    },
  });
}

/** Read replicas (when configured) and the object store's health. */
function objectStoreHealthMetrics(metrics: Metrics, s: BrokerServices, replicas: ReplicaReadObjectStore | null): void {
  if (replicas) {
    metrics.gauge({
      name: 'read_replica',
      help: 'Read replicas: hits, fallbacks on missing objects and on errors, and replication lag seen (ms).',
      labelNames: ['replica', 'figure'],
      collect() {
        for (const r of replicas.stats) {
          this.set({ replica: r.name, figure: 'hits' }, r.hits);
          this.set({ replica: r.name, figure: 'miss_fallbacks' }, r.missFallbacks);
          this.set({ replica: r.name, figure: 'error_fallbacks' }, r.errorFallbacks);
          this.set({ replica: r.name, figure: 'max_observed_lag_ms' }, r.maxObservedLagMs);
          this.set({ replica: r.name, figure: 'last_observed_lag_ms' }, r.lastObservedLagMs);
        }
      },
    });
  }
  const h = s.storageHealth;
  metrics.gauge({
    name: 'object_store_health_state',
    help: 'Object store health: 0 healthy, 1 degraded, 2 unavailable.',
    collect() {
      this.set(healthStateValue[h.evaluate()]);
    },
  });
  metrics.gauge({
    name: 'object_store_health_transitions',
    help: 'Health state changes since start.',
    collect() {
      this.set(h.transitions.length);
    },
  });
  metrics.gauge({
    name: 'object_store_window',
    help: 'Object store calls in the health window: calls, failures, error rate, p99 latency (ms).',
    labelNames: ['figure'],
    collect() {
      const w = h.window();
      this.set({ figure: 'calls' }, w.calls);
      this.set({ figure: 'failures' }, w.failures);
      this.set({ figure: 'error_rate' }, w.errorRate);
      this.set({ figure: 'p99_ms' }, w.p99Ms);
    },
  });
  metrics.gauge({
    name: 'object_store_health_threshold',
    help: 'Configured health thresholds.',
    labelNames: ['threshold'],
    collect() {
      for (const [k, v] of Object.entries(h.thresholds)) this.set({ threshold: k }, v);
    },
  });
}

/** Connections, topics and consumer groups. */
function brokerMetrics(metrics: Metrics, s: BrokerServices, connections: () => number): void {
  metrics.gauge({
    name: 'connections',
    help: 'Open Kafka client connections.',
    collect() {
      this.set(connections());
    },
  });
  metrics.gauge({
    name: 'topics',
    help: 'Topics.',
    collect() {
      this.set(s.topics.all().length);
    },
  });
  metrics.gauge({
    name: 'consumer_groups',
    help: 'Consumer groups this broker coordinates (in memory).',
    collect() {
      this.set(s.groups.groupCount);
    },
  });
}

/** The flusher and the L1 segment cache. */
function flushAndCacheMetrics(metrics: Metrics, s: BrokerServices): void {
  const flush = () => s.logs.flusher.stats;
  metrics.gauge({
    name: 'unflushed_bytes',
    help: 'Bytes appended and not yet durable.',
    collect() {
      this.set(s.logs.flusher.unflushedBytes);
    },
  });
  metrics.gauge({
    name: 'flushes',
    help: 'WAL objects written since start.',
    collect() {
      this.set(flush().flushes);
    },
  });
  metrics.gauge({
    name: 'flush_object_bytes',
    help: 'Bytes of WAL objects written since start.',
    collect() {
      this.set(flush().objectBytes);
    },
  });
  metrics.gauge({
    name: 'segment_cache_bytes',
    help: 'Bytes held by the L1 segment cache.',
    collect() {
      this.set(s.logs.cache.sizeBytes);
    },
  });
  metrics.gauge({
    name: 'segment_cache_hits',
    help: 'L1 segment cache hits since start.',
    collect() {
      this.set(s.logs.cache.stats.hits);
    },
  });
  metrics.gauge({
    name: 'segment_cache_misses',
    help: 'L1 segment cache misses since start.',
    collect() {
      this.set(s.logs.cache.stats.misses);
    },
  });
}

/** The log cleaner of compacted topics (spec/compaction.md). */
function cleanerMetrics(metrics: Metrics, s: BrokerServices): void {
  const cleaner = s.logs.cleaner;
  if (cleaner === null) return;
  metrics.gauge({
    name: 'log_cleaner',
    help: 'The log cleaner since start: passes, cleanings committed and failed, bytes read and written, records removed, segments rewritten, the time of the last pass (ms since the epoch) and its duration (ms).',
    labelNames: ['figure'],
    collect() {
      const st = cleaner.stats;
      this.set({ figure: 'passes' }, st.passes);
      this.set({ figure: 'cleanings' }, st.cleanings);
      this.set({ figure: 'failed_cleanings' }, st.failedCleanings);
      this.set({ figure: 'bytes_read' }, st.bytesRead);
      this.set({ figure: 'bytes_written' }, st.bytesWritten);
      this.set({ figure: 'records_removed' }, st.recordsRemoved);
      this.set({ figure: 'segments_rewritten' }, st.segmentsRewritten);
      this.set({ figure: 'last_run_ms' }, st.lastRunMs);
      this.set({ figure: 'last_run_duration_ms' }, st.lastRunDurationMs);
    },
  });
  metrics.gauge({
    name: 'log_cleaner_dirty_ratio',
    help: "Per compacted partition led here, as of the cleaner's last pass: dirty bytes over cleanable bytes.",
    labelNames: ['topic', 'partition'],
    collect() {
      this.reset();
      for (const p of cleaner.partitionStates) this.set({ topic: p.topic, partition: String(p.partition) }, p.dirtyRatio);
    },
  });
  metrics.gauge({
    name: 'log_cleaner_lag_ms',
    help: "Per compacted partition led here, as of the cleaner's last pass: age of its oldest dirty segment (ms).",
    labelNames: ['topic', 'partition'],
    collect() {
      this.reset();
      for (const p of cleaner.partitionStates) this.set({ topic: p.topic, partition: String(p.partition) }, p.lagMs);
    },
  });
  metrics.gauge({
    name: 'log_cleaner_uncleanable_partitions',
    help: 'Compacted partitions the cleaner cannot clean, with the reason (1 each).',
    labelNames: ['topic', 'partition', 'reason'],
    collect() {
      this.reset();
      for (const p of cleaner.partitionStates)
        if (p.uncleanable !== null) this.set({ topic: p.topic, partition: String(p.partition), reason: p.uncleanable }, 1);
    },
  });
}

/** Compaction, and idempotent producers' state. */
function compactionMetrics(metrics: Metrics, s: BrokerServices): void {
  const compaction = () => s.logs.compactor.stats;
  metrics.gauge({
    name: 'compaction_segments_written',
    help: 'Segment objects written by compaction and committed, since start.',
    collect() {
      this.set(compaction().segmentsWritten);
    },
  });
  metrics.gauge({
    name: 'compaction_bytes',
    help: 'Bytes of record batches moved into committed segments, since start.',
    collect() {
      this.set(compaction().bytesCompacted);
    },
  });
  metrics.gauge({
    name: 'idempotent_producers',
    help: 'Idempotent producers since start: duplicates answered with their original offset, out_of_order and invalid_epoch refusals, producers evicted, producer-state rebuilds and the batches, bytes and ms they took.',
    labelNames: ['figure'],
    collect() {
      for (const [figure, value] of Object.entries(producerStateStats)) this.set({ figure }, value);
    },
  });
  metrics.gauge({
    name: 'compaction_passes',
    help: 'Compaction passes that found work, since start.',
    collect() {
      this.set(compaction().passes);
    },
  });
  metrics.gauge({
    name: 'compaction_failed_passes',
    help: 'Compaction passes that failed (retried at the next interval), since start.',
    collect() {
      this.set(compaction().failedPasses);
    },
  });
  metrics.gauge({
    name: 'compaction_segments_abandoned',
    help: 'Segment objects written whose commit was refused or abandoned, since start.',
    collect() {
      this.set(compaction().segmentsAbandoned);
    },
  });
}

/** WAL and segment collection, WAL index warming and the L2 index cache. */
function collectionAndIndexMetrics(metrics: Metrics, s: BrokerServices): void {
  metrics.gauge({
    name: 'wal_objects_deleted',
    help: 'WAL objects deleted (with their metadata keys) once nothing in them was live, since start.',
    collect() {
      this.set(s.logs.stats.walObjectsDeleted);
    },
  });
  metrics.gauge({
    name: 'segments_deleted',
    help: 'Segment objects deleted (retention, DeleteRecords, topic deletion, merges), since start.',
    collect() {
      this.set(s.logs.stats.segmentsDeleted);
    },
  });
  metrics.gauge({
    name: 'wal_indexes_warmed',
    help: "Cluster mode: other brokers' WAL object indexes read ahead of a failover, since start.",
    collect() {
      this.set(s.logs.walIndexWarmer?.stats.warmed ?? 0);
    },
  });
  metrics.gauge({
    name: 'wal_indexes_warm_dropped',
    help: 'Cluster mode: WAL objects dropped from the full warming queue (a failover reads their index itself), since start.',
    collect() {
      this.set(s.logs.walIndexWarmer?.stats.dropped ?? 0);
    },
  });
  metrics.gauge({
    name: 'index_cache_bytes',
    help: 'Bytes held by the L2 index cache.',
    collect() {
      this.set(s.logs.indexCache.sizeBytes);
    },
  });
  metrics.gauge({
    name: 'index_cache_hits',
    help: 'L2 index cache hits since start.',
    collect() {
      this.set(s.logs.indexCache.stats.hits);
    },
  });
  metrics.gauge({
    name: 'index_cache_misses',
    help: 'L2 index cache misses since start.',
    collect() {
      this.set(s.logs.indexCache.stats.misses);
    },
  });
}

/** Authorization decisions since start (with an authorizer), by result. */
function authorizerMetrics(metrics: Metrics, s: BrokerServices): void {
  const authorizer = s.authorizer;
  if (!authorizer) return;
  metrics.counter({
    name: 'authorizer_decisions_total',
    help: 'Authorization decisions since start, by result (allow or deny).',
    labelNames: ['result'],
    collect() {
      this.reset();
      this.inc({ result: 'allow' }, authorizer.allowed);
      this.inc({ result: 'deny' }, authorizer.denied);
    },
  });
}
