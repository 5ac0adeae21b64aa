// Keys of the local object store as file names (local-object-store.ts describes the layout): key `a/b/c` is
// the file `<root>/a%/b%/c`; each segment is escaped to its UTF-8 bytes, `a-z 0-9 - _ . ~ = + , @` kept (but a
// leading `.`), every other byte `%XX`; a directory adds `%`. Names that are not the canonical escaping of a
// segment are foreign. And the walk that lists keys in UTF-8 order from the directories.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidObjectKeyError, MAX_OBJECT_KEY_BYTES } from './object-store.ts';
import { compareUtf8, isErrno } from './fs-util.ts';

/** Longest escaped segment: NAME_MAX (255) less the `%` a directory name adds. */
export const MAX_SEGMENT_NAME_BYTES = 254;

/** Characters a segment keeps as they are in its file name (`.` not in first place). */
const KEEP = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789-_.~=+,@') KEEP[c.charCodeAt(0)] = 1;
const PLAIN_SEGMENT = /^[a-z0-9\-_~=+,@][a-z0-9\-_.~=+,@]*$/;
const HEX = '0123456789ABCDEF';
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The escaped file name of one key segment (without the `%` a directory adds). */
export function escapeSegment(segment: string): string {
  if (PLAIN_SEGMENT.test(segment)) return segment;
  let out = '';
  const bytes = Buffer.from(segment, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 128 && KEEP[b] === 1 && !(i === 0 && b === 0x2e)) out += String.fromCharCode(b);
    else out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}

/** The segment whose canonical escaped name is `name`, or null if `name` is not one (a foreign file). */
export function unescapeSegment(name: string): string | null {
  if (PLAIN_SEGMENT.test(name)) return name;
  if (name === '' || name.startsWith('.')) return null;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x25) {
      const hi = HEX.indexOf(name[i + 1] ?? 'x');
      const lo = HEX.indexOf(name[i + 2] ?? 'x');
      if (hi < 0 || lo < 0) return null;
      bytes.push(hi * 16 + lo);
      i += 2;
    } else if (c < 128 && KEEP[c] === 1) {
      bytes.push(c);
    } else {
      return null;
    }
  }
  let segment: string;
  try {
    segment = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
  return segmentProblem(segment) === null && escapeSegment(segment) === name ? segment : null;
}

/** Why `segment` cannot be a key segment, or null when it can. */
export function segmentProblem(segment: string): string | null {
  if (segment === '') return 'empty segment (leading, trailing or double "/")';
  if (segment === '.' || segment === '..') return `"${segment}" segment`;
  return null;
}

/** Validates a key and returns the file names along its path: directories with `%`, the object last. */
export function keyToNames(key: string): string[] {
  if (typeof key !== 'string') throw new InvalidObjectKeyError(key, 'must be a string');
  if (key === '') throw new InvalidObjectKeyError(key, 'empty');
  if (!key.isWellFormed()) throw new InvalidObjectKeyError(key, 'not well-formed Unicode (lone surrogate)');
  if (key.includes('\0')) throw new InvalidObjectKeyError(key, 'contains NUL');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES) throw new InvalidObjectKeyError(key, `${bytes} bytes long, the limit is ${MAX_OBJECT_KEY_BYTES}`);
  if (key.startsWith('/')) throw new InvalidObjectKeyError(key, 'absolute (starts with "/")');
  const segments = key.split('/');
  return segments.map((segment, i) => {
    const problem = segmentProblem(segment);
    if (problem !== null) throw new InvalidObjectKeyError(key, problem);
    const name = escapeSegment(segment);
    if (name.length > MAX_SEGMENT_NAME_BYTES) {
      throw new InvalidObjectKeyError(
        key,
        `segment ${i + 1} escapes to a ${name.length}-byte file name, the local store's limit is ${MAX_SEGMENT_NAME_BYTES}`,
      );
    }
    return i === segments.length - 1 ? name : `${name}%`;
  });
}

/**
 * Objects under `dir` (whose key prefix is `base`) whose first segment starts with `namePrefix`, after
 * `startAfter`, in UTF-8 key order. Reads one directory at a time, lazily; skips subtrees that sort entirely
 * before `startAfter`. A directory's entries sort by key contribution: a directory `x` as `x/`, so `x-1`
 * comes before the keys under `x/` and `x0` after them.
 */
export async function* walkKeys(
  dir: string,
  base: string,
  namePrefix: string,
  startAfter: string | undefined,
): AsyncGenerator<{ key: string; path: string }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
    throw err;
  }
  const items: Array<{ sortKey: string; name: string; isDir: boolean }> = [];
  for (const e of entries) {
    const isDir = e.name.endsWith('%');
    const segment = unescapeSegment(isDir ? e.name.slice(0, -1) : e.name);
    if (segment === null || !segment.startsWith(namePrefix)) continue;
    if (isDir ? !e.isDirectory() : !e.isFile()) continue;
    items.push({ sortKey: isDir ? `${segment}/` : segment, name: e.name, isDir });
  }
  items.sort((a, b) => compareUtf8(a.sortKey, b.sortKey));
  for (const item of items) {
    const key = base + item.sortKey;
    const path = join(dir, item.name);
    if (item.isDir) {
      // Every key below starts with `key`: skip them all if they sort before startAfter.
      if (startAfter !== undefined && !startAfter.startsWith(key) && compareUtf8(key, startAfter) < 0) continue;
      yield* walkKeys(path, key, '', startAfter);
    } else if (startAfter === undefined || compareUtf8(key, startAfter) > 0) {
      yield { key, path };
    }
  }
}
