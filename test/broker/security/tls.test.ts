// TLS pieces: the RFC 2253 subject of a certificate, Kafka's principal mapping rules, inline PEM normalisation.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { loadConfig } from '../../../broker/config.ts';
import { certificatePrincipal, mapPrincipalName, normalizePem, subjectName } from '../../../broker/security/tls.ts';
import { makeCerts } from '../../support/certs.ts';

const rules = (v: string) => loadConfig({ sets: [`ssl.principal.mapping.rules=${v}`] }).sslPrincipalMappingRules;

t.test('principal mapping rules (Kafka SslPrincipalMapper semantics)', async (t) => {
  const dn = 'CN=Alice,OU=ServiceUsers,O=Example,C=US';
  t.equal(mapPrincipalName(rules('DEFAULT'), dn), dn);
  t.equal(mapPrincipalName(rules('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L'), dn), 'alice');
  t.equal(mapPrincipalName(rules('RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/U'), dn), 'ALICE');
  t.equal(mapPrincipalName(rules('RULE:^CN=(.*?),OU=Admins.*$/$1/,DEFAULT'), dn), dn, 'first matching rule, then DEFAULT');
  t.equal(mapPrincipalName(rules('RULE:^CN=(.*?),OU=Admins.*$/$1/'), dn), null, 'no rule applies');
  t.equal(mapPrincipalName(rules('RULE:^CN=([^,]*),O=(.*)$/$1@$2/'), 'CN=bob,O=Acme'), 'bob@Acme');
  t.equal(mapPrincipalName(rules('RULE:^(.*)$/svc\\/$1/'), 'CN=x'), 'svc/CN=x', 'escaped slash in the replacement');
});

t.test('subject of a certificate, RFC 2253 order', async (t) => {
  const certs = makeCerts(t);
  const alice = certs.client('alice', '/C=US/O=Example/OU=eng/CN=alice');
  const raw = new X509Certificate(readFileSync(alice.cert)).raw;
  t.equal(subjectName(raw), 'CN=alice,OU=eng,O=Example,C=US');
  t.same(certificatePrincipal(rules('RULE:^CN=([^,]*),.*$/$1/'), raw), { type: 'User', name: 'alice' });
  const comma = certs.client('comma', '/O=A\\, Inc./CN=c');
  t.equal(subjectName(new X509Certificate(readFileSync(comma.cert)).raw), 'CN=c,O=A\\, Inc.', 'special characters escaped');
});

t.test('inline PEM joined on one line is re-wrapped', async (t) => {
  const certs = makeCerts(t);
  const pem = readFileSync(certs.serverCert, 'utf8');
  const joined = pem.replace(/\n/g, '');
  t.equal(normalizePem(joined), pem);
  t.ok(new X509Certificate(normalizePem(joined)));
});
