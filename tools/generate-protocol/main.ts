// npm run generate:protocol [-- SPEC_DIR [OLDER_SPEC_DIR]] [--check]
// Reads Kafka's JSON message definitions (never committed here) and writes broker/protocol/generated/. By default
// they are those of the pinned kafka-clients jar, extracted by tools/kafka-message-spec.sh into
// test/java/target/kafka-message-spec/, with the versions Kafka has removed since the older definitions of
// ../shared/kafka-message-spec kept (spec/protocol.md); without the jar's, ../shared/kafka-message-spec alone.
// With --check it only reports whether the committed files are stale.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generate } from './generate.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Where the definitions of the pinned kafka-clients jar are extracted (tools/kafka-message-spec.sh). */
export const jarSpecDir = join(repoRoot, 'test/java/target/kafka-message-spec');
export const fallbackSpecDir = resolve(repoRoot, '../shared/kafka-message-spec');
const haveJarSpec = existsSync(join(jarSpecDir, 'ApiVersionsRequest.json'));
export const defaultSpecDir = haveJarSpec ? jarSpecDir : fallbackSpecDir;
/** The older definitions whose removed versions are kept (undefined when the fallback is the only source). */
export const defaultOlderSpecDir = haveJarSpec && existsSync(fallbackSpecDir) ? fallbackSpecDir : undefined;
export const generatedDir = join(repoRoot, 'broker/protocol/generated');

/** Names of generated files that differ from, are missing in, or are extra in `dir`. */
export function staleFiles(files: Map<string, string>, dir: string): string[] {
  const stale: string[] = [];
  for (const [name, text] of files) {
    const path = join(dir, name);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(name);
  }
  if (existsSync(dir)) for (const name of readdirSync(dir)) if (!files.has(name)) stale.push(name);
  return stale.sort();
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { check: { type: 'boolean', default: false }, out: { type: 'string' } },
    allowPositionals: true,
  });
  const specDir = resolve(positionals[0] ?? defaultSpecDir);
  const olderDir = positionals[1] !== undefined ? resolve(positionals[1]) : positionals[0] === undefined ? defaultOlderSpecDir : undefined;
  const outDir = resolve(values.out ?? generatedDir);
  const files = generate(specDir, olderDir);
  if (values.check) {
    const stale = staleFiles(files, outDir);
    if (stale.length > 0) {
      console.error(`generated protocol code is stale (${stale.length} file(s)): ${stale.join(', ')}\nrun: npm run generate:protocol`);
      process.exit(1);
    }
    console.log(`generated protocol code is up to date (${files.size} files)`);
    return;
  }
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  let bytes = 0;
  for (const [name, text] of files) {
    writeFileSync(join(outDir, name), text);
    bytes += text.length;
  }
  console.log(
    `wrote ${files.size} files, ${(bytes / 1024).toFixed(0)} KiB, to ${outDir} from ${specDir}${olderDir ? ` (+ removed versions of ${olderDir})` : ''}`,
  );
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
