// Produce and consume with a real client against a broker process: every codec, large and tiny records.
// Scenarios: test/support/client-suite.ts.
import t from 'tap';
import { clientSuite } from '../support/client-suite.ts';
import { confluentDriver } from '../support/drivers.ts';

clientSuite(t, confluentDriver);
