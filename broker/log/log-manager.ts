// The partitions this broker leads: recovery from the WAL objects named in metadata, appends through the
// flusher, reads through the segment cache with read-ahead, retention, DeleteRecords and topic deletion.
// Objects are shared by many partitions, so each is reference-counted by live extents and deleted (object,
// then its metadata key) when none is left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { readBaseOffset, readBatchLength, readLastOffsetDelta, readMaxTimestampMs } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import { brokerKey, deletedTopicPrefix, logStartKey, logStartPrefix, walPrefix, walSequenceOf } from '../metadata/layout.ts';
import type { BrokerRecord, LogStartRecord, TopicRecord, WalRecord } from '../metadata/layout.ts';
import type { Compare, MetadataStore, Op } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { SegmentCache } from '../storage/segment-cache.ts';
import { parseWalFooter, parseWalIndex, walFooterBytes } from '../storage/wal-object.ts';
import type { WalIndexEntry } from '../storage/wal-object.ts';
import { Flusher } from './flusher.ts';
import { PartitionLog } from './partition-log.ts';
import type { Extent } from './partition-log.ts';

export interface LogManagerOptions {
  metadata: MetadataStore;
  objectStore: ObjectStore;
  topics: TopicRegistry;
  nodeId: number;
  host: string;
  port: number;
  flushSizeBytes: number;
  flushLingerMs: number;
  maxConcurrentFlushes: number;
  cacheSegmentBytes: number;
  readaheadBytes: number;
  recoveryConcurrency: number;
  logger: Logger;
  /** Retention settings of a topic (its overrides over the broker defaults). */
  retentionOf: (topic: TopicRecord) => { retentionMs: number; retentionBytes: number; deleteEnabled: boolean };
}

interface ObjectRef {
  walKey: string;
  liveExtents: number;
}

export class LogManager {
  private readonly o: LogManagerOptions;
  private readonly logs = new Map<string, PartitionLog>();
  private readonly objects = new Map<string, ObjectRef>();
  readonly cache: SegmentCache;
  readonly incarnation = randomBytes(6).toString('hex');
  private brokerRecordText = '';
  private flusherInstance: Flusher | null = null;
  private readonly hwListeners = new Set<(log: PartitionLog) => void>();
  private fencedError: Error | null = null;
  /** DeleteRecords and retention both move log start offsets: one at a time, so a lower value never wins. */
  private logStartChain: Promise<unknown> = Promise.resolve();

  constructor(options: LogManagerOptions) {
    this.o = options;
    this.cache = new SegmentCache(options.objectStore, options.cacheSegmentBytes);
  }

  get flusher(): Flusher {
    assert.ok(this.flusherInstance, 'log manager started');
    return this.flusherInstance;
  }

  /** Non-null once this broker has lost the right to acknowledge writes. */
  get fenced(): Error | null {
    return this.fencedError;
  }

  private static key(topicId: string, partition: number): string {
    return `${topicId}:${partition}`;
  }

