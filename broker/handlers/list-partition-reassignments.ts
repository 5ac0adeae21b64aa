// ListPartitionReassignments: a Skafos partition has one owner and no replica set (spec/cluster.md), so no
// reassignment is ever in progress. Kafka's controller lists only partitions with an ongoing reassignment and
// skips the rest, unknown topics and partitions included, so the answer is always NONE with no topics, whether
// all topics (null) or named ones were asked for.
import { ApiKey } from '../protocol/generated/index.ts';
import type { ListPartitionReassignmentsResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler } from './context.ts';

export const listPartitionReassignmentsHandler: ApiHandler<typeof ApiKey.ListPartitionReassignments> = {
  apiKey: ApiKey.ListPartitionReassignments,
  minVersion: 0,
  maxVersion: 0,
  handle(): ListPartitionReassignmentsResponseInput {
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] };
  },
};
