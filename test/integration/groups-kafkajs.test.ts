// kafkajs consumer groups against a broker process: two consumers share a topic (rebalance when the second
// joins and when one leaves), offsets are committed, and after a broker restart a new consumer of the group
// resumes exactly from the committed offsets.
import t from 'tap';
import type { Consumer } from 'kafkajs';
import { startBroker } from '../support/broker.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import {
  checkAllConsumed,
  checkExclusiveCover,
  committedOffsets,
  describeGroup,
  fillTopic,
  groupBrokerSets,
  produceMore,
  waitFor,
} from '../support/groups.ts';

const partitions = 4;
const perPartition = 25;

interface Member {
  consumer: Consumer;
  assigned: number[];
  records: { p: number; o: number }[];
}

async function member(bootstrap: string, group: string, topic: string, name: string): Promise<Member> {
  const kafka = kafkajsClient(bootstrap, name);
  const consumer = kafka.consumer({
    groupId: group,
    sessionTimeout: 6000,
    rebalanceTimeout: 5000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const m: Member = { consumer, assigned: [], records: [] };
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    m.assigned = (e.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b);
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async ({ partition, message }) => {
      m.records.push({ p: partition, o: Number(message.offset) });
    },
  });
  return m;
}

t.test('kafkajs consumer group', async (t) => {
  const broker = await startBroker(t, { sets: groupBrokerSets });
  const topic = 'kjs-group';
  const group = 'kjs';
  await fillTopic(broker.port, topic, partitions, perPartition);

  const a = await member(broker.bootstrap, group, topic, 'kjs-a');
  t.teardown(() => a.consumer.disconnect().catch(() => {}));
  await waitFor(() => a.assigned.length === partitions, 20_000, 'the first member to own every partition');
  const b = await member(broker.bootstrap, group, topic, 'kjs-b');
  t.teardown(() => b.consumer.disconnect().catch(() => {}));
  await waitFor(
    () => b.assigned.length > 0 && a.assigned.length + b.assigned.length === partitions,
    20_000,
    'a rebalance sharing the partitions',
  );
  checkExclusiveCover(t, [a.assigned, b.assigned], partitions, 'two members');
  await waitFor(
    async () => (await committedOffsets(broker.port, group, topic, partitions)).every((o) => o === perPartition),
    20_000,
    'every offset committed',
  );
  checkAllConsumed(t, [...a.records, ...b.records], partitions, perPartition, 'two members');
  const d = await describeGroup(broker.port, group);
  t.equal(d.groupState, 'Stable');
  t.equal(d.members.length, 2);

  // One leaves: the other gets everything back.
  await b.consumer.disconnect();
  await waitFor(() => a.assigned.length === partitions, 20_000, 'the remaining member to own every partition again');
  t.pass('rebalanced after a member left');
  await a.consumer.disconnect();
  t.equal((await describeGroup(broker.port, group)).groupState, 'Empty');

  // Restart the broker; new records; a new consumer resumes exactly from the committed offsets.
  await broker.restart();
  t.same(
    await committedOffsets(broker.port, group, topic, partitions),
    Array(partitions).fill(perPartition),
    'committed offsets survive the restart',
  );
  await produceMore(broker.port, topic, 1, 5);
  const c = await member(broker.bootstrap, group, topic, 'kjs-c');
  t.teardown(() => c.consumer.disconnect().catch(() => {}));
  await waitFor(() => c.records.length >= 5, 20_000, 'the new records');
  await new Promise((r) => setTimeout(r, 500));
  t.same(
    c.records.map((r) => `${r.p}:${r.o}`).sort(),
    ['1:25', '1:26', '1:27', '1:28', '1:29'],
    'resumed exactly from the committed offsets',
  );
  await c.consumer.disconnect();
});
