// kcat -G (librdkafka's balanced consumer) against a broker process: two members split a topic, read it to
// the end and commit; a third run of the group finds nothing left to read.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { describeRun, kcat } from '../support/run.ts';
import { checkAllConsumed, committedOffsets, fillTopic, groupBrokerSets } from '../support/groups.ts';

const partitions = 4;
const perPartition = 20;

function groupRun(bootstrap: string, group: string, topic: string) {
  return kcat(
    [
      '-b',
      bootstrap,
      '-G',
      group,
      topic,
      '-f',
      '%p:%o\\n',
      '-e',
      '-q',
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'session.timeout.ms=6000',
      '-X',
      'heartbeat.interval.ms=300',
      '-X',
      'auto.commit.interval.ms=100',
      '-X',
      'enable.partition.eof=true',
    ],
    { timeoutMs: 40_000 },
  );
}

function parse(stdout: string): { p: number; o: number }[] {
  return stdout
    .split('\n')
    .filter((l) => /^\d+:\d+$/.test(l))
    .map((l) => {
      const [p, o] = l.split(':').map(Number);
      return { p: p!, o: o! };
    });
}

t.test('kcat -G balanced consumer', async (t) => {
  const broker = await startBroker(t, { sets: groupBrokerSets });
  const topic = 'kcat-group';
  const group = 'kcat-g';
  await fillTopic(broker.port, topic, partitions, perPartition);
  const runs = await Promise.all([groupRun(broker.bootstrap, group, topic), groupRun(broker.bootstrap, group, topic)]);
  for (const r of runs) t.equal(r.code, 0, describeRun(r));
  const records = runs.map((r) => parse(r.stdout));
  checkAllConsumed(t, records.flat(), partitions, perPartition, 'two kcat members');
  t.ok(
    records.every((rs) => rs.length > 0),
    `both members consumed: ${records.map((rs) => rs.length)}`,
  );
  const dupes = records.flat().length - new Set(records.flat().map((r) => `${r.p}:${r.o}`)).size;
  t.equal(dupes, 0, 'no record consumed by both members');
  t.same(await committedOffsets(broker.port, group, topic, partitions), Array(partitions).fill(perPartition), 'offsets committed');
  const again = await groupRun(broker.bootstrap, group, topic);
  t.same(parse(again.stdout), [], `a new member resumes from the committed offsets: ${describeRun(again)}`);
});
