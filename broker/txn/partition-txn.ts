// The partition side of transactions (spec/transactions.md): appending a COMMIT or ABORT marker to a partition
// this broker leads (through the log layer's appendMarker, broker/log/append.ts, which also loads the
// partition's producer state: its open transactions, last stable offset and aborted-transaction index), and
// the aborted transactions a read_committed Fetch returns. Used by the transaction coordinator for its local partitions and
// by the WriteTxnMarkers handler for markers sent by coordinators on other brokers.
import { ErrorCode } from '../protocol/errors.ts';
import { readBaseOffset, readBatchLength, readLastOffsetDelta } from '../protocol/records/batch-header.ts';
import { BATCH_LOG_OVERHEAD_BYTES } from '../protocol/records/constants.ts';
import { appendMarker } from '../log/append.ts';
import type { MarkerWrite } from '../log/append.ts';
import type { AbortedTxn, ProducerStateManager } from '../log/producer-state.ts';
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
  if (!log) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
  const appended = await appendMarker(s, log, m);
  if (!('durable' in appended)) {
    if (appended.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER)
      s.logger.warn({ topic: topicName, partition, ...m, reason: appended.message }, 'transaction marker refused');
    return appended.errorCode;
  }
  try {
    await appended.durable;
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
