// Kafka's command-line tools (test/support/kafka-tools-scenarios.ts) against Apache Kafka itself, a single-node
// KRaft broker from the same pinned jars: a check of the scenarios' expectations. A scenario that passes here
// and fails against Skafos (kafka-tools.test.ts) is a Skafos difference.
import t from 'tap';
import { startApacheKafka } from '../support/apache-kafka.ts';
import { runToolScenarios, toolBrokerSettings } from '../support/kafka-tools-scenarios.ts';

const kafka = await startApacheKafka(t, toolBrokerSettings);
await runToolScenarios(t, kafka.bootstrap);
