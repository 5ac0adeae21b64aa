// TLS listeners over real sockets to an in-process broker: SSL with client certificates required (mTLS), SASL_SSL
// with SCRAM, inline PEM settings, refused handshakes (no client certificate, an untrusted one, a plaintext client),
// and certificate rotation without a restart. Other clients are served throughout.
import t from 'tap';
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { connect as connectTls } from 'node:tls';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { startTestBroker } from '../handlers/support/client.ts';
import { RawConnection } from '../../support/raw-client.ts';
import { makeCerts } from '../../support/certs.ts';
import type { TestCerts } from '../../support/certs.ts';
import { addScramUser, authenticate } from '../../support/sasl.ts';
import { until } from '../../support/until.ts';

async function tlsBroker(t: Test, certs: TestCerts, extra: Record<string, string> = {}) {
  const b = await startTestBroker(t, {
    listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0',
    'ssl.keystore.location': certs.keystore,
    'ssl.truststore.location': certs.ca,
    'listener.name.ssl.ssl.client.auth': 'required',
    'ssl.principal.mapping.rules': 'RULE:^CN=([^,]*),.*$/$1/L',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
    ...extra,
  });
  return { ...b, ssl: b.broker.ports.get('SSL')!, saslSsl: b.broker.ports.get('SASL_SSL')! };
}

async function metadataPort(c: RawConnection): Promise<number> {
  const m = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
  return m.brokers[0].port;
}

/** True when the TLS connection fails or is closed before answering ApiVersions. */
async function refused(port: number, options: object): Promise<boolean> {
  let c: RawConnection;
  try {
    c = await RawConnection.connectTls(port, options);
  } catch {
    return true;
  }
  // TLS 1.3: the client finishes its handshake before the server has checked its certificate; the server's
  // refusal comes as an alert that closes the connection.
  try {
    await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 't', clientSoftwareVersion: '1' }, { timeoutMs: 5000 });
    return false;
  } catch {
    return true;
  } finally {
    c.close();
  }
}

t.test('SSL with client certificates, SASL_SSL with SCRAM', async (t) => {
  const certs = makeCerts(t);
  const b = await tlsBroker(t, certs);
  const ca = readFileSync(certs.ca);
  const alice = certs.client('alice', '/O=Example/CN=Alice');
  const c = await RawConnection.connectTls(b.ssl, {
    ca,
    cert: readFileSync(alice.cert),
    key: readFileSync(alice.key),
    servername: 'localhost',
  });
  t.equal(await metadataPort(c), b.ssl, 'mTLS client served, with the SSL listener endpoint');
  c.close();

  t.ok(await refused(b.ssl, { ca }), 'no client certificate: refused');
  const mallory = certs.client('mallory', '/CN=mallory', true);
  t.ok(
    await refused(b.ssl, { ca, cert: readFileSync(mallory.cert), key: readFileSync(mallory.key) }),
    'untrusted client certificate: refused',
  );
  t.ok(
    await refused(b.ssl, { ca: readFileSync(`${certs.dir}/other-ca.crt`), cert: readFileSync(alice.cert), key: readFileSync(alice.key) }),
    'client does not trust the broker',
  );
  t.ok(
    await refused(b.ssl, { ca, cert: readFileSync(alice.cert), key: readFileSync(alice.key), maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }),
    'TLS 1.1: refused',
  );

  // A plaintext Kafka client on the TLS port: the broker closes the connection, without answering.
  const plain = await RawConnection.connect(b.ssl);
  plain.write(Buffer.from('000000120012000300000001000474657374', 'hex'));
  t.same(await plain.next(5000), { closed: true }, 'plaintext client on a TLS port: closed');

  const admin = await RawConnection.connect(b.port);
  t.teardown(() => admin.close());
  await addScramUser(admin, 'bob', 'bob-pw', ['SCRAM-SHA-512']);
  const s = await RawConnection.connectTls(b.saslSsl, { ca });
  t.equal((await authenticate(s, 'SCRAM-SHA-512', 'bob', 'bob-pw')).errorCode, 0, 'SASL_SSL: SCRAM over TLS');
  t.equal(await metadataPort(s), b.saslSsl);
  s.close();
  const wrong = await RawConnection.connectTls(b.saslSsl, { ca });
  t.equal((await authenticate(wrong, 'SCRAM-SHA-512', 'bob', 'nope')).errorCode, 58);
  t.ok(await wrong.closesWithin(5000));
  t.equal(await metadataPort(admin), b.port, 'the PLAINTEXT client is served throughout');
});

t.test('inline PEM keystore and truststore', async (t) => {
  const certs = makeCerts(t);
  const oneLine = (file: string) => readFileSync(file, 'utf8').replace(/\n/g, '');
  const b = await tlsBroker(t, certs, {
    'ssl.keystore.location': '',
    'ssl.truststore.location': '',
    'ssl.keystore.certificate.chain': oneLine(certs.serverCert),
    'ssl.keystore.key': oneLine(certs.serverKey),
    'ssl.truststore.certificates': oneLine(certs.ca),
  });
  const alice = certs.client('alice', '/O=Example/CN=alice');
  const c = await RawConnection.connectTls(b.ssl, {
    ca: readFileSync(certs.ca),
    cert: readFileSync(alice.cert),
    key: readFileSync(alice.key),
  });
  t.equal(await metadataPort(c), b.ssl);
  c.close();
  const bare = certs.client('bare', '/CN=bare');
  t.ok(
    await refused(b.ssl, { ca: readFileSync(certs.ca), cert: readFileSync(bare.cert), key: readFileSync(bare.key) }),
    'a subject no ssl.principal.mapping.rules rule applies to: closed',
  );
});

t.test('an encrypted private key with ssl.key.password', async (t) => {
  const certs = makeCerts(t);
  const encrypted = join(certs.dir, 'encrypted.pem');
  execFileSync('openssl', ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', certs.serverKey, '-passout', 'pass:key-pw', '-out', encrypted]);
  const keystore = join(certs.dir, 'encrypted-keystore.pem');
  writeFileSync(keystore, readFileSync(encrypted, 'utf8') + readFileSync(certs.serverCert, 'utf8'));
  t.match(readFileSync(keystore, 'utf8'), /ENCRYPTED PRIVATE KEY/);
  const b = await tlsBroker(t, certs, {
    'ssl.keystore.location': keystore,
    'ssl.key.password': 'key-pw',
    'listener.name.ssl.ssl.client.auth': 'none',
  });
  const c = await RawConnection.connectTls(b.ssl, { ca: readFileSync(certs.ca) });
  t.equal(await metadataPort(c), b.ssl, 'served with the decrypted key');
  c.close();
});

t.test('certificates are reloaded when the keystore file changes', async (t) => {
  const certs = makeCerts(t);
  const b = await tlsBroker(t, certs, { 'listener.name.ssl.ssl.client.auth': 'none' });
  const servedCn = () =>
    new Promise<string>((resolve, reject) => {
      const s = connectTls({ host: '127.0.0.1', port: b.ssl, ca: readFileSync(certs.ca), servername: 'localhost' }, () => {
        const cert = s.getPeerX509Certificate();
        s.destroy();
        resolve(cert ? new X509Certificate(cert.raw).subject : '');
      });
      s.once('error', reject);
    });
  t.match(await servedCn(), /CN=broker/);
  certs.rotate('broker-rotated');
  await until(async () => /CN=broker-rotated/.test(await servedCn()), 'the rotated certificate to be served', 15_000);
  t.pass('new connections get the new certificate');
});
