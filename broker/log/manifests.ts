// Partition manifests (/partitions/<topicId>/<partition>): what this broker knows of each key, the manifest a
// partition's log state makes, and their guarded commits. Every manifest write — compaction, retention,
// DeleteRecords — runs through one chain (serialise), guarded by the fencing token and the manifest's
// modRevision, and is applied in memory by the caller only once committed.
import type { Logger } from 'pino';
import { logStartKey, partitionManifestKey } from '../metadata/layout.ts';
import type { PartitionManifest, SegmentRecord } from '../metadata/layout.ts';
import { InvalidMetadataRequestError } from '../metadata/errors.ts';
import type { Compare, MetadataStore, Op } from '../metadata/store.ts';
import type { CommitOutcome } from './compactor.ts';
import type { Extent, PartitionLog } from './partition-log.ts';
import { RetryAbortedError, retryForever } from './retry.ts';
import { manifestTxnMaxBytes, manifestTxnMaxOpsCount } from '../limits.ts';

/** What this broker knows of a partition's manifest key. */
export interface ManifestState {
  /** modRevision of the key as last read or written; 0 while it does not exist. */
  revision: number;
  /** A legacy /log-start/ key exists: the next manifest write deletes it. */
  legacyLogStart: boolean;
}

export interface ManifestUpdate {
  key: string;
  log: PartitionLog;
  state: ManifestState;
  value: string;
}

export const metadataRetriable = (e: unknown) =>
  !(e instanceof InvalidMetadataRequestError) && (e as Error).name !== 'MetadataStoreClosedError';

