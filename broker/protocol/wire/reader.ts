// Bounds-checked reader of Kafka's primitive types over a Buffer. Every read that would pass `end` throws a
// ProtocolDecodeError; lengths and counts are checked against the bytes that remain before anything is
// allocated, so a frame can never make the decoder allocate more than the frame's own size.
import { ProtocolDecodeError } from './errors.ts';

const TWO_POW_32 = 4294967296;
/** Largest zig-zag varlong decoded exactly: 2^53 (±2^52 signed). */
const maxExactZigZag = 2 ** 53;

export interface RawTaggedField {
  tag: number;
  data: Buffer;
}

export class Reader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    if (pos < 0 || end > buf.length || pos > end) throw new RangeError('Reader bounds outside the buffer');
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  truncated(need: number): ProtocolDecodeError {
    return new ProtocolDecodeError('TRUNCATED', `need ${need} more byte(s) at position ${this.pos}, ${this.end - this.pos} remain`);
  }

  int8(): number {
    const p = this.pos;
    if (p + 1 > this.end) throw this.truncated(1);
    this.pos = p + 1;
    return (this.buf[p]! << 24) >> 24;
  }

  bool(): boolean {
    const p = this.pos;
    if (p + 1 > this.end) throw this.truncated(1);
    this.pos = p + 1;
    return this.buf[p] !== 0;
  }

  int16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw this.truncated(2);
    this.pos = p + 2;
    const b = this.buf;
    return ((b[p]! << 24) >> 16) | b[p + 1]!;
  }

  uint16(): number {
    const p = this.pos;
    if (p + 2 > this.end) throw this.truncated(2);
    this.pos = p + 2;
    const b = this.buf;
    return (b[p]! << 8) | b[p + 1]!;
  }

  int32(): number {
    const p = this.pos;
    if (p + 4 > this.end) throw this.truncated(4);
    this.pos = p + 4;
    const b = this.buf;
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
  }

  uint32(): number {
    return this.int32() >>> 0;
  }

  /** int64 as a JS number: exact for |v| <= 2^53 - 1, the nearest double beyond (see spec/protocol.md). */
  int64(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(8);
    this.pos = p + 8;
    const b = this.buf;
    const hi = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
    return hi * TWO_POW_32 + lo;
  }

  float64(): number {
    const p = this.pos;
    if (p + 8 > this.end) throw this.truncated(8);
    this.pos = p + 8;
    return this.buf.readDoubleBE(p);
  }

  /** A UUID in Kafka's own text form: URL-safe base64 without padding (22 characters). */
  uuid(): string {
    const p = this.pos;
    if (p + 16 > this.end) throw this.truncated(16);
    this.pos = p + 16;
    return this.buf.toString('base64url', p, p + 16);
  }

  /** Kafka's unsigned varint (at most 5 bytes, 32 bits). */
  uvarint(): number {
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    if (p >= end) throw this.truncated(1);
    let byte = b[p++]!;
    if (byte < 0x80) {
      this.pos = p;
      return byte;
    }
    let value = byte & 0x7f;
    let shift = 7;
    for (;;) {
      if (p >= end) throw this.truncated(1);
      byte = b[p++]!;
      if (shift === 28) {
        if (byte > 0x0f) throw new ProtocolDecodeError('BAD_VARINT', `unsigned varint longer than 32 bits at ${this.pos}`);
        value += byte * 268435456;
        break;
      }
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7;
    }
    this.pos = p;
    return value;
  }

  /** Zig-zag signed varint (32 bits). */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }

  /** Zig-zag signed varlong (64 bits), as a JS number; values beyond ±2^52 are rejected, not rounded. */
  varlong(): number {
    const b = this.buf;
    let p = this.pos;
    let value = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (p >= this.end) throw this.truncated(1);
      if (i === 10) throw new ProtocolDecodeError('BAD_VARINT', `varlong longer than 64 bits at ${this.pos}`);
      const byte = b[p++]!;
      value += (byte & 0x7f) * mul;
      if (byte < 0x80) break;
      mul *= 128;
    }
    if (value > maxExactZigZag) throw new ProtocolDecodeError('BAD_VARINT', `varlong beyond ±2^52 at ${this.pos}`);
    this.pos = p;
    return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
  }

  private take(len: number): number {
    const p = this.pos;
    if (len > this.end - p) throw this.truncated(len);
    this.pos = p + len;
    return p;
  }

  private utf8(len: number): string {
    const p = this.take(len);
    return this.buf.toString('utf8', p, p + len);
  }

  string(): string {
    const len = this.int16();
    if (len < 0) throw new ProtocolDecodeError('UNEXPECTED_NULL', `null string where a string is required at ${this.pos - 2}`);
    return this.utf8(len);
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) {
      if (len !== -1) throw new ProtocolDecodeError('BAD_LENGTH', `string length ${len}`);
      return null;
    }
    return this.utf8(len);
  }

  compactString(): string {
    const n = this.uvarint();
    if (n === 0) throw new ProtocolDecodeError('UNEXPECTED_NULL', `null compact string where a string is required at ${this.pos}`);
    return this.utf8(n - 1);
  }

  compactNullableString(): string | null {
    const n = this.uvarint();
    return n === 0 ? null : this.utf8(n - 1);
  }

  /** Bytes as a zero-copy slice of the frame. */
  bytes(): Buffer {
    const len = this.int32();
    if (len < 0) throw new ProtocolDecodeError('UNEXPECTED_NULL', `null bytes where bytes are required at ${this.pos - 4}`);
    const p = this.take(len);
    return this.buf.subarray(p, p + len);
  }

  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len < 0) {
      if (len !== -1) throw new ProtocolDecodeError('BAD_LENGTH', `bytes length ${len}`);
      return null;
    }
    const p = this.take(len);
    return this.buf.subarray(p, p + len);
  }

  compactBytes(): Buffer {
    const n = this.uvarint();
    if (n === 0) throw new ProtocolDecodeError('UNEXPECTED_NULL', `null compact bytes where bytes are required at ${this.pos}`);
    const p = this.take(n - 1);
    return this.buf.subarray(p, p + n - 1);
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const p = this.take(n - 1);
    return this.buf.subarray(p, p + n - 1);
  }

  /** Raw bytes of a known length (tagged-field payloads). */
  raw(len: number): Buffer {
    const p = this.take(len);
    return this.buf.subarray(p, p + len);
  }

  /**
   * An array count (int32, -1 = null). `minElementBytes` is the smallest encoding of one element; the count is
   * rejected before any allocation when the elements could not fit in what remains.
   */
  arrayLength(minElementBytes: number): number {
    const n = this.int32();
    if (n < 0) {
      if (n !== -1) throw new ProtocolDecodeError('BAD_LENGTH', `array length ${n}`);
      return -1;
    }
    this.checkCount(n, minElementBytes);
    return n;
  }

  /** A compact array count (unsigned varint N+1, 0 = null); returns -1 for null. */
  compactArrayLength(minElementBytes: number): number {
    const n = this.uvarint() - 1;
    if (n >= 0) this.checkCount(n, minElementBytes);
    return n;
  }

  private checkCount(n: number, minElementBytes: number): void {
    if (n * (minElementBytes > 0 ? minElementBytes : 1) > this.end - this.pos) {
      throw new ProtocolDecodeError('BAD_LENGTH', `array of ${n} element(s) cannot fit in the ${this.end - this.pos} byte(s) that remain`);
    }
  }

  /** Start of a tagged field: returns the position its payload must end at. */
  taggedFieldEnd(): number {
    const size = this.uvarint();
    if (size > this.end - this.pos) throw this.truncated(size);
    return this.pos + size;
  }

  /** After decoding a known tagged field: it must not have run past its declared size. */
  endTaggedField(end: number): void {
    if (this.pos > end) throw new ProtocolDecodeError('BAD_LENGTH', `tagged field overran its declared size by ${this.pos - end} byte(s)`);
    this.pos = end;
  }

  unknownTaggedField(tag: number, end: number, into: RawTaggedField[] | undefined): RawTaggedField[] {
    const list = into ?? [];
    list.push({ tag, data: this.buf.subarray(this.pos, end) });
    this.pos = end;
    return list;
  }
}
