// Test records in one shape for every client driver, and the checks that what was consumed is exactly what was
// produced: every key/value/header, each record once, offsets contiguous per partition, production order kept.
import { createHash } from 'node:crypto';
import type { Test } from 'tap';

export interface TestRecord {
  k: string | null;
  v?: string | null;
  /** A large value: `vfill` repeated, cut to `vsize` bytes (see clients/common.py). */
  vsize?: number;
  vfill?: string;
  h?: [string, string][];
  p?: number;
  ts?: number;
}

/** One consumed record as the drivers report it. */
export interface ConsumedRecord {
  p: number;
  o: number;
  k: string | null;
  v?: string | null;
  vlen?: number;
  vsha256?: string;
  h: [string, string | null][];
  ts: number;
  tst?: number;
}

/** What a producer driver reports per record: its partition and offset, or an error. */
export interface Delivery {
  i: number;
  p?: number;
  o?: number;
  ts?: number;
  err?: string;
  msg?: string;
}

export const bigThreshold = 4096;

export function valueBytes(r: TestRecord): Buffer | null {
  if (r.vsize !== undefined) {
    const fill = Buffer.from(r.vfill ?? 'x');
    return Buffer.alloc(r.vsize, fill);
  }
  return r.v === undefined || r.v === null ? null : Buffer.from(r.v);
}

/**
 * `count` keyed records with two headers each, values of varying length (compressible and not), keys unique
 * within `tag`. Partition chosen by the client's partitioner unless `partitions` is given (then round robin).
 */
export function makeRecords(tag: string, count: number, partitions?: number): TestRecord[] {
  const out: TestRecord[] = [];
  for (let i = 0; i < count; i++) {
    const noise = createHash('sha1').update(`${tag}/${i}`).digest('hex');
    const v = `${tag}:${i}:${noise}:${'v'.repeat(i % 97)}:${noise.slice(0, i % 40)}`;
    const r: TestRecord = {
      k: `${tag}-key-${i}`,
      v,
      h: [
        ['seq', String(i)],
        ['tag', `${tag}/é/${i % 7}`],
      ],
    };
    if (partitions !== undefined) r.p = i % partitions;
    out.push(r);
  }
  return out;
}

/** Groups consumed records by partition, sorted by offset. */
export function byPartition(consumed: ConsumedRecord[]): Map<number, ConsumedRecord[]> {
  const m = new Map<number, ConsumedRecord[]>();
  for (const c of consumed) {
    let l = m.get(c.p);
    if (!l) m.set(c.p, (l = []));
    l.push(c);
  }
  for (const l of m.values()) l.sort((a, b) => a.o - b.o);
  return m;
}

export interface VerifyOptions {
  /** First offset of every partition (0 for a fresh topic). */
  startOffset?: number;
  /** Deliveries reported by the producer: their partition/offset must match what was consumed. */
  deliveries?: Delivery[];
  /** Header values were sent as given (kcat sends one fixed set of headers for all records). */
  headers?: (r: TestRecord) => [string, string][];
  /** Records were produced in order (one producer, no retries): seq increases within each partition. */
  ordered?: boolean;
}

/** Asserts that `consumed` is exactly `produced` (matched by unique key). Returns false on the first mismatch. */
export function verifyConsumed(t: Test, produced: TestRecord[], consumed: ConsumedRecord[], opts: VerifyOptions = {}): boolean {
  const start = opts.startOffset ?? 0;
  const index = new Map<string, number>();
  produced.forEach((r, i) => index.set(r.k!, i));
  let ok = true;
  const fail = (msg: string, extra?: unknown) => {
    if (ok) t.fail(msg, extra === undefined ? {} : { found: extra });
    ok = false;
  };
  if (consumed.length !== produced.length) fail(`consumed ${consumed.length} records, produced ${produced.length}`);
  const seen = new Set<string>();
  for (const c of consumed) {
    const i = index.get(c.k ?? '');
    if (i === undefined) {
      fail(`consumed an unknown key ${c.k}`, c);
      continue;
    }
    if (seen.has(c.k!)) fail(`key ${c.k} consumed twice`, c);
    seen.add(c.k!);
    const r = produced[i]!;
    const v = valueBytes(r);
    if (v !== null && v.length > bigThreshold) {
      if (c.vlen !== v.length || c.vsha256 !== createHash('sha256').update(v).digest('hex'))
        fail(`large value of ${c.k} differs (len ${c.vlen} vs ${v.length})`);
    } else if ((c.v ?? null) !== (v === null ? null : v.toString('utf8'))) {
      fail(`value of ${c.k} differs`, { got: c.v, want: v?.toString() });
    }
    const wantH = opts.headers ? opts.headers(r) : (r.h ?? []);
    if (JSON.stringify(c.h ?? []) !== JSON.stringify(wantH)) fail(`headers of ${c.k} differ`, { got: c.h, want: wantH });
    if (r.p !== undefined && c.p !== r.p) fail(`record ${c.k} is in partition ${c.p}, sent to ${r.p}`);
    const d = opts.deliveries?.[i];
    if (d && (d.p !== c.p || d.o !== c.o)) fail(`record ${c.k} was acknowledged at ${d.p}@${d.o} but consumed at ${c.p}@${c.o}`);
  }
  for (const [p, list] of byPartition(consumed)) {
    for (let j = 0; j < list.length; j++) {
      if (list[j]!.o !== start + j) {
        fail(`partition ${p}: offset ${list[j]!.o} at position ${j}, expected ${start + j} (offsets must be contiguous)`);
        break;
      }
      if (opts.ordered && j > 0 && index.get(list[j]!.k!)! < index.get(list[j - 1]!.k!)!) {
        fail(`partition ${p}: ${list[j]!.k} at offset ${list[j]!.o} was produced before ${list[j - 1]!.k}`);
        break;
      }
    }
  }
  if (ok) t.pass(`${produced.length} records consumed exactly as produced`);
  return ok;
}

/** Asserts every delivery succeeded; returns false otherwise. */
export function allDelivered(t: Test, deliveries: Delivery[], count: number): boolean {
  const errors = deliveries.filter((d) => d.err);
  const okCount = deliveries.filter((d) => !d.err && d.o !== undefined).length;
  if (errors.length > 0 || okCount !== count) {
    t.fail(`${okCount}/${count} records delivered`, { errors: errors.slice(0, 5) });
    return false;
  }
  t.pass(`${count} records acknowledged`);
  return true;
}
