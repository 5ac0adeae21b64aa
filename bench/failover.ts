// Failover scenario (always on the s3 backend: a cluster needs etcd and a shared bucket): three brokers in
// cluster mode, a topic whose partitions are spread over them, and a steady acks=all load on every partition
// (one batch in flight per partition, routed to its owner, re-routed after NOT_LEADER_OR_FOLLOWER or a lost
// connection, as a client does). After a warm-up that leaves WAL objects behind, the broker owning the most
// partitions is killed with kill -9. Figures, per membership lease (broker.session.timeout.ms):
//   - kill → Metadata (from a survivor) names a live owner for every partition the dead broker owned;
//   - kill → first acknowledged produce on each moved partition (p50, max): what a producer waits;
//   - the survivors' 'partitions loaded' log lines: partitions, WAL object indexes read, milliseconds;
//   - WAL objects alive at the kill (written − deleted, summed over the brokers' /metrics).
// No acknowledged record may be lost: every partition's log end must be at least the count of records acked.
import { ApiKey } from '../broker/protocol/generated/index.ts';
import type { MetadataResponse, ProduceResponse } from '../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../broker/protocol/records/index.ts';
import { BenchBackend } from './lib/backend.ts';
import type { BenchBroker } from './lib/backend.ts';
import { createTopic } from './lib/broker-load.ts';
import { Progress } from './lib/progress.ts';
import { figure, fmt, oursVersion, table } from './lib/report.ts';
import type { ScenarioOptions } from './lib/scenario.ts';
import { percentiles } from './lib/stats.ts';
import { WireConnection } from './lib/wire-client.ts';

export const description =
  'failover: three brokers on s3 + etcd under acks=all load; kill -9 of one: time until every moved partition is served again, per lease';

const brokersInCluster = 3;
const recordsPerBatch = 16;
const valueBytes = 1024;
const batchIntervalMs = 100;
const produceTimeoutMs = 10_000;

interface Route {
  nodeId: number;
  epoch: number;
}

/** Steady produce load routed by Metadata, one batch in flight per partition. */
class RoutedLoad {
  private readonly ports: Map<number, number>;
  private readonly conns = new Map<number, Promise<WireConnection>>();
  private routes: Route[] = [];
  private refreshing: Promise<void> | null = null;
  private stopped = false;
  readonly acked: number[];
  /** Per partition: time of each acknowledgement (ms since epoch), appended in order. */
  readonly ackTimes: number[][];
  errors = 0;
  private readonly batch: Buffer;
  private readonly loops: Promise<void>[] = [];

  private readonly topic: string;
  private readonly partitions: number;

  constructor(topic: string, partitions: number, ports: Map<number, number>) {
    this.topic = topic;
    this.partitions = partitions;
    this.ports = ports;
    this.acked = new Array<number>(partitions).fill(0);
    this.ackTimes = Array.from({ length: partitions }, () => []);
    const value = Buffer.alloc(valueBytes, 7);
    this.batch = buildRecordBatch(Array.from({ length: recordsPerBatch }, () => ({ key: null, value, timestampMs: Date.now() })));
  }

  forget(nodeId: number): void {
    this.ports.delete(nodeId);
    const c = this.conns.get(nodeId);
    this.conns.delete(nodeId);
    void c?.then(
      (x) => x.close(),
      () => {},
    );
  }

  owners(): Route[] {
    return this.routes;
  }

