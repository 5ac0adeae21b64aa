// The Apache Kafka Java client (the version test/java/pom.xml pins) against Skafos: the producer with its
// defaults and every codec, classic (range, cooperative-sticky) and KIP-848 consumer groups rebalancing as
// members join and leave, transactions (version 2, and version 1 on a broker set to transaction.version 1), and
// the Admin client. The same scenarios run against Apache Kafka itself in java-client-apache-kafka.test.ts.
// Scenarios: test/support/java-scenarios.ts.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { javaScenarios, javaTransactionsV1 } from '../support/java-scenarios.ts';

const broker = await startBroker(t, { sets: { 'group.initial.rebalance.delay.ms': 0 } });
for (const s of javaScenarios) await t.test(s.name, (tt) => s.run(tt, broker.bootstrap));
await t.test(javaTransactionsV1.name, async (tt) => {
  const v1 = await startBroker(tt, { sets: { 'group.initial.rebalance.delay.ms': 0, 'skafos.transaction.version': 1 } });
  await javaTransactionsV1.run(tt, v1.bootstrap);
});
