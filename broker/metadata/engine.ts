// The etcd semantics of the metadata store, written once: validation and limits, compare evaluation, applying a
// transaction's operations (revisions, versions, lease attachment), lease expiry, bounded watch history and
// watch delivery. Where the data lives is a MetadataBackend (backend.ts): SQLite for the embedded store
// (embedded.ts), maps for the in-memory one (memory.ts). A backend is synchronous and dumb; every decision is
// made here.
//
// Concurrency: the JavaScript thread is the only writer. Every public operation runs synchronously up to its
// first await (there is none inside an operation), so operations never interleave, and every change is computed
// and applied inside one backend transaction.

import { checkKey, checkPrefix, checkTxn } from './request-validate.ts';
import assert from 'node:assert/strict';
import { CompactedRevisionError, InvalidMetadataRequestError, MetadataStoreClosedError } from './errors.ts';
import { LeaseLostError, MetadataUnavailableError } from './store.ts';
import type { Compare, KeyValue, Lease, MetadataStore, Op, TxnResult, Watch, WatchEvent } from './store.ts';
import { defaultMetadataLimits } from './limits.ts';
import type { MetadataLimits } from './limits.ts';
import { compareHolds, eventRevision, historyEventBytes } from './backend.ts';
import type { Commit, MetadataBackend, StoredLease, StoreHeader } from './backend.ts';
import { timerMaxMs } from '../limits.ts';

export interface MetadataStoreOptions {
  /** Wall clock in milliseconds since the epoch, for lease expiry (persisted, so not monotonic). Default Date.now. */
  clock?: () => number;
  /** Overrides of defaultMetadataLimits (tests use small ones). */
  limits?: Partial<MetadataLimits>;
}

// ---------------------------------------------------------------------------------------------------------------
// Watches.

class WatchState {
  readonly prefix: string;
  /** Lowest revision delivered. */
  readonly fromRevision: number;
  readonly #onEvents: (events: WatchEvent[]) => void;
  #queue: WatchEvent[][] = [];
  #head = 0;
  #scheduled = false;
  #closed = false;

  constructor(prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void) {
    this.prefix = prefix;
    this.fromRevision = fromRevision;
    this.#onEvents = onEvents;
  }

