// Cluster mode over a shared metadata store (etcd): membership under a lease, partition ownership under
// /owners/, a controller (the live, non-draining member with the lowest node id) that keeps the assignment
// valid and balanced, and each broker's agent that loads what it is given and hands over what it is asked to.
// Design and safety argument: spec/cluster.md.
//
// Fencing: a broker's writes that only an owner may make compare the createRevision of its member key. The
// key lives as long as its lease; once the lease expires (kill -9, pause, partition from etcd) the key is gone,
// every later write of that incarnation fails, and only then does the controller give its partitions away.
import assert from 'node:assert/strict';
import type { Logger } from 'pino';
import { memberKey, memberPrefix, ownerKey, ownerPrefix, parseOwnerKey } from '../metadata/layout.ts';
import type { ListenerEndpoint, MemberRecord } from '../metadata/layout.ts';
import type { Compare, Lease, MetadataStore, Op, Watch, WatchEvent } from '../metadata/store.ts';
import { LeaseLostError } from '../metadata/store.ts';
import type { TopicRegistry } from '../metadata/topics.ts';
import { computeAssignment } from './assignment.ts';
import type { Member, OwnerSlot, TableSlots } from './assignment.ts';
import { coordinatorPartitionCount, withBoundPorts } from './cluster.ts';
import type { BrokerEndpoint, Cluster, CoordinatorChange, CoordinatorKind, PartitionOwner } from './cluster.ts';
import { clusterControllerIntervalMs, clusterReconcileDebounceMs, ownershipTxnMaxChangesCount } from '../limits.ts';

/** Coordinator tables in /owners/ (never a topic id: those are 22 characters). */
const coordinatorTables: Record<CoordinatorKind, string> = { group: '__group', transaction: '__transaction' };
const tableKinds = new Map<string, CoordinatorKind>([
  ['__group', 'group'],
  ['__transaction', 'transaction'],
]);
/**
 * Ownership transactions the controller has in flight at once. They touch disjoint keys, each guarded by its own
 * compares, so they may commit in any order; one after another, the 13 transactions of 10 new topics of 64
 * partitions took about 500 ms on a loaded machine, together about one etcd round trip.
 */
const maxControllerTxnsInFlight = 16;

export interface PartitionHooks {
  /** Loads partitions this broker now owns; resolves when each is served (or has failed and been logged). */
  acquire(parts: { topicId: string; partition: number; epoch: number }[]): Promise<void>;
  /** Stops appends, waits until everything appended is durable, and drops the partition. */
  release(topicId: string, partition: number): Promise<void>;
  /** The partition was taken away without a handover (this broker was presumed dead): drop it at once. */
  drop(topicId: string, partition: number): void;
  /** Whether the partition is loaded (or loading) here. */
  holds(topicId: string, partition: number): boolean;
  /** Partitions loaded here. */
  held(): { topicId: string; partition: number }[];
}

export interface EtcdClusterOptions {
  store: MetadataStore;
  topics: TopicRegistry;
  self: { nodeId: number; host: string; port: number; listeners?: ListenerEndpoint[]; rack: string | null; incarnation: string };
  sessionTimeoutMs: number;
  logger: Logger;
  /** Membership was lost for good (lease expired, or another process took this node id). */
  onMembershipLost: (reason: Error) => void;
}

interface SlotState {
  slot: OwnerSlot;
  /** The key's value as stored (coordinator fences compare it). */
  value: string;
  modRevision: number;
}

interface MemberState {
  record: MemberRecord;
  rev: number;
  modRevision: number;
}

function endpointOf(r: MemberRecord): BrokerEndpoint {
  return { nodeId: r.nodeId, host: r.host, port: r.port, rack: r.rack, listeners: r.listeners };
}

