// The object store contract: the subset of S3 the broker relies on. Objects are immutable once written.

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
  etag: string;
}

export interface PutOptions {
  /** Fail with PreconditionFailedError if the key exists (S3 If-None-Match: *). */
  ifNoneMatch?: boolean;
}

export interface ObjectStore {
  /** Writes a whole object durably: when this resolves, a later get from any broker returns it. */
  put(key: string, body: Buffer | Buffer[], options?: PutOptions): Promise<ObjectInfo>;
  /** Bytes [start, end) of an object, or all of it; rejects with ObjectNotFoundError when missing. */
  get(key: string, range?: { start: number; end: number }): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Deleting a missing key is not an error. */
  delete(keys: string[]): Promise<void>;
  /** Keys under `prefix` in lexicographic order, after `startAfter`, at most `limit` (default 1000). */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class PreconditionFailedError extends Error {
  constructor(key: string) {
    super(`object already exists: ${key}`);
    this.name = 'PreconditionFailedError';
  }
}

/** A transient failure (throttling, 5xx, network); the operation may be retried. */
export class ObjectStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ObjectStoreUnavailableError';
  }
}
