// What every benchmark result file records besides its figures: the machine, and the versions compared.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import os from 'node:os';

export interface Figure {
  value: number;
  unit: string;
}

export function figure(value: number, unit: string): Figure {
  return { value, unit };
}

const repoRoot = join(import.meta.dirname, '..', '..');

export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    // 0 when the (virtual) machine does not report it.
    cpuSpeed: figure(cpus[0]?.speed ?? 0, 'MHz'),
    logicalCores: cpus.length,
    availableParallelism: os.availableParallelism(),
    totalMemory: figure(Math.round((os.totalmem() / 2 ** 30) * 10) / 10, 'GiB'),
    freeMemory: figure(Math.round((os.freemem() / 2 ** 30) * 10) / 10, 'GiB'),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    platform: process.platform,
    arch: process.arch,
  };
}

function gitCommit(): string | null {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'broker'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return dirty === '' ? head : `${head}+uncommitted`;
  } catch {
    return null;
  }
}

/** Version of an installed package, read from its package.json (found through its resolved entry point). */
export function installedVersion(name: string): string {
  const require = createRequire(join(repoRoot, 'package.json'));
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version !== undefined) return pkg.version;
    } catch {
      // keep walking up
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export function oursVersion(): { name: string; version: string; commit: string | null } {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version, commit: gitCommit() };
}

/** Formats a number with a thousands separator and a sensible number of decimals. */
export function fmt(n: number): string {
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
