// ApiVersions: the versions Kafka 4 removed (KIP-896) stay served for old clients, and v3+ lists the features
// (KIP-584) with transaction.version as configured (spec/transactions.md, transaction version 2).
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { startTestBroker } from './support/client.ts';

t.test('the versions Kafka 4 removed stay served (spec/differences.md)', async (t) => {
  const { client } = await startTestBroker(t);
  const r = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'handler-test', clientSoftwareVersion: '1' });
  const min = (apiKey: number) => r.apiKeys.find((x: any) => x.apiKey === apiKey)?.minVersion;
  for (const k of [
    ApiKey.Produce,
    ApiKey.ListOffsets,
    ApiKey.OffsetCommit,
    ApiKey.OffsetFetch,
    ApiKey.OffsetForLeaderEpoch,
    ApiKey.DescribeConfigs,
  ])
    t.equal(min(k), 0, `api ${k} from v0`);
  const lo = await client.request(ApiKey.ListOffsets, 0, {
    replicaId: -1,
    topics: [{ name: 'none', partitions: [{ partitionIndex: 0, timestamp: -1, maxNumOffsets: 1 }] }],
  });
  t.equal(lo.topics[0].partitions[0].errorCode, 3, 'ListOffsets v0 is decoded and answered (UNKNOWN_TOPIC_OR_PARTITION)');
});

t.test('features (v3+): transaction.version 2 and group.version 1 by default, as Apache Kafka 4.4 finalizes them', async (t) => {
  const { client } = await startTestBroker(t);
  const r = await client.request(ApiKey.ApiVersions, 4, { clientSoftwareName: 'handler-test', clientSoftwareVersion: '1' });
  t.same(
    r.supportedFeatures.map((f: any) => [f.name, f.minVersion, f.maxVersion]),
    [
      ['group.version', 0, 1],
      ['transaction.version', 0, 2],
    ],
  );
  t.same(
    r.finalizedFeatures.map((f: any) => [f.name, f.minVersionLevel, f.maxVersionLevel]),
    [
      ['group.version', 1, 1],
      ['transaction.version', 2, 2],
    ],
  );
  t.ok(r.finalizedFeaturesEpoch >= 0, 'an epoch clients accept (they ignore features of epoch -1)');
  const v2 = await client.request(ApiKey.ApiVersions, 2, {});
  t.equal(v2.apiKeys.length, r.apiKeys.length, 'v2 has no features, the same APIs');
  const range = (apiKey: number) => r.apiKeys.find((x: any) => x.apiKey === apiKey);
  t.match(range(ApiKey.EndTxn), { minVersion: 0, maxVersion: 5 }, 'EndTxn v5 (KIP-890 part 2)');
  t.match(range(ApiKey.TxnOffsetCommit), { maxVersion: 5 });
  t.match(range(ApiKey.Produce), { maxVersion: 12 });
});

t.test('skafos.transaction.version=1 finalizes transaction.version 1; the request versions stay advertised, as in Kafka', async (t) => {
  const { client } = await startTestBroker(t, { 'skafos.transaction.version': '1' });
  const r = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'handler-test', clientSoftwareVersion: '1' });
  t.same(
    r.finalizedFeatures.map((f: any) => [f.name, f.maxVersionLevel]),
    [
      ['group.version', 1],
      ['transaction.version', 1],
    ],
  );
  t.match(
    r.apiKeys.find((x: any) => x.apiKey === ApiKey.EndTxn),
    { maxVersion: 5 },
  );
});
