// The embedded metadata store: etcd's semantics (engine.ts) persisted in one SQLite file in the broker's data
// directory, for a single broker on a laptop.
//
// Durability: WAL journal with synchronous=FULL (and fullfsync on macOS), so a transaction is on disk when
// txn() resolves and survives kill -9 and power loss; the broker acknowledges produce requests after that.
//
// Exclusion: one process per data directory. A lock file (created atomically with the holder's pid, taken over
// when that pid is dead) gives a clear error; SQLite's EXCLUSIVE locking mode (an OS file lock, released by the
// kernel when the holder dies) is the backstop that makes a lost race on the lock file harmless.
//
// File format (PRAGMA user_version = formatVersion):
//   meta(id = 1, revision, compacted_revision, last_lease_id)       the store header
//   kv(key PRIMARY KEY, value, create_rev, mod_rev, version, lease) current keys; lease 0 = none
//   leases(id PRIMARY KEY, ttl_ms, expires_at_ms)                    live leases; expiry in wall-clock ms
//   history(rev, seq, key, type, value, create_rev, version, lease, bytes)
//                                                                    every change after compacted_revision, for
//                                                                    watches; seq orders a revision's changes
// Keys are TEXT compared with SQLite's BINARY collation, i.e. by UTF-8 bytes = code points, as etcd.

import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import assert from 'node:assert/strict';
import { prefixEnd } from './backend.ts';
import type { Commit, MetadataBackend, StoredLease, StoreHeader } from './backend.ts';
import { MetadataEngine } from './engine.ts';
import type { MetadataStoreOptions } from './engine.ts';
import { MetadataStoreLockedError } from './errors.ts';
import type { KeyValue, WatchEvent } from './store.ts';
import { embeddedOpenLockTimeoutMs } from '../limits.ts';

export const metadataFileName = 'metadata.sqlite';
export const lockFileName = 'metadata.lock';
/** Version of the tables below; a file of another version is refused rather than misread. */
export const formatVersion = 1;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

const schema = `
  CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL CHECK (revision >= 0),
    compacted_revision INTEGER NOT NULL CHECK (compacted_revision >= 0 AND compacted_revision <= revision),
    last_lease_id INTEGER NOT NULL CHECK (last_lease_id >= 0)
  ) STRICT;
  INSERT INTO meta (id, revision, compacted_revision, last_lease_id) VALUES (1, 0, 0, 0);
  CREATE TABLE kv (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    create_rev INTEGER NOT NULL CHECK (create_rev > 0),
    mod_rev INTEGER NOT NULL CHECK (mod_rev >= create_rev),
    version INTEGER NOT NULL CHECK (version > 0),
    lease INTEGER NOT NULL CHECK (lease >= 0)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX kv_by_lease ON kv (lease, key) WHERE lease <> 0;
  CREATE TABLE leases (
    id INTEGER PRIMARY KEY,
    ttl_ms INTEGER NOT NULL CHECK (ttl_ms > 0),
    expires_at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX leases_by_expiry ON leases (expires_at_ms, id);
  CREATE TABLE history (
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('put', 'delete')),
    value TEXT CHECK ((type = 'put') = (value IS NOT NULL)),
    create_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (rev, seq)
  ) STRICT, WITHOUT ROWID;
`;

interface KvRow {
  key: string;
  value: string;
  create_rev: number;
  mod_rev: number;
  version: number;
  lease: number;
}

interface LeaseRow {
  id: number;
  ttl_ms: number;
  expires_at_ms: number;
}

interface HistoryRow {
  rev: number;
  key: string;
  type: 'put' | 'delete';
  value: string | null;
  create_rev: number;
  version: number;
  lease: number;
}

/** Frozen, as the in-memory store's: callers see the same behaviour from both. */
function toKeyValue(row: KvRow): KeyValue {
  return Object.freeze({
    key: row.key,
    value: row.value,
    createRevision: row.create_rev,
    modRevision: row.mod_rev,
    version: row.version,
    lease: row.lease,
  });
}

