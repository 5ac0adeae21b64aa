// TLS for SSL and SASL_SSL listeners (node:tls): the secure context from Kafka's ssl.* settings (PEM keystore and
// truststore, in files or inline), reloaded when the files change (certificate rotation), and the principal of a
// client certificate: its subject (RFC 2253, as Kafka's X500Principal.getName()) mapped by ssl.principal.mapping.rules.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { Stats } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { PrincipalMappingRule, SslSettings } from '../config.ts';
import type { KafkaPrincipal } from './principal.ts';
import { tlsFileCheckIntervalMs } from '../limits.ts';

/** PEM blocks re-wrapped at 64 columns: Kafka accepts inline PEM whose line breaks a properties file joined. */
export function normalizePem(text: string): string {
  const blocks: string[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const body = m[2]!.replace(/\s+/g, '');
    const lines = body.match(/.{1,64}/g) ?? [];
    blocks.push(`-----BEGIN ${m[1]}-----\n${lines.join('\n')}\n-----END ${m[1]}-----\n`);
  }
  return blocks.join('');
}

function pemBlocks(text: string, kind: RegExp): string {
  const out: string[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) if (kind.test(m[1]!)) out.push(m[0]);
  return out.join('');
}

/** Node's secure-context and server options for a listener's settings; reads the files now. */
export function tlsOptions(s: SslSettings): SecureContextOptions & Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'> {
  const keystore = normalizePem(
    s.keystoreLocation !== null ? readFileSync(s.keystoreLocation, 'utf8') : `${s.keystoreCertificateChain}\n${s.keystoreKey}`,
  );
  const key = pemBlocks(keystore, /PRIVATE KEY$/);
  const cert = pemBlocks(keystore, /^CERTIFICATE$/);
  if (key === '') throw new Error('the keystore has no PEM private key');
  if (cert === '') throw new Error('the keystore has no PEM certificate');
  const trust =
    s.truststoreLocation !== null
      ? normalizePem(readFileSync(s.truststoreLocation, 'utf8'))
      : s.truststoreCertificates !== null
        ? normalizePem(s.truststoreCertificates)
        : null;
  const versions = [...s.enabledProtocols].sort() as ('TLSv1.2' | 'TLSv1.3')[];
  const tls13 = s.cipherSuites.filter((c) => /^TLS_(AES|CHACHA20)_/.test(c));
  const tls12 = s.cipherSuites.filter((c) => !/^TLS_(AES|CHACHA20)_/.test(c));
  return {
    key,
    cert,
    ...(s.keyPassword !== null ? { passphrase: s.keyPassword } : {}),
    ...(trust !== null ? { ca: trust } : {}),
    minVersion: versions[0],
    maxVersion: versions[versions.length - 1],
    ...(s.cipherSuites.length > 0 ? { ciphers: tls12.join(':') || undefined, ciphersuites: tls13.join(':') } : {}),
    requestCert: s.clientAuth !== 'none',
    rejectUnauthorized: s.clientAuth === 'required',
  } as SecureContextOptions & Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'>;
}

/**
 * Calls `onChange` with fresh options when the keystore or truststore file changes (polled every
 * tlsFileCheckIntervalMs); a file that cannot be loaded keeps the previous certificates. Returns the stop function.
 */
export function watchTlsFiles(s: SslSettings, logger: Logger, onChange: (options: SecureContextOptions) => void): () => void {
  const files = [s.keystoreLocation, s.truststoreLocation].filter((f): f is string => f !== null);
  const listener = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size) return;
    try {
      onChange(tlsOptions(s));
      logger.info({ files }, 'TLS certificates reloaded');
    } catch (err) {
      logger.error({ files, err: (err as Error).message }, 'TLS certificates changed but cannot be loaded; keeping the previous ones');
    }
  };
  for (const f of files) watchFile(f, { interval: tlsFileCheckIntervalMs, persistent: false }, listener);
  return () => {
    for (const f of files) unwatchFile(f, listener);
  };
}

/**
 * The subject of a DER certificate as RFC 2253 writes it (most specific first): "CN=alice,OU=eng,O=Example".
 * Node gives the attributes in certificate order, one a line, special characters already escaped.
 */
export function subjectName(raw: Buffer): string {
  return new X509Certificate(raw).subject.split('\n').reverse().join(',');
}

/** Kafka's SslPrincipalMapper: the first rule whose pattern matches the whole name gives the principal name; null if none does. */
export function mapPrincipalName(rules: readonly PrincipalMappingRule[], name: string): string | null {
  for (const rule of rules) {
    if ('default' in rule) return name;
    const re = new RegExp(`^(?:${rule.pattern})$`);
    if (!re.test(name)) continue;
    const mapped = name.replace(re, rule.replacement);
    return rule.caseChange === 'L' ? mapped.toLowerCase() : rule.caseChange === 'U' ? mapped.toUpperCase() : mapped;
  }
  return null;
}

/** The principal of a TLS client certificate (DER), or null when no mapping rule applies. */
export function certificatePrincipal(rules: readonly PrincipalMappingRule[], raw: Buffer): KafkaPrincipal | null {
  const name = mapPrincipalName(rules, subjectName(raw));
  return name === null ? null : Object.freeze({ type: 'User', name });
}
