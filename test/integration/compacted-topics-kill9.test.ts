// kill -9 of the broker that is cleaning a compacted topic, under load, in a loop bounded in time
// (spec/compaction.md, crash cases). A kafkajs producer (acks=all, no retries, so an acknowledgement names
// exactly one write) keeps updating 100 keys of a compacted topic while the compactor cuts segments and the
// cleaner rewrites them every 100 ms; the broker is killed with SIGKILL after a random number of further
// acknowledgements and restarted on the same directory, again and again. At every kill and at the end:
//   - nothing that should survive is lost: every record present is the write it claims to be (an acknowledged
//     one at its acknowledged offset, or an unacknowledged attempt), and the newest record of every key is at or
//     after its newest acknowledged offset;
//   - no removed record comes back: below the end of the previous read, the offsets present are a subset of the
//     offsets present then, and no key's newest offset moves back;
//   - no orphan object remains after the next start: every segment or WAL object the killed broker left that no
//     committed manifest or WAL key names is gone once the restarted broker has recovered.
// Finally, once the cleaner has caught up, a reader from the beginning sees exactly one record per key: its
// newest write.
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Producer } from 'kafkajs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { keyToNames, walkKeys } from '../../broker/storage/local-keys.ts';
import { startBroker } from '../support/broker.ts';
import { kafkajsFetch } from '../support/js-clients.ts';
import { waitForAcks } from '../support/load.ts';
import { sleep, withTimeout } from '../support/run.ts';
import { until } from '../support/until.ts';

const { Kafka, logLevel } = kafkajs;
t.setTimeout(180_000);

const topic = 'kill9-state';
const keys = 100;
/** The kill loop stops at this many kills, or when its time is up (a 2-core machine shared with other work). */
const maxKills = 20;
const loopBudgetMs = 45_000;

interface Rec {
  key: string;
  value: string;
}

/** Updates of `keys` keys in batches of 20; an acknowledged batch is recorded at its offsets, every attempt is remembered. */
class UpdateLoad {
  readonly acked = new Map<number, Rec>();
  /** Every value ever sent (acknowledged or not) and its key. */
  readonly attempts = new Map<string, string>();
  failures = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  private write = 0;
  private readonly bootstrap: string;

  constructor(bootstrap: string) {
    this.bootstrap = bootstrap;
    this.done = this.loop();
  }

  private async connect(): Promise<Producer> {
    const kafka = new Kafka({
      clientId: 'kill9-updates',
      brokers: [this.bootstrap],
      logLevel: logLevel.NOTHING,
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
    while (!this.stopped) {
      try {
        producer ??= await this.connect();
        const messages = Array.from({ length: 20 }, () => {
          const w = this.write++;
          const key = `key-${Math.floor(Math.random() * keys)}`;
          const value = `w${w}-${key}-${'v'.repeat(w % 200)}`;
          this.attempts.set(value, key);
          return { key, value };
        });
        const [meta] = await producer.send({ topic, acks: -1, timeout: 5000, messages });
        const base = Number(meta!.baseOffset);
        messages.forEach((m, i) => this.acked.set(base + i, m));
      } catch {
        this.failures++;
        const old = producer;
        producer = null;
        await old?.disconnect().catch(() => {});
        await sleep(50); // retry backoff while the broker is down, as the other load generators
      }
    }
    await producer?.disconnect().catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await withTimeout(this.done, 30_000, 'update load stop');
  }
}

/** The objects of the local object store under `root` in the top-level directory `dir` (`seg`, `wal`). */
async function listObjects(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of walkKeys(join(root, `${dir}%`), `${dir}/`, '', undefined)) out.push(key);
  return out;
}

function objectExists(root: string, key: string): boolean {
  return existsSync(join(root, ...keyToNames(key)));
}

/** With the broker dead: the segment and WAL objects that no committed manifest or WAL key names. */
async function orphansOnDisk(dir: string): Promise<string[]> {
  const db = new DatabaseSync(join(dir, 'metadata.sqlite'));
  const named = new Set<string>();
  try {
    for (const row of db.prepare("SELECT key, value FROM kv WHERE key LIKE '/partitions/%' OR key LIKE '/wal/%'").all() as {
      key: string;
      value: string;
    }[]) {
      const v = JSON.parse(row.value) as { objectKey?: string; segments?: { objectKey: string }[] };
      if (row.key.startsWith('/wal/')) named.add(v.objectKey!);
      else for (const s of v.segments ?? []) named.add(s.objectKey);
    }
  } finally {
    db.close();
  }
  const root = join(dir, 'objects');
  return [...(await listObjects(root, 'seg')), ...(await listObjects(root, 'wal'))].filter((k) => !named.has(k));
}

t.test('kill -9 of the cleaning broker at random points under load: nothing lost, nothing back, no orphan left', async (t) => {
  const b = await startBroker(t, {
    sets: {
      'skafos.flush.linger.ms': 5,
      'skafos.compaction.interval.ms': 100,
      'skafos.compaction.min.age.ms': 0,
      'skafos.compaction.max.age.ms': 100,
      'skafos.segment.target.bytes': 65536,
      'log.cleaner.backoff.ms': 100,
      'skafos.log.level': 'debug',
    },
  });
  const kafka = new Kafka({ clientId: 'kill9-check', brokers: [b.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: 1,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
          // file.delete.delay.ms stays at its default (60 s): every kill after a swap leaves the replaced
          // segments named by no manifest, for the next start to delete.
        ],
      },
    ],
  });
  await admin.disconnect();

