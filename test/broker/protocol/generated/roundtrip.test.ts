// Every message in the definitions, every version, both directions: encode a value built from the
// definitions, decode it back, compare; re-encoding the decoded value must give the same bytes.
import t from 'tap';
import * as generated from '../../../../broker/protocol/generated/index.ts';
import { Reader } from '../../../../broker/protocol/wire/reader.ts';
import { Writer } from '../../../../broker/protocol/wire/writer.ts';
import { messages, randomMessage, Rng } from '../support/random-messages.ts';
import type { Flavour } from '../support/random-messages.ts';

type Codec = {
  decode: (r: Reader, v: number) => unknown;
  encode: (w: Writer, v: number, m: unknown) => void;
};

function codecFor(name: string): Codec {
  const mod = generated as unknown as Record<string, unknown>;
  const decode = mod[`decode${name}`];
  const encode = mod[`encode${name}`];
  if (typeof decode !== 'function' || typeof encode !== 'function') throw new Error(`no generated codec for ${name}`);
  return { decode: decode as Codec['decode'], encode: encode as Codec['encode'] };
}

const flavours: Flavour[] = ['default', 'edge', 'edge', 'random', 'random', 'random'];
const rng = new Rng(0x5eed);
let cases = 0;

for (const m of messages()) {
  t.test(m.name, async (t) => {
    const codec = codecFor(m.name);
    for (let v = m.validVersions.lo; v <= m.validVersions.hi; v++) {
      for (const flavour of flavours) {
        const value = randomMessage(m, v, rng, flavour);
        const w = new Writer(64);
        codec.encode(w, v, value);
        const bytes = w.finish();
        const r = new Reader(bytes);
        const decoded = codec.decode(r, v);
        cases++;
        if (r.pos !== bytes.length) t.fail(`${m.name} v${v} ${flavour}: ${bytes.length - r.pos} byte(s) left after decoding`);
        t.strictSame(decoded, value, `${m.name} v${v} ${flavour} decodes to what was encoded`);
        const again = new Writer(16);
        codec.encode(again, v, decoded);
        const bytes2 = again.finish();
        if (!bytes2.equals(bytes)) t.fail(`${m.name} v${v} ${flavour}: re-encoding changed the bytes`);
      }
    }
  });
}

t.test('every API key in the definitions has a codec with its version range', async (t) => {
  const apis = messages().filter((m) => m.type === 'request');
  t.ok(apis.length >= 80, `${apis.length} APIs`);
  for (const m of apis) {
    const c = generated.apiCodecs[m.apiKey!];
    t.ok(c, `API key ${m.apiKey}`);
    t.equal(c!.minVersion, m.validVersions.lo);
    t.equal(c!.maxVersion, m.validVersions.hi);
  }
});

t.teardown(() => {
  console.log(`# round trips: ${cases}`);
});
