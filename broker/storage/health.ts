// Object-store health: latency and error rate of every object-store call over a sliding window, turned into
// one of three states with hysteresis. The broker slows producers when the store is degraded and fails fast
// when it is unavailable (spec/guarantees.md).
//
// A call's latency is measured on the store, not on the event loop: the wall time from begin to end, less the
// time the event loop was stalled meanwhile (EventLoopStallMeter). A stall (a long synchronous task, or the
// process starved of CPU by others) delays the moment the broker notices an answer, never the store's work,
// which goes on in the kernel, the libuv pool or on the network. When the answer arrived during the stall the
// figure is a lower bound of the store's latency, when after it the exact one; the loop's ordinary turns (a
// few ms each, however busy) are below the meter's slack and never subtracted, so a genuinely slow store still
// shows while the broker is busy.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { healthBucketMs, healthMaxTransitionsCount, healthRecoverySuccessesCount } from '../limits.ts';
import { configDefaults } from '../config.ts';

export type HealthState = 'healthy' | 'degraded' | 'unavailable';
export type CallOutcome = 'ok' | 'error' | 'throttled';

export interface HealthThresholds {
  /** Length of the sliding window. */
  windowMs: number;
  /** Fewer calls than this in the window: error rates are not judged (latency and stalls still are). */
  minCallsForRates: number;
  /** Error (including throttling) share of calls at or above which the store is degraded. */
  degradedErrorRate: number;
  /** p99 latency at or above which the store is degraded. */
  degradedP99Ms: number;
  /** Error share at or above which the store is unavailable. */
  unavailableErrorRate: number;
  /** Consecutive failed calls after which the store is unavailable, whatever the window says. */
  unavailableConsecutiveFailures: number;
  /** A call in flight for longer than this makes the store unavailable (a stalled connection). */
  unavailableStallMs: number;
  /** A worse state is left only after this long without reasons for it (hysteresis). */
  recoveryHoldMs: number;
}

export const defaultHealthThresholds: HealthThresholds = {
  windowMs: configDefaults.storageHealthWindowMs,
  minCallsForRates: configDefaults.storageHealthMinCalls,
  degradedErrorRate: configDefaults.storageHealthDegradedErrorRate,
  // skafos.storage.health.degraded.p99.ms has no default of its own: each store's is here (S3's; the local store's below).
  degradedP99Ms: 2000,
  unavailableErrorRate: configDefaults.storageHealthUnavailableErrorRate,
  unavailableConsecutiveFailures: configDefaults.storageHealthUnavailableConsecutiveFailures,
  unavailableStallMs: configDefaults.storageHealthUnavailableStallMs,
  recoveryHoldMs: configDefaults.storageHealthRecoveryHoldMs,
};

/**
 * Thresholds for the local (disk) store: a disk answers a write and fsync in milliseconds where S3 takes tens
 * to hundreds, so a p99 of 1000 ms (the p99 is the upper bound of its histogram bucket: calls slower than
 * 500 ms) is a disk in trouble, while the rare large compaction write on a slow disk stays below it. Errors,
 * stalls and recovery are judged as for S3.
 */
export const localStoreHealthThresholds: Partial<HealthThresholds> = { degradedP99Ms: 1000 };

/** Cumulative milliseconds the event loop has been stalled, for subtracting from call latencies. */
export interface LoopStallClock {
  stalledMs(): number;
}

/**
 * Measures event-loop stalls with a timer every `intervalMs`: a tick later than its interval plus `intervalMs`
 * of slack (timer jitter) means the loop could not run for that long. The stall still going on (no tick yet)
 * is counted up to now, so a call that ends right after a stall has it subtracted.
 */
export class EventLoopStallMeter implements LoopStallClock {
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastTickMs = performance.now();
  private accumulatedMs = 0;

  constructor(intervalMs = 20) {
    assert.ok(intervalMs >= 1);
    this.intervalMs = intervalMs;
  }

