// DescribeUserScramCredentials (KIP-554): the SCRAM mechanisms and iteration counts each user has credentials for
// (never the salted values). Every user when the request names none; RESOURCE_NOT_FOUND for a named user without
// credentials, DUPLICATE_RESOURCE for a user named twice, as Kafka answers.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeUserScramCredentialsRequest,
  DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResultInput as ResultInput,
  DescribeUserScramCredentialsResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { SCRAM_MECHANISMS, scramTypeByMechanism } from '../security/scram.ts';
import type { ScramMechanism } from '../security/scram.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const describeUserScramCredentialsHandler: ApiHandler<typeof ApiKey.DescribeUserScramCredentials> = {
  apiKey: ApiKey.DescribeUserScramCredentials,
  minVersion: 0,
  maxVersion: 0,
  async handle(ctx: RequestContext, req: DescribeUserScramCredentialsRequest): Promise<DescribeUserScramCredentialsResponseInput> {
    const all = await ctx.services.scramCredentials.list(SCRAM_MECHANISMS);
    const infos = (user: string) =>
      (all.get(user) ?? []).map((c) => ({ mechanism: scramTypeByMechanism[c.mechanism as ScramMechanism], iterations: c.iterations }));
    let results: ResultInput[];
    if (req.users === null || req.users.length === 0) {
      results = [...all.keys()]
        .sort()
        .map((user) => ({ user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: infos(user) }));
    } else {
      const counts = new Map<string, number>();
      for (const u of req.users) counts.set(u.name, (counts.get(u.name) ?? 0) + 1);
      results = [...counts].map(([user, count]): ResultInput => {
        if (count > 1) {
          return {
            user,
            errorCode: ErrorCode.DUPLICATE_RESOURCE,
            errorMessage: `Cannot describe SCRAM credentials for the same user twice in a single request: ${user}`,
            credentialInfos: [],
          };
        }
        if (!all.has(user)) {
          return {
            user,
            errorCode: ErrorCode.RESOURCE_NOT_FOUND,
            errorMessage: `Attempt to describe a user credential that does not exist: ${user}`,
            credentialInfos: [],
          };
        }
        return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos: infos(user) };
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: '', results };
  },
};
