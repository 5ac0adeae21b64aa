// DescribeTransactions and ListTransactions answered from the transactional ids a transaction coordinator
// (coordinator.ts) holds.
import { ErrorCode } from '../protocol/errors.ts';
import { txnStates } from './txn-metadata.ts';
import type { TxnMetadata, TxnState } from './txn-metadata.ts';

export interface TxnDescription {
  errorCode: number;
  transactionalId: string;
  transactionState: string;
  transactionTimeoutMs: number;
  transactionStartTimeMs: number;
  producerId: number;
  producerEpoch: number;
  topics: { topic: string; partitions: number[] }[];
}

export interface ListedTransaction {
  transactionalId: string;
  producerId: number;
  transactionState: string;
}

/** DescribeTransactions of one id: `status` is the coordinator's (NONE when it serves the id), `md` what it holds. */
export function describeTransaction(transactionalId: string, status: number, md: TxnMetadata | undefined): TxnDescription {
  const base: TxnDescription = {
    errorCode: ErrorCode.NONE,
    transactionalId,
    transactionState: '',
    transactionTimeoutMs: 0,
    transactionStartTimeMs: -1,
    producerId: -1,
    producerEpoch: -1,
    topics: [],
  };
  if (status !== ErrorCode.NONE) return { ...base, errorCode: status };
  if (md === undefined || md.state === 'Dead') return { ...base, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
  const topics = new Map<string, number[]>();
  for (const [t, p] of md.partitions) {
    let list = topics.get(t);
    if (!list) topics.set(t, (list = []));
    list.push(p);
  }
  return {
    ...base,
    transactionState: md.state,
    transactionTimeoutMs: md.timeoutMs,
    transactionStartTimeMs: md.txnStartTimestamp,
    producerId: md.producerId,
    producerEpoch: md.producerEpoch,
    topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
  };
}

/** ListTransactions over the ids of loaded partitions, filtered by state, producer id and (v1) duration. */
export function listTransactions(
  txns: Iterable<TxnMetadata>,
  filters: { stateFilters: string[]; producerIdFilters: number[]; durationFilterMs: number },
  now: number,
): { unknownStateFilters: string[]; transactionStates: ListedTransaction[] } {
  const { stateFilters, producerIdFilters, durationFilterMs } = filters;
  const unknownStateFilters = stateFilters.filter((s) => !txnStates.includes(s as TxnState));
  const states = new Set(stateFilters);
  const pids = new Set(producerIdFilters);
  const out: ListedTransaction[] = [];
  for (const md of txns) {
    if (md.state === 'Dead') continue;
    if (states.size > 0 && !states.has(md.state)) continue;
    if (pids.size > 0 && !pids.has(md.producerId)) continue;
    // v1 (KIP-994): only transactions running longer than the filter.
    if (durationFilterMs >= 0 && !(md.state === 'Ongoing' && now - md.txnStartTimestamp > durationFilterMs)) continue;
    out.push({ transactionalId: md.transactionalId, producerId: md.producerId, transactionState: md.state });
  }
  return { unknownStateFilters, transactionStates: out };
}
