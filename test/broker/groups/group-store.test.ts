// GroupStore over the in-memory metadata store (the same engine and limits as the embedded store): what is
// persisted and loaded back per coordinator partition, deletes that take exactly one group's offsets, large
// offset writes split into transactions within the store's limits, and fenced writes refused.
import t from 'tap';
import type { Test } from 'tap';
import { ClassicGroup } from '../../../broker/groups/classic-group.ts';
import type { ClassicMember } from '../../../broker/groups/classic-group.ts';
import { FencedWriteError, GroupStore, groupRecordOf, offsetRecordOf } from '../../../broker/groups/group-store.ts';
import type { GroupRecord, OffsetRecord } from '../../../broker/groups/group-store.ts';
import { groupKey } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import type { Compare, Op, TxnResult } from '../../../broker/metadata/store.ts';

/** etcd's defaults, which the in-memory store enforces too (--max-txn-ops, --max-request-bytes 1.5 MiB). */
const storeMaxTxnOps = 128;
const storeMaxTxnBytes = 1.5 * 1024 * 1024;

/** The in-memory store, recording each transaction's compares and operations. */
class RecordingMetadata extends MemoryMetadataStore {
  readonly txns: { compares: Compare[]; ops: Op[]; succeeded: boolean }[] = [];
  override async txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    const r = await super.txn(compares, success, failure);
    this.txns.push({ compares, ops: success, succeeded: r.succeeded });
    return r;
  }
}

/** A fence that holds while `owned` has the coordinator partition (an etcd key per partition, like the cluster's). */
function setup(t: Test) {
  const metadata = new RecordingMetadata();
  t.teardown(() => metadata.close());
  const owned = new Set<number>([0, 1, 2, 3]);
  const fence = (p: number): Compare[] => [{ key: `/owner/${p}`, target: 'version', op: owned.has(p) ? '=' : '>', value: 0 }];
  return { metadata, owned, store: new GroupStore(metadata, fence) };
}

function groupRecord(groupId: string, generationId = 1): GroupRecord {
  return {
    type: 'classic',
    groupId,
    protocolType: 'consumer',
    protocolName: 'range',
    generationId,
    leaderId: 'm1',
    stateTimestampMs: 1234,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: null,
        clientId: 'c',
        clientHost: '/127.0.0.1',
        rebalanceTimeoutMs: 5000,
        sessionTimeoutMs: 10000,
        subscription: Buffer.from('sub').toString('base64'),
        assignment: Buffer.from('asg').toString('base64'),
      },
    ],
  };
}

function offset(n: number, metadata = ''): OffsetRecord {
  return { offset: n, leaderEpoch: 3, metadata, commitTimestampMs: 1000 + n, expireTimestampMs: null };
}

t.test('groups and offsets are loaded back per coordinator partition', async (t) => {
  const { store } = setup(t);
  await store.putGroup(1, groupRecord('g/1 ü'));
  await store.putGroup(1, groupRecord('g2', 4));
  await store.putGroup(2, groupRecord('elsewhere'));
  await store.writeOffsets(1, 'g/1 ü', [
    { topic: 't', partition: 0, record: offset(10, 'meta') },
    { topic: 't', partition: 1, record: offset(11) },
    { topic: 'u', partition: 0, record: { ...offset(12), expireTimestampMs: 99_999 } },
  ]);
  await store.writeOffsets(1, 'no-group-record', [{ topic: 't', partition: 0, record: offset(5) }]);
  await store.writeOffsets(2, 'elsewhere', [{ topic: 't', partition: 0, record: offset(7) }]);
  const loaded = await store.loadPartition(1);
  t.same([...loaded.groups.keys()].sort(), ['g/1 ü', 'g2']);
  t.same(loaded.groups.get('g/1 ü'), groupRecord('g/1 ü'), 'the record round-trips');
  t.equal(loaded.groups.get('g2')!.generationId, 4);
  const sorted = (list: { topic: string; partition: number; record: OffsetRecord }[]) =>
    [...list].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  t.same(sorted(loaded.offsets.get('g/1 ü')!), [
    { topic: 't', partition: 0, record: offset(10, 'meta') },
    { topic: 't', partition: 1, record: offset(11) },
    { topic: 'u', partition: 0, record: { ...offset(12), expireTimestampMs: 99_999 } },
  ]);
  t.same(loaded.offsets.get('no-group-record'), [{ topic: 't', partition: 0, record: offset(5) }], 'offsets without a group record');
  t.notOk(loaded.offsets.has('elsewhere'), 'another partition’s offsets are not loaded');
  const other = await store.loadPartition(2);
  t.same([...other.groups.keys()], ['elsewhere']);
  t.same([...(await store.loadPartition(0)).groups.keys()], [], 'an empty partition');
});

