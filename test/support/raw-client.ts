// A raw Kafka connection for tests that need exact bytes on the wire: well-formed requests through our codec
// (broker/protocol/frame.ts), or any bytes at all; responses are read frame by frame, every wait is bounded.
import { connect } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import type { Socket } from 'node:net';
import { decodeResponse, encodeRequest, FrameSplitter } from '../../broker/protocol/frame.ts';

export type FrameOrEnd = { frame: Buffer } | { closed: true } | { timeout: true };

export class RawConnection {
  private readonly socket: Socket;
  private readonly frames: Buffer[] = [];
  private waiters: ((r: FrameOrEnd) => void)[] = [];
  private correlation = 1;
  private isClosed = false;
  private readonly splitter = new FrameSplitter(1 << 30);
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      this.splitter.push(chunk, (frame) => {
        const w = this.waiters.shift();
        if (w) w({ frame: Buffer.from(frame) });
        else this.frames.push(Buffer.from(frame));
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.isClosed = true;
      for (const w of this.waiters.splice(0)) w({ closed: true });
    });
  }

  static connect(port: number, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(new RawConnection(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** A TLS connection; rejects if the handshake fails (or the broker closes the socket during it). */
  static connectTls(port: number, options: ConnectionOptions, timeoutMs = 5000): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = connectTls({ host: '127.0.0.1', port, ...options });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`TLS connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(new RawConnection(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      s.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed during the TLS handshake'));
      });
    });
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Writes raw bytes (ignores errors: the broker may have closed the connection). */
  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next response frame (without its size prefix), or closed, or timeout. */
  next(timeoutMs = 10_000): Promise<FrameOrEnd> {
    const f = this.frames.shift();
    if (f) return Promise.resolve({ frame: f });
    if (this.isClosed) return Promise.resolve({ closed: true });
    return new Promise((resolve) => {
      const waiter = (r: FrameOrEnd) => {
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve({ timeout: true });
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  nextCorrelationId(): number {
    return this.correlation++;
  }

  /** Sends a request through our codec and decodes its response; throws if the connection closes or times out. */
  async request<T = any>(
    apiKey: number,
    apiVersion: number,
    body: unknown,
    opts: { clientId?: string | null; timeoutMs?: number } = {},
  ): Promise<T> {
    const correlationId = this.nextCorrelationId();
    this.write(encodeRequest(apiKey, apiVersion, correlationId, opts.clientId === undefined ? 'skafos-raw' : opts.clientId, body));
    const r = await this.next(opts.timeoutMs ?? 10_000);
    if ('closed' in r) throw new Error(`connection closed instead of answering API ${apiKey} v${apiVersion}`);
    if ('timeout' in r) throw new Error(`no answer to API ${apiKey} v${apiVersion}`);
    const decoded = decodeResponse(r.frame, apiKey, apiVersion);
    if (decoded.correlationId !== correlationId) throw new Error(`correlation id ${decoded.correlationId}, expected ${correlationId}`);
    return decoded.body as T;
  }

  /** Resolves true if the broker closes the connection within `timeoutMs`. */
  async closesWithin(timeoutMs: number): Promise<boolean> {
    const timer = new Promise<false>((r) => setTimeout(() => r(false), timeoutMs).unref());
    return Promise.race([this.closed.then(() => true as const), timer]);
  }

  /** Stops reading from the socket (a slow reader): the peer's writes back up into the kernel buffers. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    this.socket.resume();
  }

  close(): void {
    this.socket.destroy();
  }
}
