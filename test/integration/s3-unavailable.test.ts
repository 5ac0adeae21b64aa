// A broker on S3 (radosgw behind the fault proxy) and etcd (a member of this file) with low object-store health
// thresholds, under a light acks=all load from a raw Produce loop (exact error codes, no client retries: every
// batch has fresh keys). Every S3 request answers 503 SlowDown for ~8 s: Produce must switch to the retriable
// NOT_ENOUGH_REPLICAS quickly and answer fast (no hang), /readyz must answer 503 naming the object store, /metrics
// must show skafos_object_store_health_state 2 and RSS must stay bounded. Once the fault is cleared Produce must
// succeed again on its own within seconds, /readyz 200, and every acknowledged record must be present exactly once,
// at its acknowledged offset.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { kafkajsClient, kafkajsFetch } from '../support/js-clients.ts';
import { s3TestEndpoint } from '../support/radosgw.ts';
import { faults, startFaultProxy } from '../support/s3-fault-proxy.ts';
import { sleep } from '../support/run.ts';
import { MiB, rssBytes, startS3EtcdBroker } from '../support/s3-etcd.ts';
import { createTopic, TestClient } from '../broker/handlers/support/client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../broker/protocol/records/build.ts';

t.setTimeout(90_000);

const topic = 'unavail';
const partitions = 2;
const NOT_ENOUGH_REPLICAS = 19;
const faultMs = 8000;

interface Answer {
  sentAt: number;
  ms: number;
  errorCode: number | null;
  error?: string;
}
interface Ack {
  key: string;
  p: number;
  o: number;
}

