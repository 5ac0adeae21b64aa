// A fake cluster for coordinator unit tests: this broker (node 1) owns every coordinator partition of one kind
// until a test moves one away (`move`), which bumps the ownership epoch and tells the listeners as the real
// cluster does; `fenceOk = false` makes every fenced metadata write fail (a broker that lost its place).
import type { BrokerEndpoint, Cluster, CoordinatorChange, CoordinatorKind, PartitionOwner } from '../../broker/cluster/cluster.ts';
import { coordinatorPartitionCount } from '../../broker/cluster/cluster.ts';
import type { Compare } from '../../broker/metadata/store.ts';

export class FakeCoordinatorCluster implements Cluster {
  readonly nodeId = 1;
  readonly kind: CoordinatorKind;
  owned = new Set<number>(Array.from({ length: coordinatorPartitionCount }, (_, i) => i));
  fenceOk = true;
  /** Bumped by every move. */
  epoch = 0;
  private listeners: ((c: CoordinatorChange[]) => void)[] = [];

  constructor(kind: CoordinatorKind) {
    this.kind = kind;
  }

  liveBrokers(): BrokerEndpoint[] {
    return [];
  }
  broker(): BrokerEndpoint | undefined {
    return undefined;
  }
  controllerId(): number {
    return this.nodeId;
  }
  ownerOf(): PartitionOwner | null {
    return null;
  }
  coordinatorOwner(_kind: CoordinatorKind, partition: number): PartitionOwner | null {
    return { nodeId: this.owned.has(partition) ? this.nodeId : this.nodeId + 1, leaderEpoch: this.epoch };
  }
  fence(): Compare[] {
    return this.fenceOk ? [] : [{ key: '/never', target: 'version', op: '>', value: 0 }];
  }
  coordinatorFence(): Compare[] {
    return this.fence();
  }
  onCoordinatorChange(l: (c: CoordinatorChange[]) => void): () => void {
    this.listeners.push(l);
    return () => (this.listeners = this.listeners.filter((x) => x !== l));
  }
  ownedCoordinatorPartitions(): number[] {
    return [...this.owned];
  }
  move(partition: number, owned: boolean): void {
    if (owned) this.owned.add(partition);
    else this.owned.delete(partition);
    this.epoch++;
    for (const l of this.listeners) l([{ kind: this.kind, partition, owned, epoch: this.epoch }]);
  }
}
