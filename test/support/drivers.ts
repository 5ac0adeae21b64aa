// One interface over the five real clients, so every client runs the same produce/consume scenarios.
import type { ConsumedRecord, Delivery, TestRecord } from './records.ts';
import { describeRun, jsonLines, pythonClient } from './run.ts';
import { kcatConsume, kcatProduce } from './kcat.ts';
import { kafkajsClient, kafkajsFetch, kafkajsProduce, platformaticFetch, platformaticProduce } from './js-clients.ts';
import { Admin as PlatformaticAdmin, Consumer as PlatformaticConsumer } from '@platformatic/kafka';

export interface ProduceOutcome {
  /** Per record, when the client reports it (kcat does not). */
  deliveries: Delivery[] | null;
  /** Error names of failed records (or of the whole run). */
  errors: string[];
  /** Diagnostics for assertion messages. */
  detail: string;
}

export interface ProduceOpts {
  codec?: string;
  /** Client-specific settings (e.g. raise the client's own size limit, batch settings). */
  props?: Record<string, string | number>;
  kind?: 'normal' | 'large' | 'tiny';
}

export interface ClientDriver {
  name: string;
  codecs: string[];
  /** kcat sends one header set for all the records of a run. */
  fixedHeaders?: [string, string][];
  /**
   * The JS drivers derive each record's offset from the per-partition base offsets of a send, so their records
   * name their partition, and their topics are created up front (they do not auto-create). The others let the
   * client's partitioner choose and rely on auto-creation (num.partitions).
   */
  explicitPartitions?: boolean;
  produce(bootstrap: string, topic: string, records: TestRecord[], opts?: ProduceOpts): Promise<ProduceOutcome>;
  /** Reads each partition from its start offset to the high watermark. */
  consume(bootstrap: string, topic: string, starts: Map<number, number>): Promise<ConsumedRecord[]>;
  /** The name this client gives the broker's MESSAGE_TOO_LARGE (10) error. */
  tooLarge: RegExp;
  /** Client settings that let a record above the broker's limit leave the client (its own check is lower). */
  largeProps: Record<string, string | number>;
  /** Client settings for one batch of 10,000 tiny records. */
  tinyProps: Record<string, string | number>;
}

const allCodecs = ['gzip', 'snappy', 'lz4', 'zstd'];

export const kcatDriver: ClientDriver = {
  name: 'kcat',
  codecs: allCodecs,
  fixedHeaders: [
    ['client', 'kcat'],
    ['tag', 'é'],
  ],
  async produce(bootstrap, topic, records, opts = {}) {
    const p = records[0]?.p;
    const partition = p !== undefined && records.every((r) => r.p === p) ? p : undefined;
    if (partition === undefined && records.some((r) => r.p !== undefined))
      throw new Error('kcat sends all records of a run to one partition or lets the partitioner choose');
    const r = await kcatProduce(bootstrap, topic, records, { codec: opts.codec, headers: this.fixedHeaders, props: opts.props, partition });
    const errors = r.code === 0 ? [] : [...r.stderr.matchAll(/Delivery failed for message: (.*)/g)].map((m) => m[1]!);
    if (r.code !== 0 && errors.length === 0) errors.push(`kcat exit ${r.code}`);
    return { deliveries: null, errors, detail: describeRun(r) };
  },
  async consume(bootstrap, topic, starts) {
    const out: ConsumedRecord[] = [];
    for (const [p, from] of starts) {
      const { run, records } = await kcatConsume(bootstrap, topic, [p], { offset: String(from) });
      if (run.code !== 0) throw new Error(`kcat consume failed: ${describeRun(run)}`);
      out.push(...records);
    }
    return out;
  },
  tooLarge: /Broker: Message size too large/,
  largeProps: { 'message.max.bytes': 5_000_000 },
  tinyProps: { 'linger.ms': 2000, 'batch.num.messages': 10000, 'batch.size': 1_000_000 },
};

function pythonDriver(
  name: string,
  script: string,
  consumerProps: Record<string, unknown>,
): Omit<ClientDriver, 'tooLarge' | 'largeProps' | 'tinyProps' | 'codecs'> {
  return {
    name,
    async produce(bootstrap, topic, records, opts = {}) {
      const config: Record<string, unknown> = { ...opts.props };
      if (opts.codec) config[script.startsWith('confluent') ? 'compression.type' : 'compression_type'] = opts.codec;
      const r = await pythonClient(script, { op: 'produce', bootstrap, topic, records, config, timeout: 45 }, { timeoutMs: 90_000 });
      const lines = r.code === 0 ? jsonLines(r.stdout) : [];
      const deliveries = lines.filter((l) => l.i !== undefined) as Delivery[];
      deliveries.sort((a, b) => a.i - b.i);
      const errors = deliveries.filter((d) => d.err).map((d) => `${d.err}: ${d.msg ?? ''}`);
      if (r.code !== 0) errors.push(`${script} exit ${r.code}`);
      return { deliveries, errors, detail: describeRun(r) };
    },
    async consume(bootstrap, topic, starts) {
      const partitions: Record<string, [number, null]> = {};
      for (const [p, from] of starts) partitions[String(p)] = [from, null];
      const r = await pythonClient(
        script,
        { op: 'consume', bootstrap, topic, partitions, timeout: 45, config: consumerProps },
        { timeoutMs: 90_000 },
      );
      if (r.code !== 0) throw new Error(`${script} consume failed: ${describeRun(r)}`);
      const lines = jsonLines(r.stdout);
      const done = lines.find((l) => l.done);
      if (!done?.complete) throw new Error(`${script} consume incomplete: ${describeRun(r)}`);
      return lines.filter((l) => l.o !== undefined) as ConsumedRecord[];
    },
  };
}