export class EtcdCluster implements Cluster {
  readonly nodeId: number;
  private readonly o: EtcdClusterOptions;
  private lease: Lease | null = null;
  private memberRev = 0;
  private record: MemberRecord;
  private readonly members = new Map<number, MemberState>();
  private readonly slots = new Map<string, Map<number, SlotState>>();
  private hooks: PartitionHooks | null = null;
  private readonly coordinatorListeners = new Set<(changes: CoordinatorChange[]) => void>();
  private readonly topicDeletedListeners = new Set<(topicName: string) => void>();
  private readonly ownedCoordinators: Record<CoordinatorKind, Map<number, number>> = { group: new Map(), transaction: new Map() };
  private readonly handingOver = new Set<string>();
  private readonly acquiring = new Set<string>();
  private watches: Watch[] = [];
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private controllerTimer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private reconciling = false;
  private reconcileAgain = false;
  private closed = false;
  private lost: Error | null = null;
  /** Resolvers waiting for this broker to own nothing (drain). */
  private emptyWaiters: (() => void)[] = [];
  readonly stats = { acquisitions: 0, handovers: 0, controllerWrites: 0, controllerConflicts: 0 };

  constructor(o: EtcdClusterOptions) {
    this.o = o;
    this.nodeId = o.self.nodeId;
    this.record = { ...o.self, draining: false, startedAtMs: Date.now() };
  }

