// Does a producer connection get slower the longer it lives? Sends many small Produce v9 requests (one 100-byte
// record, acks=-1, 64 in flight) on ONE connection to a broker child process and prints the broker's CPU time per
// request in successive windows. Flat is right; growing means per-connection state grows with every request.
// skafos.flush.linger.ms is set to 2 so that acknowledgements do not wait for the 250 ms default linger.
// usage: node bench/lib/long-connection-check.ts [WINDOWS=6] [REQUESTS_PER_WINDOW=10000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeResponse, encodeRequest } from '../../broker/protocol/frame.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { ProduceResponse } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../broker/protocol/records/index.ts';
import { createTopic } from './broker-load.ts';
import { BrokerChild } from './broker-process.ts';
import { fmt } from './report.ts';
import { WireConnection } from './wire-client.ts';

const windows = Number(process.argv[2] ?? 6);
const perWindow = Number(process.argv[3] ?? 10_000);
const inFlight = 64;
const dataDir = mkdtempSync(join(tmpdir(), 'skafos-bench-conn-'));
const broker = await BrokerChild.start({ dataDir, sets: { 'skafos.flush.linger.ms': 2 } });
try {
  await createTopic(broker.port, 'conn', 1);
  const conn = await WireConnection.connect(broker.port);
  const batch = buildRecordBatch([{ key: null, value: Buffer.alloc(100), timestampMs: Date.now() }]);
  const frame = encodeRequest(ApiKey.Produce, 9, 0, 'skafos-bench', {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: 'conn', partitionData: [{ index: 0, records: batch }] }],
  });
  // One frame per slot: a frame is re-sent (with a new correlation id) only once its previous response is in.
  const frames = Array.from({ length: inFlight }, () => Buffer.from(frame));
  for (let w = 0; w < windows; w++) {
    const c0 = broker.cpu();
    const t0 = performance.now();
    let issued = 0;
    await Promise.all(
      frames.map(async (f) => {
        while (issued < perWindow) {
          issued++;
          const id = conn.correlationId();
          f.writeInt32BE(id, 8);
          const res = decodeResponse(await conn.send(f, id), ApiKey.Produce, 9).body as ProduceResponse;
          const code = res.responses[0]!.partitionResponses[0]!.errorCode;
          if (code !== 0) throw new Error(`produce: error ${code}`);
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const c1 = broker.cpu();
    console.log(
      `requests ${(w * perWindow).toLocaleString('en-US')}–${((w + 1) * perWindow).toLocaleString('en-US')} on one connection: ${fmt(perWindow / s)} requests/s, ` +
        `broker CPU ${fmt(((c1.mainThread - c0.mainThread) / perWindow) * 1e6)} µs/request (main thread), ${fmt(((c1.process - c0.process) / perWindow) * 1e6)} µs/request (all threads)`,
    );
  }
  conn.close();
} finally {
  await broker.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
