// The S3 client and how each of its requests is run: over kept-alive connections (one agent, maxSockets = the
// concurrency bound, so the agent never queues), each attempt holding one of `maxConcurrentRequests` slots
// (FIFO queue beyond; not while backing off), retried on throttling, 5xx, timeouts and network errors with
// jittered exponential backoff while the shared retry budget has tokens (s3-errors.ts classifies failures).
import type { Agent as HttpAgent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Limiter } from './fs-util.ts';
import { ObjectStoreUnavailableError } from './object-store.ts';
import { classify, describeFailure, SkippedRequest } from './s3-errors.ts';
import type { S3RequestOutcome } from './s3-errors.ts';
import { countingAgent } from './s3-http.ts';
import { backoffMs, RetryBudget } from './retry-budget.ts';
import type { RetryPolicyOptions } from './retry-budget.ts';

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

/** Tracks, across the attempts of one call, whether an attempt may have taken effect. */
export interface CallContext {
  ambiguous: boolean;
}

export interface S3RequesterOptions {
  bucket: string;
  region: string;
  endpoint: string | null;
  forcePathStyle: boolean;
  credentials: S3ClientConfig['credentials'] | undefined;
  maxConcurrentRequests: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  retryPolicy: RetryPolicyOptions;
  onRequest: S3RequestObserver | undefined;
  random: () => number;
}

export class S3Requester {
  readonly client: S3Client;
  readonly bucket: string;
  readonly retryPolicy: RetryPolicyOptions;
  readonly #agent: HttpAgent;
  readonly #limiter: Limiter;
  readonly #budget: RetryBudget;
  readonly #onRequest: S3RequestObserver | undefined;
  readonly #random: () => number;
  /** HTTP requests sent (attempts, parts), by S3 operation. */
  readonly httpRequests = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<S3Operation, number>;
  retries = 0;
  throttles = 0;
  connectionsOpened = 0;

  constructor(o: S3RequesterOptions) {
    this.bucket = o.bucket;
    this.retryPolicy = o.retryPolicy;
    this.#budget = new RetryBudget(o.retryPolicy.budgetTokens, o.retryPolicy.retryCost, o.retryPolicy.successRefill);
    this.#limiter = new Limiter(o.maxConcurrentRequests);
    this.#onRequest = o.onRequest;
    this.#random = o.random;
    this.#agent = countingAgent(o.endpoint, o.maxConcurrentRequests, () => void this.connectionsOpened++);
    this.client = new S3Client({
      region: o.region,
      ...(o.endpoint === null ? {} : { endpoint: o.endpoint }),
      forcePathStyle: o.forcePathStyle,
      ...(o.credentials === undefined ? {} : { credentials: o.credentials }),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: this.#agent,
        httpsAgent: this.#agent,
        connectionTimeout: o.connectTimeoutMs,
        socketTimeout: o.requestTimeoutMs,
      },
    });
  }

  /** The concurrency slots' figures (in flight, queued, peak). */
  limiterStats(): ReturnType<Limiter['stats']> {
    return this.#limiter.stats();
  }

  /** Retries refused because the budget was empty, and the tokens in it now. */
  get budget(): { exhausted: number; tokens: number } {
    return { exhausted: this.#budget.exhausted, tokens: this.#budget.tokens };
  }

  /** Closes the client and its connections. */
  destroy(): void {
    this.client.destroy();
    this.#agent.destroy();
  }

  /**
   * Runs one S3 request with the retry policy: each attempt holds a concurrency slot (not while backing off).
   * Rejects with the last error when it is not retryable, or with ObjectStoreUnavailableError when retries
   * run out (attempts or budget).
   */
  async run<T>(op: S3Operation, ctx: CallContext, send: () => Promise<T>, maxAttempts = this.retryPolicy.maxAttempts): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let started = 0;
      try {
        const result = await this.#limiter.run(() => {
          started = performance.now();
          this.httpRequests[op]++;
          return send();
        });
        this.#budget.onSuccess();
        this.observe(op, started, 'ok', { attempt });
        return result;
      } catch (err) {
        if (err instanceof SkippedRequest) {
          this.httpRequests[op]--;
          throw err;
        }
        const f = classify(err);
        if (f.outcome === 'ok') this.#budget.onSuccess(); // 404, 412, 416: the store answered
        if (started !== 0) {
          this.observe(op, started, f.outcome, {
            attempt,
            ...(f.status === undefined ? {} : { status: f.status }),
            ...(f.code === undefined ? {} : { code: f.code }),
          });
        }
        if (!f.retryable) throw err;
        if (f.ambiguous) ctx.ambiguous = true;
        if (f.outcome === 'throttled') this.throttles++;
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
        this.retries++;
        const delay = backoffMs(attempt, this.retryPolicy.baseBackoffMs, this.retryPolicy.maxBackoffMs, this.#random);
        if (delay > 0) await sleep(delay);
      }
    }
  }

  private observe(op: S3Operation, started: number, outcome: S3RequestOutcome, info: S3RequestInfo): void {
    if (this.#onRequest === undefined) return;
    try {
      this.#onRequest(op, performance.now() - started, outcome, info);
    } catch {
      // An observer's failure is not the store's.
    }
  }
}
