// One connection to one broker: TCP or TLS, framing, correlation ids, pipelining up to
// `maxInFlightPerConnection` requests with a bounded wait queue behind them, and the API versions the broker
// announced (ApiVersions v3, sent first). A request past its deadline closes the connection (the broker may still
// answer it; Kafka's Java client does the same), failing everything else on it with a retriable error.
import { isIP, connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { decodeResponse, encodeRequest, FrameSplitter } from '../../broker/protocol/frame.ts';
import { ApiKey, apiCodecs } from '../../broker/protocol/generated/index.ts';
import type { ApiVersionsResponse, SaslAuthenticateResponse, SaslHandshakeResponse } from '../../broker/protocol/generated/index.ts';
import { AdminConnectionError, AdminKafkaError, AdminLimitError, AdminTimeoutError } from './errors.ts';
import type { ClientLimits } from './limits.ts';
import { maxSaslRounds } from './limits.ts';
import { saslClient, SaslError } from './sasl.ts';
import type { SaslOptions } from './sasl.ts';

export interface ConnectionSettings {
  clientId: string;
  /** node:tls options; present means the connection is TLS (host name checked against `servername` or the host). */
  tls?: TlsConnectionOptions | undefined;
  sasl?: SaslOptions | undefined;
  limits: ClientLimits;
}

/**
 * Highest version this client writes per API, where it is lower than the codec's: requests are shaped for
 * these (OffsetCommit and OffsetFetch v10, Fetch v13 and Produce v13 address topics by id only).
 */
export const clientMaxVersions: Readonly<Record<number, number>> = Object.freeze({
  [ApiKey.OffsetCommit]: 9,
  [ApiKey.OffsetFetch]: 9,
  [ApiKey.Fetch]: 12,
  [ApiKey.Produce]: 12,
});

interface Waiting {
  apiKey: number;
  version: number;
  resolve: (body: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface Queued {
  run: () => void;
  reject: (e: Error) => void;
}

export class Connection {
  readonly address: string;
  private socket: Socket | null = null;
  private readonly splitter: FrameSplitter;
  private readonly waiting = new Map<number, Waiting>();
  private readonly queue: Queued[] = [];
  private nextCorrelationId = 1;
  private closedError: Error | null = null;
  /** Per API key: [min, max] the broker serves. */
  private readonly brokerVersions = new Map<number, [number, number]>();
  lastUsedMs = Date.now();

  readonly host: string;
  readonly port: number;
  private readonly settings: ConnectionSettings;

  constructor(host: string, port: number, settings: ConnectionSettings) {
    this.host = host;
    this.port = port;
    this.settings = settings;
    this.address = `${host}:${port}`;
    this.splitter = new FrameSplitter(settings.limits.maxResponseFrameBytes);
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  get inFlight(): number {
    return this.waiting.size;
  }

  /** Connects and negotiates API versions, within `deadlineMs` (an absolute time) and the connect timeout. */
  async open(deadlineMs: number): Promise<void> {
    const timeoutMs = Math.max(1, Math.min(this.settings.limits.connectTimeoutMs, deadlineMs - Date.now()));
    this.socket = await new Promise<Socket>((resolve, reject) => {
      const tls = this.settings.tls;
      const ready = tls ? 'secureConnect' : 'connect';
      const s: Socket = tls
        ? tlsConnect({ ...(isIP(this.host) ? {} : { servername: this.host }), ...tls, host: this.host, port: this.port })
        : netConnect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new AdminConnectionError(this.address, `connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(new AdminConnectionError(this.address, `connect failed: ${e.message}`, { cause: e }));
      });
      s.once(ready, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.splitter.push(chunk, (frame) => this.onFrame(frame));
      } catch (e) {
        this.fail(new AdminConnectionError(this.address, `bad response frame: ${(e as Error).message}`));
      }
    });
    socket.on('error', (e) => this.fail(new AdminConnectionError(this.address, e.message, { cause: e })));
    socket.on('close', () => this.fail(new AdminConnectionError(this.address, 'connection closed by the broker')));
    const versions = (await this.sendVersioned(
      ApiKey.ApiVersions,
      3,
      { clientSoftwareName: 'skafos-admin', clientSoftwareVersion: '1' },
      deadlineMs,
    )) as ApiVersionsResponse;
    if (versions.errorCode !== 0) throw new AdminKafkaError(versions.errorCode, null, `ApiVersions from ${this.address}`);
    for (const k of versions.apiKeys) this.brokerVersions.set(k.apiKey, [k.minVersion, k.maxVersion]);
    if (this.settings.sasl) await this.authenticate(this.settings.sasl, deadlineMs);
  }

  /** SaslHandshake v1 then SaslAuthenticate rounds; a refusal is a non-retriable AdminKafkaError. */
  private async authenticate(sasl: SaslOptions, deadlineMs: number): Promise<void> {
    const hs = await this.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, () => ({ mechanism: sasl.mechanism }), deadlineMs);
    if (hs.body.errorCode !== 0) {
      throw new AdminKafkaError(
        hs.body.errorCode,
        `${sasl.mechanism} refused; the broker enables ${hs.body.mechanisms.join(', ') || 'none'}`,
        this.address,
      );
    }
    const mech = saslClient(sasl);
    let message: Buffer | null = mech.first();
    for (let round = 0; message !== null; round++) {
      if (round >= maxSaslRounds) throw new AdminConnectionError(this.address, `SASL ${sasl.mechanism}: more than ${maxSaslRounds} rounds`);
      const { body } = await this.request<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, () => ({ authBytes: message }), deadlineMs);
      if (body.errorCode !== 0)
        throw new AdminKafkaError(body.errorCode, body.errorMessage, `${this.address} SASL ${sasl.mechanism} as ${sasl.username}`);
      try {
        message = mech.next(body.authBytes);
      } catch (e) {
        if (e instanceof SaslError) throw new AdminKafkaError(58, e.message, this.address); // SASL_AUTHENTICATION_FAILED
        throw e;
      }
      if (message === null && round === 0 && sasl.mechanism !== 'PLAIN')
        throw new AdminKafkaError(58, 'the SCRAM exchange ended early', this.address);
    }
  }

  /** The version used for `apiKey`: the highest the broker, the codec and this client all support; -1 if none. */
  versionFor(apiKey: number): number {
    const codec = apiCodecs[apiKey];
    const broker = this.brokerVersions.get(apiKey);
    if (!codec || !broker) return -1;
    const max = Math.min(codec.maxVersion, broker[1], clientMaxVersions[apiKey] ?? codec.maxVersion);
    const min = Math.max(codec.minVersion, broker[0]);
    return max >= min ? max : -1;
  }

  /** Sends a request shaped by `build` for the negotiated version; resolves with the version and the response body. */
  async request<T>(apiKey: number, build: (version: number) => unknown, deadlineMs: number): Promise<{ version: number; body: T }> {
    const version = this.versionFor(apiKey);
    if (version < 0) {
      const name = apiCodecs[apiKey]?.name ?? String(apiKey);
      throw new AdminKafkaError(35, `${this.address} serves no version of ${name} this client knows`);
    }
    const body = (await this.sendVersioned(apiKey, version, build(version), deadlineMs)) as T;
    return { version, body };
  }

  private sendVersioned(apiKey: number, version: number, body: unknown, deadlineMs: number): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    this.lastUsedMs = Date.now();
    const frame = encodeRequest(apiKey, version, 0, this.settings.clientId, body);
    return new Promise((resolve, reject) => {
      const run = () => {
        if (this.closedError) return reject(this.closedError);
        const correlationId = this.nextCorrelationId;
        this.nextCorrelationId = (this.nextCorrelationId + 1) & 0x7fffffff;
        frame.writeInt32BE(correlationId, 8); // size(4) apiKey(2) version(2), then the correlation id
        const waitMs = Math.max(1, deadlineMs - Date.now());
        const timer = setTimeout(() => {
          const name = apiCodecs[apiKey]?.name ?? String(apiKey);
          const e = new AdminTimeoutError(`${name} to ${this.address}`, waitMs);
          this.waiting.delete(correlationId);
          reject(e);
          this.fail(new AdminConnectionError(this.address, `closed after a ${name} request timed out`));
        }, waitMs);
        this.waiting.set(correlationId, { apiKey, version, resolve, reject, timer });
        this.socket!.write(frame);
      };
      if (this.waiting.size < this.settings.limits.maxInFlightPerConnection) return run();
      if (this.queue.length >= this.settings.limits.maxQueuedPerConnection) {
        return reject(new AdminLimitError(`${this.address}: ${this.queue.length} requests already queued (maxQueuedPerConnection)`));
      }
      this.queue.push({ run, reject });
    });
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const w = this.waiting.get(correlationId);
    if (!w) return; // a late answer to a request that timed out
    this.waiting.delete(correlationId);
    clearTimeout(w.timer);
    try {
      w.resolve(decodeResponse(frame, w.apiKey, w.version).body);
    } catch (e) {
      w.reject(new AdminConnectionError(this.address, `undecodable response: ${(e as Error).message}`));
    }
    const next = this.queue.shift();
    if (next) next.run();
  }

  private fail(e: Error): void {
    if (this.closedError) return;
    this.closedError = e;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.waiting.clear();
    for (const q of this.queue.splice(0)) q.reject(e);
    this.socket?.destroy();
  }

  close(): void {
    this.fail(new AdminConnectionError(this.address, 'connection closed by the client'));
  }
}
