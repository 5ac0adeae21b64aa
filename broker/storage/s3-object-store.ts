// The object store on S3 or an S3-compatible store (radosgw, MinIO, R2, ...), with @aws-sdk/client-s3.
//
// Requests. Every HTTP request holds one of `maxConcurrentRequests` slots while it runs (FIFO queue beyond),
// over kept-alive connections (one agent, maxSockets = the same bound, so the agent never queues). A multipart
// upload's parts are separate requests, uploaded in parallel within the bound; no operation holds a slot while
// waiting for another, so the bound cannot deadlock.
//
// Retries. The SDK's own retries are off (maxAttempts 1); each request is retried here on throttling (503
// SlowDown, 429 and the throttling error codes), other 5xx, 409 ConditionalRequestConflict, 400 RequestTimeout,
// timeouts and network errors, with jittered exponential backoff (retry-budget.ts), at most `maxAttempts` times
// and only while the shared retry budget has tokens. When it gives up the call rejects with
// ObjectStoreUnavailableError (its message says "throttled" when the last failure was throttling). A 404 is
// ObjectNotFoundError (head: null), 412 PreconditionFailedError, 416 RangeError; other 4xx are plain Errors.
//
// Writes. Up to `multipartThresholdBytes` one PutObject; above it a multipart upload (part size raised when the
// object would need more than 10000 parts), aborted when it fails. Conditional writes (ifNoneMatch) use one
// PutObject with If-None-Match: * up to 5 GiB, because not every S3-compatible store honours If-None-Match on
// CompleteMultipartUpload (radosgw 16 ignores it); larger ones send it on CompleteMultipartUpload. A retried
// conditional write can meet its own earlier attempt (the request reached the store but the answer was lost):
// after an attempt with an unknown outcome, a 412 is checked by reading the object back, and the write counts as
// done when the stored bytes are this write's.
//
// Reads. Ranged gets send `Range: bytes=start-(end-1)`; an empty range is answered without a request (so it
// does not check that the object exists, unlike the local store); a range past the end of the object (S3
// answers 416 or a shorter 206) is a RangeError.
//
// Keys are checked with objectKeyProblem (the same rules on every store). `keyPrefix` (e.g. `cluster-a/`) is
// prepended to every key sent and stripped from the keys listed, so that several users can share a bucket.
//
// Parts: s3-requests.ts (the client, its connections, the request slots and retries), s3-errors.ts (how a
// failure is classified and mapped to the contract's errors), s3-multipart.ts (multipart uploads), s3-http.ts
// (counting agents, response bodies).

import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { BrokerConfig } from '../config.ts';
import { configDefaults } from '../config.ts';
import type { ObjectStoreStats } from './local-object-store.ts';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import {
  InvalidObjectKeyError,
  MAX_KEYS_PER_REQUEST,
  MAX_OBJECT_KEY_BYTES,
  ObjectNotFoundError,
  ObjectStoreUnavailableError,
  objectKeyProblem,
  PreconditionFailedError,
} from './object-store.ts';
import { codeOf, mapS3Error, PartialDeleteError, statusOf } from './s3-errors.ts';
import { decodeUrlKey, destroyBody, readBody, unquote } from './s3-http.ts';
import { MultipartUploader } from './s3-multipart.ts';
import { S3Requester } from './s3-requests.ts';
import type { CallContext, S3Operation, S3RequestObserver } from './s3-requests.ts';
import { defaultRetryPolicy } from './retry-budget.ts';
import type { RetryPolicyOptions } from './retry-budget.ts';

export type { S3RequestOutcome } from './s3-errors.ts';
export type { S3Operation, S3RequestInfo, S3RequestObserver } from './s3-requests.ts';
export { MAX_PARTS } from './s3-multipart.ts';

