// Transactions and producers: ListTransactions (every broker), DescribeTransactions (each id's transaction
// coordinator), DescribeProducers (each partition's leader).
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type {
  DescribeProducersResponse,
  DescribeTransactionsResponse,
  ListTransactionsResponse,
} from '../../broker/protocol/generated/index.ts';
import type { Cluster } from './cluster.ts';
import { AdminKafkaError } from './errors.ts';

export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  state: string;
}

export interface TransactionDescription {
  transactionalId: string;
  state: string;
  timeoutMs: number;
  /** -1 when no transaction is open. */
  startTimeMs: number;
  producerId: number;
  producerEpoch: number;
  partitions: { topic: string; partition: number }[];
  error: AdminKafkaError | null;
}

export interface ProducerState {
  producerId: number;
  producerEpoch: number;
  lastSequence: number;
  lastTimestampMs: number;
  coordinatorEpoch: number;
  /** -1 when the producer has no open transaction on the partition. */
  currentTxnStartOffset: number;
}

export async function listTransactions(
  cluster: Cluster,
  filters: { states?: string[]; producerIds?: number[]; durationMs?: number; transactionalIdPattern?: string },
  deadline: number,
): Promise<ListedTransaction[]> {
  await cluster.refreshMetadata([], deadline);
  const all = await Promise.all(
    [...cluster.brokers.keys()].map(async (id) => {
      const c = await cluster.node(id, deadline);
      const { body } = await c.request<ListTransactionsResponse>(
        ApiKey.ListTransactions,
        (v) => ({
          stateFilters: filters.states ?? [],
          producerIdFilters: filters.producerIds ?? [],
          ...(v >= 1 ? { durationFilter: filters.durationMs ?? -1 } : {}),
          ...(v >= 2 ? { transactionalIdPattern: filters.transactionalIdPattern ?? null } : {}),
        }),
        deadline,
      );
      if (body.errorCode !== 0) throw new AdminKafkaError(body.errorCode, null, `ListTransactions on broker ${id}`);
      return body.transactionStates.map((s) => ({
        transactionalId: s.transactionalId,
        producerId: s.producerId,
        state: s.transactionState,
      }));
    }),
  );
  return all.flat().sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
}

export async function describeTransaction(cluster: Cluster, transactionalId: string, deadline: number): Promise<TransactionDescription> {
  const c = await cluster.coordinator(1, transactionalId, deadline);
  const { body } = await c.request<DescribeTransactionsResponse>(
    ApiKey.DescribeTransactions,
    () => ({ transactionalIds: [transactionalId] }),
    deadline,
  );
  const s = body.transactionStates[0];
  if (!s) throw new AdminKafkaError(-1, 'DescribeTransactions answered nothing', transactionalId);
  const error = s.errorCode === 0 ? null : new AdminKafkaError(s.errorCode, null, transactionalId);
  if (error?.retriable) throw error;
  return {
    transactionalId,
    state: s.transactionState,
    timeoutMs: s.transactionTimeoutMs,
    startTimeMs: s.transactionStartTimeMs,
    producerId: s.producerId,
    producerEpoch: s.producerEpoch,
    partitions: s.topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition }))),
    error,
  };
}

export async function describeProducers(
  cluster: Cluster,
  topic: string,
  partition: number,
  deadline: number,
): Promise<{ topic: string; partition: number; producers: ProducerState[]; error: AdminKafkaError | null }> {
  const route = await cluster.leaderOf(topic, partition, deadline);
  const c = await cluster.node(route.leaderId, deadline);
  const { body } = await c.request<DescribeProducersResponse>(
    ApiKey.DescribeProducers,
    () => ({ topics: [{ name: topic, partitionIndexes: [partition] }] }),
    deadline,
  );
  const p = body.topics[0]?.partitions[0];
  if (!p) throw new AdminKafkaError(-1, 'DescribeProducers answered nothing', `${topic}-${partition}`);
  const error = p.errorCode === 0 ? null : new AdminKafkaError(p.errorCode, p.errorMessage, `${topic}-${partition}`);
  if (error?.retriable) throw error;
  return {
    topic,
    partition,
    error,
    producers: p.activeProducers.map((s) => ({
      producerId: s.producerId,
      producerEpoch: s.producerEpoch,
      lastSequence: s.lastSequence,
      lastTimestampMs: s.lastTimestamp,
      coordinatorEpoch: s.coordinatorEpoch,
      currentTxnStartOffset: s.currentTxnStartOffset,
    })),
  };
}
