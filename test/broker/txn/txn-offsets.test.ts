// TxnOffsetStore over the in-memory metadata store, a fake cluster (which coordinator partitions this broker
// owns) and a fake group coordinator: offsets committed in a transaction stay pending (in memory and stored),
// a COMMIT marker applies them to the group and an ABORT drops them, exactly once; they survive a restart and a
// change of coordinator; writes are fenced and ordered per producer; coordinator errors are Kafka's.
import t from 'tap';
import type { Test } from 'tap';
import { coordinatorPartitionOf } from '../../../broker/cluster/cluster.ts';
import { txnOffsetsKey, txnOffsetsPartitionPrefix } from '../../../broker/metadata/layout.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { MetadataUnavailableError } from '../../../broker/metadata/store.ts';
import type { Compare, KeyValue, Op, TxnResult } from '../../../broker/metadata/store.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { TxnOffsetStore } from '../../../broker/txn/txn-offsets.ts';
import type { PendingTxnOffsets, TxnGroupAccess } from '../../../broker/txn/txn-offsets.ts';

/** One offset of a transaction (the group coordinator's OffsetCommitEntry, as the txn layer names it). */
type OffsetCommitEntry = PendingTxnOffsets['offsets'][number];
import { FakeCoordinatorCluster } from '../../support/fake-cluster.ts';
import { settle, until } from '../../support/until.ts';

/** The in-memory store; txns and prefix reads can be held or failed by the test. */
class ControlledMetadata extends MemoryMetadataStore {
  holdTxns = false;
  failNextTxns = 0;
  holdPrefixReads = false;
  private readonly held: (() => void)[] = [];
  readonly txnOps: Op[][] = [];

  override async txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    this.txnOps.push(success);
    if (this.holdTxns) await new Promise<void>((resolve) => this.held.push(resolve));
    if (this.failNextTxns > 0) {
      this.failNextTxns--;
      throw new MetadataUnavailableError('injected');
    }
    return super.txn(compares, success, failure);
  }

  override async getPrefix(prefix: string, limit?: number): Promise<KeyValue[]> {
    if (this.holdPrefixReads) await new Promise<void>((resolve) => this.held.push(resolve));
    return super.getPrefix(prefix, limit);
  }

  get heldCount(): number {
    return this.held.length;
  }

  releaseAll(): void {
    for (const go of this.held.splice(0)) go();
  }
}

