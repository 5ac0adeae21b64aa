// Client quotas (KIP-13, KIP-124, KIP-546): byte-rate and request quotas of user, client-id and user+client-id
// entities, kept in the metadata store (the cluster's; each broker enforces them on its own traffic, as Kafka
// does per broker), resolved with Kafka's eight precedence levels, measured over Kafka's sampled windows
// (`quota.window.num` windows of `quota.window.size.seconds`), and answered with the throttle time Kafka computes
// (ClientQuotaManager): how long the client must stay quiet for its rate to come back to the quota.
import type { ConfigDocuments } from '../metadata/config-docs.ts';
import { quotaMaxSensorsCount } from '../limits.ts';

export const QUOTA_KEYS = ['producer_byte_rate', 'consumer_byte_rate', 'request_percentage', 'controller_mutation_rate'] as const;
export type QuotaKey = (typeof QUOTA_KEYS)[number];

export const ENTITY_USER = 'user';
export const ENTITY_CLIENT_ID = 'client-id';

/** An entity: user and/or client-id; null names the default entity of that type; absent: not part of it. */
export interface QuotaEntity {
  user?: string | null;
  'client-id'?: string | null;
}

/** The canonical name of an entity (the metadata store's document name): JSON of its sorted [type, name] pairs. */
export function entityName(e: QuotaEntity): string {
  const pairs: [string, string | null][] = [];
  if (e[ENTITY_CLIENT_ID] !== undefined) pairs.push([ENTITY_CLIENT_ID, e[ENTITY_CLIENT_ID]]);
  if (e.user !== undefined) pairs.push([ENTITY_USER, e.user]);
  return JSON.stringify(pairs);
}

export function parseEntityName(name: string): QuotaEntity {
  const e: QuotaEntity = {};
  for (const [type, value] of JSON.parse(name) as [string, string | null][]) {
    if (type === ENTITY_USER) e.user = value;
    else if (type === ENTITY_CLIENT_ID) e[ENTITY_CLIENT_ID] = value;
  }
  return e;
}

/** A quota in force for a (user, client-id): its bound and the sensor it is measured on. */
interface Resolved {
  bound: number;
  sensorKey: string;
}

/** Kafka's sampled rate: `samples` windows of `windowMs`; the oldest is reused when time moves past it. */
class Rate {
  private readonly starts: number[];
  private readonly totals: number[];
  private current = 0;
  private readonly samples: number;
  private readonly windowMs: number;

  constructor(samples: number, windowMs: number, nowMs: number) {
    this.samples = samples;
    this.windowMs = windowMs;
    this.starts = new Array<number>(samples).fill(nowMs);
    this.totals = new Array<number>(samples).fill(0);
  }

  record(value: number, nowMs: number): void {
    if (nowMs >= this.starts[this.current]! + this.windowMs) {
      this.current = (this.current + 1) % this.samples;
      this.starts[this.current] = nowMs;
      this.totals[this.current] = 0;
    }
    this.totals[this.current]! += value;
  }

  /** Units per second over the live windows, and the window length measured (Kafka's Rate.windowSize). */
  measure(nowMs: number): { perSecond: number; windowMs: number } {
    let total = 0;
    let oldest = nowMs;
    for (let i = 0; i < this.samples; i++) {
      // Windows older than the whole span are expired (Kafka's purgeObsoleteSamples).
      if (nowMs - this.starts[i]! >= this.samples * this.windowMs) continue;
      total += this.totals[i]!;
      if (this.starts[i]! < oldest) oldest = this.starts[i]!;
    }
    let elapsed = nowMs - oldest;
    // At least samples-1 full windows, so a burst right after start is not read as an enormous rate.
    const minMs = (this.samples - 1) * this.windowMs;
    if (elapsed < minMs) elapsed = minMs;
    return { perSecond: (total * 1000) / Math.max(1, elapsed), windowMs: elapsed };
  }
}

export interface QuotaSettings {
  windowNum: number;
  windowSizeMs: number;
}

export class ClientQuotas {
  private readonly docs: ConfigDocuments;
  private readonly settings: () => QuotaSettings;
  private readonly sensors = new Map<string, Rate>();
  /** Resolution of (quota, user, client-id), dropped whenever a quota changes. */
  private resolved = new Map<string, Resolved | null>();
  private any = false;

  constructor(docs: ConfigDocuments, settings: () => QuotaSettings) {
    this.docs = docs;
    this.settings = settings;
    this.refresh();
  }

  /** A quota changed (the documents' watch): resolutions are recomputed. */
  refresh(): void {
    this.resolved = new Map();
    this.any = this.docs.names().length > 0;
  }

  /** Is any quota defined in the cluster? (When not, nothing is measured.) */
  get active(): boolean {
    return this.any;
  }

  get documents(): ConfigDocuments {
    return this.docs;
  }

  private quotaOf(e: QuotaEntity, key: QuotaKey): number | null {
    const v = this.docs.get(entityName(e))[key];
    return v === undefined ? null : Number(v);
  }

  /** Kafka's precedence: the first of the eight levels defining the quota, and the sensor it is measured on. */
  private resolve(key: QuotaKey, user: string, clientId: string): Resolved | null {
    const levels: [QuotaEntity, string][] = [
      [{ user, 'client-id': clientId }, `${user}\0${clientId}`],
      [{ user, 'client-id': null }, `${user}\0${clientId}`],
      [{ user }, `${user}\0`],
      [{ user: null, 'client-id': clientId }, `${user}\0${clientId}`],
      [{ user: null, 'client-id': null }, `${user}\0${clientId}`],
      [{ user: null }, `${user}\0`],
      [{ 'client-id': clientId }, `\0${clientId}`],
      [{ 'client-id': null }, `\0${clientId}`],
    ];
    for (const [entity, tags] of levels) {
      const bound = this.quotaOf(entity, key);
      if (bound !== null) return { bound, sensorKey: `${key}\0${tags}` };
    }
    return null;
  }

  /**
   * Records `value` (bytes) against the quota `key` of (user, client-id) and answers the throttle time in ms
   * (0 when within the quota, or when no quota applies: then nothing is recorded).
   */
  record(key: QuotaKey, user: string, clientId: string, value: number, nowMs: number): number {
    if (!this.any) return 0;
    const cacheKey = `${key}\0${user}\0${clientId}`;
    let r = this.resolved.get(cacheKey);
    if (r === undefined) {
      r = this.resolve(key, user, clientId);
      this.resolved.set(cacheKey, r);
    }
    if (r === null) return 0;
    const { windowNum, windowSizeMs } = this.settings();
    let sensor = this.sensors.get(r.sensorKey);
    if (!sensor) {
      // Bounded: beyond the limit the oldest sensors go (they restart from zero if their client comes back).
      if (this.sensors.size >= quotaMaxSensorsCount) this.sensors.delete(this.sensors.keys().next().value!);
      this.sensors.set(r.sensorKey, (sensor = new Rate(windowNum, windowSizeMs, nowMs)));
    }
    sensor.record(value, nowMs);
    const { perSecond, windowMs } = sensor.measure(nowMs);
    if (perSecond <= r.bound) return 0;
    const throttleMs = ((perSecond - r.bound) / r.bound) * windowMs;
    return Math.min(Math.round(throttleMs), windowNum * windowSizeMs);
  }
}
