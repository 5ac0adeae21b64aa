// Offsets committed inside a transaction (TxnOffsetCommit, spec/transactions.md): kept pending by the group's
// coordinator — in memory and in the metadata store, so that they survive a crash or a change of coordinator —
// and applied to the group's committed offsets only when the transaction's COMMIT marker reaches the group's
// coordinator partition (a marker for `__consumer_offsets`-<partition>, as in Kafka); an ABORT drops them.
import type { Logger } from 'pino';
import type { Cluster, CoordinatorChange } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import type { OffsetCommitEntry } from '../groups/offsets.ts';
import { txnOffsetsKey, txnOffsetsPartitionPrefix } from '../metadata/layout.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { coordinatorLoadRetryMs } from '../limits.ts';

/** What the group coordinator offers transactions (broker/groups/coordinator.ts). */
export interface TxnGroupAccess {
  /** The group-level check of a TxnOffsetCommit: NONE, or the error for every partition. */
  validateTxnOffsetCommit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number;
  /** Applies offsets of a committed transaction to the group (NONE or the error code). */
  applyTxnOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number>;
}

export interface PendingTxnOffsets {
  groupId: string;
  producerId: number;
  producerEpoch: number;
  offsets: OffsetCommitEntry[];
}

export class TxnOffsetStore {
  private readonly metadata: MetadataStore;
  private readonly cluster: Cluster;
  private readonly logger: Logger;
  groups: TxnGroupAccess | null;
  /** Group coordinator partition → producer id → group id → pending offsets. */
  private readonly pending = new Map<number, Map<number, Map<string, PendingTxnOffsets>>>();
  private readonly loaded = new Set<number>();
  private readonly loadToken = new Map<number, number>();
  private nextToken = 1;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Per (partition, producer): writes in order. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(args: { metadata: MetadataStore; cluster: Cluster; logger: Logger; groups: TxnGroupAccess | null }) {
    this.metadata = args.metadata;
    this.cluster = args.cluster;
    this.logger = args.logger;
    this.groups = args.groups;
  }

  async start(): Promise<void> {
    this.unsubscribe = this.cluster.onCoordinatorChange((changes) => this.onChange(changes));
    for (const p of this.cluster.ownedCoordinatorPartitions('group')) this.beginLoad(p);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    await Promise.allSettled([...this.inFlight]);
  }

  private onChange(changes: CoordinatorChange[]): void {
    if (this.closed) return;
    for (const c of changes) {
      if (c.kind !== 'group') continue;
      if (c.owned) this.beginLoad(c.partition);
      else this.unload(c.partition);
    }
  }

  private owns(partition: number): boolean {
    return !this.closed && this.cluster.coordinatorOwner('group', partition)?.nodeId === this.cluster.nodeId;
  }

  private unload(partition: number): void {
    this.loaded.delete(partition);
    this.loadToken.delete(partition);
    this.pending.delete(partition);
  }

