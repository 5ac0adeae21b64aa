// The admin client scenarios (scenarios.ts) against Apache Kafka 4.4 (test/support/apache-kafka.ts): what they
// assert is what Kafka does.
import t from 'tap';
import { startApacheKafka } from '../../support/apache-kafka.ts';
import { adminScenarios, apacheKafkaOnlyScenarios } from './scenarios.ts';

const kafka = await startApacheKafka(t);
for (const s of [...adminScenarios, ...apacheKafkaOnlyScenarios]) await t.test(s.name, (tt) => s.run(tt, kafka.bootstrap));
