// The SCRAM derivations the admin client uses to build AlterUserScramCredentials upsertions, checked against
// the SCRAM-SHA-256 example exchange of RFC 7677 (section 3): the client proof and the server signature derived
// from SaltedPassword must be the RFC's.
import { createHash } from 'node:crypto';
import t from 'tap';
import { scramClient, scramHmac, scramSaltedPassword } from '../../../clients/admin/index.ts';

t.test('RFC 7677 SCRAM-SHA-256 example', async (t) => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
  const salted = scramSaltedPassword('SCRAM-SHA-256', 'pencil', salt, 4096);
  t.equal(salted.length, 32);
  const clientFirstBare = 'n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const clientFinalWithoutProof = 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
  const authMessage = `${clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
  const clientKey = scramHmac('SCRAM-SHA-256', salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const clientSignature = scramHmac('SCRAM-SHA-256', storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ clientSignature[i]!));
  t.equal(proof.toString('base64'), 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
  const serverKey = scramHmac('SCRAM-SHA-256', salted, 'Server Key');
  t.equal(scramHmac('SCRAM-SHA-256', serverKey, authMessage).toString('base64'), '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
});

t.test('SCRAM-SHA-512 salted passwords are 64 bytes and depend on salt and iterations', async (t) => {
  const a = scramSaltedPassword('SCRAM-SHA-512', 'pw', Buffer.from('salt'), 4096);
  t.equal(a.length, 64);
  t.not(a.toString('hex'), scramSaltedPassword('SCRAM-SHA-512', 'pw', Buffer.from('salt'), 4097).toString('hex'));
  t.not(a.toString('hex'), scramSaltedPassword('SCRAM-SHA-512', 'pw', Buffer.from('tlas'), 4096).toString('hex'));
});

t.test('the SCRAM client exchange reproduces RFC 7677 and checks the server signature', async (t) => {
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  const c = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  t.equal(c.first().toString(), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  t.equal(
    c.next(Buffer.from(serverFirst))!.toString(),
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  t.equal(c.next(Buffer.from('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')), null);

  const forged = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'rOprNGfwEbeRWgbNEkqO');
  forged.first();
  forged.next(Buffer.from(serverFirst));
  t.throws(() => forged.next(Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`)), /server signature does not match/);

  const replayed = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'another-nonce');
  replayed.first();
  t.throws(() => replayed.next(Buffer.from(serverFirst)), /nonce/);
  const spin = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'n1');
  spin.first();
  t.throws(() => spin.next(Buffer.from('r=n1x,s=AAAA,i=100000000')), /iteration count/);
  const refused = scramClient('SCRAM-SHA-256', 'user', 'pencil', 'n1');
  refused.first();
  t.throws(() => refused.next(Buffer.from('e=invalid-proof')), /invalid-proof/);
  t.equal(scramClient('SCRAM-SHA-256', 'a=b,c', 'p', 'n').first().toString(), 'n,,n=a=3Db=2Cc,r=n', 'names escaped');
});
