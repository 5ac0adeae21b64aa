// @platformatic/kafka consumer groups against a broker process: two consumers share a topic through a
// classic group (JoinGroup/SyncGroup with the client's own assignor), commit, and a later consumer of the
// group resumes from the committed offsets.
import t from 'tap';
import { Consumer } from '@platformatic/kafka';
import { startBroker } from '../support/broker.ts';
import {
  checkAllConsumed,
  checkExclusiveCover,
  committedOffsets,
  fillTopic,
  groupBrokerSets,
  produceMore,
  sleep,
  waitFor,
} from '../support/groups.ts';

const partitions = 4;
const perPartition = 20;

async function member(bootstrap: string, group: string, topic: string, name: string) {
  const consumer = new Consumer({
    clientId: name,
    groupId: group,
    bootstrapBrokers: [bootstrap],
    maxWaitTime: 100,
    retries: 5,
    retryDelay: 200,
    sessionTimeout: 6000,
    heartbeatInterval: 300,
    rebalanceTimeout: 6000,
  } as any);
  const records: { p: number; o: number }[] = [];
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: 100 } as any);
  stream.on('data', (m: any) => records.push({ p: m.partition, o: Number(m.offset) }));
  const assigned = () =>
    ((consumer.assignments ?? []) as { topic: string; partitions: number[] }[])
      .filter((a) => a.topic === topic)
      .flatMap((a) => a.partitions)
      .sort((a, b) => a - b);
  return {
    consumer,
    stream,
    records,
    assigned,
    close: async () => {
      await stream.close();
      await consumer.close();
    },
  };
}

t.test('@platformatic/kafka consumer group', async (t) => {
  const broker = await startBroker(t, { sets: groupBrokerSets });
  const topic = 'plat-group';
  const group = 'plat';
  await fillTopic(broker.port, topic, partitions, perPartition);
  const a = await member(broker.bootstrap, group, topic, 'plat-a');
  t.teardown(() => a.close().catch(() => {}));
  const b = await member(broker.bootstrap, group, topic, 'plat-b');
  t.teardown(() => b.close().catch(() => {}));
  await waitFor(
    () => a.assigned().length > 0 && b.assigned().length > 0 && a.assigned().length + b.assigned().length === partitions,
    20_000,
    'the partitions shared by both members',
  );
  checkExclusiveCover(t, [a.assigned(), b.assigned()], partitions, 'two members');
  await waitFor(
    async () => (await committedOffsets(broker.port, group, topic, partitions)).every((o) => o === perPartition),
    20_000,
    'every offset committed',
  );
  checkAllConsumed(t, [...a.records, ...b.records], partitions, perPartition, 'two members');
  await a.close();
  await b.close();

  await produceMore(broker.port, topic, 2, 3);
  const c = await member(broker.bootstrap, group, topic, 'plat-c');
  t.teardown(() => c.close().catch(() => {}));
  await waitFor(() => c.records.length >= 3, 20_000, 'the new records');
  await sleep(300);
  t.same(c.records.map((r) => `${r.p}:${r.o}`).sort(), ['2:20', '2:21', '2:22'], 'resumed from the committed offsets');
  await c.close();
});
