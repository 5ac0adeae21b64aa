// Emits TypeScript for Kafka messages: per message and version, straight-line decoders and encoders.
// Versions whose wire layout is identical share one function (the body text is the key), so the output
// stays small without any schema interpretation at run time.
import type { FieldSpec, FieldType, MessageSpec, StructSpec } from './spec.ts';
import { inRange, isEmptyRange } from './spec.ts';

const fixedSize: Record<string, number> = {
  bool: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  float64: 8,
  uuid: 16,
};

function tsBase(t: FieldType, input: boolean): string {
  switch (t.kind) {
    case 'bool':
      return 'boolean';
    case 'string':
    case 'uuid':
      return 'string';
    case 'bytes':
      return 'Buffer';
    // Record batches to encode may come as several buffers (a fetch's chunks), written without joining them.
    case 'records':
      return input ? 'Buffer | readonly Buffer[]' : 'Buffer';
    case 'struct':
      return t.struct!.typeName + (input ? 'Input' : '');
    case 'array':
      return `${tsBase(t.element!, input)}[]`;
    default:
      return 'number';
  }
}

function everNullable(f: FieldSpec): boolean {
  return !isEmptyRange(f.nullableVersions) || f.defaultText === 'null';
}

function tsType(f: FieldSpec, input: boolean): string {
  return tsBase(f.type, input) + (everNullable(f) ? ' | null' : '');
}

function defaultExpr(f: FieldSpec): string {
  const d = f.defaultText;
  const k = f.type.kind;
  if (d === 'null') {
    if (!everNullable(f)) throw new Error(`${f.name}: default null on a field that is never nullable`);
    return 'null';
  }
  switch (k) {
    case 'bool':
      return d === 'true' ? 'true' : 'false';
    case 'string':
      return JSON.stringify(d ?? '');
    case 'uuid':
      return 'ZERO_UUID';
    case 'bytes':
      return 'EMPTY_BYTES';
    case 'records':
      return everNullable(f) ? 'null' : 'EMPTY_BYTES';
    case 'array':
      return '[]';
    case 'struct':
      return `default${f.type.struct!.typeName}()`;
    default: {
      if (d === undefined || d === '') return '0';
      const n = Number(d);
      if (!Number.isFinite(n)) throw new Error(`${f.name}: bad numeric default ${d}`);
      return String(n);
    }
  }
}

/** A JS expression that is true when `x` (a field value, never undefined) differs from the field's default. */
function notDefaultExpr(f: FieldSpec, x: string, needIsDefault: (s: StructSpec) => void): string {
  const d = defaultExpr(f);
  const k = f.type.kind;
  if (d === 'null') return `${x} !== null`;
  const nullable = everNullable(f);
  const orNull = (e: string) => (nullable ? `(${x} === null || ${e})` : e);
  switch (k) {
    case 'bytes':
    case 'records':
    case 'array':
      return orNull(`${x}.length !== 0`);
    case 'struct': {
      needIsDefault(f.type.struct!);
      return orNull(`!isDefault${f.type.struct!.typeName}(${x})`);
    }
    default:
      return `${x} !== ${d}`;
  }
}

interface VersionCtx {
  msg: MessageSpec;
  v: number;
  flexible: boolean;
}

function compactFor(f: FieldSpec, c: VersionCtx): boolean {
  if (!c.flexible) return false;
  return f.flexibleVersions === undefined || inRange(f.flexibleVersions, c.v);
}

export class MessageEmitter {
  private readonly functions: string[] = [];
  private readonly seen = new Map<string, Map<string, string>>();
  private readonly isDefaultNeeded = new Set<StructSpec>();
  private readonly isDefaultEmitted = new Set<StructSpec>();
  private readonly msg: MessageSpec;

  constructor(msg: MessageSpec) {
    this.msg = msg;
  }

