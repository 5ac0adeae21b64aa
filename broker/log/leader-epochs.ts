// Leader epochs of a partition and the offset each began at (Kafka's leader-epoch cache), and the end-offset
// lookup behind OffsetForLeaderEpoch (and, later, Fetch's diverging-epoch check).
import type { EpochStart } from './partition-log.ts';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

/**
 * Kafka's LeaderEpochFileCache.endOffsetFor: for the current (latest) epoch, the log end offset; for an older
 * epoch, the largest known epoch <= it and the start offset of the first epoch after it; for an epoch below
 * every known one, the requested epoch and the first known epoch's start offset; otherwise undefined (-1, -1).
 * `epochs` is sorted by epoch, ascending.
 */
export function endOffsetForEpoch(
  epochs: readonly EpochStart[],
  requestedEpoch: number,
  logEndOffset: number,
): { epoch: number; endOffset: number } {
  const undefinedResult = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
  if (requestedEpoch === UNDEFINED_EPOCH || epochs.length === 0) return undefinedResult;
  const latest = epochs[epochs.length - 1]!;
  if (latest.epoch === requestedEpoch) return { epoch: requestedEpoch, endOffset: logEndOffset };
  const higher = epochs.findIndex((e) => e.epoch > requestedEpoch);
  if (higher < 0) return undefinedResult;
  if (higher === 0) return { epoch: requestedEpoch, endOffset: epochs[0]!.startOffset };
  return { epoch: epochs[higher - 1]!.epoch, endOffset: epochs[higher]!.startOffset };
}
