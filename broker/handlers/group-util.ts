// Small helpers shared by the consumer group handlers.
import type { RequestContext } from './context.ts';

/** The client's host as Kafka reports it in DescribeGroups (InetAddress.toString(): "/127.0.0.1"). */
export function clientHost(ctx: RequestContext): string {
  const a = ctx.clientAddress;
  const colon = a.lastIndexOf(':');
  return `/${colon > 0 ? a.slice(0, colon) : a}`;
}

/** The client id of the request header ("" when absent), for member ids and DescribeGroups. */
export function clientId(ctx: RequestContext): string {
  return ctx.header.clientId ?? '';
}
