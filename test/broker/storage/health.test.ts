import t from 'tap';
import { ObjectStoreHealth } from '../../../broker/storage/health.ts';

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