function toLease(row: LeaseRow): StoredLease {
  return { id: row.id, ttlMs: row.ttl_ms, expiresAtMs: row.expires_at_ms };
}

function sqliteErrcode(err: unknown): number | undefined {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' ? code & 0xff : undefined; // primary code of an extended one
}

// ---------------------------------------------------------------------------------------------------------------

class SqliteBackend implements MetadataBackend {
  readonly #db: DatabaseSync;
  readonly #lock: DirectoryLock;
  readonly #s: Record<string, StatementSync>;

  constructor(db: DatabaseSync, lock: DirectoryLock) {
    this.#db = db;
    this.#lock = lock;
    const kvColumns = 'key, value, create_rev, mod_rev, version, lease';
    const historyColumns = 'rev, key, type, value, create_rev, version, lease';
    this.#s = {
      header: db.prepare('SELECT revision, compacted_revision, last_lease_id FROM meta WHERE id = 1'),
      get: db.prepare(`SELECT ${kvColumns} FROM kv WHERE key = ?`),
      rangeFrom: db.prepare(`SELECT ${kvColumns} FROM kv WHERE key >= ? ORDER BY key LIMIT ?`),
      rangeBetween: db.prepare(`SELECT ${kvColumns} FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`),
      keysFrom: db.prepare('SELECT key FROM kv WHERE key >= ? ORDER BY key'),
      keysBetween: db.prepare('SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key'),
      leaseKeys: db.prepare('SELECT key FROM kv WHERE lease = ? AND lease <> 0 ORDER BY key'),
      lease: db.prepare('SELECT id, ttl_ms, expires_at_ms FROM leases WHERE id = ?'),
      dueLeases: db.prepare('SELECT id, ttl_ms, expires_at_ms FROM leases WHERE expires_at_ms <= ? ORDER BY expires_at_ms, id'),
      nextExpiry: db.prepare('SELECT min(expires_at_ms) AS at FROM leases'),
      historyFrom: db.prepare(`SELECT ${historyColumns} FROM history WHERE rev >= ? AND key >= ? ORDER BY rev, seq`),
      historyBetween: db.prepare(`SELECT ${historyColumns} FROM history WHERE rev >= ? AND key >= ? AND key < ? ORDER BY rev, seq`),
      historySizes: db.prepare('SELECT rev AS revision, sum(bytes) AS bytes FROM history GROUP BY rev ORDER BY rev'),
      updateMeta: db.prepare(
        'UPDATE meta SET revision = ?, compacted_revision = ?, last_lease_id = ? ' +
          'WHERE id = 1 AND revision = ? AND compacted_revision = ? AND last_lease_id = ?',
      ),
      putKv: db.prepare(`INSERT OR REPLACE INTO kv (${kvColumns}) VALUES (?, ?, ?, ?, ?, ?)`),
      deleteKv: db.prepare('DELETE FROM kv WHERE key = ?'),
      putHistory: db.prepare(
        'INSERT INTO history (rev, seq, key, type, value, create_rev, version, lease, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      compactHistory: db.prepare('DELETE FROM history WHERE rev <= ?'),
      putLease: db.prepare('INSERT OR REPLACE INTO leases (id, ttl_ms, expires_at_ms) VALUES (?, ?, ?)'),
      deleteLease: db.prepare('DELETE FROM leases WHERE id = ?'),
    };
  }

  header(): StoreHeader {
    const row = this.#s.header!.get() as { revision: number; compacted_revision: number; last_lease_id: number } | undefined;
    assert(row !== undefined, 'metadata file has no meta row');
    return { revision: row.revision, compactedRevision: row.compacted_revision, lastLeaseId: row.last_lease_id };
  }

  get(key: string): KeyValue | null {
    const row = this.#s.get!.get(key) as KvRow | undefined;
    return row === undefined ? null : toKeyValue(row);
  }

