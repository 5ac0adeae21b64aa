// OffsetFetch: a group's committed offsets (-1 where nothing is committed); null topics (v2+) asks for all of
// them; v8+ asks for several groups at once. requireStable (v7+, KIP-447): a partition with a transactional
// offset commit still pending gets UNSTABLE_OFFSET_COMMIT (and -1), as Kafka answers; the client retries.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  OffsetFetchRequest,
  OffsetFetchResponseInput,
  OffsetFetchResponsePartitionInput,
  OffsetFetchResponseGroupInput,
  OffsetFetchResponseTopicsInput,
  OffsetFetchResponseTopicInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { FetchedOffset } from '../groups/offsets.ts';
import type { ApiHandler, RequestContext } from './context.ts';

function partition(v: number, p: FetchedOffset): OffsetFetchResponsePartitionInput {
  return {
    partitionIndex: p.partition,
    committedOffset: p.offset,
    ...(v >= 5 ? { committedLeaderEpoch: p.leaderEpoch } : {}),
    metadata: p.metadata,
    errorCode: p.errorCode,
  };
}

function unstable(p: FetchedOffset): FetchedOffset {
  return { partition: p.partition, offset: -1, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
}

export const offsetFetchHandler: ApiHandler<typeof ApiKey.OffsetFetch> = {
  apiKey: ApiKey.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  handle(ctx: RequestContext, req: OffsetFetchRequest): OffsetFetchResponseInput {
    const groups = ctx.services.groups;
    const v = ctx.apiVersion;
    const txnOffsets = ctx.services.txn.offsets;
    const requireStable = v >= 7 && req.requireStable;
    const settle = (groupId: string, topic: string, p: FetchedOffset) =>
      requireStable && p.errorCode === ErrorCode.NONE && txnOffsets.hasPending(groupId, topic, p.partition) ? unstable(p) : p;
    const asked = (topics: { name: string; partitionIndexes: number[] }[] | null) =>
      topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes }));
    if (v >= 8) {
      return {
        throttleTimeMs: 0,
        groups: req.groups.map((g): OffsetFetchResponseGroupInput => {
          // v9: a consumer group's member must send its current epoch (KIP-848).
          const member = v >= 9 ? ctx.services.consumerGroups.validateOffsetFetch(g.groupId, g.memberId, g.memberEpoch) : null;
          if (member !== null && member !== ErrorCode.NONE) return { groupId: g.groupId, errorCode: member, topics: [] };
          const r = groups.fetchOffsets(g.groupId, asked(g.topics));
          return {
            groupId: g.groupId,
            errorCode: r.errorCode,
            topics: r.topics.map(
              (t): OffsetFetchResponseTopicsInput => ({
                name: t.name,
                partitions: t.partitions.map((p) => partition(v, settle(g.groupId, t.name, p))),
              }),
            ),
          };
        }),
      };
    }
    const r = groups.fetchOffsets(req.groupId, asked(req.topics));
    if (v < 2 && r.errorCode !== ErrorCode.NONE) {
      // No top-level error before v2: every asked partition carries it.
      return {
        topics: (req.topics ?? []).map(
          (t): OffsetFetchResponseTopicInput => ({
            name: t.name,
            partitions: t.partitionIndexes.map((p) =>
              partition(v, { partition: p, offset: -1, leaderEpoch: -1, metadata: '', errorCode: r.errorCode }),
            ),
          }),
        ),
      };
    }
    return {
      throttleTimeMs: 0,
      topics: r.topics.map(
        (t): OffsetFetchResponseTopicInput => ({
          name: t.name,
          partitions: t.partitions.map((p) => partition(v, settle(req.groupId, t.name, p))),
        }),
      ),
      ...(v >= 2 ? { errorCode: r.errorCode } : {}),
    };
  },
};