  start(): this {
    if (this.timer) return this;
    this.lastTickMs = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.accumulatedMs += this.lateMs(now);
      this.lastTickMs = now;
    }, this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private lateMs(now: number): number {
    return this.timer === null ? 0 : Math.max(0, now - this.lastTickMs - 2 * this.intervalMs);
  }

  stalledMs(): number {
    return this.accumulatedMs + this.lateMs(performance.now());
  }
}

const noStalls: LoopStallClock = { stalledMs: () => 0 };

/** Latency histogram bucket upper bounds (ms) for the window's p99. */
const latencyBoundsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 30000, Infinity];

interface Bucket {
  startMs: number;
  calls: number;
  failures: number;
  latency: number[];
}

export interface HealthTransition {
  atMs: number;
  from: HealthState;
  to: HealthState;
  reason: string;
}

export class ObjectStoreHealth {
  readonly thresholds: HealthThresholds;
  private readonly clock: () => number;
  private readonly buckets: Bucket[] = [];
  private consecutiveFailures = 0;
  private consecutiveSuccesses = 0;
  /** Call id → [start time, loop stall clock at the start]. */
  private readonly inFlight = new Map<number, [number, number]>();
  private nextCallId = 1;
  private current: HealthState = 'healthy';
  private reason = 'no calls yet';
  private lastBadSignalMs = -Infinity;
  private lastUnavailableSignalMs = -Infinity;
  readonly transitions: HealthTransition[] = [];
  private readonly listeners = new Set<(t: HealthTransition) => void>();

  private readonly stalls: LoopStallClock;

  /** `stalls`: event-loop stall time to leave out of call latencies (none by default, as with a fake clock). */
  constructor(thresholds: Partial<HealthThresholds> = {}, clock: () => number = Date.now, stalls: LoopStallClock = noStalls) {
    this.thresholds = { ...defaultHealthThresholds, ...thresholds };
    const t = this.thresholds;
    assert.ok(t.windowMs >= healthBucketMs && t.degradedErrorRate <= t.unavailableErrorRate && t.recoveryHoldMs >= 0);
    this.clock = clock;
    this.stalls = stalls;
  }

  /** Marks the start of a call; pass the id to `end`. */
  begin(): number {
    const id = this.nextCallId++;
    this.inFlight.set(id, [this.clock(), this.stalls.stalledMs()]);
    return id;
  }

  /** How long a call started at `started` has taken the store: wall time less event-loop stalls since. */
  private storeMs(now: number, started: [number, number], stalledNowMs: number): number {
    return Math.max(0, now - started[0] - (stalledNowMs - started[1]));
  }

  end(id: number, outcome: CallOutcome): void {
    const started = this.inFlight.get(id);
    if (started === undefined) return;
    this.inFlight.delete(id);
    const now = this.clock();
    const b = this.bucket(now);
    b.calls++;
    const durationMs = this.storeMs(now, started, this.stalls.stalledMs());
    let i = 0;
    while (durationMs > latencyBoundsMs[i]!) i++;
    b.latency[i]!++;
    if (outcome === 'ok') {
      this.consecutiveFailures = 0;
      this.consecutiveSuccesses++;
      // The store has answered several calls in a row: the failures still in the window describe the past.
      // Forget them, or a quiet broker (producers failing fast) would wait for them to age out of the window.
      if (this.consecutiveSuccesses === healthRecoverySuccessesCount && this.current !== 'healthy') {
        for (const old of this.buckets) {
          old.calls -= old.failures;
          old.failures = 0;
        }
      }
    } else {
      b.failures++;
      this.consecutiveFailures++;
      this.consecutiveSuccesses = 0;
    }
    this.evaluate();
  }

