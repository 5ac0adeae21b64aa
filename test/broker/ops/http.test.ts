import t from 'tap';
import type { Test } from 'tap';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { createMetrics } from '../../../broker/ops/metrics.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { startOpsServer } from '../../../broker/ops/http.ts';
import type { OpsServerOptions, Readiness } from '../../../broker/ops/http.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(t: Test, overrides: Partial<OpsServerOptions> = {}) {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.counter({ name: 'test_requests_total', help: 'Test counter.' }).inc(3);
  const server = await startOpsServer({
    listener: { host: '127.0.0.1', port: 0 },
    registry: metrics.registry,
    isLive: () => true,
    isReady: () => ({ ready: true }),
    logger: silentLogger(),
    ...overrides,
  });
  t.teardown(() => server.close());
  return server;
}

t.test('/metrics', async (t) => {
  const server = await start(t);
  t.equal(server.address.host, '127.0.0.1');
  t.ok(server.address.port > 0, 'port 0 resolves to the bound port');
  const res = await get(server.address.port, '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0.0.4/);
  t.match(res.body, /^skafos_test_requests_total 3$/m);
  const withQuery = await get(server.address.port, '/metrics?format=text');
  t.equal(withQuery.status, 200, 'query strings are ignored');
  const head = await get(server.address.port, '/metrics', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.body, '');
});

t.test('/healthz', async (t) => {
  let live: boolean | Error = true;
  const server = await start(t, {
    isLive: async () => {
      if (live instanceof Error) throw live;
      return live;
    },
  });
  const ok = await get(server.address.port, '/healthz');
  t.equal(ok.status, 200);
  t.same(JSON.parse(ok.body), { status: 'ok' });
  t.match(ok.headers['content-type'], /application\/json/);
  live = false;
  const dead = await get(server.address.port, '/healthz');
  t.equal(dead.status, 503);
  t.same(JSON.parse(dead.body), { status: 'not live', reason: 'not live' });
  live = new Error('event loop stuck');
  const threw = await get(server.address.port, '/healthz');
  t.equal(threw.status, 503);
  t.same(JSON.parse(threw.body), { status: 'not live', reason: 'event loop stuck' });
});

t.test('/readyz states', async (t) => {
  let state: Readiness | boolean | Error = { ready: false, reason: 'loading partition state' };
  const server = await start(t, {
    isReady: () => {
      if (state instanceof Error) throw state;
      return Promise.resolve(state);
    },
  });
  const port = server.address.port;
  let res = await get(port, '/readyz');
  t.equal(res.status, 503);
  t.same(JSON.parse(res.body), { status: 'not ready', reason: 'loading partition state' });
  state = { ready: true };
  res = await get(port, '/readyz');
  t.equal(res.status, 200);
  t.same(JSON.parse(res.body), { status: 'ready' });
  state = false;
  res = await get(port, '/readyz');
  t.equal(res.status, 503);
  t.same(JSON.parse(res.body), { status: 'not ready', reason: 'not ready' });
  state = true;
  t.equal((await get(port, '/readyz')).status, 200);
  state = new Error('metadata store unreachable');
  res = await get(port, '/readyz');
  t.equal(res.status, 503);
  t.same(JSON.parse(res.body), { status: 'not ready', reason: 'metadata store unreachable' });
});

t.test('404 and 405', async (t) => {
  const server = await start(t);
  const port = server.address.port;
  for (const path of ['/', '/metric', '/healthz/', '/favicon.ico']) {
    const res = await get(port, path);
    t.equal(res.status, 404, path);
    t.equal(JSON.parse(res.body).status, 'not found');
  }
  const post = await get(port, '/metrics', 'POST');
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET, HEAD');
});

t.test('a failing scrape is a 500, and the server keeps serving', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.gauge({
    name: 'broken',
    help: 'Throws at scrape.',
    collect() {
      throw new Error('collector broke');
    },
  });
  const server = await start(t, { registry: metrics.registry });
  const res = await get(server.address.port, '/metrics');
  t.equal(res.status, 500);
  t.match(JSON.parse(res.body).reason, 'collector broke');
  t.equal((await get(server.address.port, '/healthz')).status, 200);
});

t.test('close frees the port, is idempotent, and ends keep-alive connections', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const server = await startOpsServer({
    listener: { host: '127.0.0.1', port: 0 },
    registry: metrics.registry,
    isLive: () => true,
    isReady: () => true,
    logger: silentLogger(),
  });
  const port = server.address.port;
  t.equal((await get(port, '/healthz')).status, 200);
  await Promise.all([server.close(), server.close()]);
  await t.rejects(get(port, '/healthz'), { code: 'ECONNREFUSED' });
});

t.test('listening on a taken port rejects with a clear message', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const port = (blocker.address() as AddressInfo).port;
  await t.rejects(
    startOpsServer({
      listener: { host: '127.0.0.1', port },
      registry: createMetrics({ defaultMetrics: false }).registry,
      isLive: () => true,
      isReady: () => true,
      logger: silentLogger(),
    }),
    { message: `ops HTTP endpoint cannot listen on 127.0.0.1:${port} (skafos.http.listener): EADDRINUSE` },
  );
});