  private intern(kind: 'decode' | 'encode', s: StructSpec, v: number, signature: string, body: string): string {
    const key = `${kind}|${s.typeName}`;
    let bodies = this.seen.get(key);
    if (!bodies) this.seen.set(key, (bodies = new Map()));
    const found = bodies.get(body);
    if (found) return found;
    const name = `${kind}${s.typeName}V${v}`;
    bodies.set(body, name);
    this.functions.push(`function ${name}${signature} {\n${body}}\n`);
    return name;
  }

  private ctx(v: number): VersionCtx {
    return { msg: this.msg, v, flexible: inRange(this.msg.flexibleVersions, v) };
  }

  // ---------------------------------------------------------------- decoding

  private minBytes(t: FieldType, f: FieldSpec | undefined, c: VersionCtx): number {
    const compact = f ? compactFor(f, c) : c.flexible;
    switch (t.kind) {
      case 'string':
        return compact ? 1 : 2;
      case 'bytes':
      case 'records':
        return compact ? 1 : 4;
      case 'array':
        return compact ? 1 : 4;
      case 'struct': {
        let n = c.flexible ? 1 : 0;
        for (const g of t.struct!.fields) {
          if (!inRange(g.versions, c.v) || (c.flexible && inRange(g.taggedVersions, c.v))) continue;
          n += g.type.kind === 'struct' && inRange(g.nullableVersions, c.v) ? 1 : this.minBytes(g.type, g, c);
        }
        return n;
      }
      default:
        return fixedSize[t.kind]!;
    }
  }

  private readPrimitive(kind: string, compact: boolean, nullable: boolean): string {
    switch (kind) {
      case 'string':
        return compact ? (nullable ? 'r.compactNullableString()' : 'r.compactString()') : nullable ? 'r.nullableString()' : 'r.string()';
      case 'bytes':
      case 'records':
        return compact ? (nullable ? 'r.compactNullableBytes()' : 'r.compactBytes()') : nullable ? 'r.nullableBytes()' : 'r.bytes()';
      default:
        return `r.${kind}()`;
    }
  }

  /** Statements that decode field `f` into `target` (declared with `decl`, or assigned when decl is ''). */
  private decodeField(f: FieldSpec, c: VersionCtx, target: string, decl: 'const ' | ''): string[] {
    const compact = compactFor(f, c);
    const nullable = inRange(f.nullableVersions, c.v);
    const t = f.type;
    const what = `${this.msg.name}.${f.name}`;
    if (t.kind === 'array') {
      const el = t.element!;
      const elType = tsBase(el, false);
      const elExpr = el.kind === 'struct' ? `${this.decodeStruct(el.struct!, c.v)}(r)` : this.readPrimitive(el.kind, c.flexible, false);
      const min = this.minBytes(el, undefined, c);
      const lines: string[] = [];
      if (decl) lines.push(`let ${target}: ${tsType(f, false)};`);
      lines.push(
        `{`,
        `  const n = ${compact ? `r.compactArrayLength(${min})` : `r.arrayLength(${min})`};`,
        nullable ? `  if (n < 0) ${target} = null;` : `  if (n < 0) throw unexpectedNull(${JSON.stringify(what)});`,
        `  else {`,
        `    const a: ${elType}[] = new Array(n);`,
        `    for (let i = 0; i < n; i++) a[i] = ${elExpr};`,
        `    ${target} = a;`,
        `  }`,
        `}`,
      );
      return lines;
    }
    let expr: string;
    if (t.kind === 'struct') {
      const fn = this.decodeStruct(t.struct!, c.v);
      expr = nullable ? `r.int8() < 0 ? null : ${fn}(r)` : `${fn}(r)`;
    } else {
      expr = this.readPrimitive(t.kind, compact, nullable);
    }
    return [`${decl}${target} = ${expr};`];
  }

