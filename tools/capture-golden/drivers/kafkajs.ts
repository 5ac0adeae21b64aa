// Drives kafkajs against the fake broker: produce one message, then a group consumer that reads it, heartbeats,
// commits and leaves. Usage: node kafkajs.ts <port> <clientId> <groupId> <acks>
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [port, clientId, groupId, acks] = process.argv.slice(2) as [string, string, string, string];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const kafka = new Kafka({ clientId, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.ERROR, retry: { retries: 2 } });

const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
await producer.send({
  topic: 'golden',
  acks: Number(acks),
  messages: [{ partition: 0, key: 'golden-key', value: 'hello from kafkajs', headers: { source: 'kafkajs' } }],
});
await producer.disconnect();

const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 100, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topic: 'golden', fromBeginning: true });
let resolveGot!: () => void;
const got = new Promise<void>((r) => (resolveGot = r));
let seen = false;
await consumer.run({
  autoCommit: false,
  eachMessage: async ({ topic, partition, message, heartbeat }) => {
    if (seen) return;
    seen = true;
    console.log(`consumed ${topic}/${partition}@${message.offset}: ${message.value?.toString()}`);
    await sleep(250);
    await heartbeat();
    await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
    resolveGot();
  },
});
await got;
await consumer.disconnect();
