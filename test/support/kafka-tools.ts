// Kafka's command-line tools (kafka-topics, kafka-configs, kafka-consumer-groups, ...) from the pinned kafka-tools
// jar, run one after another in one JVM (test/java's skafos.tools.ToolRunner) so a test pays the JVM start once.
// Each tool runs as its `bin/kafka-*.sh` script would run it: same main class, same arguments, stdin given, and
// its exit code, stdout and stderr answered.
//
//   const tools = await KafkaTools.start(t);
//   const r = await tools.run('kafka-topics', ['--bootstrap-server', b, '--list']);
//   t.equal(r.exitCode, 0); t.match(r.stdout, /^my-topic$/m);
import type { Test } from 'tap';
import { JavaDriver } from './java-client.ts';

/** The main class behind each `bin/kafka-<name>.sh` script of Apache Kafka 4.x. */
export const toolClasses = {
  'kafka-topics': 'org.apache.kafka.tools.TopicCommand',
  'kafka-configs': 'org.apache.kafka.tools.ConfigCommand',
  'kafka-console-producer': 'org.apache.kafka.tools.ConsoleProducer',
  'kafka-console-consumer': 'org.apache.kafka.tools.consumer.ConsoleConsumer',
  'kafka-consumer-groups': 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
  'kafka-get-offsets': 'org.apache.kafka.tools.GetOffsetShell',
  'kafka-delete-records': 'org.apache.kafka.tools.DeleteRecordsCommand',
  'kafka-transactions': 'org.apache.kafka.tools.TransactionsCommand',
  'kafka-producer-perf-test': 'org.apache.kafka.tools.ProducerPerformance',
  'kafka-consumer-perf-test': 'org.apache.kafka.tools.ConsumerPerformance',
  'kafka-acls': 'org.apache.kafka.tools.AclCommand',
} as const;

export type ToolName = keyof typeof toolClasses;

export interface ToolResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const defaultToolTimeoutMs = 60_000;

export class KafkaTools {
  private readonly driver: JavaDriver;

  private constructor(driver: JavaDriver) {
    this.driver = driver;
  }

  static async start(t: Test): Promise<KafkaTools> {
    return new KafkaTools(await JavaDriver.start(t, 'skafos.tools.ToolRunner'));
  }

  /** Runs `bin/<tool>.sh args` with `stdin`; bounded by timeoutMs (the runner exits if a tool outlives it). */
  run(tool: ToolName, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<ToolResult> {
    const timeoutMs = opts.timeoutMs ?? defaultToolTimeoutMs;
    return this.driver.call<ToolResult>('tool', { tool: toolClasses[tool], args, stdin: opts.stdin ?? '', timeoutMs }, timeoutMs + 10_000);
  }

  /** Like run, but fails with the tool's output unless it exits with 0. */
  async ok(tool: ToolName, args: string[], opts: { stdin?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.run(tool, args, opts);
    if (r.exitCode !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.exitCode}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }
}
