// The SASL state of one connection of a SASL_PLAINTEXT or SASL_SSL listener, as Kafka's SaslServerAuthenticator:
// handshake (SaslHandshake picks a mechanism; ApiVersions is also served) → authenticate (the mechanism's tokens,
// in SaslAuthenticate requests after a v1 handshake, or as raw size-prefixed frames after a v0 one) →
// authenticated (the principal is set; every API is served) or failed (the connection closes).
import type { ListenerSecurity } from '../../config.ts';
import type { KafkaPrincipal } from '../principal.ts';
import { PlainServer } from './plain-server.ts';
import { ScramServer } from './scram-server.ts';
import type { ScramCredentialLookup } from './scram-server.ts';
import type { SaslMechanismServer, SaslStep } from './mechanism.ts';
import { failed } from './mechanism.ts';

export type SaslState = 'handshake' | 'authenticate' | 'authenticated' | 'failed';

export class SaslSession {
  state: SaslState = 'handshake';
  /** After a v0 SaslHandshake the tokens come as raw frames, without Kafka request headers. */
  rawTokens = false;
  principal: KafkaPrincipal | null = null;
  private server: SaslMechanismServer | null = null;
  readonly enabledMechanisms: readonly string[];
  private readonly security: ListenerSecurity;
  private readonly lookup: ScramCredentialLookup;

  /** Re-authentication (KIP-368): the principal the new session must prove, the connection's current one. */
  private readonly reauthenticating: KafkaPrincipal | null;
  /** connections.max.reauth.ms: the session's lifetime once authenticated (0: none). */
  readonly lifetimeMs: number;
  /** When the authenticated session ends (Date.now() clock), 0 for never. */
  expiresAtMs = 0;

  constructor(security: ListenerSecurity, lookup: ScramCredentialLookup, reauthenticating: KafkaPrincipal | null = null) {
    this.security = security;
    this.enabledMechanisms = security.saslEnabledMechanisms;
    this.lookup = lookup;
    this.reauthenticating = reauthenticating;
    this.lifetimeMs = security.reauthMs;
  }

  get mechanism(): string | null {
    return this.server?.mechanism ?? null;
  }

  /**
   * SaslHandshake: true when the mechanism is enabled (the exchange may start); false otherwise, which fails the
   * session (Kafka answers UNSUPPORTED_SASL_MECHANISM, then closes the connection).
   */
  handshake(mechanism: string, version: number): boolean {
    if (this.state !== 'handshake') return false;
    if (!this.enabledMechanisms.includes(mechanism)) {
      this.state = 'failed';
      return false;
    }
    if (mechanism === 'PLAIN') this.server = new PlainServer(this.security.plainJaas, this.lookup);
    else this.server = new ScramServer(mechanism as 'SCRAM-SHA-256' | 'SCRAM-SHA-512', this.lookup);
    this.state = 'authenticate';
    this.rawTokens = version === 0;
    return true;
  }

  /** One client token of the exchange. Sets the principal when it completes; a failure ends the session. */
  async authenticate(token: Buffer): Promise<SaslStep> {
    if (this.state !== 'authenticate' || this.server === null) return failed('Unexpected SASL token: no SASL exchange in progress');
    let step: SaslStep;
    try {
      step = await this.server.evaluate(token);
    } catch {
      // A store error (say the metadata store is unreachable) fails this authentication; the client may retry.
      // The error's text is not sent: it could quote stored data.
      step = failed('Authentication failed: the credentials could not be read');
    }
    if (step.kind === 'done' && this.reauthenticating !== null && this.reauthenticating.name !== step.user) {
      // Kafka: re-authentication may not change who the connection is.
      step = failed(`Cannot change principals during re-authentication from User:${this.reauthenticating.name}: User:${step.user}`);
    }
    if (step.kind === 'done') {
      this.state = 'authenticated';
      this.principal = Object.freeze({ type: 'User', name: step.user });
      if (this.lifetimeMs > 0) this.expiresAtMs = Date.now() + this.lifetimeMs;
    } else if (step.kind === 'failed') {
      this.state = 'failed';
    }
    return step;
  }
}
