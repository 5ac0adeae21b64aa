// Dynamic config documents kept in the metadata store, one key per resource (`{ configs }`, Kafka names to
// string values), cached here and followed with a watch so that a change made through any broker of a cluster
// reaches every broker: GROUP config resources (/group-configs/) and dynamic broker configs (/broker-configs/).
import type { MetadataStore, Watch } from './store.ts';

export interface ConfigDocumentsOptions {
  store: MetadataStore;
  prefix: string;
  /** The key of a resource name, under `prefix`. */
  keyOf: (name: string) => string;
  /** The resource name of a key, or null for a key that is not one of these documents. */
  nameOf: (key: string) => string | null;
  /** Most documents held; a write creating one beyond it fails with ConfigDocumentsFullError. */
  maxDocuments: number;
}

export class ConfigDocumentsFullError extends Error {
  constructor(max: number) {
    super(`at most ${max} config resources can hold dynamic configs`);
    this.name = 'ConfigDocumentsFullError';
  }
}

interface Held {
  /** Empty for a document this broker deleted whose delete event the watch has not delivered yet. */
  configs: Readonly<Record<string, string>>;
  modRevision: number;
}

const empty: Readonly<Record<string, string>> = Object.freeze({});

export class ConfigDocuments {
  private readonly o: ConfigDocumentsOptions;
  private readonly docs = new Map<string, Held>();
  private watch: Watch | null = null;
  private onChange: ((name: string) => void) | null = null;

  constructor(options: ConfigDocumentsOptions) {
    this.o = options;
  }

  /** Loads every document and follows later changes; `onChange` runs after each change of a document. */
  async start(onChange?: (name: string) => void): Promise<void> {
    this.onChange = onChange ?? null;
    const fromRevision = (await this.o.store.revision()) + 1;
    this.docs.clear();
    for (const kv of await this.o.store.getPrefix(this.o.prefix)) {
      const name = this.o.nameOf(kv.key);
      if (name !== null) this.remember(name, kv.value, kv.modRevision);
    }
    this.watch = this.o.store.watchPrefix(this.o.prefix, fromRevision, (events) => {
      for (const ev of events) {
        const key = ev.type === 'put' ? ev.kv.key : ev.key;
        const name = this.o.nameOf(key);
        if (name === null) continue;
        const known = this.docs.get(name);
        if (ev.type === 'put') {
          if (known && known.modRevision >= ev.kv.modRevision) continue;
          this.remember(name, ev.kv.value, ev.kv.modRevision);
        } else {
          if (!known || known.modRevision > ev.modRevision) continue;
          this.docs.delete(name);
          // This broker's own delete: the tombstone kept it from older events; nothing changes now.
          if (Object.keys(known.configs).length === 0) continue;
        }
        this.onChange?.(name);
      }
    });
  }

  private remember(name: string, value: string, modRevision: number): void {
    const configs = (JSON.parse(value) as { configs: Record<string, string> }).configs;
    this.docs.set(name, { configs: Object.freeze({ ...configs }), modRevision });
  }

  /** The resource's configs; empty when it has none. Frozen: never changed in place. */
  get(name: string): Readonly<Record<string, string>> {
    return this.docs.get(name)?.configs ?? empty;
  }

  /** Names of the resources holding configs. */
  names(): string[] {
    return [...this.docs].filter(([, d]) => Object.keys(d.configs).length > 0).map(([name]) => name);
  }

  /**
   * Replaces a resource's configs with `change(current)` (no key: the document is deleted), guarded by the
   * document's revision; when another broker changed it meanwhile, it is re-read and `change` applied again.
   * `change` may throw to refuse. Resolves with the configs written.
   */
  async update(
    name: string,
    change: (current: Readonly<Record<string, string>>) => Record<string, string>,
  ): Promise<Record<string, string>> {
    const key = this.o.keyOf(name);
    for (let attempt = 1; ; attempt++) {
      const kv = await this.o.store.get(key);
      const known = this.docs.get(name);
      // A newer document than the watch has delivered yet (another broker's change): applied now, as the watch
      // event for it will be skipped, whatever becomes of this update.
      if (kv && (!known || known.modRevision < kv.modRevision)) {
        this.remember(name, kv.value, kv.modRevision);
        this.onChange?.(name);
      }
      const next = change(kv ? (JSON.parse(kv.value) as { configs: Record<string, string> }).configs : empty);
      if (!kv && Object.keys(next).length > 0 && this.docs.size >= this.o.maxDocuments)
        throw new ConfigDocumentsFullError(this.o.maxDocuments);
      const guard = { key, target: 'modRevision' as const, op: '=' as const, value: kv?.modRevision ?? 0 };
      const deleting = Object.keys(next).length === 0;
      if (deleting && !kv) return next;
      const result = await this.o.store.txn(
        [guard],
        [deleting ? { type: 'delete', key } : { type: 'put', key, value: JSON.stringify({ configs: next }) }],
      );
      if (result.succeeded) {
        // The watch may already have delivered a later change: the cache never goes back.
        const latest = this.docs.get(name);
        if (!latest || latest.modRevision < result.revision) {
          this.docs.set(name, { configs: deleting ? empty : Object.freeze({ ...next }), modRevision: result.revision });
          this.onChange?.(name);
        }
        return next;
      }
      if (attempt >= 5) throw new Error(`the configs of ${name} keep changing concurrently`);
    }
  }

  close(): void {
    this.watch?.close();
    this.watch = null;
  }
}
