// S3ObjectStore against a real S3 implementation: radosgw on a throwaway Ceph cluster (test/support/radosgw.ts)
// or the endpoint in SKAFOS_TEST_S3_ENDPOINT. The shared contract, then what is S3's own: multipart uploads,
// the concurrency bound, keep-alive, SSE-KMS, and retries and the retry budget against faults injected by
// test/support/s3-fault-proxy.ts.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { LocalObjectStore } from '../../../broker/storage/local-object-store.ts';
import {
  InvalidObjectKeyError,
  ObjectNotFoundError,
  ObjectStoreUnavailableError,
  PreconditionFailedError,
} from '../../../broker/storage/object-store.ts';
import { S3ObjectStore } from '../../../broker/storage/s3-object-store.ts';
import type { S3ObjectStoreOptions, S3Operation, S3RequestOutcome } from '../../../broker/storage/s3-object-store.ts';
import { createTestBucket, s3TestEndpoint } from '../../support/radosgw.ts';
import type { S3TestEndpoint } from '../../support/radosgw.ts';
import { faults, startFaultProxy } from '../../support/s3-fault-proxy.ts';
import type { FaultProxy } from '../../support/s3-fault-proxy.ts';
import { objectStoreContract, pattern } from './object-store-contract.ts';

const MiB = 1024 * 1024;
const s3: S3TestEndpoint = await s3TestEndpoint();
const { bucket, client: admin, cleanup: dropBucket } = await createTestBucket(s3, 's3-store');
t.teardown(dropBucket);

/** Options for a store on the test bucket, under a fresh key prefix. */
function storeOptions(over: Partial<S3ObjectStoreOptions> = {}): S3ObjectStoreOptions {
  return {
    bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    keyPrefix: `${randomBytes(4).toString('hex')}/`,
    ...over,
  };
}

/** A store for one test, closed (and its keys deleted) at its end. */
function fresh(t: Test, over: Partial<S3ObjectStoreOptions> = {}): S3ObjectStore {
  const store = new S3ObjectStore(storeOptions(over));
  t.teardown(() => store.close());
  return store;
}

/** Fast retries for fault tests. */
const quickRetry = { baseBackoffMs: 5, maxBackoffMs: 20 };

async function withProxy(t: Test): Promise<FaultProxy> {
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  return proxy;
}

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

objectStoreContract(t, 's3', async () => {
  const store = new S3ObjectStore(storeOptions());
  return {
    store,
    cleanup: async () => {
      // The contract closed `store`; remove what it left with a second one on the same prefix.
      const sweeper = new S3ObjectStore(storeOptions({ keyPrefix: store.keyPrefix }));
      for (let page = await sweeper.list(''); page.length > 0; page = await sweeper.list('')) await sweeper.delete(page.map((o) => o.key));
      await sweeper.close();
    },
  };
});

t.test("stats have the local store's shape, plus the S3 client's counters", async (t) => {
  const store = fresh(t);
  await store.put('a', Buffer.from('abc'));
  await store.get('a');
  await store.get('a', { start: 1, end: 2 });
  await store.head('a');
  await store.list('');
  await store.delete(['a', 'b']);
  await rejects(store.get('a'));
  const st = store.stats();
  const local = await LocalObjectStore.open(t.testdir({}));
  for (const key of Object.keys(local.stats())) t.ok(key in st, `has ${key}`);
  await local.close();
  t.same(st.requests, { put: 1, get: 3, head: 1, delete: 1, list: 1 });
  t.same(st.errors, { put: 0, get: 1, head: 0, delete: 0, list: 0 });
  t.equal(st.bytesWritten, 3);
  t.equal(st.bytesRead, 4);
  t.equal(st.keysDeleted, 2);
  t.equal(st.keysListed, 1);
  t.equal(st.httpRequests.GetObject, 3);
  t.equal(st.httpRequests.DeleteObjects, 1);
  t.equal(st.retries, 0);
  t.equal(st.inFlight, 0);
  t.equal(st.maxConcurrentOps, 64);
});

