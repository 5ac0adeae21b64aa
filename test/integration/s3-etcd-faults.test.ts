// A broker on S3 (radosgw behind the fault proxy) and etcd (a member of this file) under continuous acks=all load
// from two kafkajs producers that retry failed sends (same keys, so a retried write may be present twice; idempotence
// off). In turn: (a) 503 SlowDown on every request for ~5 s, (b) +300 ms on every PUT for ~5 s, (c) stalled and
// reset connections for ~5 s, (d) etcd stopped for ~5 s. After each the producers recover on their own; at the end
// every acknowledged record is at the offset it was acknowledged with, offsets are contiguous, the broker never
// restarted (same pid) and its RSS stayed under a bound derived from its configuration. Prints what producers saw.
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient, kafkajsFetch } from '../support/js-clients.ts';
import { s3TestEndpoint } from '../support/radosgw.ts';
import { faults, startFaultProxy } from '../support/s3-fault-proxy.ts';
import { sleep, withTimeout } from '../support/run.ts';
import { MiB, rssBytes, startS3EtcdBroker } from '../support/s3-etcd.ts';

t.setTimeout(170_000);

const topic = 'faulty';
const partitions = 4;

interface PhaseStats {
  acks: number;
  errors: Record<string, number>;
  maxAckMs: number;
  throttled: number;
  maxThrottleMs: number;
}
const newPhase = (): PhaseStats => ({ acks: 0, errors: {}, maxAckMs: 0, throttled: 0, maxThrottleMs: 0 });

interface Ack {
  key: string;
  p: number;
  o: number;
}

/** A kafkajs producer loop: batches of 20, acks=all, a failed batch is retried with the same keys until acknowledged. */
class RetryingLoad {
  readonly acks: Ack[] = [];
  phase = newPhase();
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly name: string;
  private readonly bootstrap: string;

  constructor(name: string, bootstrap: string) {
    this.name = name;
    this.bootstrap = bootstrap;
    this.done = this.loop();
  }

  private async connect(): Promise<Producer> {
    // Debug logs carry each Produce response: its throttle time (KIP-219) is what the broker asked for.
    const logCreator = () => (entry: { log: { message: string; data?: { throttleTime?: number; clientSideThrottleTime?: number } } }) => {
      if (!entry.log.message.startsWith('Response Produce')) return;
      const ms = Math.max(entry.log.data?.throttleTime ?? 0, entry.log.data?.clientSideThrottleTime ?? 0);
      if (ms > 0) {
        this.phase.throttled++;
        this.phase.maxThrottleMs = Math.max(this.phase.maxThrottleMs, ms);
      }
    };
    const kafka = new kafkajs.Kafka({
      clientId: this.name,
      brokers: [this.bootstrap],
      logLevel: kafkajs.logLevel.DEBUG,
      logCreator,
      retry: { retries: 0 },
      connectionTimeout: 2000,
      requestTimeout: 15000,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1, retry: { retries: 0 } });
    await producer.connect();
    return producer;
  }

  private async loop(): Promise<void> {
    let producer: Producer | null = null;
    let seq = 0;
    while (!this.stopped) {
      const messages = Array.from({ length: 20 }, (_, j) => ({
        key: `${this.name}-${seq + j}`,
        partition: (seq + j) % partitions,
        value: `${this.name}:${seq + j}:${'z'.repeat((seq + j) % 200)}`,
      }));
      const started = Date.now();
      try {
        producer ??= await this.connect();
        const meta = await producer.send({ topic, acks: -1, timeout: 10000, messages });
        this.phase.maxAckMs = Math.max(this.phase.maxAckMs, Date.now() - started);
        const next = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
        for (const m of messages) {
          const o = next.get(m.partition)!;
          next.set(m.partition, o + 1);
          this.acks.push({ key: m.key, p: m.partition, o });
        }
        this.phase.acks += messages.length;
        seq += messages.length;
      } catch (e) {
        const err = e as Error & { type?: string; retriable?: boolean };
        const code = `${err.type ?? err.name}${err.retriable === false ? '(non-retriable)' : ''}`;
        this.phase.errors[code] = (this.phase.errors[code] ?? 0) + 1;
        if (err.type === undefined) {
          // connection-level: start over with a new producer
          const old = producer;
          producer = null;
          await old?.disconnect().catch(() => {});
        }
        await sleep(100); // then the same keys again
      }
    }
    await producer?.disconnect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await withTimeout(this.done, 30_000, `${this.name} stop`);
  }
}

