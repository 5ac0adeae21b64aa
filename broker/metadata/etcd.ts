// The metadata store on etcd (v3 API, through the etcd3 package's gRPC clients). The contract (store.ts) is
// etcd's own model, so most operations are one etcd request:
//
//   get / getPrefix   one Range (linearizable), the prefix as [start, prefix end) in bytes, sorted by key
//   txn               one Txn: compares on mod/create revision, version or value; put / delete / delete-range ops
//   revision          one count-only Range of a single key; its header revision
//   grantLease        one LeaseGrant (TTL in whole seconds, see below); keepAlive one LeaseKeepAlive exchange on a
//                     short-lived stream; revoke one LeaseRevoke
//   watchPrefix       one watch on the store's single, shared Watch stream
//
// Keys. Every key lives under `prefix` (skafos.etcd.prefix, default /skafos): the etcd key is prefix + key, so
// /topics/a is /skafos/topics/a. Callers never see the prefix. Clusters sharing an etcd must use prefixes that do
// not nest (/skafos/prod and /skafos/staging, not /skafos and /skafos/prod).
//
// Leases. etcd counts TTLs in whole seconds and its leader checks expiry every 500 ms, so a lease's TTL is the
// requested one rounded UP to whole seconds, and at least minLeaseTtlMs (default 2 s, also etcd's own minimum
// with its default election timeout). Lease.ttlMs reports the TTL granted. Lease ids are chosen by this client
// (etcd's own are 63-bit, beyond a JavaScript number): time-based, increasing, below 2^53; a clash with an
// existing lease is retried with another id.
//
// Outages. Every request has a deadline (requestTimeoutMs). Within it, a request that certainly did not reach
// etcd (no connection, no leader) is retried, on another endpoint when there are several; reads, keep-alives and
// revokes are retried after any transient failure. When the deadline passes the operation rejects with
// MetadataUnavailableError (cause: the last etcd/gRPC error): it never hangs. The etcd3 package's own retry and
// circuit-breaker policies are replaced by pass-through ones, so its retries cannot stretch an outage and its
// breaker cannot hold back requests after etcd is back. gRPC reconnects with a backoff capped at 1 s. As with any
// remote store, a txn that failed with MetadataUnavailableError may still have been applied: callers retry with
// the same compares and read back when the retry does not succeed. Expired auth tokens (etcd forgets them when it
// restarts) are renewed, for streams too.
//
// Watches. All watches of a store share one Watch stream. Each remembers the revision after the last event it
// delivered; when the stream breaks (etcd restart, network), it is re-opened with a capped backoff and every
// watch is re-created from that revision, so events are neither lost nor repeated. Events reach the callback
// asynchronously, one call per revision, in revision order. If etcd compacted the revisions a watch needs (on
// creation, or on resumption after a long outage), the watch ends with CompactedRevisionError: watchPrefix's
// signature is synchronous, so the error goes to the optional fourth argument, onError, after the events before
// it; the caller re-reads and watches again. Without onError it is thrown as an uncaught exception, so that a
// watch can never stop silently. Other terminal watch failures (etcd cancelled the watch, e.g. permission
// denied) go the same way as MetadataUnavailableError.
//
// The watch stream is etcd-watch.ts (EtcdWatchStream); this module keeps the requests, leases and key mapping.

