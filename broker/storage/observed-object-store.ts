// Feeds every object-store call's latency and outcome to the health tracker. Answers that are part of the
// contract (not found, already exists, bad range) count as successful calls: the store worked.
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.ts';
import { ObjectStoreUnavailableError } from './object-store.ts';
import type { CallOutcome, ObjectStoreHealth } from './health.ts';

function outcomeOf(error: unknown): CallOutcome {
  if (!(error instanceof Error)) return 'error';
  if (error instanceof ObjectStoreUnavailableError) return /slow ?down|throttl|429|503/i.test(error.message) ? 'throttled' : 'error';
  if (error.name === 'ObjectNotFoundError' || error.name === 'PreconditionFailedError' || error instanceof RangeError) return 'ok';
  return 'error';
}

export class ObservedObjectStore implements ObjectStore {
  private readonly inner: ObjectStore;
  readonly health: ObjectStoreHealth;

  constructor(inner: ObjectStore, health: ObjectStoreHealth) {
    this.inner = inner;
    this.health = health;
  }

  private async observe<T>(call: () => Promise<T>): Promise<T> {
    const id = this.health.begin();
    try {
      const result = await call();
      this.health.end(id, 'ok');
      return result;
    } catch (error) {
      this.health.end(id, outcomeOf(error));
      throw error;
    }
  }

  put(key: string, body: Buffer | Buffer[], options?: PutOptions): Promise<ObjectInfo> {
    return this.observe(() => this.inner.put(key, body, options));
  }

  get(key: string, range?: { start: number; end: number }): Promise<Buffer> {
    return this.observe(() => this.inner.get(key, range));
  }

  head(key: string): Promise<ObjectInfo | null> {
    return this.observe(() => this.inner.head(key));
  }

  delete(keys: string[]): Promise<void> {
    return this.observe(() => this.inner.delete(keys));
  }

  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<ObjectInfo[]> {
    return this.observe(() => this.inner.list(prefix, options));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
