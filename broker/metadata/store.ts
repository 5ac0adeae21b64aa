// The metadata store contract: what etcd offers (revisions, transactions, leases, watches), nothing more, so
// the embedded store and the etcd store are interchangeable. Keys are strings; values are UTF-8 strings
// (JSON documents); every change bumps one store-wide revision.

export interface KeyValue {
  key: string;
  value: string;
  /** Store revision at which the key was created (since its last deletion). */
  createRevision: number;
  /** Store revision of the key's last change. */
  modRevision: number;
  /** Number of changes since creation (1 after the first put). */
  version: number;
  /** Lease the key is attached to, or 0. */
  lease: number;
}

/** A guard of a transaction, as etcd's Compare. A missing key has createRevision = modRevision = version = 0. */
export type Compare =
  | { key: string; target: 'modRevision' | 'createRevision' | 'version'; op: '=' | '!=' | '<' | '>'; value: number }
  | { key: string; target: 'value'; op: '=' | '!='; value: string };

export type Op =
  | { type: 'put'; key: string; value: string; lease?: number }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  revision: number;
}

export type WatchEvent = { type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number };

export interface Watch {
  close(): void;
}

export interface Lease {
  readonly id: number;
  readonly ttlMs: number;
  /** Extends the lease by its TTL; rejects with LeaseLostError if it has expired or was revoked. */
  keepAlive(): Promise<void>;
  /** Deletes the lease and every key attached to it. */
  revoke(): Promise<void>;
}

export interface MetadataStore {
  get(key: string): Promise<KeyValue | null>;
  /** Keys starting with `prefix`, in key order; `limit` 0 means all. */
  getPrefix(prefix: string, limit?: number): Promise<KeyValue[]>;
  /** Atomic: if every compare holds, apply `success`, else `failure`. */
  txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult>;
  /** Current store revision. */
  revision(): Promise<number>;
  grantLease(ttlMs: number): Promise<Lease>;
  /**
   * Events for keys under `prefix` with modRevision >= fromRevision, in revision order, then live ones.
   * `onError` receives the error that ends a watch after its creation (etcd: the revisions it needs were
   * compacted during a long outage, or etcd cancelled it); without it, such an error is thrown uncaught.
   */
  watchPrefix(prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void, onError?: (err: Error) => void): Watch;
  close(): Promise<void>;
}

export class LeaseLostError extends Error {
  constructor(id: number) {
    super(`lease ${id} has expired or was revoked`);
    this.name = 'LeaseLostError';
  }
}

/** The store cannot be reached or answered with an error; the operation may be retried. */
export class MetadataUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataUnavailableError';
  }
}
