// AlterUserScramCredentials (KIP-554): upserts and deletes users' SCRAM credentials. The client sends the salt and
// the salted password; the broker keeps only StoredKey and ServerKey derived from them (broker/security/scram.ts).
// Each user's changes succeed or fail together, with Kafka's errors: UNSUPPORTED_SASL_MECHANISM, UNACCEPTABLE_CREDENTIAL
// (empty name, iterations outside 4096..16384), DUPLICATE_RESOURCE (a user altered twice), RESOURCE_NOT_FOUND
// (deleting a credential that does not exist). As Kafka, the salt and salted password are not checked (a wrong one
// just never authenticates). Messages checked against Kafka 4.4.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponseAlterUserScramCredentialsResultInput as ResultInput,
  AlterUserScramCredentialsResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ScramCredential } from '../metadata/scram-credentials.ts';
import { credentialFromSalted, scramMaxIterations, scramMechanismByType, scramMinIterations } from '../security/scram.ts';
import type { ScramMechanism } from '../security/scram.ts';
import type { ApiHandler, RequestContext } from './context.ts';

type Change = { user: string; mechanism: number } & (
  | { kind: 'delete' }
  | { kind: 'upsert'; iterations: number; salt: Buffer; saltedPassword: Buffer }
);

function checkChange(c: Change, existing: ReadonlySet<string>): { errorCode: number; errorMessage: string } | null {
  const mechanism = scramMechanismByType[c.mechanism];
  if (mechanism === undefined) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, errorMessage: 'Unknown SCRAM mechanism' };
  if (c.user === '') return { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Username must not be empty' };
  if (c.kind === 'delete') {
    if (!existing.has(`${mechanism}/${c.user}`)) {
      return { errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: 'Attempt to delete a user credential that does not exist' };
    }
    return null;
  }
  if (c.iterations < scramMinIterations) return { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too few iterations' };
  if (c.iterations > scramMaxIterations) return { errorCode: ErrorCode.UNACCEPTABLE_CREDENTIAL, errorMessage: 'Too many iterations' };
  return null;
}

export const alterUserScramCredentialsHandler: ApiHandler<typeof ApiKey.AlterUserScramCredentials> = {
  apiKey: ApiKey.AlterUserScramCredentials,
  minVersion: 0,
  maxVersion: 0,
  ordered: true,
  async handle(ctx: RequestContext, req: AlterUserScramCredentialsRequest): Promise<AlterUserScramCredentialsResponseInput> {
    const store = ctx.services.scramCredentials;
    const changes: Change[] = [
      ...req.deletions.map((d): Change => ({ kind: 'delete', user: d.name, mechanism: d.mechanism })),
      ...req.upsertions.map(
        (u): Change => ({
          kind: 'upsert',
          user: u.name,
          mechanism: u.mechanism,
          iterations: u.iterations,
          salt: u.salt,
          saltedPassword: u.saltedPassword,
        }),
      ),
    ];
    const byUser = new Map<string, Change[]>();
    for (const c of changes) {
      let list = byUser.get(c.user);
      if (list === undefined) byUser.set(c.user, (list = []));
      list.push(c);
    }
    const listed = await store.list(Object.values(scramMechanismByType));
    const existing = new Set<string>();
    for (const [user, creds] of listed) for (const c of creds) existing.add(`${c.mechanism}/${user}`);

    const results: ResultInput[] = [];
    const upserts: { mechanism: string; user: string; credential: ScramCredential }[] = [];
    const deletions: { mechanism: string; user: string }[] = [];
    for (const [user, list] of byUser) {
      // Kafka 4.4 refuses a user named twice in one request, whatever the mechanisms.
      if (list.length > 1) {
        results.push({
          user,
          errorCode: ErrorCode.DUPLICATE_RESOURCE,
          errorMessage: 'A user credential cannot be altered twice in the same request',
        });
        continue;
      }
      const error = list.map((c) => checkChange(c, existing)).find((e) => e !== null);
      if (error) {
        results.push({ user, ...error });
        continue;
      }
      for (const c of list) {
        const mechanism = scramMechanismByType[c.mechanism] as ScramMechanism;
        if (c.kind === 'delete') deletions.push({ mechanism, user });
        else upserts.push({ mechanism, user, credential: credentialFromSalted(mechanism, c.saltedPassword, c.salt, c.iterations) });
      }
      results.push({ user, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    await store.apply(upserts, deletions);
    return { throttleTimeMs: 0, results };
  },
};