  range(prefix: string, limit: number): KeyValue[] {
    const end = prefixEnd(prefix);
    const sqlLimit = limit > 0 ? limit : -1; // SQLite: a negative LIMIT is no limit
    const rows = end === null ? this.#s.rangeFrom!.all(prefix, sqlLimit) : this.#s.rangeBetween!.all(prefix, end, sqlLimit);
    return (rows as unknown as KvRow[]).map(toKeyValue);
  }

  rangeKeys(prefix: string): string[] {
    const end = prefixEnd(prefix);
    const rows = end === null ? this.#s.keysFrom!.all(prefix) : this.#s.keysBetween!.all(prefix, end);
    return (rows as unknown as Array<{ key: string }>).map((r) => r.key);
  }

  leaseKeys(id: number): string[] {
    return (this.#s.leaseKeys!.all(id) as unknown as Array<{ key: string }>).map((r) => r.key);
  }

  lease(id: number): StoredLease | null {
    const row = this.#s.lease!.get(id) as LeaseRow | undefined;
    return row === undefined ? null : toLease(row);
  }

  dueLeases(nowMs: number): StoredLease[] {
    return (this.#s.dueLeases!.all(nowMs) as unknown as LeaseRow[]).map(toLease);
  }

  nextLeaseExpiry(): number | null {
    const row = this.#s.nextExpiry!.get() as { at: number | null };
    return row.at;
  }

  history(fromRevision: number, prefix: string): WatchEvent[] {
    const end = prefixEnd(prefix);
    const rows = (end === null
      ? this.#s.historyFrom!.all(fromRevision, prefix)
      : this.#s.historyBetween!.all(fromRevision, prefix, end)) as unknown as HistoryRow[];
    return rows.map((r): WatchEvent => {
      if (r.type === 'delete') return Object.freeze({ type: 'delete', key: r.key, modRevision: r.rev });
      const kv = Object.freeze({
        key: r.key,
        value: r.value!,
        createRevision: r.create_rev,
        modRevision: r.rev,
        version: r.version,
        lease: r.lease,
      });
      return Object.freeze({ type: 'put', kv });
    });
  }

  historySizes(): Array<{ revision: number; bytes: number }> {
    return (this.#s.historySizes!.all() as unknown as Array<{ revision: number; bytes: number }>).map((r) => ({ ...r }));
  }

  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.#db.isTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // The original error is the one to report; the engine stops the store on storage errors.
        }
      }
      throw err;
    }
  }

