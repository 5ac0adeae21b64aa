// The object store on a local directory: the embedded default (a laptop, a single machine, tests).
//
// Layout. Object key `a/b/c` is the file `<root>/a%/b%/c`. Every key segment is escaped (below); a directory
// takes its segment's escaped name plus a trailing `%`, which an escaped file name never ends with, so the
// keys `a` and `a/b` can both exist, as on S3 (`<root>/a` and `<root>/a%/b`).
//
// Escaping of one segment (local-keys.ts), to its UTF-8 bytes: `a-z 0-9 - _ . ~ = + , @` stay as they are (but a leading `.`),
// every other byte becomes `%XX` (upper-case hex). File names are therefore plain ASCII with no upper-case
// letters outside escapes and never start with `.`: keys that differ only in case or Unicode normalisation
// do not collide on case- or normalisation-insensitive file systems (macOS), and hidden files (.DS_Store,
// editor files) and our temporary files cannot be mistaken for objects. Names that are not the canonical
// escaping of some segment are foreign and ignored by list.
//
// put writes `<dir>/.tmp-<pid>-<instance>-<seq>`, fsyncs it, renames it into place (or, with ifNoneMatch,
// hard-links it, which fails with EEXIST if the key exists, even against another process) and fsyncs the
// directory. Directories are created on demand; the first put into a directory this store has not yet made
// durable also fsyncs the parents of every directory from it up to the root. delete unlinks, fsyncs the
// directory, then removes directories left empty (best effort). Temporary files of dead writers are
// removed when a store is opened.
//
// ETag: `<size>-<mtime ns>-<inode>`, all hex, from the file's metadata: not a content hash, but it changes
// whenever the key is written again (a put always makes a new file) and survives restarts.

