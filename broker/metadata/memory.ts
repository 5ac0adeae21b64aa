// In-memory metadata store for unit tests of the layers above: the same engine (engine.ts), hence the same
// semantics, limits and errors as the embedded store, with maps instead of SQLite and nothing persisted.

import assert from 'node:assert/strict';
import { compareKeys, eventRevision } from './backend.ts';
import type { Commit, MetadataBackend, StoredLease, StoreHeader } from './backend.ts';
import { MetadataEngine } from './engine.ts';
import type { MetadataStoreOptions } from './engine.ts';
import type { KeyValue, WatchEvent } from './store.ts';

interface HistoryRevision {
  revision: number;
  events: WatchEvent[];
  bytes: number;
}

/** Maps behind the in-memory store; exported for tests that wrap a backend (fault injection). */
export class MemoryBackend implements MetadataBackend {
  #header: StoreHeader = { revision: 0, compactedRevision: 0, lastLeaseId: 0 };
  readonly #kv = new Map<string, KeyValue>(); // values are frozen, so handed out as they are
  readonly #leases = new Map<number, StoredLease>();
  #history: HistoryRevision[] = [];

  header(): StoreHeader {
    return this.#header;
  }

  get(key: string): KeyValue | null {
    return this.#kv.get(key) ?? null;
  }

  range(prefix: string, limit: number): KeyValue[] {
    const keys = this.rangeKeys(prefix);
    return (limit > 0 ? keys.slice(0, limit) : keys).map((key) => this.#kv.get(key)!);
  }

  rangeKeys(prefix: string): string[] {
    const keys: string[] = [];
    for (const key of this.#kv.keys()) if (key.startsWith(prefix)) keys.push(key);
    return keys.sort(compareKeys);
  }

  leaseKeys(id: number): string[] {
    const keys: string[] = [];
    for (const kv of this.#kv.values()) if (kv.lease === id) keys.push(kv.key);
    return keys.sort(compareKeys);
  }

  lease(id: number): StoredLease | null {
    const lease = this.#leases.get(id);
    return lease === undefined ? null : { ...lease };
  }

  dueLeases(nowMs: number): StoredLease[] {
    const due = [...this.#leases.values()].filter((l) => l.expiresAtMs <= nowMs);
    return due.sort((a, b) => a.expiresAtMs - b.expiresAtMs || a.id - b.id).map((l) => ({ ...l }));
  }

  nextLeaseExpiry(): number | null {
    let next: number | null = null;
    for (const l of this.#leases.values()) if (next === null || l.expiresAtMs < next) next = l.expiresAtMs;
    return next;
  }

  history(fromRevision: number, prefix: string): WatchEvent[] {
    const out: WatchEvent[] = [];
    for (const h of this.#history) {
      if (h.revision < fromRevision) continue;
      for (const e of h.events) if ((e.type === 'put' ? e.kv.key : e.key).startsWith(prefix)) out.push(e);
    }
    return out;
  }

  historySizes(): Array<{ revision: number; bytes: number }> {
    return this.#history.map(({ revision, bytes }) => ({ revision, bytes }));
  }

  transaction<T>(fn: () => T): T {
    // Nothing to roll back: the engine only calls apply as the last step, and apply cannot fail halfway
    // except on an assertion, after which the engine stops the store.
    return fn();
  }

  apply(commit: Commit): void {
    assert.deepEqual(commit.before, this.#header, 'commit against a stale header');
    for (const e of commit.events) {
      if (e.type === 'put') this.#kv.set(e.kv.key, e.kv);
      else assert(this.#kv.delete(e.key), `delete event for missing key ${e.key}`);
    }
    for (const id of commit.leaseDeletes) assert(this.#leases.delete(id), `delete of missing lease ${id}`);
    for (const l of commit.leaseUpserts) this.#leases.set(l.id, { ...l });
    if (commit.events.length > 0) {
      const revision = commit.after.revision;
      assert(commit.events.every((e) => eventRevision(e) === revision));
      this.#history.push({ revision, events: commit.events, bytes: commit.eventBytes.reduce((a, b) => a + b, 0) });
    }
    if (commit.after.compactedRevision > commit.before.compactedRevision) {
      const keep = this.#history.findIndex((h) => h.revision > commit.after.compactedRevision);
      this.#history.splice(0, keep === -1 ? this.#history.length : keep);
    }
    this.#header = { ...commit.after };
  }

  close(): void {
    this.#kv.clear();
    this.#leases.clear();
    this.#history = [];
  }
}

/** A metadata store held in memory: etcd semantics, no persistence, for tests. */
export class MemoryMetadataStore extends MetadataEngine {
  constructor(options: MetadataStoreOptions = {}) {
    super(new MemoryBackend(), options);
  }
}
