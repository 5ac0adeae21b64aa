// AddPartitionsToTxn (v0-v5): adds partitions to a producer's ongoing transaction at its transaction coordinator
// (broker/txn/coordinator.ts). v0-v3 carry one transaction (clients); v4+ carry many and may only verify
// (verifyOnly, KIP-890) that partitions are in the transaction.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
  AddPartitionsToTxnResponseInput,
  AddPartitionsToTxnResponseAddPartitionsToTxnResultInput,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInput,
  AddPartitionsToTxnResponseAddPartitionsToTxnPartitionResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { TopicPartition } from '../txn/coordinator.ts';
import { groupOffsetsTopic } from '../txn/coordinator.ts';
import { coordinatorPartitionCount } from '../cluster/cluster.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';

type TopicResult = AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInput & {
  resultsByPartition: AddPartitionsToTxnResponseAddPartitionsToTxnPartitionResultInput[];
};

function flatten(topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[]): TopicPartition[] {
  return topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
}

function results(partitions: TopicPartition[], codes: number[]): TopicResult[] {
  const byTopic = new Map<string, TopicResult>();
  partitions.forEach((tp, i) => {
    let t = byTopic.get(tp.topic);
    if (!t) byTopic.set(tp.topic, (t = { name: tp.topic, resultsByPartition: [] }));
    t.resultsByPartition.push({ partitionIndex: tp.partition, partitionErrorCode: codes[i]! });
  });
  return [...byTopic.values()];
}

async function addOne(
  s: BrokerServices,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  verifyOnly: boolean,
  partitions: TopicPartition[],
): Promise<number[]> {
  if (verifyOnly) return s.txn.coordinator.verifyPartitions(transactionalId, producerId, producerEpoch, partitions);
  // Partitions of unknown topics fail alone; the others are not attempted (Kafka's handler). A group's offsets
  // partition (added by a broker for TxnOffsetCommit v5, transaction version 2) is always known.
  const unknown = partitions.map((tp) => {
    if (tp.topic === groupOffsetsTopic) return tp.partition < 0 || tp.partition >= coordinatorPartitionCount;
    const topic = s.topics.byName(tp.topic);
    return !topic || tp.partition < 0 || tp.partition >= topic.partitions;
  });
  if (unknown.some((u) => u)) return unknown.map((u) => (u ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED));
  const code = await s.txn.coordinator.addPartitions(transactionalId, producerId, producerEpoch, partitions);
  return partitions.map(() => code);
}

export const addPartitionsToTxnHandler: ApiHandler<typeof ApiKey.AddPartitionsToTxn> = {
  apiKey: ApiKey.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 5,
  async handle(ctx: RequestContext, req: AddPartitionsToTxnRequest): Promise<AddPartitionsToTxnResponseInput> {
    const s = ctx.services;
    if (ctx.apiVersion < 4) {
      const partitions = flatten(req.v3AndBelowTopics);
      const codes = await addOne(
        s,
        req.v3AndBelowTransactionalId,
        req.v3AndBelowProducerId,
        req.v3AndBelowProducerEpoch,
        false,
        partitions,
      );
      return { throttleTimeMs: 0, resultsByTopicV3AndBelow: results(partitions, codes) };
    }
    const resultsByTransaction = await Promise.all(
      req.transactions.map(async (t): Promise<AddPartitionsToTxnResponseAddPartitionsToTxnResultInput> => {
        const partitions = flatten(t.topics);
        const codes = await addOne(s, t.transactionalId, t.producerId, t.producerEpoch, t.verifyOnly, partitions);
        return { transactionalId: t.transactionalId, topicResults: results(partitions, codes) };
      }),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction };
  },
};