export const DEFAULT_MAX_CONCURRENT_REQUESTS = configDefaults.s3MaxConcurrentRequests;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = configDefaults.s3MultipartThresholdBytes;
export const DEFAULT_MULTIPART_PART_BYTES = configDefaults.s3MultipartPartBytes;
export const DEFAULT_CONNECT_TIMEOUT_MS = configDefaults.s3ConnectTimeoutMs;
export const DEFAULT_REQUEST_TIMEOUT_MS = configDefaults.s3RequestTimeoutMs;
/** S3's limit on a PutObject (MAX_PARTS, s3-multipart.ts: a multipart upload's part count). */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
const DEFAULT_LIST_LIMIT = MAX_KEYS_PER_REQUEST;
const DELETE_BATCH = MAX_KEYS_PER_REQUEST;

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Default us-east-1. */
  region?: string;
  /** An S3-compatible endpoint (http://127.0.0.1:9000); default AWS's for the region. */
  endpoint?: string | null;
  /** Bucket in the path instead of the host name (most S3-compatible stores need it). Default false. */
  forcePathStyle?: boolean;
  /** Static credentials (or an SDK credential provider); default the standard AWS chain. */
  credentials?: S3ClientConfig['credentials'];
  /** SSE-KMS key for every object written; default none (the bucket's default encryption applies). */
  sseKmsKeyId?: string | null;
  /** Prepended to every key; default ''. */
  keyPrefix?: string;
  /** HTTP requests in flight at once; default 64. */
  maxConcurrentRequests?: number;
  /** Objects larger than this use a multipart upload; default 32 MiB. */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads; default 8 MiB (S3 needs at least 5 MiB but for the last part). */
  multipartPartBytes?: number;
  /** Default 5 s. */
  connectTimeoutMs?: number;
  /** A request whose socket is idle this long fails (stalled connection); default 30 s. */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicyOptions>;
  onRequest?: S3RequestObserver;
  /** For tests: the jitter's random source. */
  random?: () => number;
}

type OpKind = 'put' | 'get' | 'head' | 'delete' | 'list';
type PerOp = Record<OpKind, number>;

/** LocalObjectStore's counters (tempFilesRemoved is always 0 here), plus the S3 client's. */
export interface S3ObjectStoreStats extends ObjectStoreStats {
  /** HTTP requests sent (attempts, parts), by S3 operation. */
  httpRequests: Record<S3Operation, number>;
  /** Retries made, and failed attempts that were throttling (503 SlowDown, 429, ...). */
  retries: number;
  throttles: number;
  /** Retries refused because the retry budget was empty, and the tokens in it now. */
  retryBudgetExhausted: number;
  retryBudgetTokens: number;
  multipartUploads: number;
  multipartAborts: number;
  /** TCP (or TLS) connections opened: with keep-alive, far fewer than requests. */
  connectionsOpened: number;
}