t.test('a later write replaces the record; a null offset deletes it', async (t) => {
  const { store } = setup(t);
  await store.putGroup(0, groupRecord('g', 1));
  await store.putGroup(0, groupRecord('g', 2));
  await store.writeOffsets(0, 'g', [
    { topic: 't', partition: 0, record: offset(1) },
    { topic: 't', partition: 1, record: offset(2) },
  ]);
  await store.writeOffsets(0, 'g', [
    { topic: 't', partition: 0, record: offset(3) },
    { topic: 't', partition: 1, record: null },
    { topic: 't', partition: 9, record: null },
  ]);
  const loaded = await store.loadPartition(0);
  t.equal(loaded.groups.get('g')!.generationId, 2);
  t.same(loaded.offsets.get('g'), [{ topic: 't', partition: 0, record: offset(3) }], 'deleting an offset never written is no error');
});

t.test('deleteGroup removes the group and exactly its offsets', async (t) => {
  const { store } = setup(t);
  // Ids whose keys start like the deleted group's ('abc' is base64url YWJj, 'abcd' YWJjZA), and the same id in
  // another coordinator partition, must not be caught by its offsets prefix.
  for (const id of ['abc', 'abcd', 'ab']) {
    await store.putGroup(0, groupRecord(id));
    await store.writeOffsets(0, id, [{ topic: 't', partition: 0, record: offset(1) }]);
  }
  await store.putGroup(3, groupRecord('abc'));
  await store.writeOffsets(3, 'abc', [{ topic: 't', partition: 0, record: offset(1) }]);
  await store.deleteGroup(0, 'abc');
  const loaded = await store.loadPartition(0);
  t.same([...loaded.groups.keys()].sort(), ['ab', 'abcd']);
  t.same([...loaded.offsets.keys()].sort(), ['ab', 'abcd']);
  const other = await store.loadPartition(3);
  t.same([...other.groups.keys()], ['abc'], 'the same group id in another coordinator partition stays');
  t.same([...other.offsets.keys()], ['abc']);
  await store.deleteGroup(0, 'never-existed');
});

t.test('writes carry the fence; a refused fence is FencedWriteError and writes nothing', async (t) => {
  const { store, metadata, owned } = setup(t);
  await store.putGroup(2, groupRecord('g'));
  t.same(metadata.txns[0]!.compares, [{ key: '/owner/2', target: 'version', op: '=', value: 0 }], 'the partition’s fence');
  owned.delete(2);
  await t.rejects(store.putGroup(2, groupRecord('g', 9)), FencedWriteError);
  await t.rejects(store.writeOffsets(2, 'g', [{ topic: 't', partition: 0, record: offset(1) }]), FencedWriteError);
  await t.rejects(store.deleteGroup(2, 'g'), FencedWriteError);
  const loaded = await store.loadPartition(2);
  t.equal(loaded.groups.get('g')!.generationId, 1, 'the group is as before');
  t.equal(loaded.offsets.size, 0, 'no offset was written');
  await store.putGroup(1, groupRecord('other'));
  t.equal((await store.loadPartition(1)).groups.size, 1, 'other partitions are still writable');
});

t.test('many offsets: split into transactions within the store limits, reported as they are written', async (t) => {
  const { store, metadata } = setup(t);
  const n = 1000;
  const changes = Array.from({ length: n }, (_, i) => ({ topic: `topic-${i % 7}`, partition: i, record: offset(i) }));
  const written: number[] = [];
  await store.writeOffsets(0, 'big', changes, (count) => written.push(count));
  const sizes = metadata.txns.map((x) => x.ops.length);
  t.ok(sizes.length > 1, `split (${sizes.length} transactions)`);
  t.ok(
    sizes.every((s) => s <= storeMaxTxnOps - 1),
    'each within etcd’s max-txn-ops, with room for the fence',
  );
  t.same(new Set(sizes.slice(0, -1)).size, 1, 'greedy: every transaction but the last is full');
  t.ok(sizes[0]! >= 64, `not needlessly small (${sizes[0]} ops)`);
  t.same(written, sizes, 'onWritten reports each transaction');
  t.equal(
    written.reduce((a, b) => a + b, 0),
    n,
  );
  const keysInOrder = metadata.txns.flatMap((x) => x.ops.map((op) => (op.type === 'put' ? op.key : '')));
  const expectedOrder = changes.map((c) => `${c.topic}/${c.partition}`);
  t.same(
    keysInOrder.map((k) => k.split('/').slice(-2).join('/')),
    expectedOrder,
    'written in the order given',
  );
  const loaded = await store.loadPartition(0);
  t.equal(loaded.offsets.get('big')!.length, n, 'every offset stored');
});

