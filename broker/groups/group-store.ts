// Persistence of groups and committed offsets in the metadata store (keys: broker/metadata/layout.ts). Every
// write carries the cluster's fence compares, so only the live owner of a coordinator partition can write its
// groups; a refused fence means this broker lost the partition (NOT_COORDINATOR for the client).
import type { Compare, MetadataStore, Op } from '../metadata/store.ts';
import { MetadataUnavailableError } from '../metadata/store.ts';
import {
  groupKey,
  groupOffsetsPrefix,
  groupPartitionPrefix,
  offsetKey,
  offsetPartitionPrefix,
  parseGroupKey,
  parseOffsetKey,
} from '../metadata/layout.ts';
import type { ClassicGroup, CommittedOffset, GroupType } from './classic-group.ts';
import { groupStoreTxnMaxBytes, groupStoreTxnMaxOpsCount } from '../limits.ts';

/** The stored form of a group: what survives a coordinator move (Kafka's GroupMetadataValue). */
export interface GroupRecord {
  type: GroupType;
  groupId: string;
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  stateTimestampMs: number;
  members: StoredMember[];
}

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Metadata for the selected protocol, base64. */
  subscription: string;
  /** base64. */
  assignment: string;
}

export interface OffsetRecord {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
  expireTimestampMs: number | null;
}

/** Loaded state of one coordinator partition. */
export interface LoadedPartition {
  groups: Map<string, GroupRecord>;
  offsets: Map<string, { topic: string; partition: number; record: OffsetRecord }[]>;
}

/** The store refused the fence: this broker no longer owns what it tried to write. */
export class FencedWriteError extends Error {
  constructor() {
    super('metadata write refused: this broker is no longer the coordinator');
    this.name = 'FencedWriteError';
  }
}

export function groupRecordOf(group: ClassicGroup, assignments?: Map<string, Buffer>): GroupRecord {
  return {
    type: group.type,
    groupId: group.groupId,
    protocolType: group.protocolType,
    protocolName: group.protocolName,
    generationId: group.generationId,
    leaderId: group.leaderId,
    stateTimestampMs: group.stateTimestampMs,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      subscription: group.memberMetadata(m).toString('base64'),
      assignment: (assignments?.get(m.memberId) ?? m.assignment).toString('base64'),
    })),
  };
}

export function offsetRecordOf(o: CommittedOffset): OffsetRecord {
  return {
    offset: o.offset,
    leaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    commitTimestampMs: o.commitTimestampMs,
    expireTimestampMs: o.expireTimestampMs,
  };
}

export class GroupStore {
  private readonly metadata: MetadataStore;
  /** Compares that hold while this broker owns the coordinator partition (Cluster.coordinatorFence). */
  private readonly fence: (coordinatorPartition: number) => Compare[];

  constructor(metadata: MetadataStore, fence: (coordinatorPartition: number) => Compare[]) {
    this.metadata = metadata;
    this.fence = fence;
  }

  async loadPartition(coordinatorPartition: number): Promise<LoadedPartition> {
    const [groupKvs, offsetKvs] = await Promise.all([
      this.metadata.getPrefix(groupPartitionPrefix(coordinatorPartition)),
      this.metadata.getPrefix(offsetPartitionPrefix(coordinatorPartition)),
    ]);
    const groups = new Map<string, GroupRecord>();
    for (const kv of groupKvs) {
      const k = parseGroupKey(kv.key);
      if (!k) continue;
      const record = JSON.parse(kv.value) as GroupRecord;
      groups.set(k.groupId, record);
    }
    const offsets: LoadedPartition['offsets'] = new Map();
    for (const kv of offsetKvs) {
      const k = parseOffsetKey(kv.key);
      if (!k) continue;
      let list = offsets.get(k.groupId);
      if (!list) offsets.set(k.groupId, (list = []));
      list.push({ topic: k.topic, partition: k.partition, record: JSON.parse(kv.value) as OffsetRecord });
    }
    return { groups, offsets };
  }

  /** Stored size of a group record (for the group.max.record.bytes check before writing). */
  static recordBytes(record: GroupRecord): number {
    return Buffer.byteLength(JSON.stringify(record));
  }

  async putGroup(coordinatorPartition: number, record: GroupRecord): Promise<void> {
    await this.write(coordinatorPartition, [
      { type: 'put', key: groupKey(coordinatorPartition, record.groupId), value: JSON.stringify(record) },
    ]);
  }

  /** Removes a group and all its offsets. */
  async deleteGroup(coordinatorPartition: number, groupId: string): Promise<void> {
    await this.write(coordinatorPartition, [
      { type: 'delete', key: groupKey(coordinatorPartition, groupId) },
      { type: 'deletePrefix', prefix: groupOffsetsPrefix(coordinatorPartition, groupId) },
    ]);
  }

  /** Writes offsets (null = delete), split into transactions within the store's limits; not atomic across them. */
  async writeOffsets(
    coordinatorPartition: number,
    groupId: string,
    changes: { topic: string; partition: number; record: OffsetRecord | null }[],
    onWritten?: (count: number) => void,
  ): Promise<void> {
    let ops: Op[] = [];
    let bytes = 0;
    for (const c of changes) {
      const key = offsetKey(coordinatorPartition, groupId, c.topic, c.partition);
      const op: Op = c.record === null ? { type: 'delete', key } : { type: 'put', key, value: JSON.stringify(c.record) };
      const size = key.length + (op.type === 'put' ? op.value.length : 0);
      if (ops.length > 0 && (ops.length >= groupStoreTxnMaxOpsCount || bytes + size > groupStoreTxnMaxBytes)) {
        await this.write(coordinatorPartition, ops);
        onWritten?.(ops.length);
        ops = [];
        bytes = 0;
      }
      ops.push(op);
      bytes += size;
    }
    if (ops.length > 0) {
      await this.write(coordinatorPartition, ops);
      onWritten?.(ops.length);
    }
  }

  private async write(coordinatorPartition: number, ops: Op[]): Promise<void> {
    const r = await this.metadata.txn(this.fence(coordinatorPartition), ops);
    if (!r.succeeded) throw new FencedWriteError();
  }
}

export { MetadataUnavailableError };