  /**
   * Registers this broker: a lease, then its member key (replacing an earlier incarnation of the same node id,
   * whose writes are fenced from then on).
   */
  async join(): Promise<void> {
    const o = this.o;
    const lease = await o.store.grantLease(o.sessionTimeoutMs);
    this.lease = lease;
    const key = memberKey(this.nodeId);
    const existing = await o.store.get(key);
    if (existing) {
      const prior = JSON.parse(existing.value) as MemberRecord;
      o.logger.warn(
        { nodeId: this.nodeId, priorIncarnation: prior.incarnation },
        'node id registered by an earlier incarnation (or another broker): taking it over; its writes are fenced from now on',
      );
    }
    // Deleted first, so the new key gets a new createRevision (the identity the old incarnation's fence names).
    if (existing) await o.store.txn([{ key, target: 'modRevision', op: '=', value: existing.modRevision }], [{ type: 'delete', key }]);
    const r = await o.store.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ type: 'put', key, value: JSON.stringify(this.record), lease: lease.id }],
    );
    if (!r.succeeded) throw new Error(`node id ${this.nodeId} was registered concurrently by another broker`);
    this.memberRev = r.revision;
    this.startKeepAlive();
  }

  /** Advertised ports may only be known once the listeners are bound (port 0); set them before join(). */
  setBoundPorts(boundPorts: ReadonlyMap<string, number>, interBrokerListener: string): void {
    assert.equal(this.memberRev, 0, 'before join');
    this.record = { ...this.record, ...withBoundPorts(this.record.listeners ?? [], boundPorts, interBrokerListener) };
  }

  private startKeepAlive(): void {
    const interval = Math.max(100, Math.floor(this.o.sessionTimeoutMs / 3));
    const tick = () => {
      if (this.closed || this.lost || !this.lease) return;
      this.lease.keepAlive().then(
        () => this.scheduleKeepAlive(tick, interval),
        (err: unknown) => {
          if (err instanceof LeaseLostError) this.membershipLost(err);
          else {
            this.o.logger.warn({ err }, 'lease keep-alive failed; retrying');
            this.scheduleKeepAlive(tick, Math.min(interval, 500));
          }
        },
      );
    };
    this.scheduleKeepAlive(tick, interval);
  }

  private scheduleKeepAlive(tick: () => void, ms: number): void {
    if (this.closed) return;
    this.keepAliveTimer = setTimeout(tick, ms);
    this.keepAliveTimer.unref();
  }

  private membershipLost(reason: Error): void {
    if (this.lost || this.closed) return;
    this.lost = reason;
    this.o.logger.error({ err: reason }, 'cluster membership lost: this broker stops serving its partitions');
    for (const kind of ['group', 'transaction'] as const) {
      const parts = [...this.ownedCoordinators[kind].entries()];
      this.ownedCoordinators[kind].clear();
      if (parts.length > 0) this.emit(parts.map(([partition, epoch]) => ({ kind, partition, owned: false, epoch })));
    }
    if (this.hooks) for (const p of this.hooks.held()) this.hooks.drop(p.topicId, p.partition);
    this.o.onMembershipLost(reason);
  }

  /** Starts following members, ownership and topics, and serving what this broker is given. */
  async start(hooks: PartitionHooks): Promise<void> {
    this.hooks = hooks;
    const fromRevision = (await this.o.store.revision()) + 1;
    const [memberKvs, ownerKvs] = await Promise.all([this.o.store.getPrefix(memberPrefix), this.o.store.getPrefix(ownerPrefix)]);
    for (const kv of memberKvs) this.applyMember({ type: 'put', kv });
    for (const kv of ownerKvs) this.applyOwner({ type: 'put', kv });
    this.watches.push(
      this.o.store.watchPrefix(memberPrefix, fromRevision, (events) => {
        for (const e of events) this.applyMember(e);
        this.scheduleReconcile();
      }),
    );
    this.watches.push(
      this.o.store.watchPrefix(ownerPrefix, fromRevision, (events) => {
        for (const e of events) this.applyOwner(e);
        this.scheduleReconcile();
      }),
    );
    this.watches.push(
      await this.o.topics.follow((changes) => {
        for (const c of changes) {
          if (!c.deleted) continue;
          this.dropTopic(c.record.id);
          for (const l of this.topicDeletedListeners) {
            try {
              l(c.record.name);
            } catch (err) {
              this.o.logger.error({ err }, 'topic deletion listener failed');
            }
          }
        }
        this.scheduleReconcile();
      }),
    );
    this.controllerTimer = setInterval(() => this.scheduleReconcile(), clusterControllerIntervalMs);
    this.controllerTimer.unref();
    await this.reconcile();
  }

  private applyMember(e: WatchEvent): void {
    if (e.type === 'put') {
      const record = JSON.parse(e.kv.value) as MemberRecord;
      const known = this.members.get(record.nodeId);
      if (known && known.modRevision >= e.kv.modRevision) return;
      this.members.set(record.nodeId, { record, rev: e.kv.createRevision, modRevision: e.kv.modRevision });
      if (record.nodeId === this.nodeId && e.kv.createRevision !== this.memberRev && e.kv.createRevision > this.memberRev) {
        this.membershipLost(new Error(`node id ${this.nodeId} was registered by another process (incarnation ${record.incarnation})`));
      }
    } else {
      const nodeId = Number(e.key.slice(memberPrefix.length));
      const known = this.members.get(nodeId);
      if (!known || known.modRevision > e.modRevision) return;
      this.members.delete(nodeId);
      if (nodeId === this.nodeId && known.rev === this.memberRev && !this.closed) {
        this.membershipLost(new LeaseLostError(this.lease?.id ?? 0));
      }
    }
  }

  private applyOwner(e: WatchEvent): void {
    if (e.type === 'put') {
      this.putOwner(e.kv.key, e.kv.value, e.kv.modRevision);
      return;
    }
    const id = parseOwnerKey(e.key);
    if (!id) return;
    const table = this.slots.get(id.table);
    if (table) {
      const known = table.get(id.partition);
      if (!known || known.modRevision > e.modRevision) return;
      table.delete(id.partition);
      if (table.size === 0) this.slots.delete(id.table);
    }
  }

  /** An owner slot as of `modRevision` (older news than what is known is ignored). */
  private putOwner(key: string, value: string, modRevision: number): void {
    const id = parseOwnerKey(key);
    if (!id) return;
    let table = this.slots.get(id.table);
    const known = table?.get(id.partition);
    if (known && known.modRevision >= modRevision) return;
    if (!table) this.slots.set(id.table, (table = new Map()));
    table.set(id.partition, { slot: JSON.parse(value) as OwnerSlot, value, modRevision });
  }

  private dropTopic(topicId: string): void {
    if (!this.hooks) return;
    for (const p of this.hooks.held()) if (p.topicId === topicId) this.hooks.drop(p.topicId, p.partition);
  }

  private scheduleReconcile(): void {
    if (this.closed || this.reconcileTimer) return;
    this.reconcileTimer = setTimeout(() => {
      this.reconcileTimer = null;
      this.reconcile().catch((err) => this.o.logger.warn({ err }, 'cluster reconcile failed; retried'));
    }, clusterReconcileDebounceMs);
  }

  private async reconcile(): Promise<void> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    this.reconciling = true;
    try {
      do {
        this.reconcileAgain = false;
        if (this.closed || this.lost) return;
        if (this.controllerId() === this.nodeId) await this.control();
        this.serveOwnership();
      } while (this.reconcileAgain);
    } finally {
      this.reconciling = false;
    }
  }

  private liveMembers(): Member[] {
    return [...this.members.values()].map((m) => ({
      nodeId: m.record.nodeId,
      rev: m.rev,
      rack: m.record.rack,
      draining: m.record.draining,
    }));
  }

  /** The controller's pass: writes the ownership changes that make the assignment valid and balanced. */
  private async control(): Promise<void> {
    // Data partitions and coordinator partitions are balanced separately: their costs differ.
    const tables: TableSlots[] = [];
    const coordinators: TableSlots[] = [];
    const tableOf = (table: string, partitions: number): TableSlots => {
      const known = this.slots.get(table);
      const slots: (OwnerSlot | undefined)[] = [];
      for (let p = 0; p < partitions; p++) slots.push(known?.get(p)?.slot);
      return { table, slots, partitions };
    };
    for (const t of this.o.topics.all()) tables.push(tableOf(t.id, t.partitions));
    for (const table of Object.values(coordinatorTables)) coordinators.push(tableOf(table, coordinatorPartitionCount));
    const members = this.liveMembers();
    const changes = [...computeAssignment(tables, members), ...computeAssignment(coordinators, members)];
    const deletes: string[] = [];
    for (const table of this.slots.keys()) {
      if (!tableKinds.has(table) && !this.o.topics.byId(table))
        for (const p of this.slots.get(table)!.keys()) deletes.push(ownerKey(table, p));
    }
    const txns: { compares: Compare[]; ops: { type: 'put'; key: string; value: string }[] }[] = [];
    for (let i = 0; i < changes.length; i += ownershipTxnMaxChangesCount) {
      const compares: Compare[] = [...this.fence()];
      const ops: { type: 'put'; key: string; value: string }[] = [];
      for (const c of changes.slice(i, i + ownershipTxnMaxChangesCount)) {
        const key = ownerKey(c.table, c.partition);
        compares.push({ key, target: 'modRevision', op: '=', value: this.slots.get(c.table)?.get(c.partition)?.modRevision ?? 0 });
        ops.push({ type: 'put', key, value: JSON.stringify(c.next) });
      }
      txns.push({ compares, ops });
    }
    let next = 0;
    const writer = async () => {
      while (next < txns.length) {
        const { compares, ops } = txns[next++]!;
        const r = await this.o.store.txn(compares, ops);
        if (!r.succeeded) {
          this.stats.controllerConflicts++; // changed meanwhile: the watch brings the news and another pass follows
          continue;
        }
        this.stats.controllerWrites += ops.length;
        // Known at once, not when the watch echoes it (applyOwner skips the echo): a pass that follows at once
        // (topics created one after another) builds on these slots instead of assigning them again, which
        // would fail its compares and leave the new partitions without an owner until yet another pass.
        for (const op of ops) this.putOwner(op.key, op.value, r.revision);
      }
    };
    await Promise.all(Array.from({ length: Math.min(maxControllerTxnsInFlight, txns.length) }, writer));
    for (let i = 0; i < deletes.length; i += ownershipTxnMaxChangesCount) {
      await this.o.store.txn(
        this.fence(),
        deletes.slice(i, i + ownershipTxnMaxChangesCount).map((key): Op => ({ type: 'delete', key })),
      );
    }
  }

  private ownedByMe(s: OwnerSlot): boolean {
    return s.owner === this.nodeId && s.ownerRev === this.memberRev;
  }

  /** This broker's side: load what it now owns, hand over what it is asked to, drop what was taken away. */
  private serveOwnership(): void {
    const hooks = this.hooks!;
    const toAcquire: { topicId: string; partition: number; epoch: number }[] = [];
    const coordinatorChanges: CoordinatorChange[] = [];
    const stillOwned = new Set<string>();
    for (const [table, parts] of this.slots) {
      const kind = tableKinds.get(table);
      for (const [partition, { slot }] of parts) {
        if (!this.ownedByMe(slot)) continue;
        const id = `${table}/${partition}`;
        stillOwned.add(id);
        if (kind) {
          const owned = this.ownedCoordinators[kind];
          if (slot.target >= 0 && slot.target !== this.nodeId) {
            if (owned.delete(partition)) coordinatorChanges.push({ kind, partition, owned: false, epoch: slot.epoch });
            this.handOver(table, partition);
          } else if (!owned.has(partition)) {
            owned.set(partition, slot.epoch);
            coordinatorChanges.push({ kind, partition, owned: true, epoch: slot.epoch });
          }
          continue;
        }
        if (!this.o.topics.byId(table)) continue; // the topic's creation has not reached this broker yet
        if (slot.target >= 0 && slot.target !== this.nodeId) {
          if (!this.acquiring.has(id)) this.handOver(table, partition);
        } else if (!hooks.holds(table, partition) && !this.acquiring.has(id)) {
          toAcquire.push({ topicId: table, partition, epoch: slot.epoch });
        }
      }
    }
    for (const kind of ['group', 'transaction'] as const) {
      for (const [partition, epoch] of [...this.ownedCoordinators[kind]]) {
        if (!stillOwned.has(`${coordinatorTables[kind]}/${partition}`)) {
          this.ownedCoordinators[kind].delete(partition);
          coordinatorChanges.push({ kind, partition, owned: false, epoch });
        }
      }
    }
    for (const p of hooks.held()) {
      const id = `${p.topicId}/${p.partition}`;
      if (!stillOwned.has(id) && !this.handingOver.has(id) && !this.acquiring.has(id)) {
        this.o.logger.warn({ topicId: p.topicId, partition: p.partition }, 'partition taken away without a handover: dropped');
        hooks.drop(p.topicId, p.partition);
      }
    }
    if (coordinatorChanges.length > 0) this.emit(coordinatorChanges);
    if (toAcquire.length > 0) {
      for (const p of toAcquire) this.acquiring.add(`${p.topicId}/${p.partition}`);
      this.stats.acquisitions += toAcquire.length;
      hooks
        .acquire(toAcquire)
        .catch((err) => this.o.logger.error({ err }, 'loading partitions failed'))
        .finally(() => {
          for (const p of toAcquire) this.acquiring.delete(`${p.topicId}/${p.partition}`);
          this.scheduleReconcile();
        });
    }
    this.checkEmpty();
  }

  private emit(changes: CoordinatorChange[]): void {
    for (const l of this.coordinatorListeners) {
      try {
        l(changes);
      } catch (err) {
        this.o.logger.error({ err }, 'coordinator change listener failed');
      }
    }
  }

  /** Finishes what is in flight for the partition, then names the target as owner (epoch + 1). */
  private handOver(table: string, partition: number): void {
    const id = `${table}/${partition}`;
    if (this.handingOver.has(id)) return;
    this.handingOver.add(id);
    (async () => {
      if (!tableKinds.has(table)) await this.hooks!.release(table, partition);
      for (let attempt = 0; attempt < 10 && !this.lost; attempt++) {
        const key = ownerKey(table, partition);
        const kv = await this.o.store.get(key);
        if (!kv) return;
        const slot = JSON.parse(kv.value) as OwnerSlot;
        if (!this.ownedByMe(slot) || slot.target < 0) return;
        const target = this.members.get(slot.target);
        const next: OwnerSlot =
          target && !target.record.draining
            ? { owner: slot.target, ownerRev: target.rev, epoch: slot.epoch + 1, target: -1 }
            : { owner: -1, ownerRev: 0, epoch: slot.epoch, target: -1 }; // the controller picks another
        const r = await this.o.store.txn(
          [...this.fence(), { key, target: 'modRevision', op: '=', value: kv.modRevision }],
          [{ type: 'put', key, value: JSON.stringify(next) }],
        );
        if (r.succeeded) {
          this.stats.handovers++;
          return;
        }
      }
    })()
      .catch((err) => this.o.logger.warn({ err, table, partition }, 'handover failed; the controller will retry'))
      .finally(() => {
        this.handingOver.delete(id);
        this.scheduleReconcile();
      });
  }

  private ownsAnything(): boolean {
    for (const parts of this.slots.values()) for (const { slot } of parts.values()) if (this.ownedByMe(slot)) return true;
    return false;
  }

  private checkEmpty(): void {
    if (this.emptyWaiters.length > 0 && !this.ownsAnything()) for (const w of this.emptyWaiters.splice(0)) w();
  }

  /**
   * Graceful shutdown: marks this broker draining so the controller moves its partitions to others, and waits
   * (at most `timeoutMs`) until it owns nothing. With no other eligible broker there is nobody to hand to.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.lost || this.closed) return false;
    const others = [...this.members.values()].some((m) => m.record.nodeId !== this.nodeId && !m.record.draining);
    if (!others) return false;
    this.record = { ...this.record, draining: true };
    const key = memberKey(this.nodeId);
    const r = await this.o.store.txn(this.fence(), [{ type: 'put', key, value: JSON.stringify(this.record), lease: this.lease!.id }]);
    if (!r.succeeded) return false;
    let timer: NodeJS.Timeout | undefined;
    const emptied = await Promise.race([
      new Promise<boolean>((resolve) => {
        this.emptyWaiters.push(() => resolve(true));
        this.checkEmpty();
      }),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return emptied;
  }

  /** Called with the name of every topic another broker deleted (so coordinators drop its offsets). */
  onTopicDeleted(listener: (topicName: string) => void): () => void {
    this.topicDeletedListeners.add(listener);
    return () => this.topicDeletedListeners.delete(listener);
  }

  /** Leaves the cluster: watches stop and the lease is revoked (the member key goes with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.close();
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    if (this.controllerTimer) clearInterval(this.controllerTimer);
    if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
    if (this.lease && !this.lost)
      await this.lease.revoke().catch((err) => this.o.logger.warn({ err }, 'lease revoke failed; it expires by itself'));
  }

  // ---- Cluster ----

  /** Live members; this broker is always among them while it has not lost its place (also before it joined). */
  liveBrokers(): BrokerEndpoint[] {
    const list = [...this.members.values()].map((m) => endpointOf(m.record));
    if (!this.lost && !this.members.has(this.nodeId)) list.push(endpointOf(this.record));
    return list.sort((a, b) => a.nodeId - b.nodeId);
  }

  broker(nodeId: number): BrokerEndpoint | undefined {
    if (nodeId === this.nodeId && !this.lost) return endpointOf(this.record);
    const m = this.members.get(nodeId);
    return m ? endpointOf(m.record) : undefined;
  }

  controllerId(): number {
    let id = -1;
    for (const m of this.members.values()) if (!m.record.draining && (id < 0 || m.record.nodeId < id)) id = m.record.nodeId;
    return id < 0 ? this.nodeId : id;
  }

  private liveOwner(table: string, partition: number): PartitionOwner | null {
    const s = this.slots.get(table)?.get(partition)?.slot;
    if (!s || s.owner < 0) return null;
    const m = this.members.get(s.owner);
    if (!m || m.rev !== s.ownerRev) return null;
    return { nodeId: s.owner, leaderEpoch: s.epoch };
  }

  ownerOf(topicId: string, partition: number): PartitionOwner | null {
    return this.liveOwner(topicId, partition);
  }

  coordinatorOwner(kind: CoordinatorKind, partition: number): PartitionOwner | null {
    return this.liveOwner(coordinatorTables[kind], partition);
  }

  fence(): Compare[] {
    assert.ok(this.memberRev > 0, 'joined');
    return [{ key: memberKey(this.nodeId), target: 'createRevision', op: '=', value: this.memberRev }];
  }

  coordinatorFence(kind: CoordinatorKind, partition: number): Compare[] {
    const table = coordinatorTables[kind];
    const state = this.slots.get(table)?.get(partition);
    // Not owned here (any more): a compare that cannot hold, so the write is refused.
    const value = state && this.ownedByMe(state.slot) && state.slot.target < 0 ? state.value : '\u0000not-owned';
    return [...this.fence(), { key: ownerKey(table, partition), target: 'value', op: '=', value }];
  }

  onCoordinatorChange(listener: (changes: CoordinatorChange[]) => void): () => void {
    this.coordinatorListeners.add(listener);
    return () => this.coordinatorListeners.delete(listener);
  }

  ownedCoordinatorPartitions(kind: CoordinatorKind): number[] {
    return [...this.ownedCoordinators[kind].keys()].sort((a, b) => a - b);
  }
}
