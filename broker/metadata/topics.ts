// Topics: names, ids, partition counts and config overrides, kept in the metadata store under /topics/ and
// cached here. Every change is a guarded transaction, so two brokers never both create or change a topic.
import { randomBytes } from 'node:crypto';
import type { MetadataStore, Watch } from './store.ts';
import { deletedTopicKey, topicKey, topicPrefix } from './layout.ts';
import type { TopicRecord } from './layout.ts';

export const maxTopicNameLength = 249;
const legalTopicName = /^[a-zA-Z0-9._-]+$/;

/** Kafka's topic name rules (Topic.validate); returns the problem, or null when the name is legal. */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > maxTopicNameLength)
    return `Topic name is illegal, it can't be longer than ${maxTopicNameLength} characters, topic name: ${name}`;
  if (!legalTopicName.test(name))
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  return null;
}

/** A random topic id, never the zero id and never starting with '-' (as Kafka's Uuid.randomUuid). */
export function newTopicId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-') && id !== 'AAAAAAAAAAAAAAAAAAAAAA' && id !== 'AAAAAAAAAAAAAAAAAAAAAQ') return id;
  }
}

export class TopicExistsError extends Error {
  constructor(name: string) {
    super(`Topic '${name}' already exists.`);
    this.name = 'TopicExistsError';
  }
}

export class TopicChangedError extends Error {
  constructor(name: string) {
    super(`Topic '${name}' was changed or deleted concurrently; retry.`);
    this.name = 'TopicChangedError';
  }
}

export class TopicRegistry {
  private readonly store: MetadataStore;
  private readonly byNameMap = new Map<string, { record: TopicRecord; modRevision: number }>();
  private readonly byIdMap = new Map<string, TopicRecord>();

  constructor(store: MetadataStore) {
    this.store = store;
  }

  async load(): Promise<void> {
    this.byNameMap.clear();
    this.byIdMap.clear();
    for (const kv of await this.store.getPrefix(topicPrefix)) {
      const record = JSON.parse(kv.value) as TopicRecord;
      this.remember(record, kv.modRevision);
    }
  }

  private remember(record: TopicRecord, modRevision: number): void {
    this.byNameMap.set(record.name, { record, modRevision });
    this.byIdMap.set(record.id, record);
  }

  byName(name: string): TopicRecord | undefined {
    return this.byNameMap.get(name)?.record;
  }

  byId(id: string): TopicRecord | undefined {
    return this.byIdMap.get(id);
  }

  all(): TopicRecord[] {
    return [...this.byNameMap.values()].map((e) => e.record).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async create(name: string, partitions: number, configs: Record<string, string>): Promise<TopicRecord> {
    const record: TopicRecord = { name, id: newTopicId(), partitions, configs, createdAtMs: Date.now() };
    const key = topicKey(name);
    const result = await this.store.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key, value: JSON.stringify(record) }],
    );
    if (!result.succeeded) {
      await this.refresh(name);
      throw new TopicExistsError(name);
    }
    this.remember(record, result.revision);
    return record;
  }

  private async update(name: string, change: (r: TopicRecord) => TopicRecord): Promise<TopicRecord> {
    const current = this.byNameMap.get(name);
    if (!current) throw new TopicChangedError(name);
    const next = change(current.record);
    const key = topicKey(name);
    const result = await this.store.txn(
      [{ key, target: 'modRevision', op: '=', value: current.modRevision }],
      [{ type: 'put', key, value: JSON.stringify(next) }],
    );
    if (!result.succeeded) {
      await this.refresh(name);
      throw new TopicChangedError(name);
    }
    this.remember(next, result.revision);
    return next;
  }

  setPartitionCount(name: string, partitions: number): Promise<TopicRecord> {
    return this.update(name, (r) => ({ ...r, partitions }));
  }

  setConfigs(name: string, configs: Record<string, string>): Promise<TopicRecord> {
    return this.update(name, (r) => ({ ...r, configs }));
  }

  /** Deletes the topic and records it for data clean-up, in one transaction. */
  async delete(name: string): Promise<TopicRecord> {
    const current = this.byNameMap.get(name);
    if (!current) throw new TopicChangedError(name);
    const { record } = current;
    const result = await this.store.txn(
      [{ key: topicKey(name), target: 'modRevision', op: '=', value: current.modRevision }],
      [
        { type: 'delete', key: topicKey(name) },
        {
          type: 'put',
          key: deletedTopicKey(record.id),
          value: JSON.stringify({ id: record.id, name, partitions: record.partitions, deletedAtMs: Date.now() }),
        },
      ],
    );
    if (!result.succeeded) {
      await this.refresh(name);
      throw new TopicChangedError(name);
    }
    this.byNameMap.delete(name);
    this.byIdMap.delete(record.id);
    return record;
  }

  /**
   * Cluster mode: follows topics created, changed and deleted by other brokers. Events older than what the
   * registry already holds (its own writes, or the initial load) are ignored. `onChange` runs after each batch.
   */
  async follow(onChange: (changes: { record: TopicRecord; deleted: boolean }[]) => void): Promise<Watch> {
    const fromRevision = (await this.store.revision()) + 1;
    await this.load();
    return this.store.watchPrefix(topicPrefix, fromRevision, (events) => {
      const changes: { record: TopicRecord; deleted: boolean }[] = [];
      for (const ev of events) {
        if (ev.type === 'put') {
          const record = JSON.parse(ev.kv.value) as TopicRecord;
          const known = this.byNameMap.get(record.name);
          if (known && known.modRevision >= ev.kv.modRevision) continue;
          if (known && known.record.id !== record.id) {
            this.byIdMap.delete(known.record.id);
            changes.push({ record: known.record, deleted: true });
          }
          this.remember(record, ev.kv.modRevision);
          changes.push({ record, deleted: false });
        } else {
          const name = ev.key.slice(topicPrefix.length);
          const known = this.byNameMap.get(name);
          if (!known || known.modRevision > ev.modRevision) continue;
          this.byNameMap.delete(name);
          this.byIdMap.delete(known.record.id);
          changes.push({ record: known.record, deleted: true });
        }
      }
      if (changes.length > 0) onChange(changes);
    });
  }

  private async refresh(name: string): Promise<void> {
    const kv = await this.store.get(topicKey(name));
    const old = this.byNameMap.get(name);
    if (old) {
      this.byNameMap.delete(name);
      this.byIdMap.delete(old.record.id);
    }
    if (kv) this.remember(JSON.parse(kv.value) as TopicRecord, kv.modRevision);
  }
}
