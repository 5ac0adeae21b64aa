import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { createTopic, produce, startTestBroker } from './support/client.ts';

t.test('DescribeLogDirs', async (t) => {
  const { client, dir } = await startTestBroker(t);
  await createTopic(client, 'sized', 2);
  await createTopic(client, 'other', 1);
  await produce(client, 'sized', 1, 20);

  t.test('v4: every partition, sizes and volume bytes', async (t) => {
    const r = await client.request(ApiKey.DescribeLogDirs, 4, { topics: null });
    t.equal(r.errorCode, ErrorCode.NONE);
    t.equal(r.results.length, 1);
    const d = r.results[0];
    t.match(d, { errorCode: ErrorCode.NONE, logDir: dir });
    t.ok(d.totalBytes > 0 && d.usableBytes > 0 && d.usableBytes <= d.totalBytes);
    const sized = d.topics.find((x: any) => x.name === 'sized');
    t.equal(sized.partitions[0].partitionSize, 0);
    t.ok(sized.partitions[1].partitionSize > 20, 'the produced batch counts');
    t.match(sized.partitions[1], { partitionIndex: 1, offsetLag: 0, isFutureKey: false });
    t.ok(d.topics.some((x: any) => x.name === 'other'));
  });

  t.test('v0: named partitions only', async (t) => {
    const r = await client.request(ApiKey.DescribeLogDirs, 0, {
      topics: [
        { topic: 'sized', partitions: [1, 5] },
        { topic: 'missing', partitions: [0] },
      ],
    });
    t.same(
      r.results[0].topics.map((x: any) => [x.name, x.partitions.map((p: any) => p.partitionIndex)]),
      [['sized', [1]]],
    );
  });
});
