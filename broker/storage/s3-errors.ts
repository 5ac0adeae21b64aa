// Errors of S3 requests: how an attempt's failure is classified (retried or not, whether it may have taken
// effect), the errors this store's own checks raise, and the mapping of what is left to the contract's errors.
import { InvalidObjectKeyError, ObjectNotFoundError, ObjectStoreUnavailableError, PreconditionFailedError } from './object-store.ts';

/**
 * How one HTTP request ended. `ok` includes the answers that are part of the contract (404, 412, 416): the store
 * worked. `client-error` is another 4xx (a bug or a permission problem, not retried).
 */
export type S3RequestOutcome = 'ok' | 'throttled' | 'server-error' | 'conflict' | 'timeout' | 'network-error' | 'client-error';

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

/** What went wrong with one attempt. */
export interface Failure {
  outcome: S3RequestOutcome;
  retryable: boolean;
  /** The request may have reached the store and taken effect. */
  ambiguous: boolean;
  status?: number;
  code?: string;
}

/** The body of a response ended before its Content-Length (a connection cut): retryable. */
export class TruncatedBodyError extends Error {
  readonly code = 'ETRUNCATED';
  constructor(got: number, expected: number) {
    super(`response body ended after ${got} of ${expected} bytes`);
    this.name = 'TruncatedBodyError';
  }
}

/** Some keys of a DeleteObjects failed with a retryable error code. */
export class PartialDeleteError extends Error {
  readonly code: string;
  constructor(code: string, keys: number) {
    super(`DeleteObjects failed for ${keys} keys (${code})`);
    this.name = 'PartialDeleteError';
    this.code = code;
  }
}

/** Thrown by a request's send function to skip it (not sent, not counted, not retried). */
export class SkippedRequest extends Error {
  constructor(why: string) {
    super(why);
    this.name = 'SkippedRequest';
  }
}

export function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

export function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { Code?: unknown; code?: unknown; name?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  if (typeof e.code === 'string') return e.code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return undefined;
}

const NETWORK_MESSAGE = /socket hang up|ECONNRESET|EPIPE|premature close|aborted|other side closed|network|timed? ?out/i;

/** Whether and how an attempt's failure is retried. */
export function classify(err: unknown): Failure {
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

export function describeFailure(f: Failure, err: unknown): string {
  const parts = [f.status === undefined ? null : String(f.status), f.code ?? null].filter((p) => p !== null);
  const message = err instanceof Error ? err.message : String(err);
  return parts.length > 0 ? `${parts.join(' ')} (${message})` : message;
}

/** Errors as the contract wants them; already-mapped ones pass through. */
export function mapS3Error(err: unknown, key: string | undefined, bucket: string): unknown {
  if (err instanceof ObjectStoreUnavailableError || err instanceof ObjectNotFoundError || err instanceof PreconditionFailedError)
    return err;
  if (err instanceof RangeError || err instanceof TypeError || err instanceof InvalidObjectKeyError) return err;
  const status = statusOf(err);
  if (status === undefined) return err;
  const what = key === undefined ? '' : ` ${JSON.stringify(key)}`;
  const code = codeOf(err) ?? 'error';
  return new Error(`S3${what} in bucket ${bucket}: ${status} ${code}: ${(err as Error).message}`, { cause: err });
}
