// Drives @platformatic/kafka against the fake broker: an idempotent producer, then a group consumer that reads the
// message, commits it and leaves. Usage: node platformatic-kafka.ts <port> <clientId> <groupId> <acks>
import { Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';

const [port, clientId, groupId, acks] = process.argv.slice(2) as [string, string, string, string];
const bootstrapBrokers = [`127.0.0.1:${port}`];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const producer = new Producer({ clientId, bootstrapBrokers, serializers: stringSerializers, idempotent: true, retries: 2 });
await producer.send({
  acks: Number(acks),
  messages: [
    { topic: 'golden', partition: 0, key: 'golden-key', value: 'hello from platformatic-kafka', headers: { source: 'platformatic-kafka' } },
  ],
});
await producer.close();

const consumer = new Consumer({
  clientId,
  groupId,
  bootstrapBrokers,
  deserializers: stringDeserializers,
  sessionTimeout: 10000,
  heartbeatInterval: 100,
  maxWaitTime: 100,
  retries: 2,
});
const stream = await consumer.consume({ autocommit: false, topics: ['golden'], mode: 'committed', fallbackMode: 'earliest' });
for await (const message of stream) {
  console.log(`consumed ${message.topic}/${message.partition}@${message.offset}: ${message.value}`);
  await sleep(300);
  await message.commit();
  break;
}
await stream.close();
await consumer.close();
