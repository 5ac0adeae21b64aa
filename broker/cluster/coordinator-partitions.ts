// The coordinator partitions of one kind (groups or transactions) that this broker serves: it follows the
// cluster's coordinator changes, loads a partition's state when the partition arrives (retrying until it
// succeeds or the partition leaves), unloads it when it leaves, and tells a request whether its key is served
// here now (NONE), elsewhere (NOT_COORDINATOR) or still loading (COORDINATOR_LOAD_IN_PROGRESS). The classic
// group coordinator, the KIP-848 coordinator and the transaction coordinator share it.
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.ts';
import { coordinatorPartitionOf } from './cluster.ts';
import type { Cluster, CoordinatorChange, CoordinatorKind } from './cluster.ts';

export interface CoordinatorPartitionsOptions {
  cluster: Cluster;
  kind: CoordinatorKind;
  logger: Logger;
  /** What is loaded, for log lines ("group coordinator partition"). */
  what: string;
  /**
   * Reads a partition's state and installs it, unless `isCurrent()` has turned false by then (the partition
   * left, or arrived again and a newer load runs): then it installs nothing. Throws to be retried.
   */
  load: (partition: number, epoch: number, isCurrent: () => boolean) => Promise<void>;
  /** Drops what was installed for the partition (it left, or is about to be loaded afresh). */
  unload: (partition: number) => void;
  /** Called once the partition is served (status NONE), e.g. to resume work its previous owner left undone. */
  loaded?: (partition: number, epoch: number) => void;
  /** Wait between attempts of a failed load. */
  retryMs: number;
}

export class CoordinatorPartitions {
  private readonly o: CoordinatorPartitionsOptions;
  private readonly loaded = new Set<number>();
  /** Partition → token of its newest load: a newer arrival or a departure invalidates the load in flight. */
  private readonly loadToken = new Map<number, number>();
  private nextLoadToken = 1;
  private readonly pendingLoads = new Set<Promise<void>>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(options: CoordinatorPartitionsOptions) {
    this.o = options;
  }

  /** Follows coordinator changes and starts loading the partitions owned now. */
  start(): void {
    this.unsubscribe = this.o.cluster.onCoordinatorChange((changes) => this.onChange(changes));
    for (const p of this.o.cluster.ownedCoordinatorPartitions(this.o.kind))
      this.beginLoad(p, this.o.cluster.coordinatorOwner(this.o.kind, p)?.leaderEpoch ?? 0);
  }

  /** Resolves when no load is in flight. */
  async loadsSettled(): Promise<void> {
    while (this.pendingLoads.size > 0) await Promise.allSettled([...this.pendingLoads]);
  }

  /** After close(): waits for loads and the caller's `inFlight` work to finish, for at most `waitMs`. */
  async settle(inFlight: Iterable<Promise<unknown>>, waitMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...inFlight, ...this.pendingLoads]), new Promise((res) => (timer = setTimeout(res, waitMs)))]);
    clearTimeout(timer);
  }

  /** Stops following changes and forgets every partition (the caller unloads its state). */
  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.loaded.clear();
    this.loadToken.clear();
  }

  owns(partition: number): boolean {
    return this.o.cluster.coordinatorOwner(this.o.kind, partition)?.nodeId === this.o.cluster.nodeId;
  }

  isLoaded(partition: number): boolean {
    return this.loaded.has(partition);
  }

  /** NONE when this broker serves `key` now, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  status(key: string): number {
    const p = coordinatorPartitionOf(key);
    if (this.closed || !this.owns(p)) return ErrorCode.NOT_COORDINATOR;
    if (!this.loaded.has(p)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  private onChange(changes: CoordinatorChange[]): void {
    if (this.closed) return;
    for (const c of changes) {
      if (c.kind !== this.o.kind) continue;
      if (c.owned) this.beginLoad(c.partition, c.epoch);
      else this.unloadPartition(c.partition);
    }
  }

  private unloadPartition(partition: number): void {
    this.loadToken.delete(partition);
    this.loaded.delete(partition);
    this.o.unload(partition);
  }

  private beginLoad(partition: number, epoch: number): void {
    this.unloadPartition(partition);
    const token = this.nextLoadToken++;
    this.loadToken.set(partition, token);
    const run = this.loadPartition(partition, epoch, token).finally(() => this.pendingLoads.delete(run));
    this.pendingLoads.add(run);
  }

  private async loadPartition(partition: number, epoch: number, token: number): Promise<void> {
    const current = () => !this.closed && this.loadToken.get(partition) === token && this.owns(partition);
    while (current()) {
      try {
        await this.o.load(partition, epoch, current);
        if (!current()) return;
        this.loaded.add(partition);
        this.o.logger.debug({ partition, epoch }, `${this.o.what} loaded`);
        this.o.loaded?.(partition, epoch);
        return;
      } catch (err) {
        this.o.logger.warn({ err, partition }, `loading ${this.o.what} failed; retrying`);
        await new Promise((res) => setTimeout(res, this.o.retryMs).unref());
      }
    }
  }
}
