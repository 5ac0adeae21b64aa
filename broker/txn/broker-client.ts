// A minimal Kafka client for broker-to-broker requests (WriteTxnMarkers from a transaction coordinator to the
// owner of a partition): one connection per destination broker, requests pipelined on it, reconnected on
// failure. Endpoints come from the cluster view (the advertised listener of each live broker).
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { decodeResponse, encodeRequest, FrameSplitter } from '../protocol/frame.ts';
import { interBrokerRequestTimeoutMs } from '../limits.ts';

interface Waiting {
  apiKey: number;
  version: number;
  resolve: (body: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class Connection {
  private readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  private readonly waiting = new Map<number, Waiting>();
  private nextCorrelationId = 1;
  closedError: Error | null = null;
  readonly ready: Promise<void>;

  constructor(host: string, port: number, onClose: () => void) {
    this.socket = connect({ host, port });
    this.socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.ready.catch(() => {});
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.splitter.push(chunk, (frame) => this.onFrame(frame));
      } catch (e) {
        this.fail(e as Error);
      }
    });
    const fail = (e: Error) => {
      this.fail(e);
      onClose();
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(this.closedError);
    }
    this.waiting.clear();
    this.socket.destroy();
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const w = this.waiting.get(correlationId);
    if (!w) return;
    this.waiting.delete(correlationId);
    clearTimeout(w.timer);
    try {
      w.resolve(decodeResponse(frame, w.apiKey, w.version).body);
    } catch (e) {
      w.reject(e as Error);
    }
  }

  async request(apiKey: number, version: number, body: unknown, timeoutMs: number): Promise<unknown> {
    await this.ready;
    if (this.closedError) throw this.closedError;
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequest(apiKey, version, correlationId, 'skafos-broker', body);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new Error(`request timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiting.set(correlationId, { apiKey, version, resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.fail(new Error('client closed'));
  }
}

export class BrokerClient {
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  /** Sends one request to host:port and resolves with the decoded response body. */
  request(
    host: string,
    port: number,
    apiKey: number,
    version: number,
    body: unknown,
    timeoutMs = interBrokerRequestTimeoutMs,
  ): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('client closed'));
    const key = `${host}:${port}`;
    let c = this.connections.get(key);
    if (c === undefined || c.closedError !== null) {
      const created: Connection = new Connection(host, port, () => {
        if (this.connections.get(key) === created) this.connections.delete(key);
      });
      this.connections.set(key, created);
      c = created;
    }
    return c.request(apiKey, version, body, timeoutMs);
  }

  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) c.close();
    this.connections.clear();
  }
}