t.test('delete sends DeleteObjects in batches of 1000', async (t) => {
  const store = fresh(t);
  await store.put('del/first', Buffer.from('1'));
  await store.put('del/last', Buffer.from('2'));
  const keys = ['del/first', ...Array.from({ length: 2498 }, (_, i) => `del/missing-${i}`), 'del/last', 'del/first'];
  await store.delete(keys);
  t.equal(store.stats().httpRequests.DeleteObjects, 3, '2500 distinct keys: 3 requests');
  t.equal(await store.head('del/first'), null);
  t.equal(await store.head('del/last'), null);
});

t.test('keys are checked as on every store', async (t) => {
  const store = fresh(t);
  for (const key of ['', '/abs', 'a//b', 'a/./b', 'a/../b', 'nul\0', 'x'.repeat(1025), 'lone\uD800']) {
    t.ok((await rejects(store.put(key, Buffer.from('x')))) instanceof InvalidObjectKeyError, JSON.stringify(key.slice(0, 20)));
  }
  t.equal(store.stats().httpRequests.PutObject, 0, 'nothing sent');
});

t.test('multipart upload above the threshold: parts in parallel, readable as one object', async (t) => {
  const observed: Array<[S3Operation, S3RequestOutcome]> = [];
  const store = fresh(t, {
    multipartThresholdBytes: 6 * MiB,
    multipartPartBytes: 5 * MiB,
    onRequest: (op, _ms, outcome) => observed.push([op, outcome]),
  });
  // Pieces that do not line up with parts, so that some parts are copied from several buffers.
  const body = randomBytes(12 * MiB + 3);
  const pieces = [body.subarray(0, 1000), body.subarray(1000, 5 * MiB + 7), body.subarray(5 * MiB + 7, 11 * MiB), body.subarray(11 * MiB)];
  const info = await store.put('big/object', pieces);
  t.equal(info.sizeBytes, body.length);
  t.match(info.etag, /-3$/, 'a 3-part upload');
  const st = store.stats();
  t.equal(st.multipartUploads, 1);
  t.equal(st.httpRequests.CreateMultipartUpload, 1);
  t.equal(st.httpRequests.UploadPart, 3);
  t.equal(st.httpRequests.CompleteMultipartUpload, 1);
  t.equal(st.httpRequests.PutObject, 0);
  t.equal(st.peakInFlight, 3, 'the three parts were in flight together');
  // radosgw 16 answers CompleteMultipartUpload with an empty ETag, which a HeadObject then fetches.
  t.same(
    observed.map(([op]) => op).filter((op) => op !== 'HeadObject'),
    ['CreateMultipartUpload', 'UploadPart', 'UploadPart', 'UploadPart', 'CompleteMultipartUpload'],
  );
  t.ok(observed.every(([, outcome]) => outcome === 'ok'));
  t.ok((await store.get('big/object')).equals(body), 'round trip');
  t.ok(
    (await store.get('big/object', { start: 5 * MiB - 10, end: 5 * MiB + 10 })).equals(body.subarray(5 * MiB - 10, 5 * MiB + 10)),
    'range across a part boundary',
  );
  t.same(await store.head('big/object'), info);
  t.same(await store.list('big/'), [info]);

  // At the threshold: one PUT.
  await store.put('small', randomBytes(6 * MiB));
  t.equal(store.stats().httpRequests.PutObject, 1);
  t.equal(store.stats().multipartUploads, 1);
});

t.test('a conditional put above the threshold uses one PUT (If-None-Match is not honoured on every multipart completion)', async (t) => {
  const store = fresh(t, { multipartThresholdBytes: 5 * MiB, multipartPartBytes: 5 * MiB });
  const body = randomBytes(11 * MiB);
  await store.put('cond', body, { ifNoneMatch: true });
  t.ok((await rejects(store.put('cond', body, { ifNoneMatch: true }))) instanceof PreconditionFailedError);
  t.equal(store.stats().multipartUploads, 0);
  t.ok((await store.get('cond')).equals(body));
});

