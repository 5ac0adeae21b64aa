// Loaded with `node --import` by skafos.test.ts: makes bin/skafos.ts's import of ../broker/broker.ts load
// fake-broker.ts instead, so the CLI's startup and signal handling can be tested without a real broker.
import { registerHooks } from 'node:module';

const fake = new URL('./fake-broker.ts', import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === '../broker/broker.ts' && context.parentURL?.endsWith('/bin/skafos.ts')) {
      return { url: fake, format: 'module-typescript', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
