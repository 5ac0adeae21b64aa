// The partition side of transactions (spec/transactions.md): loading a partition's producer state (which holds
// its open transactions, last stable offset and aborted-transaction index), and appending a COMMIT or ABORT
// marker to a partition this broker leads. Used by the transaction coordinator for its local partitions and
// by the WriteTxnMarkers handler for markers sent by coordinators on other brokers.
import { ErrorCode } from '../protocol/errors.ts';
import { assignOffsets } from '../protocol/records/index.ts';
import { buildEndTxnMarkerBatch } from '../protocol/records/control.ts';
import { ControlRecordType } from '../protocol/records/constants.ts';
import { readBaseOffset, readBatchLength, readLastOffsetDelta } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import { producerStateOf } from '../log/producer-state-load.ts';
import type { AbortedTxn, ProducerStateManager, ProducerStateSettings } from '../log/producer-state.ts';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.ts';
import type { LogManager } from '../log/log-manager.ts';
import type { TopicRegistry } from '../metadata/topics.ts';

/**
 * What the partition side of transactions uses of the broker: the handlers' BrokerServices
 * (broker/handlers/context.ts) satisfies it, as any narrower object built for a test may.
 */
export interface PartitionTxnServices {
  config: Pick<BrokerConfig, 'producerIdExpirationMs' | 'producerStateMaxProducers'>;
  logs: Pick<LogManager, 'read' | 'partition' | 'fenced' | 'append'>;
  topics: Pick<TopicRegistry, 'byName'>;
  logger: Logger;
}

/** The partition's producer state, rebuilt first if needed; null when the log cannot be read now (retriable). */
export async function loadProducerState(s: PartitionTxnServices, log: PartitionLog): Promise<ProducerStateManager | null> {
  if (log.producerState !== null) return log.producerState;
  const settings: ProducerStateSettings = {
    expirationMs: s.config.producerIdExpirationMs,
    maxProducers: s.config.producerStateMaxProducers,
  };
  try {
    return await producerStateOf(log, (l, offset, maxBytes, minOne, end) => s.logs.read(l, offset, maxBytes, minOne, end), settings);
  } catch (err) {
    s.logger.warn({ err, topic: log.topicName, partition: log.partition }, 'rebuilding producer state failed');
    return null;
  }
}

export interface MarkerWrite {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

function patchMarker(records: Buffer, baseOffset: number, leaderEpoch: number): void {
  assignOffsets(records, baseOffset, leaderEpoch);
}

/**
 * Appends a marker to a partition this broker leads and waits until it is durable. Returns Kafka's error code
 * for WriteTxnMarkers: NONE, UNKNOWN_TOPIC_OR_PARTITION (no such partition: nothing to write),
 * NOT_LEADER_OR_FOLLOWER (retriable: another broker leads it, or the write was abandoned),
 * INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED (a newer marker was written already).
 */
export async function writeMarker(s: PartitionTxnServices, topicName: string, partition: number, m: MarkerWrite): Promise<number> {
  const topic = s.topics.byName(topicName);
  if (!topic || partition < 0 || partition >= topic.partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  const log = s.logs.partition(topic.id, partition);
  if (!log || log.released || s.logs.fenced) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  if ((await loadProducerState(s, log)) === null) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  // Synchronous from here to the append: no other append of the partition comes between the check and it.
  const producers = log.producerState;
  if (producers === null || log.released || s.logs.fenced) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  const refused = producers.checkMarker(m.producerId, m.producerEpoch, m.coordinatorEpoch);
  if (refused !== null) {
    s.logger.warn({ topic: topicName, partition, ...m, reason: refused.message }, 'transaction marker refused');
    return refused.errorCode;
  }
  const nowMs = Date.now();
  const batch = buildEndTxnMarkerBatch({
    type: m.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
    coordinatorEpoch: m.coordinatorEpoch,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    timestampMs: nowMs,
  });
  let durable: Promise<void>;
  try {
    const appended = s.logs.append(log, batch, 1, null, patchMarker);
    producers.completeTxn(m.producerId, m.producerEpoch, m.commit, m.coordinatorEpoch, appended.baseOffset, nowMs);
    durable = appended.durable;
  } catch {
    return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }
  try {
    await durable;
    return ErrorCode.NONE;
  } catch {
    return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }
}

/** Offset after the last batch of `records` (whole batches), or `fallback` when empty. */
export function endOffsetOf(records: Buffer | null, fallback: number): number {
  if (records === null || records.length === 0) return fallback;
  let end = fallback;
  for (let pos = 0; pos + BATCH_LOG_OVERHEAD_BYTES <= records.length; pos += BATCH_LOG_OVERHEAD_BYTES + readBatchLength(records, pos)) {
    end = readBaseOffset(records, pos) + readLastOffsetDelta(records, pos) + 1;
  }
  return end;
}

/** Fetch's abortedTransactions for read_committed: aborted transactions overlapping the returned batches. */
export function abortedForFetch(
  producers: ProducerStateManager | null,
  fetchOffset: number,
  records: Buffer | null,
): { producerId: number; firstOffset: number }[] {
  if (producers === null || records === null || records.length === 0) return [];
  const overlapping: readonly AbortedTxn[] = producers.abortedTxns(fetchOffset, Number.MAX_SAFE_INTEGER);
  if (overlapping.length === 0) return [];
  const upper = endOffsetOf(records, fetchOffset);
  const out: { producerId: number; firstOffset: number }[] = [];
  for (const a of overlapping) if (a.firstOffset < upper) out.push({ producerId: a.producerId, firstOffset: a.firstOffset });
  return out;
}