/** The in-memory key of a partition (its logs, manifest states). */
export function partitionKey(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

/** The segments a manifest names, as extents of the partition's log. */
export function segmentExtents(manifest: PartitionManifest | null): Extent[] {
  return (manifest?.segments ?? []).map(
    (s): Extent => ({
      baseOffset: s.baseOffset,
      lastOffset: s.lastOffset,
      maxTimestamp: s.maxTimestamp,
      objectKey: s.objectKey,
      position: 0,
      lengthBytes: s.dataBytes,
      segment: true,
      objectSizeBytes: s.sizeBytes,
    }),
  );
}

function segmentRecords(extents: readonly Extent[], logStartOffset: number): SegmentRecord[] {
  return extents
    .filter((e) => e.segment && e.lastOffset >= logStartOffset)
    .map((e) => ({
      objectKey: e.objectKey,
      baseOffset: e.baseOffset,
      lastOffset: e.lastOffset,
      maxTimestamp: e.maxTimestamp,
      sizeBytes: e.objectSizeBytes,
      dataBytes: e.lengthBytes,
    }));
}

export interface ManifestWriterOptions {
  metadata: MetadataStore;
  logger: Logger;
  /** The compares that prove this broker still holds its fencing token. */
  fence: () => Compare[];
  /** Cluster mode: manifests carry the leader epoch history. */
  clustered: boolean;
  /** Set when shutdown's deadline passes: metadata retries stop. */
  isAborted: () => boolean;
  stats: { manifestCommits: number; manifestsRefused: number };
}

export class ManifestWriter {
  private readonly o: ManifestWriterOptions;
  private readonly states = new Map<string, ManifestState>();
  /** Every manifest write (compaction, DeleteRecords, retention) and topic deletion: one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(options: ManifestWriterOptions) {
    this.o = options;
  }

  /** Runs `fn` after every manifest write before it has finished. */
  serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Settles when the manifest writes queued so far have finished. */
  get idle(): Promise<unknown> {
    return this.chain;
  }

  /** The partition's state (created, as of a missing key, if unknown). */
  stateOf(k: string): ManifestState {
    let state = this.states.get(k);
    if (!state) this.states.set(k, (state = { revision: 0, legacyLogStart: false }));
    return state;
  }

  /** The partition's manifest key was read at `revision`. */
  loaded(k: string, revision: number): void {
    this.states.set(k, { revision, legacyLogStart: false });
  }

  forget(k: string): void {
    this.states.delete(k);
  }

  /** The manifest of `log` with these extents and log start (and producer snapshot). */
  update(
    log: PartitionLog,
    extents: readonly Extent[],
    logStartOffset: number,
    producerSnapshot = log.producerSnapshot,
    cleanedEnd = log.cleanedEnd,
  ): ManifestUpdate {
    const state = this.stateOf(partitionKey(log.topicId, log.partition));
    const manifest: PartitionManifest = { segments: segmentRecords(extents, logStartOffset), logStartOffset };
    if (this.o.clustered) manifest.epochs = log.epochStarts;
    if (producerSnapshot) manifest.producerState = producerSnapshot;
    if (cleanedEnd > 0) manifest.cleanedEnd = cleanedEnd;
    return { key: partitionManifestKey(log.topicId, log.partition), log, state, value: JSON.stringify(manifest) };
  }

  /**
   * Writes manifests, several per transaction (at most manifestTxnMaxOpsCount operations and manifestTxnMaxBytes), each guarded
   * by the fencing token and its modRevision; a legacy /log-start/ key goes in the same transaction. Per update:
   * committed; refused (it did not and never will commit); or unknown (shutdown while retrying, or an error
   * after an attempt that may have committed — then nothing built on it may be deleted).
   */
  async commit(updates: ManifestUpdate[], notAfterMs = Infinity): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = updates.map(() => 'refused');
    for (let i = 0; i < updates.length; ) {
      const first = i;
      const chunk = nextChunk(updates, first);
      i += chunk.length;
      const { outcome, revision } = await this.commitChunk(chunk, notAfterMs);
      for (let j = 0; j < chunk.length; j++) outcomes[first + j] = outcome;
      if (outcome === 'committed') {
        this.o.stats.manifestCommits++;
        for (const u of chunk) {
          u.state.revision = revision;
          u.state.legacyLogStart = false;
        }
      } else {
        this.o.stats.manifestsRefused += chunk.length;
        this.o.logger.warn(
          { outcome, manifests: chunk.length },
          'manifest commit not applied: fenced, or a manifest changed under this broker',
        );
        return outcomes; // the rest was never sent: refused
      }
    }
    return outcomes;
  }

  /** One transaction of manifests: its outcome, and the revision it committed at. */
  private async commitChunk(chunk: ManifestUpdate[], notAfterMs: number): Promise<{ outcome: CommitOutcome; revision: number }> {
    const compares: Compare[] = [
      ...this.o.fence(),
      ...chunk.map((u): Compare => ({ key: u.key, target: 'modRevision', op: '=', value: u.state.revision })),
    ];
    const txnOps: Op[] = chunk.flatMap((u): Op[] => [
      { type: 'put', key: u.key, value: u.value },
      ...(u.state.legacyLogStart ? [{ type: 'delete', key: logStartKey(u.log.topicId, u.log.partition) } as Op] : []),
    ]);
    let retried = false;
    let outcome: CommitOutcome;
    let revision = 0;
    try {
      const attempt = () => {
        // Past its deadline a commit of new segments is not sent (again): the orphan sweep may delete them then.
        if (Date.now() > notAfterMs) throw new CommitDeadlineError(notAfterMs);
        return this.o.metadata.txn(compares, txnOps);
      };
      const result = await retryForever('commit partition manifests', attempt, {
        logger: this.o.logger,
        isClosed: this.o.isAborted,
        isRetriable: (e) => !(e instanceof CommitDeadlineError) && metadataRetriable(e),
        onRetry: () => (retried = true),
      });
      revision = result.revision;
      outcome = result.succeeded ? 'committed' : 'refused';
      if (!result.succeeded && retried) {
        // An attempt that failed in transit may have committed: then the key holds exactly this value.
        const kv = await retryForever('read partition manifest', () => this.o.metadata.get(chunk[0]!.key), {
          logger: this.o.logger,
          isClosed: this.o.isAborted,
          isRetriable: metadataRetriable,
        });
        if (kv?.value === chunk[0]!.value) {
          outcome = 'committed';
          revision = kv.modRevision;
        } else {
          outcome = 'unknown';
        }
      }
    } catch (err) {
      outcome = (err instanceof InvalidMetadataRequestError || err instanceof CommitDeadlineError) && !retried ? 'refused' : 'unknown';
      if (err instanceof CommitDeadlineError) this.o.logger.warn({ manifests: chunk.length, retried }, err.message);
      else if (!(err instanceof RetryAbortedError)) this.o.logger.error({ err, manifests: chunk.length }, 'manifest commit failed');
    }
    return { outcome, revision };
  }
}

/** The updates from `first` on that fit one transaction (at least one). */
function nextChunk(updates: ManifestUpdate[], first: number): ManifestUpdate[] {
  const chunk: ManifestUpdate[] = [];
  let ops = 0;
  let bytes = 0;
  for (let i = first; i < updates.length; i++) {
    const u = updates[i]!;
    const n = u.state.legacyLogStart ? 2 : 1;
    const b = 2 * u.key.length + u.value.length;
    if (chunk.length > 0 && (ops + n > manifestTxnMaxOpsCount || bytes + b > manifestTxnMaxBytes)) break;
    chunk.push(u);
    ops += n;
    bytes += b;
  }
  return chunk;
}

/** A commit of new segment objects not sent because its deadline (segment commit timeout) passed. */
export class CommitDeadlineError extends Error {
  constructor(notAfterMs: number) {
    super(`manifest commit abandoned: its deadline passed ${Date.now() - notAfterMs} ms ago (skafos.segment.commit.timeout.ms)`);
    this.name = 'CommitDeadlineError';
  }
}
