// SCRAM (RFC 5802, RFC 7677) arithmetic shared by the SASL server and the credential APIs: the salted password's
// derived keys, and Kafka's bounds on iterations. Only derived keys are ever stored (broker/metadata/scram-credentials.ts).
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import type { ScramCredential } from '../metadata/scram-credentials.ts';

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

/** Kafka's ScramMechanism type codes (DescribeUserScramCredentials, AlterUserScramCredentials). */
export const scramMechanismByType: Readonly<Record<number, ScramMechanism>> = { 1: 'SCRAM-SHA-256', 2: 'SCRAM-SHA-512' };
export const scramTypeByMechanism: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };
export const SCRAM_MECHANISMS: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Kafka's bounds (ScramMechanism.minIterations, the AlterUserScramCredentials maximum). */
export const scramMinIterations = 4096;
export const scramMaxIterations = 16384;

export function hashOf(mechanism: ScramMechanism): 'sha256' | 'sha512' {
  return mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
}

export function hmac(hash: string, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

export function h(hash: string, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

/** Hi(password, salt, i): PBKDF2 with the mechanism's HMAC; asynchronous (it costs milliseconds by design). */
export function saltedPassword(mechanism: ScramMechanism, password: Buffer | string, salt: Buffer, iterations: number): Promise<Buffer> {
  const hash = hashOf(mechanism);
  const len = hash === 'sha256' ? 32 : 64;
  return new Promise((resolve, reject) => pbkdf2(password, salt, iterations, len, hash, (err, key) => (err ? reject(err) : resolve(key))));
}

/** StoredKey and ServerKey of a salted password. */
export function credentialFromSalted(mechanism: ScramMechanism, salted: Buffer, salt: Buffer, iterations: number): ScramCredential {
  const hash = hashOf(mechanism);
  const clientKey = hmac(hash, salted, 'Client Key');
  return { salt, iterations, storedKey: h(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

/** A credential for a password (tests, tools): a random salt. */
export async function credentialFor(
  mechanism: ScramMechanism,
  password: string,
  iterations = scramMinIterations,
): Promise<ScramCredential> {
  const salt = randomBytes(32);
  return credentialFromSalted(mechanism, await saltedPassword(mechanism, password, salt, iterations), salt, iterations);
}
