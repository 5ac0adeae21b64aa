// SASL at the connection, over real sockets to an in-process broker with a PLAINTEXT and a SASL_PLAINTEXT
// listener: PLAIN and SCRAM through SaslHandshake v1 + SaslAuthenticate and through v0 raw tokens, Kafka's errors
// for every failure (the connection then closes), nothing but ApiVersions and SASL served before authentication,
// the SCRAM credential APIs, and a fuzzed handshake. Other clients are served throughout.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { encodeRequest } from '../../../broker/protocol/frame.ts';
import { startTestBroker } from '../handlers/support/client.ts';
import type { TestBroker } from '../handlers/support/client.ts';
import { RawConnection } from '../../support/raw-client.ts';
import { until } from '../../support/until.ts';
import { addScramUser, authenticate, connectAuthenticated, plainToken, saltedPasswordOf, scramClient } from '../../support/sasl.ts';

const delayMs = 300;

async function saslBroker(t: Test): Promise<TestBroker & { saslPort: number }> {
  const b = await startTestBroker(t, {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret";',
    'connection.failed.authentication.delay.ms': String(delayMs),
    'sasl.server.max.receive.size': '4096',
  });
  const admin = await RawConnection.connect(b.port);
  t.teardown(() => admin.close());
  await addScramUser(admin, 'alice', 'alice-secret');
  return { ...b, saslPort: b.broker.ports.get('SASL_PLAINTEXT')! };
}

/** The broker still serves: a PLAINTEXT client gets Metadata. */
async function stillServes(t: Test, b: TestBroker): Promise<void> {
  const c = await RawConnection.connect(b.port);
  const m = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
  t.equal(m.brokers.length, 1, 'other clients are served');
  c.close();
}

t.test('PLAIN and SCRAM authenticate; the connection is then served', async (t) => {
  const b = await saslBroker(t);
  for (const [mechanism, user, password] of [
    ['PLAIN', 'bob', 'bob-secret'],
    ['PLAIN', 'alice', 'alice-secret'], // PLAIN against the SCRAM credentials
    ['SCRAM-SHA-256', 'alice', 'alice-secret'],
    ['SCRAM-SHA-512', 'alice', 'alice-secret'],
  ] as const) {
    for (const version of [0, 1, 2]) {
      const c = await RawConnection.connect(b.saslPort);
      const versions = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
      t.ok(
        versions.apiKeys.some((k: { apiKey: number }) => k.apiKey === ApiKey.SaslHandshake),
        'ApiVersions is served before authentication',
      );
      const r = await authenticate(c, mechanism, user, password, version);
      t.equal(r.errorCode, 0, `${mechanism} ${user} SaslAuthenticate v${version}`);
      const m = await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });
      t.equal(m.brokers[0].port, b.saslPort, 'served, with the SASL listener endpoint');
      const again = await c.request(ApiKey.SaslHandshake, 1, { mechanism });
      t.equal(again.errorCode, 34, 'SaslHandshake after authentication: ILLEGAL_SASL_STATE');
      const auth = await c.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.alloc(0) });
      t.equal(auth.errorCode, 34, 'SaslAuthenticate after authentication: ILLEGAL_SASL_STATE');
      c.close();
    }
  }
  const plain = await RawConnection.connect(b.port);
  t.teardown(() => plain.close());
  t.equal((await plain.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 34, 'PLAINTEXT listener: ILLEGAL_SASL_STATE');
  t.equal(
    (await plain.request(ApiKey.SaslAuthenticate, 0, { authBytes: Buffer.alloc(0) })).errorCode,
    34,
    'PLAINTEXT listener: ILLEGAL_SASL_STATE',
  );
});

