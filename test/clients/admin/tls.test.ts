// TLS on the admin client's connections: a TLS-terminating proxy (a self-signed certificate made with openssl)
// in front of an in-process Skafos broker, which serves PLAINTEXT only. Admin calls that any broker answers go
// over the TLS bootstrap connection; a client that does not trust the certificate, or expects another host
// name, fails with a connection error within its bounds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import t from 'tap';
import { AdminClient, AdminConnectionError } from '../../../clients/admin/index.ts';
import { startTestBroker } from '../../broker/handlers/support/client.ts';

const dir = mkdtempSync(join(tmpdir(), 'skafos-admin-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout',
    join(dir, 'key.pem'),
    '-out',
    join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);
const cert = readFileSync(join(dir, 'cert.pem'));
const key = readFileSync(join(dir, 'key.pem'));

const { port: brokerPort } = await startTestBroker(t);
const sockets = new Set<Socket>();
const proxy = createServer({ cert, key }, (client) => {
  const upstream = connect({ host: '127.0.0.1', port: brokerPort });
  sockets.add(client).add(upstream);
  client.pipe(upstream).pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyPort = (proxy.address() as { port: number }).port;
t.teardown(() => {
  for (const s of sockets) s.destroy();
  proxy.close();
});

t.test('admin calls over TLS with a trusted certificate', async (t) => {
  const admin = new AdminClient({ bootstrap: `127.0.0.1:${proxyPort}`, tls: { ca: cert, servername: 'localhost' } });
  t.teardown(() => admin.close());
  t.type((await admin.describeCluster()).clusterId, 'string');
  const [created] = await admin.createTopics([{ name: 'over-tls', partitions: 1 }]);
  t.equal(created!.error, null);
  t.ok((await admin.listTopics()).includes('over-tls'));
});

t.test('an untrusted certificate or another host name: a connection error, bounded', async (t) => {
  const untrusted = new AdminClient({ bootstrap: `127.0.0.1:${proxyPort}`, tls: {}, limits: { maxAttempts: 2, retryBackoffMs: 10 } });
  t.teardown(() => untrusted.close());
  const e = await untrusted.describeCluster({ timeoutMs: 5000 }).catch((x) => x);
  t.ok(e instanceof AdminConnectionError, `${e}`);
  t.match(e.message, /self-signed|certificate/i);
  const otherName = new AdminClient({
    bootstrap: `127.0.0.1:${proxyPort}`,
    tls: { ca: cert, servername: 'kafka.example.com' },
    limits: { maxAttempts: 2, retryBackoffMs: 10 },
  });
  t.teardown(() => otherName.close());
  const e2 = await otherName.describeCluster({ timeoutMs: 5000 }).catch((x) => x);
  t.ok(e2 instanceof AdminConnectionError, `${e2}`);
  t.match(e2.message, /kafka\.example\.com|altnames|Hostname/i);
});
