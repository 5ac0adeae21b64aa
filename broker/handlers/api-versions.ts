// ApiVersions: advertises exactly the APIs and versions this broker has handlers for.
import { ApiKey } from '../protocol/generated/index.ts';
import type { ApiVersionsRequest, ApiVersionsResponseInput, ApiVersionsResponseApiVersionInput } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { ApiHandler, Handler, RequestContext } from './context.ts';

/**
 * Kafka features (KIP-584) this broker supports, with their ranges, as ApiVersions v3+ lists them: `group.version`
 * 1 is KIP-848's consumer groups; `transaction.version` 2 is KIP-890 part 2 (spec/transactions.md). Features Skafos
 * does not implement (share and streams groups, eligible leader replicas, KRaft's metadata.version) are not listed.
 */
const supportedFeatures = [
  { name: 'group.version', minVersion: 0, maxVersion: 1 },
  { name: 'transaction.version', minVersion: 0, maxVersion: 2 },
];

/** The finalized levels: group.version 1, transaction.version as configured; a feature at level 0 is not listed (as in Kafka). */
function finalizedFeatures(transactionVersion: number): { name: string; minVersionLevel: number; maxVersionLevel: number }[] {
  const levels: [string, number][] = [
    ['group.version', 1],
    ['transaction.version', transactionVersion],
  ];
  return levels.filter(([, level]) => level > 0).map(([name, level]) => ({ name, minVersionLevel: level, maxVersionLevel: level }));
}

/** Kafka's ApiVersionsRequest.isValid (v3+): client software name and version must match this. */
const softwareNameOrVersion = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

function supported(handlers: readonly (Handler | undefined)[]): ApiVersionsResponseApiVersionInput[] {
  const apiKeys: ApiVersionsResponseApiVersionInput[] = [];
  for (const h of handlers) if (h) apiKeys.push({ apiKey: h.apiKey, minVersion: h.minVersion, maxVersion: h.maxVersion });
  return apiKeys;
}

/** The v0 response to an ApiVersions request of a version this broker does not know (KIP-511). */
export function apiVersionsUnsupportedResponse(handlers: readonly (Handler | undefined)[]): ApiVersionsResponseInput {
  return { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supported(handlers) };
}

export function apiVersionsHandler(handlers: () => readonly (Handler | undefined)[]): ApiHandler<typeof ApiKey.ApiVersions> {
  // The epoch of the finalized features. Kafka's is the metadata offset of their last change; here the levels are
  // static settings, read when the broker starts, so the epoch is the start time: clients keep the features of the
  // highest epoch they have seen, and a broker restarted with other levels is newer than every earlier answer.
  const finalizedFeaturesEpoch = Date.now();
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
      const r: ApiVersionsResponseInput = { errorCode: ErrorCode.NONE, apiKeys: supported(handlers()), throttleTimeMs: 0 };
      if (ctx.apiVersion >= 3) {
        r.supportedFeatures = supportedFeatures;
        r.finalizedFeatures = finalizedFeatures(ctx.services.config.transactionVersion);
        r.finalizedFeaturesEpoch = finalizedFeaturesEpoch;
      }
      return r;
    },
  };
}