  async start(): Promise<void> {
    const { metadata, logger } = this.o;
    // Take the fencing token first: from here on, commits of any older incarnation of this node fail.
    const record: BrokerRecord = { nodeId: this.o.nodeId, incarnation: this.incarnation, host: this.o.host, port: this.o.port, startedAtMs: Date.now() };
    this.brokerRecordText = JSON.stringify(record);
    await metadata.txn([], [{ type: 'put', key: brokerKey(this.o.nodeId), value: this.brokerRecordText }]);

    const started = Date.now();
    const walKvs = await metadata.getPrefix(walPrefix);
    const extentsByPartition = new Map<string, Extent[]>();
    const indexes = await this.mapBounded(walKvs, this.o.recoveryConcurrency, async (kv) => {
      const wal = JSON.parse(kv.value) as WalRecord;
      return { kv, wal, entries: await this.readWalIndex(wal) };
    });
    let maxSequence = 0;
    for (const { kv, wal, entries } of indexes) {
      maxSequence = Math.max(maxSequence, walSequenceOf(kv.key));
      this.objects.set(wal.objectKey, { walKey: kv.key, liveExtents: 0 });
      for (const e of entries) {
        if (!this.o.topics.byId(e.topicId)) continue;
        const k = LogManager.key(e.topicId, e.partition);
        let list = extentsByPartition.get(k);
        if (!list) extentsByPartition.set(k, (list = []));
        list.push({ baseOffset: e.baseOffset, lastOffset: e.lastOffset, maxTimestamp: e.maxTimestamp, objectKey: wal.objectKey, position: e.position, lengthBytes: e.lengthBytes });
      }
    }
    const logStarts = new Map<string, number>();
    for (const kv of await metadata.getPrefix(logStartPrefix)) {
      const [topicId, partition] = kv.key.slice(logStartPrefix.length).split('/');
      logStarts.set(LogManager.key(topicId!, Number(partition)), (JSON.parse(kv.value) as LogStartRecord).logStartOffset);
    }
    for (const topic of this.o.topics.all()) {
      for (let p = 0; p < topic.partitions; p++) {
        const k = LogManager.key(topic.id, p);
        this.createLog(topic, p, extentsByPartition.get(k) ?? [], logStarts.get(k) ?? 0);
      }
    }
    this.flusherInstance = new Flusher({
      objectStore: this.o.objectStore, metadata, cache: this.cache, nodeId: this.o.nodeId, incarnation: this.incarnation,
      fence: () => this.fence(), flushSizeBytes: this.o.flushSizeBytes, flushLingerMs: this.o.flushLingerMs,
      maxConcurrentFlushes: this.o.maxConcurrentFlushes, firstSequence: maxSequence + 1, logger,
      onFenced: (e) => (this.fencedError = e),
      onCommitted: (objectKey, walKey) => this.registerObject(objectKey, walKey),
    });
    await this.collectGarbage();
    const orphans = await this.deleteOrphanObjects();
    logger.info({ walObjects: walKvs.length, orphansDeleted: orphans, partitions: this.logs.size, ms: Date.now() - started }, 'log recovered');
  }

