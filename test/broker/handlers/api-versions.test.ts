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