  async refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      for (const [nodeId] of this.ports) {
        try {
          const c = await this.conn(nodeId);
          const r = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
            topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: this.topic }],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          const t = r.topics[0];
          if (t?.errorCode !== 0) continue;
          const routes: Route[] = new Array(this.partitions).fill(null).map(() => ({ nodeId: -1, epoch: -1 }));
          for (const p of t.partitions) routes[p.partitionIndex] = { nodeId: p.errorCode === 0 ? p.leaderId : -1, epoch: p.leaderEpoch };
          this.routes = routes;
          return;
        } catch {
          this.forgetConnection(nodeId);
        }
      }
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private forgetConnection(nodeId: number): void {
    const c = this.conns.get(nodeId);
    this.conns.delete(nodeId);
    void c?.then(
      (x) => x.close(),
      () => {},
    );
  }

  private conn(nodeId: number): Promise<WireConnection> {
    let c = this.conns.get(nodeId);
    if (!c) {
      const port = this.ports.get(nodeId);
      if (port === undefined) return Promise.reject(new Error(`no broker ${nodeId}`));
      c = WireConnection.connect(port, 2000);
      c.catch(() => this.conns.delete(nodeId));
      this.conns.set(nodeId, c);
    }
    return c;
  }

  start(): void {
    for (let p = 0; p < this.partitions; p++) this.loops.push(this.loop(p));
  }

  private async loop(p: number): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      const route = this.routes[p];
      let ok = false;
      if (route && route.nodeId >= 0 && this.ports.has(route.nodeId)) {
        try {
          const c = await this.conn(route.nodeId);
          const r = await c.request<ProduceResponse>(ApiKey.Produce, 9, {
            transactionalId: null,
            acks: -1,
            timeoutMs: produceTimeoutMs,
            topicData: [{ name: this.topic, partitionData: [{ index: p, records: this.batch }] }],
          });
          const pr = r.responses[0]!.partitionResponses[0]!;
          if (pr.errorCode === 0) {
            ok = true;
            this.acked[p]! += recordsPerBatch;
            this.ackTimes[p]!.push(Date.now());
          } else {
            this.errors++;
          }
        } catch {
          this.errors++;
          this.forgetConnection(route.nodeId);
        }
      }
      if (!ok) await this.refresh();
      const wait = ok ? batchIntervalMs - (Date.now() - started) : 50;
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
    for (const c of this.conns.values())
      void c.then(
        (x) => x.close(),
        () => {},
      );
    this.conns.clear();
  }
}

async function logEnds(port: number, topic: string, partitions: number): Promise<number[]> {
  // Each partition's high watermark, asked of its owner (ListOffsets latest), through a fresh routing view.
  const c = await WireConnection.connect(port);
  try {
    const md = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
      topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const ports = new Map(md.brokers.map((b) => [b.nodeId, b.port]));
    const ends = new Array<number>(partitions).fill(-1);
    for (const p of md.topics[0]!.partitions) {
      const oc = await WireConnection.connect(ports.get(p.leaderId)!);
      try {
        const r = await oc.request<{ topics: { partitions: { errorCode: number; offset: bigint | number }[] }[] }>(ApiKey.ListOffsets, 7, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: topic, partitions: [{ partitionIndex: p.partitionIndex, currentLeaderEpoch: -1, timestamp: -1 }] }],
        });
        const x = r.topics[0]!.partitions[0]!;
        ends[p.partitionIndex] = x.errorCode === 0 ? Number(x.offset) : -1;
      } finally {
        oc.close();
      }
    }
    return ends;
  } finally {
    c.close();
  }
}

async function walObjectsAlive(brokers: BenchBroker[]): Promise<number> {
  let n = 0;
  for (const b of brokers) {
    const m = await b.child.metrics();
    n += (m.get('skafos_flushes') ?? 0) - (m.get('skafos_wal_objects_deleted') ?? 0);
  }
  return n;
}

interface RoundResult {
  leaseMs: number;
  partitions: number;
  moved: number;
  warmupS: number;
  walObjectsAtKill: number;
  metadataMs: number;
  firstAckMs: number[];
  loads: { partitions: number; walObjects: number; walIndexReads: number; manifestsMs: number; indexesMs: number; ms: number }[];
  produceErrors: number;
  ackedRecords: number;
  lost: number;
}

