// The cluster's ACLs in the metadata store (layout.ts: one key per resource pattern), cached here and followed
// with a watch so that an ACL created or deleted through any broker reaches every broker. The store knows ACLs
// only as records of Kafka's codes; what they mean is broker/security's.
import { aclKey, aclPrefix, parseAclKey } from './layout.ts';
import type { AclEntryRecord, AclRecord } from './layout.ts';
import type { MetadataStore, Watch } from './store.ts';

/** The ACLs of one resource pattern. */
export interface AclPatternRecord {
  readonly resourceType: number;
  readonly patternType: number;
  readonly name: string;
  readonly acls: readonly AclEntryRecord[];
}

interface Held extends AclPatternRecord {
  modRevision: number;
}

export class AclStoreFullError extends Error {
  constructor(max: number) {
    super(`at most ${max} ACLs can be stored`);
    this.name = 'AclStoreFullError';
  }
}

const sameEntry = (a: AclEntryRecord, b: AclEntryRecord) =>
  a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permission === b.permission;

export class AclStore {
  private readonly store: MetadataStore;
  private readonly maxAcls: number;
  private readonly patterns = new Map<string, Held>();
  private watch: Watch | null = null;
  private onChange: () => void = () => {};
  private count = 0;

  constructor(store: MetadataStore, maxAcls: number) {
    this.store = store;
    this.maxAcls = maxAcls;
  }

  /** Loads every ACL and follows later changes; `onChange` runs after each change. */
  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    const fromRevision = (await this.store.revision()) + 1;
    this.patterns.clear();
    this.count = 0;
    for (const kv of await this.store.getPrefix(aclPrefix)) this.remember(kv.key, kv.value, kv.modRevision);
    this.watch = this.store.watchPrefix(aclPrefix, fromRevision, (events) => {
      let changed = false;
      for (const ev of events) {
        const key = ev.type === 'put' ? ev.kv.key : ev.key;
        const known = this.patterns.get(key);
        if (ev.type === 'put') {
          if (known && known.modRevision >= ev.kv.modRevision) continue;
          changed = this.remember(key, ev.kv.value, ev.kv.modRevision) || changed;
        } else {
          if (!known || known.modRevision > ev.modRevision) continue;
          this.forget(key);
          changed = true;
        }
      }
      if (changed) this.onChange();
    });
    this.onChange();
  }

  private remember(key: string, value: string, modRevision: number): boolean {
    const pattern = parseAclKey(key);
    if (!pattern) return false;
    this.forget(key);
    const acls = Object.freeze((JSON.parse(value) as AclRecord).acls.map((a) => Object.freeze({ ...a })));
    this.patterns.set(key, { ...pattern, acls, modRevision });
    this.count += acls.length;
    return true;
  }

  private forget(key: string): void {
    const old = this.patterns.get(key);
    if (old) this.count -= old.acls.length;
    this.patterns.delete(key);
  }

  /** Every resource pattern holding ACLs. */
  all(): IterableIterator<AclPatternRecord> {
    return this.patterns.values();
  }

  get size(): number {
    return this.count;
  }

  /**
   * Replaces the entries of one resource pattern with `change(current)` (none: the key is deleted), guarded by
   * the key's revision and retried when another broker changed it meanwhile. Resolves with the entries before.
   */
  async update(
    resourceType: number,
    patternType: number,
    name: string,
    change: (current: readonly AclEntryRecord[]) => AclEntryRecord[],
  ): Promise<readonly AclEntryRecord[]> {
    const key = aclKey(resourceType, patternType, name);
    for (let attempt = 1; ; attempt++) {
      const kv = await this.store.get(key);
      const current: readonly AclEntryRecord[] = kv ? (JSON.parse(kv.value) as AclRecord).acls : [];
      const next = change(current);
      if (next.length === 0 && !kv) return current;
      if (next.length > current.length && this.count + next.length - current.length > this.maxAcls)
        throw new AclStoreFullError(this.maxAcls);
      const guard = { key, target: 'modRevision' as const, op: '=' as const, value: kv?.modRevision ?? 0 };
      const value = JSON.stringify({ acls: next } satisfies AclRecord);
      const result = await this.store.txn([guard], [next.length === 0 ? { type: 'delete', key } : { type: 'put', key, value }]);
      if (result.succeeded) {
        // Applied at once here (the watch event for it is then skipped); never over a newer one the watch gave.
        const latest = this.patterns.get(key);
        if (!latest || latest.modRevision < result.revision) {
          if (next.length === 0) this.forget(key);
          else this.remember(key, value, result.revision);
          this.onChange();
        }
        return current;
      }
      if (attempt >= 5) throw new Error(`the ACLs of ${name} keep changing concurrently`);
    }
  }

  /** Adds entries not already present (Kafka: creating an existing ACL succeeds and changes nothing). */
  add(resourceType: number, patternType: number, name: string, entries: readonly AclEntryRecord[]): Promise<readonly AclEntryRecord[]> {
    return this.update(resourceType, patternType, name, (current) => {
      const next = [...current];
      for (const e of entries) if (!next.some((c) => sameEntry(c, e))) next.push({ ...e });
      return next;
    });
  }

  close(): void {
    this.watch?.close();
    this.watch = null;
  }
}