t.test('v0 handshake: raw size-prefixed tokens', async (t) => {
  const b = await saslBroker(t);
  const raw = (c: RawConnection, token: Buffer) => {
    const size = Buffer.alloc(4);
    size.writeInt32BE(token.length);
    c.write(Buffer.concat([size, token]));
  };
  const c = await RawConnection.connect(b.saslPort);
  t.equal((await c.request(ApiKey.SaslHandshake, 0, { mechanism: 'SCRAM-SHA-512' })).errorCode, 0);
  const client = scramClient('SCRAM-SHA-512', 'alice', 'alice-secret');
  raw(c, client.first());
  const first = await c.next();
  t.ok('frame' in first);
  if (!('frame' in first)) return;
  raw(c, await client.final(first.frame));
  const final = await c.next();
  t.ok('frame' in final && client.verify(final.frame), 'server-final verifies');
  t.equal((await c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false })).brokers.length, 1, 'then served');
  c.close();

  const p = await RawConnection.connect(b.saslPort);
  t.equal((await p.request(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' })).errorCode, 0);
  raw(p, plainToken('bob', 'bob-secret'));
  const empty = await p.next();
  t.ok('frame' in empty && empty.frame.length === 0, 'PLAIN answers an empty token');
  p.close();

  const bad = await RawConnection.connect(b.saslPort);
  t.equal((await bad.request(ApiKey.SaslHandshake, 0, { mechanism: 'PLAIN' })).errorCode, 0);
  raw(bad, plainToken('bob', 'wrong'));
  t.same(await bad.next(), { closed: true }, 'a failure closes the connection (no error can be framed)');
  await stillServes(t, b);
});

t.test('failures: Kafka error, then the connection closes', async (t) => {
  const b = await saslBroker(t);
  const cases: [string, 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512', string, string, RegExp][] = [
    ['wrong password (PLAIN, JAAS)', 'PLAIN', 'bob', 'nope', /Invalid username or password/],
    ['wrong password (PLAIN, SCRAM store)', 'PLAIN', 'alice', 'nope', /Invalid username or password/],
    ['unknown user (PLAIN)', 'PLAIN', 'mallory', 'x', /Invalid username or password/],
    ['wrong password (SCRAM-SHA-512)', 'SCRAM-SHA-512', 'alice', 'nope', /invalid credentials with SASL mechanism SCRAM-SHA-512/],
    ['unknown user (SCRAM-SHA-256)', 'SCRAM-SHA-256', 'mallory', 'x', /invalid credentials with SASL mechanism SCRAM-SHA-256/],
  ];
  for (const [what, mechanism, user, password, message] of cases) {
    const c = await RawConnection.connect(b.saslPort);
    const started = Date.now();
    const r = await authenticate(c, mechanism, user, password);
    t.equal(r.errorCode, 58, `${what}: SASL_AUTHENTICATION_FAILED`);
    t.match(r.errorMessage, message, what);
    t.ok(Date.now() - started >= delayMs * 0.9, `${what}: answered after connection.failed.authentication.delay.ms`);
    t.ok(await c.closesWithin(5000), `${what}: closed`);
  }

  const unsupported = await RawConnection.connect(b.saslPort);
  const hs = await unsupported.request(ApiKey.SaslHandshake, 1, { mechanism: 'GSSAPI' });
  t.equal(hs.errorCode, 33, 'UNSUPPORTED_SASL_MECHANISM');
  t.same(hs.mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'], 'with the enabled mechanisms');
  t.ok(await unsupported.closesWithin(5000), 'closed');
  await stillServes(t, b);
});

t.test('nothing but ApiVersions and SASL before authentication; bounded tokens', async (t) => {
  const b = await saslBroker(t);
  const closedWithoutAnswer = async (what: string, send: (c: RawConnection) => Promise<void> | void) => {
    const c = await RawConnection.connect(b.saslPort);
    await send(c);
    const next = await c.next(5000);
    t.same(next, { closed: true }, what);
    c.close();
  };
  const frame = (apiKey: number, version: number, body: unknown) => encodeRequest(apiKey, version, 7, 'x', body);
  await closedWithoutAnswer('Metadata before the handshake', (c) =>
    c.write(frame(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false })),
  );
  await closedWithoutAnswer('SaslAuthenticate before the handshake', (c) =>
    c.write(frame(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('x') })),
  );
  await closedWithoutAnswer('Produce between handshake and authentication', async (c) => {
    await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    c.write(frame(ApiKey.Produce, 9, { acks: 1, timeoutMs: 1000, topicData: [] }));
  });
  await closedWithoutAnswer('a second handshake instead of the token', async (c) => {
    await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    c.write(frame(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' }));
  });
  await closedWithoutAnswer('oversized token (over sasl.server.max.receive.size)', async (c) => {
    await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    c.write(frame(ApiKey.SaslAuthenticate, 2, { authBytes: randomBytes(8000) }));
  });
  await closedWithoutAnswer('truncated SaslAuthenticate', async (c) => {
    await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    const f = frame(ApiKey.SaslAuthenticate, 2, { authBytes: plainToken('bob', 'bob-secret') });
    const cut = f.subarray(0, f.length - 8);
    cut.writeInt32BE(cut.length - 4, 0);
    c.write(cut);
  });
  await closedWithoutAnswer('a garbage frame', (c) => c.write(Buffer.from([0, 0, 0, 6, 1, 2, 3, 4, 5, 6])));
  const truncatedScram = await RawConnection.connect(b.saslPort);
  await truncatedScram.request(ApiKey.SaslHandshake, 1, { mechanism: 'SCRAM-SHA-512' });
  const r = await truncatedScram.request(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('n,,n=alice') });
  t.equal(r.errorCode, 58, 'a truncated SCRAM message: SASL_AUTHENTICATION_FAILED');
  t.match(r.errorMessage, /Invalid SCRAM client first message/);
  truncatedScram.close();
  await stillServes(t, b);
});

t.test('fuzz: random SASL exchanges never take the broker down', async (t) => {
  const b = await saslBroker(t);
  let seed = 99;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const mechanisms = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'GSSAPI', '', 'x'.repeat(300)];
  for (let i = 0; i < 40; i++) {
    const c = await RawConnection.connect(b.saslPort);
    const version = rnd(2);
    const hs = encodeRequest(ApiKey.SaslHandshake, version, 1, 'fuzz', { mechanism: mechanisms[rnd(mechanisms.length)] });
    const auth = encodeRequest(ApiKey.SaslAuthenticate, rnd(3), 2, 'fuzz', { authBytes: randomBytes(rnd(200)) });
    // Mutate a few bytes after the size prefix of either frame, then send both.
    for (const f of [hs, auth]) for (let j = 0; j < rnd(3); j++) f[4 + rnd(f.length - 4)] = rnd(256);
    c.write(Buffer.concat([hs, auth]));
    // Drain whatever comes back until the broker closes or stays silent.
    for (let k = 0; k < 4; k++) {
      const n = await c.next(delayMs + 1000);
      if (!('frame' in n)) break;
    }
    c.close();
  }
  await stillServes(t, b);
  const ok = await connectAuthenticated(b.saslPort, 'SCRAM-SHA-512', 'alice', 'alice-secret');
  ok.close();
});