/** Per-key DeleteObjects errors worth retrying. */
const RETRYABLE_DELETE_CODES = new Set(['InternalError', 'SlowDown', 'ServiceUnavailable', 'OperationAborted', 'RequestTimeout']);

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly keyPrefix: string;
  readonly maxConcurrentRequests: number;
  readonly multipartThresholdBytes: number;
  readonly multipartPartBytes: number;
  readonly sseKmsKeyId: string | null;
  readonly retryPolicy: RetryPolicyOptions;
  readonly #s3: S3Requester;
  readonly #multipart: MultipartUploader;
  #closed = false;
  #pending = 0;
  #drained: Array<() => void> = [];
  readonly #requests: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  readonly #errors: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  #bytesWritten = 0;
  #bytesRead = 0;
  #keysDeleted = 0;
  #keysListed = 0;

  constructor(options: S3ObjectStoreOptions) {
    if (typeof options.bucket !== 'string' || options.bucket === '') throw new TypeError('S3ObjectStore: bucket is required');
    this.bucket = options.bucket;
    this.keyPrefix = options.keyPrefix ?? '';
    this.maxConcurrentRequests = positiveInt('maxConcurrentRequests', options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS);
    this.multipartThresholdBytes = positiveInt(
      'multipartThresholdBytes',
      options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES,
    );
    this.multipartPartBytes = positiveInt('multipartPartBytes', options.multipartPartBytes ?? DEFAULT_MULTIPART_PART_BYTES);
    this.sseKmsKeyId = options.sseKmsKeyId ?? null;
    this.retryPolicy = { ...defaultRetryPolicy, ...options.retry };
    positiveInt('retry.maxAttempts', this.retryPolicy.maxAttempts);
    this.#s3 = new S3Requester({
      bucket: this.bucket,
      region: options.region ?? 'us-east-1',
      endpoint: options.endpoint ?? null,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      maxConcurrentRequests: this.maxConcurrentRequests,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      retryPolicy: this.retryPolicy,
      onRequest: options.onRequest,
      random: options.random ?? Math.random,
    });
    this.#multipart = new MultipartUploader(this.#s3, {
      partBytes: this.multipartPartBytes,
      sse: () => this.#sse(),
      mapError: (err, key) => this.#mapError(err, key),
      headKey: (key, s3Key) => this.#headKey(key, s3Key),
      etagOf: (key, s3Key) => this.#etagOf(key, s3Key),
    });
  }

  /** The store a broker configured with skafos.object.store=s3 uses. */
  static fromConfig(config: BrokerConfig, extra: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
    if (config.s3Bucket === null) throw new Error('skafos.s3.bucket is not set');
    return new S3ObjectStore({
      bucket: config.s3Bucket,
      region: config.s3Region,
      endpoint: config.s3Endpoint,
      forcePathStyle: config.s3PathStyle,
      ...(config.s3AccessKeyId !== null && config.s3SecretAccessKey !== null
        ? { credentials: { accessKeyId: config.s3AccessKeyId, secretAccessKey: config.s3SecretAccessKey } }
        : {}),
      sseKmsKeyId: config.s3SseKmsKeyId,
      maxConcurrentRequests: config.s3MaxConcurrentRequests,
      multipartThresholdBytes: config.s3MultipartThresholdBytes,
      multipartPartBytes: config.s3MultipartPartBytes,
      connectTimeoutMs: config.s3ConnectTimeoutMs,
      requestTimeoutMs: config.s3RequestTimeoutMs,
      retry: {
        maxAttempts: config.s3RetryMaxAttempts,
        baseBackoffMs: config.s3RetryBackoffBaseMs,
        maxBackoffMs: config.s3RetryBackoffMaxMs,
        budgetTokens: config.s3RetryBudgetTokens,
      },
      ...extra,
    });
  }

  // ---- operations ----

  async put(key: string, body: Buffer | Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    return this.#op('put', async () => {
      const s3Key = this.#s3Key(key);
      const parts = Array.isArray(body) ? body : [body];
      let size = 0;
      for (const p of parts) {
        if (!(p instanceof Uint8Array)) throw new TypeError(`put ${JSON.stringify(key)}: body must be a Buffer or an array of Buffers`);
        size += p.length;
      }
      const ifNoneMatch = options.ifNoneMatch === true;
      const multipart = ifNoneMatch ? size > MAX_SINGLE_PUT_BYTES : size > this.multipartThresholdBytes;
      const info = multipart
        ? await this.#multipart.put(key, s3Key, parts, size, ifNoneMatch)
        : await this.#putSingle(key, s3Key, parts, size, ifNoneMatch);
      this.#bytesWritten += size;
      return info;
    });
  }

  async #putSingle(key: string, s3Key: string, parts: Buffer[], size: number, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const nonEmpty = parts.filter((p) => p.length > 0);
    const payload = nonEmpty.length === 1 ? nonEmpty[0]! : Buffer.concat(nonEmpty, size);
    const ctx: CallContext = { ambiguous: false };
    try {
      const out = await this.#s3.run('PutObject', ctx, () =>
        this.#s3.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: s3Key,
            Body: payload,
            ContentLength: size,
            ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
            ...this.#sse(),
          }),
        ),
      );
      return { key, sizeBytes: size, etag: out.ETag ? unquote(out.ETag) : await this.#etagOf(key, s3Key) };
    } catch (err) {
      if (ifNoneMatch && statusOf(err) === 412) {
        // Our own earlier attempt may be what exists now.
        if (ctx.ambiguous) {
          const mine = await this.#storedBytesAre(key, s3Key, payload);
          if (mine !== null) return mine;
        }
        throw new PreconditionFailedError(key);
      }
      throw this.#mapError(err, key);
    }
  }

  /** The object's info if it holds exactly `payload`, else null. */
  async #storedBytesAre(key: string, s3Key: string, payload: Buffer): Promise<ObjectInfo | null> {
    const info = await this.#headKey(key, s3Key);
    if (info === null || info.sizeBytes !== payload.length) return null;
    const stored = await this.#getKey(key, s3Key, undefined);
    return stored.equals(payload) ? info : null;
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    return this.#op('get', async () => {
      const s3Key = this.#s3Key(key);
      if (range !== undefined) {
        const { start, end } = range;
        if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
          throw new RangeError(`get ${JSON.stringify(key)}: invalid range [${start}, ${end})`);
        }
        if (start === end) return Buffer.alloc(0);
      }
      const buf = await this.#getKey(key, s3Key, range);
      this.#bytesRead += buf.length;
      return buf;
    });
  }

  async #getKey(key: string, s3Key: string, range: { start: number; end: number } | undefined): Promise<Buffer> {
    const what = range === undefined ? '' : ` [${range.start}, ${range.end})`;
    try {
      return await this.#s3.run('GetObject', { ambiguous: false }, async () => {
        const out = await this.#s3.client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: s3Key,
            ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end - 1}` }),
          }),
        );
        const length = out.ContentLength;
        // A 206 says which bytes it holds and the object's size; a 200 (range ignored or none asked) is all of it.
        let first = 0;
        let total = length;
        if (out.ContentRange !== undefined) {
          const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(out.ContentRange);
          if (m) {
            first = Number(m[1]);
            total = m[3] === '*' ? undefined : Number(m[3]);
          }
        }
        const outside = () =>
          new RangeError(
            `get ${JSON.stringify(key)}: range [${range!.start}, ${range!.end}) is outside the object's ${total ?? 'unknown number of'} bytes`,
          );
        if (range !== undefined && total !== undefined && range.end > total) {
          destroyBody(out.Body);
          throw outside();
        }
        const body = await readBody(out.Body, length);
        if (range === undefined) return body;
        if (range.start < first || range.end > first + body.length) throw outside();
        if (first === range.start && body.length === range.end - range.start) return body;
        return Buffer.from(body.subarray(range.start - first, range.end - first));
      });
    } catch (err) {
      if (err instanceof RangeError) throw err;
      const status = statusOf(err);
      if (status === 404) throw new ObjectNotFoundError(key);
      if (status === 416) {
        throw new RangeError(`get ${JSON.stringify(key)}: range${what} is outside the object (416 ${codeOf(err) ?? 'InvalidRange'})`);
      }
      throw this.#mapError(err, key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.#op('head', () => this.#headKey(key, this.#s3Key(key)));
  }

  async #headKey(key: string, s3Key: string): Promise<ObjectInfo | null> {
    try {
      const out = await this.#s3.run('HeadObject', { ambiguous: false }, () =>
        this.#s3.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: s3Key })),
      );
      return { key, sizeBytes: out.ContentLength ?? 0, etag: unquote(out.ETag ?? '') };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw this.#mapError(err, key);
    }
  }

  async #etagOf(key: string, s3Key: string): Promise<string> {
    const info = await this.#headKey(key, s3Key);
    if (info === null)
      throw new ObjectStoreUnavailableError(`S3 put ${JSON.stringify(key)}: the response had no ETag and the object is not visible`);
    return info.etag;
  }

  async delete(keys: string[]): Promise<void> {
    return this.#op('delete', async () => {
      if (!Array.isArray(keys)) throw new TypeError('delete: keys must be an array');
      const s3Keys = [...new Set(keys.map((k) => this.#s3Key(k)))];
      const batches: string[][] = [];
      for (let i = 0; i < s3Keys.length; i += DELETE_BATCH) batches.push(s3Keys.slice(i, i + DELETE_BATCH));
      const results = await Promise.allSettled(batches.map((batch) => this.#deleteBatch(batch)));
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      this.#keysDeleted += keys.length;
    });
  }

  async #deleteBatch(batch: string[]): Promise<void> {
    let remaining = batch;
    try {
      await this.#s3.run('DeleteObjects', { ambiguous: false }, async () => {
        const out = await this.#s3.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: remaining.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const retry: string[] = [];
        let retryCode = '';
        for (const e of out.Errors ?? []) {
          if (e.Code === 'NoSuchKey' || e.Key === undefined) continue;
          if (e.Code !== undefined && RETRYABLE_DELETE_CODES.has(e.Code)) {
            retry.push(e.Key);
            retryCode = e.Code;
          } else {
            throw new Error(
              `S3 delete ${JSON.stringify(this.#userKey(e.Key))} in bucket ${this.bucket} failed: ${e.Code ?? 'error'}: ${e.Message ?? ''}`,
            );
          }
        }
        if (retry.length > 0) {
          remaining = retry;
          throw new PartialDeleteError(retryCode, retry.length);
        }
      });
    } catch (err) {
      throw this.#mapError(err, undefined);
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<ObjectInfo[]> {
    return this.#op('list', async () => {
      const limit = options.limit ?? DEFAULT_LIST_LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`list: limit must be a non-negative integer, got ${limit}`);
      if (typeof prefix !== 'string') throw new TypeError('list: prefix must be a string');
      const { startAfter } = options;
      if (startAfter !== undefined && typeof startAfter !== 'string') throw new TypeError('list: startAfter must be a string');
      // No key contains NUL or a lone surrogate (and S3 could not be asked about them).
      if (limit === 0 || prefix.includes('\0') || !prefix.isWellFormed()) return [];
      const out: ObjectInfo[] = [];
      let token: string | undefined;
      do {
        const page = await this.#s3
          .run('ListObjectsV2', { ambiguous: false }, () =>
            this.#s3.client.send(
              new ListObjectsV2Command({
                Bucket: this.bucket,
                Prefix: this.keyPrefix + prefix,
                MaxKeys: Math.min(MAX_KEYS_PER_REQUEST, limit - out.length),
                EncodingType: 'url',
                ...(token !== undefined
                  ? { ContinuationToken: token }
                  : startAfter !== undefined && startAfter !== ''
                    ? { StartAfter: this.keyPrefix + startAfter.toWellFormed() }
                    : {}),
              }),
            ),
          )
          .catch((err) => {
            throw this.#mapError(err, undefined);
          });
        const encoded = page.EncodingType === 'url';
        for (const o of page.Contents ?? []) {
          if (o.Key === undefined || out.length >= limit) continue;
          const s3Key = encoded ? decodeUrlKey(o.Key) : o.Key;
          out.push({ key: this.#userKey(s3Key), sizeBytes: o.Size ?? 0, etag: unquote(o.ETag ?? '') });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined && out.length < limit);
      this.#keysListed += out.length;
      return out;
    });
  }

  /** Waits for operations under way, then closes the connections; later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pending > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
    this.#s3.destroy();
  }

  stats(): S3ObjectStoreStats {
    return {
      requests: { ...this.#requests },
      errors: { ...this.#errors },
      bytesWritten: this.#bytesWritten,
      bytesRead: this.#bytesRead,
      keysDeleted: this.#keysDeleted,
      keysListed: this.#keysListed,
      ...this.#s3.limiterStats(),
      maxConcurrentOps: this.maxConcurrentRequests,
      tempFilesRemoved: 0,
      httpRequests: { ...this.#s3.httpRequests },
      retries: this.#s3.retries,
      throttles: this.#s3.throttles,
      retryBudgetExhausted: this.#s3.budget.exhausted,
      retryBudgetTokens: this.#s3.budget.tokens,
      multipartUploads: this.#multipart.uploads,
      multipartAborts: this.#multipart.aborts,
      connectionsOpened: this.#s3.connectionsOpened,
    };
  }

  // ---- helpers ----

  async #op<T>(kind: OpKind, fn: () => Promise<T>): Promise<T> {
    this.#requests[kind]++;
    this.#pending++;
    try {
      if (this.#closed) throw new Error(`${kind} on a closed object store (s3://${this.bucket}/${this.keyPrefix})`);
      return await fn();
    } catch (err) {
      this.#errors[kind]++;
      throw err;
    } finally {
      if (--this.#pending === 0) for (const resolve of this.#drained.splice(0)) resolve();
    }
  }

  /** Errors as the contract wants them; already-mapped ones pass through. */
  #mapError(err: unknown, key: string | undefined): unknown {
    return mapS3Error(err, key, this.bucket);
  }

  #s3Key(key: string): string {
    const problem = objectKeyProblem(key);
    if (problem !== null) throw new InvalidObjectKeyError(key, problem);
    const full = this.keyPrefix + key;
    if (this.keyPrefix !== '' && Buffer.byteLength(full) > MAX_OBJECT_KEY_BYTES) {
      throw new InvalidObjectKeyError(
        key,
        `longer than ${MAX_OBJECT_KEY_BYTES} bytes with the key prefix ${JSON.stringify(this.keyPrefix)}`,
      );
    }
    return full;
  }

  #userKey(s3Key: string): string {
    return s3Key.startsWith(this.keyPrefix) ? s3Key.slice(this.keyPrefix.length) : s3Key;
  }

  #sse(): { ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string } {
    return this.sseKmsKeyId === null ? {} : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.sseKmsKeyId };
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`S3ObjectStore: ${name} must be a positive integer, got ${v}`);
  return v;
}
