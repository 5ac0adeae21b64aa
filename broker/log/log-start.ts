// Changes of partitions' segments and log starts, each through a manifest write (manifests.ts), applied in
// memory only once committed: compaction's new segments, DeleteRecords, time and size retention, topic deletion.
import assert from 'node:assert/strict';
import { deletedTopicPrefix, logStartPrefix, partitionManifestPrefix } from '../metadata/layout.ts';
import type { TopicRecord } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { IndexCache } from '../storage/index-cache.ts';
import type { CommitOutcome, CompactedPartition } from './compactor.ts';
import type { CleanedPartition } from './log-cleaner.ts';
import { partitionKey } from './manifests.ts';
import type { ManifestUpdate, ManifestWriter } from './manifests.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import type { PartitionLogs } from './partition-logs.ts';
import type { LogGarbage } from './wal-gc.ts';

export interface LogStartsOptions {
  /** The partition logs loaded here, by partitionKey (shared with LogManager). */
  logs: PartitionLogs;
  manifests: ManifestWriter;
  garbage: LogGarbage;
  indexCache: IndexCache;
  metadata: MetadataStore;
  topics: TopicRegistry;
  /** Retention settings of a topic (its overrides over the broker defaults). */
  retentionOf: (topic: TopicRecord) => { retentionMs: number; retentionBytes: number; deleteEnabled: boolean };
}

export class LogStarts {
  private readonly o: LogStartsOptions;

  constructor(options: LogStartsOptions) {
    this.o = options;
  }

  /** Compaction's commit: the partitions' new manifests, then their runs replaced by the new segments. */
  commitCompaction(parts: CompactedPartition[]): Promise<CommitOutcome[]> {
    return this.o.manifests.serialise(async () => {
      const outcomes: CommitOutcome[] = parts.map(() => 'refused');
      const updates: ManifestUpdate[] = [];
      const updateOf: number[] = [];
      for (let i = 0; i < parts.length; i++) {
        const after = this.afterCompaction(parts[i]!);
        if (after === null) continue;
        updates.push(this.o.manifests.update(parts[i]!.log, after, parts[i]!.log.logStartOffset, parts[i]!.producerSnapshot));
        updateOf.push(i);
      }
      const notAfterMs = Math.min(...parts.map((p) => p.commitNotAfterMs ?? Infinity));
      const results = await this.o.manifests.commit(updates, notAfterMs);
      for (let u = 0; u < updates.length; u++) {
        const i = updateOf[u]!;
        outcomes[i] = results[u]!;
        if (results[u] !== 'committed') continue;
        const { log, segments } = parts[i]!;
        if (parts[i]!.producerSnapshot) log.producerSnapshot = parts[i]!.producerSnapshot;
        for (const s of segments) {
          log.replaceRun(s.run, s.extent);
          this.o.indexCache.insertSegment(s.extent.objectKey, s.index);
          this.o.garbage.release(s.run);
        }
      }
      await this.o.garbage.collectLogged();
      return outcomes;
    });
  }

  /** The cleaner's commit (log-cleaner.ts): one manifest write replacing the partition's cleaned segments. */
  commitCleaning(part: CleanedPartition): Promise<CommitOutcome> {
    return this.o.manifests.serialise(async () => {
      const { log, segments } = part;
      // Topic deleted, or a segment replaced (compactor merge) or dropped (retention) since it was read: void.
      if (this.o.logs.get(partitionKey(log.topicId, log.partition)) !== log) return 'refused';
      const after = [...log.extents];
      for (const s of segments) {
        const at = after.indexOf(s.old);
        if (at < 0) return 'refused';
        after[at] = s.extent;
      }
      const [outcome] = await this.o.manifests.commit(
        [this.o.manifests.update(log, after, log.logStartOffset, log.producerSnapshot, part.cleanedEnd)],
        part.commitNotAfterMs,
      );
      if (outcome !== 'committed') return outcome!;
      log.cleanedEnd = part.cleanedEnd;
      for (const s of segments) {
        log.replaceRun([s.old], s.extent);
        this.o.indexCache.insertSegment(s.extent.objectKey, s.index);
        this.o.garbage.releaseLater([s.old], part.deleteDelayMs);
      }
      await this.o.garbage.collectLogged();
      return outcome;
    });
  }

