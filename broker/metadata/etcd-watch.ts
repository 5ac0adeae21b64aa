// The shared Watch stream of an EtcdMetadataStore (etcd.ts, "Watches" in its header): every watch of a store
// on one etcd Watch stream, created one at a time; each resumes from the revision after the last event it
// delivered when the stream is re-opened (capped backoff); events are delivered asynchronously, one batch per
// revision, in order; an error (compacted revisions, a cancelled watch) ends a watch after the events before it.
import { EtcdInvalidAuthTokenError, castGrpcError } from 'etcd3';
import type { Etcd3, IDuplexStream, IKeyValue, IResponseHeader, IWatchRequest, IWatchResponse } from 'etcd3';
import { CompactedRevisionError } from './errors.ts';
import { MetadataUnavailableError } from './store.ts';
import type { KeyValue, Watch, WatchEvent } from './store.ts';
import { etcdWatchBackoffMaxMs, etcdWatchBackoffMinMs } from '../limits.ts';

/** Called with the error that ended a watch (CompactedRevisionError, or MetadataUnavailableError). */
export type WatchErrorHandler = (err: Error) => void;

/** Delivers a watch's batches asynchronously and in order; an error ends the watch after what came before it. */
class Delivery {
  readonly #onEvents: (events: WatchEvent[]) => void;
  readonly #onError: WatchErrorHandler | undefined;
  #queue: Array<WatchEvent[] | Error> = [];
  #scheduled = false;
  #closed = false;

  constructor(onEvents: (events: WatchEvent[]) => void, onError: WatchErrorHandler | undefined) {
    this.#onEvents = onEvents;
    this.#onError = onError;
  }

