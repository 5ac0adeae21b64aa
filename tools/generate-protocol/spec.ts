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

function readRaw(dir: string, f: string): RawMessage {
  const text = readFileSync(join(dir, f), 'utf8');
  try {
    return JSON.parse(stripJsonComments(text)) as RawMessage;
  } catch (e) {
    throw new Error(`${f}: not valid JSON after removing comments: ${(e as Error).message}`);
  }
}

/**
 * Field lists merged for a message whose oldest versions were removed (KIP-896): the current definitions'
 * fields, plus the older definitions' fields that existed only in the removed versions (below `lo`), each placed
 * after the field it followed there. Inline structs present in both are merged the same way.
 */
function mergeFields(current: RawField[], older: RawField[], lo: number, where: string): RawField[] {
  const out = current.map((f) => ({ ...f }));
  let after = -1; // index in `out` of the last older field placed or found
  for (const of of older) {
    const i = out.findIndex((f) => f.name === of.name);
    if (i >= 0) {
      const nf = out[i]!;
      if (nf.fields && of.fields) nf.fields = mergeFields(nf.fields, of.fields, lo, `${where}.${of.name}`);
      const nv = parseVersionRange(nf.versions, `${where}.${nf.name}`);
      const ov = parseVersionRange(of.versions, `${where}.${of.name}`);
      // A field the removed versions carried too keeps them (its current range starts at the new oldest version).
      if (ov.lo < nv.lo && nv.lo <= lo) nf.versions = of.versions;
      after = i;
      continue;
    }
    const ov = parseVersionRange(of.versions, `${where}.${of.name}`);
    if (isEmptyRange(ov) || ov.hi >= lo) continue; // not a field of the removed versions only
    out.splice(after + 1, 0, { ...of });
    after++;
  }
  return out;
}

/**
 * A current definition with the versions its API had in the older definitions but Kafka has removed since
 * (KIP-896: Kafka 4 dropped ListOffsets v0, Produce v0-v2, ...): Skafos keeps serving them for old clients. Only
 * a continuous history is merged (the older versions reach the current oldest one); removed APIs are not.
 */
export function withRemovedVersions(current: RawMessage, older: RawMessage | undefined, file: string): RawMessage {
  if (older === undefined || older.name !== current.name) return current;
  const now = parseVersionRange(current.validVersions, `${file}: validVersions`);
  const before = parseVersionRange(older.validVersions, `${file} (older): validVersions`);
  if (isEmptyRange(now) || isEmptyRange(before) || before.lo >= now.lo || before.hi < now.lo - 1) return current;
  const hi = now.hi === Infinity ? '+' : `-${now.hi}`;
  const commonStructs = current.commonStructs?.map((cs) => {
    const o = older.commonStructs?.find((x) => x.name === cs.name);
    return o ? { ...cs, fields: mergeFields(cs.fields, o.fields, now.lo, `${file}: ${cs.name}`) } : cs;
  });
  return {
    ...current,
    validVersions: `${before.lo}${hi}`,
    fields: mergeFields(current.fields, older.fields, now.lo, file),
    ...(commonStructs ? { commonStructs } : {}),
  };
}

/**
 * The message definitions of `dir`; with `olderDir`, each merged with the versions Kafka has removed since those
 * older definitions (withRemovedVersions).
 */
export function loadMessages(dir: string, olderDir?: string): MessageSpec[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no message definitions (*.json) in ${dir}`);
  const older = olderDir === undefined ? new Set<string>() : new Set(readdirSync(olderDir).filter((f) => f.endsWith('.json')));
  return (
    files
      .map((f) => withRemovedVersions(readRaw(dir, f), older.has(f) ? readRaw(olderDir!, f) : undefined, f))
      // APIs Kafka has removed keep a definition with `"validVersions": "none"` and no fields (ControlledShutdown,
      // LeaderAndIsr, StopReplica, UpdateMetadata in Kafka 4): nothing to generate.
      .flatMap((raw, i) =>
        isEmptyRange(parseVersionRange(raw.validVersions, `${files[i]}: validVersions`)) ? [] : [parseMessage(raw, files[i]!)],
      )
  );
}
