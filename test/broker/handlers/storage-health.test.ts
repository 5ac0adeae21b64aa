// Produce and readiness follow the object store's health: degraded → throttled but accepted; unavailable →
// fail fast with a retriable error; recovery is automatic.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { buildRecordBatch } from '../../../broker/protocol/records/index.ts';
import { degradedThrottleMs } from '../../../broker/limits.ts';
import { createTopic, startTestBroker } from './support/client.ts';

t.test('produce under each health state', async (t) => {
  const { client, broker } = await startTestBroker(t);
  await createTopic(client, 'h', 1);
  const health = broker.services.storageHealth;
  const send = () =>
    client.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 5000,
      topicData: [
        {
          name: 'h',
          partitionData: [{ index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('x'), timestampMs: Date.now() }]) }],
        },
      ],
    });

  const ok = await send();
  t.equal(ok.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  t.equal(ok.throttleTimeMs, 0);

  // Slow calls: degraded.
  const slow = health.begin();
  await new Promise((r) => setTimeout(r, health.thresholds.degradedP99Ms + 50));
  health.end(slow, 'ok');
  t.equal(health.state, 'degraded');
  const throttled = await send();
  t.equal(throttled.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE, 'still accepted');
  t.equal(throttled.throttleTimeMs, degradedThrottleMs, 'but clients are asked to slow down');

  // Consecutive failures: unavailable.
  for (let i = 0; i < health.thresholds.unavailableConsecutiveFailures; i++) health.end(health.begin(), 'error');
  t.equal(health.state, 'unavailable');
  const started = Date.now();
  const failed = await send();
  t.equal(failed.responses[0].partitionResponses[0].errorCode, ErrorCode.NOT_ENOUGH_REPLICAS, 'retriable error');
  t.ok(Date.now() - started < 1000, 'fails fast');
  t.match(failed.responses[0].partitionResponses[0].errorMessage, /object store is unavailable/);
});
