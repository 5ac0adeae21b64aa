import t from 'tap';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { describeConfig } from '../../broker/config.ts';
import packageJson from '../../package.json' with { type: 'json' };

const cli = fileURLToPath(new URL('../../bin/skafos.ts', import.meta.url));
const hook = fileURLToPath(new URL('./fake-broker-hook.ts', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or 'SIGNAL' name when killed by one). */
  exit: Promise<number | string>;
  /** Resolves when a stdout log line has this msg. */
  waitFor: (msg: string) => Promise<Record<string, unknown>>;
}

function run(args: string[], options: { env?: Record<string, string>; fake?: boolean } = {}): Run {
  const nodeArgs = options.fake ? ['--import', hook, cli, ...args] : [cli, ...args];
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const key of Object.keys(env)) if (key.startsWith('SKAFOS_') && !(options.env && key in options.env)) delete env[key];
  const child = spawn(process.execPath, nodeArgs, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const check = () => {
    for (const line of out.split('\n')) {
      if (!line.startsWith('{')) continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      for (const w of waiters.filter((w) => w.msg === parsed.msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    check();
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exit = new Promise<number | string>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor: (msg) =>
      new Promise((resolve) => {
        waiters.push({ msg, resolve });
        check();
      }),
  };
}

function logLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

t.test('an unknown key exits 2 with one line naming it', async (t) => {
  const r = run(['broker', '--set', 'bogus=1']);
  t.equal(await r.exit, 2);
  t.equal(r.stdout(), '');
  t.equal(r.stderr(), 'skafos: unknown config key "bogus" (--set); `skafos broker --help` lists the keys\n');
});

t.test('config errors from every source are one line on stderr, exit 2', async (t) => {
  const dir = t.testdir({ 'bad.properties': 'node.id=1\nlisteners=CLIENT://localhost:9093\n' });
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['broker', '--set', 'num.partitions=0'],
      {},
      /^skafos: invalid num.partitions "0" \(--set\): expected an integer in \[1, 2147483647\]\n$/,
    ],
    [['broker', '--set=num.partiton=3'], {}, /did you mean num.partitions\?/],
    [['broker', '-s', 'log.retention.hour=3'], {}, /did you mean log.retention.hours\?/],
    [
      ['broker', '--config', join(dir, 'bad.properties')],
      {},
      /^skafos: invalid listeners "CLIENT:\/\/localhost:9093" \(config file .*bad.properties:2\): .*listener CLIENT is not in listener.security.protocol.map/,
    ],
    [['broker', '-c', join(dir, 'missing.properties')], {}, /^skafos: cannot read config file .*missing.properties: no such file\n$/],
    [['broker'], { SKAFOS_NODE_ID: 'x' }, /^skafos: invalid node.id "x" \(environment SKAFOS_NODE_ID\)/],
    [['broker', '--set', 'skafos.object.store=s3'], {}, /^skafos: skafos.s3.bucket is required when skafos.object.store=s3/],
  ];
  const runs = cases.map(([args, env]) => run(args, { env })); // in parallel: each spawn costs a Node start
  for (const [i, [args, , stderr]] of cases.entries()) {
    const r = runs[i]!;
    t.equal(await r.exit, 2, args.join(' '));
    t.match(r.stderr(), stderr);
    t.equal(r.stderr().split('\n').length, 2, 'one line');
  }
});

t.test('usage errors exit 2', async (t) => {
  const cases = [[], ['brokr'], ['broker', '--nope'], ['broker', 'extra'], ['broker', '--config']];
  const runs = cases.map((args) => run(args));
  for (const [i, args] of cases.entries()) {
    t.equal(await runs[i]!.exit, 2, JSON.stringify(args));
    t.ok(runs[i]!.stderr().length > 0);
  }
  t.match(runs[0]!.stderr(), /^Usage: skafos <command>/, 'no command prints the usage');
  t.match(runs[1]!.stderr(), /unknown command "brokr"/);
  t.match(runs[2]!.stderr(), /Unknown option '--nope'/);
});

t.test('--help, broker --help, version', async (t) => {
  const helps = [['--help'], ['-h'], ['help']].map((args) => run(args));
  const b = run(['broker', '--help']);
  const versions = [['version'], ['--version']].map((args) => run(args));
  for (const r of helps) {
    t.equal(await r.exit, 0);
    t.match(r.stdout(), /^Usage: skafos <command>/);
    t.match(r.stdout(), /broker \[--config FILE\] \[--set key=value \.\.\.\]/);
  }
  t.equal(await b.exit, 0);
  t.match(b.stdout(), /^Usage: skafos broker/);
  t.match(b.stdout(), /Precedence, lowest first: defaults < environment variables < --config file < --set/);
  for (const d of describeConfig()) t.match(b.stdout(), `  ${d.key} = `, d.key);
  for (const v of versions) {
    t.equal(await v.exit, 0);
    t.equal(v.stdout(), `skafos ${packageJson.version}\n`);
  }
});

t.test('broker --check prints the effective configuration', async (t) => {
  const dir = t.testdir({ 'a.properties': 'num.partitions=3\nnode.id=2\n' });
  const r = run(['broker', '--check', '-c', join(dir, 'a.properties'), '--set', 'node.id=9', '--set', 'log.retention.hours=1'], {
    env: { SKAFOS_QUEUED_MAX_REQUESTS: '42' },
  });
  t.equal(await r.exit, 0);
  t.equal(r.stderr(), '');
  t.match(r.stdout(), /^node.id=9$/m);
  t.match(r.stdout(), /^num.partitions=3$/m);
  t.match(r.stdout(), /^queued.max.requests=42$/m);
  t.match(r.stdout(), /^log.retention.ms=3600000$/m);
});

t.test('runs the broker and shuts down gracefully on SIGTERM', async (t) => {
  const r = run(['broker', '--set', 'node.id=5'], { fake: true });
  const starting = await r.waitFor('starting skafos broker');
  t.equal(starting.version, packageJson.version);
  t.same(starting.configSources, { 'node.id': '--set' });
  t.equal(starting.node, 5);
  await r.waitFor('fake: started');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
  const msgs = logLines(r.stdout()).map((l) => l.msg);
  t.same(msgs, [
    'starting skafos broker',
    'fake: starting',
    'fake: started',
    'shutting down (send the signal again to exit immediately)',
    'fake: close',
    'shut down cleanly',
  ]);
});

t.test('SIGINT works too, and close is called once', async (t) => {
  const r = run(['broker'], { fake: true, env: { FAKE_CLOSE: 'hang' } });
  await r.waitFor('fake: started');
  r.child.kill('SIGINT');
  await r.waitFor('fake: close');
  r.child.kill('SIGINT');
  t.equal(await r.exit, 130, 'a second signal exits at once, 128 + SIGINT');
  const closes = logLines(r.stdout()).filter((l) => l.msg === 'fake: close');
  t.equal(closes.length, 1);
  t.ok(logLines(r.stdout()).some((l) => l.msg === 'second signal: exiting without waiting for shutdown'));
});

t.test('a signal during startup closes once started', async (t) => {
  const r = run(['broker'], { fake: true, env: { FAKE_START_MS: '300' } });
  await r.waitFor('fake: starting');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
  const msgs = logLines(r.stdout()).map((l) => l.msg);
  t.ok(msgs.indexOf('fake: started') < msgs.indexOf('fake: close'));
});

t.test('a signal while the broker module loads exits without starting it', async (t) => {
  const r = run(['broker'], { fake: true, env: { FAKE_IMPORT_MS: '1500' } });
  await r.waitFor('starting skafos broker');
  r.child.kill('SIGTERM');
  t.equal(await r.exit, 0);
  const msgs = logLines(r.stdout()).map((l) => l.msg);
  t.same(msgs, [
    'starting skafos broker',
    'shutting down (send the signal again to exit immediately)',
    'shut down before the broker started',
  ]);
});

t.test('startup and shutdown failures exit 1', async (t) => {
  const failStart = run(['broker'], { fake: true, env: { FAKE_START_FAIL: 'bucket unreachable' } });
  t.equal(await failStart.exit, 1);
  const fatal = logLines(failStart.stdout()).find((l) => l.level === 'fatal');
  t.equal(fatal?.msg, 'broker failed to start');
  t.match(fatal?.err, { message: 'bucket unreachable' });

  const failClose = run(['broker'], { fake: true, env: { FAKE_CLOSE: 'fail' } });
  await failClose.waitFor('fake: started');
  failClose.child.kill('SIGTERM');
  t.equal(await failClose.exit, 1);
  t.match(
    logLines(failClose.stdout()).find((l) => l.level === 'fatal'),
    { msg: 'shutdown failed', err: { message: 'close failed' } },
  );
});