  apply(commit: Commit): void {
    assert(this.#db.isTransaction, 'apply outside a transaction');
    const { before, after } = commit;
    const meta = this.#s.updateMeta!.run(
      after.revision,
      after.compactedRevision,
      after.lastLeaseId,
      before.revision,
      before.compactedRevision,
      before.lastLeaseId,
    );
    assert.equal(meta.changes, 1, 'metadata file changed under the store (meta row does not match)');
    commit.events.forEach((e, seq) => {
      if (e.type === 'put') {
        const { key, value, createRevision, modRevision, version, lease } = e.kv;
        this.#s.putKv!.run(key, value, createRevision, modRevision, version, lease);
        this.#s.putHistory!.run(modRevision, seq, key, 'put', value, createRevision, version, lease, commit.eventBytes[seq]!);
      } else {
        assert.equal(this.#s.deleteKv!.run(e.key).changes, 1, `delete event for missing key ${e.key}`);
        this.#s.putHistory!.run(e.modRevision, seq, e.key, 'delete', null, 0, 0, 0, commit.eventBytes[seq]!);
      }
    });
    for (const id of commit.leaseDeletes) assert.equal(this.#s.deleteLease!.run(id).changes, 1, `delete of missing lease ${id}`);
    for (const l of commit.leaseUpserts) this.#s.putLease!.run(l.id, l.ttlMs, l.expiresAtMs);
    if (after.compactedRevision > before.compactedRevision) this.#s.compactHistory!.run(after.compactedRevision);
  }

  close(): void {
    try {
      if (this.#db.isOpen) this.#db.close();
    } finally {
      this.#lock.release();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** The data directory's lock file: "<pid> <random token>\n", created atomically (hard link of a written file). */
class DirectoryLock {
  readonly file: string;
  readonly #content: string;
  #held = true;

  private constructor(file: string, content: string) {
    this.file = file;
    this.#content = content;
  }

  static acquire(dir: string): DirectoryLock {
    const file = join(dir, lockFileName);
    const content = `${process.pid} ${randomUUID()}\n`;
    // Written aside, then linked into place: the lock file never exists without its content.
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          linkSync(temp, file);
          return new DirectoryLock(file, content);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        const holder = readHolderPid(file);
        if (holder === 'gone') continue; // released meanwhile: try again
        if (holder !== null && processAlive(holder)) throw new MetadataStoreLockedError(dir, holder, file);
        // Stale: its process is dead (or the file is unreadable junk). Take it over.
        try {
          unlinkSync(file);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      throw new MetadataStoreLockedError(dir, null, file);
    } finally {
      unlinkSync(temp);
    }
  }

  /** Removes the lock file if it is still ours. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    try {
      if (readFileSync(this.file, 'utf8') === this.#content) unlinkSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** The pid recorded in a lock file, null if it holds none, 'gone' if the file no longer exists. */
function readHolderPid(file: string): number | null | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  const match = /^(\d+) /.exec(text);
  const pid = match === null ? NaN : Number(match[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function openDatabase(file: string, dir: string, lock: DirectoryLock): DatabaseSync {
  const db = new DatabaseSync(file, { timeout: embeddedOpenLockTimeoutMs });
  try {
    // EXCLUSIVE before the first access: SQLite then keeps its file lock until close and uses no shared memory.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    const mode = db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode: string };
    assert.equal(mode.journal_mode, 'wal', 'SQLite refused WAL journal mode');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA fullfsync = ON'); // macOS: fsync does not reach the platters without F_FULLFSYNC
    db.exec('PRAGMA checkpoint_fullfsync = ON');
    db.exec('BEGIN EXCLUSIVE'); // takes the file lock now, and holds it (locking_mode) until close
    try {
      const { user_version: version } = db.prepare('PRAGMA user_version').get() as { user_version: number };
      if (version === 0) {
        db.exec(schema);
        db.exec(`PRAGMA user_version = ${formatVersion}`);
      } else if (version !== formatVersion) {
        throw new Error(`${file} has metadata format version ${version}; this broker reads version ${formatVersion}`);
      }
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    return db;
  } catch (err) {
    db.close();
    const code = sqliteErrcode(err);
    if (code === SQLITE_BUSY || code === SQLITE_LOCKED) throw new MetadataStoreLockedError(dir, null, lock.file, { cause: err });
    throw err;
  }
}

/** Metadata store persisted in `<dataDir>/metadata.sqlite`; one process at a time per data directory. */
export class EmbeddedMetadataStore extends MetadataEngine {
  readonly dataDir: string;

  private constructor(backend: MetadataBackend, options: MetadataStoreOptions, dataDir: string) {
    super(backend, options);
    this.dataDir = dataDir;
  }

  /**
   * Opens (creating if needed) the store of a data directory. Rejects with MetadataStoreLockedError if another
   * store has it open. Leases that expired while the store was closed are expired now (their keys deleted).
   */
  static async open(dataDir: string, options: MetadataStoreOptions = {}): Promise<EmbeddedMetadataStore> {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const lock = DirectoryLock.acquire(dir);
    let backend: SqliteBackend;
    try {
      const db = openDatabase(join(dir, metadataFileName), dir, lock);
      try {
        backend = new SqliteBackend(db, lock);
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      lock.release();
      throw err;
    }
    try {
      return new EmbeddedMetadataStore(backend, options, dir);
    } catch (err) {
      backend.close();
      throw err;
    }
  }
}
