// Real clients authenticating over SASL_PLAINTEXT: kcat and confluent-kafka-python (librdkafka), kafka-python,
// kafkajs, @platformatic/kafka and the Java client, with SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN. The SCRAM users
// are created with the Java admin client's alterUserScramCredentials (what kafka-configs --add-config
// 'SCRAM-SHA-512=[password=...]' calls). A wrong password is refused with Kafka's error; no password appears in
// any log line of the broker (run at debug level).
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { Producer as PlatformaticProducer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';
import { freePorts } from '../support/ports.ts';
import { describeRun, jsonLines, kcat, pythonClient } from '../support/run.ts';
import { JavaDriver } from '../support/java-client.ts';
import { KafkaTools } from '../support/kafka-tools.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RawConnection } from '../support/raw-client.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';

const alicePassword = 'alice-Pa55-w0rd';
const carolPassword = 'carol-c0nfigs-pw';
const bobPassword = 'bob-jaas-s3cret';

t.test('real clients over SASL_PLAINTEXT', async (t) => {
  const [saslPort] = await freePorts(1);
  const broker = await startBroker(t, {
    sets: {
      listeners: `PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="${bobPassword}";`,
      'skafos.log.level': 'debug',
    },
  });
  const sasl = `127.0.0.1:${saslPort}`;

  // Users, through the Java admin client on the PLAINTEXT listener.
  const java = await JavaDriver.start(t);
  await java.call('admin.create', { name: 'plain', config: { 'bootstrap.servers': broker.bootstrap } });
  // One mechanism a request: Kafka 4.4 refuses a user altered twice in one request.
  for (const [mechanism, iterations] of [
    ['SCRAM-SHA-512', 8192],
    ['SCRAM-SHA-256', 4096],
  ] as const) {
    const altered = await java.call<Record<string, unknown>>('admin.alterUserScramCredentials', {
      name: 'plain',
      upsertions: [{ user: 'alice', mechanism, iterations, password: alicePassword }],
    });
    t.same(altered, { alice: {} }, `${mechanism} credentials created`);
  }
  t.same(
    await java.call('admin.describeUserScramCredentials', { name: 'plain' }),
    { alice: ['SCRAM-SHA-256:4096', 'SCRAM-SHA-512:8192'] },
    'described as Kafka does',
  );

  // Topics up front (one per client run), on the PLAINTEXT listener.
  const runs = [
    'kcat-512',
    'kcat-256',
    'kcat-plain-jaas',
    'confluent-512',
    'confluent-plain',
    'kafka-python-256',
    'kafka-python-plain',
    'kafkajs-512',
    'kafkajs-256',
    'kafkajs-plain',
    'platformatic-512',
    'platformatic-plain',
    'java-512',
  ];
  const admin = await RawConnection.connect(broker.port);
  const created = await admin.request(ApiKey.CreateTopics, 7, {
    topics: runs.map((name) => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] })),
    timeoutMs: 10_000,
    validateOnly: false,
  });
  t.same(
    created.topics.map((x: { errorCode: number }) => x.errorCode),
    runs.map(() => 0),
  );
  admin.close();

  const kcatSasl = (mechanism: string, user: string, password: string) => [
    '-b',
    sasl,
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    `sasl.mechanism=${mechanism}`,
    '-X',
    `sasl.username=${user}`,
    '-X',
    `sasl.password=${password}`,
  ];
  /** Reads a topic back over SASL (SCRAM-SHA-512) with kcat. */
  const readBack = async (topic: string): Promise<string[]> => {
    const r = await kcat([...kcatSasl('SCRAM-SHA-512', 'alice', alicePassword), '-C', '-t', topic, '-e', '-o', 'beginning', '-q'], {
      timeoutMs: 60_000,
    });
    return r.stdout.split('\n').filter((l) => l !== '');
  };

  await t.test('kcat (librdkafka)', async (t) => {
    for (const [topic, mechanism, user, password] of [
      ['kcat-512', 'SCRAM-SHA-512', 'alice', alicePassword],
      ['kcat-256', 'SCRAM-SHA-256', 'alice', alicePassword],
      ['kcat-plain-jaas', 'PLAIN', 'bob', bobPassword],
    ] as const) {
      const r = await kcat([...kcatSasl(mechanism, user, password), '-P', '-t', topic, '-p', '0'], {
        input: Buffer.from('a\nb\n'),
        timeoutMs: 60_000,
      });
      t.equal(r.code, 0, `${mechanism}: ${describeRun(r)}`);
      t.same(await readBack(topic), ['a', 'b'], mechanism);
    }
    const wrong = await kcat([...kcatSasl('SCRAM-SHA-512', 'alice', 'not-the-password'), '-L'], { timeoutMs: 60_000 });
    t.not(wrong.code, 0, 'a wrong password fails');
    t.match(wrong.stderr, /Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512/);
    const unknown = await kcat([...kcatSasl('PLAIN', 'mallory', 'x'), '-L'], { timeoutMs: 60_000 });
    t.match(unknown.stderr, /Invalid username or password/, 'an unknown user fails');
  });

  await t.test('confluent-kafka-python and kafka-python', async (t) => {
    for (const [client, topic, mechanism] of [
      ['confluent', 'confluent-512', 'SCRAM-SHA-512'],
      ['confluent', 'confluent-plain', 'PLAIN'],
      ['kafka-python', 'kafka-python-256', 'SCRAM-SHA-256'],
      ['kafka-python', 'kafka-python-plain', 'PLAIN'],
    ] as const) {
      const r = await pythonClient(
        'sasl_client.py',
        {
          client,
          bootstrap: sasl,
          topic,
          count: 3,
          security_protocol: 'SASL_PLAINTEXT',
          mechanism,
          username: 'alice',
          password: alicePassword,
        },
        { timeoutMs: 90_000 },
      );
      const out = jsonLines(r.stdout)[0];
      t.same(out, { consumed: ['v0', 'v1', 'v2'] }, `${client} ${mechanism}: ${describeRun(r)}`);
    }
    const wrong = await pythonClient(
      'sasl_client.py',
      {
        client: 'kafka-python',
        bootstrap: sasl,
        topic: 'x',
        count: 1,
        security_protocol: 'SASL_PLAINTEXT',
        mechanism: 'SCRAM-SHA-256',
        username: 'alice',
        password: 'bad',
      },
      { timeoutMs: 90_000 },
    );
    // kafka-python reports a failed authentication at bootstrap as NoBrokersAvailable.
    t.match(
      jsonLines(wrong.stdout)[0]?.error,
      /Authentication|invalid credentials|NoBrokersAvailable/i,
      'kafka-python reports the failure',
    );
  });

  await t.test('kafkajs', async (t) => {
    for (const [topic, mechanism] of [
      ['kafkajs-512', 'scram-sha-512'],
      ['kafkajs-256', 'scram-sha-256'],
      ['kafkajs-plain', 'plain'],
    ] as const) {
      const kafka = new Kafka({
        clientId: 'sasl-it',
        brokers: [sasl],
        sasl: { mechanism, username: 'alice', password: alicePassword } as never,
        logLevel: logLevel.NOTHING,
        retry: { retries: 2 },
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          { value: 'a', partition: 0 },
          { value: 'b', partition: 0 },
        ],
      });
      await producer.disconnect();
      t.same(await readBack(topic), ['a', 'b'], mechanism);
    }
    const bad = new Kafka({
      clientId: 'sasl-it',
      brokers: [sasl],
      sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'bad' },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    });
    const admin = bad.admin();
    await t.rejects(admin.connect(), /SASL SCRAM SHA512 authentication failed|Authentication failed/, 'kafkajs reports the failure');
  });

  await t.test('@platformatic/kafka', async (t) => {
    for (const [topic, mechanism] of [
      ['platformatic-512', 'SCRAM-SHA-512'],
      ['platformatic-plain', 'PLAIN'],
    ] as const) {
      const producer = new PlatformaticProducer({
        clientId: 'sasl-it',
        bootstrapBrokers: [sasl],
        sasl: { mechanism, username: 'alice', password: alicePassword },
        autocreateTopics: false,
        retries: 2,
      });
      try {
        await producer.send({
          messages: [
            { topic, partition: 0, value: Buffer.from('a') },
            { topic, partition: 0, value: Buffer.from('b') },
          ],
        });
      } finally {
        await producer.close();
      }
      t.same(await readBack(topic), ['a', 'b'], mechanism);
    }
  });

  await t.test('Java client', async (t) => {
    const config = {
      'bootstrap.servers': sasl,
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${alicePassword}";`,
    };
    await java.call('producer.create', { name: 'p', config });
    await java.call('producer.send', { name: 'p', topic: 'java-512', generate: { count: 2, partition: 0 } });
    await java.call('producer.close', { name: 'p' });
    t.same(await readBack('java-512'), ['v0', 'v1']);
    await java.call('admin.create', { name: 'sasl', config });
    const cluster = await java.call<{ nodes: { port: number }[] }>('admin.describeCluster', { name: 'sasl' });
    t.equal(cluster.nodes[0]!.port, saslPort, 'the SASL listener describes its own endpoint');
    await java.call('admin.create', {
      name: 'bad',
      config: {
        ...config,
        'sasl.jaas.config': config['sasl.jaas.config'].replace(alicePassword, 'bad'),
        'default.api.timeout.ms': 5000,
        'request.timeout.ms': 4000,
      },
    });
    const refused = await java.attempt('admin.describeCluster', { name: 'bad', timeoutMs: 10_000 });
    t.equal(refused.ok, false);
    t.match(!refused.ok && `${refused.error} ${refused.message}`, /SaslAuthenticationException|Authentication failed/);
  });

  await t.test('kafka-configs adds and deletes SCRAM users; tools authenticate with --command-config', async (t) => {
    const tools = await KafkaTools.start(t);
    const user = ['--entity-type', 'users', '--entity-name', 'carol'];
    await tools.ok('kafka-configs', [
      '--bootstrap-server',
      broker.bootstrap,
      '--alter',
      ...user,
      '--add-config',
      `SCRAM-SHA-512=[iterations=8192,password=${carolPassword}]`,
    ]);
    const commandConfig = join(broker.dir, 'admin-sasl.properties');
    writeFileSync(
      commandConfig,
      [
        'security.protocol=SASL_PLAINTEXT',
        'sasl.mechanism=SCRAM-SHA-512',
        `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="carol" password="${carolPassword}";`,
        '',
      ].join('\n'),
    );
    // (kafka-configs --describe of a user also asks DescribeClientQuotas, which comes with client quotas.)
    const listed = await tools.ok('kafka-topics', ['--bootstrap-server', sasl, '--command-config', commandConfig, '--list']);
    t.match(listed, /^kcat-512$/m, 'carol, created by kafka-configs, authenticates over SASL');
    await tools.ok('kafka-configs', ['--bootstrap-server', broker.bootstrap, '--alter', ...user, '--delete-config', 'SCRAM-SHA-512']);
    const after = await tools.run('kafka-topics', ['--bootstrap-server', sasl, '--command-config', commandConfig, '--list'], {
      timeoutMs: 30_000,
    });
    t.not(after.exitCode, 0, 'carol can no longer authenticate');
    t.match(`${after.stdout}${after.stderr}`, /Authentication failed|SaslAuthenticationException/);
  });

  const leaked = broker.logLines.filter((l) => [alicePassword, bobPassword, carolPassword].some((p) => l.includes(p)));
  t.same(leaked, [], 'no password in any log line');
  t.ok(
    broker.logLines.some((l) => l.includes('SASL authentication failed')),
    'failures are logged (without secrets)',
  );
});