t.test('DescribeUserScramCredentials and AlterUserScramCredentials', async (t) => {
  const b = await saslBroker(t);
  const c = await RawConnection.connect(b.port);
  t.teardown(() => c.close());
  const describe = (users: string[] | null) =>
    c.request(ApiKey.DescribeUserScramCredentials, 0, { users: users?.map((name) => ({ name })) ?? null });
  const all = await describe(null);
  t.same(
    all.results.map((r: any) => [r.user, r.credentialInfos.map((i: any) => [i.mechanism, i.iterations])]),
    [
      [
        'alice',
        [
          [1, 4096],
          [2, 4096],
        ],
      ],
    ],
  );
  const named = await describe(['alice', 'nobody', 'alice']);
  t.same(
    named.results.map((r: any) => [r.user, r.errorCode]),
    [
      ['alice', 92],
      ['nobody', 91],
    ],
    'DUPLICATE_RESOURCE, RESOURCE_NOT_FOUND',
  );
  const salt = randomBytes(16);
  const up = (name: string, mechanism: number, iterations: number, salted = saltedPasswordOf('SCRAM-SHA-512', 'pw', salt, 4096)) => ({
    name,
    mechanism,
    iterations,
    salt,
    saltedPassword: salted,
  });
  const alter = await c.request(ApiKey.AlterUserScramCredentials, 0, {
    deletions: [
      { name: 'alice', mechanism: 1 },
      { name: 'ghost', mechanism: 2 },
    ],
    upsertions: [
      up('carol', 2, 4096),
      up('dave', 3, 4096),
      up('erin', 2, 100),
      up('frank', 2, 20000),
      up('', 2, 4096),
      up('gina', 2, 4096),
      up('gina', 2, 4096),
      // Twice with different mechanisms: refused too (Kafka 4.4, seen with the Java Admin client).
      up('hank', 1, 4096),
      up('hank', 2, 4096),
    ],
  });
  t.same(Object.fromEntries(alter.results.map((r: any) => [r.user, r.errorCode])), {
    alice: 0,
    ghost: 91,
    carol: 0,
    dave: 33,
    erin: 93,
    frank: 93,
    '': 93,
    gina: 92,
    hank: 92,
  });
  // Kafka 4.4's messages, read from the reference broker.
  t.same(Object.fromEntries(alter.results.filter((r: any) => r.errorCode !== 0).map((r: any) => [r.user, r.errorMessage])), {
    ghost: 'Attempt to delete a user credential that does not exist',
    dave: 'Unknown SCRAM mechanism',
    erin: 'Too few iterations',
    frank: 'Too many iterations',
    '': 'Username must not be empty',
    gina: 'A user credential cannot be altered twice in the same request',
    hank: 'A user credential cannot be altered twice in the same request',
  });
  const after = await describe(null);
  t.same(
    after.results.map((r: any) => [r.user, r.credentialInfos.map((i: any) => i.mechanism)]),
    [
      ['alice', [2]],
      ['carol', [2]],
    ],
  );
  const carol = await connectAuthenticated(b.saslPort, 'SCRAM-SHA-512', 'carol', 'pw');
  carol.close();
  const gone = await RawConnection.connect(b.saslPort);
  t.equal(
    (await authenticate(gone, 'SCRAM-SHA-256', 'alice', 'alice-secret')).errorCode,
    58,
    'a deleted credential no longer authenticates',
  );
  gone.close();
});

