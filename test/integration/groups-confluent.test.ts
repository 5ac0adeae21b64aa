// confluent-kafka-python (librdkafka) consumer groups against a broker process: two members with the range
// and the cooperative-sticky assignors share a topic, committing as they go; a static member
// (group.instance.id) restarts and rejoins without a rebalance.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';
import { checkAllConsumed, checkExclusiveCover, committedOffsets, describeGroup, fillTopic, groupBrokerSets } from '../support/groups.ts';

const partitions = 4;
const perPartition = 20;

async function runMembers(
  bootstrap: string,
  topic: string,
  group: string,
  assignor: string,
  n: number,
  runS: number,
  instanceIds: (string | null)[] = [],
) {
  // Every member reports its assignment at the same moment, while all of them are still in the group.
  const reportAt = Date.now() / 1000 + runS;
  const runs = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      pythonClient(
        'group_consumer.py',
        {
          client: 'confluent',
          bootstrap,
          topic,
          group,
          assignor,
          report_at: reportAt,
          close_at: reportAt + 1,
          instance_id: instanceIds[i] ?? null,
        },
        { timeoutMs: (runS + 30) * 1000 },
      ),
    ),
  );
  return runs.map((r) => {
    if (r.code !== 0) throw new Error(describeRun(r));
    const lines = jsonLines(r.stdout);
    return {
      records: lines.filter((l) => 'p' in l) as { p: number; o: number }[],
      assigned: (lines.find((l) => 'assigned' in l)?.assigned ?? []) as number[],
      detail: describeRun(r),
    };
  });
}

t.test('confluent-kafka-python consumer groups', async (t) => {
  const broker = await startBroker(t, { sets: groupBrokerSets });

  for (const assignor of ['range', 'cooperative-sticky']) {
    t.test(`two members, ${assignor}`, async (t) => {
      const topic = `ck-${assignor}`;
      const group = `ck-${assignor}`;
      await fillTopic(broker.port, topic, partitions, perPartition);
      const members = await runMembers(broker.bootstrap, topic, group, assignor, 2, 7);
      checkExclusiveCover(
        t,
        members.map((m) => m.assigned),
        partitions,
        assignor,
      );
      t.ok(
        members.every((m) => m.assigned.length === partitions / 2),
        `balanced: ${JSON.stringify(members.map((m) => m.assigned))}`,
      );
      checkAllConsumed(
        t,
        members.flatMap((m) => m.records),
        partitions,
        perPartition,
        assignor,
      );
      t.same(await committedOffsets(broker.port, group, topic, partitions), Array(partitions).fill(perPartition), 'every offset committed');
    });
  }

  t.test('a static member restarts without a rebalance', async (t) => {
    const topic = 'ck-static';
    const group = 'ck-static';
    await fillTopic(broker.port, topic, 2, 5);
    const rebalances = () =>
      broker.logLines.filter((l) => l.includes('preparing to rebalance group') && l.includes(`"group":"${group}"`)).length;
    const [first] = await runMembers(broker.bootstrap, topic, group, 'range', 1, 4, ['static-1']);
    t.same(first!.assigned, [0, 1], first!.detail);
    const before = rebalances();
    const described = await describeGroup(broker.port, group);
    t.equal(described.groupState, 'Stable', 'a static member that closes stays in the group');
    t.equal(described.members[0].groupInstanceId, 'static-1');
    const [second] = await runMembers(broker.bootstrap, topic, group, 'range', 1, 3, ['static-1']);
    t.same(second!.assigned, [0, 1], second!.detail);
    t.same(second!.records, [], 'nothing consumed twice: it resumed from the committed offsets');
    t.equal(rebalances(), before, 'no rebalance when the static member came back');
    const after = await describeGroup(broker.port, group);
    t.equal(after.members.length, 1);
    t.not(after.members[0].memberId, described.members[0].memberId, 'the rejoin got a new member id');
  });
});
