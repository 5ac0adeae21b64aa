// Producer ids, unique across the cluster and never reused: a broker takes a block of ids at a time from the
// metadata store (a compare-and-swap on /producer-ids/block) and hands them out from memory. A block taken and
// then lost to a crash is simply skipped. spec/producer-state.md.
import assert from 'node:assert/strict';
import { producerIdBlockKey } from '../metadata/layout.ts';
import type { ProducerIdBlockRecord } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { producerIdBlockMaxAttemptsCount } from '../limits.ts';

/** Ids per block (Kafka's ProducerIdManager also takes blocks of 1000). */
export const producerIdBlockSize = 1000;

export class ProducerIdAllocator {
  private readonly metadata: MetadataStore;
  private readonly blockSize: number;
  private next = 0;
  private end = 0;
  private pending: Promise<void> | null = null;
  /** Blocks taken since start. */
  blocks = 0;

  constructor(metadata: MetadataStore, blockSize = producerIdBlockSize) {
    assert.ok(blockSize >= 1);
    this.metadata = metadata;
    this.blockSize = blockSize;
  }

  async allocate(): Promise<number> {
    while (this.next >= this.end) {
      this.pending ??= this.takeBlock().finally(() => (this.pending = null));
      await this.pending;
    }
    return this.next++;
  }

  private async takeBlock(): Promise<void> {
    for (let attempt = 0; attempt < producerIdBlockMaxAttemptsCount; attempt++) {
      const kv = await this.metadata.get(producerIdBlockKey);
      const start = kv === null ? 0 : (JSON.parse(kv.value) as ProducerIdBlockRecord).nextBlockStart;
      const end = start + this.blockSize;
      assert.ok(Number.isSafeInteger(end), 'producer ids exhausted');
      const value: ProducerIdBlockRecord = { nextBlockStart: end };
      const r = await this.metadata.txn(
        [{ key: producerIdBlockKey, target: 'modRevision', op: '=', value: kv?.modRevision ?? 0 }],
        [{ type: 'put', key: producerIdBlockKey, value: JSON.stringify(value) }],
      );
      if (r.succeeded) {
        this.next = start;
        this.end = end;
        this.blocks++;
        return;
      }
    }
    throw new Error('could not take a block of producer ids: too much contention');
  }
}

const allocators = new WeakMap<MetadataStore, ProducerIdAllocator>();

/** The broker's allocator (one per metadata store, so one per broker process). */
export function producerIdAllocator(metadata: MetadataStore): ProducerIdAllocator {
  let a = allocators.get(metadata);
  if (a === undefined) allocators.set(metadata, (a = new ProducerIdAllocator(metadata)));
  return a;
}