import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  GRPCInvalidArgumentError,
  GRPCOutOfRangeError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
  castGrpcError,
  isRecoverableError,
} from 'etcd3';
import type { ICompare, IKeyValue, IOptions, IRequestOp, IResponseHeader } from 'etcd3';
import type { BrokerConfig } from '../config.ts';
import { configDefaults } from '../config.ts';
import { defaultMetadataLimits } from './limits.ts';
import type { MetadataLimits } from './limits.ts';
import { InvalidMetadataRequestError, MetadataStoreClosedError } from './errors.ts';
import { checkKey, checkLeaseTtl, checkLimit, checkPrefix, checkTxn, checkWatch } from './request-validate.ts';
import type { RequestLimits } from './request-validate.ts';
import { EtcdWatchStream } from './etcd-watch.ts';
import type { WatchErrorHandler } from './etcd-watch.ts';
import { LeaseLostError, MetadataUnavailableError } from './store.ts';
import type { Compare, KeyValue, Lease, MetadataStore, Op, TxnResult, Watch, WatchEvent } from './store.ts';
import {
  etcdKeepaliveMs,
  etcdMinLeaseTtlMs,
  etcdReconnectBackoffMaxMs,
  etcdReconnectBackoffMinMs,
  etcdRetryBackoffMaxMs,
  etcdRetryBackoffMinMs,
} from '../limits.ts';

export const etcdStoreDefaults = Object.freeze({
  prefix: configDefaults.etcdPrefix,
  dialTimeoutMs: configDefaults.etcdDialTimeoutMs,
  requestTimeoutMs: configDefaults.etcdRequestTimeoutMs,
  minLeaseTtlMs: etcdMinLeaseTtlMs,
});

export interface EtcdMetadataStoreOptions {
  /** Client URLs, http:// or https:// (all the same scheme), e.g. http://127.0.0.1:2379. */
  endpoints: readonly string[];
  /** Prefix of every etcd key; '' is the whole key space. Default /skafos. */
  prefix?: string;
  /** How long open() tries to reach etcd before it gives up. Default 5000. */
  dialTimeoutMs?: number;
  /** Deadline of every operation, retries included. Default 5000. */
  requestTimeoutMs?: number;
  /** Shortest lease granted (rounded up to whole seconds). Default 2000. */
  minLeaseTtlMs?: number;
  auth?: { username: string; password: string };
  /** TLS material for https:// endpoints (PEM). Without ca the system's roots are used. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Client-side request limits (the engine's; defaults are etcd's: 128 operations, 1.5 MiB per txn). */
  limits?: Partial<MetadataLimits>;
}

