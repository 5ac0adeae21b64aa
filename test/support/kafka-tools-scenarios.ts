// Kafka's command-line tools (test/support/kafka-tools.ts) against any broker given by its bootstrap address:
// Skafos (test/integration/kafka-tools.test.ts) and Apache Kafka itself (kafka-tools-apache-kafka.test.ts), which
// keeps the expectations honest: what a scenario asserts of a tool's output is what the tool prints against Kafka.
// Every command's output is checked, not only its exit code.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { kafkajsClient } from './js-clients.ts';
import { KafkaTools } from './kafka-tools.ts';

export interface ToolScenario {
  name: string;
  run: (t: Test, tools: KafkaTools, bootstrap: string) => Promise<void>;
}

const suffix = randomBytes(4).toString('hex');

/** Runs `fn` until it returns a value other than undefined; fails after timeoutMs naming `what`. */
async function poll<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** The rows of a whitespace-aligned table printed by kafka-consumer-groups, keyed by its header's columns. */
export function tableRows(text: string, firstColumn: string): Record<string, string>[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const at = lines.findIndex((l) => l.trim().startsWith(firstColumn));
  if (at < 0) return [];
  const header = lines[at]!.trim().split(/\s+/);
  return lines.slice(at + 1).map((l) => {
    const cells = l.trim().split(/\s+/);
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-tools-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// kafka-topics

async function topics(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-topics-${suffix}`;
  const bs = ['--bootstrap-server', b];
  t.match(
    await tools.ok('kafka-topics', [
      ...bs,
      '--create',
      '--topic',
      topic,
      '--partitions',
      '3',
      '--replication-factor',
      '1',
      '--config',
      'retention.ms=3600000',
    ]),
    new RegExp(`^Created topic ${topic}\\.$`, 'm'),
    'create says so',
  );
  await poll('the topic listed', 30_000, async () => {
    const list = await tools.ok('kafka-topics', [...bs, '--list']);
    return list.split('\n').includes(topic) ? true : undefined;
  });
  const describe = await tools.ok('kafka-topics', [...bs, '--describe', '--topic', topic]);
  t.match(
    describe,
    new RegExp(`^Topic: ${topic}\\tTopicId: \\S+\\tPartitionCount: 3\\tReplicationFactor: 1\\tConfigs: .*retention\\.ms=3600000`, 'm'),
  );
  const partitionLines = describe.split('\n').filter((l) => /^\tTopic: /.test(l));
  t.equal(partitionLines.length, 3, 'one line a partition');
  for (const [i, l] of partitionLines.entries())
    t.match(l, new RegExp(`^\\tTopic: ${topic}\\tPartition: ${i}\\tLeader: \\d+\\tReplicas: \\d+\\tIsr: \\d+`));

  const again = await tools.run('kafka-topics', [...bs, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']);
  t.equal(again.exitCode, 1, 'creating it again fails');
  t.match(again.stdout + again.stderr, /already exists/, 'because it exists');
  const exists = await tools.ok('kafka-topics', [
    ...bs,
    '--create',
    '--if-not-exists',
    '--topic',
    topic,
    '--partitions',
    '1',
    '--replication-factor',
    '1',
  ]);
  t.notMatch(exists, /Created topic/, '--if-not-exists creates nothing');

  await tools.ok('kafka-topics', [...bs, '--alter', '--topic', topic, '--partitions', '5']);
  await poll('5 partitions described', 30_000, async () => {
    const d = await tools.ok('kafka-topics', [...bs, '--describe', '--topic', topic]);
    return /PartitionCount: 5\t/.test(d) ? true : undefined;
  });
  const fewer = await tools.run('kafka-topics', [...bs, '--alter', '--topic', topic, '--partitions', '2']);
  t.equal(fewer.exitCode, 1, 'decreasing partitions fails');
  t.match(fewer.stdout + fewer.stderr, /would not be an increase/);

  const missing = await tools.run('kafka-topics', [...bs, '--describe', '--topic', `no-such-${suffix}`]);
  t.equal(missing.exitCode, 1, 'describing a missing topic fails');
  t.match(missing.stdout + missing.stderr, /does not exist|UnknownTopicOrPartition/);

  await tools.ok('kafka-topics', [...bs, '--delete', '--topic', topic]);
  await poll('the topic gone from the list', 30_000, async () => {
    const list = await tools.ok('kafka-topics', [...bs, '--list']);
    return list.split('\n').includes(topic) ? undefined : true;
  });
  t.pass('deleted');
}

// ---------------------------------------------------------------------------------------------------------
// kafka-configs

async function configs(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-configs-${suffix}`;
  const bs = ['--bootstrap-server', b];
  await tools.ok('kafka-topics', [...bs, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']);
  const entity = ['--entity-type', 'topics', '--entity-name', topic];
  t.match(
    await tools.ok('kafka-configs', [...bs, ...entity, '--alter', '--add-config', 'retention.ms=7200000,max.message.bytes=200000']),
    new RegExp(`Completed updating config for topic ${topic}\\.`),
  );
  const described = await poll('the new configs described', 30_000, async () => {
    const d = await tools.ok('kafka-configs', [...bs, ...entity, '--describe']);
    return /retention\.ms=7200000/.test(d) && /max\.message\.bytes=200000/.test(d) ? d : undefined;
  });
  t.match(described, new RegExp(`Dynamic configs for topic ${topic} are:`));
  t.match(described, /^\s+retention\.ms=7200000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention\.ms=7200000/m);

  await tools.ok('kafka-configs', [...bs, ...entity, '--alter', '--delete-config', 'max.message.bytes']);
  const after = await poll('max.message.bytes gone', 30_000, async () => {
    const d = await tools.ok('kafka-configs', [...bs, ...entity, '--describe']);
    return /max\.message\.bytes=/.test(d) ? undefined : d;
  });
  t.match(after, /retention\.ms=7200000/, 'the other config stays');

  const all = await tools.ok('kafka-configs', [...bs, ...entity, '--describe', '--all']);
  t.match(all, /All configs for topic/);
  t.match(
    all,
    /^\s+cleanup\.policy=delete sensitive=false synonyms=\{.*DEFAULT_CONFIG:log\.cleanup\.policy=delete/m,
    'defaults with their synonyms',
  );

  const bad = await tools.run('kafka-configs', [...bs, ...entity, '--alter', '--add-config', 'retention.ms=soon']);
  t.not(bad.exitCode, 0, 'an invalid value is refused');
  t.match(bad.stdout + bad.stderr, /InvalidConfigurationException|Invalid value|invalid/i);
  const unknown = await tools.run('kafka-configs', [...bs, ...entity, '--alter', '--add-config', 'no.such.config=1']);
  t.not(unknown.exitCode, 0, 'an unknown config is refused');

  const brokers = await tools.ok('kafka-configs', [...bs, '--entity-type', 'brokers', '--entity-default', '--describe']);
  t.match(brokers, /Default configs for brokers in the cluster are:/);
  const broker = await tools.ok('kafka-configs', [
    ...bs,
    '--entity-type',
    'brokers',
    '--describe',
    '--all',
    '--entity-name',
    await firstBrokerId(tools, b),
  ]);
  t.match(broker, /^\s+num\.partitions=\d+ sensitive=false/m, 'a broker describes its static configs');
  await tools.ok('kafka-topics', [...bs, '--delete', '--topic', topic]);
}

async function firstBrokerId(tools: KafkaTools, b: string): Promise<string> {
  // kafka-topics --describe of any topic names leaders; kafka-broker-api-versions is not among the tools, so
  // read the id off a partition line.
  const topic = `tools-broker-id-${suffix}`;
  await tools.run('kafka-topics', [
    '--bootstrap-server',
    b,
    '--create',
    '--if-not-exists',
    '--topic',
    topic,
    '--partitions',
    '1',
    '--replication-factor',
    '1',
  ]);
  return poll('a leader', 30_000, async () => {
    const d = await tools.ok('kafka-topics', ['--bootstrap-server', b, '--describe', '--topic', topic]);
    return /Leader: (\d+)/.exec(d)?.[1];
  });
}

// ---------------------------------------------------------------------------------------------------------
// kafka-console-producer, kafka-console-consumer, kafka-get-offsets, kafka-consumer-groups, kafka-delete-records

async function produceConsumeGroups(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-console-${suffix}`;
  const group = `tools-group-${suffix}`;
  const bs = ['--bootstrap-server', b];
  await tools.ok('kafka-topics', [...bs, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']);
  const lines = Array.from({ length: 10 }, (_, i) => `k${i}:v${i}`);
  await tools.ok('kafka-console-producer', [...bs, '--topic', topic, '--property', 'parse.key=true', '--property', 'key.separator=:'], {
    stdin: `${lines.join('\n')}\n`,
  });

  const offsets = await tools.ok('kafka-get-offsets', [...bs, '--topic', topic, '--time', '-1']);
  t.equal(offsets.trim(), `${topic}:0:10`, 'latest offset 10');
  t.equal((await tools.ok('kafka-get-offsets', [...bs, '--topic', topic, '--time', '-2'])).trim(), `${topic}:0:0`, 'earliest 0');
  t.equal((await tools.ok('kafka-get-offsets', [...bs, '--topic', topic, '--time', 'latest'])).trim(), `${topic}:0:10`, 'latest by name');

  const consumed = await tools.run(
    'kafka-console-consumer',
    [
      ...bs,
      '--topic',
      topic,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      '10',
      '--formatter-property',
      'print.key=true',
      '--formatter-property',
      'key.separator=:',
      '--timeout-ms',
      '30000',
    ],
    { timeoutMs: 60_000 },
  );
  t.equal(consumed.exitCode, 0, 'the console consumer ends after --max-messages');
  t.same(consumed.stdout.trim().split('\n'), lines, 'every record, in order, with its key');
  t.match(consumed.stderr, /Processed a total of 10 messages/);

  const listed = await tools.ok('kafka-consumer-groups', [...bs, '--list']);
  t.ok(listed.split('\n').includes(group), 'the group is listed');
  const described = await tools.ok('kafka-consumer-groups', [...bs, '--describe', '--group', group]);
  const rows = tableRows(described, 'GROUP');
  t.equal(rows.length, 1, 'one partition row');
  t.match(rows[0], { GROUP: group, TOPIC: topic, PARTITION: '0', 'CURRENT-OFFSET': '10', 'LOG-END-OFFSET': '10', LAG: '0' });
  t.match(rows[0], { 'CONSUMER-ID': '-', HOST: '-', 'CLIENT-ID': '-' }, 'the consumer has left');

  const reset = (strategy: string[], execute = true) =>
    tools.ok('kafka-consumer-groups', [
      ...bs,
      '--group',
      group,
      '--topic',
      topic,
      '--reset-offsets',
      ...strategy,
      execute ? '--execute' : '--dry-run',
    ]);
  const offsetAfter = (text: string) => tableRows(text, 'GROUP')[0]?.['NEW-OFFSET'];
  t.equal(offsetAfter(await reset(['--to-earliest'])), '0', '--to-earliest');
  t.equal(offsetAfter(await reset(['--to-latest'])), '10', '--to-latest');
  t.equal(offsetAfter(await reset(['--to-offset', '4'])), '4', '--to-offset');
  t.equal(offsetAfter(await reset(['--shift-by', '3'])), '7', '--shift-by +3');
  t.equal(offsetAfter(await reset(['--shift-by', '-2'])), '5', '--shift-by -2');
  t.equal(offsetAfter(await reset(['--to-current'])), '5', '--to-current');
  t.equal(offsetAfter(await reset(['--shift-by', '100'])), '10', '--shift-by past the end stops at the end');
  t.equal(offsetAfter(await reset(['--to-offset', '2'], false)), '2', '--dry-run answers the plan');
  t.match(
    tableRows(await tools.ok('kafka-consumer-groups', [...bs, '--describe', '--group', group]), 'GROUP')[0],
    { 'CURRENT-OFFSET': '10' },
    'a dry run changes nothing',
  );
  t.equal(offsetAfter(await reset(['--to-datetime', '2000-01-01T00:00:00.000'])), '0', '--to-datetime before every record');
  t.equal(offsetAfter(await reset(['--to-datetime', '2999-01-01T00:00:00.000'])), '10', '--to-datetime after every record');
  t.equal(offsetAfter(await reset(['--by-duration', 'PT1H'])), '0', '--by-duration an hour back');
  const dir = tempDir(t);
  const file = join(dir, 'offsets.csv');
  writeFileSync(file, `${topic},0,6\n`);
  t.equal(offsetAfter(await reset(['--from-file', file])), '6', '--from-file');
  t.match(
    tableRows(await tools.ok('kafka-consumer-groups', [...bs, '--describe', '--group', group]), 'GROUP')[0],
    { 'CURRENT-OFFSET': '6', LAG: '4' },
    'the lag follows',
  );

  const deleted = await tools.ok('kafka-delete-records', [
    ...bs,
    '--offset-json-file',
    writeJson(dir, { partitions: [{ topic, partition: 0, offset: 3 }], version: 1 }),
  ]);
  t.match(deleted, new RegExp(`partition: ${topic}-0\\s+low_watermark: 3`), 'delete-records reports the new low watermark');
  t.equal((await tools.ok('kafka-get-offsets', [...bs, '--topic', topic, '--time', '-2'])).trim(), `${topic}:0:3`, 'earliest moved');
  const beyond = await tools.ok('kafka-delete-records', [
    ...bs,
    '--offset-json-file',
    writeJson(dir, { partitions: [{ topic, partition: 0, offset: 99 }], version: 1 }),
  ]);
  t.match(beyond, /OffsetOutOfRangeException|error/i, 'beyond the high watermark is an error per partition');

  t.match(
    await tools.ok('kafka-consumer-groups', [...bs, '--delete', '--group', group]),
    new RegExp(`Deletion of requested consumer groups \\('${group}'\\) was successful`),
  );
  t.notOk((await tools.ok('kafka-consumer-groups', [...bs, '--list'])).split('\n').includes(group), 'the group is gone');
  const gone = await tools.run('kafka-consumer-groups', [...bs, '--describe', '--group', group]);
  t.match(gone.stdout + gone.stderr, /Group \S+ not found/, 'describing a deleted group says it is not found');
  await tools.ok('kafka-topics', [...bs, '--delete', '--topic', topic]);
}

function writeJson(dir: string, value: unknown): string {
  const file = join(dir, `${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// kafka-transactions

async function transactions(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-txn-${suffix}`;
  const txnId = `tools-txn-id-${suffix}`;
  const bs = ['--bootstrap-server', b];
  await tools.ok('kafka-topics', [...bs, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1']);
  const producer = kafkajsClient(b, 'skafos-tools').producer({ transactionalId: txnId, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const txn = await producer.transaction();
  await txn.send({ topic, messages: [{ key: 'a', value: '1' }] });

  const listed = await tools.ok('kafka-transactions', [...bs, 'list']);
  const row = tableRows(listed, 'TransactionalId').find((r) => r.TransactionalId === txnId);
  t.match(row, { TransactionState: 'Ongoing' }, 'list shows the ongoing transaction');
  const described = await tools.ok('kafka-transactions', [...bs, 'describe', '--transactional-id', txnId]);
  const d = tableRows(described, 'CoordinatorId')[0];
  t.match(d, { TransactionalId: txnId, TransactionState: 'Ongoing' }, 'describe names its state');
  t.match(described, new RegExp(`${topic}-0`), 'and its partition');
  const producers = await tools.ok('kafka-transactions', [...bs, 'describe-producers', '--topic', topic, '--partition', '0']);
  t.match(tableRows(producers, 'ProducerId')[0], { LastSequence: '0' }, 'describe-producers shows the producer');
  const hanging = await tools.ok('kafka-transactions', [...bs, 'find-hanging', '--broker-id', await leaderOf(tools, b, topic)]);
  t.notMatch(hanging, new RegExp(`${topic}\\s`), 'a fresh transaction is not hanging');

  await txn.commit();
  const after = await poll('the transaction complete', 30_000, async () => {
    const text = await tools.ok('kafka-transactions', [...bs, 'describe', '--transactional-id', txnId]);
    const state = tableRows(text, 'CoordinatorId')[0]?.TransactionState;
    return state === 'CompleteCommit' || state === 'Empty' ? state : undefined;
  });
  t.equal(after, 'CompleteCommit', 'describe after commit');
  const unknown = await tools.run('kafka-transactions', [...bs, 'describe', '--transactional-id', `no-such-${suffix}`]);
  t.not(unknown.exitCode, 0, 'describing an unknown transactional id fails');
  t.match(unknown.stdout + unknown.stderr, /because the ID could not be found/);
  await tools.ok('kafka-topics', [...bs, '--delete', '--topic', topic]);
}

async function leaderOf(tools: KafkaTools, b: string, topic: string): Promise<string> {
  return poll('a leader', 30_000, async () => {
    const d = await tools.ok('kafka-topics', ['--bootstrap-server', b, '--describe', '--topic', topic]);
    return /Leader: (\d+)/.exec(d)?.[1];
  });
}

// ---------------------------------------------------------------------------------------------------------
// kafka-producer-perf-test, kafka-consumer-perf-test

async function perfTests(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-perf-${suffix}`;
  const bs = ['--bootstrap-server', b];
  await tools.ok('kafka-topics', [...bs, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1']);
  const produced = await tools.ok(
    'kafka-producer-perf-test',
    [
      '--topic',
      topic,
      '--num-records',
      '5000',
      '--record-size',
      '200',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${b}`,
      'acks=all',
    ],
    { timeoutMs: 120_000 },
  );
  t.match(
    produced,
    /^5000 records sent, [\d.]+ records\/sec \([\d.]+ MB\/sec\), [\d.]+ ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$/m,
  );
  t.equal(
    (await tools.ok('kafka-get-offsets', [...bs, '--topic', topic, '--time', '-1']))
      .trim()
      .split('\n')
      .map((l) => Number(l.split(':')[2]))
      .reduce((a, n) => a + n, 0),
    5000,
    'every record is in the log',
  );
  const consumed = await tools.ok(
    'kafka-consumer-perf-test',
    [...bs, '--topic', topic, '--messages', '5000', '--timeout', '30000', '--group', `tools-perf-${suffix}`],
    {
      timeoutMs: 120_000,
    },
  );
  const [header, values] = consumed.trim().split('\n').slice(-2);
  t.match(header, /^start\.time, end\.time, data\.consumed\.in\.MB, MB\.sec, data\.consumed\.in\.nMsg, nMsg\.sec/);
  const nMsg = Number(values!.split(',')[4]);
  t.equal(nMsg, 5000, 'the consumer read every record');
  await tools.ok('kafka-topics', [...bs, '--delete', '--topic', topic]);
}

// ---------------------------------------------------------------------------------------------------------
// kafka-acls (the brokers run an authorizer with User:ANONYMOUS, every PLAINTEXT client, as a super user)

async function acls(t: Test, tools: KafkaTools, b: string): Promise<void> {
  const topic = `tools-acl-${suffix}`;
  const bs = ['--bootstrap-server', b];
  const added = await tools.ok('kafka-acls', [
    ...bs,
    '--add',
    '--allow-principal',
    'User:alice',
    '--operation',
    'Read',
    '--operation',
    'Describe',
    '--topic',
    topic,
  ]);
  t.match(added, new RegExp(`Adding ACLs for resource \`ResourcePattern\\(resourceType=TOPIC, name=${topic}, patternType=LITERAL\\)\``));
  t.match(added, /\(principal=User:alice, host=\*, operation=READ, permissionType=ALLOW\)/);
  t.match(added, /\(principal=User:alice, host=\*, operation=DESCRIBE, permissionType=ALLOW\)/);

  await tools.ok('kafka-acls', [
    ...bs,
    '--add',
    '--producer',
    '--allow-principal',
    'User:bob',
    '--topic',
    `${topic}-`,
    '--resource-pattern-type',
    'prefixed',
  ]);
  await tools.ok('kafka-acls', [
    ...bs,
    '--add',
    '--deny-principal',
    'User:mallory',
    '--deny-host',
    '10.0.0.1',
    '--operation',
    'All',
    '--group',
    `${topic}-group`,
  ]);
  const listed = await poll('the ACLs listed', 30_000, async () => {
    const out = await tools.ok('kafka-acls', [...bs, '--list']);
    return /User:alice/.test(out) && /User:bob/.test(out) && /User:mallory/.test(out) ? out : undefined;
  });
  t.match(listed, new RegExp(`ResourcePattern\\(resourceType=TOPIC, name=${topic}-, patternType=PREFIXED\\)`), 'the prefixed pattern');
  for (const op of ['WRITE', 'DESCRIBE', 'CREATE'])
    t.match(listed, new RegExp(`\\(principal=User:bob, host=\\*, operation=${op}, permissionType=ALLOW\\)`), `--producer gives ${op}`);
  t.match(listed, /\(principal=User:mallory, host=10\.0\.0\.1, operation=ALL, permissionType=DENY\)/, 'the deny on the group');

  const forTopic = await tools.ok('kafka-acls', [...bs, '--list', '--topic', topic]);
  t.match(
    forTopic,
    new RegExp(`Current ACLs for resource \`ResourcePattern\\(resourceType=TOPIC, name=${topic}, patternType=LITERAL\\)\`:`),
  );
  t.notMatch(forTopic, /User:bob/, 'a literal listing leaves the prefixed pattern out');
  const matching = await tools.ok('kafka-acls', [...bs, '--list', '--topic', `${topic}-x`, '--resource-pattern-type', 'match']);
  t.match(matching, /User:bob/, 'a match listing finds the prefixed pattern');

  await tools.ok('kafka-acls', [...bs, '--remove', '--force', '--allow-principal', 'User:alice', '--operation', 'Read', '--topic', topic]);
  const left = await poll('READ removed', 30_000, async () => {
    const out = await tools.ok('kafka-acls', [...bs, '--list', '--topic', topic]);
    return /operation=READ/.test(out) ? undefined : out;
  });
  t.match(left, /operation=DESCRIBE/, 'the other ACL stays');
  await tools.ok('kafka-acls', [...bs, '--remove', '--force', '--topic', topic]);
  await tools.ok('kafka-acls', [...bs, '--remove', '--force', '--topic', `${topic}-`, '--resource-pattern-type', 'prefixed']);
  await tools.ok('kafka-acls', [...bs, '--remove', '--force', '--group', `${topic}-group`]);
  await poll('every ACL removed', 30_000, async () => {
    const out = await tools.ok('kafka-acls', [...bs, '--list']);
    return /User:(alice|bob|mallory)/.test(out) ? undefined : true;
  });
  const bad = await tools.run('kafka-acls', [...bs, '--add', '--allow-principal', 'alice', '--operation', 'Read', '--topic', topic]);
  t.not(bad.exitCode, 0, 'a principal without its type is refused');
}

/** Broker settings under which the scenarios run: an authorizer, PLAINTEXT clients (User:ANONYMOUS) super users. */
export const toolBrokerSettings = {
  'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'super.users': 'User:ANONYMOUS',
};

export const toolScenarios: ToolScenario[] = [
  { name: 'kafka-topics: create, list, describe, alter, delete and their errors', run: topics },
  { name: 'kafka-configs: topic configs added, described, deleted; broker configs described', run: configs },
  {
    name: 'console producer and consumer, get-offsets, consumer-groups with every reset strategy, delete-records',
    run: produceConsumeGroups,
  },
  { name: 'kafka-transactions: list, describe, describe-producers, find-hanging', run: transactions },
  { name: 'kafka-producer-perf-test and kafka-consumer-perf-test', run: perfTests },
  { name: 'kafka-acls: add (with --producer, prefixed and deny), list (literal and match), remove', run: acls },
];

/** Runs every scenario against `bootstrap`, one tool JVM for all. */
export async function runToolScenarios(t: Test, bootstrap: string): Promise<void> {
  const tools = await KafkaTools.start(t);
  for (const s of toolScenarios) await t.test(s.name, (tt) => s.run(tt, tools, bootstrap));
}
