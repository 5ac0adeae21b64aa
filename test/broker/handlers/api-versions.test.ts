// ApiVersions: the version ranges advertised are Kafka 4's (KIP-896 removed the oldest versions), and a request of a
// removed version closes the connection.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { startTestBroker, TestClient } from './support/client.ts';

t.test('ApiVersions', async (t) => {
  const { client, port } = await startTestBroker(t);
  const r = await client.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'handler-test', clientSoftwareVersion: '1' });
  const range = (apiKey: number) => {
    const k = r.apiKeys.find((x: any) => x.apiKey === apiKey);
    return k ? [k.minVersion, k.maxVersion] : null;
  };

  t.test("the oldest versions are Kafka 4's", async (t) => {
    t.equal(range(ApiKey.Produce)![0], 0, 'Produce advertised from v0, as Kafka 4 does (KAFKA-18659)');
    t.equal(range(ApiKey.ListOffsets)![0], 1);
    t.equal(range(ApiKey.OffsetCommit)![0], 2);
    t.equal(range(ApiKey.OffsetFetch)![0], 1);
    t.equal(range(ApiKey.OffsetForLeaderEpoch)![0], 2);
    t.equal(range(ApiKey.DescribeConfigs)![0], 1);
    t.equal(range(ApiKey.DescribeLogDirs)![0], 1);
    t.equal(range(ApiKey.WriteTxnMarkers)![0], 1);
  });

  t.test('a request of a removed version closes the connection, Produce v0-v2 included', async (t) => {
    for (const [apiKey, v] of [
      [ApiKey.Produce, 0],
      [ApiKey.Produce, 2],
      [ApiKey.ListOffsets, 0],
      [ApiKey.OffsetCommit, 1],
      [ApiKey.WriteTxnMarkers, 0],
    ] as const) {
      const other = await TestClient.connect(port);
      t.teardown(() => other.close());
      await t.rejects(other.requestRemovedVersion(apiKey, v), /closed/, `api ${apiKey} v${v}`);
    }
  });
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
