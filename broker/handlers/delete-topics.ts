// DeleteTopics: by name (all versions) or by id (v6+). The topic's data goes with it.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DeleteTopicsRequest,
  DeleteTopicsResponseInput,
  DeleteTopicsResponseDeletableTopicResultInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { TopicChangedError } from '../metadata/topics.ts';
import type { ApiHandler, RequestContext } from './context.ts';

const zeroUuid = 'AAAAAAAAAAAAAAAAAAAAAA';

export const deleteTopicsHandler: ApiHandler<typeof ApiKey.DeleteTopics> = {
  apiKey: ApiKey.DeleteTopics,
  minVersion: 1,
  maxVersion: 6,
  // Admin changes of one connection apply one after another in the order sent, as Kafka applies them.
  ordered: true,
  async handle(ctx: RequestContext, req: DeleteTopicsRequest): Promise<DeleteTopicsResponseInput> {
    const s = ctx.services;
    const wanted: { name: string | null; topicId: string }[] =
      ctx.apiVersion >= 6
        ? req.topics.map((t) => ({ name: t.name, topicId: t.topicId }))
        : req.topicNames.map((name) => ({ name, topicId: zeroUuid }));
    const responses: DeleteTopicsResponseDeletableTopicResultInput[] = [];
    for (const w of wanted) {
      const byId = w.name === null || w.name === '';
      const topic = byId ? s.topics.byId(w.topicId) : s.topics.byName(w.name!);
      const base = { name: topic?.name ?? w.name, topicId: topic?.id ?? w.topicId };
      if (byId && w.topicId === zeroUuid) {
        responses.push({ ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Neither topic name nor id were specified.' });
      } else if (!s.config.deleteTopicEnable) {
        responses.push({ ...base, errorCode: ErrorCode.TOPIC_DELETION_DISABLED, errorMessage: 'Topic deletion is disabled.' });
      } else if (!topic) {
        responses.push({
          ...base,
          errorCode: byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: byId ? 'This server does not host this topic ID.' : 'This server does not host this topic-partition.',
        });
      } else {
        try {
          await s.adminLock(async () => {
            const deleted = await s.topics.delete(topic.name);
            await s.logs.dropTopic(deleted);
            await s.groups.onTopicDeleted(deleted.name);
          });
          s.logger.info({ topic: topic.name }, 'topic deleted');
          responses.push({ ...base, errorCode: ErrorCode.NONE, errorMessage: null });
        } catch (e) {
          if (!(e instanceof TopicChangedError)) throw e;
          responses.push({ ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: e.message });
        }
      }
    }
    return { throttleTimeMs: 0, responses };
  },
};
