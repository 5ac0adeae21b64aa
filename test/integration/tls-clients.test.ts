// Real clients over TLS: SASL_SSL with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, and SSL with a client certificate
// whose CN becomes the principal (mTLS), with kcat, confluent-kafka-python, kafka-python, kafkajs,
// @platformatic/kafka and the Java client. Certificates are made with openssl in the test. A plaintext client on the
// TLS port and a TLS client without a certificate are refused while the others are served.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { Producer as PlatformaticProducer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';
import { freePorts } from '../support/ports.ts';
import { describeRun, jsonLines, kcat, pythonClient } from '../support/run.ts';
import { JavaDriver } from '../support/java-client.ts';
import { RawConnection } from '../support/raw-client.ts';
import { makeCerts } from '../support/certs.ts';
import { addScramUser } from '../support/sasl.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';

const password = 'tls-alice-pw';

t.test('real clients over SASL_SSL and SSL', async (t) => {
  const certs = makeCerts(t);
  const alice = certs.client('alice', '/O=Example/OU=clients/CN=alice');
  const [sslPort, saslSslPort] = await freePorts(2);
  const broker = await startBroker(t, {
    sets: {
      listeners: `PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:${sslPort},SASL_SSL://127.0.0.1:${saslSslPort}`,
      'ssl.keystore.location': certs.keystore,
      'ssl.truststore.location': certs.ca,
      'listener.name.ssl.ssl.client.auth': 'required',
      'ssl.principal.mapping.rules': 'RULE:^CN=([^,]*),.*$/$1/',
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'skafos.log.level': 'debug',
    },
  });
  const ssl = `127.0.0.1:${sslPort}`;
  const saslSsl = `127.0.0.1:${saslSslPort}`;
  const runs = [
    'kcat-ssl',
    'kcat-sasl-ssl',
    'confluent-sasl-ssl',
    'confluent-ssl',
    'kafka-python-ssl',
    'kafka-python-sasl-ssl',
    'kafkajs',
    'platformatic',
    'java-ssl',
    'java-sasl-ssl',
  ];
  const admin = await RawConnection.connect(broker.port);
  await addScramUser(admin, 'alice', password);
  await admin.request(ApiKey.CreateTopics, 7, {
    topics: runs.map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
    timeoutMs: 10_000,
    validateOnly: false,
  });
  admin.close();

  const kcatSsl = [
    '-b',
    ssl,
    '-X',
    'security.protocol=SSL',
    '-X',
    `ssl.ca.location=${certs.ca}`,
    '-X',
    `ssl.certificate.location=${alice.cert}`,
    '-X',
    `ssl.key.location=${alice.key}`,
  ];
  const kcatSaslSsl = (mechanism: string) => [
    '-b',
    saslSsl,
    '-X',
    'security.protocol=SASL_SSL',
    '-X',
    `ssl.ca.location=${certs.ca}`,
    '-X',
    `sasl.mechanism=${mechanism}`,
    '-X',
    'sasl.username=alice',
    '-X',
    `sasl.password=${password}`,
  ];
  const readBack = async (topic: string) => {
    const r = await kcat([...kcatSsl, '-C', '-t', topic, '-e', '-o', 'beginning', '-q'], { timeoutMs: 60_000 });
    return r.stdout.split('\n').filter((l) => l !== '');
  };

  await t.test('kcat', async (t) => {
    const a = await kcat([...kcatSsl, '-P', '-t', 'kcat-ssl', '-p', '0'], { input: Buffer.from('a\nb\n'), timeoutMs: 60_000 });
    t.equal(a.code, 0, describeRun(a));
    t.same(await readBack('kcat-ssl'), ['a', 'b'], 'SSL with a client certificate');
    const b = await kcat([...kcatSaslSsl('SCRAM-SHA-512'), '-P', '-t', 'kcat-sasl-ssl', '-p', '0'], {
      input: Buffer.from('c\n'),
      timeoutMs: 60_000,
    });
    t.equal(b.code, 0, describeRun(b));
    t.same(await readBack('kcat-sasl-ssl'), ['c'], 'SASL_SSL SCRAM-SHA-512');
    const noCert = await kcat(['-b', ssl, '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${certs.ca}`, '-L', '-m', '5'], {
      timeoutMs: 60_000,
    });
    t.not(noCert.code, 0, 'SSL without a client certificate is refused');
    const plaintext = await kcat(['-b', ssl, '-L', '-m', '5'], { timeoutMs: 60_000 });
    t.not(plaintext.code, 0, 'a plaintext client on the TLS port is refused');
  });

  await t.test('confluent-kafka-python and kafka-python', async (t) => {
    const base = { bootstrap: saslSsl, count: 2, username: 'alice', password, ca: certs.ca };
    for (const req of [
      { ...base, client: 'confluent', topic: 'confluent-sasl-ssl', security_protocol: 'SASL_SSL', mechanism: 'PLAIN' },
      {
        ...base,
        client: 'confluent',
        topic: 'confluent-ssl',
        security_protocol: 'SSL',
        bootstrap: ssl,
        mechanism: null,
        cert: alice.cert,
        key: alice.key,
      },
      { ...base, client: 'kafka-python', topic: 'kafka-python-sasl-ssl', security_protocol: 'SASL_SSL', mechanism: 'SCRAM-SHA-256' },
      {
        ...base,
        client: 'kafka-python',
        topic: 'kafka-python-ssl',
        security_protocol: 'SSL',
        bootstrap: ssl,
        mechanism: null,
        cert: alice.cert,
        key: alice.key,
      },
    ]) {
      const r = await pythonClient('sasl_client.py', req, { timeoutMs: 90_000 });
      t.same(
        jsonLines(r.stdout)[0],
        { consumed: ['v0', 'v1'] },
        `${req.client} ${req.security_protocol} ${req.mechanism ?? 'mTLS'}: ${describeRun(r)}`,
      );
    }
  });

  await t.test('kafkajs and @platformatic/kafka over SASL_SSL', async (t) => {
    const ca = [readFileSync(certs.ca, 'utf8')];
    const kafka = new Kafka({
      clientId: 'tls-it',
      brokers: [saslSsl],
      ssl: { ca },
      sasl: { mechanism: 'scram-sha-512', username: 'alice', password },
      logLevel: logLevel.NOTHING,
      retry: { retries: 2 },
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kafkajs', messages: [{ value: 'k', partition: 0 }] });
    await producer.disconnect();
    t.same(await readBack('kafkajs'), ['k'], 'kafkajs');
    const p = new PlatformaticProducer({
      clientId: 'tls-it',
      bootstrapBrokers: [saslSsl],
      tls: { ca },
      sasl: { mechanism: 'SCRAM-SHA-256', username: 'alice', password },
      autocreateTopics: false,
      retries: 2,
    });
    try {
      await p.send({ messages: [{ topic: 'platformatic', partition: 0, value: Buffer.from('p') }] });
    } finally {
      await p.close();
    }
    t.same(await readBack('platformatic'), ['p'], '@platformatic/kafka');
  });

  await t.test('Java client', async (t) => {
    const java = await JavaDriver.start(t);
    const tls = { 'ssl.truststore.type': 'PEM', 'ssl.truststore.location': certs.ca, 'ssl.endpoint.identification.algorithm': '' };
    const keystore = `${certs.dir}/alice-keystore.pem`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(keystore, readFileSync(alice.key, 'utf8') + readFileSync(alice.cert, 'utf8'));
    for (const [name, topic, config] of [
      [
        'ssl',
        'java-ssl',
        { ...tls, 'bootstrap.servers': ssl, 'security.protocol': 'SSL', 'ssl.keystore.type': 'PEM', 'ssl.keystore.location': keystore },
      ],
      [
        'sasl',
        'java-sasl-ssl',
        {
          ...tls,
          'bootstrap.servers': saslSsl,
          'security.protocol': 'SASL_SSL',
          'sasl.mechanism': 'SCRAM-SHA-512',
          'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${password}";`,
        },
      ],
    ] as const) {
      await java.call('producer.create', { name, config });
      await java.call('producer.send', { name, topic, generate: { count: 1, partition: 0 } });
      await java.call('producer.close', { name });
      t.same(await readBack(topic), ['v0'], `Java ${name}`);
    }
  });

  t.ok(
    broker.logLines.some((l) => l.includes('"TLS client authenticated"') && l.includes('"principal":"User:alice"')),
    'the client certificate CN is the principal',
  );
  t.same(
    broker.logLines.filter((l) => l.includes(password)),
    [],
    'no password in any log line',
  );
});
