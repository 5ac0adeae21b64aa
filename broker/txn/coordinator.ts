// The transaction coordinator (spec/transactions.md): Kafka's TransactionCoordinator and TransactionStateManager
// over the metadata store. A transactional id maps to one of the `transaction` coordinator partitions exactly as
// Kafka maps it to a partition of __transaction_state; the broker owning that partition serves it, keeps its
// transactional ids in memory, and writes every state transition to the metadata store, guarded by
// coordinatorFence('transaction', partition), before answering.
//
// States: Empty → Ongoing → PrepareCommit|PrepareAbort → CompleteCommit|CompleteAbort → Ongoing ..., and Dead
// (expired). After a Prepare state is durable the client is answered, and the COMMIT/ABORT markers are sent
// to every partition of the transaction (MarkerSender); once all are written the Complete state is stored.
// A broker taking over a partition completes its Prepare transactions by sending their markers again.
//
// The transactional ids' data and producer epoch rules are in txn-metadata.ts; DescribeTransactions and
// ListTransactions in txn-describe.ts.
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { CoordinatorPartitions } from '../cluster/coordinator-partitions.ts';
import { txnKey, txnPartitionPrefix } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { TxnMetadata, epochExhausted, maxEpoch, noProducerEpoch, noProducerId } from './txn-metadata.ts';
import type { ExpectedProducer, TxnRecord, TxnState } from './txn-metadata.ts';
import { describeTransaction, listTransactions } from './txn-describe.ts';
import type { ListedTransaction, TxnDescription } from './txn-describe.ts';
import { coordinatorCloseWaitMs, coordinatorLoadRetryMs, txnCompleteRetryBackoffMaxMs, txnCompleteRetryBackoffMinMs } from '../limits.ts';

/** The internal topic name Kafka gives the partitions of group coordinators inside a transaction (AddOffsetsToTxn). */
export const groupOffsetsTopic = '__consumer_offsets';

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Partitions grouped by topic, in first-seen order: the shape of every per-topic partition list on the wire. */
export function partitionsByTopic(tps: readonly TopicPartition[]): [topic: string, partitions: number[]][] {
  const topics = new Map<string, number[]>();
  for (const tp of tps) {
    let list = topics.get(tp.topic);
    if (!list) topics.set(tp.topic, (list = []));
    list.push(tp.partition);
  }
  return [...topics];
}

/** A marker to write to each partition of a transaction. */
export interface MarkerJob {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  partitions: TopicPartition[];
}

/**
 * Writes markers (broker/txn/markers.ts). Resolves once every partition has its marker (or no longer exists),
 * retrying meanwhile; gives up (resolves false) as soon as `current()` turns false.
 */
export interface MarkerSender {
  send(job: MarkerJob, current: () => boolean): Promise<boolean>;
}

export interface TxnCoordinatorOptions {
  /** transaction.max.timeout.ms */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms */
  idExpirationMs: number;
  /** transaction.abort.timed.out.transaction.cleanup.interval.ms */
  abortTimedOutIntervalMs: number;
  /** transaction.remove.expired.transaction.cleanup.interval.ms */
  removeExpiredIntervalMs: number;
  /** Partitions per transaction at most (skafos.transaction.max.partitions). */
  maxPartitions: number;
}

export interface InitResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

/** EndTxn v5's answer (transaction version 2): the producer id and epoch to continue with, -1 on error. */
export type EndTxnResult = InitResult;

class FencedError extends Error {
  constructor() {
    super('the transaction coordinator partition is no longer owned by this broker');
    this.name = 'FencedError';
  }
}

