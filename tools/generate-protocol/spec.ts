// Loads Apache Kafka's JSON message definitions and normalises them into a model the emitter can walk.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface VersionRange {
  lo: number;
  /** Inclusive; Infinity for "N+"; lo > hi means no version. */
  hi: number;
}

export const noVersions: VersionRange = { lo: 1, hi: 0 };

export type PrimitiveKind =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records';

export interface FieldType {
  kind: PrimitiveKind | 'struct' | 'array';
  /** For arrays: the element type. */
  element?: FieldType;
  /** For structs and arrays of structs. */
  struct?: StructSpec;
}

export interface FieldSpec {
  name: string;
  /** camelCase property name in TypeScript. */
  prop: string;
  type: FieldType;
  versions: VersionRange;
  nullableVersions: VersionRange;
  taggedVersions: VersionRange;
  tag: number | undefined;
  /** Overrides the message's flexible versions for this field's encoding (RequestHeader.ClientId: "none"). */
  flexibleVersions: VersionRange | undefined;
  ignorable: boolean;
  defaultText: string | undefined;
  about: string | undefined;
}

export interface StructSpec {
  /** Name in the definitions, e.g. "FetchTopic". */
  name: string;
  /** TypeScript type name, e.g. "FetchRequestFetchTopic". */
  typeName: string;
  fields: FieldSpec[];
}

export type MessageType = 'request' | 'response' | 'header' | 'data';

export interface MessageSpec {
  name: string;
  type: MessageType;
  apiKey: number | undefined;
  validVersions: VersionRange;
  flexibleVersions: VersionRange;
  latestVersionUnstable: boolean;
  root: StructSpec;
  /** Every struct of the message, root first, in definition order. */
  structs: StructSpec[];
}

export function parseVersionRange(text: string | undefined, what: string): VersionRange {
  if (text === undefined) throw new Error(`${what}: missing version range`);
  const t = text.trim();
  if (t === 'none') return noVersions;
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Infinity };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`${what}: bad version range ${JSON.stringify(text)}`);
}

export function inRange(r: VersionRange, v: number): boolean {
  return v >= r.lo && v <= r.hi;
}

export function isEmptyRange(r: VersionRange): boolean {
  return r.lo > r.hi;
}

/** Removes // line comments that are outside strings (the definitions are JSON with comments). */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

function camel(name: string): string {
  return name[0]!.toLowerCase() + name.slice(1);
}

const primitives = new Set<string>([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'uuid',
  'string',
  'bytes',
  'records',
]);

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  ignorable?: boolean;
  default?: string | number | boolean;
  about?: string;
  fields?: RawField[];
}

interface RawMessage {
  apiKey?: number;
  type: MessageType;
  name: string;
  validVersions: string;
  flexibleVersions?: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: { name: string; versions?: string; fields: RawField[] }[];
}

export function parseMessage(raw: RawMessage, file: string): MessageSpec {
  const msgName = raw.name;
  const structs: StructSpec[] = [];
  const byName = new Map<string, StructSpec>();
  const pendingCommon = new Map<string, RawField[]>();
  for (const cs of raw.commonStructs ?? []) pendingCommon.set(cs.name, cs.fields);

  const resolveStruct = (name: string, fields: RawField[] | undefined, where: string): StructSpec => {
    const existing = byName.get(name);
    if (fields === undefined) {
      if (existing) return existing;
      const common = pendingCommon.get(name);
      if (!common) throw new Error(`${file}: ${where}: unknown struct type ${name}`);
      return defineStruct(name, common);
    }
    if (existing) throw new Error(`${file}: ${where}: struct ${name} defined twice`);
    return defineStruct(name, fields);
  };

  const defineStruct = (name: string, rawFields: RawField[]): StructSpec => {
    // Struct names that already start with the message name (MetadataResponseTopic) are not prefixed again.
    const s: StructSpec = { name, typeName: name.startsWith(msgName) ? name : msgName + name, fields: [] };
    byName.set(name, s);
    structs.push(s);
    s.fields = rawFields.map((f) => parseField(f, `${name}.${f.name}`));
    return s;
  };

  const parseType = (text: string, rawFields: RawField[] | undefined, where: string): FieldType => {
    if (text.startsWith('[]')) {
      return { kind: 'array', element: parseType(text.slice(2), rawFields, where) };
    }
    if (primitives.has(text)) {
      if (rawFields) throw new Error(`${file}: ${where}: primitive ${text} with fields`);
      return { kind: text as PrimitiveKind };
    }
    if (!/^[A-Z][A-Za-z0-9]*$/.test(text)) throw new Error(`${file}: ${where}: bad type ${text}`);
    return { kind: 'struct', struct: resolveStruct(text, rawFields, where) };
  };

  const parseField = (f: RawField, where: string): FieldSpec => {
    const versions = parseVersionRange(f.versions, `${file}: ${where}.versions`);
    const tagged = f.taggedVersions === undefined ? noVersions : parseVersionRange(f.taggedVersions, `${file}: ${where}.taggedVersions`);
    if (!isEmptyRange(tagged) && f.tag === undefined) throw new Error(`${file}: ${where}: taggedVersions without tag`);
    return {
      name: f.name,
      prop: camel(f.name),
      type: parseType(f.type.trim(), f.fields, where),
      versions,
      nullableVersions:
        f.nullableVersions === undefined ? noVersions : parseVersionRange(f.nullableVersions, `${file}: ${where}.nullableVersions`),
      taggedVersions: tagged,
      tag: f.tag,
      flexibleVersions:
        f.flexibleVersions === undefined ? undefined : parseVersionRange(f.flexibleVersions, `${file}: ${where}.flexibleVersions`),
      ignorable: f.ignorable === true,
      defaultText: f.default === undefined ? undefined : String(f.default),
      about: f.about,
    };
  };

  const root = defineStruct(msgName, raw.fields);
  // Common structs never referenced are still emitted, so their types exist for the code that builds them.
  for (const [name, fields] of pendingCommon) if (!byName.has(name)) defineStruct(name, fields);

  return {
    name: msgName,
    type: raw.type,
    apiKey: raw.apiKey,
    validVersions: parseVersionRange(raw.validVersions, `${file}: validVersions`),
    flexibleVersions:
      raw.flexibleVersions === undefined ? noVersions : parseVersionRange(raw.flexibleVersions, `${file}: flexibleVersions`),
    latestVersionUnstable: raw.latestVersionUnstable === true,
    root,
    structs,
  };
}

export function loadMessages(dir: string): MessageSpec[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no message definitions (*.json) in ${dir}`);
  return (
    files
      .map((f) => {
        const text = readFileSync(join(dir, f), 'utf8');
        let raw: RawMessage;
        try {
          raw = JSON.parse(stripJsonComments(text)) as RawMessage;
        } catch (e) {
          throw new Error(`${f}: not valid JSON after removing comments: ${(e as Error).message}`);
        }
        return raw;
      })
      // APIs Kafka has removed keep a definition with `"validVersions": "none"` and no fields (ControlledShutdown,
      // LeaderAndIsr, StopReplica, UpdateMetadata in Kafka 4): nothing to generate.
      .flatMap((raw, i) =>
        isEmptyRange(parseVersionRange(raw.validVersions, `${files[i]}: validVersions`)) ? [] : [parseMessage(raw, files[i]!)],
      )
  );
}