import { link, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import {
  InvalidObjectKeyError,
  MAX_KEYS_PER_REQUEST,
  ObjectNotFoundError,
  ObjectStoreUnavailableError,
  PreconditionFailedError,
} from './object-store.ts';
import { errnoCode, fsyncDir, isErrno, Limiter, readExactly, writevAll } from './fs-util.ts';
import { escapeSegment, keyToNames, MAX_SEGMENT_NAME_BYTES, segmentProblem, walkKeys } from './local-keys.ts';
import {
  localStoreDurableDirsMaxCount,
  localStoreListStatMaxInflightCount,
  localStoreMaxInflightCount,
  localStoreStaleTempFileMs,
} from '../limits.ts';

export { MAX_SEGMENT_NAME_BYTES } from './local-keys.ts';

const TEMP_PREFIX = '.tmp-';
const TEMP_NAME = /^\.tmp-(\d+)-([0-9a-f]+)-\d+$/;

export interface LocalObjectStoreOptions {
  /** Operations (each holding at most one file descriptor) run at once; more wait in FIFO order. Default 32. */
  maxConcurrentOps?: number;
  /** At open, temporary files older than this are removed even if their writer seems alive. Default 1 hour. */
  staleTempFileMs?: number;
}

type OpKind = 'put' | 'get' | 'head' | 'delete' | 'list';
type PerOp = Record<OpKind, number>;

/** Counters since the store was opened. Requests count calls, failed ones included (also under `errors`). */
export interface ObjectStoreStats {
  requests: PerOp;
  errors: PerOp;
  /** Body bytes of successful puts. */
  bytesWritten: number;
  /** Bytes returned by successful gets. */
  bytesRead: number;
  /** Keys passed to delete (a delete request carries many). */
  keysDeleted: number;
  /** Objects returned by list. */
  keysListed: number;
  /** Operations holding a slot now, waiting for one, and the most that ever held one at once. */
  inFlight: number;
  queued: number;
  peakInFlight: number;
  maxConcurrentOps: number;
  /** Leftover temporary files removed when the store was opened. */
  tempFilesRemoved: number;
}

/** A key the local store cannot hold: empty, too long, absolute, with `.`/`..`/empty segments or NUL. */
export { InvalidObjectKeyError };

/** Instances open in this process, by id, so that opening a second one on a root spares the first's temp files. */
const liveInstances = new Set<string>();

export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  readonly maxConcurrentOps: number;
  readonly #staleTempFileMs: number;
  readonly #limiter: Limiter;
  readonly #instanceId = randomBytes(4).toString('hex');
  #tempSeq = 0;
  #closed = false;
  #pending = 0;
  #drained: Array<() => void> = [];
  /** Directory path -> identity (inode:birth time) of the instance whose entry in its parent is durable. */
  readonly #durableDirs = new Map<string, string>();
  readonly #requests: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  readonly #errors: PerOp = { put: 0, get: 0, head: 0, delete: 0, list: 0 };
  #bytesWritten = 0;
  #bytesRead = 0;
  #keysDeleted = 0;
  #keysListed = 0;
  #tempFilesRemoved = 0;

  private constructor(root: string, options: LocalObjectStoreOptions) {
    this.root = resolve(root);
    this.maxConcurrentOps = options.maxConcurrentOps ?? localStoreMaxInflightCount;
    this.#limiter = new Limiter(this.maxConcurrentOps);
    this.#staleTempFileMs = options.staleTempFileMs ?? localStoreStaleTempFileMs;
  }

  /** Creates the root directory if needed, removes temporary files left by crashed writers, and opens the store. */
  static async open(root: string, options: LocalObjectStoreOptions = {}): Promise<LocalObjectStore> {
    const store = new LocalObjectStore(root, options);
    await store.#init();
    liveInstances.add(store.#instanceId);
    return store;
  }

  async #init(): Promise<void> {
    const created = await mkdir(this.root, { recursive: true });
    if (created !== undefined) {
      // Make the new directories' entries durable, from the root up to the first one created.
      for (let d = this.root; ; d = dirname(d)) {
        await fsyncDir(dirname(d));
        if (d === created || dirname(d) === d) break;
      }
    }
    const st = await stat(this.root);
    if (!st.isDirectory()) throw new Error(`object store root ${this.root} is not a directory`);
    await this.#removeTempFiles(this.root);
  }

  async #removeTempFiles(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.name.startsWith(TEMP_PREFIX) && e.isFile()) {
        if (await this.#isAbandonedTemp(e.name, path)) {
          try {
            await unlink(path);
            this.#tempFilesRemoved++;
          } catch (err) {
            if (!isErrno(err, 'ENOENT')) throw err;
          }
        }
      } else if (e.name.endsWith('%') && e.isDirectory()) {
        await this.#removeTempFiles(path);
        // A crash between mkdir and the first put can leave an empty directory: remove it (best effort).
        await rmdir(path).catch(() => {});
      }
    }
  }

  async #isAbandonedTemp(name: string, path: string): Promise<boolean> {
    const m = TEMP_NAME.exec(name);
    let writerAlive = false;
    if (m) {
      const pid = Number(m[1]);
      writerAlive = pid === process.pid ? liveInstances.has(m[2]!) : processAlive(pid);
    }
    if (!writerAlive) return true;
    try {
      return Date.now() - (await stat(path)).mtimeMs > this.#staleTempFileMs;
    } catch {
      return false;
    }
  }

  // ---- operations ----

  async put(key: string, body: Buffer | Buffer[], options: PutOptions = {}): Promise<ObjectInfo> {
    return this.#op('put', key, async () => {
      const { dir, file } = this.#pathOf(key);
      const parts = Array.isArray(body) ? body : [body];
      let size = 0;
      for (const p of parts) {
        if (!(p instanceof Uint8Array)) throw new TypeError(`put ${JSON.stringify(key)}: body must be a Buffer or an array of Buffers`);
        size += p.length;
      }
      const ifNoneMatch = options.ifNoneMatch === true;
      return this.#limiter.run(async () => {
        // Cheap early answer; the link below is what makes the check race-free.
        if (ifNoneMatch && (await statFile(file)) !== null) throw new PreconditionFailedError(key);
        const tmp = join(dir, `${TEMP_PREFIX}${process.pid}-${this.#instanceId}-${++this.#tempSeq}`);
        let tmpExists = false;
        try {
          const fh = await this.#createTemp(dir, tmp);
          tmpExists = true;
          let st: BigIntStats;
          try {
            await writevAll(fh, parts, 0);
            st = await fh.stat({ bigint: true });
            await fh.sync();
          } finally {
            await fh.close();
          }
          // The temp file keeps `dir` from being removed from here on.
          await this.#ensureDurableDirs(dir);
          if (ifNoneMatch) {
            try {
              await link(tmp, file);
            } catch (err) {
              if (isErrno(err, 'EEXIST')) throw new PreconditionFailedError(key);
              if (isErrno(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS')) {
                throw new Error(
                  `put ${JSON.stringify(key)} with ifNoneMatch needs hard links, which the file system under ${this.root} does not support`,
                  { cause: err },
                );
              }
              throw err;
            }
            tmpExists = false;
            await unlink(tmp).catch(() => {}); // a leftover is a second link to the object, removed at next open
          } else {
            await rename(tmp, file);
            tmpExists = false;
          }
          await fsyncDir(dir);
          this.#bytesWritten += size;
          return { key, sizeBytes: size, etag: etagOf(st) };
        } finally {
          if (tmpExists) await unlink(tmp).catch(() => {});
        }
      });
    });
  }

  /** Creates `dir` if needed and opens a new temp file in it; retries if a concurrent delete removes `dir`. */
  async #createTemp(dir: string, tmp: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dir, { recursive: true });
        return await open(tmp, 'wx');
      } catch (err) {
        if (!isErrno(err, 'ENOENT') || attempt >= 10) throw err;
      }
    }
  }

  /**
   * Makes sure the entries of `dir` and its ancestors (up to the root) in their parents are durable. The cache
   * is keyed by inode and birth time, so a directory removed and re-created, even by another process, is
   * synced again. Called while a file in `dir` exists, so none of these directories can go away meanwhile.
   */
  async #ensureDurableDirs(dir: string): Promise<void> {
    const unsynced: Array<[string, string]> = [];
    for (let d = dir; d !== this.root && dirname(d) !== d; d = dirname(d)) {
      const st = await stat(d, { bigint: true });
      const id = `${st.ino}:${st.birthtimeNs}`;
      if (this.#durableDirs.get(d) === id) break;
      unsynced.push([d, id]);
    }
    for (const [d, id] of unsynced.reverse()) {
      await fsyncDir(dirname(d));
      if (this.#durableDirs.size >= localStoreDurableDirsMaxCount) this.#durableDirs.clear();
      this.#durableDirs.set(d, id);
    }
  }

  async get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    return this.#op('get', key, async () => {
      const { file } = this.#pathOf(key);
      if (range !== undefined) {
        const { start, end } = range;
        if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
          throw new RangeError(`get ${JSON.stringify(key)}: invalid range [${start}, ${end})`);
        }
      }
      return this.#limiter.run(async () => {
        let fh;
        try {
          fh = await open(file, 'r');
        } catch (err) {
          if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new ObjectNotFoundError(key);
          throw err;
        }
        try {
          const st = await fh.stat();
          if (!st.isFile()) throw new ObjectNotFoundError(key);
          const start = range?.start ?? 0;
          const end = range?.end ?? st.size;
          if (end > st.size) {
            throw new RangeError(`get ${JSON.stringify(key)}: range [${start}, ${end}) is outside the object's ${st.size} bytes`);
          }
          const buf = end === start ? Buffer.alloc(0) : await readExactly(fh, end - start, start);
          this.#bytesRead += buf.length;
          return buf;
        } finally {
          await fh.close();
        }
      });
    });
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.#op('head', key, async () => {
      const { file } = this.#pathOf(key);
      return this.#limiter.run(async () => {
        const st = await statFile(file);
        return st === null ? null : { key, sizeBytes: Number(st.size), etag: etagOf(st) };
      });
    });
  }

  async delete(keys: string[]): Promise<void> {
    return this.#op('delete', undefined, async () => {
      const files = new Map<string, string>(); // file -> dir
      for (const key of keys) {
        const { dir, file } = this.#pathOf(key);
        files.set(file, dir);
      }
      this.#keysDeleted += keys.length;
      const touched = new Set<string>();
      const results = await Promise.allSettled(
        [...files].map(([file, dir]) =>
          this.#limiter.run(async () => {
            try {
              await unlink(file);
              touched.add(dir);
            } catch (err) {
              if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
            }
          }),
        ),
      );
      // Make the removals durable, then drop directories they left empty (best effort).
      await Promise.all(
        [...touched].map((dir) =>
          this.#limiter.run(async () => {
            try {
              await fsyncDir(dir);
            } catch (err) {
              if (!isErrno(err, 'ENOENT')) throw err;
            }
            for (let d = dir; d !== this.root && dirname(d) !== d; d = dirname(d)) {
              try {
                await rmdir(d);
                this.#durableDirs.delete(d);
              } catch {
                break; // not empty (or gone, or in use): leave it and its ancestors
              }
            }
          }),
        ),
      );
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<ObjectInfo[]> {
    return this.#op('list', undefined, async () => {
      const limit = options.limit ?? MAX_KEYS_PER_REQUEST;
      if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`list: limit must be a non-negative integer, got ${limit}`);
      if (typeof prefix !== 'string') throw new TypeError('list: prefix must be a string');
      const { startAfter } = options;
      if (startAfter !== undefined && typeof startAfter !== 'string') throw new TypeError('list: startAfter must be a string');
      const slash = prefix.lastIndexOf('/');
      const base = prefix.slice(0, slash + 1); // whole directory segments, with the trailing '/'
      const namePrefix = prefix.slice(slash + 1);
      const dirNames: string[] = [];
      for (const segment of base === '' ? [] : base.slice(0, -1).split('/')) {
        const name = segmentProblem(segment) === null ? escapeSegment(segment) : null;
        if (name === null || name.length > MAX_SEGMENT_NAME_BYTES) return []; // no valid key has this prefix
        dirNames.push(`${name}%`);
      }
      if (limit === 0 || prefix.includes('\0')) return [];
      return this.#limiter.run(async () => {
        const out: ObjectInfo[] = [];
        const walk = walkKeys(join(this.root, ...dirNames), base, namePrefix, startAfter);
        try {
          while (out.length < limit) {
            const batch: Array<{ key: string; path: string }> = [];
            while (batch.length < Math.min(localStoreListStatMaxInflightCount, limit - out.length)) {
              const next = await walk.next();
              if (next.done) break;
              batch.push(next.value);
            }
            if (batch.length === 0) break;
            const stats = await Promise.all(batch.map((b) => statFile(b.path)));
            stats.forEach((st, i) => {
              // null: deleted since its directory was read
              if (st !== null) out.push({ key: batch[i]!.key, sizeBytes: Number(st.size), etag: etagOf(st) });
            });
          }
        } finally {
          await walk.return(undefined);
        }
        this.#keysListed += out.length;
        return out;
      });
    });
  }

  /** Waits for operations under way; later calls reject. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#pending > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
    liveInstances.delete(this.#instanceId);
  }

  stats(): ObjectStoreStats {
    return {
      requests: { ...this.#requests },
      errors: { ...this.#errors },
      bytesWritten: this.#bytesWritten,
      bytesRead: this.#bytesRead,
      keysDeleted: this.#keysDeleted,
      keysListed: this.#keysListed,
      ...this.#limiter.stats(),
      maxConcurrentOps: this.maxConcurrentOps,
      tempFilesRemoved: this.#tempFilesRemoved,
    };
  }

  // ---- helpers ----

  async #op<T>(kind: OpKind, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    this.#requests[kind]++;
    this.#pending++;
    try {
      if (this.#closed) throw new Error(`${kind} on a closed object store (${this.root})`);
      return await fn();
    } catch (err) {
      this.#errors[kind]++;
      throw transient(err, kind, key);
    } finally {
      if (--this.#pending === 0) for (const resolve of this.#drained.splice(0)) resolve();
    }
  }

  #pathOf(key: string): { dir: string; file: string } {
    const names = keyToNames(key);
    const file = join(this.root, ...names);
    return { dir: dirname(file), file };
  }
}

// ---- small helpers ----

async function statFile(path: string): Promise<BigIntStats | null> {
  try {
    const st = await stat(path, { bigint: true });
    return st.isFile() ? st : null;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return null;
    throw err;
  }
}

function etagOf(st: BigIntStats): string {
  return `${st.size.toString(16)}-${st.mtimeNs.toString(16)}-${st.ino.toString(16)}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

/** Resource exhaustion (descriptors, space) is reported as ObjectStoreUnavailableError: retrying may succeed. */
function transient(err: unknown, kind: OpKind, key: string | undefined): unknown {
  if (!isErrno(err, 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EINTR', 'ENOSPC', 'EDQUOT')) return err;
  const what = key === undefined ? kind : `${kind} ${JSON.stringify(key)}`;
  return new ObjectStoreUnavailableError(`local object store: ${what} failed: ${(err as Error).message}`, { cause: err });
}
