// The partition logs loaded here, by partition key (manifests.ts: partitionKey), and their high watermark
// listeners. A log's WAL chunks hold references to their objects (wal-gc.ts) while it is installed.
import type { TopicRecord } from '../metadata/layout.ts';
import { partitionKey } from './manifests.ts';
import { PartitionLog } from './partition-log.ts';
import type { EpochStart, Extent } from './partition-log.ts';
import type { LogGarbage } from './wal-gc.ts';

export class PartitionLogs {
  private readonly logs = new Map<string, PartitionLog>();
  private readonly hwListeners = new Set<(log: PartitionLog) => void>();
  private readonly garbage: LogGarbage;

  constructor(garbage: LogGarbage) {
    this.garbage = garbage;
  }

  get size(): number {
    return this.logs.size;
  }

  get(k: string): PartitionLog | undefined {
    return this.logs.get(k);
  }

  has(k: string): boolean {
    return this.logs.has(k);
  }

  delete(k: string): void {
    this.logs.delete(k);
  }

  values(): IterableIterator<PartitionLog> {
    return this.logs.values();
  }

  /** A log at leader epoch 0, installed. */
  create(topic: TopicRecord, partition: number, extents: Extent[], logStartOffset: number): PartitionLog {
    const log = this.build(topic, partition, extents, logStartOffset, 0, undefined);
    this.install(log);
    return log;
  }

  /** The log is served: its WAL objects are referenced. */
  install(log: PartitionLog): void {
    for (const e of log.extents) if (!e.segment) this.garbage.ref(e.objectKey);
    this.logs.set(partitionKey(log.topicId, log.partition), log);
  }

  build(
    topic: TopicRecord,
    partition: number,
    extents: Extent[],
    logStartOffset: number,
    leaderEpoch: number,
    epochHistory: readonly EpochStart[] | undefined,
  ): PartitionLog {
    return new PartitionLog({
      topicId: topic.id,
      topicName: topic.name,
      partition,
      leaderEpoch,
      logStartOffset,
      epochHistory,
      // Extents wholly below the log start are dead: never part of the log, never referenced.
      extents: extents.filter((e) => e.lastOffset >= logStartOffset),
      onHighWatermark: (l) => {
        const last = l.extents[l.extents.length - 1];
        if (last) this.garbage.ref(last.objectKey);
        for (const listener of this.hwListeners) listener(l);
      },
    });
  }

  onHighWatermark(listener: (log: PartitionLog) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }
}
