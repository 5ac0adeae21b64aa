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

import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import type { BrokerConfig } from '../config.ts';
import { Limiter } from './fs-util.ts';
import type { ObjectStoreStats } from './local-object-store.ts';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import {
  InvalidObjectKeyError,
  MAX_OBJECT_KEY_BYTES,
  ObjectNotFoundError,
  ObjectStoreUnavailableError,
  objectKeyProblem,
  PreconditionFailedError,
} from './object-store.ts';
import { backoffMs, defaultRetryPolicy, RetryBudget } from './retry-budget.ts';
import type { RetryPolicyOptions } from './retry-budget.ts';

export const DEFAULT_MAX_CONCURRENT_REQUESTS = 64;
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MULTIPART_PART_BYTES = 8 * 1024 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** S3's limits: a PutObject, a multipart upload's part count. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;
const DEFAULT_LIST_LIMIT = 1000;
const DELETE_BATCH = 1000;

/** The S3 API calls this store makes. */
export type S3Operation =
  | 'PutObject'
  | 'GetObject'
  | 'HeadObject'
  | 'DeleteObjects'
  | 'ListObjectsV2'
  | 'CreateMultipartUpload'
  | 'UploadPart'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload';

/**
 * How one HTTP request ended. `ok` includes the answers that are part of the contract (404, 412, 416): the store
 * worked. `client-error` is another 4xx (a bug or a permission problem, not retried).
 */
export type S3RequestOutcome = 'ok' | 'throttled' | 'server-error' | 'conflict' | 'timeout' | 'network-error' | 'client-error';

export interface S3RequestInfo {
  /** 1 for the first attempt of a call. */
  attempt: number;
  /** HTTP status, when there was a response. */
  status?: number;
  /** S3 error code (SlowDown, NoSuchKey, ...) or network error code (ECONNRESET, ...). */
  code?: string;
}

/** Called after every HTTP request (each attempt, each part), with its time on the wire (queueing excluded). */
export type S3RequestObserver = (op: S3Operation, durationMs: number, outcome: S3RequestOutcome, info: S3RequestInfo) => void;

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

const OPERATIONS: readonly S3Operation[] = [
  'PutObject',
  'GetObject',
  'HeadObject',
  'DeleteObjects',
  'ListObjectsV2',
  'CreateMultipartUpload',
  'UploadPart',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
];

const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
]);
/** Per-key DeleteObjects errors worth retrying. */
const RETRYABLE_DELETE_CODES = new Set(['InternalError', 'SlowDown', 'ServiceUnavailable', 'OperationAborted', 'RequestTimeout']);

/** What went wrong with one attempt. */
interface Failure {
  outcome: S3RequestOutcome;
  retryable: boolean;
  /** The request may have reached the store and taken effect. */
  ambiguous: boolean;
  status?: number;
  code?: string;
}

/** The body of a response ended before its Content-Length (a connection cut): retryable. */
class TruncatedBodyError extends Error {
  readonly code = 'ETRUNCATED';
  constructor(got: number, expected: number) {
    super(`response body ended after ${got} of ${expected} bytes`);
    this.name = 'TruncatedBodyError';
  }
}

/** Some keys of a DeleteObjects failed with a retryable error code. */
class PartialDeleteError extends Error {
  readonly code: string;
  constructor(code: string, keys: number) {
    super(`DeleteObjects failed for ${keys} keys (${code})`);
    this.name = 'PartialDeleteError';
    this.code = code;
  }
}

/** Thrown by a request's send function to skip it (not sent, not counted, not retried). */
class SkippedRequest extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'SkippedRequest';
  }
}

