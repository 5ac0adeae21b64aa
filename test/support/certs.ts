// Certificates for TLS tests, made with Debian's openssl in a temp directory removed with the test: a CA, the
// broker's keystore (key + certificate for 127.0.0.1/localhost, one PEM file as Kafka's ssl.keystore.location
// takes it), and client certificates signed by the CA (for mTLS) or by another CA (untrusted).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';

export interface TestCerts {
  dir: string;
  /** CA certificate (truststore) file. */
  ca: string;
  /** Broker keystore: private key and certificate in one PEM file. */
  keystore: string;
  /** The broker's certificate and key as separate files (for inline settings). */
  serverCert: string;
  serverKey: string;
  /** Writes a client certificate for `subject` (e.g. "/O=Example/OU=eng/CN=alice"); `untrusted`: from another CA. */
  client(name: string, subject: string, untrusted?: boolean): { cert: string; key: string };
  /** Re-issues the broker's certificate with another subject CN (rotation), rewriting the keystore file. */
  rotate(cn: string): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, caName: string, san?: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  const ext = `${name}.ext`;
  writeFileSync(join(dir, ext), san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.crt`,
      '-CAkey',
      `${caName}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      ext,
    ],
    dir,
  );
}

export function makeCerts(t: Test): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${ca}.key`,
        '-subj',
        `/CN=Skafos test ${ca}`,
        '-days',
        '2',
        '-out',
        `${ca}.crt`,
      ],
      dir,
    );
  }
  const writeKeystore = (cn: string) => {
    issue(dir, 'server', `/O=Skafos/CN=${cn}`, 'ca', 'IP:127.0.0.1,DNS:localhost');
    writeFileSync(join(dir, 'keystore.pem'), readFileSync(join(dir, 'server.key'), 'utf8') + readFileSync(join(dir, 'server.crt'), 'utf8'));
  };
  writeKeystore('broker');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    keystore: join(dir, 'keystore.pem'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    client(name, subject, untrusted = false) {
      issue(dir, name, subject, untrusted ? 'other-ca' : 'ca');
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
    rotate: writeKeystore,
  };
}
