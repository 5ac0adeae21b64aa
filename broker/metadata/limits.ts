// The limits every metadata store enforces (the engine behind the embedded and in-memory stores, and the etcd
// store's client-side validation), with their defaults (from broker/limits.ts).
import {
  metadataMaxKeyBytes,
  metadataMaxTxnBytes,
  metadataMaxTxnOpsCount,
  metadataMaxValueBytes,
  metadataWatchHistoryBytes,
  metadataWatchHistoryCount,
} from '../limits.ts';

export interface MetadataLimits {
  /** Largest key or prefix, in UTF-8 bytes. */
  maxKeyBytes: number;
  /** Largest value, in UTF-8 bytes. */
  maxValueBytes: number;
  /** Most compares, and most operations in each branch, of one transaction (etcd's --max-txn-ops default). */
  maxTxnOps: number;
  /** Largest transaction: UTF-8 bytes of all its keys, prefixes and values (etcd's --max-request-bytes default). */
  maxTxnBytes: number;
  minLeaseTtlMs: number;
  maxLeaseTtlMs: number;
  /** Revisions of change history kept for watches; a watch from an older revision gets CompactedRevisionError. */
  watchHistoryRevisions: number;
  /**
   * Bytes of change history kept for watches (keys, values, backend.ts's historyEventOverheadBytes per event); older revisions
   * are dropped beyond it, but the newest revision is always kept.
   */
  watchHistoryBytes: number;
}

export const defaultMetadataLimits: Readonly<MetadataLimits> = Object.freeze({
  maxKeyBytes: metadataMaxKeyBytes,
  maxValueBytes: metadataMaxValueBytes,
  maxTxnOps: metadataMaxTxnOpsCount,
  maxTxnBytes: metadataMaxTxnBytes,
  minLeaseTtlMs: 10,
  maxLeaseTtlMs: 30 * 24 * 60 * 60 * 1000,
  watchHistoryRevisions: metadataWatchHistoryCount,
  watchHistoryBytes: metadataWatchHistoryBytes,
});
