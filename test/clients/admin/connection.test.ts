// The admin client's connection layer on bad paths: an unreachable bootstrap, a broker that never answers, a
// connection closed mid-request (retried on a new connection, then an error once it keeps happening), the
// per-connection queue bound, and bootstrap parsing. Against an in-process Skafos broker where one is needed.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { AdminClient, AdminConnectionError, AdminKafkaError, AdminLimitError, AdminTimeoutError } from '../../../clients/admin/index.ts';
import { parseBootstrap } from '../../../clients/admin/cluster.ts';
import { startTestBroker } from '../../broker/handlers/support/client.ts';
import { freePort } from '../../support/ports.ts';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A proxy to `port` that cuts a connection when its client sends its `cutAtChunk`-th chunk, for the first `cuts` connections. */
async function cuttingProxy(t: Test, port: number, cuts: number, cutAtChunk = 2) {
  const state = { connections: 0, cut: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const n = ++state.connections;
    const upstream = connect({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    let chunks = 0;
    client.on('data', (chunk) => {
      chunks++;
      if (n <= cuts && chunks === cutAtChunk) {
        state.cut++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const proxyPort = await listen(server);
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: proxyPort, state };
}

t.test('bootstrap addresses are parsed, and a bad one is refused at once', async (t) => {
  t.same(parseBootstrap('a:1, b:2'), [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
  ]);
  t.same(parseBootstrap(['[::1]:9092']), [{ host: '::1', port: 9092 }]);
  t.throws(() => new AdminClient({ bootstrap: 'nohost' }), TypeError);
  t.throws(() => new AdminClient({ bootstrap: 'h:0' }), TypeError);
  t.throws(() => new AdminClient({ bootstrap: '' }), TypeError);
});

t.test('an unreachable bootstrap fails with a connection error after bounded retries', async (t) => {
  const port = await freePort();
  const admin = new AdminClient({ bootstrap: `127.0.0.1:${port}`, limits: { maxAttempts: 3, retryBackoffMs: 10 } });
  t.teardown(() => admin.close());
  const started = Date.now();
  const e = await admin.listTopics({ timeoutMs: 5000 }).catch((x) => x);
  t.ok(e instanceof AdminConnectionError, `${e}`);
  t.match(e.message, /ECONNREFUSED/);
  t.ok(Date.now() - started < 5000, 'well before the deadline');
});

t.test('a broker that never answers fails the call at its deadline', async (t) => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => {}); // reads, never answers
  });
  const port = await listen(server);
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const admin = new AdminClient({ bootstrap: `127.0.0.1:${port}` });
  t.teardown(() => admin.close());
  const started = Date.now();
  const e = await admin.describeCluster({ timeoutMs: 300 }).catch((x) => x);
  t.ok(e instanceof AdminTimeoutError, `${e}`);
  t.match(e.message, /describeCluster did not complete within 300 ms/);
  t.ok(Date.now() - started < 3000);
});

t.test('a connection closed mid-request is retried on a new one; always closed, the call fails', async (t) => {
  const { port } = await startTestBroker(t);
  // The second chunk a client sends is its first request after ApiVersions.
  const flaky = await cuttingProxy(t, port, 1);
  const admin = new AdminClient({ bootstrap: `127.0.0.1:${flaky.port}`, limits: { retryBackoffMs: 10 } });
  t.teardown(() => admin.close());
  // Metadata advertises the broker itself, so only the bootstrap connection goes through the proxy.
  const topics = await admin.listTopics({ timeoutMs: 10_000 });
  t.type(topics, Array);
  t.equal(flaky.state.cut, 1);
  t.equal(flaky.state.connections, 2, 'retried on a new connection');

  const broken = await cuttingProxy(t, port, Number.MAX_SAFE_INTEGER);
  const admin2 = new AdminClient({ bootstrap: `127.0.0.1:${broken.port}`, limits: { retryBackoffMs: 10, maxAttempts: 4 } });
  t.teardown(() => admin2.close());
  const e = await admin2.listTopics({ timeoutMs: 10_000 }).catch((x) => x);
  t.ok(e instanceof AdminConnectionError, `${e}`);
  t.match(e.message, /closed by the broker/);
  t.equal(broken.state.cut, 4, 'one connection per attempt');
});

t.test('requests are pipelined on one connection up to the in-flight bound, and the wait queue is bounded', async (t) => {
  const { bootstrap } = await startTestBroker(t);
  const admin = new AdminClient({ bootstrap, limits: { maxInFlightPerConnection: 2, maxQueuedPerConnection: 4 } });
  t.teardown(() => admin.close());
  await admin.describeCluster(); // opens the connection
  const calls = Array.from({ length: 6 }, () => admin.describeCluster());
  const settled = await Promise.allSettled(calls);
  t.equal(settled.filter((s) => s.status === 'fulfilled').length, 6, 'in flight plus queued all answered');
  const tooMany = await Promise.allSettled(Array.from({ length: 10 }, () => admin.describeCluster()));
  const refused = tooMany.filter((s) => s.status === 'rejected').map((s) => (s as PromiseRejectedResult).reason);
  t.equal(refused.length, 4, '2 in flight + 4 queued; the rest refused');
  t.ok(refused.every((r) => r instanceof AdminLimitError && /maxQueuedPerConnection/.test(r.message)));
});

t.test('an unknown topic in a leader-routed call: retried (it may be one just created), then its Kafka error', async (t) => {
  const { bootstrap } = await startTestBroker(t);
  const admin = new AdminClient({ bootstrap, limits: { maxAttempts: 3, retryBackoffMs: 10 } });
  t.teardown(() => admin.close());
  for (const call of [
    () => admin.readMessages('no-such-topic', 0, { from: 'earliest', maxRecords: 1 }),
    () => admin.produce('no-such-topic', 0, [{ value: 'x' }]),
    () => admin.deleteRecords([{ topic: 'no-such-topic', partition: 0, offset: 0 }]),
  ]) {
    const e = await call().catch((x) => x);
    t.ok(e instanceof AdminKafkaError, `${e}`);
    t.equal(e.errorName, 'UNKNOWN_TOPIC_OR_PARTITION');
  }
  const [listed] = await admin.listOffsets([{ topic: 'no-such-topic', partition: 0, spec: 'latest' }]);
  t.equal(listed!.error?.errorName, 'UNKNOWN_TOPIC_OR_PARTITION', 'per-partition results carry it instead');
});