t.test('large offset metadata: split by bytes within the store’s request limit', async (t) => {
  const { store, metadata } = setup(t);
  const metadataBytes = 100 * 1024;
  const changes = Array.from({ length: 40 }, (_, i) => ({ topic: 't', partition: i, record: offset(i, 'm'.repeat(metadataBytes)) }));
  await store.writeOffsets(0, 'fat', changes);
  const bytes = metadata.txns.map((x) =>
    x.ops.reduce(
      (sum, op) => sum + Buffer.byteLength(op.type === 'put' ? op.key + op.value : op.type === 'delete' ? op.key : op.prefix),
      0,
    ),
  );
  t.ok(metadata.txns.length >= 3, `4 MB in ${metadata.txns.length} transactions`);
  t.ok(
    bytes.every((b) => b <= storeMaxTxnBytes),
    `each below the store's limit (${bytes.join(', ')})`,
  );
  t.ok(metadata.txns.every((x) => x.ops.length < 40));
  t.equal((await store.loadPartition(0)).offsets.get('fat')!.length, 40);
});

t.test('a fence lost part-way: earlier transactions stay, the rest is refused, onWritten tells how far it got', async (t) => {
  const { store, metadata, owned } = setup(t);
  const changes = Array.from({ length: 300 }, (_, i) => ({ topic: 't', partition: i, record: offset(i) }));
  const written: number[] = [];
  await t.rejects(
    store.writeOffsets(0, 'g', changes, (count) => {
      written.push(count);
      owned.delete(0); // lost after the first transaction
    }),
    FencedWriteError,
  );
  t.equal(written.length, 1, 'one transaction written');
  t.same(
    metadata.txns.map((x) => x.succeeded),
    [true, false],
    'and the second refused',
  );
  t.equal((await store.loadPartition(0)).offsets.get('g')!.length, written[0], 'what was reported written is stored');
});

t.test('recordBytes is the stored size; groupRecordOf and offsetRecordOf take what survives a move', async (t) => {
  const { store, metadata } = setup(t);
  const record = groupRecord('sized ü');
  await store.putGroup(0, record);
  const kv = await metadata.get(groupKey(0, 'sized ü'));
  t.equal(GroupStore.recordBytes(record), Buffer.byteLength(kv!.value));

  const group = new ClassicGroup('cg', 0, 555);
  group.protocolType = 'consumer';
  group.protocolName = 'roundrobin';
  group.generationId = 7;
  group.leaderId = 'a';
  const member = (memberId: string, instance: string | null): ClassicMember => ({
    memberId,
    groupInstanceId: instance,
    clientId: `client-${memberId}`,
    clientHost: '/10.0.0.1',
    rebalanceTimeoutMs: 3000,
    sessionTimeoutMs: 6000,
    protocolType: 'consumer',
    protocols: [
      { name: 'range', metadata: Buffer.from('range-meta') },
      { name: 'roundrobin', metadata: Buffer.from(`rr-${memberId}`) },
    ],
    assignment: Buffer.from(`old-${memberId}`),
    joinWaiter: null,
    syncWaiter: null,
    isNew: false,
    sessionTimer: null,
  });
  group.members.set('a', member('a', null));
  group.members.set('b', member('b', 'instance-b'));
  const r = groupRecordOf(group, new Map([['b', Buffer.from('new-b')]]));
  t.same(r, {
    type: 'classic',
    groupId: 'cg',
    protocolType: 'consumer',
    protocolName: 'roundrobin',
    generationId: 7,
    leaderId: 'a',
    stateTimestampMs: 555,
    members: [
      {
        memberId: 'a',
        groupInstanceId: null,
        clientId: 'client-a',
        clientHost: '/10.0.0.1',
        rebalanceTimeoutMs: 3000,
        sessionTimeoutMs: 6000,
        subscription: Buffer.from('rr-a').toString('base64'),
        assignment: Buffer.from('old-a').toString('base64'),
      },
      {
        memberId: 'b',
        groupInstanceId: 'instance-b',
        clientId: 'client-b',
        clientHost: '/10.0.0.1',
        rebalanceTimeoutMs: 3000,
        sessionTimeoutMs: 6000,
        subscription: Buffer.from('rr-b').toString('base64'),
        assignment: Buffer.from('new-b').toString('base64'),
      },
    ],
  });
  t.same(offsetRecordOf({ offset: 5, leaderEpoch: -1, metadata: 'x', commitTimestampMs: 9, expireTimestampMs: null }), {
    offset: 5,
    leaderEpoch: -1,
    metadata: 'x',
    commitTimestampMs: 9,
    expireTimestampMs: null,
  });
});
