#!/usr/bin/env node
// The skafos command line.
//
//   skafos broker [--config FILE] [--set key=value ...] [--check]   run a broker (or only validate its config)
//   skafos broker --help                                          options and every configuration key
//   skafos version | --version
//   skafos help | --help
//
// Exit codes: 0 after a clean shutdown (or --help, version, --check); 1 when the broker fails (startup error,
// uncaught error, failed shutdown); 2 for a usage or configuration error, reported as one line on stderr.
// SIGINT/SIGTERM start a graceful shutdown (the broker's close(), once); a second signal exits at once.
import { parseArgs } from 'node:util';
import { ConfigError, describeConfig, formatConfig, resolveConfig } from '../broker/config.ts';
import type { BrokerConfig } from '../broker/config.ts';
import { createLogger } from '../broker/ops/logger.ts';
import type { Logger } from '../broker/ops/logger.ts';
import packageJson from '../package.json' with { type: 'json' };

const VERSION: string = packageJson.version;

/** What bin/skafos.ts needs from broker/broker.ts. */
interface BrokerModule {
  startBroker(config: BrokerConfig, logger: Logger): Promise<{ close(): Promise<void>; failed?: Promise<Error> }>;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

const USAGE = `Usage: skafos <command> [options]

Commands:
  broker [--config FILE] [--set key=value ...]   run a broker
  version                                        print the version
  help                                           print this help

Run \`skafos broker --help\` for the broker's options and every configuration key.
`;

function brokerUsage(): string {
  const lines = [
    'Usage: skafos broker [--config FILE] [--set key=value ...] [--check]',
    '',
    'Options:',
    "  -c, --config FILE      Java-properties file (the format of Kafka's server.properties)",
    '  -s, --set key=value    set one key; repeatable; the last one for a key wins',
    '      --check            validate the configuration, print the effective values and exit',
    '  -h, --help             print this help',
    '',
    'Precedence, lowest first: defaults < environment variables < --config file < --set.',
    'Every key can come from the environment as SKAFOS_<KEY> (upper case, . -> _, skafos. prefix dropped).',
    '',
    'Configuration keys:',
  ];
  for (const d of describeConfig()) {
    lines.push(`  ${d.key} = ${d.default === '' ? '(none)' : d.default}    [${d.env}]`);
    for (const line of wrap(`${d.doc} Accepts ${d.type}.`, 94)) lines.push(`      ${line}`);
  }
  lines.push('', 'docs/configuration.md has the same reference.');
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') out.push(line);
  return out;
}

function usageError(message: string, hint: string): never {
  process.stderr.write(`skafos: ${oneLine(message)}\n${hint}\n`);
  process.exit(EXIT_USAGE);
}

function oneLine(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'broker':
      return broker(rest);
    case 'version':
    case '--version':
    case '-V':
      process.stdout.write(`skafos ${VERSION}\n`);
      return;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    case undefined:
      process.stderr.write(USAGE);
      return process.exit(EXIT_USAGE);
    default:
      usageError(`unknown command ${JSON.stringify(command)}`, 'Run `skafos --help` for the commands.');
  }
}

async function broker(args: string[]): Promise<void> {
  const values = parseBrokerArgs(args);
  if (values.help) {
    process.stdout.write(brokerUsage());
    return;
  }
  const { config, sources } = resolveOrExit(values);
  if (values.check) {
    process.stdout.write(formatConfig(config));
    return;
  }

  const logger = createLogger({ level: config.logLevel, nodeId: config.nodeId });
  const fatal = (err: unknown, message: string): never => {
    logger.fatal({ err }, message);
    process.exit(EXIT_FAILURE);
  };
  process.on('uncaughtException', (err) => fatal(err, 'uncaught exception'));
  process.on('unhandledRejection', (err) => fatal(err, 'unhandled promise rejection'));
  const shutdown = handleShutdownSignals(logger, fatal);

  const overrides: Record<string, string> = {};
  for (const [key, source] of sources) overrides[key] = source;
  logger.info({ version: VERSION, nodeVersion: process.version, configSources: overrides }, 'starting skafos broker');

  // Loaded only here: --help, version, --check and config errors stay fast and independent of the broker.
  let startBroker: BrokerModule['startBroker'];
  try {
    ({ startBroker } = await import('../broker/broker.ts'));
  } catch (err) {
    fatal(err, 'cannot load the broker');
  }
  if (shutdown.shuttingDown()) {
    logger.info('shut down before the broker started');
    process.exit(EXIT_OK);
  }
  try {
    const broker = await startBroker!(config, logger); // the broker logs its own start
    shutdown.announceRunning(broker);
    // Cluster membership lost (lease expired while paused, or the node id taken over): nothing this process
    // still holds may be acknowledged; it exits so its supervisor starts a fresh incarnation.
    void broker.failed?.then((err) => fatal(err, 'broker can no longer serve; exiting to be restarted'));
  } catch (err) {
    fatal(err, 'broker failed to start');
  }
}

interface BrokerArgs {
  config?: string;
  set?: string[];
  check?: boolean;
  help?: boolean;
}

/** The options of `skafos broker`; a usage error exits with EXIT_USAGE. */
function parseBrokerArgs(args: string[]): BrokerArgs {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        set: { type: 'string', short: 's', multiple: true },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    usageError((err as Error).message, 'Run `skafos broker --help` for the options.');
  }
}

/** The effective configuration; a configuration error exits with EXIT_USAGE. */
function resolveOrExit(values: BrokerArgs): ReturnType<typeof resolveConfig> {
  try {
    return resolveConfig({ file: values.config, sets: values.set ?? [], env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`skafos: ${oneLine(err.message)}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
}

/**
 * Graceful shutdown: the first SIGINT/SIGTERM closes the broker (once startup has announced it running); a
 * second exits now. shuttingDown() tells the startup path a signal came before the broker ran.
 */
function handleShutdownSignals(
  logger: Logger,
  fatal: (err: unknown, message: string) => never,
): { announceRunning(broker: { close(): Promise<void> }): void; shuttingDown(): boolean } {
  let announceRunning!: (broker: { close(): Promise<void> }) => void;
  const running = new Promise<{ close(): Promise<void> }>((resolve) => (announceRunning = resolve));
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting without waiting for shutdown');
      process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down (send the signal again to exit immediately)');
    // Before the broker runs, the startup path sees shuttingDown(); a failed startup exits there.
    void running.then((broker) =>
      broker.close().then(
        () => {
          logger.info('shut down cleanly');
          process.exit(EXIT_OK);
        },
        (err: unknown) => fatal(err, 'shutdown failed'),
      ),
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { announceRunning: (broker) => announceRunning(broker), shuttingDown: () => shuttingDown };
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`skafos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(EXIT_FAILURE);
});
