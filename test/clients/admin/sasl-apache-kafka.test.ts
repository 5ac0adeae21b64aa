// SASL on the admin client's connections against Apache Kafka 4.4 with a SASL_PLAINTEXT listener: PLAIN, and
// SCRAM-SHA-256/512 for a user whose credentials the client itself creates (AlterUserScramCredentials over a PLAIN
// login); a wrong password is a non-retriable typed error, at once; a client without SASL fails within its bound.
import t from 'tap';
import type { Test } from 'tap';
import { AdminClient, AdminKafkaError } from '../../../clients/admin/index.ts';
import { startApacheKafka } from '../../support/apache-kafka.ts';
import { until } from '../../support/until.ts';

const kafka = await startApacheKafka(t, {
  'listener.security.protocol.map': 'PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
  'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
  'sasl.mechanism.inter.broker.protocol': 'PLAIN',
  'listener.name.plaintext.plain.sasl.jaas.config':
    'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret";',
  'listener.name.plaintext.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  'listener.name.plaintext.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
});

function client(t: Test, sasl: ConstructorParameters<typeof AdminClient>[0]['sasl']) {
  const admin = new AdminClient({ bootstrap: kafka.bootstrap, sasl, limits: { defaultApiTimeoutMs: 20_000 } });
  t.teardown(() => admin.close());
  return admin;
}

t.test('PLAIN, then SCRAM-SHA-256 and SCRAM-SHA-512 with credentials created through the client', async (t) => {
  const admin = client(t, { mechanism: 'PLAIN', username: 'admin', password: 'admin-secret' });
  t.type((await admin.describeCluster()).clusterId, 'string');
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    const user = `u-${mechanism.toLowerCase()}`;
    t.same(await admin.alterUserScramCredentials({ upsert: [{ user, mechanism, password: 'scram-secret' }] }), [{ user, error: null }]);
    const scram = client(t, { mechanism, username: user, password: 'scram-secret' });
    // The credential reaches the broker's SCRAM cache through the metadata log a moment later.
    await until(
      async () =>
        await scram.describeCluster({ timeoutMs: 2000 }).then(
          () => true,
          () => false,
        ),
      `${mechanism} login`,
      20_000,
    );
    t.ok(Array.isArray(await scram.listTopics()), `${mechanism}: requests after the login`);
  }
});

t.test('a wrong password fails at once with a typed error, the password in no message; no SASL fails within the bound', async (t) => {
  const wrong = client(t, { mechanism: 'PLAIN', username: 'admin', password: 'not-the-secret' });
  const started = Date.now();
  const e = await wrong.describeCluster().catch((x) => x);
  t.ok(e instanceof AdminKafkaError, `${e}`);
  t.equal(e.errorName, 'SASL_AUTHENTICATION_FAILED');
  t.notMatch(e.message, /not-the-secret/);
  t.ok(Date.now() - started < 10_000, 'not retried until the deadline');
  const scramWrong = client(t, { mechanism: 'SCRAM-SHA-256', username: 'u-scram-sha-256', password: 'nope-secret' });
  const e2 = await scramWrong.describeCluster().catch((x) => x);
  t.equal(e2.errorName, 'SASL_AUTHENTICATION_FAILED');
  t.notMatch(e2.message, /nope-secret/);
  const plainOnly = new AdminClient({ bootstrap: kafka.bootstrap, limits: { maxAttempts: 2, retryBackoffMs: 10 } });
  t.teardown(() => plainOnly.close());
  const e3 = await plainOnly.describeCluster({ timeoutMs: 5000 }).catch((x) => x);
  t.ok(e3 instanceof Error, `without SASL on a SASL listener the call fails: ${e3}`);
});
