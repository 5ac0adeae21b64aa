// A child process for embedded.test.ts.
//   node store-child.ts commit <dataDir>  opens the store and commits txns forever, printing "<i> <revision>"
//                                         after each commit resolves (synchronously, so a printed line is a
//                                         committed txn)
//   node store-child.ts hold <dataDir>    opens the store, prints "ready", and holds it until killed
import { writeSync } from 'node:fs';
import { EmbeddedMetadataStore } from '../../../../broker/metadata/embedded.ts';

const [mode, dataDir] = process.argv.slice(2);
const store = await EmbeddedMetadataStore.open(dataDir!);
if (mode === 'hold') {
  writeSync(1, 'ready\n');
  setInterval(() => {}, 60_000);
} else {
  const lease = await store.grantLease(60_000);
  for (let i = 1; ; i++) {
    const { succeeded, revision } = await store.txn(
      [{ key: `/durable/${i - 1}`, target: 'version', op: i === 1 ? '=' : '>', value: 0 }],
      [
        { type: 'put', key: `/durable/${i}`, value: `value ${i}` },
        { type: 'put', key: '/durable-leased', value: String(i), lease: lease.id },
      ],
    );
    if (!succeeded) throw new Error(`txn ${i} found its predecessor missing`);
    writeSync(1, `${i} ${revision}\n`);
  }
}
