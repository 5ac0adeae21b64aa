// KIP-368 with the Java client: a broker whose SASL sessions last 2 s (connections.max.reauth.ms); a producer
// that keeps its connection re-authenticates on it when the session ends and goes on producing, instead of
// being disconnected.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { freePorts } from '../support/ports.ts';
import { JavaDriver } from '../support/java-client.ts';
import { RawConnection } from '../support/raw-client.ts';
import { addScramUser } from '../support/sasl.ts';

const lifetimeMs = 2000;

t.test('the Java client re-authenticates when its session ends', async (t) => {
  const [saslPort] = await freePorts(1);
  const broker = await startBroker(t, {
    sets: {
      listeners: `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'connections.max.reauth.ms': lifetimeMs,
      'skafos.log.level': 'debug',
    },
  });
  const admin = await RawConnection.connect(broker.port);
  await addScramUser(admin, 'alice', 'alice-pw', ['SCRAM-SHA-512']);
  admin.close();
  const java = await JavaDriver.start(t);
  await java.call('producer.create', {
    name: 'p',
    config: {
      'bootstrap.servers': `127.0.0.1:${saslPort}`,
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-pw";',
    },
  });
  const succeeded = () => broker.logLines.filter((l) => l.includes('"SASL authentication succeeded"')).length;
  const closedExpired = () => broker.logLines.filter((l) => l.includes('its SASL session expired')).length;
  await java.call('producer.send', { name: 'p', topic: 'reauth', generate: { count: 1, partition: 0 } });
  const before = succeeded();
  // Keep producing until the connection has re-authenticated twice (two session lifetimes); every send must
  // succeed on it meanwhile.
  const deadline = Date.now() + 10 * lifetimeMs;
  let sends = 0;
  while (succeeded() < before + 2 && Date.now() < deadline) {
    await java.call('producer.send', { name: 'p', topic: 'reauth', generate: { count: 1, partition: 0 } });
    sends++;
  }
  t.ok(succeeded() >= before + 2, `re-authenticated twice (${sends} sends meanwhile, all acknowledged)`);
  t.equal(closedExpired(), 0, 'no connection was closed for an expired session');
  await java.call('producer.close', { name: 'p' });
});