t.test('re-authentication (KIP-368, connections.max.reauth.ms)', async (t) => {
  const lifetimeMs = 1500;
  const b = await startTestBroker(t, {
    listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0',
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config':
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_bob="bob-secret" user_eve="eve-secret";',
    'listener.name.sasl_plaintext.connections.max.reauth.ms': String(lifetimeMs),
    'connection.failed.authentication.delay.ms': '0',
  });
  const port = b.broker.ports.get('SASL_PLAINTEXT')!;
  const metadata = (c: RawConnection) => c.request(ApiKey.Metadata, 12, { topics: [], allowAutoTopicCreation: false });

  const c = await RawConnection.connect(port);
  t.teardown(() => c.close());
  await c.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
  const first = await c.request(ApiKey.SaslAuthenticate, 1, { authBytes: plainToken('bob', 'bob-secret') });
  t.equal(first.sessionLifetimeMs, lifetimeMs, 'SaslAuthenticate v1 tells the session lifetime');
  t.equal((await metadata(c)).brokers.length, 1);
  const again = await authenticate(c, 'PLAIN', 'bob', 'bob-secret', 1);
  t.equal(again.errorCode, 0, 're-authenticated as the same principal');
  t.equal((await metadata(c)).brokers.length, 1, 'served after re-authentication');

  const other = await RawConnection.connect(port);
  t.equal((await authenticate(other, 'PLAIN', 'bob', 'bob-secret')).errorCode, 0);
  const switched = await authenticate(other, 'PLAIN', 'eve', 'eve-secret');
  t.equal(switched.errorCode, 58, 'another principal: SASL_AUTHENTICATION_FAILED');
  t.match(switched.errorMessage, /Cannot change principals during re-authentication from User:bob: User:eve/);
  t.ok(await other.closesWithin(5000), 'then closed');

  const expiring = await RawConnection.connect(port);
  t.equal((await authenticate(expiring, 'PLAIN', 'bob', 'bob-secret')).errorCode, 0);
  const started = Date.now();
  await until(() => Date.now() > started + lifetimeMs + 100, 'the session to end', lifetimeMs + 5000);
  expiring.write(encodeRequest(ApiKey.Metadata, 12, 99, 'x', { topics: [], allowAutoTopicCreation: false }));
  t.same(await expiring.next(5000), { closed: true }, 'a request after the session ended closes the connection');
});
