// Test-side SASL: a SCRAM client (RFC 5802) written independently of the broker's server, and helpers that
// authenticate a RawConnection with SaslHandshake/SaslAuthenticate (or v0 raw tokens) and create SCRAM users
// through AlterUserScramCredentials, as a Kafka admin client does.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { RawConnection } from './raw-client.ts';

type Mechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const hashOf = (m: Mechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');

export function saltedPasswordOf(mechanism: Mechanism, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, iterations, mechanism === 'SCRAM-SHA-256' ? 32 : 64, hashOf(mechanism));
}

export function scramClient(mechanism: Mechanism, user: string, password: string) {
  const hash = hashOf(mechanism);
  const nonce = randomBytes(18).toString('base64');
  const bare = `n=${user.replaceAll('=', '=3D').replaceAll(',', '=2C')},r=${nonce}`;
  let serverSignature = '';
  return {
    first: () => Buffer.from(`n,,${bare}`),
    async final(serverFirst: Buffer): Promise<Buffer> {
      const text = serverFirst.toString();
      const attrs = Object.fromEntries(text.split(',').map((p) => [p[0], p.slice(2)]));
      const salted = saltedPasswordOf(mechanism, password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i));
      const clientKey = createHmac(hash, salted).update('Client Key').digest();
      const storedKey = createHash(hash).update(clientKey).digest();
      const withoutProof = `c=biws,r=${attrs.r}`;
      const authMessage = `${bare},${text},${withoutProof}`;
      const signature = createHmac(hash, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
      const serverKey = createHmac(hash, salted).update('Server Key').digest();
      serverSignature = createHmac(hash, serverKey).update(authMessage).digest('base64');
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
    },
    verify: (serverFinal: Buffer) => serverFinal.toString() === `v=${serverSignature}`,
  };
}

export function plainToken(user: string, password: string, authzid = ''): Buffer {
  return Buffer.from(`${authzid}\0${user}\0${password}`);
}

/** SaslHandshake v1 + SaslAuthenticate: resolves with the last SaslAuthenticate response (errorCode 0 when authenticated). */
export async function authenticate(
  c: RawConnection,
  mechanism: 'PLAIN' | Mechanism,
  user: string,
  password: string,
  authenticateVersion = 2,
): Promise<{ errorCode: number; errorMessage: string | null }> {
  const hs = await c.request(ApiKey.SaslHandshake, 1, { mechanism });
  if (hs.errorCode !== 0) return { errorCode: hs.errorCode, errorMessage: `handshake: ${hs.mechanisms.join(',')}` };
  if (mechanism === 'PLAIN') return c.request(ApiKey.SaslAuthenticate, authenticateVersion, { authBytes: plainToken(user, password) });
  const client = scramClient(mechanism, user, password);
  const first = await c.request(ApiKey.SaslAuthenticate, authenticateVersion, { authBytes: client.first() });
  if (first.errorCode !== 0) return first;
  const final = await c.request(ApiKey.SaslAuthenticate, authenticateVersion, { authBytes: await client.final(first.authBytes) });
  if (final.errorCode === 0 && !client.verify(final.authBytes)) throw new Error('server signature does not verify');
  return final;
}

/** An authenticated connection (throws if authentication fails). */
export async function connectAuthenticated(
  port: number,
  mechanism: 'PLAIN' | Mechanism,
  user: string,
  password: string,
): Promise<RawConnection> {
  const c = await RawConnection.connect(port);
  const r = await authenticate(c, mechanism, user, password);
  if (r.errorCode !== 0) {
    c.close();
    throw new Error(`authentication failed: ${r.errorCode} ${r.errorMessage}`);
  }
  return c;
}

/** Upserts SCRAM credentials through AlterUserScramCredentials on `c`; throws on a per-user error. */
export async function addScramUser(
  c: RawConnection,
  user: string,
  password: string,
  mechanisms: Mechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'],
  iterations = 4096,
): Promise<void> {
  // One request per mechanism: Kafka refuses a user named twice in one request (DUPLICATE_RESOURCE).
  for (const m of mechanisms) {
    const salt = randomBytes(24);
    const upsertion = {
      name: user,
      mechanism: m === 'SCRAM-SHA-256' ? 1 : 2,
      iterations,
      salt,
      saltedPassword: saltedPasswordOf(m, password, salt, iterations),
    };
    const r = await c.request(ApiKey.AlterUserScramCredentials, 0, { deletions: [], upsertions: [upsertion] });
    for (const res of r.results)
      if (res.errorCode !== 0) throw new Error(`AlterUserScramCredentials ${res.user}: ${res.errorCode} ${res.errorMessage}`);
  }
}
