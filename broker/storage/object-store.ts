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

/** A key no store accepts (see objectKeyProblem), or one a particular store cannot hold. */
export class InvalidObjectKeyError extends Error {
  readonly key: unknown;
  constructor(key: unknown, reason: string) {
    const shown = typeof key === 'string' ? JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key) : String(key);
    super(`invalid object key ${shown}: ${reason}`);
    this.name = 'InvalidObjectKeyError';
    this.key = key;
  }
}

/** S3's limit on a key's UTF-8 length. */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** S3's limit on the keys of one request: a ListObjectsV2 page, a DeleteObjects call. */
export const MAX_KEYS_PER_REQUEST = 1000;

/**
 * Why `key` is not a valid key for any store, or null. Keys are what S3 accepts, less what the local store cannot
 * map to files, so that a key that works on one store works on all: non-empty well-formed Unicode without NUL,
 * at most 1024 UTF-8 bytes, not starting with `/`, without empty, `.` or `..` segments.
 */
export function objectKeyProblem(key: unknown): string | null {
  if (typeof key !== 'string') return 'must be a string';
  if (key === '') return 'empty';
  if (!key.isWellFormed()) return 'not well-formed Unicode (lone surrogate)';
  if (key.includes('\0')) return 'contains NUL';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES) return `${bytes} bytes long, the limit is ${MAX_OBJECT_KEY_BYTES}`;
  if (key.startsWith('/')) return 'absolute (starts with "/")';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty segment (leading, trailing or double "/")';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
  }
  return null;
}

/** A transient failure (throttling, 5xx, network); the operation may be retried. */
export class ObjectStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ObjectStoreUnavailableError';
  }
}
