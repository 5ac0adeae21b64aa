// The Java client scenarios of java-client.test.ts against Apache Kafka itself (a single-node KRaft broker
// from the same pinned jars, test/support/apache-kafka.ts): a check of the harness and of the scenarios'
// expectations. A scenario that passes here and fails against Skafos is a Skafos difference.
import t from 'tap';
import { startApacheKafka } from '../support/apache-kafka.ts';
import { javaScenarios } from '../support/java-scenarios.ts';

const kafka = await startApacheKafka(t);
for (const s of javaScenarios) await t.test(s.name, (tt) => s.run(tt, kafka.bootstrap));
