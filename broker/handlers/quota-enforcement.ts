// Byte-rate quotas on Produce (producer_byte_rate: the records a request carries) and Fetch (consumer_byte_rate:
// the records a response carries), applied around those two handlers as Kafka's ClientQuotaManager does: the
// bytes are recorded against the (user, client-id)'s quota, a client over it gets the throttle time in the
// response's throttle_time_ms and its connection is not read for that long (KIP-219). With no quota defined
// anywhere in the cluster, one boolean check.
import { ApiKey } from '../protocol/generated/index.ts';
import type { FetchResponseInput, ProduceRequest, ProduceResponseInput } from '../protocol/generated/index.ts';
import type { Handler, RequestContext } from './context.ts';

function produceBytes(req: ProduceRequest): number {
  let n = 0;
  for (const td of req.topicData) for (const pd of td.partitionData) n += pd.records?.length ?? 0;
  return n;
}

function fetchBytes(res: FetchResponseInput): number {
  let n = 0;
  for (const t of res.responses ?? []) for (const p of t.partitions ?? []) n += p.records?.length ?? 0;
  return n;
}

function throttle(ctx: RequestContext, key: 'producer_byte_rate' | 'consumer_byte_rate', bytes: number): number {
  const ms = ctx.services.quotas.record(key, ctx.principal.name, ctx.header.clientId ?? '', bytes, Date.now());
  if (ms > 0) ctx.throttle(ms);
  return ms;
}

/** The handler with its API's byte-rate quota applied (Produce and Fetch; other handlers are returned as they are). */
export function withQuota(handler: Handler): Handler {
  const inner = handler.handle.bind(handler);
  if (handler.apiKey === ApiKey.Produce) {
    return {
      ...handler,
      handle(ctx: RequestContext, req: unknown) {
        if (!ctx.services.quotas.active) return inner(ctx, req);
        return enforceProduce(ctx, req as ProduceRequest, inner);
      },
    };
  }
  if (handler.apiKey === ApiKey.Fetch) {
    return {
      ...handler,
      handle(ctx: RequestContext, req: unknown) {
        if (!ctx.services.quotas.active) return inner(ctx, req);
        return enforceFetch(ctx, req, inner);
      },
    };
  }
  return handler;
}

type Inner = (ctx: RequestContext, req: unknown) => unknown;

async function enforceProduce(ctx: RequestContext, req: ProduceRequest, inner: Inner): Promise<ProduceResponseInput | null> {
  const res = (await inner(ctx, req)) as ProduceResponseInput | null;
  const ms = throttle(ctx, 'producer_byte_rate', produceBytes(req as ProduceRequest));
  if (res !== null && ms > (res.throttleTimeMs ?? 0)) res.throttleTimeMs = ms;
  return res;
}

async function enforceFetch(ctx: RequestContext, req: unknown, inner: Inner): Promise<FetchResponseInput | null> {
  const res = (await inner(ctx, req)) as FetchResponseInput | null;
  if (res === null) return res;
  const ms = throttle(ctx, 'consumer_byte_rate', fetchBytes(res));
  if (ms > (res.throttleTimeMs ?? 0)) res.throttleTimeMs = ms;
  return res;
}