/** Tracks, across the attempts of one call, whether an attempt may have taken effect. */
interface CallContext {
  ambiguous: boolean;
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly keyPrefix: string;
  readonly maxConcurrentRequests: number;
  readonly multipartThresholdBytes: number;
  readonly multipartPartBytes: number;
  readonly sseKmsKeyId: string | null;
  readonly retryPolicy: RetryPolicyOptions;
  readonly #client: S3Client;
  readonly #agent: HttpAgent;
  readonly #limiter: Limiter;
  readonly #budget: RetryBudget;
  readonly #onRequest: S3RequestObserver | undefined;
  readonly #random: () => number;
  #closed = false;
  #pending = 0;
  #drained: Array<() => void> = [];
  readonly #requests: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  readonly #errors: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  readonly #http = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<S3Operation, number>;
  #bytesWritten = 0;
  #bytesRead = 0;
  #keysDeleted = 0;
  #keysListed = 0;
  #retries = 0;
  #throttles = 0;
  #multipartUploads = 0;
  #multipartAborts = 0;
  #connectionsOpened = 0;

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
    this.#budget = new RetryBudget(this.retryPolicy.budgetTokens, this.retryPolicy.retryCost, this.retryPolicy.successRefill);
    this.#limiter = new Limiter(this.maxConcurrentRequests);
    this.#onRequest = options.onRequest;
    this.#random = options.random ?? Math.random;

