// SaslHandshake: the client names a SASL mechanism. On a SASL listener before authentication it starts the
// exchange (or fails with UNSUPPORTED_SASL_MECHANISM and the enabled list, then the connection closes); anywhere
// else Kafka's KafkaApis answers ILLEGAL_SASL_STATE (no re-authentication: connections.max.reauth.ms is 0).
import { ApiKey } from '../protocol/generated/index.ts';
import type { SaslHandshakeRequest, SaslHandshakeResponseInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const saslHandshakeHandler: ApiHandler<typeof ApiKey.SaslHandshake> = {
  apiKey: ApiKey.SaslHandshake,
  minVersion: 0,
  maxVersion: 1,
  handle(ctx: RequestContext, req: SaslHandshakeRequest): SaslHandshakeResponseInput {
    const sasl = ctx.sasl;
    if (sasl === null || sasl.state !== 'handshake') return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
    const mechanisms = [...sasl.enabledMechanisms];
    if (!sasl.handshake(req.mechanism, ctx.apiVersion)) return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    return { errorCode: ErrorCode.NONE, mechanisms };
  },
};