t.test('a failed multipart upload is aborted', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, {
    endpoint: proxy.endpoint,
    multipartThresholdBytes: 5 * MiB,
    multipartPartBytes: 5 * MiB,
    retry: { ...quickRetry, maxAttempts: 3 },
  });
  const rule = proxy.inject(faults.internalError(), { method: 'PUT', query: /partNumber=2(&|$)/ });
  const err = await rejects(store.put('mp/fails', randomBytes(11 * MiB)));
  t.ok(err instanceof ObjectStoreUnavailableError, 'unavailable after the retries', { got: err });
  t.equal(rule.hits, 3, 'part 2 tried 3 times');
  t.equal(store.stats().multipartAborts, 1);
  t.equal(store.stats().httpRequests.AbortMultipartUpload, 1);
  t.equal(await store.head('mp/fails'), null, 'no object');
  const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: store.keyPrefix }));
  t.same(uploads.Uploads ?? [], [], 'no upload left behind');
});

t.test('at most maxConcurrentRequests requests in flight; the rest queue', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint, maxConcurrentRequests: 3 });
  const slow = proxy.inject(faults.delay(300));
  const keys = Array.from({ length: 12 }, (_, i) => `c/${i}`);
  const puts = Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
  const during = store.stats();
  t.equal(during.inFlight, 3, 'three in flight');
  t.equal(during.queued, 9, 'nine queued');
  await puts;
  t.equal(store.stats().peakInFlight, 3);
  t.equal(proxy.stats().peakInFlight, 3, 'the store never had more than three on the wire');
  t.ok(proxy.stats().connections <= 3, 'no more connections than the bound');
  slow.remove();
  proxy.inject(faults.delay(20));
  const gets = await Promise.all(keys.map((k) => store.get(k)));
  t.same(
    gets.map((b) => b.toString()),
    keys,
  );
  t.equal(proxy.stats().peakInFlight, 3);
  t.equal(store.stats().queued, 0);
});

t.test('connections are kept alive and reused', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint });
  for (let i = 0; i < 30; i++) {
    await store.put(`ka/${i}`, Buffer.from(String(i)));
    await store.get(`ka/${i}`);
    await store.head(`ka/${i}`);
  }
  t.equal(proxy.stats().requests, 90);
  t.equal(proxy.stats().connections, 1, 'one connection for 90 sequential requests');
  t.equal(store.stats().connectionsOpened, 1);
});

t.test('throttling (503 SlowDown, 429) is retried with backoff', async (t) => {
  const proxy = await withProxy(t);
  const seen: Array<[S3Operation, S3RequestOutcome, number | undefined]> = [];
  const store = fresh(t, {
    endpoint: proxy.endpoint,
    retry: quickRetry,
    onRequest: (op, _ms, outcome, info) => seen.push([op, outcome, info.status]),
  });
  const slow = proxy.inject(faults.slowDown(), { method: 'PUT', key: /throttled$/ }, { times: 3 });
  const info = await store.put('throttled', Buffer.from('through'));
  t.equal(slow.hits, 3);
  t.equal(info.sizeBytes, 7);
  t.same(seen, [
    ['PutObject', 'throttled', 503],
    ['PutObject', 'throttled', 503],
    ['PutObject', 'throttled', 503],
    ['PutObject', 'ok', undefined],
  ]);
  proxy.inject(faults.tooManyRequests(), { method: 'GET' }, { times: 2 });
  t.equal((await store.get('throttled')).toString(), 'through');
  const st = store.stats();
  t.equal(st.retries, 5);
  t.equal(st.throttles, 5);
  t.equal(st.errors.put + st.errors.get, 0, 'the calls succeeded');
});