/** The group coordinator's side: records applied offsets; validation and application results are settable. */
class FakeGroups implements TxnGroupAccess {
  validateCode: number = ErrorCode.NONE;
  applyCode: number = ErrorCode.NONE;
  /** Groups whose application fails (COORDINATOR_LOAD_IN_PROGRESS). */
  readonly failing = new Set<string>();
  readonly applied: { groupId: string; entries: OffsetCommitEntry[] }[] = [];
  readonly validated: unknown[][] = [];
  validateTxnOffsetCommit(groupId: string, generationId: number, memberId: string, groupInstanceId: string | null): number {
    this.validated.push([groupId, generationId, memberId, groupInstanceId]);
    return this.validateCode;
  }
  async applyTxnOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<number> {
    if (this.failing.has(groupId)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (this.applyCode === ErrorCode.NONE) this.applied.push({ groupId, entries });
    return this.applyCode;
  }
}

function entry(topic: string, partition: number, offset: number): OffsetCommitEntry {
  return { topic, partition, offset, leaderEpoch: -1, metadata: null, commitTimestampMs: 1000, expireTimestampMs: null };
}

async function setup(t: Test, shared?: { metadata: ControlledMetadata; cluster: FakeCoordinatorCluster; groups: FakeGroups }) {
  const metadata = shared?.metadata ?? new ControlledMetadata();
  const cluster = shared?.cluster ?? new FakeCoordinatorCluster('group');
  const groups = shared?.groups ?? new FakeGroups();
  const store = new TxnOffsetStore({ metadata, cluster, logger: silentLogger(), groups });
  t.teardown(() => store.close());
  return { metadata, cluster, groups, store };
}

const commitReq = (groupId: string, producerId: number, offsets: OffsetCommitEntry[], producerEpoch = 0) => ({
  groupId,
  producerId,
  producerEpoch,
  generationId: 3,
  memberId: 'member',
  groupInstanceId: null,
  offsets,
});

t.test('pending until the COMMIT marker, then applied to the group once and removed from the store', async (t) => {
  const { store, metadata, groups } = await setup(t);
  await store.start();
  const p = coordinatorPartitionOf('g1');
  t.equal(await store.commit(commitReq('g1', 7, [entry('t', 0, 10), entry('t', 1, 20)])), ErrorCode.NONE);
  t.same(groups.validated, [['g1', 3, 'member', null]], 'the group validated the member');
  t.ok(store.hasPending('g1', 't', 0));
  t.ok(store.hasPending('g1', 't', 1));
  t.notOk(store.hasPending('g1', 't', 2));
  t.notOk(store.hasPending('other', 't', 0));
  t.same(groups.applied, [], 'nothing applied before the marker');
  const stored = JSON.parse((await metadata.get(txnOffsetsKey(p, 'g1', 7)))!.value) as PendingTxnOffsets;
  t.same(stored, { groupId: 'g1', producerId: 7, producerEpoch: 0, offsets: [entry('t', 0, 10), entry('t', 1, 20)] });

  t.equal(await store.complete(p, 7, true), ErrorCode.NONE);
  t.same(groups.applied, [{ groupId: 'g1', entries: [entry('t', 0, 10), entry('t', 1, 20)] }]);
  t.notOk(store.hasPending('g1', 't', 0));
  t.equal(await metadata.get(txnOffsetsKey(p, 'g1', 7)), null, 'removed from the store');
  t.equal(await store.complete(p, 7, true), ErrorCode.NONE, 'a repeated marker (a retry) is fine');
  t.equal(groups.applied.length, 1, 'and applies nothing twice');
});

t.test('an ABORT marker drops them; other producers are untouched', async (t) => {
  const { store, metadata, groups } = await setup(t);
  await store.start();
  const p = coordinatorPartitionOf('g1');
  await store.commit(commitReq('g1', 7, [entry('t', 0, 10)]));
  await store.commit(commitReq('g1', 8, [entry('t', 1, 5)]));
  t.equal(await store.complete(p, 7, false), ErrorCode.NONE);
  t.same(groups.applied, [], 'an abort applies nothing');
  t.equal(await metadata.get(txnOffsetsKey(p, 'g1', 7)), null);
  t.notOk(store.hasPending('g1', 't', 0));
  t.ok(store.hasPending('g1', 't', 1), "producer 8's offsets are still pending");
  t.ok(await metadata.get(txnOffsetsKey(p, 'g1', 8)));
});

t.test('one producer, several groups on a partition: the marker applies every group, each once', async (t) => {
  const { store, groups } = await setup(t);
  await store.start();
  // Two group ids of one coordinator partition.
  const a = 'ga';
  let b = 'gb0';
  for (let i = 1; coordinatorPartitionOf(b) !== coordinatorPartitionOf(a); i++) b = `gb${i}`;
  await store.commit(commitReq(a, 9, [entry('t', 0, 1)]));
  await store.commit(commitReq(b, 9, [entry('u', 0, 2)]));
  groups.failing.add(b);
  t.equal(await store.complete(coordinatorPartitionOf(a), 9, true), ErrorCode.NOT_COORDINATOR, 'one group could not apply: retriable');
  t.same(
    groups.applied.map((x) => x.groupId),
    [a],
  );
  t.notOk(store.hasPending(a, 't', 0), 'the applied group is done');
  t.ok(store.hasPending(b, 'u', 0));
  groups.failing.clear();
  t.equal(await store.complete(coordinatorPartitionOf(a), 9, true), ErrorCode.NONE);
  t.same(
    groups.applied.map((x) => x.groupId),
    [a, b],
    'the retry applies only what was left',
  );
});

t.test('later commits in the same transaction replace the same partitions; a new epoch starts afresh', async (t) => {
  const { store, metadata } = await setup(t);
  await store.start();
  const p = coordinatorPartitionOf('g');
  await store.commit(commitReq('g', 7, [entry('t', 0, 1), entry('t', 1, 1)]));
  await store.commit(commitReq('g', 7, [entry('t', 1, 2), entry('t', 2, 2)]));
  const read = async () => (JSON.parse((await metadata.get(txnOffsetsKey(p, 'g', 7)))!.value) as PendingTxnOffsets).offsets;
  t.same(await read(), [entry('t', 0, 1), entry('t', 1, 2), entry('t', 2, 2)]);
  await store.commit(commitReq('g', 7, [entry('t', 5, 5)], 1));
  t.same(await read(), [entry('t', 5, 5)], 'offsets of an older epoch are not carried into the new one');
  t.notOk(store.hasPending('g', 't', 0));
});

t.test('coordinator errors: not owned, loading, no group coordinator, the group refuses', async (t) => {
  const { store, metadata, cluster, groups } = await setup(t);
  const p = coordinatorPartitionOf('g');
  metadata.holdPrefixReads = true;
  const started = store.start();
  await until(() => metadata.heldCount > 0, 'the load to start');
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  t.equal(await store.complete(p, 1, true), ErrorCode.NOT_COORDINATOR, 'markers while loading: retriable');
  metadata.holdPrefixReads = false;
  metadata.releaseAll();
  await started;
  groups.validateCode = ErrorCode.ILLEGAL_GENERATION;
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.ILLEGAL_GENERATION);
  t.equal(await metadata.get(txnOffsetsKey(p, 'g', 1)), null, 'a refused commit stores nothing');
  groups.validateCode = ErrorCode.NONE;
  cluster.move(p, false);
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.NOT_COORDINATOR);
  t.equal(await store.complete(p, 1, true), ErrorCode.NOT_COORDINATOR);

