// A transactional id as the transaction coordinator (coordinator.ts) holds it: Kafka's TransactionMetadata.
// Its stored record (Kafka's TransactionLogValue), the states, and the producer epoch rules of InitProducerId
// (bump, retry of a lost bump, new producer id once the epoch is exhausted).
export type TxnState =
  | 'Empty'
  | 'Ongoing'
  | 'PrepareCommit'
  | 'PrepareAbort'
  | 'CompleteCommit'
  | 'CompleteAbort'
  | 'Dead'
  | 'PrepareEpochFence';
export const txnStates: readonly TxnState[] = [
  'Empty',
  'Ongoing',
  'PrepareCommit',
  'PrepareAbort',
  'CompleteCommit',
  'CompleteAbort',
  'Dead',
  'PrepareEpochFence',
];

export const noProducerId = -1;
export const noProducerEpoch = -1;
/** Kafka: an epoch at Short.MAX_VALUE - 1 is exhausted; the next bump takes a new producer id. */
export const maxEpoch = 32767;
export function epochExhausted(epoch: number): boolean {
  return epoch >= maxEpoch - 1;
}

/** The producer id and epoch an InitProducerId names (KIP-360), when it names one. */
export interface ExpectedProducer {
  producerId: number;
  epoch: number;
}

/** What the metadata store keeps per transactional id (Kafka's TransactionLogValue). */
export interface TxnRecord {
  transactionalId: string;
  producerId: number;
  /** Producer id before the last rotation (epoch exhausted), or -1. */
  lastProducerId: number;
  producerEpoch: number;
  /**
   * Epoch before the last bump by InitProducerId with an expected epoch (KIP-360 retries), or by EndTxn v5
   * (transaction version 2: the epoch before this transaction's end), or -1.
   */
  lastProducerEpoch: number;
  /**
   * Transaction version 2: the producer id the transaction continues with once it is complete, allocated when
   * EndTxn finds the epoch exhausted (the markers carry the old id with the last epoch); else -1. Absent in
   * records written before transaction version 2.
   */
  nextProducerId?: number;
  timeoutMs: number;
  state: TxnState;
  /** Partitions of the transaction as [topic, partition] pairs (__consumer_offsets ones for AddOffsetsToTxn). */
  partitions: [string, number][];
  txnStartTimestamp: number;
  lastUpdateTimestamp: number;
}

/**
 * A transactional id's record as loaded here (its fields, merged in from TxnRecord and copied in by the
 * constructor), plus what only this coordinator tracks.
 */
// Declaration merging gives the class TxnRecord's fields.
export interface TxnMetadata extends TxnRecord {}
export class TxnMetadata {
  readonly coordinatorPartition: number;
  /** The state a transition in flight leads to (Kafka's pendingState); other requests wait (CONCURRENT_TRANSACTIONS). */
  pending: TxnState | null = null;
  /** Stored at all (a new id is only stored by its first transition). */
  stored = false;

  constructor(coordinatorPartition: number, r: TxnRecord) {
    this.coordinatorPartition = coordinatorPartition;
    Object.assign(this, r);
    this.nextProducerId = r.nextProducerId ?? noProducerId;
    this.partitions = r.partitions.map(([t, p]) => [t, p]);
  }

  record(): TxnRecord {
    const { coordinatorPartition: _partition, pending: _pending, stored: _stored, ...r } = this;
    return { ...r, partitions: this.partitions.map(([t, p]) => [t, p]) };
  }

  hasPartition(topic: string, partition: number): boolean {
    return this.partitions.some(([t, p]) => t === topic && p === partition);
  }

  /**
   * InitProducerId's next record once the epoch is exhausted (Kafka's prepareProducerIdRotation): the new
   * producer id at epoch 0, the old one kept as the last one when the client named it.
   */
  withNewProducerId(producerId: number, expected: ExpectedProducer | null, timeoutMs: number, now: number): TxnRecord {
    return {
      ...this.record(),
      producerId,
      producerEpoch: 0,
      lastProducerId: expected !== null ? this.producerId : noProducerId,
      lastProducerEpoch: expected !== null ? this.producerEpoch : noProducerEpoch,
      timeoutMs,
      state: 'Empty',
      partitions: [],
      txnStartTimestamp: -1,
      lastUpdateTimestamp: now,
    };
  }

  /**
   * InitProducerId's next record with the epoch bumped (Kafka's prepareIncrementProducerEpoch), or the current
   * epoch again for a retry of a bump whose answer was lost; null when the expected epoch is neither
   * (PRODUCER_FENCED).
   */
  withNextEpoch(expected: ExpectedProducer | null, timeoutMs: number, now: number): TxnRecord | null {
    let epoch: number;
    let lastEpoch: number;
    if (expected === null) {
      epoch = this.producerEpoch + 1;
      lastEpoch = noProducerEpoch;
    } else if (this.producerEpoch === noProducerEpoch || expected.epoch === this.producerEpoch) {
      epoch = this.producerEpoch + 1;
      lastEpoch = this.producerEpoch;
    } else if (expected.epoch === this.lastProducerEpoch) {
      // A retry of a bump whose answer was lost: the current epoch again.
      epoch = this.producerEpoch;
      lastEpoch = this.lastProducerEpoch;
    } else {
      return null;
    }
    return {
      ...this.record(),
      producerEpoch: epoch,
      lastProducerEpoch: lastEpoch,
      timeoutMs,
      state: 'Empty',
      partitions: [],
      txnStartTimestamp: -1,
      lastUpdateTimestamp: now,
    };
  }
}