  private beginLoad(partition: number): void {
    this.unload(partition);
    const token = this.nextToken++;
    this.loadToken.set(partition, token);
    const run = this.load(partition, token);
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  private async load(partition: number, token: number): Promise<void> {
    const current = () => !this.closed && this.loadToken.get(partition) === token && this.owns(partition);
    for (;;) {
      if (!current()) return;
      try {
        const kvs = await this.metadata.getPrefix(txnOffsetsPartitionPrefix(partition));
        if (!current()) return;
        const byProducer = new Map<number, Map<string, PendingTxnOffsets>>();
        for (const kv of kvs) {
          const r = JSON.parse(kv.value) as PendingTxnOffsets;
          let m = byProducer.get(r.producerId);
          if (!m) byProducer.set(r.producerId, (m = new Map()));
          m.set(r.groupId, r);
        }
        this.pending.set(partition, byProducer);
        this.loaded.add(partition);
        return;
      } catch (err) {
        this.logger.warn({ err, partition }, 'loading pending transactional offsets failed; retrying');
        await new Promise((res) => setTimeout(res, coordinatorLoadRetryMs).unref());
      }
    }
  }

  private status(partition: number): number {
    if (!this.owns(partition)) return ErrorCode.NOT_COORDINATOR;
    if (!this.loaded.has(partition)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  private serial<T>(partition: number, producerId: number, fn: () => Promise<T>): Promise<T> {
    const key = `${partition}/${producerId}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run)).catch(() => {});
    return run;
  }

  /** TxnOffsetCommit: the group-level error code (NONE when the offsets are pending in the transaction). */
  async commit(req: {
    groupId: string;
    producerId: number;
    producerEpoch: number;
    generationId: number;
    memberId: string;
    groupInstanceId: string | null;
    offsets: OffsetCommitEntry[];
  }): Promise<number> {
    const partition = coordinatorPartitionOf(req.groupId);
    const status = this.status(partition);
    if (status !== ErrorCode.NONE) return status;
    if (this.groups === null) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const check = this.groups.validateTxnOffsetCommit(req.groupId, req.generationId, req.memberId, req.groupInstanceId);
    if (check !== ErrorCode.NONE) return check;
    return this.serial(partition, req.producerId, async () => {
      const byProducer = this.pending.get(partition);
      if (byProducer === undefined || !this.owns(partition)) return ErrorCode.NOT_COORDINATOR;
      const existing = byProducer.get(req.producerId)?.get(req.groupId);
      // Later commits of the same partitions in the same transaction replace earlier ones.
      const merged = new Map<string, OffsetCommitEntry>();
      if (existing && existing.producerEpoch === req.producerEpoch)
        for (const o of existing.offsets) merged.set(`${o.topic}\0${o.partition}`, o);
      for (const o of req.offsets) merged.set(`${o.topic}\0${o.partition}`, o);
      const record: PendingTxnOffsets = {
        groupId: req.groupId,
        producerId: req.producerId,
        producerEpoch: req.producerEpoch,
        offsets: [...merged.values()],
      };
      try {
        const r = await this.metadata.txn(this.cluster.coordinatorFence('group', partition), [
          { type: 'put', key: txnOffsetsKey(partition, req.groupId, req.producerId), value: JSON.stringify(record) },
        ]);
        if (!r.succeeded) return ErrorCode.NOT_COORDINATOR;
      } catch (err) {
        this.logger.warn({ err, group: req.groupId }, 'storing transactional offsets failed');
        return err instanceof MetadataUnavailableError ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.NOT_COORDINATOR;
      }
      let m = byProducer.get(req.producerId);
      if (!m) byProducer.set(req.producerId, (m = new Map()));
      m.set(req.groupId, record);
      return ErrorCode.NONE;
    });
  }

  /**
   * A COMMIT or ABORT marker for the group coordinator partition: applies (commit) or drops (abort) the
   * producer's pending offsets there. Returns WriteTxnMarkers' error code (NOT_COORDINATOR: retriable).
   */
  complete(partition: number, producerId: number, commit: boolean): Promise<number> {
    const status = this.status(partition);
    if (status !== ErrorCode.NONE) return Promise.resolve(ErrorCode.NOT_COORDINATOR);
    return this.serial(partition, producerId, async () => {
      const byProducer = this.pending.get(partition);
      if (byProducer === undefined || !this.owns(partition)) return ErrorCode.NOT_COORDINATOR;
      const groups = byProducer.get(producerId);
      if (groups === undefined || groups.size === 0) return ErrorCode.NONE;
      for (const r of [...groups.values()]) {
        if (commit) {
          if (this.groups === null) return ErrorCode.NOT_COORDINATOR;
          const code = await this.groups.applyTxnOffsets(r.groupId, r.offsets);
          if (code !== ErrorCode.NONE) return ErrorCode.NOT_COORDINATOR;
        }
        try {
          const res = await this.metadata.txn(this.cluster.coordinatorFence('group', partition), [
            { type: 'delete', key: txnOffsetsKey(partition, r.groupId, producerId) },
          ]);
          if (!res.succeeded) return ErrorCode.NOT_COORDINATOR;
        } catch (err) {
          this.logger.warn({ err, group: r.groupId }, 'removing applied transactional offsets failed');
          return ErrorCode.NOT_COORDINATOR;
        }
        groups.delete(r.groupId);
      }
      if (groups.size === 0) byProducer.delete(producerId);
      return ErrorCode.NONE;
    });
  }

  /** Whether a group has offsets pending in an open transaction for this partition (OffsetFetch require_stable). */
  hasPending(groupId: string, topic: string, partition: number): boolean {
    const byProducer = this.pending.get(coordinatorPartitionOf(groupId));
    if (!byProducer) return false;
    for (const groups of byProducer.values()) {
      const r = groups.get(groupId);
      if (r?.offsets.some((o) => o.topic === topic && o.partition === partition)) return true;
    }
    return false;
  }
}