  private bucket(now: number): Bucket {
    const start = now - (now % healthBucketMs);
    let last = this.buckets[this.buckets.length - 1];
    if (!last || last.startMs !== start) {
      last = { startMs: start, calls: 0, failures: 0, latency: latencyBoundsMs.map(() => 0) };
      this.buckets.push(last);
    }
    while (this.buckets.length > 0 && this.buckets[0]!.startMs <= now - this.thresholds.windowMs) this.buckets.shift();
    return last;
  }

  /** Calls, failures and p99 (ms, an upper bound from the histogram) over the window. */
  window(): { calls: number; failures: number; errorRate: number; p99Ms: number } {
    this.bucket(this.clock());
    let calls = 0;
    let failures = 0;
    const hist = latencyBoundsMs.map(() => 0);
    for (const b of this.buckets) {
      calls += b.calls;
      failures += b.failures;
      for (let i = 0; i < hist.length; i++) hist[i]! += b.latency[i]!;
    }
    let p99Ms = 0;
    if (calls > 0) {
      const rank = Math.ceil(calls * 0.99);
      let seen = 0;
      for (let i = 0; i < hist.length; i++) {
        seen += hist[i]!;
        if (seen >= rank) {
          p99Ms = latencyBoundsMs[i]!;
          break;
        }
      }
    }
    return { calls, failures, errorRate: calls === 0 ? 0 : failures / calls, p99Ms };
  }

  private oldestInFlightMs(now: number): number {
    let oldest = 0;
    const stalledNowMs = this.stalls.stalledMs();
    for (const started of this.inFlight.values()) oldest = Math.max(oldest, this.storeMs(now, started, stalledNowMs));
    return oldest;
  }

  /** Re-evaluates the state (also called periodically, so stalls are noticed without new calls). */
  evaluate(): HealthState {
    const t = this.thresholds;
    const now = this.clock();
    const w = this.window();
    const stalledMs = this.oldestInFlightMs(now);
    let signal: HealthState = 'healthy';
    let why = 'within thresholds';
    const rated = w.calls >= t.minCallsForRates;
    if (this.consecutiveFailures >= t.unavailableConsecutiveFailures) {
      signal = 'unavailable';
      why = `${this.consecutiveFailures} consecutive failed calls`;
    } else if (stalledMs >= t.unavailableStallMs) {
      signal = 'unavailable';
      why = `a call has been in flight for ${stalledMs} ms`;
    } else if (rated && w.errorRate >= t.unavailableErrorRate) {
      signal = 'unavailable';
      why = `error rate ${(w.errorRate * 100).toFixed(1)}% over ${w.calls} calls`;
    } else if (rated && w.errorRate >= t.degradedErrorRate) {
      signal = 'degraded';
      why = `error rate ${(w.errorRate * 100).toFixed(1)}% over ${w.calls} calls`;
    } else if (w.calls > 0 && w.p99Ms >= t.degradedP99Ms) {
      signal = 'degraded';
      why = `p99 latency ${w.p99Ms} ms`;
    }
    if (signal === 'unavailable') this.lastUnavailableSignalMs = now;
    if (signal !== 'healthy') this.lastBadSignalMs = now;
    // Worse states take effect at once; better ones only after the hold time without worse signals.
    let next: HealthState = signal;
    if (signal !== 'unavailable' && now - this.lastUnavailableSignalMs < t.recoveryHoldMs) next = 'unavailable';
    else if (signal === 'healthy' && now - this.lastBadSignalMs < t.recoveryHoldMs)
      next = this.current === 'healthy' ? 'healthy' : 'degraded';
    if (next !== this.current) {
      const transition: HealthTransition = { atMs: now, from: this.current, to: next, reason: why };
      this.transitions.push(transition);
      if (this.transitions.length > healthMaxTransitionsCount) this.transitions.shift();
      this.current = next;
      this.reason = why;
      for (const l of this.listeners) l(transition);
    } else if (signal === next) {
      this.reason = why;
    }
    return this.current;
  }

  get state(): HealthState {
    return this.current;
  }

  get stateReason(): string {
    return this.reason;
  }

  onTransition(listener: (t: HealthTransition) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
