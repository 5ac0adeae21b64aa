// Dynamic configs on a three-broker cluster (one etcd, one radosgw bucket): a cluster-wide dynamic broker
// default and a GROUP config set through one broker are applied by the others, through the metadata store's
// watch, within seconds.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../broker/protocol/errors.ts';

t.setTimeout(300_000);

const BROKER = 4;
const GROUP = 32;
const SET = 0;
const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
const GROUP_CONFIG = 8;

async function describeOne(port: number, resourceType: number, resourceName: string, key: string): Promise<any> {
  const c = await RawConnection.connect(port);
  try {
    const r = await c.request(ApiKey.DescribeConfigs, 4, {
      resources: [{ resourceType, resourceName, configurationKeys: [key] }],
      includeSynonyms: true,
      includeDocumentation: false,
    });
    return r.results[0].configs[0];
  } finally {
    c.close();
  }
}

const skip = etcdMemberSkip();
t.test('a change made through one broker applies on the others', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, { size: 3, etcdEndpoint: etcd.endpoint, label: 'dynamic-configs' });
  const [b1, b2, b3] = cluster.brokers;
  const c = await RawConnection.connect(b1!.port);
  const r = await c.request(ApiKey.IncrementalAlterConfigs, 1, {
    resources: [
      { resourceType: BROKER, resourceName: '', configs: [{ name: 'log.retention.ms', configOperation: SET, value: '7777' }] },
      {
        resourceType: GROUP,
        resourceName: 'shared',
        configs: [{ name: 'consumer.heartbeat.interval.ms', configOperation: SET, value: '6000' }],
      },
    ],
    validateOnly: false,
  });
  c.close();
  t.same(
    r.responses.map((x: any) => x.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE],
  );
  const retention = await waitUntil(
    'broker 2 to apply the cluster-wide default',
    async () => {
      const e = await describeOne(b2!.port, BROKER, '2', 'log.retention.ms');
      return e?.value === '7777' ? e : undefined;
    },
    10_000,
  );
  t.equal(retention.configSource, DYNAMIC_DEFAULT_BROKER_CONFIG);
  const group = await waitUntil(
    'broker 3 to see the group config',
    async () => {
      const e = await describeOne(b3!.port, GROUP, 'shared', 'consumer.heartbeat.interval.ms');
      return e?.value === '6000' ? e : undefined;
    },
    10_000,
  );
  t.equal(group.configSource, GROUP_CONFIG);
});
