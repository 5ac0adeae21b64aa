import t from 'tap';
import { Writable } from 'node:stream';
import { componentLogger, createLogger, silentLogger } from '../../../broker/ops/logger.ts';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}

t.test('JSON lines with level names, ISO time, pid and node', async (t) => {
  const out = capture();
  const logger = createLogger({ level: 'info', nodeId: 4, destination: out.stream });
  logger.info({ bytes: 10 }, 'hello');
  logger.debug('dropped below the level');
  const [line, ...rest] = out.lines();
  t.same(rest, []);
  t.equal(line!.level, 'info');
  t.equal(line!.msg, 'hello');
  t.equal(line!.bytes, 10);
  t.equal(line!.node, 4);
  t.equal(line!.pid, process.pid);
  t.match(line!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

t.test('component children and errors', async (t) => {
  const out = capture();
  const logger = createLogger({ level: 'debug', destination: out.stream });
  const storage = componentLogger(logger, 'storage', { bucket: 'b' });
  storage.debug('visible at debug');
  storage.error({ err: new Error('boom') }, 'failed');
  const lines = out.lines();
  t.equal(lines.length, 2);
  t.equal(lines[0]!.component, 'storage');
  t.equal(lines[0]!.bucket, 'b');
  t.equal(lines[0]!.node, undefined, 'no node binding unless given');
  t.match(lines[1]!.err, { type: 'Error', message: 'boom', stack: /boom/ });
  t.equal(lines[1]!.level, 'error');
});

t.test('levels', async (t) => {
  const out = capture();
  const logger = createLogger({ level: 'warn', destination: out.stream });
  logger.info('no');
  logger.warn('yes');
  t.same(
    out.lines().map((l) => l.msg),
    ['yes'],
  );
  const none = capture();
  createLogger({ level: 'silent', destination: none.stream }).fatal('nothing');
  t.same(none.lines(), []);
  t.equal(silentLogger().level, 'silent');
});
