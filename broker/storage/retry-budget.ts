// Retry policy of a remote store: a bound on attempts per call, jittered exponential backoff between them, and
// a retry budget shared by all calls, so that a store that fails everything is not sent N times the load.
//
// The budget is a token bucket: it starts full, every retry spends `retryCost` tokens and every successful
// request earns `successRefill` back (up to `capacity`). While requests mostly succeed, retries are free in
// effect; when the store fails everything, the bucket drains after capacity / retryCost retries and from then
// on every call makes one attempt and fails fast, until successes refill it. (The AWS SDKs' "retry quota"
// works the same way.)
import { configDefaults } from '../config.ts';
import { retryCostTokens, retrySuccessRefillTokens } from '../limits.ts';

export interface RetryPolicyOptions {
  /** Attempts per call, the first included. 1 disables retries. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is uniform in [0, min(maxBackoffMs, baseBackoffMs * 2^(n-1))] ("full jitter"). */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Tokens in a full budget; 0 disables retries. */
  budgetTokens: number;
  /** Tokens one retry spends. */
  retryCost: number;
  /** Tokens one successful request earns back. */
  successRefill: number;
}

export const defaultRetryPolicy: RetryPolicyOptions = {
  maxAttempts: configDefaults.s3RetryMaxAttempts,
  baseBackoffMs: configDefaults.s3RetryBackoffBaseMs,
  maxBackoffMs: configDefaults.s3RetryBackoffMaxMs,
  budgetTokens: configDefaults.s3RetryBudgetTokens,
  retryCost: retryCostTokens,
  successRefill: retrySuccessRefillTokens,
};

export class RetryBudget {
  readonly capacity: number;
  readonly retryCost: number;
  readonly successRefill: number;
  #tokens: number;
  #exhausted = 0;

  constructor(capacity: number, retryCost = retryCostTokens, successRefill = retrySuccessRefillTokens) {
    for (const [name, v] of [
      ['capacity', capacity],
      ['retryCost', retryCost],
      ['successRefill', successRefill],
    ] as const) {
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`retry budget ${name} must be a non-negative number, got ${v}`);
    }
    this.capacity = capacity;
    this.retryCost = retryCost;
    this.successRefill = successRefill;
    this.#tokens = capacity;
  }

  /** Takes the tokens for one retry; false (and nothing taken) when the budget cannot pay for it. */
  tryAcquire(cost = this.retryCost): boolean {
    if (this.capacity === 0 || this.#tokens < cost) {
      this.#exhausted++;
      return false;
    }
    this.#tokens -= cost;
    return true;
  }

  /** A request succeeded. */
  onSuccess(): void {
    this.#tokens = Math.min(this.capacity, this.#tokens + this.successRefill);
  }

  get tokens(): number {
    return this.#tokens;
  }

  /** Retries refused for want of tokens. */
  get exhausted(): number {
    return this.#exhausted;
  }
}

/** The delay before retry number `retry` (1 = the first retry): full jitter over an exponential cap. */
export function backoffMs(retry: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(retry - 1, 30));
  return Math.floor(random() * cap);
}
