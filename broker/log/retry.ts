// Retries a transient failure with capped, jittered exponential backoff until it succeeds or the caller gives up.
import type { Logger } from 'pino';
import { retryInitialBackoffMs, retryMaxBackoffMs } from '../limits.ts';

export class RetryAbortedError extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: gave up retrying`, { cause });
    this.name = 'RetryAbortedError';
  }
}

export async function retryForever<T>(
  what: string,
  attempt: () => Promise<T>,
  options: { logger: Logger; isClosed: () => boolean; onRetry?: () => void; isRetriable?: (e: unknown) => boolean },
): Promise<T> {
  let backoffMs = retryInitialBackoffMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (options.isRetriable && !options.isRetriable(error)) throw error;
      if (options.isClosed()) throw new RetryAbortedError(what, error);
      options.onRetry?.();
      const delayMs = Math.round(backoffMs / 2 + (Math.random() * backoffMs) / 2);
      if (n === 1 || n % 10 === 0) options.logger.warn({ err: error, attempt: n, delayMs }, `${what} failed; retrying`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      backoffMs = Math.min(backoffMs * 2, retryMaxBackoffMs);
    }
  }
}
