// DescribeProducers (v0): the active producers of partitions this broker leads — id, epoch, last sequence and
// timestamp, coordinator epoch, and the first offset of an open transaction — from the partition's producer
// state (rebuilt first if needed).
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeProducersRequest,
  DescribeProducersResponseInput,
  DescribeProducersResponseTopicResponseInput,
  DescribeProducersResponsePartitionResponseInput,
  DescribeProducersResponseProducerStateInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { loadProducerState } from '../log/append.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const describeProducersHandler: ApiHandler<typeof ApiKey.DescribeProducers> = {
  apiKey: ApiKey.DescribeProducers,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx: RequestContext, req: DescribeProducersRequest): Promise<DescribeProducersResponseInput> {
    const s = ctx.services;
    const topics: DescribeProducersResponseTopicResponseInput[] = [];
    for (const t of req.topics) {
      const topic = s.topics.byName(t.name);
      const partitions: DescribeProducersResponsePartitionResponseInput[] = [];
      for (const index of t.partitionIndexes) {
        const fail = (errorCode: number, errorMessage: string | null = null): DescribeProducersResponsePartitionResponseInput => ({
          partitionIndex: index,
          errorCode,
          errorMessage,
          activeProducers: [],
        });
        if (!topic || index < 0 || index >= topic.partitions) {
          // Kafka explains an unknown topic in the error message, not an unknown partition of a known topic.
          partitions.push(fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topic ? null : `The partition ${t.name}-${index} does not exist.`));
          continue;
        }
        const log = s.logs.partition(topic.id, index);
        if (!log || log.released) {
          partitions.push(fail(ErrorCode.NOT_LEADER_OR_FOLLOWER));
          continue;
        }
        const producers = await loadProducerState(s, log);
        if (producers === null) {
          partitions.push(fail(ErrorCode.KAFKA_STORAGE_ERROR));
          continue;
        }
        const activeProducers: DescribeProducersResponseProducerStateInput[] = [];
        for (const e of producers.entries()) {
          const last = e.batches[e.batches.length - 1];
          activeProducers.push({
            producerId: e.producerId,
            producerEpoch: e.epoch,
            lastSequence: last?.lastSeq ?? -1,
            lastTimestamp: e.lastTimestamp,
            coordinatorEpoch: e.coordinatorEpoch,
            currentTxnStartOffset: e.currentTxnFirstOffset,
          });
        }
        partitions.push({ partitionIndex: index, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers });
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
