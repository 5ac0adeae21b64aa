// Object-store latency injection: an HTTP proxy in front of an S3 endpoint (radosgw), run as its own process
// (`node bench/lib/latency-proxy.ts http://127.0.0.1:<rgw port>`) so that its CPU time is not the load
// generator's. Every S3 request passes through unchanged (headers included: the SigV4 signature covers the
// Host header, which radosgw checks against the request, not against its own port); the response is held for
// a delay drawn from a log-normal distribution fitted to a given p50 and p99, then streamed back. So a PUT
// takes radosgw's time + the drawn delay, as S3 Standard's first-byte latency adds to the transfer.
//
// Control (same port, a path no S3 bucket can have): GET /__bench/latency?p50=30&p99=120 sets the
// distribution (p50=0 turns injection off); GET /__bench/stats returns the requests seen by method and the
// delays drawn. On start it prints one JSON line {"port": N} on stdout, and binds 127.0.0.1 only.
import { Agent, createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LogNormal {
  mu: number;
  sigma: number;
}

/** z of the 99th percentile of the standard normal. */
const Z99 = 2.326347874;

/** The log-normal with median p50 and 99th percentile p99 (ms): mu = ln p50, sigma = (ln p99 − ln p50) / z99. */
export function fitLogNormal(p50Ms: number, p99Ms: number): LogNormal {
  if (!(p50Ms > 0) || !(p99Ms >= p50Ms)) throw new Error(`latency: need 0 < p50 <= p99 (got ${p50Ms}, ${p99Ms})`);
  return { mu: Math.log(p50Ms), sigma: (Math.log(p99Ms) - Math.log(p50Ms)) / Z99 };
}

/** One draw (Box–Muller). */
export function drawLogNormal(d: LogNormal, random: () => number = Math.random): number {
  const u = 1 - random();
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return Math.exp(d.mu + d.sigma * z);
}

function serve(target: URL): void {
  let dist: LogNormal | null = null;
  let setting = { p50Ms: 0, p99Ms: 0 };
  const requests: Record<string, number> = {};
  let delays: number[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 512 });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    if (url.startsWith('/__bench/')) {
      const u = new URL(url, 'http://x');
      if (u.pathname === '/__bench/latency') {
        const p50 = Number(u.searchParams.get('p50') ?? 0);
        const p99 = Number(u.searchParams.get('p99') ?? p50);
        dist = p50 > 0 ? fitLogNormal(p50, p99) : null;
        setting = { p50Ms: p50, p99Ms: p99 };
        delays = [];
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ setting, dist, requests, delaysDrawn: delays.length }));
      return;
    }
    const method = req.method ?? 'GET';
    // S3 operation, roughly: PUT, GET (object or ranged), LIST (GET on the bucket with list-type/prefix), DELETE, HEAD, POST.
    const isList = method === 'GET' && /[?&](list-type|prefix|delimiter)=/.test(url);
    const op = isList ? 'LIST' : method;
    requests[op] = (requests[op] ?? 0) + 1;
    const delay = dist === null ? 0 : drawLogNormal(dist);
    if (dist !== null && delays.length < 100_000) delays.push(delay);
    const upstream = request(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: url,
        headers: req.headers,
        agent,
      },
      (up) => {
        const reply = () => {
          res.writeHead(up.statusCode ?? 502, up.statusMessage, up.rawHeaders as unknown as Record<string, string>);
          up.pipe(res);
        };
        if (delay > 0) setTimeout(reply, delay);
        else reply();
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(upstream);
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
  // Exits with its parent (the bench process holds our stdin).
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

if (import.meta.main) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node bench/lib/latency-proxy.ts http://127.0.0.1:<port>');
    process.exit(2);
  }
  serve(new URL(target));
}
