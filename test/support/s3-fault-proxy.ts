// A fault-injecting HTTP proxy for S3 tests: sits on 127.0.0.1 in front of an S3 endpoint (radosgw), forwards
// requests unchanged (the Host header too, so SigV4 signatures stay valid) and applies programmed faults.
//
//   const proxy = await startFaultProxy(s3.endpoint);
//   const rule = proxy.inject(faults.slowDown(), { method: 'PUT', key: /^wal\// }, { times: 3 });
//   ... point the store at proxy.endpoint ...
//   rule.hits; rule.remove(); proxy.clear(); proxy.stats(); await proxy.close();
//
// A request takes the fault of the first rule (in injection order) that matches it and has uses left; the others
// are forwarded. Faults: an S3 error response (503 SlowDown, 500, 404 NoSuchKey, any status and code), added
// latency before forwarding, a stalled request (read, never answered), a reset connection (before or after
// forwarding, the latter being an outcome the client cannot know), a cut response body.

import { Agent, createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type Fault =
  /** Answer with this status and S3 error code, without forwarding. */
  | { kind: 'error'; status: number; code: string; message?: string; headers?: Record<string, string> }
  /** Wait, then forward. */
  | { kind: 'delay'; ms: number }
  /** Read the request and never answer (until the client gives up or the proxy closes). */
  | { kind: 'stall' }
  /** Reset the client connection without forwarding. */
  | { kind: 'reset' }
  /** Forward, let the store act on the request, then reset the connection instead of answering. */
  | { kind: 'reset-after-forward' }
  /** Forward and start the response, but cut the connection after this many body bytes. */
  | { kind: 'truncate'; afterBytes: number };

/** Common faults. */
export const faults = {
  slowDown: (): Fault => ({ kind: 'error', status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' }),
  tooManyRequests: (): Fault => ({ kind: 'error', status: 429, code: 'TooManyRequests', message: 'Too many requests.' }),
  internalError: (): Fault => ({
    kind: 'error',
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  }),
  notFound: (): Fault => ({ kind: 'error', status: 404, code: 'NoSuchKey', message: 'The specified key does not exist.' }),
  conditionalConflict: (): Fault => ({
    kind: 'error',
    status: 409,
    code: 'ConditionalRequestConflict',
    message: 'A conflicting conditional operation is in progress.',
  }),
  accessDenied: (): Fault => ({ kind: 'error', status: 403, code: 'AccessDenied', message: 'Access Denied' }),
  error: (status: number, code: string, message = code): Fault => ({ kind: 'error', status, code, message }),
  delay: (ms: number): Fault => ({ kind: 'delay', ms }),
  stall: (): Fault => ({ kind: 'stall' }),
  reset: (): Fault => ({ kind: 'reset' }),
  resetAfterForward: (): Fault => ({ kind: 'reset-after-forward' }),
  truncate: (afterBytes: number): Fault => ({ kind: 'truncate', afterBytes }),
};

/** A request as the rules see it (path-style: /bucket/key?query). */
export interface ProxiedRequest {
  method: string;
  bucket: string;
  /** Decoded key, '' for bucket-level requests. */
  key: string;
  /** Raw query string without '?', e.g. `partNumber=2&uploadId=x` or `list-type=2&prefix=a`. */
  query: string;
  headers: IncomingMessage['headers'];
}

/** Which requests a rule applies to: all of the given conditions, or a function. */
export type Match = { method?: string; key?: RegExp; query?: RegExp; header?: string } | ((r: ProxiedRequest) => boolean);

export interface FaultRule {
  readonly fault: Fault;
  /** Requests this rule has faulted. */
  readonly hits: number;
  /** Stops applying it. */
  remove(): void;
}

export interface FaultProxyStats {
  /** Requests received, and of them faulted. */
  requests: number;
  faulted: number;
  /** Client connections accepted (keep-alive makes it much smaller than requests). */
  connections: number;
  /** Requests being handled now, and the most at once. */
  inFlight: number;
  peakInFlight: number;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  inject(fault: Fault, match?: Match, options?: { times?: number }): FaultRule;
  /** Removes every rule. */
  clear(): void;
  /** Every request received, in order, with the fault applied if any. */
  readonly log: ReadonlyArray<ProxiedRequest & { fault: Fault['kind'] | null }>;
  stats(): FaultProxyStats;
  resetStats(): void;
  close(): Promise<void>;
}

interface Rule {
  fault: Fault;
  match: Match | undefined;
  remaining: number;
  hits: number;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const rules: Rule[] = [];
  const sockets = new Set<Socket>();
  const log: Array<ProxiedRequest & { fault: Fault['kind'] | null }> = [];
  let st: FaultProxyStats = { requests: 0, faulted: 0, connections: 0, inFlight: 0, peakInFlight: 0 };

  const pick = (r: ProxiedRequest): Rule | null => {
    for (const rule of rules) {
      if (rule.remaining <= 0) continue;
      if (rule.match === undefined || matches(rule.match, r)) {
        rule.remaining--;
        rule.hits++;
        return rule;
      }
    }
    return null;
  };

  const server: Server = createServer((req, res) => {
    st.requests++;
    st.inFlight++;
    st.peakInFlight = Math.max(st.peakInFlight, st.inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        st.inFlight--;
      }
    };
    res.on('close', finish);
    const r = describe(req);
    const rule = pick(r);
    log.push({ ...r, fault: rule?.fault.kind ?? null });
    if (rule !== null) st.faulted++;
    void handle(req, res, rule?.fault ?? null).catch(() => {
      req.socket.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => {
    st.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const forward = (req: IncomingMessage, onResponse: (up: IncomingMessage) => void, onError: (err: Error) => void) => {
    const up = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      onResponse,
    );
    up.on('error', onError);
    req.pipe(up);
  };

  async function handle(req: IncomingMessage, res: ServerResponse, fault: Fault | null): Promise<void> {
    switch (fault?.kind) {
      case 'error': {
        req.resume();
        await new Promise((resolve) => req.on('end', resolve));
        const body = req.method === 'HEAD' ? '' : errorXml(fault.code, fault.message ?? fault.code);
        res.writeHead(fault.status, {
          'content-type': 'application/xml',
          'content-length': Buffer.byteLength(body),
          'x-amz-request-id': 'fault-proxy',
          ...fault.headers,
        });
        res.end(body);
        return;
      }
      case 'stall':
        req.resume();
        return; // never answered; closed with the connection
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'delay':
        await sleep(fault.ms);
        break;
      default:
        break;
    }
    forward(
      req,
      (up) => {
        if (fault?.kind === 'reset-after-forward') {
          up.resume();
          up.on('end', () => req.socket.resetAndDestroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (fault?.kind === 'truncate') {
          let sent = 0;
          up.on('data', (chunk: Buffer) => {
            if (sent >= fault.afterBytes) return;
            const part = chunk.subarray(0, fault.afterBytes - sent);
            sent += part.length;
            res.write(part, () => {
              if (sent >= fault.afterBytes) req.socket.destroy();
            });
          });
          up.on('end', () => req.socket.destroy());
          return;
        }
        up.pipe(res);
      },
      () => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end('fault proxy: upstream failed');
        } else {
          req.socket.destroy();
        }
      },
    );
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(fault, match, options = {}) {
      const rule: Rule = { fault, match, remaining: options.times ?? Infinity, hits: 0 };
      rules.push(rule);
      return {
        fault,
        get hits() {
          return rule.hits;
        },
        remove() {
          const i = rules.indexOf(rule);
          if (i >= 0) rules.splice(i, 1);
        },
      };
    },
    clear() {
      rules.length = 0;
    },
    log,
    stats: () => ({ ...st }),
    resetStats() {
      st = { requests: 0, faulted: 0, connections: 0, inFlight: st.inFlight, peakInFlight: st.inFlight };
      log.length = 0;
    },
    async close() {
      rules.length = 0;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      agent.destroy();
      await closed;
    },
  };
}

function describe(req: IncomingMessage): ProxiedRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const slash = path.indexOf('/', 1);
  const bucket = decodeURIComponent(slash < 0 ? path.slice(1) : path.slice(1, slash));
  const key = slash < 0 ? '' : decodeURIComponent(path.slice(slash + 1));
  return { method: req.method ?? 'GET', bucket, key, query, headers: req.headers };
}

function matches(match: Match, r: ProxiedRequest): boolean {
  if (typeof match === 'function') return match(r);
  if (match.method !== undefined && match.method !== r.method) return false;
  if (match.key !== undefined && !match.key.test(r.key)) return false;
  if (match.query !== undefined && !match.query.test(r.query)) return false;
  if (match.header !== undefined && r.headers[match.header.toLowerCase()] === undefined) return false;
  return true;
}

function errorXml(code: string, message: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(code)}</Code><Message>${esc(message)}</Message><RequestId>fault-proxy</RequestId></Error>`;
}
