// One client connection: frames in, requests handled concurrently (pipelining), responses written strictly in
// request order. Requests of `ordered` APIs (appends, commits, admin changes) apply their effects in arrival order:
// each starts once the previous ordered one has applied its own, as in Kafka, which handles a connection's
// requests one at a time. In-flight requests and bytes are bounded per connection: past either bound, or while the
// socket's send buffer is full (a slow reader), the connection stops reading, so nothing buffers without limit.
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { encodeResponse, FrameSplitter, peekRequestHeader, decodeRequest } from '../protocol/frame.ts';
import { apiCodecs, ApiKey } from '../protocol/generated/index.ts';
import { ProtocolDecodeError } from '../protocol/wire/errors.ts';
import type { BrokerServices, Handler, RequestContext } from '../handlers/context.ts';
import type { Listener } from '../config.ts';
import { ANONYMOUS, type KafkaPrincipal } from '../security/principal.ts';
import type { SaslSession } from '../security/sasl/session.ts';
import { apiVersionsUnsupportedResponse } from '../handlers/api-versions.ts';

const noop = (): void => {};

/** APIs whose handlers may wait for data up to a client-chosen time; they answer early when draining. */
const longPolling = new Set<number>([ApiKey.Fetch]);

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxInFlightRequests: number;
  maxInFlightBytes: number;
}

interface Slot {
  /** Response chunks, or null for no response; undefined while being handled. */
  response: Buffer[] | null | undefined;
  requestBytes: number;
  close?: boolean;
  /** Failed authentication: the response goes out this long later, then the connection closes. */
  closeDelayMs?: number;
}

/** SASL settings of a connection of a SASL listener. */
export interface ConnectionSasl {
  session: SaslSession;
  /** sasl.server.max.receive.size: the largest frame before authentication. */
  maxReceiveBytes: number;
  /** connection.failed.authentication.delay.ms */
  failedAuthenticationDelayMs: number;
}

export class Connection {
  private readonly socket: Socket;
  private readonly splitter: FrameSplitter;
  private readonly limits: ConnectionLimits;
  private readonly handlers: readonly (Handler | undefined)[];
  private readonly services: BrokerServices;
  private readonly logger: Logger;
  private readonly queue: Slot[] = [];
  /**
   * An `ordered` request (handlers/context.ts) has started and not yet applied its effects; the ordered requests
   * behind it wait here in arrival order. At most maxInFlightRequests, as every waiting request holds a slot.
   */
  private orderedBusy = false;
  private readonly orderedWaiting: (() => void)[] = [];
  /** A request failed (the connection closes after the responses before it) or the socket closed. */
  private abandoned = false;
  private inFlightBytes = 0;
  private paused = false;
  private waitingDrain = false;
  /** KIP-219: a quota-throttled client's connection is not read until then (epoch ms); 0 when not muted. */
  private mutedUntilMs = 0;
  private muteTimer: NodeJS.Timeout | null = null;
  private readonly throttle = (ms: number): void => this.mute(ms);
  private closing = false;
  private readonly abort = new AbortController();
  /**
   * Aborted when the connection starts draining (graceful shutdown) or closes: what long-polling requests wait
   * on, so they answer at once with what they have instead of holding the shutdown up for their max wait.
   * Kafka's shutdown does not wait for them either (BrokerServer.shutdown stops request processing, then
   * ReplicaManager.shutdown drops the fetch purgatory). Produce waits only on `abort`: a batch it has appended
   * is flushed by the shutdown and must still be acknowledged.
   */
  private readonly drain = new AbortController();
  private readonly clientAddress: string;
  /** The listener the client connected on: Metadata and FindCoordinator answer with that listener's endpoints. */
  private readonly listenerName: string;
  /** Set by authentication; until then (and on PLAINTEXT listeners) the connection is anonymous. */
  private principal: KafkaPrincipal = ANONYMOUS;
  /** SASL listeners only; null once nothing remains to check (and always on other listeners). */
  private sasl: ConnectionSasl | null = null;
  private newSasl: ((reauthenticating: KafkaPrincipal | null) => ConnectionSasl) | null = null;
  /** KIP-368: when the authenticated SASL session ends (0: never, and always on other listeners). */
  private sessionExpiresAtMs = 0;
  private closedResolve!: () => void;
  readonly closed: Promise<void> = new Promise((r) => (this.closedResolve = r));

