// EtcdCluster over the in-memory metadata store (etcd semantics: revisions, leases, watches): brokers join and
// divide partitions and coordinator partitions; a draining broker hands everything over (release before the
// new owner loads); a broker whose lease expires loses everything, its partitions move with their epoch bumped,
// and its fence stops holding; a restarted incarnation of a node id fences the previous one.
import t from 'tap';
import pino from 'pino';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { TopicRegistry } from '../../../broker/metadata/topics.ts';
import { EtcdCluster } from '../../../broker/cluster/etcd-cluster.ts';
import type { PartitionHooks } from '../../../broker/cluster/etcd-cluster.ts';
import type { CoordinatorChange } from '../../../broker/cluster/cluster.ts';
import { coordinatorPartitionCount } from '../../../broker/cluster/cluster.ts';

const logger = pino({ level: 'silent' });

interface Node {
  cluster: EtcdCluster;
  topics: TopicRegistry;
  held: Map<string, number>;
  events: string[];
  lost: Error[];
  coordinators: Set<number>;
}

async function node(store: MemoryMetadataStore, nodeId: number, sessionTimeoutMs = 2000): Promise<Node> {
  const topics = new TopicRegistry(store);
  await topics.load();
  const n: Node = { cluster: null as unknown as EtcdCluster, topics, held: new Map(), events: [], lost: [], coordinators: new Set() };
  n.cluster = new EtcdCluster({
    store,
    topics,
    sessionTimeoutMs,
    logger,
    self: { nodeId, host: '127.0.0.1', port: 9000 + nodeId, rack: null, incarnation: `i${nodeId}-${Math.random()}` },
    onMembershipLost: (e) => n.lost.push(e),
  });
  const hooks: PartitionHooks = {
    acquire: async (parts) => {
      for (const p of parts) {
        n.held.set(`${p.topicId}/${p.partition}`, p.epoch);
        n.events.push(`acquire ${p.topicId}/${p.partition}@${p.epoch}`);
      }
    },
    release: async (topicId, partition) => {
      n.held.delete(`${topicId}/${partition}`);
      n.events.push(`release ${topicId}/${partition}`);
    },
    drop: (topicId, partition) => {
      n.held.delete(`${topicId}/${partition}`);
      n.events.push(`drop ${topicId}/${partition}`);
    },
    holds: (topicId, partition) => n.held.has(`${topicId}/${partition}`),
    held: () => [...n.held.keys()].map((k) => ({ topicId: k.split('/')[0]!, partition: Number(k.split('/')[1]) })),
  };
  n.cluster.onCoordinatorChange((changes: CoordinatorChange[]) => {
    for (const c of changes) if (c.kind === 'group') c.owned ? n.coordinators.add(c.partition) : n.coordinators.delete(c.partition);
  });
  await n.cluster.join();
  await n.cluster.start(hooks);
  return n;
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('two brokers divide partitions; a draining one hands over; an expired one is replaced', async (t) => {
  const store = new MemoryMetadataStore();
  t.teardown(() => store.close());
  const a = await node(store, 1);
  const topic = await a.topics.create('t', 6, {});
  const b = await node(store, 2);
  t.teardown(() => Promise.all([a.cluster.close(), b.cluster.close()]));
  const total = () => a.held.size + b.held.size;
  await until('six partitions held, split evenly', () => total() === 6 && a.held.size === 3 && b.held.size === 3);
  await until(
    'coordinator partitions split',
    () => a.coordinators.size + b.coordinators.size === coordinatorPartitionCount && a.coordinators.size === 25,
  );
  t.same(
    [...a.coordinators].filter((p) => b.coordinators.has(p)),
    [],
    'no coordinator partition is served twice',
  );
  t.equal(a.cluster.controllerId(), 1);
  t.same(
    a.cluster.liveBrokers().map((x) => x.nodeId),
    [1, 2],
  );
  for (let p = 0; p < 6; p++) {
    const o = a.cluster.ownerOf(topic.id, p)!;
    t.ok((o.nodeId === 1 ? a : b).held.has(`${topic.id}/${p}`), `partition ${p} is held by the owner Metadata names`);
  }

  // Broker 1 drains: everything it holds is released, then loaded by broker 2 at a higher epoch.
  const before = new Map([...a.held]);
  const drained = await a.cluster.drain(5000);
  t.ok(drained, 'drain finished');
  await until('broker 2 holds everything', () => b.held.size === 6 && b.coordinators.size === coordinatorPartitionCount);
  for (const [k, epoch] of before) {
    t.ok(a.events.includes(`release ${k}`), `${k} released by its old owner`);
    t.equal(b.held.get(k), epoch + 1, `${k} loaded at epoch ${epoch + 1}`);
  }
  t.equal(a.coordinators.size, 0, 'the draining broker serves no coordinator partition');
  await a.cluster.close();

  // A third broker joins: it gets its share by handover.
  const c = await node(store, 3, 300);
  await until('broker 3 gets half', () => c.held.size === 3 && b.held.size === 3);
  t.pass('a joining broker takes its share');

  // Broker 3 stops renewing (simulated pause): its lease expires, it learns it is out, broker 2 takes over.
  const fenceBefore = c.cluster.fence();
  const internals = c.cluster as unknown as { lease: { id: number; ttlMs: number; keepAlive(): Promise<void>; revoke(): Promise<void> } };
  const real = internals.lease;
  internals.lease = { id: real.id, ttlMs: real.ttlMs, keepAlive: () => new Promise(() => {}), revoke: () => real.revoke() };
  await until('broker 3 loses its membership', () => c.lost.length > 0, 5000);
  await until('broker 2 holds everything again', () => b.held.size === 6, 5000);
  t.equal(c.held.size, 0, 'the expired broker dropped everything');
  const r = await store.txn(fenceBefore, []);
  t.notOk(r.succeeded, "the expired broker's fence no longer holds");
  await c.cluster.close();
});

t.test('a restarted incarnation of a node id fences the previous one', async (t) => {
  const store = new MemoryMetadataStore();
  t.teardown(() => store.close());
  const first = await node(store, 7, 60_000);
  await first.topics.create('u', 2, {});
  await until('partitions held', () => first.held.size === 2);
  const oldFence = first.cluster.fence();
  const second = await node(store, 7, 60_000);
  t.teardown(() => Promise.all([first.cluster.close(), second.cluster.close()]));
  await until('the new incarnation holds the partitions', () => second.held.size === 2);
  await until('the old incarnation knows it was replaced', () => first.lost.length > 0);
  t.notOk((await store.txn(oldFence, [])).succeeded, 'the old incarnation is fenced');
  t.ok((await store.txn(second.cluster.fence(), [])).succeeded, "the new incarnation's fence holds");
  t.equal(first.held.size, 0);
});