/** The store options from the broker configuration (reads the TLS files). */
export function etcdStoreOptions(config: BrokerConfig): EtcdMetadataStoreOptions {
  const read = (path: string | null) => (path === null ? undefined : readFileSync(path));
  const tls = { ca: read(config.etcdTlsCaFile), cert: read(config.etcdTlsCertFile), key: read(config.etcdTlsKeyFile) };
  return {
    endpoints: config.etcdEndpoints,
    prefix: config.etcdPrefix,
    dialTimeoutMs: config.etcdDialTimeoutMs,
    requestTimeoutMs: config.etcdRequestTimeoutMs,
    ...(config.etcdUsername === null || config.etcdPasswordFile === null
      ? {}
      : { auth: { username: config.etcdUsername, password: readFileSync(config.etcdPasswordFile, 'utf8').split(/\r?\n/)[0]! } }),
    ...(tls.ca === undefined && tls.cert === undefined && tls.key === undefined ? {} : { tls }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Keys: text outside, bytes in etcd. UTF-8 byte order is code point order, the order the contract promises.

const nulKey = Buffer.from([0]);

/** etcd's range end of a prefix: the least key above every key starting with it ('\0' = no end). */
function prefixRangeEnd(start: Buffer): Buffer {
  for (let i = start.length - 1; i >= 0; i--) {
    if (start[i]! < 0xff) {
      const end = Buffer.from(start.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  return nulKey;
}

const compareTargets = { modRevision: CompareTarget.Mod, createRevision: CompareTarget.Create, version: CompareTarget.Version } as const;
const compareResults = {
  '=': CompareResult.Equal,
  '!=': CompareResult.NotEqual,
  '<': CompareResult.Less,
  '>': CompareResult.Greater,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Errors.

/** Whether etcd certainly did not receive the request, so that even a write may be sent again. */
function unsent(err: unknown): boolean {
  return err instanceof GRPCUnavailableError && /No connection established|etcdserver: no leader/i.test(err.message);
}

/** A failure that may pass: the connection, a deadline, a leader election. */
function transient(err: unknown): boolean {
  return err instanceof Error && !(err instanceof GRPCResourceExhastedError) && isRecoverableError(err);
}

/** etcd's refusals of the request itself, as the contract's typed errors; null for anything else. */
function requestError(err: unknown): Error | null {
  if (err instanceof GRPCInvalidArgumentError || (err instanceof GRPCOutOfRangeError && /lease TTL/i.test(err.message))) {
    return new InvalidMetadataRequestError(`etcd refused the request: ${err.message}`);
  }
  return null;
}

function describe(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*Resolution note:\s*$/, '');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Last lease id handed out in this process: ids increase across stores too. */
let lastLeaseId = 0;

/** An id for a new lease: milliseconds since the epoch times 1024 plus noise (below 2^53 until the year 2248). */
function newLeaseId(): number {
  lastLeaseId = Math.max(lastLeaseId + 1, Date.now() * 1024 + randomInt(1024));
  return lastLeaseId;
}

// etcd3's fault handling, disabled: no hidden retries, no circuit breaker (this module retries within deadlines).
type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
const passThrough = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) => fn({ signal: new AbortController().signal }),
} as unknown as Policy;

// ---------------------------------------------------------------------------------------------------------------
// The store.

export class EtcdMetadataStore implements MetadataStore {
  /** The etcd key prefix of this store. */
  readonly prefix: string;
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  readonly dialTimeoutMs: number;
  readonly minLeaseTtlMs: number;
  readonly limits: Readonly<RequestLimits>;
  readonly #client: Etcd3;
  readonly #ns: Buffer;
  #closed = false;
  /** Highest store revision seen in any response: "now" for a watch from revision 0. */
  #revisionSeen = 0;

  readonly #watchStream: EtcdWatchStream;

  private constructor(options: EtcdMetadataStoreOptions) {
    const endpoints = [...options.endpoints];
    if (endpoints.length === 0) throw new RangeError('etcd store: no endpoints');
    this.endpoints = Object.freeze(endpoints);
    this.prefix = options.prefix ?? etcdStoreDefaults.prefix;
    if (typeof this.prefix !== 'string' || !this.prefix.isWellFormed())
      throw new RangeError('etcd store: prefix must be a well-formed string');
    this.dialTimeoutMs = positive('dialTimeoutMs', options.dialTimeoutMs ?? etcdStoreDefaults.dialTimeoutMs);
    this.requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? etcdStoreDefaults.requestTimeoutMs);
    this.minLeaseTtlMs = positive('minLeaseTtlMs', options.minLeaseTtlMs ?? etcdStoreDefaults.minLeaseTtlMs);
    const { maxKeyBytes, maxValueBytes, maxTxnOps, maxTxnBytes, minLeaseTtlMs, maxLeaseTtlMs } = {
      ...defaultMetadataLimits,
      ...options.limits,
    };
    this.limits = Object.freeze({ maxKeyBytes, maxValueBytes, maxTxnOps, maxTxnBytes, minLeaseTtlMs, maxLeaseTtlMs });
    for (const [name, value] of Object.entries(this.limits)) positive(`limits.${name}`, value);
    this.#ns = Buffer.from(this.prefix, 'utf8');
    const { tls, auth } = options;
    this.#client = new Etcd3({
      hosts: endpoints,
      ...(auth === undefined
        ? {}
        : {
            auth: {
              username: auth.username,
              password: auth.password,
              callOptions: () => ({ deadline: Date.now() + this.requestTimeoutMs }),
            },
          }),
      ...(tls === undefined
        ? {}
        : {
            credentials: {
              rootCertificate: (tls.ca ?? null) as Buffer,
              ...(tls.key === undefined ? {} : { privateKey: tls.key }),
              ...(tls.cert === undefined ? {} : { certChain: tls.cert }),
            },
          }),
      faultHandling: { host: () => passThrough, global: passThrough },
      grpcOptions: {
        // Reconnect promptly once etcd is back (gRPC's default backoff grows to 2 minutes).
        'grpc.initial_reconnect_backoff_ms': etcdReconnectBackoffMinMs,
        'grpc.max_reconnect_backoff_ms': etcdReconnectBackoffMaxMs,
        // Each channel connects on its own, so a fresh client does not inherit a failed connection's backoff.
        'grpc.use_local_subchannel_pool': 1,
        // Notice a dead connection under a long-lived watch stream (etcd refuses pings more often than every 5 s).
        'grpc.keepalive_time_ms': etcdKeepaliveMs,
        'grpc.keepalive_timeout_ms': Math.min(this.requestTimeoutMs, etcdKeepaliveMs),
        // Large prefix scans (the WAL index) may exceed gRPC's default 4 MiB.
        'grpc.max_receive_message_length': -1,
      },
    });
    this.#watchStream = new EtcdWatchStream(this.#client, {
      closed: () => this.#closed,
      seen: (header) => this.#seen(header),
      keyValue: (kv) => this.#keyValue(kv),
      userKey: (key) => this.#userKey(key),
      renewToken: () => this.#renewToken(Date.now() + this.requestTimeoutMs),
    });
  }

  /** Connects (within dialTimeoutMs) and returns the store; rejects with MetadataUnavailableError if etcd is unreachable. */
  static async open(options: EtcdMetadataStoreOptions): Promise<EtcdMetadataStore> {
    const store = new EtcdMetadataStore(options);
    try {
      await store.#call('connect', 'always', (deadline) => store.#revisionAt(deadline), store.dialTimeoutMs);
    } catch (err) {
      await store.close();
      throw new MetadataUnavailableError(
        `cannot reach etcd at ${store.endpoints.join(',')} within ${store.dialTimeoutMs} ms: ${describe(err)}`,
        { cause: err },
      );
    }
    return store;
  }

  async get(key: string): Promise<KeyValue | null> {
    this.#enter();
    checkKey(this.limits, key, 'key');
    const res = await this.#call('get', 'always', (deadline) => this.#client.kv.range({ key: this.#full(key) }, { deadline }));
    this.#seen(res.header);
    return res.kvs.length === 0 ? null : this.#keyValue(res.kvs[0]!);
  }

  async getPrefix(prefix: string, limit = 0): Promise<KeyValue[]> {
    this.#enter();
    checkPrefix(this.limits, prefix);
    checkLimit(limit);
    const range = this.#range(prefix);
    const res = await this.#call('range', 'always', (deadline) => this.#client.kv.range({ ...range, limit }, { deadline }));
    this.#seen(res.header);
    return res.kvs.map((kv) => this.#keyValue(kv));
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    this.#enter();
    checkTxn(this.limits, compares, success, failure);
    const request = {
      compare: compares.map((c) => this.#compare(c)),
      success: success.map((op) => this.#op(op)),
      failure: failure.map((op) => this.#op(op)),
    };
    let res;
    try {
      res = await this.#call('txn', 'unsent', (deadline) => this.#client.kv.txn(request, { deadline }));
    } catch (err) {
      if (err instanceof MetadataUnavailableError && err.cause instanceof EtcdLeaseInvalidError) {
        const lease = [...success, ...failure].find((op) => op.type === 'put' && (op.lease ?? 0) !== 0) as { lease: number } | undefined;
        throw new LeaseLostError(lease?.lease ?? 0);
      }
      throw err;
    }
    this.#seen(res.header);
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  async revision(): Promise<number> {
    this.#enter();
    return this.#call('revision', 'always', (deadline) => this.#revisionAt(deadline));
  }

  async grantLease(ttlMs: number): Promise<Lease> {
    this.#enter();
    checkLeaseTtl(this.limits, ttlMs);
    const seconds = Math.ceil(Math.max(ttlMs, this.minLeaseTtlMs) / 1000);
    const res = await this.#call('lease grant', 'unsent', async (deadline) => {
      for (;;) {
        const id = newLeaseId();
        try {
          return await this.#client.leaseClient.leaseGrant({ ID: id, TTL: seconds }, { deadline });
        } catch (err) {
          if (/lease already exists/i.test(describe(err)) && Date.now() < deadline) continue; // another client's id
          throw err;
        }
      }
    });
    this.#seen(res.header);
    if (res.error) throw new MetadataUnavailableError(`etcd lease grant failed: ${res.error}`);
    const id = Number(res.ID);
    const granted = Number(res.TTL) * 1000;
    return Object.freeze({ id, ttlMs: granted, keepAlive: () => this.#keepAlive(id), revoke: () => this.#revoke(id) });
  }

  /**
   * As the contract, plus onError: the error that ends the watch (CompactedRevisionError when etcd no longer has
   * the revisions it needs; MetadataUnavailableError when etcd cancels it), delivered after the events before it.
   * Without onError such an error is thrown as an uncaught exception.
   */
  watchPrefix(prefix: string, fromRevision: number, onEvents: (events: WatchEvent[]) => void, onError?: WatchErrorHandler): Watch {
    this.#enter();
    checkWatch(this.limits, prefix, fromRevision, onEvents);
    if (onError !== undefined && typeof onError !== 'function') throw new InvalidMetadataRequestError('onError must be a function');
    // As etcd, 0 (or less) is "from now on": after the newest revision this client has seen, which includes every
    // write it has made, so a write issued after watchPrefix returns is always seen.
    const start = fromRevision > 0 ? fromRevision : this.#revisionSeen + 1;
    const { key, range_end } = this.#range(prefix);
    return this.#watchStream.watch(prefix, key, range_end, start, onEvents, onError);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchStream.close();
    this.#client.close();
  }

  // -- requests --------------------------------------------------------------------------------------------------

  /**
   * Runs one etcd request with a deadline, retrying (on the next endpoint) while it may: 'unsent' retries only
   * failures that certainly did not reach etcd (writes), 'always' any transient failure (reads, idempotent ops).
   */
  async #call<T>(
    what: string,
    retry: 'always' | 'unsent',
    attempt: (deadline: number) => Promise<T>,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<T> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    let backoff = etcdRetryBackoffMinMs;
    for (;;) {
      try {
        return await attempt(deadline);
      } catch (caught) {
        if (this.#closed) throw new MetadataStoreClosedError();
        if (caught instanceof LeaseLostError || caught instanceof InvalidMetadataRequestError) throw caught;
        const err = caught instanceof Error ? castGrpcError(caught) : caught;
        const refused = requestError(err);
        if (refused !== null) throw refused;
        const now = Date.now();
        // An expired auth token (etcd forgets them when it restarts) refused the request: etcd3 renews the token
        // when a unary call meets the error, streams (keep-alive) need one such call first.
        const expired = err instanceof EtcdInvalidAuthTokenError;
        if (expired) await this.#renewToken(deadline);
        const again = expired || (retry === 'always' ? transient(err) : unsent(err));
        if (again && now + backoff < deadline) {
          await sleep(backoff);
          backoff = Math.min(backoff * 2, etcdRetryBackoffMaxMs);
          if (this.#closed) throw new MetadataStoreClosedError();
          continue;
        }
        const timedOut = now >= deadline - backoff ? ` (request timeout ${timeoutMs} ms)` : '';
        throw new MetadataUnavailableError(
          `etcd ${what} failed after ${now - started} ms${timedOut} at ${this.endpoints.join(',')}: ${describe(err)}`,
          { cause: err },
        );
      }
    }
  }

  async #revisionAt(deadline: number): Promise<number> {
    // A single key inside the prefix range (etcd's permissions are usually granted on `${prefix}/`).
    const res = await this.#client.kv.range({ key: this.#full('/'), count_only: true }, { deadline });
    this.#seen(res.header);
    return Number(res.header.revision);
  }

  /** A unary call, through which etcd3 renews an expired auth token. */
  async #renewToken(deadline: number): Promise<void> {
    try {
      await this.#revisionAt(deadline);
    } catch {
      // the caller's retry decides
    }
  }

  async #keepAlive(id: number): Promise<void> {
    this.#enter();
    const ttl = await this.#call('lease keep-alive', 'always', async (deadline) => {
      const stream = await this.#client.leaseClient.leaseKeepAlive({ deadline });
      return new Promise<number>((resolve, reject) => {
        stream.on('data', (res) => {
          this.#seen(res.header);
          resolve(Number(res.TTL));
          try {
            stream.end(); // etcd closes its side in turn
          } catch {
            // already closed
          }
        });
        stream.on('error', (err) => reject(err));
        stream.on('end', () => reject(new GRPCUnavailableError('etcd closed the keep-alive stream without an answer')));
        stream.write({ ID: id });
      });
    });
    if (ttl <= 0) throw new LeaseLostError(id);
  }

  /** Idempotent: revoking a lease that already expired or was revoked resolves. */
  async #revoke(id: number): Promise<void> {
    this.#enter();
    await this.#call('lease revoke', 'always', async (deadline) => {
      try {
        const res = await this.#client.leaseClient.leaseRevoke({ ID: id }, { deadline });
        this.#seen(res.header);
      } catch (err) {
        if (!(castGrpcError(err as Error) instanceof EtcdLeaseInvalidError)) throw err;
      }
    });
  }

  // -- mapping ---------------------------------------------------------------------------------------------------

  #enter(): void {
    if (this.#closed) throw new MetadataStoreClosedError();
  }

  #seen(header: IResponseHeader | undefined): void {
    const revision = Number(header?.revision ?? 0);
    if (revision > this.#revisionSeen) this.#revisionSeen = revision;
  }

  #full(key: string): Buffer {
    return Buffer.concat([this.#ns, Buffer.from(key, 'utf8')]);
  }

  #range(prefix: string): { key: Buffer; range_end: Buffer } {
    const key = this.#full(prefix);
    return key.length === 0 ? { key: nulKey, range_end: nulKey } : { key, range_end: prefixRangeEnd(key) };
  }

  #userKey(key: Buffer): string {
    return key.subarray(this.#ns.length).toString('utf8');
  }

  #keyValue(kv: IKeyValue): KeyValue {
    return Object.freeze({
      key: this.#userKey(kv.key),
      value: kv.value.toString('utf8'),
      createRevision: Number(kv.create_revision),
      modRevision: Number(kv.mod_revision),
      version: Number(kv.version),
      lease: Number(kv.lease),
    });
  }

  #compare(c: Compare): ICompare {
    const key = this.#full(c.key);
    if (c.target === 'value') {
      return { key, target: CompareTarget.Value, result: compareResults[c.op], value: Buffer.from(c.value, 'utf8') };
    }
    const field = ({ modRevision: 'mod_revision', createRevision: 'create_revision', version: 'version' } as const)[c.target];
    return { key, target: compareTargets[c.target], result: compareResults[c.op], [field]: c.value };
  }

  #op(op: Op): IRequestOp {
    switch (op.type) {
      case 'put':
        return { request_put: { key: this.#full(op.key), value: Buffer.from(op.value, 'utf8'), lease: op.lease ?? 0 } };
      case 'delete':
        return { request_delete_range: { key: this.#full(op.key) } };
      case 'deletePrefix':
        return { request_delete_range: this.#range(op.prefix) };
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`etcd store: ${name} must be a positive integer, got ${value}`);
  return value;
}
