// Named listeners: a broker with several listeners serves Kafka on each, and Metadata, DescribeCluster and
// FindCoordinator describe brokers to a client by their endpoints on the listener the client connected on.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { startTestBroker, TestClient } from '../handlers/support/client.ts';
import { freePorts } from '../../support/ports.ts';

t.test('each listener answers with its own endpoints', async (t) => {
  const [internal] = await freePorts(1);
  const { broker } = await startTestBroker(t, {
    listeners: `CLIENT://127.0.0.1:0,INTERNAL://127.0.0.1:${internal}`,
    'advertised.listeners': `CLIENT://client.example.com:19092,INTERNAL://127.0.0.1:${internal}`,
    'listener.security.protocol.map': 'CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT',
    'inter.broker.listener.name': 'INTERNAL',
  });
  const clientPort = broker.ports.get('CLIENT')!;
  const internalPort = broker.ports.get('INTERNAL')!;
  t.not(clientPort, internalPort);
  t.ok(clientPort > 0 && internalPort > 0);

  const onClient = await TestClient.connect(clientPort);
  const onInternal = await TestClient.connect(internalPort);
  t.teardown(() => {
    onClient.close();
    onInternal.close();
  });
  const metadata = (c: TestClient) => c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
  const mc = await metadata(onClient);
  t.same(
    mc.brokers.map((b: any) => [b.host, b.port]),
    [['client.example.com', 19092]],
    'CLIENT clients get the advertised CLIENT endpoint',
  );
  const mi = await metadata(onInternal);
  t.same(
    mi.brokers.map((b: any) => [b.host, b.port]),
    [['127.0.0.1', internalPort]],
    'INTERNAL clients get the INTERNAL endpoint, its bound port',
  );

  const dc = await onClient.request(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false });
  t.same(
    dc.brokers.map((b: any) => [b.host, b.port]),
    [['client.example.com', 19092]],
  );
  const fc = await onInternal.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g'] });
  t.same([fc.coordinators[0].host, fc.coordinators[0].port], ['127.0.0.1', internalPort]);
  const fcClient = await onClient.request(ApiKey.FindCoordinator, 3, { keyType: 0, key: 'g' });
  t.same([fcClient.host, fcClient.port], ['client.example.com', 19092]);
});

t.test('a listener that is not advertised is left out of what its clients see', async (t) => {
  const [port] = await freePorts(1);
  const { broker } = await startTestBroker(t, {
    listeners: `PLAINTEXT://127.0.0.1:${port},HIDDEN://127.0.0.1:0`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,HIDDEN:PLAINTEXT',
  });
  const c = await TestClient.connect(broker.ports.get('HIDDEN')!);
  t.teardown(() => c.close());
  const m = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
  t.same(m.brokers, [], 'no broker has a HIDDEN endpoint (Kafka describes brokers by the listener the client used)');
  const fc = await c.request(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g'] });
  t.equal(fc.coordinators[0].errorCode, 15, 'COORDINATOR_NOT_AVAILABLE');
});