const skip = etcdMemberSkip();
t.test('S3 and etcd faults under acks=all load', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const s3 = await s3TestEndpoint();
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const config = { pending: 32 * MiB, segCache: 32 * MiB, idxCache: 16 * MiB };
  const h = await startS3EtcdBroker(t, {
    etcdEndpoint: etcd.endpoint,
    s3Endpoint: () => proxy.endpoint,
    label: 'faults',
    sets: {
      'skafos.flush.linger.ms': 20,
      'skafos.flush.max.pending.bytes': config.pending,
      'skafos.cache.segment.bytes': config.segCache,
      'skafos.cache.index.bytes': config.idxCache,
      'skafos.s3.request.timeout.ms': 2000,
      'skafos.s3.connect.timeout.ms': 1000,
      'skafos.etcd.request.timeout.ms': 3000,
    },
  });
  const b = h.broker;
  const pid = b.pid!;
  const rssBound = config.pending + config.segCache + config.idxCache + 300 * MiB;
  let maxRss = 0;
  let healthMax = 0;
  const readyz = new Set<number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxRss = Math.max(maxRss, rssBytes(pid) ?? 0);
      try {
        healthMax = Math.max(healthMax, (await h.metrics()).sum('skafos_object_store_health_state'));
        readyz.add(await h.readyz());
      } catch {
        // the ops endpoint is busy: next time
      }
      await sleep(250);
    }
  })();

  const admin = kafkajsClient(b.bootstrap).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();

  const loads = [new RetryingLoad('a', b.bootstrap), new RetryingLoad('b', b.bootstrap)];
  const acked = () => loads.reduce((n, l) => n + l.acks.length, 0);
  const waitAcks = async (n: number, ms: number) => {
    const start = acked();
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && acked() < start + n) await sleep(50);
    return acked() >= start + n;
  };
  const phase = async (name: string, inject: () => Promise<() => Promise<void>>) => {
    for (const l of loads) l.phase = newPhase();
    healthMax = 0;
    readyz.clear();
    const undo = await inject();
    await sleep(5000);
    await undo();
    const during = loads.map((l) => l.phase);
    for (const l of loads) l.phase = newPhase();
    const recoveryStart = Date.now();
    const recovered = await waitAcks(300, 40_000);
    const after = loads.map((l) => l.phase);
    const describe = (ps: PhaseStats[]) => {
      const errors: Record<string, number> = {};
      for (const p of ps) for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v;
      const sum = (f: (p: PhaseStats) => number) => ps.reduce((n, p) => n + f(p), 0);
      return {
        acks: sum((p) => p.acks),
        errors,
        maxAckMs: Math.max(...ps.map((p) => p.maxAckMs)),
        throttled: sum((p) => p.throttled),
        maxThrottleMs: Math.max(...ps.map((p) => p.maxThrottleMs)),
      };
    };
    const d = describe(during);
    const errors = { ...d.errors, ...describe(after).errors };
    t.comment(
      `${name}: during the fault ${JSON.stringify(d)}; until 300 more acks (${Date.now() - recoveryStart} ms) ${JSON.stringify(describe(after))}; health state max ${healthMax} (0 healthy, 1 degraded, 2 unavailable), /readyz ${[...readyz].join(',')}; proxy ${JSON.stringify(proxy.stats())}`,
    );
    const nonRetriable = Object.keys(errors).filter((k) => k.includes('non-retriable'));
    t.same(nonRetriable, [], `${name}: producers saw only retriable errors`);
    t.ok(recovered, `${name}: producers recovered on their own (${acked()} acks so far)`);
    t.ok(b.alive && b.pid === pid, `${name}: the broker is the same process`);
    proxy.resetStats();
  };

  try {
    t.ok(await waitAcks(300, 30_000), 'producing before any fault');
    await phase('(a) 503 SlowDown on every request', async () => {
      const r = proxy.inject(faults.slowDown());
      return async () => r.remove();
    });
    await phase('(b) +300 ms on every PUT', async () => {
      const r = proxy.inject(faults.delay(300), { method: 'PUT' });
      return async () => r.remove();
    });
    await phase('(c) stalled and reset connections', async () => {
      let n = 0;
      const r1 = proxy.inject(faults.reset(), () => n++ % 2 === 0);
      const r2 = proxy.inject(faults.stall());
      return async () => {
        r1.remove();
        r2.remove();
      };
    });
    await phase('(d) etcd stopped', async () => {
      await etcd.stop();
      return async () => etcd.start();
    });
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    sampling = false;
    await sampler;
  }

  t.ok(b.alive && b.pid === pid, `the broker never restarted (pid ${pid})`);
  t.ok(maxRss > 0 && maxRss < rssBound, `RSS stayed under ${rssBound / MiB} MiB (max ${(maxRss / MiB).toFixed(0)} MiB)`);

  // Read everything back.
  const kafka = kafkajsClient(b.bootstrap);
  const a2 = kafka.admin();
  await a2.connect();
  const ends = await a2.fetchTopicOffsets(topic);
  await a2.disconnect();
  const records = await kafkajsFetch(
    kafka,
    topic,
    new Map(ends.map((e) => [e.partition, [0, Number(e.high)] as [number, number]])),
    60_000,
  );
  const at = new Map(records.map((r) => [`${r.p}@${r.o}`, r]));
  for (const e of ends) {
    const offs = records
      .filter((r) => r.p === e.partition)
      .map((r) => r.o)
      .sort((x, y) => x - y);
    t.ok(
      offs.length === Number(e.high) && offs.every((o, i) => o === i),
      `partition ${e.partition}: offsets 0..${Number(e.high) - 1} contiguous`,
    );
  }
  const acks = loads.flatMap((l) => l.acks);
  const missing = acks.filter((a) => at.get(`${a.p}@${a.o}`)?.k !== a.key);
  t.same(missing.slice(0, 10), [], `all ${acks.length} acknowledged records are at their acknowledged offsets`);
  const ackedAt = new Set(acks.map((a) => `${a.p}@${a.o}`));
  const copies = new Map<string, number>();
  for (const r of records) copies.set(r.k!, (copies.get(r.k!) ?? 0) + 1);
  const ackedKeys = new Set(acks.map((a) => a.key));
  const dupAcked = [...copies].filter(([k, n]) => n > 1 && ackedKeys.has(k)).length;
  const unacked = records.filter((r) => !ackedAt.has(`${r.p}@${r.o}`)).length;
  t.comment(
    `${records.length} records in the log, ${acks.length} acknowledged; ${unacked} records are unacknowledged attempts (failed sends that reached the log), ${dupAcked} acknowledged keys also appear at another offset (client retries)`,
  );
  const bad = records.filter(
    (r) => !/^(a|b)-\d+$/.test(r.k ?? '') || !r.v!.startsWith(`${r.k!.split('-')[0]}:${r.k!.split('-')[1]}:`),
  ).length;
  t.equal(bad, 0, 'every record is intact');
  const errs = b.errorLines();
  t.comment(`broker error log lines: ${errs.length}${errs.length ? `, first: ${errs[0]!.slice(0, 300)}` : ''}`);
});
