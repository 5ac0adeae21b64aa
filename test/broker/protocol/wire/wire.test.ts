import t from 'tap';
import { Reader } from '../../../../broker/protocol/wire/reader.ts';
import { Writer, zeroCopyThresholdBytes } from '../../../../broker/protocol/wire/writer.ts';
import { ProtocolDecodeError, ProtocolEncodeError } from '../../../../broker/protocol/wire/errors.ts';

t.test('unsigned varints: every length from 1 to 5 bytes', async (t) => {
  const cases: [number, number][] = [
    [0, 1],
    [127, 1],
    [128, 2],
    [16383, 2],
    [16384, 3],
    [2097151, 3],
    [2097152, 4],
    [268435455, 4],
    [268435456, 5],
    [4294967295, 5],
  ];
  for (const [v, len] of cases) {
    const w = new Writer(1);
    w.uvarint(v);
    const b = w.finish();
    t.equal(b.length, len, `${v} takes ${len} byte(s)`);
    t.equal(new Reader(b).uvarint(), v);
  }
});

t.test('zig-zag varints and varlongs', async (t) => {
  for (const v of [0, -1, 1, -64, 63, -2147483648, 2147483647]) {
    const w = new Writer(1);
    w.varint(v);
    t.equal(new Reader(w.finish()).varint(), v);
  }
  for (const v of [0, -1, 1, 2 ** 52, -(2 ** 52), 1700000000000, -1700000000000]) {
    const w = new Writer(1);
    w.varlong(v);
    t.equal(new Reader(w.finish()).varlong(), v);
  }
  t.throws(() => new Writer().varlong(Number.MIN_SAFE_INTEGER), ProtocolEncodeError, 'beyond ±2^52 is refused, not rounded');
  t.throws(() => new Reader(Buffer.from('fcffffffffffff1f', 'hex')).varlong(), ProtocolDecodeError);
});

t.test("int64 as numbers, big-endian two's complement", async (t) => {
  for (const v of [0, -1, 1, 4294967295, 4294967296, -4294967296, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
    const w = new Writer(1);
    w.int64(v);
    const b = w.finish();
    t.equal(b.readBigInt64BE(0), BigInt(v), `${v} bytes`);
    t.equal(new Reader(b).int64(), v);
  }
});

t.test("UUIDs use Kafka's base64url text form", async (t) => {
  const w = new Writer(1);
  w.uuid('AAAAAAAAAAAAAAAAAAAAAQ');
  const b = w.finish();
  t.equal(b.length, 16);
  t.equal(b[15], 1);
  t.throws(() => new Writer().uuid('not-a-uuid'), ProtocolEncodeError);
});

t.test('large byte fields are chunks, not copies; small ones are copied', async (t) => {
  const big = Buffer.alloc(zeroCopyThresholdBytes, 7);
  const w = new Writer(8);
  w.int32(1);
  w.bytes(big);
  w.int16(2);
  const chunks = w.finishChunks();
  t.equal(chunks.length, 3);
  t.equal(chunks[1], big, 'the very same Buffer');
  t.equal(w.length, 4 + 4 + big.length + 2);
  const flat = w.finish();
  t.equal(flat.length, w.length);
  const r = new Reader(flat);
  t.equal(r.int32(), 1);
  t.ok(r.bytes().equals(big));
  t.equal(r.int16(), 2);
});

t.test('sized regions get the shortest size prefix, also across growth', async (t) => {
  for (const size of [0, 1, 127, 128, 20000]) {
    const w = new Writer(2);
    w.int8(9);
    const mark = w.beginSized();
    w.raw(Buffer.alloc(size, 3));
    w.endSized(mark);
    w.int8(8);
    const r = new Reader(w.finish());
    t.equal(r.int8(), 9);
    t.equal(r.uvarint(), size);
    t.ok(r.raw(size).every((x) => x === 3));
    t.equal(r.int8(), 8);
    t.equal(r.remaining(), 0);
  }
});

t.test('reads past the end are typed errors', async (t) => {
  const r = new Reader(Buffer.from([1, 2, 3]));
  t.throws(() => r.int32(), ProtocolDecodeError);
  t.equal(r.pos, 0, 'position unchanged after a failed read');
  t.throws(() => new Reader(Buffer.from([0x00, 0x05, 0x61])).string(), ProtocolDecodeError);
  t.throws(() => new Reader(Buffer.from([0xff, 0xff])).string(), ProtocolDecodeError, 'null where not nullable');
  t.throws(() => new Reader(Buffer.from([0x80])).uvarint(), ProtocolDecodeError);
});
