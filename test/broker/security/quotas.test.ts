// ClientQuotas: Kafka's eight precedence levels, which sensor a quota is measured on (shared by a user's clients
// or per client), the sampled rate and the throttle time it gives.
import t from 'tap';
import { ConfigDocuments } from '../../../broker/metadata/config-docs.ts';
import { MemoryMetadataStore } from '../../../broker/metadata/memory.ts';
import { clientQuotaKey, clientQuotaPrefix, parseClientQuotaKey } from '../../../broker/metadata/layout.ts';
import { ClientQuotas, entityName } from '../../../broker/security/quotas.ts';
import type { QuotaEntity } from '../../../broker/security/quotas.ts';

async function quotas(set: [QuotaEntity, number][]): Promise<ClientQuotas> {
  const docs = new ConfigDocuments({
    store: new MemoryMetadataStore(),
    prefix: clientQuotaPrefix,
    keyOf: clientQuotaKey,
    nameOf: parseClientQuotaKey,
    maxDocuments: 100,
  });
  await docs.start();
  for (const [e, rate] of set) await docs.update(entityName(e), (c) => ({ ...c, producer_byte_rate: String(rate) }));
  const q = new ClientQuotas(docs, () => ({ windowNum: 11, windowSizeMs: 1000 }));
  t.teardown(() => docs.close());
  return q;
}

/** The quota that applies, found by recording 10 s of it (no throttle), then 1000 bytes more (throttled). */
function appliesAt(q: ClientQuotas, user: string, clientId: string): number | null {
  // 11 windows of 1 s, at least 10 s measured: 10 x rate bytes is exactly the quota.
  const now = 1_000_000;
  for (const rate of [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]) {
    const probe = new ClientQuotas(q.documents, () => ({ windowNum: 11, windowSizeMs: 1000 }));
    if (
      probe.record('producer_byte_rate', user, clientId, rate * 10, now) === 0 &&
      probe.record('producer_byte_rate', user, clientId, 1000, now) > 0
    )
      return rate;
  }
  return null;
}

t.test("Kafka's precedence: the first level that defines the quota", async (t) => {
  const levels: [QuotaEntity, number][] = [
    [{ user: 'u', 'client-id': 'c' }, 1000],
    [{ user: 'u', 'client-id': null }, 2000],
    [{ user: 'u' }, 3000],
    [{ user: null, 'client-id': 'c' }, 4000],
    [{ user: null, 'client-id': null }, 5000],
    [{ user: null }, 6000],
    [{ 'client-id': 'c' }, 7000],
    [{ 'client-id': null }, 8000],
  ];
  for (let i = 0; i < levels.length; i++) {
    const q = await quotas(levels.slice(i));
    t.equal(appliesAt(q, 'u', 'c'), levels[i]![1], `level ${i + 1}: ${entityName(levels[i]![0])}`);
  }
  const none = await quotas([[{ user: 'other' }, 1000]]);
  t.equal(none.record('producer_byte_rate', 'u', 'c', 1e9, 0), 0, 'no quota for this client: never throttled');
});

t.test('a user quota is shared by its clients; a default is per client', async (t) => {
  const shared = await quotas([[{ user: 'u' }, 1000]]);
  t.equal(shared.record('producer_byte_rate', 'u', 'a', 10_000, 0), 0);
  t.ok(shared.record('producer_byte_rate', 'u', 'b', 1, 0) > 0, 'client b is over the user quota client a used up');
  const perClient = await quotas([[{ user: 'u', 'client-id': null }, 1000]]);
  t.equal(perClient.record('producer_byte_rate', 'u', 'a', 10_000, 0), 0);
  t.equal(perClient.record('producer_byte_rate', 'u', 'b', 10_000, 0), 0, 'client b has its own');
});

t.test('throttle time: (rate - quota) / quota x window, capped at the whole window', async (t) => {
  const q = await quotas([[{ 'client-id': 'c' }, 1000]]);
  // 20,000 bytes over the 10 s minimum window: 2,000 B/s, twice the quota: 10 s of silence brings it back.
  t.equal(q.record('producer_byte_rate', 'u', 'c', 20_000, 0), 10_000);
  t.equal(q.record('producer_byte_rate', 'u', 'c', 1e9, 0), 11_000, 'capped at 11 windows of 1 s');
});
