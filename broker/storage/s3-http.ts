// HTTP for the S3 client: keep-alive agents that count the connections they open, and response bodies read
// into one buffer (a short body is a retryable TruncatedBodyError); request bodies sliced out of several buffers.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { TruncatedBodyError } from './s3-errors.ts';
import { s3KeepAliveMs } from '../limits.ts';

/**
 * A keep-alive agent for `endpoint` (HTTP when it starts with http:, else HTTPS) with at most `maxSockets`
 * connections, kept idle too, so it never queues; `onSocket` is called for every connection opened.
 */
export function countingAgent(endpoint: string | null, maxSockets: number, onSocket: () => void): HttpAgent {
  const agentOptions = {
    keepAlive: true,
    keepAliveMsecs: s3KeepAliveMs,
    maxSockets,
    maxFreeSockets: maxSockets,
    scheduling: 'lifo' as const,
  };
  return endpoint?.startsWith('http:') ? new CountingHttpAgent(agentOptions, onSocket) : new CountingHttpsAgent(agentOptions, onSocket);
}

class CountingHttpAgent extends HttpAgent {
  readonly #onSocket: () => void;
  constructor(options: ConstructorParameters<typeof HttpAgent>[0], onSocket: () => void) {
    super(options);
    this.#onSocket = onSocket;
  }

  override createConnection(...args: Parameters<HttpAgent['createConnection']>): Duplex | null | undefined {
    this.#onSocket();
    return super.createConnection(...args);
  }
}

class CountingHttpsAgent extends HttpsAgent {
  readonly #onSocket: () => void;
  constructor(options: ConstructorParameters<typeof HttpsAgent>[0], onSocket: () => void) {
    super(options);
    this.#onSocket = onSocket;
  }

  override createConnection(...args: Parameters<HttpsAgent['createConnection']>): Duplex | null | undefined {
    this.#onSocket();
    return super.createConnection(...args);
  }
}

// ---- bodies ----

/** Reads a response body of `length` bytes (if known) into one buffer; a shorter body is a TruncatedBodyError. */
export async function readBody(body: unknown, length: number | undefined): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Uint8Array[] = [];
    if (body !== undefined && body !== null) for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
  const out = Buffer.allocUnsafe(length);
  let got = 0;
  if (body !== undefined && body !== null) {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (got + chunk.length > length) {
        destroyBody(body);
        throw new TruncatedBodyError(got + chunk.length, length); // longer than announced: as broken
      }
      out.set(chunk, got);
      got += chunk.length;
    }
  }
  if (got !== length) throw new TruncatedBodyError(got, length);
  return out;
}

export function destroyBody(body: unknown): void {
  const b = body as { destroy?: () => void } | undefined;
  if (typeof b?.destroy === 'function') b.destroy();
}

/** Bytes [start, end) of the concatenation of `parts`, copying only when they span several parts. */
export function slice(parts: readonly Buffer[], start: number, end: number): Buffer {
  const pieces: Buffer[] = [];
  let offset = 0;
  for (const p of parts) {
    const pEnd = offset + p.length;
    if (pEnd > start && offset < end) pieces.push(p.subarray(Math.max(0, start - offset), Math.min(p.length, end - offset)));
    offset = pEnd;
    if (offset >= end) break;
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, end - start);
}

export function unquote(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}

/** Keys of a ListObjectsV2 with EncodingType=url: form-encoded (AWS writes a space as `+`, radosgw as %20). */
export function decodeUrlKey(key: string): string {
  return decodeURIComponent(key.replaceAll('+', ' '));
}
