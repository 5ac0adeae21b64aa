// The Java client scenarios of java-client.test.ts against Apache Kafka itself (a single-node KRaft broker
// from the same pinned jars, test/support/apache-kafka.ts): a check of the harness and of the scenarios'
// expectations. A scenario that passes here and fails against Skafos is a Skafos difference. Transaction
// version 1 runs last, after `kafka-features downgrade` of transaction.version to 1 (UpdateFeatures).
import t from 'tap';
import { startApacheKafka } from '../support/apache-kafka.ts';
import { JavaDriver } from '../support/java-client.ts';
import { javaScenarios, javaTransactionsV1 } from '../support/java-scenarios.ts';

const kafka = await startApacheKafka(t);
for (const s of javaScenarios) await t.test(s.name, (tt) => s.run(tt, kafka.bootstrap));
await t.test(javaTransactionsV1.name, async (tt) => {
  const java = await JavaDriver.start(tt);
  await java.call('admin.create', { name: 'admin', config: { 'bootstrap.servers': kafka.bootstrap } });
  await java.call('admin.updateFeatures', { name: 'admin', feature: 'transaction.version', level: 1, upgradeType: 'SAFE_DOWNGRADE' });
  await java.close();
  await javaTransactionsV1.run(tt, kafka.bootstrap);
});