  const load = new UpdateLoad(b.bootstrap);
  const acked = () => load.acked.size;
  let previous: Map<number, Rec> | null = null;
  let previousEnd = 0;
  const problems: string[] = [];

  /** Reads the log from 0 to its high watermark and checks it against the acknowledgements and the previous read. */
  const check = async (tag: string): Promise<Map<number, Rec>> => {
    const a = kafka.admin();
    await a.connect();
    const high = (await a.fetchTopicOffsets(topic))[0]!.high;
    await a.disconnect();
    const end = Number(high);
    const records = await kafkajsFetch(kafka, topic, new Map([[0, [0, end]]]), 60_000);
    const now = new Map(records.map((r) => [r.o, { key: r.k!, value: r.v! }]));
    const newest = new Map<string, number>();
    for (const [o, r] of now) {
      const ack = load.acked.get(o);
      if (ack !== undefined && (ack.key !== r.key || ack.value !== r.value))
        problems.push(`${tag}: offset ${o} is ${r.value}, acknowledged ${ack.value}`);
      if (ack === undefined && load.attempts.get(r.value) !== r.key)
        problems.push(`${tag}: offset ${o} holds ${r.value}, never sent with key ${r.key}`);
      newest.set(r.key, Math.max(newest.get(r.key) ?? -1, o));
    }
    const newestAcked = new Map<string, number>();
    for (const [o, r] of load.acked) if (o < end) newestAcked.set(r.key, Math.max(newestAcked.get(r.key) ?? -1, o));
    for (const [k, o] of newestAcked)
      if ((newest.get(k) ?? -1) < o) problems.push(`${tag}: ${k} acknowledged at ${o}, newest in the log at ${newest.get(k) ?? 'none'}`);
    if (previous !== null) {
      const before = new Map<string, number>();
      for (const [o, r] of previous) before.set(r.key, Math.max(before.get(r.key) ?? -1, o));
      for (const o of now.keys()) if (o < previousEnd && !previous.has(o)) problems.push(`${tag}: offset ${o} came back`);
      for (const [k, o] of before) if ((newest.get(k) ?? -1) < o) problems.push(`${tag}: ${k}'s newest record ${o} went`);
    }
    previous = now;
    previousEnd = end;
    return now;
  };

  const started = Date.now();
  let kills = 0;
  let orphansSeen = 0;
  let segmentOrphans = 0;
  const orphansLeft: string[] = [];
  try {
    t.ok(await waitForAcks(acked, 500, 30_000), 'producing before the first kill');
    while (kills < maxKills && Date.now() - started < loopBudgetMs) {
      // A random point: after 100 to 1500 more acknowledged records.
      await waitForAcks(acked, 100 + Math.floor(Math.random() * 1400), 10_000);
      await b.kill9();
      kills++;
      const orphans = await orphansOnDisk(b.dir);
      orphansSeen += orphans.length;
      segmentOrphans += orphans.filter((k) => k.startsWith('seg/')).length;
      await b.restart();
      orphansLeft.push(...orphans.filter((k) => objectExists(join(b.dir, 'objects'), k)));
      if (!(await waitForAcks(acked, 100, 30_000))) problems.push(`kill ${kills}: producing did not resume`);
      await check(`kill ${kills}`);
    }
  } finally {
    await load.stop();
  }
  t.ok(kills >= 5, `${kills} kills in ${Date.now() - started} ms`);
  t.same(
    orphansLeft.slice(0, 10),
    [],
    `every one of the ${orphansSeen} orphan objects found at the kills (${segmentOrphans} segments) was gone after the next start`,
  );
  t.ok(segmentOrphans > 0, 'the kills left orphan segments to collect');

  // The cleaner catches up: one record per key, its newest write.
  let final = new Map<number, Rec>();
  await until(
    async () => {
      final = await check('final');
      return new Set([...final.values()].map((r) => r.key)).size === final.size;
    },
    'the cleaner to leave one record per key',
    60_000,
  );
  t.same(problems.slice(0, 10), [], 'at every read: nothing lost, nothing back');
  const newestWrite = new Map<string, string>();
  for (const [, r] of [...final].sort(([x], [y]) => x - y)) newestWrite.set(r.key, r.value);
  t.equal(final.size, newestWrite.size, 'exactly one record per key');
  const cleanings = b.logLines.filter((l) => l.includes('"partition cleaned"')).length;
  t.ok(cleanings > kills, `${cleanings} cleanings committed across ${kills + 1} incarnations`);
  t.comment(`${load.acked.size} records acknowledged, ${load.failures} failed sends, ${final.size} keys left`);
  t.same(b.errorLines(), [], 'no error log lines');
});
