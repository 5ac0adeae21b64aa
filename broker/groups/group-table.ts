// The classic groups a GroupCoordinator holds in memory (coordinator.ts) and their writes to the store: the
// state its parts share (rebalance.ts, membership.ts, offsets.ts). Writes of a group go in issue order, only
// while this broker owns the group's coordinator partition; a store failure becomes the error code Kafka gives
// for a failed write of the coordinator's log.
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/cluster.ts';
import { coordinatorPartitionOf } from '../cluster/cluster.ts';
import { CoordinatorPartitions } from '../cluster/coordinator-partitions.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { ClassicGroup } from './classic-group.ts';
import { FencedWriteError, GroupStore, groupRecordOf } from './group-store.ts';
import type { ConsumerGroupCoordinator } from './consumer-coordinator.ts';
import { coordinatorLoadRetryMs } from '../limits.ts';

/** A store failure as the error code Kafka gives for a failed write of the coordinator's log. */
function storeErrorCode(e: unknown): number {
  if (e instanceof FencedWriteError) return ErrorCode.NOT_COORDINATOR;
  if (e instanceof MetadataUnavailableError) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

/** Stops a group's join, sync and pending-member timers. */
export function clearGroupTimers(g: ClassicGroup): void {
  if (g.joinTimer) clearTimeout(g.joinTimer);
  if (g.syncTimer) clearTimeout(g.syncTimer);
  g.joinTimer = g.syncTimer = null;
  g.inInitialDelay = false;
  for (const t of g.pendingMembers.values()) clearTimeout(t);
  g.pendingMembers.clear();
}

export class ClassicGroupTable {
  readonly groups = new Map<string, ClassicGroup>();
  readonly store: GroupStore;
  /** The coordinator partitions served here: loading on arrival, unloading on departure. */
  readonly partitions: CoordinatorPartitions;
  /** KIP-848 consumer groups: a group id is one group, classic or consumer (consumer-coordinator.ts). */
  consumerGroups: ConsumerGroupCoordinator | null = null;
  private readonly writes = new Set<Promise<unknown>>();
  private readonly logger: Logger;
  private readonly maxGroups: number;
  private readonly now: () => number;

  constructor(args: {
    metadata: MetadataStore;
    cluster: Cluster;
    logger: Logger;
    /** Groups this broker holds in memory. */
    maxGroups: number;
    now: () => number;
    load: (partition: number, isCurrent: () => boolean) => Promise<void>;
    unload: (partition: number) => void;
  }) {
    this.store = new GroupStore(args.metadata, (partition) => args.cluster.coordinatorFence('group', partition));
    this.logger = args.logger;
    this.maxGroups = args.maxGroups;
    this.now = args.now;
    this.partitions = new CoordinatorPartitions({
      cluster: args.cluster,
      kind: 'group',
      logger: this.logger,
      what: 'group coordinator partition',
      retryMs: coordinatorLoadRetryMs,
      load: (partition, _epoch, isCurrent) => args.load(partition, isCurrent),
      unload: args.unload,
    });
  }

  /** Resolves once the writes in flight have finished (or after `waitMs`). */
  async settle(waitMs: number): Promise<void> {
    await this.partitions.settle(this.writes, waitMs);
  }

  owns(partition: number): boolean {
    return this.partitions.owns(partition);
  }

  /** NONE when this broker serves the group now, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  status(groupId: string): number {
    return this.partitions.status(groupId);
  }

  /** A new Empty group of that id, or null when this broker holds group.max.groups already. */
  create(groupId: string): ClassicGroup | null {
    if (this.groups.size >= this.maxGroups) return null;
    const g = new ClassicGroup(groupId, coordinatorPartitionOf(groupId), this.now());
    this.groups.set(groupId, g);
    return g;
  }

  /** A group created by a join that failed before any member was added. */
  maybeDropUnusedGroup(g: ClassicGroup): void {
    if (this.groups.get(g.groupId) !== g) return;
    if (g.is('Empty') && g.members.size === 0 && g.pendingMembers.size === 0 && g.offsetCount() === 0 && g.generationId === 0)
      this.groups.delete(g.groupId);
  }

  /** Runs a store write in the group's write order; resolves with NONE or the error code to answer. */
  writeGroup(g: ClassicGroup, fn: () => Promise<void>): Promise<number> {
    // Only the owner writes (the fence compares then make sure it still is a live member when the store applies it).
    const guarded = () => (this.owns(g.coordinatorPartition) ? fn() : Promise.reject(new FencedWriteError()));
    const run = g.writeChain.then(guarded).then(
      () => ErrorCode.NONE,
      (err: unknown) => {
        const code = storeErrorCode(err);
        if (code === ErrorCode.UNKNOWN_SERVER_ERROR) this.logger.error({ err, group: g.groupId }, 'group metadata write failed');
        else this.logger.warn({ err, group: g.groupId }, 'group metadata write refused');
        return code;
      },
    );
    g.writeChain = run;
    this.writes.add(run);
    void run.finally(() => this.writes.delete(run));
    return run;
  }

  persistGroup(g: ClassicGroup): Promise<number> {
    const record = groupRecordOf(g);
    return this.writeGroup(g, () => this.store.putGroup(g.coordinatorPartition, record));
  }

  /** An empty group without offsets is dead: its record goes (Kafka writes a tombstone). */
  async maybeRemoveDeadGroup(g: ClassicGroup): Promise<void> {
    if (!g.is('Empty') || g.offsetCount() > 0 || g.members.size > 0 || g.pendingMembers.size > 0 || this.groups.get(g.groupId) !== g)
      return;
    await this.removeGroup(g);
  }

  /** Dead while its keys are deleted (joins meanwhile get COORDINATOR_NOT_AVAILABLE); Empty again if that fails. */
  async removeGroup(g: ClassicGroup): Promise<number> {
    const emptySinceMs = g.stateTimestampMs;
    g.transitionTo('Dead', this.now());
    clearGroupTimers(g);
    const code = await this.writeGroup(g, () => this.store.deleteGroup(g.coordinatorPartition, g.groupId));
    if (this.groups.get(g.groupId) !== g) return code;
    if (code === ErrorCode.NONE) {
      this.groups.delete(g.groupId);
    } else {
      g.state = 'Empty';
      g.stateTimestampMs = emptySinceMs;
    }
    return code;
  }
}
