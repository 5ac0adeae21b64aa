// The skafos.s3.* settings, the S3 store built from them, and the retry policy's pieces (no S3 needed).
import t from 'tap';
import { ConfigError, loadConfig, SENSITIVE_CONFIG_KEYS } from '../../../broker/config.ts';
import type { LoadConfigOptions } from '../../../broker/config.ts';
import { brokerConfigEntries } from '../../../broker/handlers/config-entries.ts';
import { S3ObjectStore } from '../../../broker/storage/s3-object-store.ts';
import { backoffMs, RetryBudget } from '../../../broker/storage/retry-budget.ts';

const MiB = 1024 * 1024;
const s3 = ['skafos.object.store=s3', 'skafos.s3.bucket=my-bucket'];

function configError(options: LoadConfigOptions): ConfigError {
  try {
    loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(options)}`);
}

t.test('S3 settings: defaults, values and environment variables', async (t) => {
  const c = loadConfig({ sets: s3 });
  t.equal(c.s3AccessKeyId, null);
  t.equal(c.s3SecretAccessKey, null);
  t.equal(c.s3SseKmsKeyId, null);
  t.equal(c.s3MaxConcurrentRequests, 64);
  t.equal(c.s3MultipartThresholdBytes, 32 * MiB);
  t.equal(c.s3MultipartPartBytes, 8 * MiB);
  t.equal(c.s3RetryMaxAttempts, 6);
  t.equal(c.s3RetryBudgetTokens, 500);

  const set = loadConfig({
    sets: [
      ...s3,
      'skafos.s3.access.key.id=AKIAEXAMPLE',
      'skafos.s3.secret.access.key=s3cr3t/+x',
      'skafos.s3.sse.kms.key.id=arn:aws:kms:eu-west-1:123456789012:key/abcd',
      'skafos.s3.max.concurrent.requests=8',
      'skafos.s3.multipart.threshold.bytes=16777216',
      'skafos.s3.multipart.part.bytes=5242880',
      'skafos.s3.connect.timeout.ms=1000',
      'skafos.s3.request.timeout.ms=2000',
      'skafos.s3.retry.max.attempts=3',
      'skafos.s3.retry.backoff.base.ms=10',
      'skafos.s3.retry.backoff.max.ms=10',
      'skafos.s3.retry.budget.tokens=0',
    ],
  });
  t.equal(set.s3AccessKeyId, 'AKIAEXAMPLE');
  t.equal(set.s3SecretAccessKey, 's3cr3t/+x');
  t.equal(set.s3SseKmsKeyId, 'arn:aws:kms:eu-west-1:123456789012:key/abcd');
  t.equal(set.s3MaxConcurrentRequests, 8);
  t.equal(set.s3MultipartThresholdBytes, 16 * MiB);
  t.equal(set.s3MultipartPartBytes, 5 * MiB);
  t.equal(set.s3ConnectTimeoutMs, 1000);
  t.equal(set.s3RequestTimeoutMs, 2000);
  t.equal(set.s3RetryMaxAttempts, 3);
  t.equal(set.s3RetryBackoffBaseMs, 10);
  t.equal(set.s3RetryBackoffMaxMs, 10);
  t.equal(set.s3RetryBudgetTokens, 0);

  const env = loadConfig({
    env: {
      SKAFOS_OBJECT_STORE: 's3',
      SKAFOS_S3_BUCKET: 'b-1',
      SKAFOS_S3_MAX_CONCURRENT_REQUESTS: '5',
      SKAFOS_S3_SSE_KMS_KEY_ID: 'alias/x',
    },
  });
  t.equal(env.s3MaxConcurrentRequests, 5);
  t.equal(env.s3SseKmsKeyId, 'alias/x');
});

t.test('S3 settings are validated', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['skafos.s3.max.concurrent.requests=0', /integer in \[1, 4096\]/],
    ['skafos.s3.multipart.part.bytes=1048576', /integer in \[5242880, 5368709120\]/],
    ['skafos.s3.multipart.threshold.bytes=6442450944', /integer in \[5242880, 5368709120\]/],
    ['skafos.s3.retry.max.attempts=0', /integer in \[1, 100\]/],
    ['skafos.s3.retry.budget.tokens=-1', /integer in \[0, 1000000\]/],
    ['skafos.s3.access.key.id=has space', /letters, digits and/],
    ['skafos.s3.sse.kms.key.id=50%', /KMS key id/],
  ];
  for (const [set, expected] of bad) t.match(configError({ sets: [...s3, set] }).message, expected, set);

  const onlyId = configError({ sets: [...s3, 'skafos.s3.access.key.id=AKIA'] });
  t.equal(onlyId.key, 'skafos.s3.access.key.id');
  t.match(onlyId.message, /skafos.s3.secret.access.key must be set too/);
  const onlySecret = configError({ sets: [...s3, 'skafos.s3.secret.access.key=x'] });
  t.equal(onlySecret.key, 'skafos.s3.secret.access.key');

  const backoff = configError({ sets: [...s3, 'skafos.s3.retry.backoff.base.ms=500', 'skafos.s3.retry.backoff.max.ms=100'] });
  t.equal(backoff.key, 'skafos.s3.retry.backoff.base.ms');

  const unused = configError({ sets: ['skafos.s3.max.concurrent.requests=8'] });
  t.equal(unused.key, 'skafos.s3.max.concurrent.requests');
  t.match(unused.message, /skafos.object.store is local/);
});

t.test('the secret access key is not reported by DescribeConfigs', async (t) => {
  t.ok(SENSITIVE_CONFIG_KEYS.has('skafos.s3.secret.access.key'));
  const c = loadConfig({ sets: [...s3, 'skafos.s3.access.key.id=AKIA', 'skafos.s3.secret.access.key=topsecret'] });
  const entries = brokerConfigEntries(c);
  const secret = entries.find((e) => e.name === 'skafos.s3.secret.access.key');
  t.ok(secret, 'listed');
  t.equal(secret!.value, null);
  t.equal(secret!.isSensitive, true);
  t.notOk(JSON.stringify(entries).includes('topsecret'), 'nowhere in the entries');
  t.equal(entries.find((e) => e.name === 'skafos.s3.access.key.id')!.value, 'AKIA');
});

t.test('S3ObjectStore.fromConfig', async (t) => {
  const store = S3ObjectStore.fromConfig(
    loadConfig({
      sets: [
        ...s3,
        'skafos.s3.endpoint=http://127.0.0.1:1',
        'skafos.s3.path.style=true',
        'skafos.s3.max.concurrent.requests=7',
        'skafos.s3.sse.kms.key.id=k1',
        'skafos.s3.retry.max.attempts=2',
        'skafos.s3.multipart.part.bytes=6291456',
      ],
    }),
  );
  t.equal(store.bucket, 'my-bucket');
  t.equal(store.maxConcurrentRequests, 7);
  t.equal(store.stats().maxConcurrentOps, 7);
  t.equal(store.sseKmsKeyId, 'k1');
  t.equal(store.multipartPartBytes, 6 * MiB);
  t.equal(store.multipartThresholdBytes, 32 * MiB);
  t.equal(store.retryPolicy.maxAttempts, 2);
  t.equal(store.retryPolicy.budgetTokens, 500);
  await store.close();
  t.throws(() => S3ObjectStore.fromConfig(loadConfig()), /skafos.s3.bucket is not set/);
});

t.test('RetryBudget: retries spend tokens, successes earn them back', async (t) => {
  const b = new RetryBudget(12, 5, 1);
  t.ok(b.tryAcquire());
  t.ok(b.tryAcquire());
  t.equal(b.tokens, 2);
  t.notOk(b.tryAcquire(), 'not enough left');
  t.equal(b.tokens, 2, 'a refused retry takes nothing');
  t.equal(b.exhausted, 1);
  for (let i = 0; i < 3; i++) b.onSuccess();
  t.ok(b.tryAcquire(), 'refilled');
  for (let i = 0; i < 100; i++) b.onSuccess();
  t.equal(b.tokens, 12, 'capped at the capacity');
  const none = new RetryBudget(0);
  t.notOk(none.tryAcquire(), '0 tokens: no retries');
  t.throws(() => new RetryBudget(-1), RangeError);
});

t.test('backoff: full jitter under an exponential cap', async (t) => {
  t.equal(
    backoffMs(1, 100, 5000, () => 0.999),
    99,
  );
  t.equal(
    backoffMs(2, 100, 5000, () => 0.999),
    199,
  );
  t.equal(
    backoffMs(4, 100, 5000, () => 0.5),
    400,
  );
  t.equal(
    backoffMs(10, 100, 5000, () => 0.999),
    4995,
    'capped',
  );
  t.equal(
    backoffMs(1000, 100, 5000, () => 0.5),
    2500,
    'no overflow',
  );
  t.equal(
    backoffMs(3, 100, 5000, () => 0),
    0,
  );
});
