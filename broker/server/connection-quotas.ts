// Connection limits, Kafka's settings: `max.connections` (the broker's client connections in all) and
// `max.connections.per.ip` with its `max.connections.per.ip.overrides` ("ip:count,ip:count"). A connection over
// a limit is closed at once (Kafka closes a connection over its IP's limit at once too; over max.connections
// Kafka stops accepting until one closes, where Skafos closes the new one: the client retries). Read from the
// configuration in force at each new connection, so dynamic changes apply to later connections.
import type { BrokerConfig } from '../config.ts';

export class ConnectionQuotas {
  private readonly perIp = new Map<string, number>();
  private total = 0;
  private overridesText = '';
  private overrides = new Map<string, number>();

  /** Admits a connection from `ip`, or says which limit refuses it. */
  admit(config: BrokerConfig, rawIp: string): { ok: true; ip: string } | { ok: false; reason: string } {
    const ip = normalizeIp(rawIp);
    if (this.total >= config.maxConnections) return { ok: false, reason: `max.connections (${config.maxConnections}) reached` };
    const limit = this.limitOf(config, ip);
    const n = this.perIp.get(ip) ?? 0;
    if (n >= limit) return { ok: false, reason: `max.connections.per.ip (${limit}) reached for ${ip}` };
    this.perIp.set(ip, n + 1);
    this.total++;
    return { ok: true, ip };
  }

  release(ip: string): void {
    const n = this.perIp.get(ip) ?? 0;
    if (n <= 1) this.perIp.delete(ip);
    else this.perIp.set(ip, n - 1);
    this.total--;
  }

  private limitOf(config: BrokerConfig, ip: string): number {
    if (config.maxConnectionsPerIpOverrides !== this.overridesText) {
      this.overridesText = config.maxConnectionsPerIpOverrides;
      this.overrides = parseOverrides(this.overridesText);
    }
    return this.overrides.get(ip) ?? config.maxConnectionsPerIp;
  }
}

/** "1.2.3.4:10,::1:5" → ip → count (the count follows the last colon). */
export function parseOverrides(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text.split(',')) {
    const p = part.trim();
    if (p === '') continue;
    const colon = p.lastIndexOf(':');
    out.set(normalizeIp(p.slice(0, colon).trim()), Number(p.slice(colon + 1)));
  }
  return out;
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
