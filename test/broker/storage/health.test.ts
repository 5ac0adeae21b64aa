import { performance } from 'node:perf_hooks';
import t from 'tap';
import { EventLoopStallMeter, ObjectStoreHealth } from '../../../broker/storage/health.ts';
import type { ObjectStore } from '../../../broker/storage/object-store.ts';
import { ObservedObjectStore } from '../../../broker/storage/observed-object-store.ts';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

t.test('healthy calls stay healthy', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({}, c.now);
  for (let i = 0; i < 100; i++) {
    const id = h.begin();
    c.advance(20);
    h.end(id, 'ok');
  }
  t.equal(h.state, 'healthy');
  t.equal(h.window().calls, 100);
  t.ok(h.window().p99Ms <= 25);
});

t.test('error rate degrades, then makes unavailable; recovery waits for the hold time', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({ minCallsForRates: 10, recoveryHoldMs: 5000, unavailableConsecutiveFailures: 1000 }, c.now);
  const call = (outcome: 'ok' | 'error' | 'throttled') => {
    const id = h.begin();
    c.advance(10);
    h.end(id, outcome);
  };
  for (let i = 0; i < 18; i++) call('ok');
  call('throttled');
  call('error');
  t.equal(h.state, 'degraded', '10% errors');
  for (let i = 0; i < 30; i++) call('error');
  t.equal(h.state, 'unavailable', 'most calls fail');
  c.advance(31000); // the window forgets, and the bad signals are older than the hold time
  call('ok');
  t.equal(h.state, 'healthy');
  t.same(
    h.transitions.map((x) => x.to),
    ['degraded', 'unavailable', 'healthy'],
  );
});

t.test('recovery waits for the hold time without bad signals', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({ minCallsForRates: 1000, unavailableConsecutiveFailures: 3, recoveryHoldMs: 5000 }, c.now);
  for (let i = 0; i < 3; i++) h.end(h.begin(), 'error');
  t.equal(h.state, 'unavailable');
  c.advance(1000);
  h.end(h.begin(), 'ok');
  t.equal(h.state, 'unavailable', 'one good call is not enough');
  c.advance(5000);
  h.end(h.begin(), 'ok');
  t.equal(h.state, 'healthy');
});

t.test('consecutive failures and stalls make it unavailable without enough calls for rates', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({ unavailableConsecutiveFailures: 3, unavailableStallMs: 10000 }, c.now);
  for (let i = 0; i < 3; i++) h.end(h.begin(), 'error');
  t.equal(h.state, 'unavailable');
  const h2 = new ObjectStoreHealth({ unavailableStallMs: 10000 }, c.now);
  h2.begin();
  c.advance(11000);
  t.equal(h2.evaluate(), 'unavailable', 'a stalled call');
  t.match(h2.stateReason, /in flight/);
});

t.test('slow calls degrade', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({ degradedP99Ms: 2000 }, c.now);
  for (let i = 0; i < 50; i++) {
    const id = h.begin();
    c.advance(i % 10 === 0 ? 3000 : 30);
    h.end(id, 'ok');
  }
  t.equal(h.state, 'degraded');
});

t.test('a run of successes forgets earlier failures, so a quiet store recovers without waiting for the window', async (t) => {
  const c = clock();
  const h = new ObjectStoreHealth({ minCallsForRates: 10, recoveryHoldMs: 1000, unavailableConsecutiveFailures: 1000 }, c.now);
  for (let i = 0; i < 20; i++) h.end(h.begin(), 'error');
  t.equal(h.state, 'unavailable');
  c.advance(2000);
  for (let i = 0; i < 5; i++) h.end(h.begin(), 'ok');
  t.equal(h.window().failures, 0, 'failures forgotten after 5 successes in a row');
  c.advance(1000);
  h.end(h.begin(), 'ok');
  t.equal(h.state, 'healthy', 'well before the 30 s window would have forgotten them');
});

// Real clock and real event loop: a call's latency is the store's, not the loop's.
function busyLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a synchronous task (or a CPU-starved process) keeps the loop from noticing answers
  }
}

/**
 * A store that answers as soon as the event loop is free (setImmediate): what a fast disk does, without the
 * disk's own latency, which on a machine busy with other work can exceed the thresholds by itself.
 */
function promptStore(): ObjectStore {
  const soon = <T>(v: T) => new Promise<T>((resolve) => setImmediate(() => resolve(v)));
  return {
    put: () => soon(undefined),
    get: () => soon(Buffer.from('x')),
    head: () => soon(null),
    delete: () => soon(undefined),
    list: () => soon([]),
    close: () => Promise.resolve(),
  } as unknown as ObjectStore;
}

/** A store whose get answers after `delayMs` of real time, the loop being free meanwhile. */
function slowStore(delayMs: number): ObjectStore {
  return {
    put: () => Promise.reject(new Error('not used')),
    get: () => new Promise((resolve) => setTimeout(() => resolve(Buffer.from('x')), delayMs)),
    head: () => Promise.resolve(null),
    delete: () => Promise.resolve(),
    list: () => Promise.resolve([]),
    close: () => Promise.resolve(),
  };
}

t.test('an event-loop stall does not count as store latency; a slow store still does', async (t) => {
  const meter = new EventLoopStallMeter(10).start();
  t.teardown(() => meter.stop());
  const local = promptStore();
  const thresholds = { degradedP99Ms: 250, recoveryHoldMs: 0 };

  // Store calls started, then the loop blocked for 600 ms before it could see their answers.
  const h = new ObjectStoreHealth(thresholds, Date.now, meter);
  const store = new ObservedObjectStore(local, h);
  const calls = [store.put('a/1', Buffer.from('one')), store.put('a/2', Buffer.from('two')), store.list('a/')];
  busyLoop(600);
  await Promise.all(calls);
  t.ok(h.window().p99Ms < 250, `p99 ${h.window().p99Ms} ms: the stall is not the store's`);
  t.equal(h.state, 'healthy');
  // A stall while a call is in flight does not make the call look stalled either.
  const stallWatch = new ObjectStoreHealth({ ...thresholds, unavailableStallMs: 300 }, Date.now, meter);
  const inFlight = new ObservedObjectStore(local, stallWatch).get('a/1');
  busyLoop(400);
  t.equal(stallWatch.evaluate(), 'healthy', 'evaluated before the answer is seen');
  await inFlight;
  t.equal(stallWatch.state, 'healthy');

  // The same stall without the meter is counted (what the broker did before).
  const unmetered = new ObjectStoreHealth(thresholds);
  const plain = new ObservedObjectStore(local, unmetered);
  const call = plain.get('a/2');
  busyLoop(600);
  await call;
  t.equal(unmetered.state, 'degraded', 'a wall-clock measure blames the store');

  // A store that is slow while the loop is free is degraded.
  const slow = new ObservedObjectStore(slowStore(600), h);
  await Promise.all([slow.get('k'), slow.get('k')]);
  t.ok(h.window().p99Ms >= 250, `p99 ${h.window().p99Ms} ms`);
  t.equal(h.state, 'degraded');
});
