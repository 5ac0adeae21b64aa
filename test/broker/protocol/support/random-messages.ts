// Builds message values from the definitions themselves (not from the generated code), as an independent
// oracle: for a given version, every field the version carries gets a random or edge value, every field it
// lacks gets its default, so decode(encode(value)) must give the value back exactly.
import type { FieldSpec, FieldType, MessageSpec, StructSpec } from '../../../../tools/generate-protocol/spec.ts';
import { inRange, isEmptyRange, loadMessages } from '../../../../tools/generate-protocol/spec.ts';
import { defaultOlderSpecDir, defaultSpecDir } from '../../../../tools/generate-protocol/main.ts';

/** Kafka's definitions the codec is generated from, and the older ones whose removed versions it keeps (spec/protocol.md). */
export const specDir = defaultSpecDir;
export const olderSpecDir = defaultOlderSpecDir;

let cached: MessageSpec[] | undefined;
export function messages(): MessageSpec[] {
  return (cached ??= loadMessages(specDir, olderSpecDir));
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** 'random': ordinary random values; 'edge': boundaries (empty/null, extremes, long arrays, unicode); 'default': defaults only. */
export type Flavour = 'random' | 'edge' | 'default';

const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const unicodeSamples = ['', 'a', 'topic-0001', 'ünïcødé', '日本語のトピック', '🚀 emoji 🎉', 'x'.repeat(300)];

function everNullable(f: FieldSpec): boolean {
  return !isEmptyRange(f.nullableVersions) || f.defaultText === 'null';
}

export function defaultValue(f: FieldSpec): unknown {
  const d = f.defaultText;
  if (d === 'null') return null;
  switch (f.type.kind) {
    case 'bool':
      return d === 'true';
    case 'string':
      return d ?? '';
    case 'uuid':
      return ZERO_UUID;
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return everNullable(f) ? null : Buffer.alloc(0);
    case 'array':
      return [];
    case 'struct':
      return defaultStruct(f.type.struct!);
    default:
      return d === undefined || d === '' ? 0 : Number(d);
  }
}

function defaultStruct(s: StructSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of s.fields) o[f.prop] = defaultValue(f);
  o._tagged = undefined;
  return o;
}

export class ValueBuilder {
  readonly rng: Rng;
  readonly flavour: Flavour;
  constructor(rng: Rng, flavour: Flavour) {
    this.rng = rng;
    this.flavour = flavour;
  }

  primitive(kind: string): unknown {
    const r = this.rng;
    const edge = this.flavour === 'edge';
    switch (kind) {
      case 'bool':
        return r.chance(0.5);
      case 'int8':
        return edge ? r.pick([-128, 127, -1, 0]) : r.int(-128, 127);
      case 'int16':
        return edge ? r.pick([-32768, 32767, -1]) : r.int(-32768, 32767);
      case 'uint16':
        return edge ? r.pick([0, 65535]) : r.int(0, 65535);
      case 'int32':
        return edge ? r.pick([-2147483648, 2147483647, -1, 0]) : r.int(-2147483648, 2147483647);
      case 'uint32':
        return edge ? r.pick([0, 4294967295]) : r.int(0, 4294967295);
      case 'int64':
        return edge ? r.pick([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -1, 0, 4294967296]) : r.int(-1099511627776, 1099511627776);
      case 'float64':
        return edge ? r.pick([0, -0.5, 1e300, Number.MIN_VALUE]) : (r.next() - 0.5) * 1e6;
      case 'uuid': {
        const b = Buffer.alloc(16);
        for (let i = 0; i < 16; i++) b[i] = r.int(0, 255);
        return b.toString('base64url');
      }
      case 'string':
        return edge ? r.pick(unicodeSamples) : `s-${r.int(0, 1e6)}-${r.pick(unicodeSamples.slice(0, 5))}`;
      case 'bytes':
      case 'records': {
        const n = edge ? r.pick([0, 1, 5000]) : r.int(0, 40);
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = r.int(0, 255);
        return b;
      }
      default:
        throw new Error(`unknown primitive ${kind}`);
    }
  }

  /** A value for field `f` as carried by version `v` (nullable only where the version allows it). */
  field(f: FieldSpec, v: number, depth: number): unknown {
    if (this.flavour === 'default') return defaultValue(f);
    const nullable = inRange(f.nullableVersions, v);
    if (nullable && this.rng.chance(this.flavour === 'edge' ? 0.4 : 0.15)) return null;
    return this.typed(f.type, v, depth);
  }

  typed(t: FieldType, v: number, depth: number): unknown {
    if (t.kind === 'struct') return this.struct(t.struct!, v, depth + 1);
    if (t.kind === 'array') {
      const n = depth > 3 ? 0 : this.flavour === 'edge' ? this.rng.pick([0, 1, depth === 0 ? 130 : 2]) : this.rng.int(0, 3);
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) a.push(this.typed(t.element!, v, depth + 1));
      return a;
    }
    return this.primitive(t.kind);
  }

  struct(s: StructSpec, v: number, depth: number, flexible = false): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (const f of s.fields) {
      if (!inRange(f.versions, v)) o[f.prop] = defaultValue(f);
      else if (inRange(f.taggedVersions, v) && this.rng.chance(0.5)) o[f.prop] = defaultValue(f);
      else o[f.prop] = this.field(f, v, depth);
    }
    o._tagged = undefined;
    if (flexible && this.flavour !== 'default' && this.rng.chance(0.3)) {
      // Unknown tagged fields, with tags above every known one, including a 5-byte varint tag.
      o._tagged = [
        { tag: 10000, data: Buffer.from([1, 2, 3]) },
        { tag: 2147483647, data: Buffer.alloc(0) },
      ];
    }
    return o;
  }
}

/** A value for message `m` at version `v`; unknown tagged fields are only added at the top level. */
export function randomMessage(m: MessageSpec, v: number, rng: Rng, flavour: Flavour): Record<string, unknown> {
  return new ValueBuilder(rng, flavour).struct(m.root, v, 0, inRange(m.flexibleVersions, v));
}