  /**
   * Objects this node PUT in an earlier incarnation whose commit never happened (a crash between the PUT and
   * the metadata commit): nothing refers to them, and no earlier incarnation can commit any more (this one
   * holds the fencing token), so they are deleted.
   */
  private async deleteOrphanObjects(): Promise<number> {
    const prefix = 'wal/';
    const suffix = `-${this.o.nodeId}-`;
    let deleted = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await this.o.objectStore.list(prefix, { startAfter, limit: 1000 });
      if (page.length === 0) return deleted;
      startAfter = page[page.length - 1]!.key;
      const orphans = page.map((o) => o.key).filter((k) => !this.objects.has(k) && k.includes(suffix) && !k.includes(`-${this.incarnation}.`));
      if (orphans.length > 0) {
        await this.o.objectStore.delete(orphans);
        deleted += orphans.length;
      }
    }
  }

  /** The compares that prove this broker still holds its fencing token. */
  fence(): Compare[] {
    return [{ key: brokerKey(this.o.nodeId), target: 'value', op: '=', value: this.brokerRecordText }];
  }

  private async readWalIndex(wal: WalRecord): Promise<WalIndexEntry[]> {
    const footer = await this.o.objectStore.get(wal.objectKey, { start: wal.sizeBytes - walFooterBytes, end: wal.sizeBytes });
    const f = parseWalFooter(footer, wal.sizeBytes);
    const index = await this.o.objectStore.get(wal.objectKey, { start: f.indexPosition, end: f.indexPosition + f.indexLengthBytes });
    return parseWalIndex(index, f.indexCrc);
  }

  private async mapBounded<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return out;
  }

  private createLog(topic: TopicRecord, partition: number, extents: Extent[], logStartOffset: number): PartitionLog {
    const log = new PartitionLog({
      topicId: topic.id, topicName: topic.name, partition, leaderEpoch: 0, logStartOffset, extents,
      onHighWatermark: (l) => {
        const last = l.extents[l.extents.length - 1];
        if (last) this.refObject(last.objectKey);
        for (const listener of this.hwListeners) listener(l);
      },
    });
    for (const e of log.extents) if (e.lastOffset >= log.logStartOffset) this.refObject(e.objectKey);
    this.logs.set(LogManager.key(topic.id, partition), log);
    return log;
  }

  private refObject(objectKey: string): void {
    const ref = this.objects.get(objectKey);
    if (ref) ref.liveExtents++;
  }

  /** A committed object becomes known before any extent refers to it. */
  private registerObject(objectKey: string, walKey: string): void {
    if (!this.objects.has(objectKey)) this.objects.set(objectKey, { walKey, liveExtents: 0 });
  }

  /** Existing partition logs for a topic's current partition count (new partitions get empty logs). */
  ensurePartitions(topic: TopicRecord): void {
    for (let p = 0; p < topic.partitions; p++) {
      if (!this.logs.has(LogManager.key(topic.id, p))) this.createLog(topic, p, [], 0);
    }
  }

  partition(topicId: string, partition: number): PartitionLog | undefined {
    return this.logs.get(LogManager.key(topicId, partition));
  }

  onHighWatermark(listener: (log: PartitionLog) => void): () => void {
    this.hwListeners.add(listener);
    return () => this.hwListeners.delete(listener);
  }

  /**
   * Appends validated, offset-less batches; resolves when they are durable. `patch` assigns offsets in place.
   */
  append(
    log: PartitionLog,
    records: Buffer,
    batchCount: number,
    logAppendTimeMs: number | null,
    patch: (records: Buffer, baseOffset: number, leaderEpoch: number, logAppendTimeMs: number | null) => void,
  ): { baseOffset: number; durable: Promise<void> } {
    if (this.fencedError) throw this.fencedError;
    const { baseOffset, lastOffset } = log.append(records, batchCount, logAppendTimeMs, patch);
    const durable = log.waitDurable(lastOffset);
    this.flusher.appended(log, records.length);
    return { baseOffset, durable };
  }

  /**
   * Whole batches from `fetchOffset` on, below `maxOffsetExclusive`, up to `maxBytes` — exceeded only by the
   * first batch when `minOneBatch` (Kafka's rule that a fetch always makes progress). null when none.
   */
  async read(log: PartitionLog, fetchOffset: number, maxBytes: number, minOneBatch: boolean, maxOffsetExclusive: number): Promise<Buffer | null> {
    let i = log.findExtent(fetchOffset);
    if (i < 0) return null;
    const parts: Buffer[] = [];
    let total = 0;
    let full = false;
    while (!full && i < log.extents.length) {
      const e = log.extents[i]!;
      if (e.baseOffset >= maxOffsetExclusive) break;
      const data = await this.cache.get(e.objectKey, e.position, e.lengthBytes);
      let start = 0;
      if (fetchOffset > e.baseOffset) {
        while (start < data.length && readBaseOffset(data, start) + readLastOffsetDelta(data, start) < fetchOffset) {
          start += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, start);
        }
      }
      let end = start;
      while (end < data.length) {
        if (readBaseOffset(data, end) >= maxOffsetExclusive) {
          full = true;
          break;
        }
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, end);
        if (total + (end - start) + size > maxBytes && !(minOneBatch && total === 0 && end === start)) {
          full = true;
          break;
        }
        end += size;
      }
      if (end > start) {
        parts.push(data.subarray(start, end));
        total += end - start;
      }
      i++;
    }
    this.readAhead(log, i);
    if (parts.length === 0) return null;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
  }

  /** Sequential readers: start loading the next extents, up to the read-ahead budget. */
  private readAhead(log: PartitionLog, from: number): void {
    let budget = this.o.readaheadBytes;
    for (let i = from; i < log.extents.length && budget > 0; i++) {
      const e = log.extents[i]!;
      this.cache.prefetch(e.objectKey, e.position, e.lengthBytes);
      budget -= e.lengthBytes;
    }
  }

  /** The first batch whose max timestamp is >= `timestampMs`, with that batch's data (for record-level lookup). */
  async findBatchByTimestamp(log: PartitionLog, timestampMs: number): Promise<{ batch: Buffer } | null> {
    for (const e of log.extents) {
      if (e.maxTimestamp < timestampMs || e.lastOffset < log.logStartOffset) continue;
      const data = await this.cache.get(e.objectKey, e.position, e.lengthBytes);
      for (let pos = 0; pos < data.length;) {
        const size = BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos);
        const last = readBaseOffset(data, pos) + readLastOffsetDelta(data, pos);
        if (last >= log.logStartOffset && readMaxTimestampMs(data, pos) >= timestampMs) return { batch: data.subarray(pos, pos + size) };
        pos += size;
      }
    }
    return null;
  }

  /** The batch holding `offset` (ListOffsets MAX_TIMESTAMP refinement). */
  async batchAt(log: PartitionLog, offset: number): Promise<Buffer | null> {
    return this.read(log, offset, 1, true, log.highWatermark);
  }

  /** DeleteRecords: moves the log start offset durably, then drops what lies wholly below it. */
  deleteRecordsBefore(log: PartitionLog, offset: number): Promise<number> {
    return this.serialiseLogStart(() => this.deleteRecordsBeforeNow(log, offset));
  }

  private serialiseLogStart<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.logStartChain.then(fn, fn);
    this.logStartChain = run.catch(() => {});
    return run;
  }

  private async deleteRecordsBeforeNow(log: PartitionLog, offset: number): Promise<number> {
    assert.ok(offset <= log.highWatermark && offset >= 0);
    if (offset <= log.logStartOffset) return log.logStartOffset;
    const record: LogStartRecord = { logStartOffset: offset };
    const result = await this.o.metadata.txn(this.fence(), [{ type: 'put', key: logStartKey(log.topicId, log.partition), value: JSON.stringify(record) }]);
    if (!result.succeeded) throw new Error('this broker no longer holds its fencing token');
    this.release(log.advanceLogStart(offset));
    await this.collectGarbage();
    return log.logStartOffset;
  }

  private release(dropped: Extent[]): void {
    for (const e of dropped) {
      const ref = this.objects.get(e.objectKey);
      if (ref) ref.liveExtents--;
    }
  }

  /** A deleted topic's logs go; its share of objects is released. */
  async dropTopic(topic: TopicRecord): Promise<void> {
    for (let p = 0; p < topic.partitions; p++) {
      const k = LogManager.key(topic.id, p);
      const log = this.logs.get(k);
      if (!log) continue;
      this.logs.delete(k);
      log.abandonUnflushed(new Error(`topic ${topic.name} was deleted`));
      this.release(log.extents.filter((e) => e.lastOffset >= log.logStartOffset));
    }
    await this.o.metadata.txn([], [{ type: 'deletePrefix', prefix: `${logStartPrefix}${topic.id}/` }, { type: 'deletePrefix', prefix: `${deletedTopicPrefix}${topic.id}` }]);
    await this.collectGarbage();
  }

  /** Time and size retention over every partition; the log start offset moves to the first kept extent. */
  enforceRetention(nowMs: number): Promise<void> {
    return this.serialiseLogStart(() => this.enforceRetentionNow(nowMs));
  }

  private async enforceRetentionNow(nowMs: number): Promise<void> {
    const ops: Op[] = [];
    const moved: { log: PartitionLog; offset: number }[] = [];
    for (const log of this.logs.values()) {
      const topic = this.o.topics.byId(log.topicId);
      if (!topic) continue;
      const { retentionMs, retentionBytes, deleteEnabled } = this.o.retentionOf(topic);
      if (!deleteEnabled) continue;
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
      if (newStart > log.logStartOffset) {
        moved.push({ log, offset: newStart });
        ops.push({ type: 'put', key: logStartKey(log.topicId, log.partition), value: JSON.stringify({ logStartOffset: newStart } satisfies LogStartRecord) });
      }
    }
    if (ops.length === 0) return;
    const maxOpsPerTxn = 100;
    for (let i = 0; i < ops.length; i += maxOpsPerTxn) {
      const result = await this.o.metadata.txn(this.fence(), ops.slice(i, i + maxOpsPerTxn));
      if (!result.succeeded) return;
    }
    for (const { log, offset } of moved) this.release(log.advanceLogStart(offset));
    await this.collectGarbage();
  }

  /** Deletes objects no live extent refers to: the object first, then its WAL key. */
  async collectGarbage(): Promise<void> {
    const dead = [...this.objects.entries()].filter(([, ref]) => ref.liveExtents <= 0);
    if (dead.length === 0) return;
    // Only objects older than every in-flight flush can be dead: a fresh object gets its refs on commit.
    await this.o.objectStore.delete(dead.map(([k]) => k));
    const ops: Op[] = dead.map(([, ref]) => ({ type: 'delete', key: ref.walKey }) as Op);
    for (let i = 0; i < ops.length; i += 100) await this.o.metadata.txn([], ops.slice(i, i + 100));
    for (const [k] of dead) {
      this.objects.delete(k);
      this.cache.evictObject(k);
    }
  }

  async close(deadlineMs: number): Promise<void> {
    if (this.flusherInstance) await this.flusherInstance.close(deadlineMs);
  }
}
