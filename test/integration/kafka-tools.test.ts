// Kafka's command-line tools (test/support/kafka-tools-scenarios.ts: kafka-topics, kafka-configs, the console
// producer and consumer, kafka-consumer-groups, kafka-get-offsets, kafka-delete-records, kafka-transactions and
// the perf tests, from the pinned kafka-tools jar) against Skafos on the embedded default. The same scenarios
// run against Apache Kafka in kafka-tools-apache-kafka.test.ts.
import t from 'tap';
import { startBroker } from '../support/broker.ts';
import { runToolScenarios, toolBrokerSettings } from '../support/kafka-tools-scenarios.ts';

const broker = await startBroker(t, { sets: toolBrokerSettings });
await runToolScenarios(t, broker.bootstrap);
