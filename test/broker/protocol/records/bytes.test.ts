import t from 'tap';
import {
  assertVarlongRange,
  readInt64,
  sizeOfVarint,
  sizeOfVarlong,
  VARLONG_MAX_MAGNITUDE,
  writeInt64,
  writeVarint,
  writeVarlong,
} from '../../../../broker/protocol/records/bytes.ts';
import { prng } from './helpers.ts';

/** Reference zigzag varint encoder on BigInt (64-bit). */
function referenceVarlong(value: bigint): Buffer {
  let raw = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
  const bytes: number[] = [];
  while (raw >= 0x80n) {
    bytes.push(Number(raw & 0x7fn) | 0x80);
    raw >>= 7n;
  }
  bytes.push(Number(raw));
  return Buffer.from(bytes);
}

t.test('varint matches the reference for int32 edges and random values', async (t) => {
  const random = prng(7);
  const values = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, 2 ** 31 - 1, -(2 ** 31)];
  for (let index = 0; index < 2000; index++) values.push(Math.floor(random() * 2 ** 32) - 2 ** 31);
  const buffer = Buffer.alloc(10);
  for (const value of values) {
    const end = writeVarint(buffer, 0, value);
    const expected = referenceVarlong(BigInt(value));
    if (!buffer.subarray(0, end).equals(expected) || sizeOfVarint(value) !== end) {
      t.fail(`varint ${value}`);
      return;
    }
  }
  t.pass('all equal');
});

t.test('varlong matches the reference within ±2^52', async (t) => {
  const random = prng(8);
  const values = [
    0,
    -1,
    2 ** 30 - 1,
    -(2 ** 30),
    2 ** 30,
    -(2 ** 30) - 1,
    2 ** 31,
    -(2 ** 31) - 1,
    1_700_000_000_000,
    -1_700_000_000_000,
    VARLONG_MAX_MAGNITUDE,
    -VARLONG_MAX_MAGNITUDE,
  ];
  for (let index = 0; index < 2000; index++) values.push(Math.round((random() * 2 - 1) * 2 ** (random() * 52)));
  const buffer = Buffer.alloc(10);
  for (const value of values) {
    const end = writeVarlong(buffer, 0, value);
    const expected = referenceVarlong(BigInt(value));
    if (!buffer.subarray(0, end).equals(expected) || sizeOfVarlong(value) !== end) {
      t.fail(`varlong ${value}: ${buffer.subarray(0, end).toString('hex')} vs ${expected.toString('hex')}`);
      return;
    }
  }
  t.pass('all equal');
  t.throws(() => assertVarlongRange(VARLONG_MAX_MAGNITUDE + 2), RangeError);
  t.throws(() => writeVarlong(buffer, 0, 2 ** 60), RangeError);
  t.throws(() => sizeOfVarlong(0.5 + 2 ** 40), RangeError);
});

t.test('int64 as numbers', async (t) => {
  const buffer = Buffer.alloc(8);
  for (const value of [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_700_000_000_000, -1_700_000_000_000]) {
    writeInt64(buffer, 0, value);
    t.equal(buffer.readBigInt64BE(0), BigInt(value), `write ${value}`);
    t.equal(readInt64(buffer, 0), value, `read ${value}`);
  }
  buffer.writeBigInt64BE(-(2n ** 63n));
  t.equal(readInt64(buffer, 0), -(2 ** 63), 'beyond 2^53: nearest double');
  t.throws(() => writeInt64(buffer, 0, 2 ** 53), RangeError);
  t.throws(() => writeInt64(buffer, 0, 1.5), RangeError);
});
