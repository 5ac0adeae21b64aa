// What the metadata engine (engine.ts) and its backends share: a backend's interface (the storage of one
// store: SQLite in embedded.ts, maps in memory.ts), the commit the engine computes and a backend applies, the
// key order, prefix ranges, compare evaluation, and the accounting of watch history events.
import type { Compare, KeyValue, WatchEvent } from './store.ts';

/** Accounted size of one history event besides its key and value (revision numbers, row overhead). */
export const historyEventOverheadBytes = 64;

// ---------------------------------------------------------------------------------------------------------------
// Keys. The store orders keys by Unicode code point, which is the byte order of their UTF-8 encoding (etcd's
// order, and SQLite's BINARY collation of UTF-8 text). JavaScript's `<` compares UTF-16 code units instead,
// which differs for characters above U+FFFF, so the in-memory store sorts with compareKeys.

/** Code point (UTF-8 byte) order of two well-formed strings: negative, zero or positive. */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Everything before i is equal, so a surrogate here starts a code point above U+FFFF (or both are low
      // surrogates of pairs with equal high halves, where unit order is code point order).
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length - b.length;
}

/**
 * The least key greater than every key starting with `prefix` (etcd's prefix range end, by code point rather
 * than by byte so that it stays valid text): the prefix with its last incrementable code point incremented and
 * what follows dropped. null when there is none (empty prefix, or only U+10FFFF): the range is unbounded.
 */
export function prefixEnd(prefix: string): string | null {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.at(-1)!.codePointAt(0)!;
    if (last < 0x10ffff) {
      points[points.length - 1] = String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1); // skip surrogates
      return points.join('');
    }
    points.pop();
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Compares (shared by every implementation, etcd's applyCompare).

/** Whether a compare holds for the key's current state (null: missing). */
export function compareHolds(c: Compare, kv: KeyValue | null): boolean {
  if (c.target === 'value') {
    // As etcd: a value compare on a missing key fails whatever the operator (a missing value is not "").
    if (kv === null) return false;
    return c.op === '=' ? kv.value === c.value : kv.value !== c.value;
  }
  const actual = kv === null ? 0 : kv[c.target];
  switch (c.op) {
    case '=':
      return actual === c.value;
    case '!=':
      return actual !== c.value;
    case '<':
      return actual < c.value;
    case '>':
      return actual > c.value;
  }
}

/** Revision of an event. */
export function eventRevision(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.modRevision;
}

/** Bytes an event accounts for in the watch history. */
export function historyEventBytes(e: WatchEvent): number {
  const data = e.type === 'put' ? Buffer.byteLength(e.kv.key) + Buffer.byteLength(e.kv.value) : Buffer.byteLength(e.key);
  return data + historyEventOverheadBytes;
}

// ---------------------------------------------------------------------------------------------------------------
// Backends.

export interface StoredLease {
  id: number;
  ttlMs: number;
  expiresAtMs: number;
}

export interface StoreHeader {
  /** Revision of the last change; 0 for an empty store. */
  revision: number;
  /** Highest revision whose history was discarded; history holds every revision after it. */
  compactedRevision: number;
  /** Last lease id handed out (ids are never reused). */
  lastLeaseId: number;
}

/** One atomic change of the store, computed by the engine and applied by a backend. */
export interface Commit {
  /** Header the commit was computed against; the backend asserts it is current. */
  before: StoreHeader;
  after: StoreHeader;
  /**
   * Key changes, in order, all at after.revision (empty when the revision does not move). A put replaces the
   * key's row (with its lease), a delete removes it; each is also appended to the history.
   */
  events: WatchEvent[];
  /** historyEventBytes of each event. */
  eventBytes: number[];
  leaseUpserts: StoredLease[];
  leaseDeletes: number[];
}

/**
 * Storage of one store. Synchronous; reads see the latest applied commit. Results are fresh or frozen objects.
 * apply is only called inside transaction, as its last step.
 */
export interface MetadataBackend {
  header(): StoreHeader;
  get(key: string): KeyValue | null;
  /** Keys starting with prefix, in key order, at most limit (0: all). */
  range(prefix: string, limit: number): KeyValue[];
  /** Just the keys of range(prefix, 0). */
  rangeKeys(prefix: string): string[];
  /** Keys attached to a lease, in key order. */
  leaseKeys(id: number): string[];
  lease(id: number): StoredLease | null;
  /** Leases with expiresAtMs <= nowMs, earliest first. */
  dueLeases(nowMs: number): StoredLease[];
  /** Earliest lease expiry, or null without leases. */
  nextLeaseExpiry(): number | null;
  /** History events with revision >= fromRevision and key starting with prefix, in revision then commit order. */
  history(fromRevision: number, prefix: string): WatchEvent[];
  /** Accounted bytes of each revision in the history, in revision order. */
  historySizes(): Array<{ revision: number; bytes: number }>;
  /** Runs fn atomically: everything it applies is durable when this returns, or nothing is if it throws. */
  transaction<T>(fn: () => T): T;
  apply(commit: Commit): void;
  close(): void;
}