  /** Queues the events of one revision; delivered asynchronously, in order, one callback per revision. */
  push(events: WatchEvent[]): void {
    if (this.#closed) return;
    this.#queue.push(events);
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#drain);
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    while (!this.#closed && this.#head < this.#queue.length) {
      const events = this.#queue[this.#head++]!;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      try {
        this.#onEvents(events);
      } catch (err) {
        // A throwing consumer is a bug that must surface (uncaught), but must not lose the events after it.
        if (this.#head < this.#queue.length) this.#schedule();
        throw err;
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The engine.

interface Plan<T> {
  value: T;
  commit: Commit | null;
}

function isRequestError(err: unknown): boolean {
  return err instanceof LeaseLostError || err instanceof InvalidMetadataRequestError;
}

function invalid(message: string): InvalidMetadataRequestError {
  return new InvalidMetadataRequestError(message);
}

export class MetadataEngine implements MetadataStore {
  readonly limits: Readonly<MetadataLimits>;
  readonly #backend: MetadataBackend;
  readonly #clock: () => number;
  #header: StoreHeader;
  /** Accounted bytes of each retained history revision: #historySizes[#historyHead + i] is compactedRevision+1+i. */
  #historySizes: number[] = [];
  #historyHead = 0;
  #historyBytes = 0;
  readonly #watches = new Set<WatchState>();
  #timer: NodeJS.Timeout | null = null;
  #timerAtMs = 0;
  #closed = false;
  /** The backend error that stopped the store (fail-stop: after a storage error nothing is trusted). */
  #failure: unknown = null;

  /** Takes ownership of the backend (closes it on close()); expires leases that expired while it was closed. */
  constructor(backend: MetadataBackend, options: MetadataStoreOptions = {}) {
    this.#backend = backend;
    this.#clock = options.clock ?? Date.now;
    this.limits = Object.freeze(checkLimits({ ...defaultMetadataLimits, ...options.limits }));
    this.#header = backend.header();
    let expected = this.#header.compactedRevision + 1;
    for (const { revision, bytes } of backend.historySizes()) {
      assert.equal(revision, expected, 'watch history has a gap');
      expected++;
      this.#historySizes.push(bytes);
      this.#historyBytes += bytes;
    }
    assert.equal(expected - 1, this.#header.revision, 'watch history does not reach the current revision');
    this.#expireDue();
    this.#armTimer(backend.nextLeaseExpiry());
  }

  async get(key: string): Promise<KeyValue | null> {
    this.#enter();
    checkKey(this.limits, key, 'key');
    return this.#read(() => this.#backend.get(key));
  }

  async getPrefix(prefix: string, limit = 0): Promise<KeyValue[]> {
    this.#enter();
    checkPrefix(this.limits, prefix);
    if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a non-negative integer, got ${limit}`);
    return this.#read(() => this.#backend.range(prefix, limit));
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    this.#enter();
    checkTxn(this.limits, compares, success, failure);
    return this.#write(() => {
      const succeeded = compares.every((c) => compareHolds(c, this.#backend.get(c.key)));
      const commit = this.#planOps(succeeded ? success : failure);
      return { value: { succeeded, revision: commit ? commit.after.revision : this.#header.revision }, commit };
    });
  }

  async revision(): Promise<number> {
    this.#enter();
    return this.#header.revision;
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    this.#enter();
    const { minLeaseTtlMs, maxLeaseTtlMs } = this.limits;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < minLeaseTtlMs || ttlMs > maxLeaseTtlMs) {
      throw invalid(`lease TTL must be an integer from ${minLeaseTtlMs} to ${maxLeaseTtlMs} ms, got ${ttlMs}`);
    }
    const lease = this.#write(() => {
      const before = this.#header;
      const stored = { id: before.lastLeaseId + 1, ttlMs, expiresAtMs: this.#clock() + ttlMs };
      const after = { ...before, lastLeaseId: stored.id };
      return { value: stored, commit: { before, after, events: [], eventBytes: [], leaseUpserts: [stored], leaseDeletes: [] } };
    });
    this.#armTimer(lease.expiresAtMs);
    const id = lease.id;
    return Object.freeze({ id, ttlMs, keepAlive: () => this.#keepAlive(id), revoke: () => this.#revoke(id) });
  }

  // A watch here ends only by close() (a compacted start throws at creation), so onError is never called.
  watchPrefix(prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void, _onError?: (err: Error) => void): Watch {
    this.#enter();
    checkPrefix(this.limits, prefix);
    if (!Number.isSafeInteger(fromRevision)) throw invalid(`fromRevision must be an integer, got ${fromRevision}`);
    if (typeof onEvents !== 'function') throw invalid('onEvents must be a function');
    // As etcd, a revision of 0 (or less) means "from now on".
    const start = fromRevision > 0 ? fromRevision : this.#header.revision + 1;
    if (start <= this.#header.compactedRevision) throw new CompactedRevisionError(start, this.#header.compactedRevision);
    const watch = new WatchState(prefix, start, onEvents);
    if (start <= this.#header.revision) {
      // Read synchronously, so that no commit can fall between the history and the live events.
      const history = this.#read(() => this.#backend.history(start, prefix));
      let i = 0;
      while (i < history.length) {
        const revision = eventRevision(history[i]!);
        let j = i + 1;
        while (j < history.length && eventRevision(history[j]!) === revision) j++;
        assert(revision >= start, 'history returned an event before the requested revision');
        watch.push(history.slice(i, j));
        i = j;
      }
    }
    this.#watches.add(watch);
    return {
      close: () => {
        watch.close();
        this.#watches.delete(watch);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const watch of this.#watches) watch.close();
    this.#watches.clear();
    try {
      this.#backend.close();
    } catch (err) {
      throw new MetadataUnavailableError(`closing the metadata store failed: ${String(err)}`, { cause: err });
    }
  }

  // -- leases ----------------------------------------------------------------------------------------------------

  async #keepAlive(id: number): Promise<void> {
    this.#enter();
    const expiresAtMs = this.#write(() => {
      const lease = this.#backend.lease(id);
      if (lease === null) throw new LeaseLostError(id);
      const renewed = { ...lease, expiresAtMs: this.#clock() + lease.ttlMs };
      const before = this.#header;
      return {
        value: renewed.expiresAtMs,
        commit: { before, after: before, events: [], eventBytes: [], leaseUpserts: [renewed], leaseDeletes: [] },
      };
    });
    this.#armTimer(expiresAtMs);
  }

  /** Idempotent: revoking a lease that already expired or was revoked resolves (its keys are gone either way). */
  async #revoke(id: number): Promise<void> {
    this.#enter();
    this.#write(() => ({ value: undefined, commit: this.#planLeaseRemoval(id) }));
  }

  /** Removes every lease whose expiry has passed, each in its own revision (as etcd revokes them one by one). */
  #expireDue(): void {
    const due = this.#read(() => this.#backend.dueLeases(this.#clock()));
    for (const lease of due) this.#write(() => ({ value: undefined, commit: this.#planLeaseRemoval(lease.id) }));
  }

  #planLeaseRemoval(id: number): Commit | null {
    if (this.#backend.lease(id) === null) return null;
    const revision = this.#header.revision + 1;
    const events: WatchEvent[] = this.#backend.leaseKeys(id).map((key) => ({ type: 'delete', key, modRevision: revision }));
    return this.#finishCommit(events, [], [id]);
  }

  #armTimer(atMs: number | null): void {
    if (atMs === null || this.#closed || this.#failure !== null) return;
    if (this.#timer !== null && this.#timerAtMs <= atMs) return; // fires earlier and re-arms for the rest
    if (this.#timer !== null) clearTimeout(this.#timer);
    const delay = Math.min(Math.max(atMs - this.#clock(), 0), timerMaxMs); // later lease expiries are re-armed when it fires
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(this.#onTimer, delay);
    this.#timer.unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    if (this.#closed || this.#failure !== null) return;
    try {
      this.#expireDue();
      this.#armTimer(this.#read(() => this.#backend.nextLeaseExpiry()));
    } catch {
      // A storage failure: #failure is set and the next operation reports it.
    }
  };

  // -- transactions ----------------------------------------------------------------------------------------------

  /** The commit applying ops at the next revision, or null if they change nothing. Runs inside the transaction. */
  #planOps(ops: Op[]): Commit | null {
    const revision = this.#header.revision + 1;
    const events: WatchEvent[] = [];
    const deleted = new Set<string>(); // overlapping deletes in one transaction delete a key once
    for (const op of ops) {
      switch (op.type) {
        case 'put': {
          const lease = op.lease ?? 0;
          if (lease !== 0 && this.#backend.lease(lease) === null) throw new LeaseLostError(lease);
          // No other operation of the transaction touches op.key (checked), so the stored row is current.
          const prev = this.#backend.get(op.key);
          const kv: KeyValue = Object.freeze({
            key: op.key,
            value: op.value,
            createRevision: prev === null ? revision : prev.createRevision,
            modRevision: revision,
            version: prev === null ? 1 : prev.version + 1,
            lease,
          });
          events.push(Object.freeze({ type: 'put', kv }));
          break;
        }
        case 'delete':
          if (!deleted.has(op.key) && this.#backend.get(op.key) !== null) {
            deleted.add(op.key);
            events.push(Object.freeze({ type: 'delete', key: op.key, modRevision: revision }));
          }
          break;
        case 'deletePrefix':
          for (const key of this.#backend.rangeKeys(op.prefix)) {
            if (deleted.has(key)) continue;
            deleted.add(key);
            events.push(Object.freeze({ type: 'delete', key, modRevision: revision }));
          }
          break;
      }
    }
    return events.length === 0 ? null : this.#finishCommit(events, [], []);
  }

  /** A commit of key events at the next revision (or none), compacting the watch history to its limits. */
  #finishCommit(events: WatchEvent[], leaseUpserts: StoredLease[], leaseDeletes: number[]): Commit {
    const before = this.#header;
    Object.freeze(events); // kept as history by the in-memory backend; each watch gets its own copy
    const eventBytes = events.map(historyEventBytes);
    if (events.length === 0) return { before, after: before, events, eventBytes, leaseUpserts, leaseDeletes };
    const revision = before.revision + 1;
    for (const e of events) assert.equal(eventRevision(e), revision, 'event outside its commit revision');
    let compacted = before.compactedRevision;
    let bytes = this.#historyBytes + eventBytes.reduce((a, b) => a + b, 0);
    const { watchHistoryRevisions, watchHistoryBytes } = this.limits;
    while (compacted < revision - 1 && (revision - compacted > watchHistoryRevisions || bytes > watchHistoryBytes)) {
      bytes -= this.#historySizes[this.#historyHead + (compacted - before.compactedRevision)]!;
      compacted++;
    }
    return { before, after: { ...before, revision, compactedRevision: compacted }, events, eventBytes, leaseUpserts, leaseDeletes };
  }

  /** Runs plan in a backend transaction, applies its commit, then updates the caches and notifies watches. */
  #write<T>(plan: () => Plan<T>): T {
    let result: Plan<T>;
    try {
      result = this.#backend.transaction(() => {
        const r = plan();
        if (r.commit !== null) {
          assert.deepEqual(r.commit.before, this.#header, 'commit computed against a stale header');
          this.#backend.apply(r.commit);
        }
        return r;
      });
    } catch (err) {
      if (isRequestError(err)) throw err;
      throw this.#fail(err);
    }
    if (result.commit !== null) this.#committed(result.commit);
    return result.value;
  }

  #committed(commit: Commit): void {
    const { before, after, events } = commit;
    this.#header = after;
    if (events.length === 0) return;
    assert.equal(after.revision, before.revision + 1, 'revision must move by one per writing commit');
    for (let r = before.compactedRevision; r < after.compactedRevision; r++) this.#historyBytes -= this.#historySizes[this.#historyHead++]!;
    const bytes = commit.eventBytes.reduce((a, b) => a + b, 0);
    this.#historySizes.push(bytes);
    this.#historyBytes += bytes;
    if (this.#historyHead > 1024 && this.#historyHead * 2 > this.#historySizes.length) {
      this.#historySizes = this.#historySizes.slice(this.#historyHead);
      this.#historyHead = 0;
    }
    assert.equal(this.#historySizes.length - this.#historyHead, after.revision - after.compactedRevision, 'history size bookkeeping');
    for (const watch of this.#watches) {
      if (after.revision < watch.fromRevision) continue;
      const matching =
        watch.prefix === '' ? events.slice() : events.filter((e) => (e.type === 'put' ? e.kv.key : e.key).startsWith(watch.prefix));
      if (matching.length > 0) watch.push(matching);
    }
  }

  #read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** Stops the store after a storage error and returns the error to report. */
  #fail(cause: unknown): MetadataUnavailableError {
    if (this.#failure === null) {
      this.#failure = cause;
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timer = null;
    }
    return new MetadataUnavailableError(`metadata store failed and must be reopened: ${String(cause)}`, { cause });
  }

  /** Start of every operation: refuses when closed or failed, and expires due leases. */
  #enter(): void {
    if (this.#closed) throw new MetadataStoreClosedError();
    if (this.#failure !== null) {
      throw new MetadataUnavailableError(`metadata store failed and must be reopened: ${String(this.#failure)}`, { cause: this.#failure });
    }
    this.#expireDue();
  }
}

function checkLimits(limits: MetadataLimits): MetadataLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`metadata limit ${name} must be a positive integer, got ${value}`);
  }
  if (limits.minLeaseTtlMs > limits.maxLeaseTtlMs) throw new RangeError('minLeaseTtlMs exceeds maxLeaseTtlMs');
  return limits;
}
