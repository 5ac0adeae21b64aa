// Transaction verification (KIP-890 part 1): before the first transactional batch of a transaction is appended
// to a partition, the partition's owner asks the transactional id's coordinator whether the partition is in
// the producer's ongoing transaction (AddPartitionsToTxn v4+ with verifyOnly). A zombie producer whose
// transaction was aborted, or a producer that skipped AddPartitionsToTxn, is refused instead of leaving an
// open transaction on the partition that nothing would ever close (a "hanging" transaction). The coordinator
// is asked directly when this broker serves it, else over the broker-to-broker client.
// With transaction version 2 (KIP-890 part 2: Produce v12+, TxnOffsetCommit v5+) the same call adds the partitions
// to the transaction instead of verifying them (AddPartitionsToTxn v5 without verifyOnly): the client no longer
// sends AddPartitionsToTxn or AddOffsetsToTxn.
import { ApiKey } from '../protocol/generated/index.ts';
import type { AddPartitionsToTxnResponse } from '../protocol/generated/index.ts';
import { ErrorCode, errorInfoForCode } from '../protocol/errors.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import type { Cluster } from '../cluster/cluster.ts';
import type { Logger } from 'pino';
import type { BrokerClient } from './broker-client.ts';
import { partitionsByTopic } from './coordinator.ts';
import type { TopicPartition, TransactionCoordinator } from './coordinator.ts';
import { txnVerifyTimeoutMs } from '../limits.ts';

/** AddPartitionsToTxn v4 is the first with verifyOnly (and the batched, broker-only form). */
const verifyVersion = 4;
/** v5 adds TRANSACTION_ABORTABLE (KIP-890); used to add partitions for transaction version 2. */
const addVersion = 5;

export const verificationStats = { local: 0, remote: 0, failed: 0 };

/**
 * Kafka's error codes for each partition from the coordinator's point of view: NONE when it is in the
 * producer's ongoing transaction; INVALID_TXN_STATE when it is not; PRODUCER_FENCED, INVALID_PRODUCER_ID_MAPPING,
 * CONCURRENT_TRANSACTIONS, or a coordinator error (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS, NETWORK_EXCEPTION when it could not be asked).
 */
export async function verifyTransaction(
  args: { cluster: Cluster; coordinator: TransactionCoordinator; client: BrokerClient; logger: Logger },
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  partitions: TopicPartition[],
  add = false,
): Promise<number[]> {
  const all = (code: number) => partitions.map(() => code);
  const owner = args.cluster.coordinatorOwner('transaction', coordinatorPartitionOf(transactionalId));
  if (owner === null) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  if (owner.nodeId === args.cluster.nodeId) {
    verificationStats.local++;
    if (add) return all(await args.coordinator.addPartitions(transactionalId, producerId, producerEpoch, partitions));
    return args.coordinator.verifyPartitions(transactionalId, producerId, producerEpoch, partitions);
  }
  const endpoint = args.cluster.broker(owner.nodeId);
  if (!endpoint) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  verificationStats.remote++;
  try {
    const r = (await args.client.request(
      endpoint.host,
      endpoint.port,
      ApiKey.AddPartitionsToTxn,
      add ? addVersion : verifyVersion,
      {
        transactions: [
          {
            transactionalId,
            producerId,
            producerEpoch,
            verifyOnly: !add,
            topics: partitionsByTopic(partitions).map(([name, ps]) => ({ name, partitions: ps })),
          },
        ],
      },
      txnVerifyTimeoutMs,
    )) as AddPartitionsToTxnResponse;
    if (r.errorCode !== ErrorCode.NONE) return all(r.errorCode);
    const codes = new Map<string, number>();
    for (const t of r.resultsByTransaction) {
      for (const tr of t.topicResults)
        for (const p of tr.resultsByPartition) codes.set(`${tr.name}\0${p.partitionIndex}`, p.partitionErrorCode);
    }
    return partitions.map((tp) => codes.get(`${tp.topic}\0${tp.partition}`) ?? ErrorCode.INVALID_TXN_STATE);
  } catch (err) {
    verificationStats.failed++;
    args.logger.debug({ err, nodeId: owner.nodeId }, 'transaction verification with another broker failed');
    return all(ErrorCode.NETWORK_EXCEPTION);
  }
}

/** Produce v11 is the first that may answer TRANSACTION_ABORTABLE (KIP-890). */
const firstAbortableProduceVersion = 11;

/**
 * What a Produce partition gets for a verification error (Kafka's ReplicaManager and AddPartitionsToTxnManager):
 * coordinator trouble becomes the retriable NOT_ENOUGH_REPLICAS, which every client retries without a metadata
 * refresh; PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH, which producers expect from Produce; a partition not
 * in the transaction is TRANSACTION_ABORTABLE from Produce v11 (the producer aborts and goes on), before it
 * INVALID_TXN_STATE.
 */
export function produceErrorForVerification(code: number, produceVersion = 0): { errorCode: number; message: string | null } {
  switch (code) {
    case ErrorCode.INVALID_TXN_STATE:
      if (produceVersion >= firstAbortableProduceVersion) return { errorCode: ErrorCode.TRANSACTION_ABORTABLE, message: null };
      return { errorCode: code, message: 'Partition was not added to the transaction' };
    case ErrorCode.PRODUCER_FENCED:
      return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: null }; // no message, as Kafka
    case ErrorCode.NETWORK_EXCEPTION:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.COORDINATOR_NOT_AVAILABLE:
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.CONCURRENT_TRANSACTIONS:
      return {
        errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
        message: `Unable to verify the partition has been added to the transaction. Underlying error: ${errorInfoForCode(code)?.name ?? code}`,
      };
    default:
      return { errorCode: code, message: null };
  }
}