t.test('5xx, 409 ConditionalRequestConflict, resets, cut bodies and stalls are retried', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint, retry: quickRetry, requestTimeoutMs: 300 });
  await store.put('r/k', pattern('r', 100_000));

  proxy.inject(faults.internalError(), { method: 'GET' }, { times: 1 });
  proxy.inject(faults.reset(), { method: 'GET' }, { times: 1 });
  proxy.inject(faults.truncate(1000), { method: 'GET' }, { times: 1 });
  t.ok((await store.get('r/k')).equals(pattern('r', 100_000)), 'get after a 500, a reset and a cut body');
  t.equal(store.stats().retries, 3);

  proxy.inject(faults.conditionalConflict(), { method: 'PUT' }, { times: 2 });
  await store.put('r/cond', Buffer.from('x'), { ifNoneMatch: true });
  t.equal(store.stats().retries, 5);

  const started = Date.now();
  proxy.inject(faults.stall(), { method: 'HEAD' }, { times: 1 });
  t.equal((await store.head('r/k'))?.sizeBytes, 100_000, 'head after a stalled attempt');
  const elapsed = Date.now() - started;
  t.ok(elapsed >= 250 && elapsed < 3000, `the stalled attempt timed out after ~300 ms (${elapsed} ms)`);
  t.equal(store.stats().retries, 6);
});

t.test('added latency is seen by the observer', async (t) => {
  const proxy = await withProxy(t);
  const durations: number[] = [];
  const store = fresh(t, { endpoint: proxy.endpoint, onRequest: (_op, ms) => durations.push(ms) });
  proxy.inject(faults.delay(200), { method: 'HEAD' });
  await store.head('nothing');
  t.equal(durations.length, 1);
  t.ok(durations[0]! >= 190, `${durations[0]} ms`);
});

t.test('404 is not retried: ObjectNotFoundError, head null', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint, retry: quickRetry });
  await store.put('nf/present', Buffer.from('here'));
  proxy.inject(faults.notFound(), { key: /\/hidden-/ });
  await store.put('nf/hidden-1', Buffer.from('x')).catch(() => {}); // the PUT is answered 404 too: a client error
  t.ok((await rejects(store.get('nf/hidden-2'))) instanceof ObjectNotFoundError);
  t.equal(await store.head('nf/hidden-2'), null);
  t.equal((await store.get('nf/present')).toString(), 'here');
  t.equal(store.stats().retries, 0);
});

t.test('other 4xx are not retried', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint, retry: quickRetry });
  proxy.inject(faults.accessDenied());
  const err = await rejects(store.get('denied'));
  t.notOk(err instanceof ObjectStoreUnavailableError);
  t.match((err as Error).message, /403 AccessDenied/);
  t.equal(proxy.stats().requests, 1);
});

t.test('a conditional put whose answer was lost is recognised as done on retry', async (t) => {
  const proxy = await withProxy(t);
  const store = fresh(t, { endpoint: proxy.endpoint, retry: quickRetry });
  const lost = proxy.inject(faults.resetAfterForward(), { method: 'PUT' }, { times: 1 });
  const info = await store.put('once', Buffer.from('mine'), { ifNoneMatch: true });
  t.equal(lost.hits, 1, 'the first attempt reached the store, its answer did not reach us');
  t.equal(info.sizeBytes, 4);
  t.same(await store.head('once'), info);
  // Somebody else's object under the key is still a conflict after a lost answer. (Identical bytes could not be
  // told apart from our own earlier attempt: writers of conditional puts put their identity in the body.)
  proxy.inject(faults.resetAfterForward(), { method: 'PUT' }, { times: 1 });
  t.ok((await rejects(store.put('once', Buffer.from('theirs'), { ifNoneMatch: true }))) instanceof PreconditionFailedError);
  t.equal((await store.get('once')).toString(), 'mine');
});

