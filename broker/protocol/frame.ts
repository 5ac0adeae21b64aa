// Size-prefixed framing and request/response headers around the generated message codecs.
import {
  apiCodecs,
  ApiKey,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  encodeResponseHeader,
} from './generated/index.ts';
import type { ApiCodec, RequestHeader } from './generated/index.ts';
import { ProtocolDecodeError } from './wire/errors.ts';
import { Reader } from './wire/reader.ts';
import { Writer } from './wire/writer.ts';

/** Kafka's socket.request.max.bytes default: 100 MiB. */
export const defaultMaxFrameBytes = 104857600;
const frameSizePrefixBytes = 4;

export function isFlexible(codec: ApiCodec, version: number): boolean {
  return codec.flexibleMinVersion >= 0 && version >= codec.flexibleMinVersion;
}

/** Request header version: 2 for flexible versions, 1 otherwise (header v0 was ControlledShutdown v0's, removed in Kafka 4). */
export function requestHeaderVersion(codec: ApiCodec, version: number): number {
  if (isFlexible(codec, version)) return 2;
  return 1;
}

/** Response header version: 1 for flexible versions, 0 otherwise; ApiVersions responses always use v0. */
export function responseHeaderVersion(codec: ApiCodec, version: number): number {
  if (codec.apiKey === ApiKey.ApiVersions) return 0;
  return isFlexible(codec, version) ? 1 : 0;
}

/**
 * Splits a byte stream into frames. Feed it socket chunks; it returns whole frames (without the size prefix).
 * A frame larger than `maxFrameBytes` or with a negative size is an error: the connection must be closed.
 */
export class FrameSplitter {
  /** May be changed between pushes (a SASL connection's bound is lower until it has authenticated). */
  maxFrameBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(maxFrameBytes = defaultMaxFrameBytes) {
    if (!(maxFrameBytes > 0)) throw new RangeError('maxFrameBytes must be positive');
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes buffered that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Bytes (size prefix included) of the incomplete frame at the head of `pending`; 0 while its size is unknown. */
  private need = 0;

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let buf: Buffer;
    if (this.pendingBytes === 0) {
      buf = chunk;
    } else {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      // Size known, frame not complete yet: keep the chunks and copy nothing (one concat per frame, when whole).
      if (this.need > 0 && this.pendingBytes < this.need) return;
      buf = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.need = 0;
    }
    let pos = 0;
    while (buf.length - pos >= frameSizePrefixBytes) {
      const size = buf.readInt32BE(pos);
      if (size < 0) throw new ProtocolDecodeError('BAD_LENGTH', `negative frame size ${size}`);
      if (size > this.maxFrameBytes) {
        throw new ProtocolDecodeError(
          'FRAME_TOO_LARGE',
          `frame of ${size} bytes is larger than the maximum of ${this.maxFrameBytes} (socket.request.max.bytes)`,
        );
      }
      if (buf.length - pos - frameSizePrefixBytes < size) {
        this.need = frameSizePrefixBytes + size;
        break;
      }
      const start = pos + frameSizePrefixBytes;
      pos = start + size;
      onFrame(buf.subarray(start, pos));
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
  }
}

export interface DecodedRequest {
  apiKey: number;
  apiVersion: number;
  header: RequestHeader;
  /** undefined when the API key or version is not one this codec knows; see `error`. */
  codec: ApiCodec | undefined;
  body: unknown;
}

/** Reads just the API key, version and correlation id, which every header version starts with. */
export function peekRequestHeader(frame: Buffer): { apiKey: number; apiVersion: number; correlationId: number } {
  if (frame.length < 8) throw new ProtocolDecodeError('TRUNCATED', `request frame of ${frame.length} bytes has no header`);
  return { apiKey: frame.readInt16BE(0), apiVersion: frame.readInt16BE(2), correlationId: frame.readInt32BE(4) };
}

/** Decodes a request frame (without its size prefix). Unknown API keys or versions throw UNSUPPORTED_VERSION. */
export function decodeRequest(frame: Buffer): DecodedRequest {
  const { apiKey, apiVersion } = peekRequestHeader(frame);
  const codec = apiCodecs[apiKey];
  if (codec === undefined || apiVersion < codec.minVersion || apiVersion > codec.maxVersion) {
    throw new ProtocolDecodeError('UNSUPPORTED_VERSION', `no API key ${apiKey} version ${apiVersion}`);
  }
  const r = new Reader(frame);
  const header = decodeRequestHeader(r, requestHeaderVersion(codec, apiVersion));
  const body = codec.decodeRequest(r, apiVersion);
  return { apiKey, apiVersion, header, codec, body };
}

/** Encodes a request frame, size prefix included. */
export function encodeRequest(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: unknown): Buffer {
  const codec = apiCodecs[apiKey];
  if (codec === undefined) throw new RangeError(`unknown API key ${apiKey}`);
  const w = new Writer(1024);
  w.int32(0);
  encodeRequestHeader(w, requestHeaderVersion(codec, apiVersion), {
    requestApiKey: apiKey,
    requestApiVersion: apiVersion,
    correlationId,
    clientId,
  });
  codec.encodeRequest(w, apiVersion, body);
  w.patchInt32AtStart(0, w.length - frameSizePrefixBytes);
  return w.finish();
}

/** Encodes a response frame, size prefix included, as chunks for a vectored write (record batches are not copied). */
export function encodeResponse(
  apiKey: number,
  apiVersion: number,
  correlationId: number,
  body: unknown,
  initialCapacityBytes = 1024,
): Buffer[] {
  const codec = apiCodecs[apiKey];
  if (codec === undefined) throw new RangeError(`unknown API key ${apiKey}`);
  const w = new Writer(initialCapacityBytes);
  w.int32(0);
  encodeResponseHeader(w, responseHeaderVersion(codec, apiVersion), { correlationId });
  codec.encodeResponse(w, apiVersion, body);
  w.patchInt32AtStart(0, w.length - frameSizePrefixBytes);
  return w.finishChunks();
}

/** Decodes a response frame (without its size prefix) of a request whose API key and version are known. */
export function decodeResponse(frame: Buffer, apiKey: number, apiVersion: number): { correlationId: number; body: unknown } {
  const codec = apiCodecs[apiKey];
  if (codec === undefined) throw new RangeError(`unknown API key ${apiKey}`);
  const r = new Reader(frame);
  const header = decodeResponseHeader(r, responseHeaderVersion(codec, apiVersion));
  return { correlationId: header.correlationId, body: codec.decodeResponse(r, apiVersion) };
}