  constructor(
    socket: Socket,
    args: {
      listener: Listener;
      /** Known at connection (an SSL client certificate's); else User:ANONYMOUS until SASL authenticates. */
      principal?: KafkaPrincipal;
      /**
       * On a SASL listener: the SASL state of a new session (given the principal to keep when re-authenticating).
       * The connection authenticates before anything but ApiVersions and SASL is served.
       */
      sasl?: (reauthenticating: KafkaPrincipal | null) => ConnectionSasl;
      limits: ConnectionLimits;
      handlers: readonly (Handler | undefined)[];
      services: BrokerServices;
      logger: Logger;
    },
  ) {
    this.socket = socket;
    this.listenerName = args.listener.name;
    if (args.principal !== undefined) this.principal = args.principal;
    this.limits = args.limits;
    this.handlers = args.handlers;
    this.services = args.services;
    this.clientAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.logger = args.logger.child({ client: this.clientAddress });
    this.splitter = new FrameSplitter(args.limits.maxFrameBytes);
    if (args.sasl !== undefined) {
      this.newSasl = args.sasl;
      this.sasl = args.sasl(null);
      this.splitter.maxFrameBytes = Math.min(this.sasl.maxReceiveBytes, args.limits.maxFrameBytes);
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.waitingDrain = false;
      this.updateFlow();
    });
    socket.on('error', (err) => this.logger.debug({ err }, 'socket error'));
    socket.on('close', () => {
      this.abandoned = true;
      this.abort.abort();
      this.drain.abort();
      this.closedResolve();
    });
  }

  get inFlightRequests(): number {
    return this.queue.length;
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    try {
      this.splitter.push(chunk, (frame) => this.onFrame(frame));
    } catch (err) {
      // Kafka closes the connection on a frame it cannot read: bad size, oversize, unparsable header.
      this.logger.info({ err: (err as Error).message }, 'closing connection: invalid frame');
      this.closeAfterResponses();
    }
    this.updateFlow();
  }

  private onFrame(frame: Buffer): void {
    if (this.closing) return;
    if (this.sasl !== null && !this.onSaslFrame(frame, this.sasl)) return;
    if (this.sessionExpiresAtMs !== 0 && !this.onSessionFrame(frame)) return;
    const { apiKey, apiVersion, correlationId } = peekRequestHeader(frame);
    const slot: Slot = { response: undefined, requestBytes: frame.length };
    this.queue.push(slot);
    this.inFlightBytes += frame.length;
    const handler = this.handlers[apiKey];
    if (apiKey === ApiKey.ApiVersions && handler && (apiVersion > handler.maxVersion || apiVersion < handler.minVersion)) {
      // KIP-511: an ApiVersions request of an unknown version gets a v0 response saying what is supported.
      slot.response = encodeResponse(ApiKey.ApiVersions, 0, correlationId, apiVersionsUnsupportedResponse(this.handlers));
      this.flushQueue();
      return;
    }
    if (!handler || apiVersion > handler.maxVersion || apiVersion < handler.minVersion) {
      const known = apiCodecs[apiKey] ? `${apiCodecs[apiKey]!.name} v${apiVersion}` : `API key ${apiKey}`;
      this.logger.info({ apiKey, apiVersion }, `closing connection: unsupported request ${known}`);
      slot.response = null;
      slot.close = true;
      this.flushQueue();
      return;
    }
    let decoded;
    try {
      decoded = decodeRequest(frame);
    } catch (err) {
      this.logger.info({ apiKey, apiVersion, err: (err as Error).message }, 'closing connection: malformed request');
      slot.response = null;
      slot.close = true;
      this.flushQueue();
      return;
    }
    const ctx: RequestContext = {
      services: this.services,
      header: decoded.header,
      apiVersion,
      clientAddress: this.clientAddress,
      listenerName: this.listenerName,
      sasl: this.sasl === null ? null : this.sasl.session,
      principal: this.principal,
      signal: longPolling.has(apiKey) ? this.drain.signal : this.abort.signal,
      applied: noop,
      throttle: this.throttle,
    };
    const body = decoded.body;
    if (!handler.ordered) {
      this.dispatch(slot, handler, ctx, body, correlationId);
      return;
    }
    let applied = false;
    ctx.applied = () => {
      if (applied) return;
      applied = true;
      this.orderedApplied();
    };
    if (this.orderedBusy) {
      this.orderedWaiting.push(() => {
        // The connection failed or closed meanwhile: Kafka, handling one request at a time, would never have
        // handled this one; neither is it here (its effects, say an append, would follow a request that failed).
        if (this.abandoned) ctx.applied();
        else this.dispatch(slot, handler, ctx, body, correlationId);
      });
    } else {
      this.orderedBusy = true;
      this.dispatch(slot, handler, ctx, body, correlationId);
    }
  }

  /**
   * A frame on a SASL connection that has not authenticated: true when it is a request to handle as any other
   * (ApiVersions, or the SASL API the session expects), false when it was dealt with here: a raw token after a v0
   * handshake, or anything else, which closes the connection without a response as Kafka does
   * (IllegalSaslStateException: "Unexpected Kafka request of type ... during SASL handshake").
   */
  private onSaslFrame(frame: Buffer, sasl: ConnectionSasl): boolean {
    const session = sasl.session;
    if (session.state === 'authenticated') {
      // Authenticated by the previous request: from here on the connection is like any other (until its session
      // ends, when it has a lifetime).
      this.principal = session.principal!;
      this.splitter.maxFrameBytes = this.limits.maxFrameBytes;
      this.sessionExpiresAtMs = session.expiresAtMs;
      this.sasl = null;
      return true;
    }
    if (session.state === 'authenticate' && session.rawTokens) {
      this.onRawToken(frame, sasl);
      return false;
    }
    const { apiKey, apiVersion } = peekRequestHeader(frame);
    const expected =
      apiKey === ApiKey.ApiVersions ||
      (apiKey === ApiKey.SaslHandshake && session.state === 'handshake') ||
      (apiKey === ApiKey.SaslAuthenticate && session.state === 'authenticate');
    if (expected) return true;
    const name = apiCodecs[apiKey]?.name ?? `API key ${apiKey}`;
    this.logger.info(
      { apiKey, apiVersion, saslState: session.state },
      `closing connection: unexpected ${name} request during SASL authentication`,
    );
    this.abandoned = true;
    this.queue.push({ response: null, requestBytes: 0, close: true });
    this.flushQueue();
    return false;
  }

  /**
   * A frame of an authenticated connection whose session has a lifetime (KIP-368): a SaslHandshake starts a
   * re-authentication (which must prove the same principal; requests keep being served as it until then); any
   * other request after the session ended closes the connection, as Kafka does. True when the frame goes on.
   */
  private onSessionFrame(frame: Buffer): boolean {
    const { apiKey } = peekRequestHeader(frame);
    if (apiKey === ApiKey.SaslHandshake && this.newSasl !== null) {
      this.sasl = this.newSasl(this.principal);
      this.sessionExpiresAtMs = 0;
      return this.onSaslFrame(frame, this.sasl);
    }
    if (Date.now() < this.sessionExpiresAtMs) return true;
    this.logger.info(
      { principal: `${this.principal.type}:${this.principal.name}` },
      'closing connection: its SASL session expired (connections.max.reauth.ms)',
    );
    this.abandoned = true;
    this.queue.push({ response: null, requestBytes: 0, close: true });
    this.flushQueue();
    return false;
  }

  /** A SASL token after a v0 SaslHandshake: a size-prefixed frame without request header; answered likewise. */
  private onRawToken(token: Buffer, sasl: ConnectionSasl): void {
    const slot: Slot = { response: undefined, requestBytes: token.length };
    this.queue.push(slot);
    this.inFlightBytes += token.length;
    void sasl.session.authenticate(Buffer.from(token)).then((step) => {
      if (step.kind === 'failed') {
        // No error can be sent in this framing: the connection closes (after the failed-authentication delay).
        this.logger.info({ mechanism: sasl.session.mechanism, reason: step.message }, 'SASL authentication failed');
        slot.response = null;
        slot.closeDelayMs = sasl.failedAuthenticationDelayMs;
      } else {
        const size = Buffer.allocUnsafe(4);
        size.writeInt32BE(step.response.length, 0);
        slot.response = [size, step.response];
      }
      this.flushQueue();
    });
  }

  private dispatch(slot: Slot, handler: Handler, ctx: RequestContext, body: unknown, correlationId: number): void {
    const apiKey = handler.apiKey;
    const apiVersion = ctx.apiVersion;
    let result: unknown;
    try {
      result = handler.handle(ctx, body);
    } catch (err) {
      ctx.applied();
      this.fail(slot, apiKey, apiVersion, err);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (response) => {
          ctx.applied();
          this.complete(slot, apiKey, apiVersion, correlationId, response);
        },
        (err) => {
          ctx.applied();
          this.fail(slot, apiKey, apiVersion, err);
        },
      );
    } else {
      ctx.applied();
      this.complete(slot, apiKey, apiVersion, correlationId, result);
    }
  }

  /** The ordered request in progress has applied its effects: the next waiting one starts (in a microtask, not inside its caller). */
  private orderedApplied(): void {
    const next = this.orderedWaiting.shift();
    if (next === undefined) this.orderedBusy = false;
    else queueMicrotask(next);
  }

  private complete(slot: Slot, apiKey: number, apiVersion: number, correlationId: number, body: unknown): void {
    try {
      slot.response = body === null ? null : encodeResponse(apiKey, apiVersion, correlationId, body);
    } catch (err) {
      this.fail(slot, apiKey, apiVersion, err);
      return;
    }
    // A failed SASL exchange (bad credentials, unsupported mechanism): Kafka answers after the delay, then closes.
    if (this.sasl !== null && this.sasl.session.state === 'failed') {
      this.abandoned = true;
      slot.closeDelayMs = this.sasl.failedAuthenticationDelayMs;
    }
    this.flushQueue();
  }

  private fail(slot: Slot, apiKey: number, apiVersion: number, err: unknown): void {
    this.logger.error({ err, apiKey, apiVersion }, 'request failed unexpectedly; closing connection');
    this.abandoned = true;
    slot.response = null;
    slot.close = true;
    this.flushQueue();
  }

  /** Writes every finished response at the head of the queue, in request order. */
  private flushQueue(): void {
    while (this.queue.length > 0 && this.queue[0]!.response !== undefined) {
      const slot = this.queue.shift()!;
      this.inFlightBytes -= slot.requestBytes;
      if (slot.close) {
        this.queue.length = 0;
        this.closeAfterResponses();
        return;
      }
      if (slot.closeDelayMs !== undefined) {
        this.closeLater(slot.response ?? null, slot.closeDelayMs);
        return;
      }
      if (slot.response !== null && !this.socket.destroyed) {
        const chunks = slot.response as Buffer[];
        let ok = true;
        if (chunks.length === 1) ok = this.socket.write(chunks[0]!);
        else {
          this.socket.cork();
          for (const c of chunks) ok = this.socket.write(c);
          this.socket.uncork();
        }
        if (!ok) this.waitingDrain = true;
      }
    }
    if (this.closing && this.queue.length === 0) this.socket.end();
    this.updateFlow();
  }

  private updateFlow(): void {
    if (this.closing) return; // reading on, discarding: see closeAfterResponses
    const over =
      this.queue.length >= this.limits.maxInFlightRequests ||
      this.inFlightBytes >= this.limits.maxInFlightBytes ||
      this.waitingDrain ||
      this.mutedUntilMs !== 0;
    if (over && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!over && this.paused && !this.closing) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Stops reading for `ms` (a quota's throttle time, KIP-219); a later, longer mute extends it. */
  private mute(ms: number): void {
    if (ms <= 0 || this.closing) return;
    const until = Date.now() + ms;
    if (until <= this.mutedUntilMs) return;
    this.mutedUntilMs = until;
    if (this.muteTimer) clearTimeout(this.muteTimer);
    this.muteTimer = setTimeout(() => {
      this.muteTimer = null;
      this.mutedUntilMs = 0;
      this.updateFlow();
    }, ms);
    this.muteTimer.unref();
    this.updateFlow();
  }

  /**
   * Takes no more requests; ends the socket once every queued response is written. Bytes that still arrive are
   * read and dropped rather than left unread: a paused socket stops reading once its buffer is full (a client
   * still sending), then never sees the peer's FIN, so 'close' never comes and a graceful shutdown waits out
   * its whole grace period (and closing with unread data makes the kernel send RST, which can destroy the last
   * responses in flight).
   */
  closeAfterResponses(): void {
    if (this.closing) return;
    this.closing = true;
    this.drain.abort();
    this.paused = false;
    this.socket.resume();
    if (this.queue.length === 0) this.socket.end();
  }

  /** Writes `response` after `delayMs`, then ends the socket (a failed authentication). */
  private closeLater(response: Buffer[] | null, delayMs: number): void {
    // A placeholder that never completes holds the socket open until then (closeAfterResponses ends it at once
    // when the queue is empty).
    this.queue.length = 0;
    this.queue.push({ response: undefined, requestBytes: 0 });
    this.closeAfterResponses();
    const timer = setTimeout(() => {
      this.queue.length = 0;
      if (!this.socket.destroyed && response !== null) for (const c of response) this.socket.write(c);
      this.socket.end();
    }, delayMs);
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function isDecodeError(err: unknown): err is ProtocolDecodeError {
  return err instanceof ProtocolDecodeError;
}
