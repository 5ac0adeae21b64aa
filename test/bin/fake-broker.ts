// Stand-in for broker/broker.ts in the CLI tests, steered by environment variables:
//   FAKE_IMPORT_MS  delay while the module loads
//   FAKE_START_MS   delay before startBroker resolves
//   FAKE_START_FAIL reject startBroker with this message
//   FAKE_CLOSE      'hang' (close never resolves), 'fail' (close rejects); default: resolves at once
// Every step is logged through the logger the CLI passes, so the test reads it from stdout.
import type { BrokerConfig } from '../../broker/config.ts';
import type { Logger } from '../../broker/ops/logger.ts';

// A slow module load (the real broker parses megabytes of generated code).
const importMs = Number(process.env.FAKE_IMPORT_MS ?? 0);
if (importMs > 0) await new Promise((resolve) => setTimeout(resolve, importMs));

export async function startBroker(config: BrokerConfig, logger: Logger): Promise<{ close(): Promise<void> }> {
  logger.info({ nodeId: config.nodeId, listeners: config.listeners }, 'fake: starting');
  const keepAlive = setInterval(() => {}, 60_000);
  const startMs = Number(process.env.FAKE_START_MS ?? 0);
  if (startMs > 0) await new Promise((resolve) => setTimeout(resolve, startMs));
  if (process.env.FAKE_START_FAIL) {
    clearInterval(keepAlive);
    throw new Error(process.env.FAKE_START_FAIL);
  }
  logger.info('fake: started');
  let closes = 0;
  return {
    async close() {
      closes++;
      logger.info({ closes }, 'fake: close');
      if (process.env.FAKE_CLOSE === 'hang') return new Promise(() => {});
      if (process.env.FAKE_CLOSE === 'fail') throw new Error('close failed');
      clearInterval(keepAlive);
    },
  };
}
