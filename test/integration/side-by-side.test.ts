// Side by side with Apache Kafka: the scripted exchanges of test/support/side-by-side/exchanges.ts (raw requests
// through the project's codec, at every version both brokers serve) go to Apache Kafka 4.4 (a single-node KRaft
// broker from the pinned jars) and to Skafos on the embedded default, in the same order. Their answers are
// normalised (ids, hosts, ports, times) and compared field by field. Every difference must be listed, with its
// reason, in spec/differences.md, and every row there must still be found: a new difference fails this test, and
// so does a fixed one whose row was left behind.
//
// SKAFOS_SIDE_BY_SIDE_REPORT=1 prints every difference found (to write or review spec/differences.md).
import t from 'tap';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { startApacheKafka } from '../support/apache-kafka.ts';
import { startBroker } from '../support/broker.ts';
import { RawConnection } from '../support/raw-client.ts';
import { knownDifferences } from '../support/side-by-side/differences.ts';
import type { BrokerState, Exchange } from '../support/side-by-side/exchanges.ts';
import { exchanges, unknownTopicId } from '../support/side-by-side/exchanges.ts';
import type { Difference } from '../support/side-by-side/normalize.ts';
import { diff, normalize, Placeholders } from '../support/side-by-side/normalize.ts';

const requestTimeoutMs = 30_000;
/** Bound on waiting for an exchange's `settled` state. */
const settleTimeoutMs = 10_000;
const apiNames = new Map(Object.entries(ApiKey).map(([name, key]) => [key as number, name]));

interface Answer {
  id: string;
  api: number;
  version: number;
  body: unknown;
}

/** Runs every exchange against one broker; answers keyed by exchange id with version. */
async function runAll(port: number, plan: Exchange[], common: Map<number, { min: number; max: number }>): Promise<Map<string, Answer>> {
  const s: BrokerState = { topicIds: new Map(), values: new Map(), versions: common };
  const ph = new Placeholders();
  const answers = new Map<string, Answer>();
  let conn = await RawConnection.connect(port);
  try {
    for (const e of plan) {
      for (const version of versionsOf(e, common)) {
        const id = `${e.id}.v${version}`;
        let body: unknown;
        try {
          let raw = await conn.request(e.api, version, e.request(s, version), { timeoutMs: e.timeoutMs ?? requestTimeoutMs });
          for (const deadline = Date.now() + settleTimeoutMs; e.settled && !e.settled(raw) && Date.now() < deadline; ) {
            await new Promise((res) => setTimeout(res, 100));
            raw = await conn.request(e.api, version, e.request(s, version), { timeoutMs: e.timeoutMs ?? requestTimeoutMs });
          }
          e.after?.(raw, s, version);
          ph.aliases.set('topic', new Map([...[...s.topicIds].map(([name, id]) => [id, name] as const), [unknownTopicId, 'unknown']]));
          body = normalize(raw, ph, { keepMessages: e.keepMessages });
        } catch (err) {
          body = { failed: (err as Error).message.replace(/\d+/g, 'N') };
          if (!conn.isOpen) conn = await RawConnection.connect(port);
        }
        answers.set(id, { id, api: e.api, version, body });
      }
    }
  } finally {
    conn.close();
  }
  return answers;
}

function versionsOf(e: Exchange, common: Map<number, { min: number; max: number }>): number[] {
  const range = common.get(e.api);
  if (range === undefined) return [];
  if (typeof e.versions === 'number') return e.versions >= range.min && e.versions <= range.max ? [e.versions] : [];
  const from = Math.max(range.min, e.versions.from ?? range.min);
  const to = Math.min(range.max, e.versions.to ?? range.max);
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

async function apiVersions(port: number): Promise<Map<number, { min: number; max: number }>> {
  const conn = await RawConnection.connect(port);
  try {
    const r = await conn.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'skafos-side-by-side', clientSoftwareVersion: '1' });
    return new Map(
      (r.apiKeys as { apiKey: number; minVersion: number; maxVersion: number }[]).map((k) => [
        k.apiKey,
        { min: k.minVersion, max: k.maxVersion },
      ]),
    );
  } finally {
    conn.close();
  }
}

/**
 * Waits until the broker's group and transaction coordinators answer (Kafka creates and loads its internal
 * topics on first use): the exchanges compare answers, not start-up races.
 */