async function round(backend: BenchBackend, leaseMs: number, partitions: number, warmupMs: number): Promise<RoundResult> {
  const brokers = await backend.startCluster(`failover${leaseMs}`, brokersInCluster, { 'broker.session.timeout.ms': leaseMs });
  const ports = new Map(brokers.map((b, i) => [i + 1, b.child.port]));
  const topic = 'failover';
  let load: RoutedLoad | null = null;
  try {
    await createTopic(brokers[0]!.child.port, topic, partitions);
    load = new RoutedLoad(topic, partitions, new Map(ports));
    const deadline = Date.now() + 60_000;
    while (load.owners().length < partitions || load.owners().some((r) => r.nodeId < 0)) {
      if (Date.now() > deadline) throw new Error('partitions without an owner 60 s after CreateTopics');
      await load.refresh();
      await new Promise((r) => setTimeout(r, 100));
    }
    load.start();
    const bar = new Progress(`failover (lease ${leaseMs} ms): warm-up load`, warmupMs / 1000, 's');
    const t0 = Date.now();
    while (Date.now() - t0 < warmupMs) {
      await new Promise((r) => setTimeout(r, 1000));
      bar.update((Date.now() - t0) / 1000, `${load.acked.reduce((a, b) => a + b, 0)} records acked`);
    }
    bar.end();
    // The victim: the broker owning the most partitions (never the controller's tie-break favourite by luck).
    const counts = new Map<number, number>();
    for (const r of load.owners()) counts.set(r.nodeId, (counts.get(r.nodeId) ?? 0) + 1);
    const victimId = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0]![0];
    const moved = load
      .owners()
      .map((r, p) => (r.nodeId === victimId ? p : -1))
      .filter((p) => p >= 0);
    const walObjectsAtKill = await walObjectsAlive(brokers);
    const survivors = brokers.filter((_, i) => i + 1 !== victimId);
    const killedAt = Date.now();
    brokers[victimId - 1]!.child.kill();
    load.forget(victimId);
    // Metadata from a survivor names live owners for every moved partition.
    let metadataMs = -1;
    const survivorPort = survivors[0]!.child.port;
    const kbar = new Progress(`failover (lease ${leaseMs} ms): after kill -9 of broker ${victimId}`, moved.length, 'partitions');
    const firstAckMs = new Array<number>(moved.length).fill(-1);
    const c = await WireConnection.connect(survivorPort);
    try {
      while (Date.now() - killedAt < 120_000) {
        if (metadataMs < 0) {
          const r = await c.request<MetadataResponse>(ApiKey.Metadata, 12, {
            topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name: topic }],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          const ps = r.topics[0]!.partitions;
          if (
            moved.every((p) => {
              const x = ps.find((y) => y.partitionIndex === p);
              return x !== undefined && x.errorCode === 0 && x.leaderId >= 0 && x.leaderId !== victimId;
            })
          )
            metadataMs = Date.now() - killedAt;
        }
        moved.forEach((p, i) => {
          if (firstAckMs[i]! >= 0) return;
          const t = load!.ackTimes[p]!.find((x) => x > killedAt);
          if (t !== undefined) firstAckMs[i] = t - killedAt;
        });
        const done = firstAckMs.filter((x) => x >= 0).length;
        kbar.update(done);
        if (done === moved.length && metadataMs >= 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      c.close();
    }
    kbar.end();
    // A little more load on the new owners, then stop and check that nothing acknowledged was lost.
    await new Promise((r) => setTimeout(r, 2000));
    await load.stop();
    const ends = await logEnds(survivorPort, topic, partitions);
    const lost = ends.reduce((n, end, p) => n + Math.max(0, load!.acked[p]! - Math.max(0, end)), 0);
    const loads = survivors
      .flatMap((b) => b.child.logEntries('partitions loaded'))
      .filter((e) => Date.parse(String(e.time)) >= killedAt) // pino's ISO time; the loads at start come before the kill
      .map((e) => ({
        partitions: Number(e.partitions),
        walObjects: Number(e.walObjects),
        walIndexReads: Number(e.walIndexReads),
        manifestsMs: Number(e.manifestsMs),
        indexesMs: Number(e.indexesMs),
        ms: Number(e.ms),
      }));
    return {
      leaseMs,
      partitions,
      moved: moved.length,
      warmupS: warmupMs / 1000,
      walObjectsAtKill,
      metadataMs,
      firstAckMs,
      loads,
      produceErrors: load.errors,
      ackedRecords: load.acked.reduce((a, b) => a + b, 0),
      lost,
    };
  } finally {
    if (load) await load.stop();
    for (const b of brokers) await b.destroy().catch(() => {});
  }
}

export async function run(o: ScenarioOptions): Promise<Record<string, unknown>> {
  if (o.backend !== 's3') console.log('failover: a cluster needs etcd and a shared bucket, so this scenario always runs on the s3 backend');
  const backend = await BenchBackend.get('s3');
  const partitions = o.quick ? 24 : 96;
  const warmupMs = o.quick ? 10_000 : 60_000;
  const leases = o.quick ? [3000] : [3000, 9000];
  const rounds: RoundResult[] = [];
  for (const leaseMs of leases) rounds.push(await round(backend, leaseMs, partitions, warmupMs));

  console.log(
    `\nFailover: ${brokersInCluster} brokers (s3 backend), ${partitions} partitions, acks=all load of ${recordsPerBatch} × ${valueBytes} B per partition every ${batchIntervalMs} ms, kill -9 of the broker owning the most partitions\n`,
  );
  console.log(
    table(
      [
        'lease ms',
        'moved',
        'WAL objects at kill',
        'metadata ms',
        'first ack p50 ms',
        'first ack max ms',
        'loads: partitions / WAL objects (index reads) / ms (manifests, indexes)',
        'produce errors',
        'acked',
        'lost',
      ],
      rounds.map((r) => {
        const l = percentiles(r.firstAckMs.filter((x) => x >= 0));
        const missing = r.firstAckMs.filter((x) => x < 0).length;
        return [
          fmt(r.leaseMs),
          fmt(r.moved),
          fmt(r.walObjectsAtKill),
          fmt(r.metadataMs),
          fmt(l.p50),
          missing > 0 ? `${fmt(l.max)} (${missing} never)` : fmt(l.max),
          r.loads
            .map((x) => `${x.partitions}/${x.walObjects} (${x.walIndexReads})/${x.ms} (${x.manifestsMs}, ${x.indexesMs})`)
            .join(', ') || '-',
          fmt(r.produceErrors),
          fmt(r.ackedRecords),
          fmt(r.lost),
        ];
      }),
    ),
  );
  for (const r of rounds)
    if (r.lost > 0) console.log(`\nWARNING: lease ${r.leaseMs} ms: ${r.lost} acknowledged records missing from the log`);
  return {
    versions: { ours: oursVersion(), node: process.version },
    backend: backend.describe(),
    settings: {
      brokers: brokersInCluster,
      partitions,
      warmup: figure(warmupMs / 1000, 's'),
      load: `one Produce v9 acks=all batch (${recordsPerBatch} records of ${valueBytes} B) in flight per partition, every ${batchIntervalMs} ms, routed by Metadata`,
      victim: 'the broker owning the most partitions, kill -9 (SIGKILL)',
    },
    rounds: rounds.map((r) => {
      const l = percentiles(r.firstAckMs.filter((x) => x >= 0));
      return {
        lease: figure(r.leaseMs, 'ms'),
        moved: figure(r.moved, 'partitions'),
        walObjectsAtKill: figure(r.walObjectsAtKill, 'objects'),
        metadata: figure(r.metadataMs, 'ms from kill -9 until Metadata names a live owner for every moved partition'),
        firstAckP50: figure(l.p50, 'ms from kill -9 to the first acked produce of a moved partition'),
        firstAckMax: figure(l.max, 'ms'),
        neverAcked: figure(r.firstAckMs.filter((x) => x < 0).length, 'partitions'),
        loads: r.loads,
        produceErrors: figure(r.produceErrors, 'requests answered with an error or lost with a connection (retried)'),
        acked: figure(r.ackedRecords, 'records'),
        lost: figure(r.lost, 'acknowledged records missing from the log'),
      };
    }),
  };
}