  const noGroups = new TxnOffsetStore({ metadata, cluster: new FakeCoordinatorCluster('group'), logger: silentLogger(), groups: null });
  t.teardown(() => noGroups.close());
  await noGroups.start();
  t.equal(await noGroups.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.COORDINATOR_NOT_AVAILABLE);
});

t.test('store failures: a refused fence is NOT_COORDINATOR, an unavailable store COORDINATOR_NOT_AVAILABLE', async (t) => {
  const { store, metadata, cluster, groups } = await setup(t);
  await store.start();
  const p = coordinatorPartitionOf('g');
  metadata.failNextTxns = 1;
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.COORDINATOR_NOT_AVAILABLE);
  t.notOk(store.hasPending('g', 't', 0), 'not pending when it was not stored');
  cluster.fenceOk = false;
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.NOT_COORDINATOR);
  t.notOk(store.hasPending('g', 't', 0));
  cluster.fenceOk = true;
  t.equal(await store.commit(commitReq('g', 1, [entry('t', 0, 1)])), ErrorCode.NONE);
  // The marker: applied to the group, but removing the pending record fails; the retry must not lose them.
  cluster.fenceOk = false;
  t.equal(await store.complete(p, 1, true), ErrorCode.NOT_COORDINATOR);
  t.ok(store.hasPending('g', 't', 0), 'still pending after a failed removal');
  cluster.fenceOk = true;
  groups.applyCode = ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  t.equal(await store.complete(p, 1, true), ErrorCode.NOT_COORDINATOR, 'the group could not apply them: retriable');
  t.ok(store.hasPending('g', 't', 0));
  groups.applyCode = ErrorCode.NONE;
  t.equal(await store.complete(p, 1, true), ErrorCode.NONE);
  t.notOk(store.hasPending('g', 't', 0));
  t.equal(await metadata.get(txnOffsetsKey(p, 'g', 1)), null);
});

t.test('a restart or a new coordinator loads the pending offsets from the store', async (t) => {
  const first = await setup(t);
  await first.store.start();
  const p = coordinatorPartitionOf('g');
  await first.store.commit(commitReq('g', 4, [entry('t', 3, 30)]));
  await first.store.close();

  const groups = new FakeGroups();
  const second = await setup(t, { metadata: first.metadata, cluster: new FakeCoordinatorCluster('group'), groups });
  await second.store.start();
  t.ok(second.store.hasPending('g', 't', 3), 'loaded at start');
  t.equal(await second.store.complete(p, 4, true), ErrorCode.NONE);
  t.same(groups.applied, [{ groupId: 'g', entries: [entry('t', 3, 30)] }]);
  t.same(await first.metadata.getPrefix(txnOffsetsPartitionPrefix(p)), []);

  // Losing the partition unloads it; getting it back reads the store again.
  await second.store.commit(commitReq('g', 5, [entry('t', 4, 40)]));
  second.cluster.move(p, false);
  t.notOk(second.store.hasPending('g', 't', 4), 'unloaded with the partition');
  second.cluster.move(p, true);
  await until(() => second.store.hasPending('g', 't', 4), 'the reload');
});

t.test('a commit and the marker of one producer are applied in order', async (t) => {
  const { store, metadata, groups } = await setup(t);
  await store.start();
  const p = coordinatorPartitionOf('g');
  metadata.holdTxns = true;
  const committed = store.commit(commitReq('g', 6, [entry('t', 0, 60)]));
  await until(() => metadata.heldCount === 1, 'the commit to reach the store');
  const marker = store.complete(p, 6, true);
  await settle();
  t.equal(metadata.heldCount, 1, 'the marker waits for the commit');
  metadata.holdTxns = false;
  metadata.releaseAll();
  t.equal(await committed, ErrorCode.NONE);
  t.equal(await marker, ErrorCode.NONE);
  t.same(groups.applied, [{ groupId: 'g', entries: [entry('t', 0, 60)] }], 'the marker saw the commit before it');
  t.equal(await metadata.get(txnOffsetsKey(p, 'g', 6)), null);
});
