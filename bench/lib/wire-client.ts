// A minimal pipelined Kafka connection for load generation: request frames (already encoded, size prefix
// included) go out as they are given; responses come back in request order (the broker answers in order on a
// connection) and are matched by correlation id. Response frames are reassembled with at most one copy each
// (a frame inside one socket chunk is a view of it), so reading 50 MiB Fetch responses costs the client little.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { decodeResponse, encodeRequest } from '../../broker/protocol/frame.ts';

/** Splits a byte stream into frames (without their 4-byte size prefix), copying each frame at most once. */
export class FrameAssembler {
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  private frame: Buffer | null = null;
  private fill = 0;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.frame === null) {
        let size: number;
        if (this.headerFill === 0 && chunk.length - pos >= 4) {
          size = chunk.readInt32BE(pos);
          pos += 4;
          if (size < 0) throw new Error(`negative frame size ${size}`);
          if (chunk.length - pos >= size) {
            onFrame(chunk.subarray(pos, pos + size));
            pos += size;
            continue;
          }
        } else {
          const n = Math.min(4 - this.headerFill, chunk.length - pos);
          chunk.copy(this.header, this.headerFill, pos, pos + n);
          this.headerFill += n;
          pos += n;
          if (this.headerFill < 4) return;
          this.headerFill = 0;
          size = this.header.readInt32BE(0);
          if (size < 0) throw new Error(`negative frame size ${size}`);
        }
        this.frame = Buffer.allocUnsafe(size);
        this.fill = 0;
      }
      const n = Math.min(this.frame.length - this.fill, chunk.length - pos);
      chunk.copy(this.frame, this.fill, pos, pos + n);
      this.fill += n;
      pos += n;
      if (this.fill === this.frame.length) {
        const f = this.frame;
        this.frame = null;
        onFrame(f);
      }
    }
  }
}

interface Waiter {
  correlationId: number;
  resolve: (frame: Buffer) => void;
  reject: (err: Error) => void;
}

export class WireConnection {
  private readonly socket: Socket;
  private readonly assembler = new FrameAssembler();
  private readonly waiters: Waiter[] = [];
  private head = 0;
  private nextCorrelation = 1;
  private failure: Error | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      try {
        this.assembler.push(chunk, (frame) => this.onFrame(frame));
      } catch (err) {
        this.failAll(err as Error);
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('connection closed by the broker')));
  }

  static connect(port: number, timeoutMs = 10_000): Promise<WireConnection> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to 127.0.0.1:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        s.off('error', reject);
        resolve(new WireConnection(s));
      });
      s.once('error', reject);
    });
  }

  /** A fresh correlation id for the next request on this connection. */
  correlationId(): number {
    const id = this.nextCorrelation;
    this.nextCorrelation = (this.nextCorrelation + 1) & 0x7fffffff;
    return id;
  }

  get pending(): number {
    return this.waiters.length - this.head;
  }

  /**
   * Writes a request frame (size prefix included) whose correlation id is `correlationId`; resolves with its
   * response frame (without the size prefix, response header included).
   */
  send(frame: Buffer, correlationId: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.push({ correlationId, resolve, reject });
      this.socket.write(frame);
    });
  }

  /** Encodes a request with our codec, sends it and decodes its response. */
  async request<T>(apiKey: number, apiVersion: number, body: unknown): Promise<T> {
    const id = this.correlationId();
    const frame = await this.send(encodeRequest(apiKey, apiVersion, id, 'skafos-bench', body), id);
    return decodeResponse(frame, apiKey, apiVersion).body as T;
  }

  private onFrame(frame: Buffer): void {
    const w = this.waiters[this.head];
    if (w === undefined) throw new Error('response without a request');
    this.waiters[this.head++] = undefined as unknown as Waiter;
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
    const id = frame.readInt32BE(0);
    if (id !== w.correlationId) {
      const err = new Error(`response correlation id ${id}, expected ${w.correlationId}`);
      w.reject(err);
      this.failAll(err);
      this.socket.destroy();
      return;
    }
    w.resolve(frame);
  }

  private failAll(err: Error): void {
    this.failure ??= err;
    while (this.head < this.waiters.length) this.waiters[this.head++]!.reject(this.failure);
  }

  close(): void {
    this.failure ??= new Error('connection closed');
    this.socket.destroy();
  }
}
