// Mutated and truncated frames of every API: decoding returns a value or throws ProtocolDecodeError,
// nothing else, and never allocates beyond what the frame could describe.
import t from 'tap';
import { decodeRequest, encodeRequest } from '../../../broker/protocol/frame.ts';
import { apiCodecs } from '../../../broker/protocol/generated/index.ts';
import { ProtocolDecodeError } from '../../../broker/protocol/wire/errors.ts';
import { Reader } from '../../../broker/protocol/wire/reader.ts';
import { Writer } from '../../../broker/protocol/wire/writer.ts';
import { messages, randomMessage, Rng } from './support/random-messages.ts';

const totalCases = Number(process.env.SKAFOS_FUZZ_CASES ?? 100000);
const rng = new Rng(0xf022);

interface Seed {
  kind: 'request' | 'response';
  apiKey: number;
  version: number;
  bytes: Buffer;
}
const seeds: Seed[] = [];
for (const m of messages()) {
  if (m.type !== 'request' && m.type !== 'response') continue;
  const codec = apiCodecs[m.apiKey!]!;
  for (let v = m.validVersions.lo; v <= m.validVersions.hi; v++) {
    const value = randomMessage(m, v, rng, rng.chance(0.5) ? 'random' : 'edge');
    if (m.type === 'request') {
      seeds.push({
        kind: 'request',
        apiKey: m.apiKey!,
        version: v,
        bytes: encodeRequest(m.apiKey!, v, rng.int(0, 1e6), 'fuzz', value).subarray(4),
      });
    } else {
      const w = new Writer(64);
      codec.encodeResponse(w, v, value);
      seeds.push({ kind: 'response', apiKey: m.apiKey!, version: v, bytes: w.finish() });
    }
  }
}

const interesting = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe];
function mutate(src: Buffer): Buffer {
  let b = Buffer.from(src);
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    const op = rng.int(0, 5);
    if (b.length === 0) break;
    const at = rng.int(0, b.length - 1);
    switch (op) {
      case 0:
        b[at] = rng.int(0, 255);
        break;
      case 1:
        b[at] = rng.pick(interesting);
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3:
        if (at + 4 <= b.length) b.writeInt32BE(rng.pick([0x7fffffff, -2, 0x10000000, -1]), at);
        break;
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.int(1, 8))]);
        break;
      case 5:
        if (at + 2 <= b.length) b.writeInt16BE(rng.pick([0x7fff, -2, -1]), at);
        break;
    }
  }
  return b;
}

t.test(`${totalCases} mutated frames decode to a value or a typed error`, async (t) => {
  let values = 0;
  let typedErrors = 0;
  const otherErrors: string[] = [];
  const heapStart = process.memoryUsage().heapUsed;
  let heapPeak = heapStart;
  for (let i = 0; i < totalCases; i++) {
    const seed = seeds[i % seeds.length]!;
    const frame = mutate(seed.bytes);
    try {
      if (seed.kind === 'request') decodeRequest(frame);
      else apiCodecs[seed.apiKey]!.decodeResponse(new Reader(frame), seed.version);
      values++;
    } catch (e) {
      if (e instanceof ProtocolDecodeError) typedErrors++;
      else if (otherErrors.length < 10)
        otherErrors.push(`${seed.kind} ${seed.apiKey} v${seed.version} ${frame.toString('hex').slice(0, 200)}: ${(e as Error).stack}`);
    }
    if ((i & 4095) === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }
  t.same(otherErrors, [], 'no exception other than ProtocolDecodeError');
  t.ok(typedErrors > totalCases / 10, `typed errors: ${typedErrors}, values: ${values}`);
  // Every frame here is a few KiB at most; were a length or count trusted, one case could ask for GiBs.
  t.ok(heapPeak - heapStart < 256 * 1024 * 1024, `heap grew by ${((heapPeak - heapStart) / 1048576).toFixed(1)} MiB at most`);
});

t.test('absurd counts and lengths fail before allocating', async (t) => {
  const r = new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
  t.throws(() => r.arrayLength(1), ProtocolDecodeError);
  t.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])).compactArrayLength(4), ProtocolDecodeError);
  t.throws(() => new Reader(Buffer.from([0x00, 0x10, 0x00, 0x00, 0x61])).bytes(), ProtocolDecodeError);
  t.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).uvarint(), ProtocolDecodeError, 'varint over 5 bytes');
  t.throws(() => new Reader(Buffer.from([0xff, 0xfe])).nullableString(), ProtocolDecodeError, 'string length -2');
});
