// SASL/PLAIN server (RFC 4616), as Kafka's PlainSaslServer: one token "authzid NUL user NUL password". The password
// is checked against the listener's JAAS user_<name> entries, then (a Skafos extension, so that one set of
// credentials serves both mechanisms) against the user's SCRAM credentials. Comparisons are constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { JaasConfig } from '../../config.ts';
import { credentialFromSalted, saltedPassword, SCRAM_MECHANISMS } from '../scram.ts';
import { failed } from './mechanism.ts';
import type { SaslMechanismServer, SaslStep } from './mechanism.ts';
import type { ScramCredentialLookup } from './scram-server.ts';

function sameSecret(a: Buffer, b: Buffer): boolean {
  // Digests first: equal lengths for timingSafeEqual, and no early exit on a length difference.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export class PlainServer implements SaslMechanismServer {
  readonly mechanism = 'PLAIN';
  private readonly jaas: JaasConfig | null;
  private readonly lookup: ScramCredentialLookup;
  private used = false;

  constructor(jaas: JaasConfig | null, lookup: ScramCredentialLookup) {
    this.jaas = jaas;
    this.lookup = lookup;
  }

  async evaluate(token: Buffer): Promise<SaslStep> {
    if (this.used) return failed('Unexpected SASL/PLAIN token after the exchange ended');
    this.used = true;
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i <= token.length; i++) {
      if (i === token.length || token[i] === 0) {
        parts.push(token.subarray(start, i));
        start = i + 1;
      }
    }
    if (parts.length !== 3) return failed(`Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}`);
    const [authzid, userBytes, password] = parts as [Buffer, Buffer, Buffer];
    const user = userBytes.toString('utf8');
    if (user === '') return failed('Authentication failed: username not specified');
    if (password.length === 0) return failed('Authentication failed: password not specified');
    if (authzid.length > 0 && authzid.toString('utf8') !== user) {
      return failed('Authentication failed: Client requested an authorization id that is different from username');
    }
    if (await this.check(user, password)) return { kind: 'done', user, response: Buffer.alloc(0) };
    return failed('Authentication failed: Invalid username or password');
  }

  private async check(user: string, password: Buffer): Promise<boolean> {
    const expected = this.jaas?.options[`user_${user}`];
    if (expected !== undefined) return sameSecret(Buffer.from(expected, 'utf8'), password);
    for (const mechanism of SCRAM_MECHANISMS) {
      const credential = await this.lookup(mechanism, user);
      if (credential === null) continue;
      const salted = await saltedPassword(mechanism, password, credential.salt, credential.iterations);
      const derived = credentialFromSalted(mechanism, salted, credential.salt, credential.iterations);
      return timingSafeEqual(derived.storedKey, credential.storedKey);
    }
    // Unknown user: the same work as a known one would cost, so that timing does not tell users apart.
    await saltedPassword('SCRAM-SHA-256', password, Buffer.alloc(32), 4096);
    return false;
  }
}
