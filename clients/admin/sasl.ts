// SASL client mechanisms (PLAIN, RFC 4616; SCRAM-SHA-256/512, RFC 5802 and 7677) as message steps, run by the
// connection over SaslHandshake v1 + SaslAuthenticate. No message or error here carries the password.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { scramMaxIterations } from './limits.ts';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const scramMechanisms: Record<ScramMechanism, { id: number; hash: 'sha256' | 'sha512'; bytes: number }> = {
  'SCRAM-SHA-256': { id: 1, hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { id: 2, hash: 'sha512', bytes: 64 },
};
/** Kafka's minimum SCRAM iteration count (4096) and the default this client uses. */
export const scramMinIterations = 4096;

/** SaltedPassword := Hi(password, salt, i) of RFC 5802, which is PBKDF2 with HMAC over the mechanism's hash. */
export function scramSaltedPassword(mechanism: ScramMechanism, password: string, salt: Buffer, iterations: number): Buffer {
  const m = scramMechanisms[mechanism];
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC')), salt, iterations, m.bytes, m.hash);
}

/** HMAC(key, text) with the mechanism's hash: ClientKey = HMAC(SaltedPassword, "Client Key") and the like. */
export function scramHmac(mechanism: ScramMechanism, key: Buffer, text: string | Buffer): Buffer {
  return createHmac(scramMechanisms[mechanism].hash, key).update(text).digest();
}

export interface SaslOptions {
  mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  username: string;
  password: string;
}

/** A client mechanism: `first()` is the first message; `next(challenge)` the reply, or null when done. */
export interface SaslClient {
  first(): Buffer;
  next(challenge: Buffer): Buffer | null;
}

export class SaslError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SaslError';
  }
}

export function plainClient(username: string, password: string): SaslClient {
  return {
    first: () => Buffer.from(`\u0000${username}\u0000${password}`, 'utf8'),
    next: () => null,
  };
}

const escapeName = (s: string) => s.replace(/=/g, '=3D').replace(/,/g, '=2C');
const hashOf = (m: ScramMechanism) => (m === 'SCRAM-SHA-256' ? 'sha256' : 'sha512');

/** SCRAM client; `nonce` is for tests (RFC vectors), random otherwise. */
export function scramClient(
  mechanism: ScramMechanism,
  username: string,
  password: string,
  nonce = randomBytes(18).toString('base64'),
): SaslClient {
  const clientFirstBare = `n=${escapeName(username)},r=${nonce}`;
  let step = 0;
  let expectedServerSignature: Buffer | null = null;
  return {
    first: () => Buffer.from(`n,,${clientFirstBare}`, 'utf8'),
    next: (challenge) => {
      const text = challenge.toString('utf8');
      const attrs = new Map(text.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const));
      if (attrs.has('e')) throw new SaslError(`SCRAM: the server refused: ${attrs.get('e')}`);
      if (step === 0) {
        step = 1;
        const serverNonce = attrs.get('r') ?? '';
        const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
        const iterations = Number(attrs.get('i'));
        if (!serverNonce.startsWith(nonce) || serverNonce.length <= nonce.length)
          throw new SaslError('SCRAM: the server nonce does not extend the client nonce');
        if (!(Number.isInteger(iterations) && iterations > 0 && iterations <= scramMaxIterations)) {
          throw new SaslError(`SCRAM: iteration count ${attrs.get('i')} outside 1..${scramMaxIterations}`);
        }
        const salted = scramSaltedPassword(mechanism, password, salt, iterations);
        const withoutProof = `c=biws,r=${serverNonce}`;
        const authMessage = `${clientFirstBare},${text},${withoutProof}`;
        const clientKey = scramHmac(mechanism, salted, 'Client Key');
        const storedKey = createHash(hashOf(mechanism)).update(clientKey).digest();
        const signature = scramHmac(mechanism, storedKey, authMessage);
        const proof = Buffer.alloc(clientKey.length);
        for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
        expectedServerSignature = scramHmac(mechanism, scramHmac(mechanism, salted, 'Server Key'), authMessage);
        return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
      }
      if (step === 1) {
        step = 2;
        const v = Buffer.from(attrs.get('v') ?? '', 'base64');
        if (!expectedServerSignature || v.length !== expectedServerSignature.length || !timingSafeEqual(v, expectedServerSignature)) {
          throw new SaslError('SCRAM: the server signature does not match (not the server that holds the credential)');
        }
        return null;
      }
      throw new SaslError('SCRAM: unexpected message after the exchange ended');
    },
  };
}

export function saslClient(o: SaslOptions): SaslClient {
  if (o.mechanism === 'PLAIN') return plainClient(o.username, o.password);
  if (o.mechanism === 'SCRAM-SHA-256' || o.mechanism === 'SCRAM-SHA-512') return scramClient(o.mechanism, o.username, o.password);
  throw new SaslError(`SASL mechanism ${String((o as { mechanism: unknown }).mechanism)} is not supported`);
}
