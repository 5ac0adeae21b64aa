// SaslAuthenticate: one token of the SASL exchange the handshake started (broker/security/sasl). A failure answers
// SASL_AUTHENTICATION_FAILED with the mechanism's message, and the connection closes
// (connection.failed.authentication.delay.ms later); after authentication, or on a listener without SASL, Kafka's
// KafkaApis answers ILLEGAL_SASL_STATE.
import { ApiKey } from '../protocol/generated/index.ts';
import type { SaslAuthenticateRequest, SaslAuthenticateResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';

const noBytes = Buffer.alloc(0);

export const saslAuthenticateHandler: ApiHandler<typeof ApiKey.SaslAuthenticate> = {
  apiKey: ApiKey.SaslAuthenticate,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx: RequestContext, req: SaslAuthenticateRequest): Promise<SaslAuthenticateResponseInput> {
    const sasl = ctx.sasl;
    if (sasl === null || sasl.state === 'authenticated' || sasl.state === 'handshake') {
      return {
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: 'SaslAuthenticate request received after successful authentication',
        authBytes: noBytes,
        sessionLifetimeMs: 0,
      };
    }
    const step = await sasl.authenticate(req.authBytes);
    if (step.kind === 'failed') {
      ctx.services.logger.info(
        { client: ctx.clientAddress, listener: ctx.listenerName, mechanism: sasl.mechanism, reason: step.message },
        'SASL authentication failed',
      );
      return { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: step.message, authBytes: noBytes, sessionLifetimeMs: 0 };
    }
    if (step.kind === 'done') {
      ctx.services.logger.debug(
        { client: ctx.clientAddress, listener: ctx.listenerName, mechanism: sasl.mechanism, principal: `User:${step.user}` },
        'SASL authentication succeeded',
      );
    }
    // Kafka's default for the message is the empty string, which it sends on success.
    // v1+: the session's lifetime, within which the client re-authenticates (KIP-368); 0 when sessions do not expire.
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: '',
      authBytes: step.response,
      sessionLifetimeMs: step.kind === 'done' ? sasl.lifetimeMs : 0,
    };
  },
};