  decodeStruct(s: StructSpec, v: number): string {
    const c = this.ctx(v);
    const lines: string[] = [];
    const props: string[] = [];
    const tagged: FieldSpec[] = [];
    for (const f of s.fields) {
      const local = `f_${f.prop}`;
      if (!inRange(f.versions, v)) {
        props.push(`${f.prop}: ${defaultExpr(f)}`);
      } else if (c.flexible && inRange(f.taggedVersions, v)) {
        lines.push(`let ${local}: ${tsType(f, false)} = ${defaultExpr(f)};`);
        tagged.push(f);
        props.push(`${f.prop}: ${local}`);
      } else {
        lines.push(...this.decodeField(f, c, local, 'const '));
        props.push(`${f.prop}: ${local}`);
      }
    }
    if (c.flexible) {
      lines.push('let _tagged: RawTaggedField[] | undefined;');
      lines.push('for (let n = r.uvarint(); n > 0; n--) {');
      lines.push('  const tag = r.uvarint();');
      lines.push('  const end = r.taggedFieldEnd();');
      if (tagged.length > 0) {
        lines.push('  switch (tag) {');
        for (const f of [...tagged].sort((a, b) => a.tag! - b.tag!)) {
          lines.push(`    case ${f.tag}: {`);
          for (const l of this.decodeField(f, c, `f_${f.prop}`, '')) lines.push(`      ${l}`);
          lines.push('      r.endTaggedField(end);', '      break;', '    }');
        }
        lines.push('    default:', '      _tagged = r.unknownTaggedField(tag, end, _tagged);', '  }');
      } else {
        lines.push('  _tagged = r.unknownTaggedField(tag, end, _tagged);');
      }
      lines.push('}');
      props.push('_tagged');
    } else {
      props.push('_tagged: undefined');
    }
    lines.push(`return {`, ...props.map((p) => `  ${p},`), `};`);
    const body = lines.map((l) => `  ${l}\n`).join('');
    return this.intern('decode', s, v, `(r: Reader): ${s.typeName}`, body);
  }

  // ---------------------------------------------------------------- encoding

  private writePrimitive(kind: string, compact: boolean, nullable: boolean, x: string): string {
    switch (kind) {
      case 'string':
        return compact
          ? nullable
            ? `w.compactNullableString(${x})`
            : `w.compactString(${x})`
          : nullable
            ? `w.nullableString(${x})`
            : `w.string(${x})`;
      case 'bytes':
        return compact
          ? nullable
            ? `w.compactNullableBytes(${x})`
            : `w.compactBytes(${x})`
          : nullable
            ? `w.nullableBytes(${x})`
            : `w.bytes(${x})`;
      case 'records':
        return compact
          ? nullable
            ? `w.compactNullableRecords(${x})`
            : `w.compactRecords(${x})`
          : nullable
            ? `w.nullableRecords(${x})`
            : `w.records(${x})`;
      default:
        return `w.${kind}(${x})`;
    }
  }

  /** Statements that write value `x` (never undefined) of field `f`. */
  private encodeValue(f: FieldSpec, c: VersionCtx, x: string): string[] {
    const compact = compactFor(f, c);
    const nullable = inRange(f.nullableVersions, c.v);
    const maybeNull = everNullable(f);
    const what = JSON.stringify(`${this.msg.name}.${f.name}`);
    const nn = maybeNull && !nullable ? `notNull(${x}, ${what}, ${c.v})` : x;
    const t = f.type;
    if (t.kind === 'array') {
      const el = t.element!;
      const lines: string[] = [];
      let arr = x;
      if (maybeNull) {
        lines.push(
          `if (${x} === null) ${nullable ? (compact ? 'w.uvarint(0);' : 'w.int32(-1);') : `throw notNull(null, ${what}, ${c.v});`}`,
        );
        lines.push('else {');
      } else {
        lines.push('{');
      }
      arr = x;
      lines.push(`  ${compact ? `w.uvarint(${arr}.length + 1);` : `w.int32(${arr}.length);`}`);
      const elWrite =
        el.kind === 'struct'
          ? `${this.encodeStruct(el.struct!, c.v)}(w, ${arr}[i]!);`
          : `${this.writePrimitive(el.kind, c.flexible, false, `${arr}[i]!`)};`;
      lines.push(`  for (let i = 0; i < ${arr}.length; i++) ${elWrite}`);
      lines.push('}');
      return lines;
    }
    if (t.kind === 'struct') {
      const fn = this.encodeStruct(t.struct!, c.v);
      if (nullable) return [`if (${x} === null) w.int8(-1);`, `else {`, `  w.int8(1);`, `  ${fn}(w, ${x});`, `}`];
      return [`${fn}(w, ${nn});`];
    }
    return [`${this.writePrimitive(t.kind, compact, nullable, nn)};`];
  }

