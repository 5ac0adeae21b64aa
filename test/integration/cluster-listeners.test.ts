// Named listeners in cluster mode: two brokers over etcd, each with a PLAINTEXT (inter-broker) and a CLIENT
// listener on ephemeral ports. The membership records carry every advertised listener, so Metadata,
// DescribeCluster and FindCoordinator on either broker describe both brokers by their endpoints on the listener
// the client connected on.
import t from 'tap';
import { EtcdMember, etcdMemberSkip } from '../support/etcd.ts';
import { RawConnection } from '../support/raw-client.ts';
import { startCluster, waitUntil } from '../support/cluster.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';

t.setTimeout(240_000);

/** The bound port of `listener` on a broker, from its "listening for Kafka clients" log line (once written). */
function listenerPort(b: BrokerProcess, listener: string): Promise<number> {
  return waitUntil(`the ${listener} listener`, () => {
    for (const line of b.logLines) {
      if (!line.includes('"listening for Kafka clients"')) continue;
      const l = JSON.parse(line) as { listener?: string; port: number };
      if (l.listener === listener) return l.port;
    }
    return undefined;
  });
}

async function brokersSeen(port: number): Promise<string> {
  const c = await RawConnection.connect(port);
  try {
    const m = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
    return m.brokers
      .map((b: { nodeId: number; port: number }) => `${b.nodeId}:${b.port}`)
      .sort()
      .join(',');
  } finally {
    c.close();
  }
}

const skip = etcdMemberSkip();
t.test('every broker describes the others on the listener of the client', { skip }, async (t) => {
  const etcd = await EtcdMember.create();
  t.teardown(() => etcd.destroy());
  const cluster = await startCluster(t, {
    size: 2,
    etcdEndpoint: etcd.endpoint,
    label: 'listeners',
    sets: {
      listeners: 'PLAINTEXT://127.0.0.1:0,CLIENT://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CLIENT:PLAINTEXT',
      'inter.broker.listener.name': 'PLAINTEXT',
    },
  });
  const [b1, b2] = cluster.brokers as [BrokerProcess, BrokerProcess];
  const ports = new Map<BrokerProcess, { client: number; plaintext: number }>();
  for (const b of [b1, b2]) ports.set(b, { client: await listenerPort(b, 'CLIENT'), plaintext: await listenerPort(b, 'PLAINTEXT') });
  const client = (b: BrokerProcess) => ports.get(b)!.client;
  const plaintext = (b: BrokerProcess) => ports.get(b)!.plaintext;
  const onClient = [`1:${client(b1)}`, `2:${client(b2)}`].sort().join(',');
  const onPlaintext = [`1:${plaintext(b1)}`, `2:${plaintext(b2)}`].sort().join(',');
  for (const b of [b1, b2]) {
    const seen = await waitUntil('both brokers on CLIENT', async () =>
      (await brokersSeen(client(b))) === onClient ? onClient : undefined,
    );
    t.equal(seen, onClient, 'CLIENT clients get the CLIENT endpoints of both brokers');
    t.equal(await brokersSeen(plaintext(b)), onPlaintext, 'PLAINTEXT clients get the PLAINTEXT endpoints');
  }
  const c = await RawConnection.connect(client(b2));
  t.teardown(() => c.close());
  const fc = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2', 'g3', 'g4'] });
  const coordinatorPorts = new Set(fc.coordinators.map((x: { port: number }) => x.port));
  t.ok(
    [...coordinatorPorts].every((p) => p === client(b1) || p === client(b2)),
    'FindCoordinator answers with CLIENT endpoints',
  );
});