t.test('the retry budget: a store failing everything is not retried forever', async (t) => {
  const proxy = await withProxy(t);
  // 20 tokens, 5 per retry: four retries, then none until successes refill it.
  const store = fresh(t, {
    endpoint: proxy.endpoint,
    retry: { ...quickRetry, maxAttempts: 10, budgetTokens: 20, retryCost: 5, successRefill: 1 },
  });
  await store.put('b/k', Buffer.from('v'));
  const down = proxy.inject(faults.slowDown());
  const first = await rejects(store.get('b/k'));
  t.ok(first instanceof ObjectStoreUnavailableError);
  t.match((first as Error).message, /retry budget is exhausted/);
  t.match((first as Error).message, /throttled/);
  t.equal(down.hits, 5, 'one attempt and four retries');
  for (let i = 0; i < 5; i++) t.ok((await rejects(store.get('b/k'))) instanceof ObjectStoreUnavailableError);
  t.equal(down.hits, 10, 'then one attempt per call');
  t.equal(store.stats().retryBudgetTokens, 0);
  down.remove();
  for (let i = 0; i < 5; i++) await store.head('b/k');
  t.equal(store.stats().retryBudgetTokens, 5, 'successes refill it');
  proxy.inject(faults.slowDown(), undefined, { times: 1 });
  t.equal((await store.get('b/k')).toString(), 'v', 'one retry affordable again');
  t.equal(store.stats().retryBudgetTokens, 1);
});

t.test('when the store is down, calls fail fast with ObjectStoreUnavailableError', async (t) => {
  // Port 1 (tcpmux): nothing listens there, and unlike a port just freed, no parallel test can take it meanwhile.
  const refused = await new Promise<boolean>((resolve) => {
    const probe = connect(1, '127.0.0.1');
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
  if (!refused) throw new Error('something listens on 127.0.0.1:1');
  const store = fresh(t, { endpoint: 'http://127.0.0.1:1', retry: { maxAttempts: 4, baseBackoffMs: 20, maxBackoffMs: 100 } });
  let started = Date.now();
  const err = await rejects(store.put('k', Buffer.from('v')));
  t.ok(err instanceof ObjectStoreUnavailableError, 'refused connections', { got: err });
  t.match((err as Error).message, /after 4 attempts/);
  t.ok(Date.now() - started < 2000, `in ${Date.now() - started} ms`);
  for (const op of [() => store.get('k'), () => store.head('k'), () => store.list(''), () => store.delete(['k'])]) {
    t.ok((await rejects(op())) instanceof ObjectStoreUnavailableError);
  }

  // A store that resets every connection.
  const proxy = await withProxy(t);
  const resets = proxy.inject(faults.reset(), undefined, { times: 3 });
  const reset = fresh(t, { endpoint: proxy.endpoint, retry: { maxAttempts: 3, baseBackoffMs: 10, maxBackoffMs: 20 } });
  t.ok((await rejects(reset.head('k'))) instanceof ObjectStoreUnavailableError, 'reset connections');
  t.equal(resets.hits, 3);

  // A store that accepts connections and never answers: bounded by the request timeout.
  proxy.inject(faults.stall());
  const stalled = fresh(t, {
    endpoint: proxy.endpoint,
    requestTimeoutMs: 200,
    retry: { maxAttempts: 3, baseBackoffMs: 10, maxBackoffMs: 20 },
  });
  started = Date.now();
  const err2 = await rejects(stalled.get('k'));
  const ms = Date.now() - started;
  t.ok(err2 instanceof ObjectStoreUnavailableError, 'stalled', { got: err2 });
  t.ok(ms < 2000, `3 stalled attempts in ${ms} ms`);
});

t.test(
  'SSE-KMS: objects are written encrypted under the key',
  { skip: s3.kmsKeyId === null ? 'no test KMS key for this endpoint' : false },
  async (t) => {
    const store = fresh(t, { sseKmsKeyId: s3.kmsKeyId! });
    const body = pattern('kms', 50_000);
    await store.put('enc/one', body);
    t.ok((await store.get('enc/one')).equals(body));
    t.ok((await store.get('enc/one', { start: 100, end: 200 })).equals(body.subarray(100, 200)));
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `${store.keyPrefix}enc/one` }));
    t.equal(head.ServerSideEncryption, 'aws:kms');
    t.equal(head.SSEKMSKeyId, s3.kmsKeyId);
  },
);
