import t from 'tap';
import type { Test } from 'tap';
import { assertLimits, ConfigError, configDefaults, loadConfig } from '../../../broker/config.ts';
import type { BrokerConfig } from '../../../broker/config.ts';
import { metadataMaxValueBytes } from '../../../broker/limits.ts';

/** The ConfigError assertLimits throws for `config` (fails the test when it throws none, or something else). */
function limitError(t: Test, config: BrokerConfig): ConfigError {
  try {
    assertLimits(config);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  t.fail('expected a ConfigError');
  return new ConfigError('none');
}

const MIB = 1024 * 1024;

t.test('the defaults, and the configuration loaded with no input, satisfy every limit', async (t) => {
  t.doesNotThrow(() => assertLimits(configDefaults));
  t.doesNotThrow(() => assertLimits(loadConfig({})));
});

t.test('sizes that must nest: the error names both keys and the bound', async (t) => {
  const cases: [Partial<BrokerConfig>, string, RegExp][] = [
    [{ messageMaxBytes: 200 * MIB }, 'message.max.bytes', /must not exceed socket\.request\.max\.bytes \(104857600\)/],
    [
      { messageMaxBytes: 80 * MIB, flushMaxPendingBytes: 64 * MIB },
      'message.max.bytes',
      /must not exceed skafos\.flush\.max\.pending\.bytes \(67108864\), or a maximal batch could never be accepted/,
    ],
    [{ flushSizeBytes: 65 * MIB }, 'skafos.flush.size.bytes', /must not exceed skafos\.flush\.max\.pending\.bytes \(67108864\)/],
    [
      { socketRequestMaxBytes: 200 * MIB, messageMaxBytes: MIB },
      'socket.request.max.bytes',
      /must not exceed skafos\.connection\.max\.inflight\.bytes \(104857600\), or a maximal request could never be read/,
    ],
    [{ compactionMinAgeMs: 700_000 }, 'skafos.compaction.min.age.ms', /must not exceed skafos\.compaction\.max\.age\.ms \(600000\)/],
    [
      { storageHealthDegradedErrorRate: 0.6 },
      'skafos.storage.health.degraded.error.rate',
      /must not exceed skafos\.storage\.health\.unavailable\.error\.rate \(0\.5\)/,
    ],
  ];
  for (const [change, key, message] of cases) {
    const err = limitError(t, { ...configDefaults, ...change });
    t.equal(err.key, key, key);
    t.match(err.message, message);
    t.match(err.message, new RegExp(`^invalid ${key.replaceAll('.', '\\.')} "`), 'says which value is invalid');
  }
});

t.test('a setting bounded by an internal limit', async (t) => {
  const err = limitError(t, { ...configDefaults, groupMaxRecordBytes: metadataMaxValueBytes + 1 });
  t.equal(err.key, 'skafos.group.max.record.bytes');
  t.match(err.message, `must not exceed the metadata store's value limit (${metadataMaxValueBytes} bytes)`);
  t.doesNotThrow(() => assertLimits({ ...configDefaults, groupMaxRecordBytes: metadataMaxValueBytes }), 'the bound itself is fine');
});

t.test('loadConfig asserts the limits: a bad combination is a ConfigError naming where the value came from', async (t) => {
  let err: unknown;
  try {
    loadConfig({ sets: ['skafos.flush.size.bytes=1000', 'skafos.flush.max.pending.bytes=999', 'message.max.bytes=500'] });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ConfigError, 'a ConfigError, not a crash');
  t.match(
    (err as ConfigError).message,
    'invalid skafos.flush.size.bytes "1000" (--set): must not exceed skafos.flush.max.pending.bytes (999)',
  );
  t.equal((err as ConfigError).source, '--set');
});