function writeErrorCode(e: unknown): number {
  // Kafka answers a failed write of __transaction_state with NOT_COORDINATOR (retriable: the client looks it up again).
  if (e instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return ErrorCode.NOT_COORDINATOR;
}

function initFail(errorCode: number): InitResult {
  return { errorCode, producerId: -1, producerEpoch: -1 };
}

export class TransactionCoordinator {
  private readonly metadata: MetadataStore;
  private readonly cluster: Cluster;
  private readonly logger: Logger;
  private readonly o: TxnCoordinatorOptions;
  private readonly allocateProducerId: () => Promise<number>;
  private readonly now: () => number;
  markers: MarkerSender;
  private readonly txns = new Map<string, TxnMetadata>();
  /** Loaded partitions → their coordinator epoch (the partition's ownership epoch when loaded). */
  private readonly loaded = new Map<number, number>();
  private readonly partitions: CoordinatorPartitions;
  private readonly inFlight = new Set<Promise<unknown>>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(args: {
    metadata: MetadataStore;
    cluster: Cluster;
    logger: Logger;
    options: TxnCoordinatorOptions;
    allocateProducerId: () => Promise<number>;
    markers: MarkerSender;
    now?: () => number;
  }) {
    this.metadata = args.metadata;
    this.cluster = args.cluster;
    this.logger = args.logger;
    this.o = args.options;
    this.allocateProducerId = args.allocateProducerId;
    this.markers = args.markers;
    this.now = args.now ?? Date.now;
    this.partitions = new CoordinatorPartitions({
      cluster: this.cluster,
      kind: 'transaction',
      logger: this.logger,
      what: 'transaction coordinator partition',
      retryMs: coordinatorLoadRetryMs,
      load: (partition, epoch, isCurrent) => this.loadPartition(partition, epoch, isCurrent),
      unload: (partition) => this.unloadPartition(partition),
      loaded: (partition) => this.resumeCompletions(partition),
    });
  }

  async start(): Promise<void> {
    this.partitions.start();
    const abortTimer = setInterval(() => this.abortTimedOut(), this.o.abortTimedOutIntervalMs);
    const expireTimer = setInterval(() => this.removeExpired(), this.o.removeExpiredIntervalMs);
    abortTimer.unref();
    expireTimer.unref();
    this.timers.push(abortTimer, expireTimer);
    await this.settled();
  }

  /** Resolves when no load, write or marker job is in flight (tests). */
  async settled(): Promise<void> {
    await this.partitions.loadsSettled();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.partitions.close();
    for (const t of this.timers) clearInterval(t);
    this.txns.clear();
    this.loaded.clear();
    await this.partitions.settle(this.inFlight, coordinatorCloseWaitMs);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => {});
    return p;
  }

  // ---- ownership and loading ----

  private owns(partition: number): boolean {
    return !this.closed && this.partitions.owns(partition);
  }

  /** NONE when this broker serves the transactional id now, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  status(transactionalId: string): number {
    return this.partitions.status(transactionalId);
  }

  private unloadPartition(partition: number): void {
    this.loaded.delete(partition);
    for (const [id, md] of this.txns) if (md.coordinatorPartition === partition) this.txns.delete(id);
  }

  /** Reads the partition's transactional ids from the metadata store (CoordinatorPartitions retries failures). */
  private async loadPartition(partition: number, epoch: number, isCurrent: () => boolean): Promise<void> {
    const kvs = await this.metadata.getPrefix(txnPartitionPrefix(partition));
    if (!isCurrent()) return;
    for (const kv of kvs) {
      const md = new TxnMetadata(partition, JSON.parse(kv.value) as TxnRecord);
      md.stored = true;
      this.txns.set(md.transactionalId, md);
    }
    this.loaded.set(partition, epoch);
    this.logger.debug({ partition, transactionalIds: kvs.length }, 'transaction coordinator partition read');
  }

  /** Transactions the previous owner decided but did not complete: their markers are sent again. */
  private resumeCompletions(partition: number): void {
    for (const md of [...this.txns.values()]) {
      if (md.coordinatorPartition === partition && (md.state === 'PrepareCommit' || md.state === 'PrepareAbort'))
        this.completeTransaction(md);
    }
  }

  // ---- writes ----

  /** Stores `next` for md (its pending state set meanwhile), then applies it in memory. NONE or the error code. */
  private async transit(md: TxnMetadata, next: TxnRecord): Promise<number> {
    const p = md.coordinatorPartition;
    const epoch = this.loaded.get(p);
    md.pending = next.state;
    try {
      if (!this.owns(p) || epoch === undefined) throw new FencedError();
      const r = await this.metadata.txn(this.cluster.coordinatorFence('transaction', p), [
        { type: 'put', key: txnKey(p, md.transactionalId), value: JSON.stringify(next) },
      ]);
      if (!r.succeeded) throw new FencedError();
    } catch (err) {
      md.pending = null;
      this.logger.warn({ err, transactionalId: md.transactionalId, to: next.state }, 'transaction state write failed');
      return writeErrorCode(err);
    }
    md.pending = null;
    // Unloaded (ownership lost) while the write was in flight: the new owner has the truth.
    if (this.txns.get(md.transactionalId) !== md || this.loaded.get(p) !== epoch) return ErrorCode.NOT_COORDINATOR;
    Object.assign(md, next);
    md.partitions = next.partitions.map(([t, q]) => [t, q]);
    md.stored = true;
    return ErrorCode.NONE;
  }

  // ---- InitProducerId ----

  async initProducerId(transactionalId: string, timeoutMs: number, expectedProducerId: number, expectedEpoch: number): Promise<InitResult> {
    if (transactionalId === '') return initFail(ErrorCode.INVALID_REQUEST);
    if (timeoutMs <= 0 || timeoutMs > this.o.maxTimeoutMs) return initFail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const status = this.status(transactionalId);
    if (status !== ErrorCode.NONE) return initFail(status);
    const md = await this.txnForInit(transactionalId, timeoutMs);
    if (typeof md === 'number') return initFail(md);
    const expected = expectedProducerId >= 0 ? { producerId: expectedProducerId, epoch: expectedEpoch } : null;
    if (md.pending !== null) return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (
      expected !== null &&
      !(
        md.producerEpoch === noProducerEpoch ||
        expected.producerId === md.producerId ||
        (expected.producerId === md.lastProducerId && epochExhausted(expected.epoch))
      )
    ) {
      return initFail(ErrorCode.PRODUCER_FENCED);
    }
    const now = this.now();
    switch (md.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
        return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case 'Ongoing': {
        // Fence the producer (bump its epoch) and abort its transaction; the client retries until it is done.
        const code = await this.fenceAndAbort(md);
        return initFail(code === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : code);
      }
      case 'Empty':
      case 'CompleteCommit':
      case 'CompleteAbort':
        return this.bumpForInit(md, expected, timeoutMs, now);
      default:
        return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
  }

  /** The id's metadata; a new id gets a producer id (stored by its first transition). Else an error code. */
  private async txnForInit(transactionalId: string, timeoutMs: number): Promise<TxnMetadata | number> {
    let md = this.txns.get(transactionalId);
    if (md === undefined) {
      let producerId: number;
      try {
        producerId = await this.allocateProducerId();
      } catch (err) {
        this.logger.warn({ err }, 'could not allocate a producer id');
        return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
      }
      const again = this.status(transactionalId);
      if (again !== ErrorCode.NONE) return again;
      md = this.txns.get(transactionalId);
      if (md === undefined) {
        const now = this.now();
        md = new TxnMetadata(coordinatorPartitionOf(transactionalId), {
          transactionalId,
          producerId,
          lastProducerId: noProducerId,
          producerEpoch: noProducerEpoch,
          lastProducerEpoch: noProducerEpoch,
          timeoutMs,
          state: 'Empty',
          partitions: [],
          txnStartTimestamp: -1,
          lastUpdateTimestamp: now,
        });
        this.txns.set(transactionalId, md);
      }
    }
    return md;
  }

  /** InitProducerId of an Empty or Complete transaction: the producer's next epoch (or new producer id), stored. */
  private async bumpForInit(md: TxnMetadata, expected: ExpectedProducer | null, timeoutMs: number, now: number): Promise<InitResult> {
    const transactionalId = md.transactionalId;
    let next: TxnRecord;
    if (epochExhausted(md.producerEpoch) && (expected === null || expected.epoch === md.producerEpoch)) {
      let producerId: number;
      try {
        producerId = await this.allocateProducerId();
      } catch {
        return initFail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      }
      if (md.pending !== null || this.txns.get(transactionalId) !== md) return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
      next = md.withNewProducerId(producerId, expected, timeoutMs, now);
    } else {
      const bumped = md.withNextEpoch(expected, timeoutMs, now);
      if (bumped === null) return initFail(ErrorCode.PRODUCER_FENCED);
      next = bumped;
    }
    const code = await this.transit(md, next);
    if (code !== ErrorCode.NONE) {
      if (!md.stored && this.txns.get(transactionalId) === md) this.txns.delete(transactionalId);
      return initFail(code);
    }
    return { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
  }

  /** Bumps the epoch of an Ongoing transaction's producer and aborts it (re-initialisation, timeout). */
  private async fenceAndAbort(md: TxnMetadata): Promise<number> {
    const previous = md.producerEpoch;
    // Kafka's prepareFenceProducerEpoch: the bump is in memory until the PrepareAbort carrying it is stored.
    if (md.producerEpoch < maxEpoch) md.producerEpoch++;
    const code = await this.endTransactionInternal(md, md.producerId, md.producerEpoch, false, false);
    if (code !== ErrorCode.NONE && this.txns.get(md.transactionalId) === md && md.state === 'Ongoing') md.producerEpoch = previous;
    return code;
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn ----

  /** Per partition error codes, in the order of `partitions` (NONE for all on success). */
  async addPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartition[]): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const status = this.status(transactionalId);
    if (status !== ErrorCode.NONE) return status;
    const md = this.txns.get(transactionalId);
    if (md === undefined || md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (md.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (md.pending !== null) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (md.state === 'PrepareCommit' || md.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (md.state === 'Dead' || md.state === 'PrepareEpochFence') return ErrorCode.INVALID_TXN_STATE;
    const added = partitions.filter(
      (tp, i) =>
        !md.hasPartition(tp.topic, tp.partition) && partitions.findIndex((o) => o.topic === tp.topic && o.partition === tp.partition) === i,
    );
    if (md.state === 'Ongoing' && added.length === 0) return ErrorCode.NONE;
    if (md.partitions.length + added.length > this.o.maxPartitions) return ErrorCode.INVALID_REQUEST;
    const now = this.now();
    const next: TxnRecord = {
      ...md.record(),
      state: 'Ongoing',
      partitions: [...(md.state === 'Ongoing' ? md.partitions : []), ...added.map((tp): [string, number] => [tp.topic, tp.partition])],
      txnStartTimestamp: md.state === 'Ongoing' ? md.txnStartTimestamp : now,
      lastUpdateTimestamp: now,
    };
    return this.transit(md, next);
  }

  /** AddPartitionsToTxn v4+ verifyOnly (KIP-890): whether each partition is in the producer's ongoing transaction. */
  verifyPartitions(transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartition[]): number[] {
    const all = (code: number) => partitions.map(() => code);
    const status = this.status(transactionalId);
    if (status !== ErrorCode.NONE) return all(status);
    const md = this.txns.get(transactionalId);
    if (md === undefined || md.producerId !== producerId) return all(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (md.producerEpoch !== producerEpoch) return all(ErrorCode.PRODUCER_FENCED);
    if (md.state === 'PrepareCommit' || md.state === 'PrepareAbort') return all(ErrorCode.CONCURRENT_TRANSACTIONS);
    return partitions.map((tp) =>
      md.state === 'Ongoing' && md.hasPartition(tp.topic, tp.partition) ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE,
    );
  }

  // ---- EndTxn ----

  /**
   * EndTxn v5+ (transaction version 2, KIP-890 part 2; Kafka's TransactionCoordinator.endTransaction): every
   * commit or abort bumps the producer epoch, the markers carry the bumped epoch, and the answer gives the producer
   * id and epoch to continue with. A retry names the epoch before the bump (answered from the Complete state);
   * an abort with nothing added (Empty, or Complete* at the current epoch) is a transaction of its own. When the
   * epoch is exhausted a new producer id is taken: the markers carry the old id at the last epoch, and the
   * transaction completes with the new id at epoch 0.
   */
  async endTransactionV2(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<EndTxnResult> {
    if (transactionalId === '') return initFail(ErrorCode.INVALID_REQUEST);
    const status = this.status(transactionalId);
    if (status !== ErrorCode.NONE) return initFail(status);
    const md = this.txns.get(transactionalId);
    if (md === undefined) return initFail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    // A retry of an EndTxn whose bump rotated the producer id (the epoch was exhausted).
    const retryOnOverflow = md.lastProducerId === producerId && producerEpoch === maxEpoch - 1 && md.producerEpoch === 0;
    // A retry of an EndTxn whose epoch bump is stored.
    const retryOnEpochBump = md.producerEpoch === producerEpoch + 1;
    let validEpoch: boolean;
    switch (md.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
        validEpoch = retryOnEpochBump;
        break;
      case 'CompleteCommit':
      case 'CompleteAbort':
        validEpoch = retryOnEpochBump || retryOnOverflow || producerEpoch === md.producerEpoch;
        break;
      default:
        validEpoch = producerEpoch === md.producerEpoch;
    }
    const retry = retryOnEpochBump || retryOnOverflow;
    if (md.producerId !== producerId && !retryOnOverflow) return initFail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (!validEpoch) return initFail(ErrorCode.PRODUCER_FENCED);
    if (md.pending !== null) return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
    const current = (): EndTxnResult => ({ errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch });
    switch (md.state) {
      case 'Ongoing':
        return this.prepareEndV2(md, commit, false);
      case 'CompleteCommit':
        if (commit) return retry ? current() : initFail(ErrorCode.INVALID_TXN_STATE);
        return retry ? initFail(ErrorCode.INVALID_TXN_STATE) : this.prepareEndV2(md, false, true);
      case 'CompleteAbort':
        if (commit) return initFail(ErrorCode.INVALID_TXN_STATE);
        return retry ? current() : this.prepareEndV2(md, false, true);
      case 'Empty':
        return commit ? initFail(ErrorCode.INVALID_TXN_STATE) : this.prepareEndV2(md, false, true);
      case 'PrepareCommit':
        return initFail(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
      case 'PrepareAbort':
        return initFail(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
      default:
        return initFail(ErrorCode.INVALID_TXN_STATE);
    }
  }

  /** Stores PrepareCommit/PrepareAbort with the epoch bumped (a new producer id to come if exhausted), then sends the markers. */
  private async prepareEndV2(md: TxnMetadata, commit: boolean, nothingAdded: boolean): Promise<EndTxnResult> {
    let nextProducerId = noProducerId;
    if (epochExhausted(md.producerEpoch)) {
      try {
        nextProducerId = await this.allocateProducerId();
      } catch (err) {
        this.logger.warn({ err }, 'could not allocate a producer id');
        return initFail(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      }
      if (md.pending !== null || this.txns.get(md.transactionalId) !== md) return initFail(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const now = this.now();
    const code = await this.transit(md, {
      ...md.record(),
      producerEpoch: md.producerEpoch + 1,
      lastProducerEpoch: md.producerEpoch,
      nextProducerId,
      state: commit ? 'PrepareCommit' : 'PrepareAbort',
      txnStartTimestamp: nothingAdded ? now : md.txnStartTimestamp,
      lastUpdateTimestamp: now,
    });
    if (code !== ErrorCode.NONE) return initFail(code);
    const answer = { errorCode: ErrorCode.NONE, producerId: md.producerId, producerEpoch: md.producerEpoch };
    this.completeTransaction(md);
    return answer;
  }

  async endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const status = this.status(transactionalId);
    if (status !== ErrorCode.NONE) return status;
    const md = this.txns.get(transactionalId);
    if (md === undefined) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    return this.endTransactionInternal(md, producerId, producerEpoch, commit, true);
  }

  private async endTransactionInternal(
    md: TxnMetadata,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    fromClient: boolean,
  ): Promise<number> {
    if (md.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if ((fromClient && producerEpoch !== md.producerEpoch) || producerEpoch < md.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (md.pending !== null) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (md.state) {
      case 'Ongoing': {
        const now = this.now();
        const code = await this.transit(md, {
          ...md.record(),
          producerEpoch: md.producerEpoch,
          state: commit ? 'PrepareCommit' : 'PrepareAbort',
          lastUpdateTimestamp: now,
        });
        if (code === ErrorCode.NONE) this.completeTransaction(md);
        return code;
      }
      case 'CompleteCommit':
      case 'Empty':
        // An abort with no partition added since the last transaction ended has nothing to abort: success (as
        // Kafka answers it with transaction version 2). librdkafka sends one when its AddPartitionsToTxn met
        // CONCURRENT_TRANSACTIONS while the previous transaction's markers were being written.
        return commit ? (md.state === 'CompleteCommit' ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE) : ErrorCode.NONE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case 'PrepareAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      default:
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /** Sends the markers of a Prepare transaction, then stores its Complete state (retrying while this broker owns it). */
  private completeTransaction(md: TxnMetadata): void {
    const commit = md.state === 'PrepareCommit';
    const p = md.coordinatorPartition;
    const epoch = this.loaded.get(p);
    if (epoch === undefined) return;
    const current = () => this.txns.get(md.transactionalId) === md && this.loaded.get(p) === epoch && this.owns(p);
    const job: MarkerJob = {
      transactionalId: md.transactionalId,
      producerId: md.producerId,
      producerEpoch: md.producerEpoch,
      commit,
      coordinatorEpoch: epoch,
      partitions: md.partitions.map(([topic, partition]) => ({ topic, partition })),
    };
    const target: TxnState = commit ? 'CompleteCommit' : 'CompleteAbort';
    md.pending = target;
    this.track(
      (async () => {
        let done = false;
        try {
          done = job.partitions.length === 0 || (await this.markers.send(job, current));
        } catch (err) {
          this.logger.error({ err, transactionalId: md.transactionalId }, 'sending transaction markers failed');
        }
        md.pending = null;
        if (!done || !current()) return;
        for (let attempt = 0; current(); attempt++) {
          const complete: TxnRecord = { ...md.record(), state: target, partitions: [], lastUpdateTimestamp: this.now() };
          if (md.nextProducerId !== undefined && md.nextProducerId >= 0) {
            // Transaction version 2 with the epoch exhausted: the producer continues with its new id at epoch 0.
            complete.lastProducerId = md.producerId;
            complete.producerId = md.nextProducerId;
            complete.producerEpoch = 0;
            complete.nextProducerId = noProducerId;
          }
          const code = await this.transit(md, complete);
          if (code === ErrorCode.NONE || code === ErrorCode.NOT_COORDINATOR) return;
          await new Promise((res) =>
            setTimeout(res, Math.min(txnCompleteRetryBackoffMinMs * 2 ** attempt, txnCompleteRetryBackoffMaxMs)).unref(),
          );
        }
      })(),
    );
  }

  // ---- timeouts and expiry ----

  /** Aborts Ongoing transactions older than their timeout (transaction.abort.timed.out.transaction.cleanup.interval.ms). */
  abortTimedOut(): void {
    if (this.closed) return;
    const now = this.now();
    for (const md of this.txns.values()) {
      if (md.state !== 'Ongoing' || md.pending !== null || md.txnStartTimestamp + md.timeoutMs >= now) continue;
      this.logger.info(
        { transactionalId: md.transactionalId, producerId: md.producerId, epoch: md.producerEpoch },
        'aborting a timed-out transaction',
      );
      this.track(this.fenceAndAbort(md));
    }
  }

  /** Forgets transactional ids idle longer than transactional.id.expiration.ms (Kafka: they become Dead, then removed). */
  removeExpired(): void {
    if (this.closed) return;
    const now = this.now();
    for (const md of this.txns.values()) {
      if (md.pending !== null || !(md.state === 'Empty' || md.state === 'CompleteCommit' || md.state === 'CompleteAbort')) continue;
      if (md.lastUpdateTimestamp + this.o.idExpirationMs > now) continue;
      const p = md.coordinatorPartition;
      md.pending = 'Dead';
      this.track(
        (async () => {
          try {
            if (!this.owns(p)) return;
            const r = await this.metadata.txn(this.cluster.coordinatorFence('transaction', p), [
              { type: 'delete', key: txnKey(p, md.transactionalId) },
            ]);
            if (r.succeeded && this.txns.get(md.transactionalId) === md) {
              this.txns.delete(md.transactionalId);
              md.state = 'Dead';
            }
          } catch (err) {
            this.logger.warn({ err, transactionalId: md.transactionalId }, 'removing an expired transactional id failed');
          } finally {
            md.pending = null;
          }
        })(),
      );
    }
  }

  // ---- DescribeTransactions / ListTransactions (txn-describe.ts) ----

  describe(transactionalId: string): TxnDescription {
    return describeTransaction(transactionalId, this.status(transactionalId), this.txns.get(transactionalId));
  }

  /** ListTransactions: the transactional ids of the partitions this broker serves, filtered. */
  list(
    stateFilters: string[],
    producerIdFilters: number[],
    durationFilterMs: number,
  ): { unknownStateFilters: string[]; transactionStates: ListedTransaction[] } {
    const loaded = [...this.txns.values()].filter((md) => this.loaded.has(md.coordinatorPartition));
    return listTransactions(loaded, { stateFilters, producerIdFilters, durationFilterMs }, this.now());
  }

  /** Coordinator partitions loaded (tests, metrics). */
  loadedPartitions(): number[] {
    return [...this.loaded.keys()].filter((p) => this.partitions.isLoaded(p));
  }
}
