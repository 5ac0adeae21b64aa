// OffsetCommit: committed offsets of a group, checked against its generation and members (or an "admin"
// commit with generation -1 and no member for a group without members). Unknown partitions get
// UNKNOWN_TOPIC_OR_PARTITION; the rest go to the coordinator.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  OffsetCommitRequest,
  OffsetCommitResponseInput,
  OffsetCommitResponseTopicInput,
  OffsetCommitResponsePartitionInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { OffsetCommitEntry } from '../groups/offsets.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const offsetCommitHandler: ApiHandler<typeof ApiKey.OffsetCommit> = {
  apiKey: ApiKey.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  // commits of one connection apply in the order sent (a later commit of a partition wins).
  ordered: true,
  async handle(ctx: RequestContext, req: OffsetCommitRequest): Promise<OffsetCommitResponseInput> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const nowMs = Date.now();
    // v2-v4 carry a retention time (-1: the broker's rule); v1 a commit timestamp per partition (-1: now).
    const expireTimestampMs = v >= 2 && v <= 4 && req.retentionTimeMs !== -1 ? nowMs + req.retentionTimeMs : null;
    const codes: number[][] = [];
    const entries: OffsetCommitEntry[] = [];
    const slots: [number, number][] = [];
    req.topics.forEach((t, ti) => {
      const topic = s.topics.byName(t.name);
      codes.push(
        t.partitions.map((p, pi) => {
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          entries.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: p.committedOffset,
            leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
            metadata: p.committedMetadata,
            commitTimestampMs: v === 1 && p.commitTimestamp !== -1 ? p.commitTimestamp : nowMs,
            expireTimestampMs,
          });
          slots.push([ti, pi]);
          return ErrorCode.NONE;
        }),
      );
    });
    // KIP-848: members of a consumer group commit with v9+ (Kafka answers UNSUPPORTED_VERSION).
    if (v >= 1 && v < 9 && entries.length > 0 && s.consumerGroups.isMember(req.groupId, req.memberId)) {
      for (const [ti, pi] of slots) codes[ti]![pi] = ErrorCode.UNSUPPORTED_VERSION;
    } else if (entries.length > 0) {
      const pending = s.groups.commitOffsets({
        groupId: req.groupId,
        memberId: v >= 1 ? req.memberId : '',
        groupInstanceId: v >= 7 ? req.groupInstanceId : null,
        generationId: v >= 1 ? req.generationIdOrMemberEpoch : -1,
        // A generation >= 0 for a group that does not exist: Kafka 4 answers v9+ with GROUP_ID_NOT_FOUND.
        unknownGroupCode: v >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION,
        entries,
      });
      // Queued in the group's write chain, behind this connection's earlier commits: the next may start.
      ctx.applied();
      const results = await pending;
      results.forEach((code, i) => {
        const [ti, pi] = slots[i]!;
        codes[ti]![pi] = code;
      });
    }
    return {
      throttleTimeMs: 0,
      topics: req.topics.map(
        (t, ti): OffsetCommitResponseTopicInput => ({
          name: t.name,
          partitions: t.partitions.map(
            (p, pi): OffsetCommitResponsePartitionInput => ({ partitionIndex: p.partitionIndex, errorCode: codes[ti]![pi]! }),
          ),
        }),
      ),
    };
  },
};