    const endpoint = options.endpoint ?? null;
    const agentOptions = {
      keepAlive: true,
      keepAliveMsecs: 10_000,
      maxSockets: this.maxConcurrentRequests,
      maxFreeSockets: this.maxConcurrentRequests,
      scheduling: 'lifo' as const,
    };
    const onSocket = () => void this.#connectionsOpened++;
    this.#agent = endpoint?.startsWith('http:')
      ? new CountingHttpAgent(agentOptions, onSocket)
      : new CountingHttpsAgent(agentOptions, onSocket);
    this.#client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(endpoint === null ? {} : { endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: this.#agent,
        httpsAgent: this.#agent,
        connectionTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        socketTimeout: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      },
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
        ? await this.#putMultipart(key, s3Key, parts, size, ifNoneMatch)
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
      const out = await this.#request('PutObject', ctx, () =>
        this.#client.send(
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

  async #putMultipart(key: string, s3Key: string, parts: Buffer[], size: number, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const partBytes = Math.max(this.multipartPartBytes, Math.ceil(size / MAX_PARTS));
    const partCount = Math.ceil(size / partBytes);
    const created = await this.#request('CreateMultipartUpload', { ambiguous: false }, () =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key, ...this.#sse() })),
    ).catch((err) => {
      throw this.#mapError(err, key);
    });
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error(`CreateMultipartUpload ${JSON.stringify(key)}: no UploadId in the response`);
    this.#multipartUploads++;
    let failed = false;
    try {
      const uploads = await Promise.allSettled(
        Array.from({ length: partCount }, async (_, i) => {
          const start = i * partBytes;
          const end = Math.min(size, start + partBytes);
          const out = await this.#request('UploadPart', { ambiguous: false }, () => {
            if (failed) throw new SkippedRequest('another part failed'); // the upload is being abandoned
            return this.#client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: s3Key,
                UploadId: uploadId,
                PartNumber: i + 1,
                Body: slice(parts, start, end),
                ContentLength: end - start,
              }),
            );
          }).catch((err) => {
            failed = true;
            throw err;
          });
          if (!out.ETag) {
            failed = true;
            throw new Error(`UploadPart ${i + 1} of ${JSON.stringify(key)}: no ETag in the response`);
          }
          return out.ETag;
        }),
      );
      // Settled, all of them: parts still uploading when the upload is aborted could outlive it.
      const rejected = uploads.filter((r) => r.status === 'rejected').map((r) => r.reason as unknown);
      if (rejected.length > 0) throw rejected.find((e) => !(e instanceof SkippedRequest)) ?? rejected[0];
      const etags = uploads.map((r) => (r as PromiseFulfilledResult<string>).value);
      const ctx: CallContext = { ambiguous: false };
      try {
        const done = await this.#request('CompleteMultipartUpload', ctx, () =>
          this.#client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: s3Key,
              UploadId: uploadId,
              MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
              ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
            }),
          ),
        );
        return { key, sizeBytes: size, etag: done.ETag ? unquote(done.ETag) : await this.#etagOf(key, s3Key) };
      } catch (err) {
        // A retry after an attempt that completed the upload finds it gone (404 NoSuchUpload) or, if
        // conditional, the object there (412): it is ours if it has our size and part count.
        const status = statusOf(err);
        if (ctx.ambiguous && (status === 404 || status === 412)) {
          const info = await this.#headKey(key, s3Key);
          if (info !== null && info.sizeBytes === size && info.etag.endsWith(`-${partCount}`)) return info;
        }
        if (ifNoneMatch && status === 412) throw new PreconditionFailedError(key);
        throw err;
      }
    } catch (err) {
      await this.#abort(s3Key, uploadId);
      throw err instanceof PreconditionFailedError ? err : this.#mapError(err, key);
    }
  }

  async #abort(s3Key: string, uploadId: string): Promise<void> {
    this.#multipartAborts++;
    try {
      await this.#request(
        'AbortMultipartUpload',
        { ambiguous: false },
        () => this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: s3Key, UploadId: uploadId })),
        2,
      );
    } catch {
      // Best effort: a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes what is left.
    }
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
      return await this.#request('GetObject', { ambiguous: false }, async () => {
        const out = await this.#client.send(
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
      const out = await this.#request('HeadObject', { ambiguous: false }, () =>
        this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: s3Key })),
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
      await this.#request('DeleteObjects', { ambiguous: false }, async () => {
        const out = await this.#client.send(
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
        const page = await this.#request('ListObjectsV2', { ambiguous: false }, () =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: this.keyPrefix + prefix,
              MaxKeys: Math.min(1000, limit - out.length),
              EncodingType: 'url',
              ...(token !== undefined
                ? { ContinuationToken: token }
                : startAfter !== undefined && startAfter !== ''
                  ? { StartAfter: this.keyPrefix + startAfter.toWellFormed() }
                  : {}),
            }),
          ),
        ).catch((err) => {
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
    this.#client.destroy();
    this.#agent.destroy();
  }

  stats(): S3ObjectStoreStats {
    return {
      requests: { ...this.#requests },
      errors: { ...this.#errors },
      bytesWritten: this.#bytesWritten,
      bytesRead: this.#bytesRead,
      keysDeleted: this.#keysDeleted,
      keysListed: this.#keysListed,
      ...this.#limiter.stats(),
      maxConcurrentOps: this.maxConcurrentRequests,
      tempFilesRemoved: 0,
      httpRequests: { ...this.#http },
      retries: this.#retries,
      throttles: this.#throttles,
      retryBudgetExhausted: this.#budget.exhausted,
      retryBudgetTokens: this.#budget.tokens,
      multipartUploads: this.#multipartUploads,
      multipartAborts: this.#multipartAborts,
      connectionsOpened: this.#connectionsOpened,
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

  /**
   * Runs one S3 request with the retry policy: each attempt holds a concurrency slot (not while backing off).
   * Rejects with the last error when it is not retryable, or with ObjectStoreUnavailableError when retries
   * run out (attempts or budget).
   */
  async #request<T>(op: S3Operation, ctx: CallContext, send: () => Promise<T>, maxAttempts = this.retryPolicy.maxAttempts): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let started = 0;
      try {
        const result = await this.#limiter.run(() => {
          started = performance.now();
          this.#http[op]++;
          return send();
        });
        this.#budget.onSuccess();
        this.#observe(op, started, 'ok', { attempt });
        return result;
      } catch (err) {
        if (err instanceof SkippedRequest) {
          this.#http[op]--;
          throw err;
        }
        const f = classify(err);
        if (f.outcome === 'ok') this.#budget.onSuccess(); // 404, 412, 416: the store answered
        if (started !== 0) {
          this.#observe(op, started, f.outcome, {
            attempt,
            ...(f.status === undefined ? {} : { status: f.status }),
            ...(f.code === undefined ? {} : { code: f.code }),
          });
        }
        if (!f.retryable) throw err;
        if (f.ambiguous) ctx.ambiguous = true;
        if (f.outcome === 'throttled') this.#throttles++;
        const last = `${f.outcome === 'throttled' ? 'throttled: ' : ''}${describeFailure(f, err)}`;
        if (attempt >= maxAttempts) {
          throw new ObjectStoreUnavailableError(
            `S3 ${op} on bucket ${this.bucket} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}; last: ${last}`,
            { cause: err },
          );
        }
        if (!this.#budget.tryAcquire()) {
          throw new ObjectStoreUnavailableError(
            `S3 ${op} on bucket ${this.bucket} failed (${last}) and the retry budget is exhausted: not retried`,
            { cause: err },
          );
        }
        this.#retries++;
        const delay = backoffMs(attempt, this.retryPolicy.baseBackoffMs, this.retryPolicy.maxBackoffMs, this.#random);
        if (delay > 0) await sleep(delay);
      }
    }
  }

  #observe(op: S3Operation, started: number, outcome: S3RequestOutcome, info: S3RequestInfo): void {
    if (this.#onRequest === undefined) return;
    try {
      this.#onRequest(op, performance.now() - started, outcome, info);
    } catch {
      // An observer's failure is not the store's.
    }
  }

  /** Errors as the contract wants them; already-mapped ones pass through. */
  #mapError(err: unknown, key: string | undefined): unknown {
    if (err instanceof ObjectStoreUnavailableError || err instanceof ObjectNotFoundError || err instanceof PreconditionFailedError)
      return err;
    if (err instanceof RangeError || err instanceof TypeError || err instanceof InvalidObjectKeyError) return err;
    const status = statusOf(err);
    if (status === undefined) return err;
    const what = key === undefined ? '' : ` ${JSON.stringify(key)}`;
    const code = codeOf(err) ?? 'error';
    return new Error(`S3${what} in bucket ${this.bucket}: ${status} ${code}: ${(err as Error).message}`, { cause: err });
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

// ---- agents that count connections ----

class CountingHttpAgent extends HttpAgent {
  readonly #onSocket: () => void;
  constructor(options: ConstructorParameters<typeof HttpAgent>[0], onSocket: () => void) {
    super(options);
    this.#onSocket = onSocket;
  }

  override createConnection(...args: Parameters<HttpAgent['createConnection']>): Duplex | null | undefined {
    this.#onSocket();
    return super.createConnection(...args);
  }
}

class CountingHttpsAgent extends HttpsAgent {
  readonly #onSocket: () => void;
  constructor(options: ConstructorParameters<typeof HttpsAgent>[0], onSocket: () => void) {
    super(options);
    this.#onSocket = onSocket;
  }

  override createConnection(...args: Parameters<HttpsAgent['createConnection']>): Duplex | null | undefined {
    this.#onSocket();
    return super.createConnection(...args);
  }
}

// ---- errors ----

function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { Code?: unknown; code?: unknown; name?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (typeof e.code === 'string') return e.code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return undefined;
}

const NETWORK_MESSAGE = /socket hang up|ECONNRESET|EPIPE|premature close|aborted|other side closed|network|timed? ?out/i;

/** Whether and how an attempt's failure is retried. */
function classify(err: unknown): Failure {
  const status = statusOf(err);
  const code = codeOf(err);
  const base = { ...(status === undefined ? {} : { status }), ...(code === undefined ? {} : { code }) };
  if (err instanceof PartialDeleteError) return { ...base, outcome: 'server-error', retryable: true, ambiguous: true };
  if (err instanceof TruncatedBodyError) return { ...base, outcome: 'network-error', retryable: true, ambiguous: true };
  // Thrown by this file's own checks of a response: a range past the object is an answer of the contract.
  if (err instanceof RangeError) return { ...base, outcome: 'ok', retryable: false, ambiguous: false };
  if (err instanceof TypeError && status === undefined) return { ...base, outcome: 'client-error', retryable: false, ambiguous: false };
  if (status !== undefined && status >= 400) {
    if (status === 429 || status === 503 || (code !== undefined && THROTTLE_CODES.has(code))) {
      return { ...base, outcome: 'throttled', retryable: true, ambiguous: false };
    }
    if (status >= 500) return { ...base, outcome: 'server-error', retryable: true, ambiguous: true };
    if (status === 409 && code === 'ConditionalRequestConflict') return { ...base, outcome: 'conflict', retryable: true, ambiguous: false };
    if (status === 400 && (code === 'RequestTimeout' || code === 'RequestTimeoutException')) {
      return { ...base, outcome: 'timeout', retryable: true, ambiguous: false };
    }
    const contract = status === 404 || status === 412 || status === 416;
    return { ...base, outcome: contract ? 'ok' : 'client-error', retryable: false, ambiguous: false };
  }
  // No error response: the connection failed, timed out, or the response could not be read.
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  const errno = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (name === 'TimeoutError' || errno === 'ETIMEDOUT' || /timed? ?out/i.test(message)) {
    return { ...base, outcome: 'timeout', retryable: true, ambiguous: true };
  }
  if (errno === 'ECONNREFUSED' || errno === 'ENOTFOUND' || errno === 'EAI_AGAIN' || errno === 'EHOSTUNREACH' || errno === 'ENETUNREACH') {
    return { ...base, outcome: 'network-error', retryable: true, ambiguous: false };
  }
  if (/^E[A-Z0-9_]+$/.test(errno) || status !== undefined || NETWORK_MESSAGE.test(message)) {
    return { ...base, outcome: 'network-error', retryable: true, ambiguous: true };
  }
  return { ...base, outcome: 'client-error', retryable: false, ambiguous: false };
}

function describeFailure(f: Failure, err: unknown): string {
  const parts = [f.status === undefined ? null : String(f.status), f.code ?? null].filter((p) => p !== null);
  const message = err instanceof Error ? err.message : String(err);
  return parts.length > 0 ? `${parts.join(' ')} (${message})` : message;
}

// ---- bodies ----

/** Reads a response body of `length` bytes (if known) into one buffer; a shorter body is a TruncatedBodyError. */
async function readBody(body: unknown, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    if (body !== undefined && body !== null) for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  if (body !== undefined && body !== null) {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (got + chunk.length > length) {
        destroyBody(body);
        throw new TruncatedBodyError(got + chunk.length, length); // longer than announced: as broken
      }
      out.set(chunk, got);
      got += chunk.length;
    }
  }
  if (got !== length) throw new TruncatedBodyError(got, length);
  return out;
}

function destroyBody(body: unknown): void {
  const b = body as { destroy?: () => void } | undefined;
  if (typeof b?.destroy === 'function') b.destroy();
}

/** Bytes [start, end) of the concatenation of `parts`, copying only when they span several parts. */
function slice(parts: readonly Buffer[], start: number, end: number): Buffer {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const p of parts) {
    const pEnd = offset + p.length;
    if (pEnd > start && offset < end) pieces.push(p.subarray(Math.max(0, start - offset), Math.min(p.length, end - offset)));
    offset = pEnd;
    if (offset >= end) break;
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, end - start);
}

// ---- small helpers ----

function unquote(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** Keys of a ListObjectsV2 with EncodingType=url: form-encoded (AWS writes a space as `+`, radosgw as %20). */
function decodeUrlKey(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}

function positiveInt(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`S3ObjectStore: ${name} must be a positive integer, got ${v}`);
  return v;
}
