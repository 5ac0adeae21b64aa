// Why the broker scenario does not load the broker with @platformatic/kafka's producer: this produces the same
// records (1 KiB values, no key, acks=-1, not idempotent, batches of 256 records to one partition per send)
// through it against a broker child process, and prints its CPU time next to the broker's.
// usage: node bench/lib/platformatic-producer-check.ts [PARTITIONS=1] [MiB=256] [CONCURRENT_SENDS=64] [MAX_INFLIGHTS=64]
// (MAX_INFLIGHTS 5 is the library's default.)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProduceAcks, Producer } from '@platformatic/kafka';
import { createTopic } from './broker-load.ts';
import { BrokerChild } from './broker-process.ts';
import { fmt, installedVersion } from './report.ts';

const [partitions, mib, concurrent, maxInflights] = [1, 256, 64, 64].map((d, i) => Number(process.argv[2 + i] ?? d));
const recordsPerSend = 256;
const dataDir = mkdtempSync(join(tmpdir(), 'skafos-bench-plt-'));
const broker = await BrokerChild.start({ dataDir });
try {
  await createTopic(broker.port, 'plt', partitions!);
  const producer = new Producer({
    clientId: 'skafos-bench-plt',
    bootstrapBrokers: [`127.0.0.1:${broker.port}`],
    acks: ProduceAcks.ALL,
    idempotent: false,
    autocreateTopics: false,
    retries: 0,
    maxInflights: maxInflights!,
  });
  const values = Array.from({ length: recordsPerSend }, () => randomBytes(1024));
  await producer.send({ messages: [{ topic: 'plt', partition: 0, value: values[0]! }] }); // connect and fetch metadata
  const sends = Math.ceil((mib! * 1024) / recordsPerSend);
  let issued = 0;
  const b0 = broker.cpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrent! }, async () => {
      while (issued < sends) {
        const partition = issued++ % partitions!;
        await producer.send({ messages: values.map((value) => ({ topic: 'plt', partition, value })) });
      }
    }),
  );
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const b1 = broker.cpu();
  const gib = (sends * recordsPerSend) / 2 ** 20;
  const clientCpu = (c.user + c.system) / 1e6;
  const brokerCpu = b1.process - b0.process;
  console.log(
    `@platformatic/kafka ${installedVersion('@platformatic/kafka')}, ${partitions} partition(s), maxInflights ${maxInflights}, ${concurrent} concurrent sends of ${recordsPerSend} records:`,
  );
  console.log(`  ${fmt((gib * 1024) / s)} MiB/s of record values over ${fmt(s)} s`);
  console.log(`  client CPU ${fmt(clientCpu)} s = ${fmt(clientCpu / gib)} CPU-s/GiB (${fmt(clientCpu / s)} cores)`);
  console.log(`  broker CPU ${fmt(brokerCpu)} s = ${fmt(brokerCpu / gib)} CPU-s/GiB (${fmt(brokerCpu / s)} cores)`);
  await producer.close();
} finally {
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
