// The canned record data the fake broker serves in Fetch responses, built by hand so the capture tool does not
// depend on the record-batch code under development: one record at offset 0, in the message format the Fetch
// version implies (magic 2 batches from Fetch v4, magic 1 message sets before).
import { crc32c } from '@node-rs/crc32';
import { crc32 } from 'node:zlib';

/** A fixed timestamp keeps the captured responses identical from one capture run to the next. */
export const cannedTimestampMs = 1_700_000_000_000;
export const cannedKey = Buffer.from('golden-key');
export const cannedValue = Buffer.from('golden-value');

function zigzagVarint(v: number): Buffer {
  let u = v >= 0 ? v * 2 : -v * 2 - 1;
  const out: number[] = [];
  while (u >= 0x80) {
    out.push((u % 128) | 0x80);
    u = Math.floor(u / 128);
  }
  out.push(u);
  return Buffer.from(out);
}

function int64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}

/** A magic-2 record batch holding one record (key, value, one header) at `baseOffset`. */
export function magic2Batch(baseOffset = 0): Buffer {
  const headerKey = Buffer.from('source');
  const headerValue = Buffer.from('skafos-golden');
  const recordBody = Buffer.concat([
    Buffer.from([0]), // attributes
    zigzagVarint(0), // timestamp delta
    zigzagVarint(0), // offset delta
    zigzagVarint(cannedKey.length),
    cannedKey,
    zigzagVarint(cannedValue.length),
    cannedValue,
    zigzagVarint(1), // header count
    zigzagVarint(headerKey.length),
    headerKey,
    zigzagVarint(headerValue.length),
    headerValue,
  ]);
  const record = Buffer.concat([zigzagVarint(recordBody.length), recordBody]);
  // From attributes to the end: the part the CRC-32C covers.
  const tail = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  let p = 0;
  p = tail.writeInt16BE(0, p); // attributes: no compression, create time
  p = tail.writeInt32BE(0, p); // last offset delta
  p = tail.writeBigInt64BE(BigInt(cannedTimestampMs), p); // base timestamp
  p = tail.writeBigInt64BE(BigInt(cannedTimestampMs), p); // max timestamp
  p = tail.writeBigInt64BE(-1n, p); // producer id
  p = tail.writeInt16BE(-1, p); // producer epoch
  p = tail.writeInt32BE(-1, p); // base sequence
  tail.writeInt32BE(1, p); // record count
  const crcd = Buffer.concat([tail, record]);
  const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
  head.writeBigInt64BE(BigInt(baseOffset), 0);
  head.writeInt32BE(4 + 1 + 4 + crcd.length, 8); // batch length: from partition leader epoch to the end
  head.writeInt32BE(0, 12); // partition leader epoch
  head.writeInt8(2, 16); // magic
  head.writeUInt32BE(crc32c(crcd) >>> 0, 17);
  return Buffer.concat([head, crcd]);
}

/** A legacy message set holding one magic-1 (or magic-0) message at `offset`. */
export function legacyMessageSet(magic: 0 | 1, offset = 0): Buffer {
  const parts: Buffer[] = [Buffer.from([magic, 0])];
  if (magic === 1) parts.push(int64(cannedTimestampMs));
  const keyLen = Buffer.alloc(4);
  keyLen.writeInt32BE(cannedKey.length);
  const valueLen = Buffer.alloc(4);
  valueLen.writeInt32BE(cannedValue.length);
  parts.push(keyLen, cannedKey, valueLen, cannedValue);
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  const message = Buffer.concat([crc, body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(message.length);
  return Buffer.concat([int64(offset), size, message]);
}

/** The records a Fetch response of `fetchVersion` carries for offset 0. */
export function cannedRecordsFor(fetchVersion: number): Buffer {
  if (fetchVersion >= 4) return magic2Batch(0);
  return legacyMessageSet(fetchVersion >= 2 ? 1 : 0, 0);
}
