// The SCRAM server against RFC 7677's SCRAM-SHA-256 example, and against bad input: every malformed, forged or
// out-of-order message fails the exchange with a clear message and never throws.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { ScramServer, invalidCredentials } from '../../../broker/security/sasl/scram-server.ts';
import { credentialFor, credentialFromSalted, saltedPassword } from '../../../broker/security/scram.ts';
import type { ScramMechanism } from '../../../broker/security/scram.ts';
import type { ScramCredential } from '../../../broker/metadata/scram-credentials.ts';
import { scramClient } from '../../support/sasl.ts';

async function rfc7677Credential(): Promise<ScramCredential> {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  return credentialFromSalted('SCRAM-SHA-256', await saltedPassword('SCRAM-SHA-256', 'pencil', salt, 4096), salt, 4096);
}

t.test('RFC 7677 example exchange', async (t) => {
  const credential = await rfc7677Credential();
  const server = new ScramServer(
    'SCRAM-SHA-256',
    async (m, u) => (m === 'SCRAM-SHA-256' && u === 'user' ? credential : null),
    () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  );
  const first = await server.evaluate(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
  t.same(
    first.kind === 'continue' && first.response.toString(),
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  );
  const final = await server.evaluate(
    Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
  );
  t.equal(final.kind, 'done');
  t.same(final.kind === 'done' && [final.user, final.response.toString()], ['user', 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=']);
  const after = await server.evaluate(Buffer.from('c=biws'));
  t.equal(after.kind, 'failed', 'no token after the end');
});

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as ScramMechanism[]) {
  t.test(`${mechanism}: a client with the password authenticates; a wrong one does not`, async (t) => {
    const credential = await credentialFor(mechanism, 'sekret', 4096);
    const lookup = async (m: ScramMechanism, u: string) => (m === mechanism && u === 'a,b=c' ? credential : null);
    for (const [password, ok] of [
      ['sekret', true],
      ['Sekret', false],
    ] as const) {
      const server = new ScramServer(mechanism, lookup);
      const client = scramClient(mechanism, 'a,b=c', password);
      const first = await server.evaluate(client.first());
      t.equal(first.kind, 'continue');
      if (first.kind !== 'continue') continue;
      const final = await server.evaluate(await client.final(first.response));
      if (ok) {
        t.equal(final.kind, 'done', 'user name with , and = (escaped as =2C, =3D)');
        t.ok(final.kind === 'done' && client.verify(final.response), 'the server signature verifies');
      } else t.same(final, { kind: 'failed', message: invalidCredentials(mechanism) });
    }
  });
}

t.test('bad input fails the exchange with a message', async (t) => {
  const credential = await credentialFor('SCRAM-SHA-512', 'pw', 4096);
  const weak: ScramCredential = { ...credential, iterations: 1000 };
  const lookup = async (_m: ScramMechanism, u: string) => (u === 'alice' ? credential : u === 'weak' ? weak : null);
  const firstFails = async (message: string | Buffer, expected: RegExp) => {
    const server = new ScramServer('SCRAM-SHA-512', lookup);
    const step = await server.evaluate(Buffer.isBuffer(message) ? message : Buffer.from(message));
    t.equal(step.kind, 'failed', String(message));
    t.match(step.kind === 'failed' && step.message, expected, String(message));
  };
  await firstFails('n,,n=bob,r=abc', /invalid credentials/);
  await firstFails('n,,n=weak,r=abc', /Iterations 1000 is less than the minimum 4096/);
  await firstFails('', /Invalid SCRAM client first message/);
  await firstFails('n,,r=abc,n=alice', /Invalid SCRAM client first message/);
  await firstFails('n,,n=alice', /Invalid SCRAM client first message/);
  await firstFails('n,,n=al=ice,r=abc', /Invalid SCRAM client first message/);
  await firstFails('n,,n=alice,r=a,b', /Invalid SCRAM client first message/);
  await firstFails('p=tls-unique,,n=alice,r=abc', /channel binding is not supported/);
  await firstFails('n,a=bob,n=alice,r=abc', /authorization id that is different/);
  await firstFails('n,,n=alice,r=abc,m=ext', /Invalid SCRAM client first message/);
  await firstFails('n,,n=alice,r=abc,tokenauth=true', /Invalid SCRAM client first message|Delegation token/);
  await firstFails(randomBytes(64), /Invalid SCRAM client first message/);

  const finalFails = async (build: (nonce: string, good: string) => string, expected: RegExp, what: string) => {
    const server = new ScramServer('SCRAM-SHA-512', lookup);
    const client = scramClient('SCRAM-SHA-512', 'alice', 'pw');
    const first = await server.evaluate(client.first());
    if (first.kind !== 'continue') return t.fail('first step');
    const nonce = /r=([^,]+)/.exec(first.response.toString())![1]!;
    const good = (await client.final(first.response)).toString();
    const step = await server.evaluate(Buffer.from(build(nonce, good)));
    t.equal(step.kind, 'failed', what);
    t.match(step.kind === 'failed' && step.message, expected, what);
  };
  await finalFails((n, g) => g.replace(`r=${n}`, `r=${n}x`), /Invalid client nonce/, 'nonce not ending with the server nonce');
  await finalFails((n, g) => g.replace(`r=${n}`, 'r=forged'), /Invalid client nonce/, 'forged nonce');
  await finalFails((_n, g) => g.replace(/p=.*/, `p=${randomBytes(64).toString('base64')}`), /invalid credentials/, 'forged proof');
  await finalFails((_n, g) => g.replace(/p=.*/, 'p=AAAA'), /invalid credentials/, 'short proof');
  await finalFails((_n, g) => g.replace(/p=.*/, 'p=!!!'), /invalid credentials/, 'proof not base64');
  await finalFails((_n, g) => g.replace(/,p=.*/, ''), /Invalid SCRAM client final message/, 'no proof');
  await finalFails((_n, g) => g.replace('c=biws', 'c=eSws'), /channel binding/, 'other gs2 header');
  await finalFails(() => '', /Invalid SCRAM client final message/, 'empty');
  await finalFails((_n, g) => g.slice(0, 10), /Invalid SCRAM client final message/, 'truncated');
});

t.test('fuzz: random and mutated tokens never throw', async (t) => {
  const credential = await credentialFor('SCRAM-SHA-256', 'pw', 4096);
  const lookup = async () => credential;
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const base = ['n,,n=alice,r=abcdef', 'c=biws,r=abcdef', 'p=', '=2C=3D'];
  let failures = 0;
  for (let i = 0; i < 300; i++) {
    const server = new ScramServer('SCRAM-SHA-256', lookup);
    const bytes = Buffer.from(base[rnd(base.length)]!);
    const mutated = Buffer.alloc(bytes.length + rnd(8));
    bytes.copy(mutated);
    for (let j = 0; j < 1 + rnd(4); j++) mutated[rnd(mutated.length)] = rnd(256);
    const first = await server.evaluate(mutated);
    if (first.kind === 'continue') await server.evaluate(mutated);
    else failures++;
  }
  t.ok(failures > 0, 'mutations are refused');
});
