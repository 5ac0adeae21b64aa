// Java-properties parsing, for the config file (--config FILE, as Kafka's server.properties).
import { ConfigError } from './types.ts';

export interface PropertyEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line where the entry starts. */
  readonly line: number;
}

/**
 * Parses the Java-properties format (java.util.Properties.load): `key=value`, `key: value` or `key value`;
 * `#` and `!` comment lines; a line ending in an odd number of backslashes continues on the next one
 * (leading whitespace of the continuation dropped); escapes \t \n \r \f \uXXXX, and \x = x for any other x.
 * Keys and values are trimmed (unlike Java, trailing whitespace is dropped unless escaped). Duplicate keys are
 * an error: `source` names the file in messages.
 */
export function parseProperties(text: string, source = 'config'): PropertyEntry[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const physical = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < physical.length; i++) {
    const startLine = i + 1;
    let line = physical[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    // Join continuation lines.
    while (endsWithOddBackslashes(line) && i + 1 < physical.length) {
      i++;
      line = line.slice(0, -1) + physical[i]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithOddBackslashes(line)) line = line.slice(0, -1);
    // Key ends at the first unescaped '=', ':' or whitespace.
    let k = 0;
    while (k < line.length) {
      const c = line[k]!;
      if (c === '\\') {
        k += 2;
        continue;
      }
      if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
      k++;
    }
    const rawKey = line.slice(0, Math.min(k, line.length));
    let v = k;
    while (v < line.length && /[ \t\f]/.test(line[v]!)) v++;
    if (v < line.length && (line[v] === '=' || line[v] === ':')) v++;
    while (v < line.length && /[ \t\f]/.test(line[v]!)) v++;
    const key = unescapeProperty(rawKey, source, startLine);
    const value = unescapeProperty(trimUnescapedEnd(line.slice(v)), source, startLine);
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new ConfigError(`${key} is set twice in ${source} (lines ${previous} and ${startLine})`, {
        key,
        value,
        source: `${source}:${startLine}`,
      });
    }
    seen.set(key, startLine);
    entries.push({ key, value, line: startLine });
  }
  return entries;
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function trimUnescapedEnd(s: string): string {
  let end = s.length;
  while (end > 0 && /[ \t\f]/.test(s[end - 1]!)) {
    // Keep whitespace preceded by an odd run of backslashes (it is escaped).
    let n = 0;
    for (let i = end - 2; i >= 0 && s[i] === '\\'; i--) n++;
    if (n % 2 === 1) break;
    end--;
  }
  return s.slice(0, end);
}

function unescapeProperty(s: string, source: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    switch (next) {
      case undefined:
        break;
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) {
          throw new ConfigError(`malformed \\uXXXX escape in ${source}:${line}`, { source: `${source}:${line}` });
        }
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += next;
    }
  }
  return out;
}
