// SCRAM-SHA-256 / SCRAM-SHA-512 server (RFC 5802, RFC 7677), as Kafka's ScramSaslServer: client-first → server-first
// (nonce, salt, iterations of the stored credential) → client-final (proof checked against StoredKey) →
// server-final (the server signature). Channel binding is not supported (gs2 flag n or y), nor Kafka's delegation
// token extension (tokenauth).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredential } from '../../metadata/scram-credentials.ts';
import { h, hashOf, hmac, scramMinIterations } from '../scram.ts';
import type { ScramMechanism } from '../scram.ts';
import { failed } from './mechanism.ts';
import type { SaslMechanismServer, SaslStep } from './mechanism.ts';

export type ScramCredentialLookup = (mechanism: ScramMechanism, user: string) => Promise<ScramCredential | null>;

/** Kafka's answer when the user or the proof is wrong (one message for both). */
export function invalidCredentials(mechanism: string): string {
  return `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
}

/** RFC 5802 saslname: "=2C" is ",", "=3D" is "="; any other "=" is invalid. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replaceAll('=2C', ',').replaceAll('=3D', '=');
}

/** a=v attributes of a SCRAM message, in order. */
function attributes(message: string): [string, string][] | null {
  const out: [string, string][] = [];
  for (const part of message.split(',')) {
    if (!/^[A-Za-z]=/.test(part)) return null;
    out.push([part[0]!, part.slice(2)]);
  }
  return out;
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export class ScramServer implements SaslMechanismServer {
  readonly mechanism: ScramMechanism;
  private readonly lookup: ScramCredentialLookup;
  private state: 'first' | 'final' | 'over' = 'first';
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private user = '';
  private credential: ScramCredential | null = null;

  private readonly serverNonce: () => string;

  /** `serverNonce`: the server's part of the nonce (random; fixed only by tests replaying RFC examples). */
  constructor(mechanism: ScramMechanism, lookup: ScramCredentialLookup, serverNonce = () => randomBytes(24).toString('base64url')) {
    this.mechanism = mechanism;
    this.lookup = lookup;
    this.serverNonce = serverNonce;
  }

  async evaluate(token: Buffer): Promise<SaslStep> {
    const state = this.state;
    this.state = 'over'; // a failure below ends the exchange
    if (state === 'first') return this.clientFirst(token.toString('utf8'));
    if (state === 'final') return this.clientFinal(token.toString('utf8'));
    return failed(`Unexpected SASL ${this.mechanism} token after the exchange ended`);
  }

  private async clientFirst(message: string): Promise<SaslStep> {
    const bad = failed(`Invalid SCRAM client first message`);
    // gs2-header: cbind-flag "," [authzid] ","
    const m = /^([ny]),(?:a=([^,]*))?,(.*)$/s.exec(message);
    if (!m) return message.startsWith('p=') ? failed('SCRAM channel binding is not supported') : bad;
    this.gs2Header = message.slice(0, message.length - m[3]!.length);
    this.clientFirstBare = m[3]!;
    const attrs = attributes(this.clientFirstBare);
    if (attrs === null || attrs.length < 2 || attrs[0]![0] !== 'n' || attrs[1]![0] !== 'r') return bad;
    const user = decodeSaslName(attrs[0]![1]);
    const clientNonce = attrs[1]![1];
    if (user === null || user === '' || !PRINTABLE_NONCE.test(clientNonce)) return bad;
    for (const [k] of attrs.slice(2)) if (k === 'm') return bad; // mandatory extensions are not supported
    if (this.clientFirstBare.includes(',tokenauth=true')) return failed('Delegation token authentication is not supported');
    if (m[2] !== undefined && m[2] !== '' && decodeSaslName(m[2]) !== user) {
      return failed('Authentication failed: Client requested an authorization id that is different from username');
    }
    const credential = await this.lookup(this.mechanism, user);
    if (credential === null) return failed(invalidCredentials(this.mechanism));
    if (credential.iterations < scramMinIterations) {
      return failed(`Iterations ${credential.iterations} is less than the minimum ${scramMinIterations} for ${this.mechanism}`);
    }
    this.user = user;
    this.credential = credential;
    this.nonce = clientNonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.state = 'final';
    return { kind: 'continue', response: Buffer.from(this.serverFirst, 'utf8') };
  }

  private clientFinal(message: string): SaslStep {
    const bad = failed('Invalid SCRAM client final message');
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) return bad;
    const withoutProof = message.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs === null || attrs.length < 2 || attrs[0]![0] !== 'c' || attrs[1]![0] !== 'r') return bad;
    if (attrs[0]![1] !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) return failed('Invalid SCRAM channel binding');
    // Kafka accepts a nonce that ends with the server's (librdkafka sends its client nonce again in front of it).
    if (!attrs[1]![1].endsWith(this.nonce)) return failed('Invalid client nonce in the final client message.');
    const proofText = message.slice(proofAt + 3);
    const hash = hashOf(this.mechanism);
    const credential = this.credential!;
    const proof = Buffer.from(proofText, 'base64');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(proofText) || proof.length !== credential.storedKey.length)
      return failed(invalidCredentials(this.mechanism));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(hash, credential.storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(h(hash, clientKey), credential.storedKey)) return failed(invalidCredentials(this.mechanism));
    const serverSignature = hmac(hash, credential.serverKey, authMessage);
    return { kind: 'done', user: this.user, response: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }
}
