// Small file-system helpers for the storage layer: errno checks, full vectored writes and positional reads,
// directory fsync, UTF-8 order comparison and a FIFO limiter of concurrent operations.

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';

/** The `code` of a Node system error (ENOENT, EEXIST, ...), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  const code = errnoCode(err);
  return code !== undefined && codes.includes(code);
}

/**
 * Writes every byte of `buffers` at `position` with vectored writes (no concatenation copy), continuing after
 * short writes. Returns the number of bytes written.
 */
export async function writevAll(fh: FileHandle, buffers: readonly Buffer[], position: number): Promise<number> {
  let pending = buffers.filter((b) => b.length > 0);
  let written = 0;
  while (pending.length > 0) {
    const { bytesWritten } = await fh.writev(pending, position + written);
    if (bytesWritten <= 0) throw new Error(`writev made no progress after ${written} bytes`);
    written += bytesWritten;
    // Drop the buffers written in full and trim the one written in part.
    let skip = bytesWritten;
    let i = 0;
    while (i < pending.length && skip >= pending[i]!.length) skip -= pending[i++]!.length;
    pending = pending.slice(i);
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
  return written;
}

/** Reads exactly `length` bytes at `position`; fails if the file ends first. */
export async function readExactly(fh: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file: read ${done} of ${length} bytes at ${position}`);
    done += bytesRead;
  }
  return buf;
}

/**
 * fsyncs a directory so that entries created, renamed or removed in it survive a crash. File systems that
 * cannot fsync a directory (EINVAL, ENOTSUP) and Windows, where directories cannot be opened, are skipped.
 */
export async function fsyncDir(path: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } catch (err) {
    if (!isErrno(err, 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP')) throw err;
  } finally {
    await fh.close();
  }
}

/**
 * Compares two strings in the order of their UTF-8 bytes (= code point order), which is S3's key order.
 * JavaScript's `<` compares UTF-16 code units and differs when a surrogate pair meets U+E000..U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800..DFFF) encode code points above FFFF: move them above E000..FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Counters of a Limiter, for metrics and tests. */
export interface LimiterStats {
  inFlight: number;
  queued: number;
  /** Highest `inFlight` seen since creation. */
  peakInFlight: number;
}

/** Runs at most `max` operations at a time; the rest wait in FIFO order. */
export class Limiter {
  readonly max: number;
  #inFlight = 0;
  #peak = 0;
  #waiting: Array<() => void> = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`limit must be a positive integer, got ${max}`);
    this.max = max;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#inFlight++;
    if (this.#inFlight > this.#peak) this.#peak = this.#inFlight;
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next)
        next(); // hand the slot over: inFlight stays the same
      else this.#inFlight--;
    }
  }

  stats(): LimiterStats {
    return { inFlight: this.#inFlight, queued: this.#waiting.length, peakInFlight: this.#peak };
  }
}
