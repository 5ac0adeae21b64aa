// Allocation-free int64 and varint helpers.
//
// int64 fields are exposed as JS numbers (no BigInt allocation). Values within ±2^53 are exact,
// which covers offsets, millisecond timestamps and producer ids in practice; beyond that the
// nearest double is returned.

const TWO_POW_32 = 0x1_0000_0000;

export function readInt64(buffer: Buffer, position: number): number {
  return buffer.readInt32BE(position) * TWO_POW_32 + buffer.readUInt32BE(position + 4);
}

export function writeInt64(buffer: Buffer, position: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`int64 value must be a safe integer, got ${value}`);
  const high = Math.floor(value / TWO_POW_32);
  const low = value - high * TWO_POW_32;
  buffer.writeInt32BE(high, position);
  buffer.writeUInt32BE(low, position + 4);
}

/** Bytes of the zigzag varint encoding of a signed 32-bit integer. */
export function sizeOfVarint(value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (raw >= 0x80) {
    raw >>>= 7;
    bytes++;
  }
  return bytes;
}

/** Writes a zigzag varint (signed 32-bit), returns the position after it. */
export function writeVarint(buffer: Buffer, position: number, value: number): number {
  let raw = ((value << 1) ^ (value >> 31)) >>> 0;
  while (raw >= 0x80) {
    buffer[position++] = (raw & 0x7f) | 0x80;
    raw >>>= 7;
  }
  buffer[position++] = raw;
  return position;
}

/** Largest |value| a varlong is written for: keeps the zigzag (2|v| or 2|v|-1) exact as a double. */
export const VARLONG_MAX_MAGNITUDE = 2 ** 52;

/** Zigzag of an integer with |value| <= VARLONG_MAX_MAGNITUDE as a non-negative double. */
function zigzag64(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function assertVarlongRange(value: number): void {
  if (!Number.isInteger(value) || value > VARLONG_MAX_MAGNITUDE || value < -VARLONG_MAX_MAGNITUDE) {
    throw new RangeError(`varlong value must be an integer within ±2^52, got ${value}`);
  }
}

/** Bytes of the zigzag varlong encoding of an integer with |value| <= VARLONG_MAX_MAGNITUDE. */
export function sizeOfVarlong(value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) return sizeOfVarint(value);
  assertVarlongRange(value);
  let raw = zigzag64(value);
  let bytes = 1;
  while (raw >= 0x80) {
    raw = Math.floor(raw / 0x80);
    bytes++;
  }
  return bytes;
}

/** Writes a zigzag varlong; |value| <= VARLONG_MAX_MAGNITUDE. Returns the position after it. */
export function writeVarlong(buffer: Buffer, position: number, value: number): number {
  if (value >= -0x4000_0000 && value < 0x4000_0000) return writeVarint(buffer, position, value);
  assertVarlongRange(value);
  let raw = zigzag64(value);
  while (raw >= 0x80) {
    const low7 = raw % 0x80;
    buffer[position++] = low7 | 0x80;
    raw = (raw - low7) / 0x80;
  }
  buffer[position++] = raw;
  return position;
}