/** `workers` connections, each with one Produce v9 (acks=-1) of 10 keyed records at a time; a request unanswered in 15 s counts as a hang. */
class RawLoad {
  readonly answers: Answer[] = [];
  readonly acks: Ack[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  private readonly port: number;

  constructor(port: number, workers: number) {
    this.port = port;
    this.done = Promise.all([...Array.from({ length: workers }, (_, w) => this.loop(w, false)), this.loop(workers, true)]).then(() => {});
  }

  /**
   * A sequential worker waits for each answer on its connection; the `independent` one sends a Produce every 250 ms
   * on a fresh connection without waiting for earlier ones, so a request stuck since before the fault hides nothing.
   */
  private async loop(w: number, independent: boolean): Promise<void> {
    if (independent) {
      const pending: Promise<void>[] = [];
      for (let seq = 0; !this.stopped; seq++) {
        pending.push(this.produceOnce(w, seq));
        await sleep(250);
      }
      await Promise.all(pending);
      return;
    }
    await sleep(w * 37);
    for (let seq = 0; !this.stopped; seq++) {
      await this.produceOnce(w, seq);
      await sleep(50);
    }
  }

  /** One Produce on a fresh connection, recorded in `answers` (and `acks` when acknowledged). */
  private async produceOnce(w: number, seq: number): Promise<void> {
    let client: TestClient | null = null;
    {
      const p = (seq + w) % partitions;
      const keys = Array.from({ length: 10 }, (_, j) => `k-${w}-${seq}-${j}`);
      const sentAt = Date.now();
      try {
        client = await TestClient.connect(this.port);
        const now = Date.now();
        const records = keys.map((k) => ({ key: Buffer.from(k), value: Buffer.from(`${k}:${'v'.repeat(100)}`), timestampMs: now }));
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          client.request(ApiKey.Produce, 9, {
            transactionalId: null,
            acks: -1,
            timeoutMs: 10000,
            topicData: [{ name: topic, partitionData: [{ index: p, records: buildRecordBatch(records) }] }],
          }),
          new Promise<never>((_, rej) => {
            timer = setTimeout(() => rej(new Error('no answer in 15 s')), 15_000);
          }),
        ]).finally(() => clearTimeout(timer));
        const pr = r.responses[0].partitionResponses[0];
        this.answers.push({ sentAt, ms: Date.now() - sentAt, errorCode: pr.errorCode });
        if (pr.errorCode === 0) {
          const base = Number(pr.baseOffset);
          keys.forEach((key, i) => this.acks.push({ key, p, o: base + i }));
        }
      } catch (e) {
        this.answers.push({ sentAt, ms: Date.now() - sentAt, errorCode: null, error: (e as Error).message });
      }
    }
    client?.close();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

const skip = etcdMemberSkip();
t.test('object store unavailable: fast NOT_ENOUGH_REPLICAS, /readyz 503, automatic recovery', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const s3 = await s3TestEndpoint();
  const proxy = await startFaultProxy(s3.endpoint);
  t.teardown(() => proxy.close());
  const config = { pending: 32 * MiB, segCache: 32 * MiB, idxCache: 16 * MiB };
  const h = await startS3EtcdBroker(t, {
    etcdEndpoint: etcd.endpoint,
    s3Endpoint: () => proxy.endpoint,
    label: 'unavail',
    sets: {
      'skafos.flush.linger.ms': 20,
      'skafos.flush.max.pending.bytes': config.pending,
      'skafos.cache.segment.bytes': config.segCache,
      'skafos.cache.index.bytes': config.idxCache,
      'skafos.storage.health.unavailable.consecutive.failures': 3,
      'skafos.storage.health.recovery.hold.ms': 2000,
      'skafos.s3.retry.max.attempts': 2,
      'skafos.s3.retry.backoff.max.ms': 500,
      'skafos.s3.request.timeout.ms': 2000,
      'skafos.s3.connect.timeout.ms': 1000,
    },
  });
  const b = h.broker;
  const pid = b.pid!;
  const rssBound = config.pending + config.segCache + config.idxCache + 300 * MiB;

  const setup = await TestClient.connect(b.port);
  await createTopic(setup, topic, partitions);
  setup.close();

  // Samples /readyz (status and body), the health state and RSS every 200 ms, timestamped.
  interface Sample {
    at: number;
    readyz: number | null;
    reason: string;
    health: number | null;
    rss: number;
  }
  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const at = Date.now();
      const s: Sample = { at, readyz: null, reason: '', health: null, rss: rssBytes(pid) ?? 0 };
      try {
        const res = await fetch(`http://127.0.0.1:${h.httpPort}/readyz`, { signal: AbortSignal.timeout(2000) });
        s.readyz = res.status;
        s.reason = res.status === 200 ? '' : (((await res.json()) as { reason?: string }).reason ?? '');
        s.health = (await h.metrics()).sum('skafos_object_store_health_state');
      } catch {
        // the ops endpoint is busy: keep what we have
      }
      samples.push(s);
      await sleep(200);
    }
  })();

  const load = new RawLoad(b.port, 4);
  const waitFor = async (pred: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && !pred()) await sleep(25);
    return pred();
  };
  try {
    t.ok(await waitFor(() => load.acks.length >= 100, 20_000), 'producing before the fault');

    const faultStart = Date.now();
    const rule = proxy.inject(faults.slowDown());
    await sleep(faultMs);
    rule.remove();
    const faultEnd = Date.now();
    const recovered = await waitFor(() => load.answers.some((a) => a.sentAt >= faultEnd && a.errorCode === 0), 15_000);
    const firstOk = load.answers.find((a) => a.sentAt >= faultEnd && a.errorCode === 0);
    const recoveredAt = firstOk ? firstOk.sentAt + firstOk.ms : null;
    const ready = await waitFor(() => samples.some((s) => s.at >= faultEnd && s.readyz === 200), 15_000);
    const readyAt = samples.find((s) => s.at >= faultEnd && s.readyz === 200)?.at ?? null;
    const beforeMore = load.acks.length;
    t.ok(await waitFor(() => load.acks.length >= beforeMore + 100, 10_000), 'producing steadily after recovery');

    // During the fault.
    const during = load.answers.filter((a) => a.sentAt >= faultStart && a.sentAt < faultEnd);
    const firstNer = during.find((a) => a.errorCode === NOT_ENOUGH_REPLICAS);
    const nerAt = firstNer ? firstNer.sentAt + firstNer.ms : null;
    const codes: Record<string, number> = {};
    for (const a of during) codes[String(a.errorCode ?? a.error)] = (codes[String(a.errorCode ?? a.error)] ?? 0) + 1;
    const afterNer = nerAt === null ? [] : during.filter((a) => a.sentAt >= nerAt);
    const slowAfterNer = afterNer.filter((a) => a.ms > 1000);
    const maxMsAfterNer = Math.max(0, ...afterNer.map((a) => a.ms));
    const hangs = load.answers.filter((a) => a.errorCode === null);
    const faultSamples = samples.filter((s) => s.at >= faultStart && s.at < faultEnd + 1000);
    const notReady = faultSamples.find((s) => s.readyz === 503);
    const firstUnavailable = faultSamples.find((s) => s.health === 2);
    const maxRss = Math.max(...samples.map((s) => s.rss));
    // Produce requests in flight when the fault began (sent before it, answered after it).
    const straddling = load.answers
      .filter((a) => a.sentAt < faultStart && a.sentAt + a.ms > faultStart)
      .map((a) => ({ sentMs: a.sentAt - faultStart, ms: a.ms, code: a.errorCode ?? a.error }));
    const slowDuring = during
      .filter((a) => a.ms > 1000)
      .map((a) => ({ sentMs: a.sentAt - faultStart, ms: a.ms, code: a.errorCode ?? a.error }));
    t.comment(
      `in flight at injection: ${JSON.stringify(straddling)}; sent during the fault and answered after > 1 s: ${JSON.stringify(slowDuring)}`,
    );

    t.comment(
      `timeline (ms from fault injection): first NOT_ENOUGH_REPLICAS answered at ${nerAt === null ? 'never' : nerAt - faultStart}; ` +
        `health_state 2 first seen at ${firstUnavailable ? firstUnavailable.at - faultStart : 'never'}; /readyz 503 first seen at ${notReady ? notReady.at - faultStart : 'never'} (reason ${JSON.stringify(notReady?.reason)}); ` +
        `fault cleared at ${faultEnd - faultStart}; first successful Produce answered ${recoveredAt === null ? 'never' : `${recoveredAt - faultEnd} ms after clearing`}; ` +
        `/readyz 200 again ${readyAt === null ? 'never' : `${readyAt - faultEnd} ms after clearing`}`,
    );
    t.comment(
      `during the fault: ${during.length} Produce answers by error code ${JSON.stringify(codes)}; after the first NOT_ENOUGH_REPLICAS ${afterNer.length} answers, max ${maxMsAfterNer} ms, ${slowAfterNer.length} over 1 s; ` +
        `max RSS ${(maxRss / MiB).toFixed(0)} MiB; proxy ${JSON.stringify(proxy.stats())}`,
    );

    t.ok(
      firstNer && nerAt! - faultStart < 5000,
      `Produce fails with NOT_ENOUGH_REPLICAS within 5 s of the fault (${nerAt === null ? 'never' : nerAt - faultStart} ms)`,
    );
    t.ok(
      afterNer.length >= 5,
      `Produce keeps being answered during the fault (${afterNer.length} answers after the first NOT_ENOUGH_REPLICAS)`,
    );
    t.same(
      afterNer.filter((a) => a.errorCode !== NOT_ENOUGH_REPLICAS).map((a) => a.errorCode),
      [],
      'once unavailable, every Produce gets NOT_ENOUGH_REPLICAS until the fault clears',
    );
    t.same(
      slowAfterNer.map((a) => a.ms),
      [],
      'once unavailable, every Produce is answered within 1 s',
    );
    t.same(
      hangs.map((a) => a.error),
      [],
      'no Produce hung or lost its connection',
    );
    t.same(slowDuring, [], 'every Produce sent during the fault is answered within 1 s');
    t.ok(notReady, '/readyz answered 503 during the fault');
    t.match(
      notReady?.reason ?? '',
      /object.?store|s3|storage/i,
      `/readyz reason names the object store: ${JSON.stringify(notReady?.reason)}`,
    );
    t.ok(firstUnavailable, '/metrics showed skafos_object_store_health_state 2');
    t.ok(maxRss > 0 && maxRss < rssBound, `RSS stayed under ${rssBound / MiB} MiB (max ${(maxRss / MiB).toFixed(0)} MiB)`);
    t.ok(
      recovered && recoveredAt! - faultEnd < 8000,
      `Produce succeeded again on its own within 8 s of clearing (${recoveredAt === null ? 'never' : recoveredAt - faultEnd} ms)`,
    );
    t.ok(ready, '/readyz answered 200 again');
  } finally {
    await load.stop();
    sampling = false;
    await sampler;
  }
  t.ok(b.alive && b.pid === pid, `the broker never restarted (pid ${pid})`);

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
    20_000,
  );
  const at = new Map(records.map((r) => [`${r.p}@${r.o}`, r]));
  const copies = new Map<string, number>();
  for (const r of records) copies.set(r.k!, (copies.get(r.k!) ?? 0) + 1);
  const misplaced = load.acks.filter((a) => at.get(`${a.p}@${a.o}`)?.k !== a.key);
  const duplicated = load.acks.filter((a) => copies.get(a.key) !== 1);
  t.same(misplaced.slice(0, 10), [], `all ${load.acks.length} acknowledged records are at their acknowledged offsets`);
  t.same(duplicated.slice(0, 10), [], 'each acknowledged record is present exactly once');
  const ackedKeys = new Set(load.acks.map((a) => a.key));
  t.comment(
    `${records.length} records in the log, ${load.acks.length} acknowledged, ${records.filter((r) => !ackedKeys.has(r.k!)).length} unacknowledged (failed Produce that reached the log)`,
  );
  const errs = b.errorLines();
  t.comment(`broker error log lines: ${errs.length}${errs.length ? `, first: ${errs[0]!.slice(0, 300)}` : ''}`);
});
