// kafka-python consumer groups against a broker process: two members with the range and the roundrobin
// assignors share a topic, committing as they go.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { describeRun, jsonLines, pythonClient } from '../support/run.ts';
import { checkAllConsumed, checkExclusiveCover, committedOffsets, fillTopic, groupBrokerSets } from '../support/groups.ts';

const partitions = 4;
const perPartition = 20;

t.test('kafka-python consumer groups', async (t) => {
  const broker = await startBroker(t, { sets: groupBrokerSets });
  // kafka-python 2.0.2 has no cooperative-sticky, and its sticky assignor fails on a rejoin under Python 3.11+
  // (it measures a dict iterator's length while encoding its user data): range and roundrobin.
  for (const assignor of ['range', 'roundrobin']) {
    t.test(`two members, ${assignor}`, async (t) => {
      const topic = `kp-${assignor}`;
      await fillTopic(broker.port, topic, partitions, perPartition);
      const reportAt = Date.now() / 1000 + 8;
      const runs = await Promise.all(
        [0, 1].map(() =>
          pythonClient(
            'group_consumer.py',
            {
              client: 'kafka-python',
              bootstrap: broker.bootstrap,
              topic,
              group: topic,
              assignor,
              report_at: reportAt,
              close_at: reportAt + 1,
            },
            { timeoutMs: 40_000 },
          ),
        ),
      );
      const members = runs.map((r) => {
        if (r.code !== 0) throw new Error(describeRun(r));
        const lines = jsonLines(r.stdout);
        return {
          records: lines.filter((l) => 'p' in l) as { p: number; o: number }[],
          assigned: (lines.find((l) => 'assigned' in l)?.assigned ?? []) as number[],
        };
      });
      checkExclusiveCover(
        t,
        members.map((m) => m.assigned),
        partitions,
        assignor,
      );
      checkAllConsumed(
        t,
        members.flatMap((m) => m.records),
        partitions,
        perPartition,
        assignor,
      );
      t.same(await committedOffsets(broker.port, topic, topic, partitions), Array(partitions).fill(perPartition), 'every offset committed');
    });
  }
});