async function coordinatorsReady(port: number): Promise<void> {
  const conn = await RawConnection.connect(port);
  const deadline = Date.now() + 120_000;
  try {
    for (const keyType of [0, 1]) {
      for (;;) {
        const r = await conn.request(ApiKey.FindCoordinator, 4, { keyType, coordinatorKeys: ['sbs-warm-up'] });
        if (r.coordinators[0].errorCode === 0) break;
        if (Date.now() > deadline) throw new Error(`coordinator type ${keyType} of 127.0.0.1:${port} not available`);
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    for (;;) {
      const r = await conn.request(ApiKey.InitProducerId, 4, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      if (r.errorCode === 0) break;
      if (Date.now() > deadline) throw new Error(`InitProducerId on 127.0.0.1:${port} keeps failing (${r.errorCode})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  } finally {
    conn.close();
  }
}

const [kafka, skafos] = await Promise.all([startApacheKafka(t), startBroker(t)]);
await Promise.all([coordinatorsReady(kafka.port), coordinatorsReady(skafos.port)]);
const [kafkaVersions, skafosVersions] = await Promise.all([apiVersions(kafka.port), apiVersions(skafos.port)]);
const common = new Map<number, { min: number; max: number }>();
for (const [api, k] of skafosVersions) {
  const other = kafkaVersions.get(api);
  if (other === undefined) continue;
  const min = Math.max(k.min, other.min);
  const max = Math.min(k.max, other.max);
  if (min <= max) common.set(api, { min, max });
}

const plan = exchanges();
const [fromKafka, fromSkafos] = await Promise.all([runAll(kafka.port, plan, common), runAll(skafos.port, plan, common)]);

const found: { exchange: string; d: Difference }[] = [];
for (const [id, k] of fromKafka) {
  const s = fromSkafos.get(id);
  for (const d of diff(k.body, s?.body)) found.push({ exchange: id, d });
}
// ApiVersions itself: every API Skafos serves, with the versions both serve (Kafka serves more APIs: KRaft,
// share groups, streams groups; Skafos serves none of them).
for (const [api, k] of skafosVersions) {
  const other = kafkaVersions.get(api);
  const name = `api-versions.${apiNames.get(api) ?? api}`;
  if (other === undefined) found.push({ exchange: name, d: { path: 'served', kafka: false, skafos: true } });
  else {
    if (other.min !== k.min) found.push({ exchange: name, d: { path: 'minVersion', kafka: other.min, skafos: k.min } });
    if (other.max !== k.max) found.push({ exchange: name, d: { path: 'maxVersion', kafka: other.max, skafos: k.max } });
  }
}
const unserved = [...kafkaVersions.keys()].filter((api) => !skafosVersions.has(api)).map((api) => apiNames.get(api) ?? String(api));

const apis = new Set([...fromKafka.values()].map((a) => a.api));
t.ok(fromKafka.size >= 300, `at least 300 exchanges compared (${fromKafka.size})`);
t.ok(apis.size >= 40, `across at least 40 APIs (${apis.size})`);

const known = knownDifferences();
const used = new Set<number>();
const unexplained: string[] = [];
for (const { exchange, d } of found) {
  const row = known.find((r) => r.exchangeRe.test(exchange) && r.fieldRe.test(d.path));
  if (row) used.add(row.line);
  else unexplained.push(`${exchange}  ${d.path}  kafka=${JSON.stringify(d.kafka)}  skafos=${JSON.stringify(d.skafos)}`);
}
if (process.env.SKAFOS_SIDE_BY_SIDE_REPORT) {
  console.error(`${fromKafka.size} exchanges over ${apis.size} APIs; Kafka serves besides: ${unserved.join(', ')}`);
  for (const { exchange, d } of found)
    console.error(`${exchange}  ${d.path}  kafka=${JSON.stringify(d.kafka)}  skafos=${JSON.stringify(d.skafos)}`);
}
t.same(unexplained, [], 'every difference from Apache Kafka is listed in spec/differences.md');
t.same(
  known.filter((r) => !used.has(r.line)).map((r) => `spec/differences.md:${r.line} ${r.exchange} ${r.field}`),
  [],
  'every row of spec/differences.md still matches a difference',
);