  /** The partition's extents with its compacted runs replaced by their segments; null when its work is void. */
  private afterCompaction({ log, segments }: CompactedPartition): Extent[] | null {
    // Topic deleted, or retention dropped part of a run since it was planned: this partition's work is void.
    if (this.o.logs.get(partitionKey(log.topicId, log.partition)) !== log) return null;
    const after = [...log.extents];
    for (const s of segments) {
      const at = after.indexOf(s.run[0]!);
      if (at < 0 || s.run.some((e, k) => after[at + k] !== e)) return null;
      after.splice(at, s.run.length, s.extent);
    }
    return after;
  }

  /** DeleteRecords: moves the log start offset durably, then drops what lies wholly below it. */
  deleteRecordsBefore(log: PartitionLog, offset: number): Promise<number> {
    return this.o.manifests.serialise(() => this.deleteRecordsBeforeNow(log, offset));
  }

  private async deleteRecordsBeforeNow(log: PartitionLog, offset: number): Promise<number> {
    assert.ok(offset <= log.highWatermark && offset >= 0);
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const [outcome] = await this.o.manifests.commit([this.o.manifests.update(log, log.extents, offset)]);
    if (outcome !== 'committed') throw new Error('this broker no longer holds its fencing token');
    this.o.garbage.release(log.advanceLogStart(offset));
    await this.o.garbage.collectLogged();
    return log.logStartOffset;
  }

  /** A deleted topic's logs go; its share of WAL objects is released, its segments and manifests deleted. */
  async dropTopic(topic: TopicRecord): Promise<void> {
    const dropped: PartitionLog[] = [];
    for (let p = 0; p < topic.partitions; p++) {
      const k = partitionKey(topic.id, p);
      const log = this.o.logs.get(k);
      if (!log) continue;
      this.o.logs.delete(k);
      log.abandonUnflushed(new Error(`topic ${topic.name} was deleted`));
      dropped.push(log);
    }
    // After any compaction commit or log start move of these partitions under way (they may still change them).
    await this.o.manifests.serialise(async () => {
      for (const log of dropped) {
        this.o.garbage.release(log.extents);
        this.o.manifests.forget(partitionKey(log.topicId, log.partition));
      }
      await this.o.metadata.txn(
        [],
        [
          { type: 'deletePrefix', prefix: `${partitionManifestPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${logStartPrefix}${topic.id}/` },
          { type: 'deletePrefix', prefix: `${deletedTopicPrefix}${topic.id}` },
        ],
      );
      await this.o.garbage.collectLogged();
    });
  }

  /** Time and size retention over every partition; the log start offset moves to the first kept extent. */
  enforceRetention(nowMs: number): Promise<void> {
    return this.o.manifests.serialise(() => this.enforceRetentionNow(nowMs));
  }

  private async enforceRetentionNow(nowMs: number): Promise<void> {
    const updates: ManifestUpdate[] = [];
    const moved: { log: PartitionLog; offset: number }[] = [];
    for (const log of this.o.logs.values()) {
      const topic = this.o.topics.byId(log.topicId);
      if (!topic) continue;
      const { retentionMs, retentionBytes, deleteEnabled } = this.o.retentionOf(topic);
      if (!deleteEnabled) continue;
      const newStart = retainedLogStart(log, retentionMs, retentionBytes, nowMs);
      if (newStart > log.logStartOffset) {
        moved.push({ log, offset: newStart });
        updates.push(this.o.manifests.update(log, log.extents, newStart));
      }
    }
    if (updates.length === 0) return;
    const outcomes = await this.o.manifests.commit(updates);
    for (let i = 0; i < moved.length; i++) {
      if (outcomes[i] !== 'committed') continue;
      const { log, offset } = moved[i]!;
      this.o.garbage.release(log.advanceLogStart(offset));
    }
    await this.o.garbage.collectLogged();
  }
}

/**
 * Where the log should start after time and size retention: past every leading extent that is expired or that
 * the log can lose and still hold `retentionBytes`; the current log start when none goes (negative settings
 * are unlimited).
 */
function retainedLogStart(log: PartitionLog, retentionMs: number, retentionBytes: number, nowMs: number): number {
  let size = 0;
  for (const e of log.extents) if (e.lastOffset >= log.logStartOffset) size += e.lengthBytes;
  let newStart = log.logStartOffset;
  for (const e of log.extents) {
    if (e.lastOffset < log.logStartOffset) continue;
    const expired = retentionMs >= 0 && e.maxTimestamp >= 0 && e.maxTimestamp < nowMs - retentionMs;
    const oversize = retentionBytes >= 0 && size - e.lengthBytes >= retentionBytes;
    if (!expired && !oversize) break;
    size -= e.lengthBytes;
    newStart = e.lastOffset + 1;
  }
  return newStart;
}