  encodeStruct(s: StructSpec, v: number): string {
    const c = this.ctx(v);
    const lines: string[] = [];
    const tagged: FieldSpec[] = [];
    const need = (st: StructSpec) => this.isDefaultNeeded.add(st);
    for (const f of s.fields) {
      const local = `f_${f.prop}`;
      const what = JSON.stringify(`${this.msg.name}.${f.name}`);
      if (!inRange(f.versions, v)) {
        if (!f.ignorable) {
          lines.push(`if (m.${f.prop} !== undefined && ${notDefaultExpr(f, `m.${f.prop}`, need)}) throw fieldVersionError(${what}, ${v});`);
        }
      } else if (c.flexible && inRange(f.taggedVersions, v)) {
        tagged.push(f);
      } else {
        lines.push(`const ${local} = m.${f.prop} === undefined ? ${defaultExpr(f)} : m.${f.prop};`);
        lines.push(...this.encodeValue(f, c, local));
      }
    }
    if (c.flexible) {
      if (tagged.length === 0) {
        lines.push('writeUnknownTagged(w, m._tagged);');
      } else {
        const sorted = [...tagged].sort((a, b) => a.tag! - b.tag!);
        lines.push('const unknownTagged = m._tagged;');
        lines.push('let taggedCount = unknownTagged === undefined ? 0 : unknownTagged.length;');
        for (const f of sorted) {
          lines.push(`const t_${f.prop} = m.${f.prop};`);
          lines.push(`const has_${f.prop} = t_${f.prop} !== undefined && ${notDefaultExpr(f, `t_${f.prop}`, need)};`);
          lines.push(`if (has_${f.prop}) taggedCount++;`);
        }
        lines.push('w.uvarint(taggedCount);');
        lines.push('let u = 0;');
        for (const f of sorted) {
          lines.push(
            `if (unknownTagged !== undefined) while (u < unknownTagged.length && unknownTagged[u]!.tag < ${f.tag}) w.rawTaggedField(unknownTagged[u++]!);`,
          );
          lines.push(`if (has_${f.prop}) {`);
          lines.push(`  w.uvarint(${f.tag});`);
          lines.push('  const mark = w.beginSized();');
          for (const l of this.encodeValue(f, c, `t_${f.prop}!`)) lines.push(`  ${l}`);
          lines.push('  w.endSized(mark);');
          lines.push('}');
        }
        lines.push('if (unknownTagged !== undefined) while (u < unknownTagged.length) w.rawTaggedField(unknownTagged[u++]!);');
      }
    }
    const body = lines.map((l) => `  ${l}\n`).join('');
    return this.intern('encode', s, v, `(w: Writer, m: ${s.typeName}Input): void`, body);
  }

  // ---------------------------------------------------------------- types and defaults

  private emitTypes(): string[] {
    const out: string[] = [];
    for (const s of this.msg.structs) {
      for (const input of [false, true]) {
        out.push(`export interface ${s.typeName}${input ? 'Input' : ''} {`);
        for (const f of s.fields) {
          if (f.about) out.push(`  /** ${f.about.replace(/\*\//g, '* /')} */`);
          out.push(`  ${f.prop}${input ? '?' : ''}: ${tsType(f, input)};`);
        }
        out.push('  /** Tagged fields this codec does not know, kept to be re-encoded as they came. */');
        out.push('  _tagged?: RawTaggedField[] | undefined;');
        out.push('}', '');
      }
    }
    return out;
  }

