// Normalising a Kafka response so that two brokers' answers to the same request can be compared field by field:
// what differs between any two brokers by nature (ids, hosts, ports, times, throttling) is replaced by a
// placeholder, per broker and in order of appearance, so "the same topic id in both answers" stays checkable.
// Record batches are summarised (offsets, count, attributes), not compared byte for byte: their timestamps and
// CRCs depend on when they were written.
import {
  readAttributes,
  readBaseOffset,
  readLastOffsetDelta,
  readMagic,
  readRecordCount,
} from '../../../broker/protocol/records/batch-header.ts';

/** Placeholders of one broker's run: the same value gets the same placeholder in every answer. */
export class Placeholders {
  private readonly maps = new Map<string, Map<string, string>>();
  /** Names for values known by what they stand for (a topic id by its topic's name), same for both brokers. */
  readonly aliases = new Map<string, Map<string, string>>();

  name(kind: string, value: unknown): string {
    const alias = this.aliases.get(kind)?.get(String(value));
    if (alias !== undefined) return `<${kind}:${alias}>`;
    let m = this.maps.get(kind);
    if (m === undefined) this.maps.set(kind, (m = new Map()));
    const key = String(value);
    let p = m.get(key);
    if (p === undefined) m.set(key, (p = `<${kind}${m.size + 1}>`));
    return p;
  }
}

/** Field names (camelCase, as the codec names them) and what they hold. */
const dropped = new Set(['throttleTimeMs', '_tagged']);
const idFields = new Set(['topicId']);
const hostFields = new Set(['host']);
const portFields = new Set(['port']);
const nodeFields = new Set(['nodeId', 'leaderId', 'brokerId', 'controllerId', 'coordinatorId']);
const memberFields = new Set(['memberId', 'leader', 'groupInstanceIdGenerated']);
const timeFields = new Set([
  'logAppendTimeMs',
  'transactionStartTimeMs',
  'lastTimestamp',
  'startTimeMs',
  'lastUpdatedTimestamp',
  'assignmentEpoch',
  'timestamp',
  'maxTimestamp',
]);
/** Facts of the machine or the data directory, not of the broker. */
const environmentFields = new Set(['logDir', 'totalBytes', 'usableBytes']);
const producerIdFields = new Set(['producerId']);
const messageFields = new Set(['errorMessage']);
const recordFields = new Set(['records']);
const clusterIdFields = new Set(['clusterId']);

export interface NormalizeOptions {
  /** Keep error messages as they are (by default only whether there is one is compared). */
  keepMessages?: boolean;
}

/** A normalised copy of `value` (a decoded response body). */
export function normalize(value: unknown, ph: Placeholders, opts: NormalizeOptions = {}, field = ''): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return recordFields.has(field) ? summarizeBatches(buf) : `<${buf.length} bytes>`;
  }
  if (Array.isArray(value)) return keyed(value, (v) => normalize(v, ph, opts, field));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (dropped.has(k)) continue;
      out[k] = normalizeField(k, v, ph, opts);
    }
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function normalizeField(k: string, v: unknown, ph: Placeholders, opts: NormalizeOptions): unknown {
  if (idFields.has(k) && typeof v === 'string')
    return v === '00000000-0000-0000-0000-000000000000' || v === 'AAAAAAAAAAAAAAAAAAAAAA' ? 'ZERO' : ph.name('topic', v);
  if (hostFields.has(k) && typeof v === 'string') return '<host>';
  if (portFields.has(k) && typeof v === 'number') return '<port>';
  if (nodeFields.has(k) && typeof v === 'number') return v < 0 ? v : ph.name('node', v);
  if (memberFields.has(k) && typeof v === 'string') return v === '' ? '' : ph.name('member', v);
  if (timeFields.has(k) && typeof v === 'number') return v < 0 ? v : '<time>';
  if (timeFields.has(k) && typeof v === 'bigint') return v < 0n ? Number(v) : '<time>';
  if (producerIdFields.has(k) && (typeof v === 'number' || typeof v === 'bigint')) return Number(v) < 0 ? Number(v) : ph.name('pid', v);
  if (clusterIdFields.has(k) && typeof v === 'string') return '<cluster>';
  if (environmentFields.has(k) && v !== null && v !== -1) return `<${k}>`;
  if (messageFields.has(k) && !opts.keepMessages) return v === null || v === undefined ? null : '<message>';
  return normalize(v, ph, opts, k);
}

/**
 * Fields that name an element of an array (a topic, a partition, a group, a config). Kafka answers such arrays
 * in hash-map order, which clients do not rely on; an array whose elements all have one of these fields, with
 * distinct values, becomes an object keyed by it (`topics[sbs-a].partitions[0].errorCode`), so that both
 * answers line up element by element and a missing or extra element shows as such.
 */
const keyFields = ['name', 'topic', 'partitionIndex', 'partition', 'index', 'groupId', 'transactionalId', 'resourceName', 'key', 'apiKey'];

function keyed(items: unknown[], each: (v: unknown) => unknown): unknown {
  const first = items[0];
  if (items.length === 0 || first === null || typeof first !== 'object' || Array.isArray(first) || Buffer.isBuffer(first))
    return items.map(each);
  for (const k of keyFields) {
    if (!items.every((v) => v !== null && typeof v === 'object' && k in v)) continue;
    const keys = items.map((v) => String((v as Record<string, unknown>)[k]));
    if (new Set(keys).size !== keys.length) continue;
    // Normalised in key order, so placeholders are numbered the same way for both brokers.
    const out: Record<string, unknown> = {};
    for (const [i, key] of [...keys.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))) out[`[${key}]`] = each(items[i]);
    return out;
  }
  return items.map(each);
}

function summarizeBatches(buf: Buffer): unknown {
  const batches: unknown[] = [];
  let pos = 0;
  while (pos + 61 <= buf.length) {
    const length = buf.readInt32BE(pos + 8);
    if (pos + 12 + length > buf.length) break; // a partial batch at the end (Kafka may send one)
    batches.push({
      baseOffset: readBaseOffset(buf, pos),
      lastOffsetDelta: readLastOffsetDelta(buf, pos),
      records: readRecordCount(buf, pos),
      magic: readMagic(buf, pos),
      attributes: readAttributes(buf, pos),
    });
    pos += 12 + length;
  }
  return batches;
}

export interface Difference {
  /** JSON-path-like location: `topics[0].partitions[1].errorCode`. */
  path: string;
  kafka: unknown;
  skafos: unknown;
}

/** Every leaf where the two normalised values differ (a missing side is `undefined`). */
export function diff(kafka: unknown, skafos: unknown, path = ''): Difference[] {
  if (Object.is(kafka, skafos)) return [];
  const isObj = (v: unknown) => v !== null && typeof v === 'object';
  if (Array.isArray(kafka) && Array.isArray(skafos)) {
    const out: Difference[] = [];
    if (kafka.length !== skafos.length) out.push({ path: `${path}.length`, kafka: kafka.length, skafos: skafos.length });
    for (let i = 0; i < Math.min(kafka.length, skafos.length); i++) out.push(...diff(kafka[i], skafos[i], `${path}[${i}]`));
    return out;
  }
  if (isObj(kafka) && isObj(skafos) && !Array.isArray(kafka) && !Array.isArray(skafos)) {
    const out: Difference[] = [];
    const a = kafka as Record<string, unknown>;
    const b = skafos as Record<string, unknown>;
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
      out.push(...diff(a[k], b[k], k.startsWith('[') ? `${path}${k}` : path ? `${path}.${k}` : k));
    return out;
  }
  return [{ path, kafka, skafos }];
}
