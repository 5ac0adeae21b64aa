// Growable writer of Kafka's primitive types. Small fields are written into one contiguous buffer; large
// byte fields (record batches) are not copied: they are kept by reference as separate chunks, so a Fetch
// response goes from the log to the socket without its batches ever being copied (writev).
import { ProtocolEncodeError } from './errors.ts';
import type { RawTaggedField } from './reader.ts';

const TWO_POW_32 = 4294967296;
/** Byte fields at least this large are referenced as their own chunk instead of being copied. */
export const zeroCopyThresholdBytes = 4096;
const maxUvarintBytes = 5;
const maxExactVarlong = 2 ** 52;
/** Strings up to this many characters try the ASCII fast path (its compact length fits one varint byte). */
const shortStringChars = 126;

export class Writer {
  buf: Buffer;
  pos: number;
  /** Start of the bytes in `buf` not yet handed to `chunks`. */
  private segmentStart: number;
  private chunks: Buffer[] | null;
  /** Bytes already handed to `chunks`. */
  private chunkedBytes: number;
  /** > 0 while writing a size-prefixed region (tagged field); large bytes are then copied, not chunked. */
  private sizedDepth: number;

  constructor(initialCapacityBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacityBytes);
    this.pos = 0;
    this.segmentStart = 0;
    this.chunks = null;
    this.chunkedBytes = 0;
    this.sizedDepth = 0;
  }

  /** Total bytes written so far, chunks included. */
  get length(): number {
    return this.chunkedBytes + this.pos - this.segmentStart;
  }

  private grow(need: number): void {
    const used = this.pos - this.segmentStart;
    let capacity = this.buf.length * 2;
    while (capacity < used + need) capacity *= 2;
    const next = Buffer.allocUnsafe(capacity);
    this.buf.copy(next, 0, this.segmentStart, this.pos);
    this.buf = next;
    this.segmentStart = 0;
    this.pos = used;
  }

  int8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  bool(v: boolean): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  uint16(v: number): void {
    this.int16(v);
  }

  int32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >> 24;
    b[p + 1] = v >> 16;
    b[p + 2] = v >> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  uint32(v: number): void {
    this.int32(v | 0);
  }

  int64(v: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    const hi = Math.floor(v / TWO_POW_32);
    const lo = v - hi * TWO_POW_32;
    const b = this.buf;
    const p = this.pos;
    b[p] = hi >> 24;
    b[p + 1] = hi >> 16;
    b[p + 2] = hi >> 8;
    b[p + 3] = hi;
    b[p + 4] = lo >>> 24;
    b[p + 5] = lo >>> 16;
    b[p + 6] = lo >>> 8;
    b[p + 7] = lo;
    this.pos = p + 8;
  }

  float64(v: number): void {
    if (this.pos + 8 > this.buf.length) this.grow(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uuid(v: string): void {
    if (this.pos + 16 > this.buf.length) this.grow(16);
    const n = this.buf.write(v, this.pos, 16, 'base64url');
    if (n !== 16 || v.length !== 22) throw new ProtocolEncodeError(`not a Kafka UUID (22 base64url characters): ${JSON.stringify(v)}`);
    this.pos += 16;
  }

  uvarint(v: number): void {
    if (this.pos + maxUvarintBytes > this.buf.length) this.grow(maxUvarintBytes);
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  varint(v: number): void {
    this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** Zig-zag varlong; exact for |v| <= 2^52 (the zig-zag value must stay below 2^53). */
  varlong(v: number): void {
    if (!(Math.abs(v) <= maxExactVarlong)) throw new ProtocolEncodeError(`varlong ${v} is outside ±2^52`);
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const b = this.buf;
    let p = this.pos;
    while (u >= 0x80) {
      b[p++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    b[p++] = u;
    this.pos = p;
  }

  private utf8(v: string, byteLength: number): void {
    if (this.pos + byteLength > this.buf.length) this.grow(byteLength);
    this.pos += this.buf.write(v, this.pos, byteLength, 'utf8');
  }

  /**
   * Fast path for short ASCII strings (most names): writes `prefixBytes` of room, then the characters one by
   * one; returns false (nothing written) at the first non-ASCII character, for the general path to take over.
   */
  private shortAscii(v: string, prefixBytes: number): boolean {
    const n = v.length;
    if (this.pos + prefixBytes + n > this.buf.length) this.grow(prefixBytes + n);
    const b = this.buf;
    let p = this.pos + prefixBytes;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) return false;
      b[p++] = c;
    }
    if (prefixBytes === 1) b[this.pos] = n + 1;
    else {
      b[this.pos] = n >> 8;
      b[this.pos + 1] = n;
    }
    this.pos = p;
    return true;
  }

  string(v: string): void {
    if (v.length <= shortStringChars && this.shortAscii(v, 2)) return;
    const n = Buffer.byteLength(v, 'utf8');
    if (n > 0x7fff) throw new ProtocolEncodeError(`string of ${n} bytes is longer than 32767`);
    this.int16(n);
    this.utf8(v, n);
  }

  nullableString(v: string | null): void {
    if (v === null) this.int16(-1);
    else this.string(v);
  }

  compactString(v: string): void {
    if (v.length <= shortStringChars && this.shortAscii(v, 1)) return;
    const n = Buffer.byteLength(v, 'utf8');
    this.uvarint(n + 1);
    this.utf8(v, n);
  }

  compactNullableString(v: string | null): void {
    if (v === null) this.uvarint(0);
    else this.compactString(v);
  }

  /** Appends bytes: copied when small, referenced as a chunk when large (unless inside a sized region). */
  raw(v: Buffer): void {
    const n = v.length;
    if (n >= zeroCopyThresholdBytes && this.sizedDepth === 0) {
      this.chunks ??= [];
      if (this.pos > this.segmentStart) {
        this.chunks.push(this.buf.subarray(this.segmentStart, this.pos));
        this.chunkedBytes += this.pos - this.segmentStart;
        this.segmentStart = this.pos;
      }
      this.chunks.push(v);
      this.chunkedBytes += n;
      return;
    }
    if (this.pos + n > this.buf.length) this.grow(n);
    v.copy(this.buf, this.pos);
    this.pos += n;
  }

  bytes(v: Buffer): void {
    this.int32(v.length);
    this.raw(v);
  }

  nullableBytes(v: Buffer | null): void {
    if (v === null) this.int32(-1);
    else this.bytes(v);
  }

  compactBytes(v: Buffer): void {
    this.uvarint(v.length + 1);
    this.raw(v);
  }

  compactNullableBytes(v: Buffer | null): void {
    if (v === null) this.uvarint(0);
    else this.compactBytes(v);
  }

  /** A records field: one buffer, or several written one after another under one size (no join). */
  records(v: Buffer | readonly Buffer[]): void {
    if (Buffer.isBuffer(v)) {
      this.bytes(v);
      return;
    }
    this.int32(totalLength(v));
    for (const part of v) this.raw(part);
  }

  nullableRecords(v: Buffer | readonly Buffer[] | null): void {
    if (v === null) this.int32(-1);
    else this.records(v);
  }

  compactRecords(v: Buffer | readonly Buffer[]): void {
    if (Buffer.isBuffer(v)) {
      this.compactBytes(v);
      return;
    }
    this.uvarint(totalLength(v) + 1);
    for (const part of v) this.raw(part);
  }

  compactNullableRecords(v: Buffer | readonly Buffer[] | null): void {
    if (v === null) this.uvarint(0);
    else this.compactRecords(v);
  }

  /** Reserves room for an unsigned-varint size prefix; returns the mark to pass to `endSized`. */
  beginSized(): number {
    if (this.pos + maxUvarintBytes > this.buf.length) this.grow(maxUvarintBytes);
    const mark = this.pos - this.segmentStart;
    this.pos += maxUvarintBytes;
    this.sizedDepth++;
    return mark;
  }

  /** Writes the size of everything since `beginSized` into its prefix, moving the payload back over the slack. */
  endSized(mark: number): void {
    this.sizedDepth--;
    const prefixAt = this.segmentStart + mark;
    const payloadAt = prefixAt + maxUvarintBytes;
    const size = this.pos - payloadAt;
    let p = prefixAt;
    let v = size;
    const b = this.buf;
    while (v >= 0x80) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p++] = v;
    if (p < payloadAt) {
      b.copyWithin(p, payloadAt, this.pos);
      this.pos -= payloadAt - p;
    }
  }

  /** Writes one already-encoded tagged field (tag, size, payload). */
  rawTaggedField(field: RawTaggedField): void {
    this.uvarint(field.tag);
    this.uvarint(field.data.length);
    this.raw(field.data);
  }

  /** Everything written, as one Buffer (concatenating chunks if there are any). */
  finish(): Buffer {
    const tail = this.buf.subarray(this.segmentStart, this.pos);
    if (this.chunks === null) return tail;
    return Buffer.concat([...this.chunks, tail], this.length);
  }

  /** Everything written, as chunks for a vectored socket write; no bytes are copied. */
  finishChunks(): Buffer[] {
    const tail = this.buf.subarray(this.segmentStart, this.pos);
    if (this.chunks === null) return [tail];
    return tail.length > 0 ? [...this.chunks, tail] : this.chunks;
  }

  /** Overwrites 4 bytes at an absolute offset of the first segment (size prefixes reserved at the start). */
  patchInt32AtStart(offset: number, v: number): void {
    const target = this.chunks === null ? this.buf : this.chunks[0]!;
    if (offset + 4 > target.length) throw new RangeError('patch outside the first segment');
    target.writeInt32BE(v, offset);
  }
}

function totalLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}
