// ApiVersions: advertises exactly the APIs and versions this broker has handlers for.
import { ApiKey } from '../protocol/generated/index.ts';
import type { ApiVersionsRequest, ApiVersionsResponseInput, ApiVersionsResponseApiVersionInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, Handler, RequestContext } from './context.ts';

/** Kafka's ApiVersionsRequest.isValid (v3+): client software name and version must match this. */
const softwareNameOrVersion = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

function supported(handlers: readonly (Handler | undefined)[]): ApiVersionsResponseApiVersionInput[] {
  const apiKeys: ApiVersionsResponseApiVersionInput[] = [];
  for (const h of handlers)
    if (h) apiKeys.push({ apiKey: h.apiKey, minVersion: h.advertisedMinVersion ?? h.minVersion, maxVersion: h.maxVersion });
  return apiKeys;
}

/** The v0 response to an ApiVersions request of a version this broker does not know (KIP-511). */
export function apiVersionsUnsupportedResponse(handlers: readonly (Handler | undefined)[]): ApiVersionsResponseInput {
  return { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supported(handlers) };
}

export function apiVersionsHandler(handlers: () => readonly (Handler | undefined)[]): ApiHandler<typeof ApiKey.ApiVersions> {
  return {
    apiKey: ApiKey.ApiVersions,
    minVersion: 0,
    maxVersion: 4,
    handle(ctx: RequestContext, req: ApiVersionsRequest): ApiVersionsResponseInput {
      // KafkaApis.handleApiVersionsRequest: an invalid v3+ request gets INVALID_REQUEST and no API list; the
      // connection stays open.
      if (
        ctx.apiVersion >= 3 &&
        !(softwareNameOrVersion.test(req.clientSoftwareName) && softwareNameOrVersion.test(req.clientSoftwareVersion))
      ) {
        return { errorCode: ErrorCode.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 };
      }
      return { errorCode: ErrorCode.NONE, apiKeys: supported(handlers()), throttleTimeMs: 0 };
    },
  };
}