  push(item: WatchEvent[] | Error): void {
    if (this.#closed) return;
    this.#queue.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    while (!this.#closed && this.#queue.length > 0) {
      const item = this.#queue.shift()!;
      if (item instanceof Error) {
        this.close();
        if (this.#onError === undefined) throw item; // no handler: fail loudly rather than stop silently
        this.#onError(item);
        return;
      }
      try {
        this.#onEvents(item);
      } catch (err) {
        // A throwing consumer is a bug that must surface (uncaught), but must not lose the events after it.
        if (this.#queue.length > 0) {
          this.#scheduled = true;
          setImmediate(this.#drain);
        }
        throw err;
      }
    }
  };
}

class EtcdWatch {
  readonly prefix: string;
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
  /** The revision the watch asked for (for CompactedRevisionError). */
  readonly fromRevision: number;
  /** Revision of the next event to deliver: where the watch resumes after a broken stream. */
  next: number;
  /** Its id on the current stream, once created there. */
  id: string | null = null;
  closed = false;
  readonly delivery: Delivery;

  constructor(prefix: string, key: Buffer, rangeEnd: Buffer, fromRevision: number, delivery: Delivery) {
    this.prefix = prefix;
    this.key = key;
    this.rangeEnd = rangeEnd;
    this.fromRevision = fromRevision;
    this.next = fromRevision;
    this.delivery = delivery;
  }
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/** Half-closes a client stream before cancelling it, so that etcd3 does not take the cancel for a host failure. */
function endStream(stream: { end(): void; cancel(): void }): void {
  try {
    stream.end();
  } catch {
    // already ended
  }
  stream.cancel();
}

/** What the stream needs of its store. */
export interface WatchStreamHooks {
  /** The store is closed. */
  closed(): boolean;
  /** A response header: its revision is the newest the store has seen. */
  seen(header: IResponseHeader | undefined): void;
  keyValue(kv: IKeyValue): KeyValue;
  userKey(key: Buffer): string;
  /** Renews an expired auth token (a unary call). */
  renewToken(): Promise<void>;
}

export class EtcdWatchStream {
  readonly #client: Etcd3;
  readonly #hooks: WatchStreamHooks;
  readonly #watches = new Set<EtcdWatch>();
  #stream: WatchStream | null = null;
  #streamState: 'idle' | 'connecting' | 'open' = 'idle';
  /** Bumped whenever the stream is replaced; callbacks of older streams are ignored. */
  #generation = 0;
  #toCreate: EtcdWatch[] = [];
  #creating: EtcdWatch | null = null;
  readonly #byId = new Map<string, EtcdWatch>();
  #reconnectTimer: NodeJS.Timeout | null = null;
  #watchBackoffMs = etcdWatchBackoffMinMs;

  constructor(client: Etcd3, hooks: WatchStreamHooks) {
    this.#client = client;
    this.#hooks = hooks;
  }

  /** A new watch of [key, rangeEnd) from `fromRevision`, created on the stream (opened if need be). */
  watch(
    prefix: string,
    key: Buffer,
    rangeEnd: Buffer,
    fromRevision: number,
    onEvents: (events: WatchEvent[]) => void,
    onError: WatchErrorHandler | undefined,
  ): Watch {
    const watch = new EtcdWatch(prefix, key, rangeEnd, fromRevision, new Delivery(onEvents, onError));
    this.#watches.add(watch);
    this.#toCreate.push(watch);
    if (this.#streamState === 'open') this.#createNext();
    else this.#connectWatchStream();
    return { close: () => this.#closeWatch(watch) };
  }

  /** The store closes: every watch ends without a word, the stream goes. */
  close(): void {
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    for (const watch of this.#watches) {
      watch.closed = true;
      watch.delivery.close();
    }
    this.#watches.clear();
    this.#dropStream();
  }

  #connectWatchStream(): void {
    if (this.#hooks.closed() || this.#streamState !== 'idle' || this.#reconnectTimer !== null || this.#watches.size === 0) return;
    this.#streamState = 'connecting';
    const generation = ++this.#generation;
    this.#client.watchClient.watch().then(
      (stream) => {
        if (generation !== this.#generation || this.#hooks.closed()) {
          endStream(stream);
          return;
        }
        stream.on('data', (res) => this.#onWatchResponse(generation, res));
        stream.on('error', (err) => this.#onStreamFailure(generation, err));
        stream.on('end', () => this.#onStreamFailure(generation, new Error('etcd ended the watch stream')));
        this.#stream = stream;
        this.#streamState = 'open';
        this.#toCreate = [...this.#watches];
        this.#createNext();
      },
      (err: unknown) => this.#onStreamFailure(generation, err),
    );
  }

  /** Sends the next create request; etcd answers creates in order, one at a time here. */
  #createNext(): void {
    if (this.#streamState !== 'open' || this.#creating !== null) return;
    let watch: EtcdWatch | undefined;
    while ((watch = this.#toCreate.shift()) !== undefined && watch.closed);
    if (watch === undefined) return;
    this.#creating = watch;
    this.#stream!.write({ create_request: { key: watch.key, range_end: watch.rangeEnd, start_revision: watch.next } });
  }

  #onWatchResponse(generation: number, res: IWatchResponse): void {
    if (generation !== this.#generation) return;
    this.#hooks.seen(res.header);
    if (res.canceled && /invalid auth token/i.test(res.cancel_reason)) {
      // The stream's token expired (etcd restarted, or --auth-token-ttl passed): renew it and re-open the stream.
      this.#onStreamFailure(generation, new EtcdInvalidAuthTokenError(res.cancel_reason));
      return;
    }
    if (res.created) {
      const watch = this.#creating;
      this.#creating = null;
      this.#watchBackoffMs = etcdWatchBackoffMinMs;
      if (watch !== null) {
        if (res.canceled) {
          this.#endWatch(watch, this.#watchError(watch, res));
        } else {
          watch.id = res.watch_id;
          this.#byId.set(res.watch_id, watch);
          if (watch.closed) this.#cancelOnStream(watch);
        }
      }
      this.#createNext();
      return;
    }
    const watch = this.#byId.get(res.watch_id);
    if (watch === undefined || watch.closed) return;
    if (res.canceled || res.compact_revision !== '0') {
      this.#byId.delete(res.watch_id);
      this.#endWatch(watch, this.#watchError(watch, res));
      return;
    }
    // One batch per revision, in order; events a resumed watch already delivered are skipped.
    let batch: WatchEvent[] = [];
    let batchRevision = 0;
    for (const e of res.events) {
      const revision = Number(e.kv.mod_revision);
      if (revision < watch.next) continue;
      if (revision !== batchRevision && batch.length > 0) {
        watch.delivery.push(batch);
        batch = [];
      }
      batchRevision = revision;
      batch.push(
        String(e.type).toUpperCase() === 'PUT' // 'PUT' at run time, whatever etcd3's typings say
          ? Object.freeze({ type: 'put', kv: this.#hooks.keyValue(e.kv) })
          : Object.freeze({ type: 'delete', key: this.#hooks.userKey(e.kv.key), modRevision: revision }),
      );
    }
    if (batch.length > 0) {
      watch.delivery.push(batch);
      watch.next = batchRevision + 1;
    }
  }

  #watchError(watch: EtcdWatch, res: IWatchResponse): Error {
    const compacted = Number(res.compact_revision);
    if (compacted > 0) return new CompactedRevisionError(watch.next, compacted - 1); // etcd keeps revision `compacted`
    return new MetadataUnavailableError(
      `etcd cancelled the watch of ${JSON.stringify(watch.prefix)}: ${res.cancel_reason || 'no reason given'}`,
    );
  }

  #endWatch(watch: EtcdWatch, err: Error): void {
    watch.closed = true;
    this.#watches.delete(watch);
    watch.delivery.push(err);
    if (this.#watches.size === 0) this.#dropStream();
  }

  #onStreamFailure(generation: number, err: unknown): void {
    if (generation !== this.#generation || this.#hooks.closed()) return;
    // The stream is re-opened; operations report outages themselves. An expired auth token is renewed first.
    if (err instanceof Error && castGrpcError(err) instanceof EtcdInvalidAuthTokenError) void this.#hooks.renewToken();
    this.#dropStream();
    if (this.#watches.size === 0) return;
    const delay = this.#watchBackoffMs;
    this.#watchBackoffMs = Math.min(this.#watchBackoffMs * 2, etcdWatchBackoffMaxMs);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connectWatchStream();
    }, delay);
  }

  /** Forgets the current stream (its callbacks are ignored from now on) and every watch's id on it. */
  #dropStream(): void {
    this.#generation++;
    const stream = this.#stream;
    this.#stream = null;
    this.#streamState = 'idle';
    this.#creating = null;
    this.#toCreate = [];
    this.#byId.clear();
    for (const watch of this.#watches) watch.id = null;
    if (stream !== null) endStream(stream);
  }

  #cancelOnStream(watch: EtcdWatch): void {
    if (watch.id === null) return;
    this.#byId.delete(watch.id);
    if (this.#streamState === 'open') this.#stream!.write({ cancel_request: { watch_id: watch.id } });
    watch.id = null;
  }

  #closeWatch(watch: EtcdWatch): void {
    if (watch.closed) return;
    watch.closed = true;
    watch.delivery.close();
    this.#watches.delete(watch);
    this.#cancelOnStream(watch); // one still being created is cancelled when its id arrives
    if (this.#watches.size === 0) {
      this.#dropStream();
      if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
  }
}
