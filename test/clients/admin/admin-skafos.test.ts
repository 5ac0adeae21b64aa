// The admin client scenarios (scenarios.ts) against an in-process Skafos broker.
import t from 'tap';
import { startTestBroker } from '../../broker/handlers/support/client.ts';
import { adminScenarios } from './scenarios.ts';

const { bootstrap } = await startTestBroker(t);
for (const s of adminScenarios) await t.test(s.name, (tt) => s.run(tt, bootstrap));
