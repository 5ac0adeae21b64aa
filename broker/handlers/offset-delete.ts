// OffsetDelete: removes committed offsets of a group, except those of topics its consumers subscribe to.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  OffsetDeleteRequest,
  OffsetDeleteResponseInput,
  OffsetDeleteResponseTopicInput,
  OffsetDeleteResponsePartitionInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const offsetDeleteHandler: ApiHandler<typeof ApiKey.OffsetDelete> = {
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: OffsetDeleteRequest): Promise<OffsetDeleteResponseInput> {
    const s = ctx.services;
    const codes: number[][] = [];
    const known: { topic: string; partition: number }[] = [];
    const slots: [number, number][] = [];
    req.topics.forEach((t, ti) => {
      const topic = s.topics.byName(t.name);
      codes.push(
        t.partitions.map((p, pi) => {
          if (!topic || p.partitionIndex < 0 || p.partitionIndex >= topic.partitions) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          known.push({ topic: t.name, partition: p.partitionIndex });
          slots.push([ti, pi]);
          return ErrorCode.NONE;
        }),
      );
    });
    const r = await s.groups.deleteOffsets(req.groupId, known);
    if (r.errorCode !== ErrorCode.NONE) return { errorCode: r.errorCode, throttleTimeMs: 0, topics: [] };
    r.codes.forEach((code, i) => {
      const [ti, pi] = slots[i]!;
      codes[ti]![pi] = code;
    });
    return {
      errorCode: ErrorCode.NONE,
      throttleTimeMs: 0,
      topics: req.topics.map(
        (t, ti): OffsetDeleteResponseTopicInput => ({
          name: t.name,
          partitions: t.partitions.map(
            (p, pi): OffsetDeleteResponsePartitionInput => ({ partitionIndex: p.partitionIndex, errorCode: codes[ti]![pi]! }),
          ),
        }),
      ),
    };
  },
};
