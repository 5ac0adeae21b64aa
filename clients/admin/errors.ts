// The errors an admin call rejects with. A Kafka error answered by a broker is an AdminKafkaError carrying the
// code, its name and the broker's message (or Kafka's default message for the code); a failure to reach a
// broker is an AdminConnectionError; a call past its deadline is an AdminTimeoutError carrying the last error.
import { errorInfoForCode } from '../../broker/protocol/errors.ts';

export class AdminKafkaError extends Error {
  readonly code: number;
  readonly errorName: string;
  readonly retriable: boolean;

  constructor(code: number, message?: string | null, context?: string) {
    const info = errorInfoForCode(code);
    const name = info?.name ?? `UNKNOWN_ERROR_CODE_${code}`;
    const text = message || info?.message || `Kafka error code ${code}`;
    super(context ? `${context}: ${name}: ${text}` : `${name}: ${text}`);
    this.name = 'AdminKafkaError';
    this.code = code;
    this.errorName = name;
    this.retriable = info?.retriable ?? false;
  }
}

/** A broker could not be reached, or closed the connection, or sent what could not be decoded. */
export class AdminConnectionError extends Error {
  readonly retriable = true;
  readonly address: string;
  constructor(address: string, message: string, options?: ErrorOptions) {
    super(`${address}: ${message}`, options);
    this.name = 'AdminConnectionError';
    this.address = address;
  }
}

/** A local bound was reached (a queue is full, a request is too large): not retried. */
export class AdminLimitError extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'AdminLimitError';
  }
}

/** The call's deadline passed; `cause` is the last error seen, if any. */
export class AdminTimeoutError extends Error {
  readonly retriable = false;
  constructor(what: string, timeoutMs: number, cause?: unknown) {
    const last = cause instanceof Error ? ` (last error: ${cause.message})` : '';
    super(`${what} did not complete within ${timeoutMs} ms${last}`, { cause });
    this.name = 'AdminTimeoutError';
  }
}

/** Throws an AdminKafkaError for a non-zero code. */
export function throwIfError(code: number, message: string | null | undefined, context?: string): void {
  if (code !== 0) throw new AdminKafkaError(code, message, context);
}

export function isRetriable(e: unknown): boolean {
  return e instanceof AdminConnectionError || (e instanceof AdminKafkaError && e.retriable);
}