  private emitDefaults(): string[] {
    const out: string[] = [];
    for (const s of this.msg.structs) {
      if (s === this.msg.root) continue;
      out.push(`export function default${s.typeName}(): ${s.typeName} {`);
      out.push('  return {');
      for (const f of s.fields) out.push(`    ${f.prop}: ${defaultExpr(f)},`);
      out.push('    _tagged: undefined,', '  };', '}', '');
    }
    return out;
  }

  private emitIsDefault(): string[] {
    const out: string[] = [];
    const need = (st: StructSpec) => this.isDefaultNeeded.add(st);
    for (;;) {
      const next = [...this.isDefaultNeeded].find((s) => !this.isDefaultEmitted.has(s));
      if (!next) break;
      this.isDefaultEmitted.add(next);
      out.push(`function isDefault${next.typeName}(s: ${next.typeName}Input): boolean {`);
      out.push('  return (');
      for (const f of next.fields) out.push(`    (s.${f.prop} === undefined || !(${notDefaultExpr(f, `s.${f.prop}`, need)})) &&`);
      out.push('    (s._tagged === undefined || s._tagged.length === 0)', '  );', '}', '');
    }
    return out;
  }

  /** The whole section of a file for this message: types, defaults, functions, version tables. */
  emit(): string[] {
    const m = this.msg;
    const name = m.name;
    const decoders: string[] = [];
    const encoders: string[] = [];
    for (let v = 0; v <= m.validVersions.hi; v++) {
      if (v < m.validVersions.lo) {
        decoders.push('undefined');
        encoders.push('undefined');
        continue;
      }
      decoders.push(this.decodeStruct(m.root, v));
      encoders.push(this.encodeStruct(m.root, v));
    }
    const out: string[] = [];
    out.push(`// ---------------------------------------------------------------- ${name}`, '');
    out.push(...this.emitTypes());
    out.push(...this.emitDefaults());
    out.push(...this.functions);
    out.push(...this.emitIsDefault());
    const flexLo = isEmptyRange(m.flexibleVersions) ? -1 : m.flexibleVersions.lo;
    out.push(
      `export const ${name}Versions = { min: ${m.validVersions.lo}, max: ${m.validVersions.hi}, flexibleMin: ${flexLo}, latestUnstable: ${m.latestVersionUnstable} } as const;`,
      '',
      `const decode${name}ByVersion: (((r: Reader) => ${name}) | undefined)[] = [${decoders.join(', ')}];`,
      '',
      `export function decode${name}(r: Reader, version: number): ${name} {`,
      `  const f = decode${name}ByVersion[version];`,
      `  if (f === undefined) throw unsupportedVersion(${JSON.stringify(name)}, version);`,
      '  return f(r);',
      '}',
      '',
      `const encode${name}ByVersion: (((w: Writer, m: ${name}Input) => void) | undefined)[] = [${encoders.join(', ')}];`,
      '',
      `export function encode${name}(w: Writer, version: number, m: ${name}Input): void {`,
      `  const f = encode${name}ByVersion[version];`,
      `  if (f === undefined) throw new ProtocolEncodeError(${JSON.stringify(name)} + ' has no version ' + version);`,
      '  f(w, m);',
      '}',
      '',
    );
    return out;
  }
}

export const fileHeader = [
  "// Generated by `npm run generate:protocol` from Apache Kafka's message definitions. Do not edit.",
  '/* eslint-disable */',
  "import type { Reader, RawTaggedField } from '../wire/reader.ts';",
  "import type { Writer } from '../wire/writer.ts';",
  "import { ProtocolEncodeError, unsupportedVersion } from '../wire/errors.ts';",
  "import { EMPTY_BYTES, ZERO_UUID, fieldVersionError, notNull, unexpectedNull, writeUnknownTagged } from '../wire/support.ts';",
  '',
];
