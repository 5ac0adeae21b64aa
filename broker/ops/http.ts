// The operations HTTP endpoint (skafos.http.listener): Prometheus metrics and health probes.
//
//   GET /metrics   Prometheus text exposition of the broker's registry
//   GET /healthz   liveness:  200 {"status":"ok"} while isLive() holds, else 503
//   GET /readyz    readiness: 200 {"status":"ready"}, or 503 {"status":"not ready","reason":"..."}
//   anything else  404 (405 for a known path with a method other than GET/HEAD)
//
// Probes may be async and may throw; a throwing probe counts as failed and its message becomes the reason.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HostPort } from '../config.ts';
import type { Logger } from './logger.ts';
import { httpRequestTimeoutMs } from '../limits.ts';

export type Readiness = { ready: true } | { ready: false; reason: string };

export interface OpsServerOptions {
  /** Address to bind; port 0 picks a free port (see OpsServer.address). */
  listener: HostPort;
  registry: Registry;
  /** Liveness: false only when the process should be restarted. */
  isLive: () => boolean | Promise<boolean>;
  /** Readiness: whether the broker should receive traffic now; false reads as reason "not ready". */
  isReady: () => Readiness | boolean | Promise<Readiness | boolean>;
  logger: Logger;
}

export interface OpsServer {
  /** The bound address (the actual port when the listener asked for 0). */
  readonly address: HostPort;
  /** Stops accepting, drops open connections (scrapes are cheap to retry) and resolves once closed. */
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const { listener, logger } = options;
  const routes = opsRoutes(options);
  const server: Server = createServer((req, res) => {
    routeRequest(routes, req, res).catch((err: unknown) => {
      logger.error({ err, path: req.url }, 'ops request failed');
      if (!res.headersSent) sendJson(res, 500, { status: 'error', reason: errorMessage(err) });
      else res.destroy();
    });
  });
  server.requestTimeout = httpRequestTimeoutMs;
  server.headersTimeout = httpRequestTimeoutMs;

  await listen(server, listener);
  server.on('error', (err) => logger.error({ err }, 'ops HTTP server error'));

  const bound = server.address() as AddressInfo;
  const address: HostPort = { host: bound.address, port: bound.port };
  logger.info({ address: formatHostPort(address) }, 'ops HTTP endpoint listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
type Routes = ReturnType<typeof opsRoutes>;

/** Sends a request to its route: 404 for an unknown path, 405 for a method other than GET/HEAD. */
async function routeRequest(routes: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const route = routes[path as keyof Routes] as Route | undefined;
  if (route === undefined) {
    sendJson(res, 404, { status: 'not found', reason: `no route ${path}; try /metrics, /healthz or /readyz` });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    sendJson(res, 405, { status: 'method not allowed' });
    return;
  }
  await route(req, res);
}

/** The three routes: metrics, liveness and readiness. */
function opsRoutes(options: OpsServerOptions) {
  const { registry, isLive, isReady, logger } = options;
  return {
    '/metrics': async (_req: IncomingMessage, res: ServerResponse) => {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
      res.end(body);
    },
    '/healthz': async (_req: IncomingMessage, res: ServerResponse) => {
      let live: boolean;
      let reason = 'not live';
      try {
        live = await isLive();
      } catch (err) {
        live = false;
        reason = errorMessage(err);
        logger.warn({ err }, 'liveness probe threw');
      }
      if (live) sendJson(res, 200, { status: 'ok' });
      else sendJson(res, 503, { status: 'not live', reason });
    },
    '/readyz': async (_req: IncomingMessage, res: ServerResponse) => {
      let readiness: Readiness;
      try {
        const r = await isReady();
        readiness = r === true ? { ready: true } : r === false ? { ready: false, reason: 'not ready' } : r;
      } catch (err) {
        readiness = { ready: false, reason: errorMessage(err) };
        logger.warn({ err }, 'readiness probe threw');
      }
      if (readiness.ready) sendJson(res, 200, { status: 'ready' });
      else sendJson(res, 503, { status: 'not ready', reason: readiness.reason });
    },
  } satisfies Record<string, Route>;
}

/** Binds the server; a bind failure rejects with the listener and the cause. */
function listen(server: Server, listener: HostPort): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new Error(`ops HTTP endpoint cannot listen on ${formatHostPort(listener)} (skafos.http.listener): ${err.code ?? err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen(listener.port, listener.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function formatHostPort({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
