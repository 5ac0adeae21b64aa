// Producer load for the durability and shutdown tests: producers that send keyed, sequence-numbered records
// round robin over a topic's partitions with acks=all and no client-side retries (an acknowledgement names
// exactly one write; a failed batch is sent again under new keys), and the checks on what the log holds after.
import type { Test } from 'tap';
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import { sleep, withTimeout } from './run.ts';
import { kafkajsClient, kafkajsFetch } from './js-clients.ts';
import type { ConsumedRecord } from './records.ts';

/** One acknowledged record: key `<producer>-<seq>-<attempt>`. */
export interface Ack {
  key: string;
  producer: string;
  seq: number;
  p: number;
  o: number;
}

/** A kafkajs producer loop: batches of 25 records, one request at a time, a failed batch is re-sent under new keys. */
export class KafkajsLoad {
  readonly name: string;
  readonly acks: Ack[] = [];
  failures = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly bootstrap: string;

  private readonly topic: string;
  private readonly partitions: number;

  constructor(name: string, bootstrap: string, topic: string, partitions: number) {
    this.name = name;
    this.bootstrap = bootstrap;
    this.topic = topic;
    this.partitions = partitions;
    this.done = this.loop();
  }

  private async connect(): Promise<Producer> {
    const kafka = new kafkajs.Kafka({
      clientId: this.name,
      brokers: this.bootstrap.split(','),
      logLevel: kafkajs.logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 1000,
      requestTimeout: 5000,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 1, retry: { retries: 0 } });
    await producer.connect();
    return producer;
  }

  private async loop(): Promise<void> {
    let producer: Producer | null = null;
    let seq = 0;
    let attempt = 0;
    while (!this.stopped) {
      try {
        producer ??= await this.connect();
        const batch = Array.from({ length: 25 }, (_, j) => seq + j);
        const messages = batch.map((s) => ({
          key: `${this.name}-${s}-${attempt}`,
          partition: s % this.partitions,
          value: JSON.stringify({ producer: this.name, seq: s, attempt, pad: 'y'.repeat(s % 50) }),
          headers: { producer: this.name },
        }));
        const meta = await producer.send({ topic: this.topic, acks: -1, timeout: 5000, messages });
        const next = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
        for (const m of messages) {
          const o = next.get(m.partition)!;
          next.set(m.partition, o + 1);
          const [, s] = /-(\d+)-\d+$/.exec(m.key)!;
          this.acks.push({ key: m.key, producer: this.name, seq: Number(s), p: m.partition, o });
        }
        seq += batch.length;
        attempt = 0;
      } catch {
        // Not acknowledged: the batch may or may not be in the log. Send it again under new keys.
        this.failures++;
        attempt++;
        const old = producer;
        producer = null;
        await old?.disconnect().catch(() => {});
        await sleep(100);
      }
    }
    await producer?.disconnect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await withTimeout(this.done, 30_000, `${this.name} stop`);
  }
}

/** Waits until `total()` grows by `n` within `ms`. */
export async function waitForAcks(total: () => number, n: number, ms: number): Promise<boolean> {
  const start = total();
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (total() >= start + n) return true;
    await sleep(50);
  }
  return false;
}

/**
 * Reads the whole topic back with a fresh kafkajs client and asserts: offsets 0..HW-1 with no gap or overlap in
 * every partition; no write present twice; every acknowledged record at the partition and offset it was
 * acknowledged with; every record intact; acknowledged records of each producer in sequence order per partition.
 */
export async function verifyLoad(t: Test, bootstrap: string, topic: string, partitions: number, acks: Ack[]): Promise<ConsumedRecord[]> {
  const kafka = kafkajsClient(bootstrap);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const ranges = new Map(ends.map((e) => [e.partition, [0, Number(e.high)] as [number, number]]));
  const records = await kafkajsFetch(kafka, topic, ranges, 60_000);

  const at = new Map<string, ConsumedRecord>();
  const byKey = new Map<string, ConsumedRecord[]>();
  for (const r of records) {
    at.set(`${r.p}@${r.o}`, r);
    const l = byKey.get(r.k!) ?? [];
    l.push(r);
    byKey.set(r.k!, l);
  }
  for (let p = 0; p < partitions; p++) {
    const offs = records
      .filter((r) => r.p === p)
      .map((r) => r.o)
      .sort((x, y) => x - y);
    const contiguous = offs.every((o, i) => o === i) && offs.length === ranges.get(p)![1];
    t.ok(contiguous, `partition ${p}: offsets 0..${ranges.get(p)![1] - 1} with no gap or overlap (${offs.length} records)`);
  }
  const dupes = [...byKey].filter(([, l]) => l.length > 1).map(([k, l]) => `${k} at ${l.map((r) => `${r.p}@${r.o}`).join(',')}`);
  t.same(dupes.slice(0, 10), [], 'no write is present twice');
  const missing = acks.filter((a) => at.get(`${a.p}@${a.o}`)?.k !== a.key);
  t.same(
    missing.slice(0, 10).map((a) => ({ ...a, found: at.get(`${a.p}@${a.o}`)?.k ?? null })),
    [],
    `all ${acks.length} acknowledged records are where they were acknowledged`,
  );
  let badValues = 0;
  for (const r of records) {
    const v = JSON.parse(r.v!) as { producer: string; seq: number; attempt: number };
    if (r.k !== `${v.producer}-${v.seq}-${v.attempt}` || r.h[0]?.[1] !== v.producer || r.p !== v.seq % partitions) badValues++;
  }
  t.equal(badValues, 0, 'every record is intact (key, value, header, partition agree)');
  const disorder: string[] = [];
  for (const name of new Set(acks.map((a) => a.producer))) {
    for (let p = 0; p < partitions; p++) {
      const mine = acks.filter((a) => a.producer === name && a.p === p).sort((x, y) => x.o - y.o);
      for (let i = 1; i < mine.length; i++)
        if (mine[i]!.seq <= mine[i - 1]!.seq)
          disorder.push(`${name} p${p}: seq ${mine[i]!.seq} at ${mine[i]!.o} after ${mine[i - 1]!.seq}`);
    }
  }
  t.same(disorder.slice(0, 10), [], 'acknowledged records are in order within each partition');
  return records;
}