export const confluentDriver: ClientDriver = {
  ...pythonDriver('confluent-kafka-python', 'confluent_client.py', { 'fetch.message.max.bytes': 2_000_000 }),
  codecs: allCodecs,
  tooLarge: /MSG_SIZE_TOO_LARGE: Broker: Message size too large/,
  largeProps: { 'message.max.bytes': 5_000_000 },
  tinyProps: { 'linger.ms': 2000, 'batch.num.messages': 10000, 'batch.size': 1_000_000 },
};

export const kafkaPythonDriver: ClientDriver = {
  ...pythonDriver('kafka-python', 'kafka_python_client.py', { max_partition_fetch_bytes: 2_000_000 }),
  codecs: allCodecs,
  // Raised by the produce future, i.e. from the broker's response (the client's own check is in send()).
  tooLarge: /MessageSizeTooLargeError/,
  largeProps: { max_request_size: 5_000_000 },
  tinyProps: { linger_ms: 2000, batch_size: 1_000_000 },
};

export const kafkajsDriver: ClientDriver = {
  name: 'kafkajs',
  codecs: allCodecs,
  explicitPartitions: true,
  async produce(bootstrap, topic, records, opts = {}) {
    const kafka = kafkajsClient(bootstrap);
    const deliveries = await kafkajsProduce(kafka, topic, records, {
      codec: opts.codec,
      chunk: opts.kind === 'tiny' ? records.length : 500,
    });
    const errors = deliveries.filter((d) => d.err).map((d) => `${d.err}: ${d.msg}`);
    return { deliveries, errors, detail: JSON.stringify(errors.slice(0, 3)) };
  },
  async consume(bootstrap, topic, starts) {
    const kafka = kafkajsClient(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    let ends;
    try {
      ends = await admin.fetchTopicOffsets(topic);
    } finally {
      await admin.disconnect();
    }
    const ranges = new Map<number, [number, number]>();
    for (const [p, from] of starts) ranges.set(p, [from, Number(ends.find((e) => e.partition === p)!.high)]);
    return kafkajsFetch(kafka, topic, ranges);
  },
  tooLarge: /MESSAGE_TOO_LARGE/,
  largeProps: {},
  tinyProps: {},
};

/** High watermarks through @platformatic/kafka's ListOffsets. */
async function platformaticEnds(bootstrap: string, topic: string, partitions: number[]): Promise<Map<number, number>> {
  const consumer = new PlatformaticConsumer({
    clientId: 'skafos-it-platformatic',
    groupId: 'skafos-it-unused',
    bootstrapBrokers: [bootstrap],
    retries: 3,
    retryDelay: 100,
  });
  try {
    const offsets = await consumer.listOffsets({ topics: [topic] });
    const list = offsets.get(topic)!;
    return new Map(partitions.map((p) => [p, Number(list[p])]));
  } finally {
    await consumer.close(true);
  }
}

export const platformaticDriver: ClientDriver = {
  name: '@platformatic/kafka',
  codecs: allCodecs,
  explicitPartitions: true,
  async produce(bootstrap, topic, records, opts = {}) {
    const deliveries = await platformaticProduce(bootstrap, topic, records, {
      codec: opts.codec,
      chunk: opts.kind === 'tiny' ? records.length : 500,
    });
    const errors = deliveries.filter((d) => d.err).map((d) => `${d.err}: ${d.msg}`);
    return { deliveries, errors, detail: JSON.stringify(errors.slice(0, 3)) };
  },
  async consume(bootstrap, topic, starts) {
    const ends = await platformaticEnds(bootstrap, topic, [...starts.keys()]);
    const ranges = new Map<number, [number, number]>();
    for (const [p, from] of starts) ranges.set(p, [from, ends.get(p)!]);
    return platformaticFetch(bootstrap, topic, ranges);
  },
  tooLarge: /MESSAGE_TOO_LARGE/,
  largeProps: {},
  tinyProps: {},
};

/** Creates topics with @platformatic/kafka's admin (used by the JS drivers' scenarios). */
export async function platformaticCreateTopic(bootstrap: string, topic: string, partitions: number): Promise<void> {
  const admin = new PlatformaticAdmin({ clientId: 'skafos-it-admin', bootstrapBrokers: [bootstrap], retries: 3, retryDelay: 100 });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}
