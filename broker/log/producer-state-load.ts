// Producer state as derived from the log (spec/producer-state.md): rebuilt from the snapshot in the partition
// manifest plus the batch headers of the uncompacted tail, lazily, on first use; and the snapshot compaction
// writes, advanced over the batches of its new segments. Only 61-byte batch headers are read, never records.
import { readBaseOffset, readBatchLength, readLastOffsetDelta } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import type { ProducerSnapshotRecord } from '../metadata/layout.ts';
import { ObjectNotFoundError } from '../storage/object-store.ts';
import { ProducerStateManager, producerStateStats } from './producer-state.ts';
import type { ProducerSnapshot, ProducerStateSettings } from './producer-state.ts';
import { producerStateLoadReadBytes } from '../limits.ts';

/**
 * The snapshot after the batches of `chunks` (whole batches, by offset, each array of consecutive chunks) on
 * top of `base`: what compaction writes into the manifest when new segments end at `endOffset`. Batches below
 * the base's offset are already in it. A partition without a snapshot (its manifest predates producer state)
 * starts empty: producers of its older segments are forgotten, as if expired.
 */
export function advanceSnapshot(
  base: ProducerSnapshot | null,
  chunks: readonly Buffer[],
  endOffset: number,
  logStartOffset: number,
  nowMs: number,
  settings: ProducerStateSettings,
): ProducerSnapshot {
  const from = base?.offset ?? 0;
  if (endOffset <= from) return base!;
  const m = ProducerStateManager.fromSnapshot(base, settings);
  for (const c of chunks) m.applyBatches(c, from);
  m.truncateHead(logStartOffset);
  m.expire(nowMs);
  return m.toSnapshot(endOffset);
}

/**
 * What loading producer state uses of a partition's log: a PartitionLog (partition-log.ts, which holds the
 * loaded state) is one. Declared here so that this module does not depend on the log's.
 */
export interface ProducerStateLog {
  producerState: ProducerStateManager | null;
  /** Bumped each time producerState is dropped, so a rebuild under way knows it is stale. */
  readonly producerStateResets: number;
  readonly producerSnapshot: ProducerSnapshotRecord | null;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly extents: readonly { baseOffset: number; segment: boolean }[];
}

/** Reads whole batches of a log from `offset` on, below `end` (LogManager.read). */
export type LogReader<L extends ProducerStateLog = ProducerStateLog> = (
  log: L,
  offset: number,
  maxBytes: number,
  minOneBatch: boolean,
  end: number,
) => Promise<Buffer | null>;

/** Reads of a rebuild that found their object collected, tried again against the current log (with backoff). */
const maxRebuildLookAgain = 5;
const rebuildLookAgainBackoffMs = 20;

const loads = new WeakMap<ProducerStateLog, Promise<void>>();

/**
 * The partition's producer state, rebuilt first if needed: from its snapshot (as of the end of its segments)
 * plus the batch headers of the durable log after it. Rebuilt lazily, by the first idempotent Produce after
 * start or after unflushed appends were abandoned, so starting a broker reads nothing more. Meanwhile no
 * idempotent batch is appended to the partition (they all wait here), so the durable log is all there is.
 */
export async function producerStateOf<L extends ProducerStateLog>(
  log: L,
  read: LogReader<L>,
  settings: ProducerStateSettings,
): Promise<ProducerStateManager> {
  for (;;) {
    if (log.producerState !== null) return log.producerState;
    let p = loads.get(log);
    if (p === undefined) {
      p = rebuild(log, read, settings).finally(() => loads.delete(log));
      loads.set(log, p);
    }
    await p;
  }
}

async function rebuild<L extends ProducerStateLog>(log: L, read: LogReader<L>, settings: ProducerStateSettings): Promise<void> {
  const started = Date.now();
  const resets = log.producerStateResets;
  const snapshot = log.producerSnapshot;
  const end = log.highWatermark;
  // Without a snapshot (a manifest older than producer state, or none yet) the scan starts after the segments.
  // Reads start at the log start when it is later; the batch holding it (the log start may fall inside a batch,
  // after DeleteRecords) is applied, as Kafka keeps a producer whose last batch ends at or after the log start.
  let offset = snapshot?.offset ?? firstWalOffset(log);
  const m = ProducerStateManager.fromSnapshot(snapshot, settings);
  let lookAgain = 0;
  while (offset < end) {
    // Compaction, retention and DeleteRecords go on meanwhile, and collection deletes the objects they release,
    // possibly one this read is using. The reader looks an offset up again when its extent was replaced (by a
    // segment); when the log start moved past it, the scan goes on from the new log start (what lies below is
    // truncated away at the end anyway), and a read that still found its object gone is tried again against
    // the log as it is then.
    const from = Math.max(offset, log.logStartOffset);
    let data: Buffer | null;
    try {
      data = await read(log, from, producerStateLoadReadBytes, true, end);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError) || ++lookAgain > maxRebuildLookAgain) throw error;
      await new Promise((resolve) => setTimeout(resolve, lookAgain * rebuildLookAgainBackoffMs));
      continue;
    }
    if (data === null) {
      if (from < log.logStartOffset) continue; // the log start passed `from` while it was read
      break;
    }
    let next = offset;
    for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= data.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos)) {
      next = Math.max(next, readBaseOffset(data, pos) + readLastOffsetDelta(data, pos) + 1);
      producerStateStats.batchesScanned++;
    }
    m.applyBatches(data, offset);
    producerStateStats.bytesScanned += data.length;
    if (next <= offset) break;
    offset = next;
  }
  if (log.producerStateResets !== resets) return; // appends abandoned meanwhile: the caller rebuilds again
  m.truncateHead(log.logStartOffset);
  m.expire(Date.now());
  log.producerState = m;
  producerStateStats.loads++;
  producerStateStats.ms += Date.now() - started;
}

function firstWalOffset(log: ProducerStateLog): number {
  for (const e of log.extents) if (!e.segment) return e.baseOffset;
  return log.highWatermark;
}
