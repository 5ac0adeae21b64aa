// Bad input on raw sockets. The broker answers or closes the connection as Kafka does, never crashes or hangs,
// and other clients on other connections keep being served throughout:
//   - frame level (Kafka's NetworkReceive / SocketServer): a negative size, or one above socket.request.max.bytes,
//     closes the connection without reading the body; a frame too short for a request header, an unknown API key,
//     an unsupported version of a known API and a body that does not parse close the connection (Kafka's
//     Processor closes the channel on InvalidRequestException) — with no response for the bad request;
//   - ApiVersions of a too-new version gets a v0 response with UNSUPPORTED_VERSION (35) and the API list
//     (KIP-511); an invalid v3+ ApiVersions gets INVALID_REQUEST (42); both leave the connection open;
//   - a Produce with a bad CRC, an absurd record count or batch length gets an error for that partition and
//     the connection stays open; nothing is appended;
//   - a request split in pieces, or dribbled byte by byte, is answered once it is whole.
import t from 'tap';
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { startBroker } from '../support/broker.ts';
import type { BrokerProcess } from '../support/broker.ts';
import { RawConnection } from '../support/raw-client.ts';
import { sleep } from '../support/run.ts';
import { kafkajsClient } from '../support/js-clients.ts';
import { decodeResponse, encodeRequest } from '../../broker/protocol/frame.ts';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { buildRecordBatch, writeBatchCrc } from '../../broker/protocol/records/index.ts';

t.setTimeout(180_000);

const maxFrame = 2 * 1024 * 1024;
const topic = 'bad-input';
let b: BrokerProcess;

/** A healthy client on its own connection: Metadata every 20 ms; records the longest wait for an answer. */
class HealthyClient {
  answered = 0;
  maxGapMs = 0;
  errors: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  constructor(port: number) {
    this.done = this.loop(port);
  }
  private async loop(port: number): Promise<void> {
    const c = await RawConnection.connect(port);
    try {
      while (!this.stopped) {
        const started = Date.now();
        try {
          const md = await c.request(
            ApiKey.Metadata,
            12,
            { topics: [{ name: topic, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }], allowAutoTopicCreation: false },
            { timeoutMs: 5000 },
          );
          if (md.topics[0].errorCode !== 0) this.errors.push(`metadata error ${md.topics[0].errorCode}`);
          this.answered++;
        } catch (e) {
          this.errors.push((e as Error).message);
          return;
        }
        this.maxGapMs = Math.max(this.maxGapMs, Date.now() - started);
        await sleep(20);
      }
    } finally {
      c.close();
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

let healthy: HealthyClient;
/** kafkajs producing on its own connections throughout, one small batch every 50 ms. */
let producing: Promise<{ sent: number; errors: string[] }>;
let stopProducing = false;

t.before(async () => {
  b = await startBroker(t, { sets: { 'socket.request.max.bytes': maxFrame } });
  const c = await RawConnection.connect(b.port);
  const r = await c.request(ApiKey.CreateTopics, 7, {
    topics: [
      { name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      { name: 'bad-input-healthy', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
    ],
    timeoutMs: 5000,
    validateOnly: false,
  });
  c.close();
  if (r.topics.some((x: any) => x.errorCode !== 0)) throw new Error(`create topics: ${JSON.stringify(r.topics)}`);
  healthy = new HealthyClient(b.port);
  producing = (async () => {
    const producer = kafkajsClient(b.bootstrap).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    let sent = 0;
    const errors: string[] = [];
    while (!stopProducing) {
      try {
        await producer.send({ topic: 'bad-input-healthy', acks: -1, messages: [{ key: `k${sent}`, value: `v${sent}` }] });
        sent++;
      } catch (e) {
        errors.push((e as Error).message);
      }
      await sleep(50);
    }
    await producer.disconnect();
    return { sent, errors };
  })();
});

/** Expects the broker to close the connection, with no response frame first (unless `allowFrames`). */
async function expectClose(t: Test, c: RawConnection, what: string, allowFrames = 0): Promise<void> {
  let frames = 0;
  for (;;) {
    const r = await c.next(5000);
    if ('closed' in r) break;
    if ('timeout' in r) {
      t.fail(`${what}: the connection was neither answered nor closed within 5 s`);
      c.close();
      return;
    }
    frames++;
  }
  t.ok(frames <= allowFrames, `${what}: connection closed${allowFrames ? '' : ' without a response'} (${frames} frame(s))`);
}

function sizePrefixed(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeInt32BE(body.length);
  return Buffer.concat([h, body]);
}

/** Request header v1 (api key, version, correlation id, client id) followed by `body`. */
function rawRequest(apiKey: number, version: number, correlationId: number, body: Buffer, clientId = 'bad'): Buffer {
  const h = Buffer.alloc(10 + clientId.length);
  h.writeInt16BE(apiKey, 0);
  h.writeInt16BE(version, 2);
  h.writeInt32BE(correlationId, 4);
  h.writeInt16BE(clientId.length, 8);
  h.write(clientId, 10, 'latin1');
  return sizePrefixed(Buffer.concat([h, body]));
}

async function connect(t: Test): Promise<RawConnection> {
  const c = await RawConnection.connect(b.port);
  t.teardown(() => c.close());
  return c;
}

const apiVersionsV3 = (correlationId: number) =>
  encodeRequest(ApiKey.ApiVersions, 3, correlationId, 'ok', { clientSoftwareName: 'skafos-it', clientSoftwareVersion: '1.0' });

t.test('frame sizes', async (t) => {
  const cases: [string, Buffer][] = [
    ['negative size', Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['size -2147483648', Buffer.from([0x80, 0, 0, 0])],
    ['size 0', Buffer.from([0, 0, 0, 0])],
    ['frame too short for a header (4 bytes)', sizePrefixed(Buffer.from([0, 18, 0, 3]))],
    [
      'frame above socket.request.max.bytes (body never sent)',
      (() => {
        const h = Buffer.alloc(4);
        h.writeInt32BE(maxFrame + 1);
        return h;
      })(),
    ],
    ['frame of 2^31-1 bytes announced', Buffer.from([0x7f, 0xff, 0xff, 0xff])],
  ];
  for (const [what, bytes] of cases) {
    const c = await connect(t);
    c.write(bytes);
    await expectClose(t, c, what);
  }
  // Exactly at the limit is read (and then fails to parse as a request: junk).
  const c = await connect(t);
  const body = Buffer.alloc(maxFrame, 0x41);
  c.write(sizePrefixed(body));
  await expectClose(t, c, 'a junk frame of exactly socket.request.max.bytes');
});

t.test('unknown API keys and unsupported versions close the connection', async (t) => {
  const cases: [string, Buffer][] = [
    ['unknown API key 9999', rawRequest(9999, 0, 1, Buffer.alloc(8))],
    ['negative API key', rawRequest(-1, 0, 1, Buffer.alloc(8))],
    ['Metadata v99', rawRequest(ApiKey.Metadata, 99, 1, Buffer.alloc(8))],
    ['Produce v-1', rawRequest(ApiKey.Produce, -1, 1, Buffer.alloc(8))],
    ['an API this broker does not serve (LeaderAndIsr v0)', rawRequest(4, 0, 1, Buffer.alloc(8))],
  ];
  for (const [what, bytes] of cases) {
    const c = await connect(t);
    c.write(bytes);
    await expectClose(t, c, what);
  }
});

t.test('ApiVersions: too new a version gets a v0 UNSUPPORTED_VERSION answer with the API list', async (t) => {
  const c = await connect(t);
  for (const v of [5, 99, 32767]) {
    c.write(rawRequest(ApiKey.ApiVersions, v, 40 + v, Buffer.alloc(3)));
    const r = await c.next(5000);
    if (!('frame' in r)) {
      t.fail(`ApiVersions v${v}: no answer`);
      return;
    }
    const decoded = decodeResponse(r.frame, ApiKey.ApiVersions, 0) as { correlationId: number; body: any };
    t.equal(decoded.correlationId, 40 + v, `v${v}: correlation id kept`);
    t.equal(decoded.body.errorCode, 35, `v${v}: UNSUPPORTED_VERSION`);
    const av = decoded.body.apiKeys.find((k: any) => k.apiKey === ApiKey.ApiVersions);
    t.same([av?.minVersion, av?.maxVersion], [0, 4], `v${v}: lists ApiVersions 0-4`);
    t.ok(
      decoded.body.apiKeys.some((k: any) => k.apiKey === ApiKey.Produce) &&
        decoded.body.apiKeys.some((k: any) => k.apiKey === ApiKey.Fetch),
      'and the other APIs',
    );
  }
  const ok = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'skafos-it', clientSoftwareVersion: '1.0' });
  t.equal(ok.errorCode, 0, 'the connection stays open: a supported version is answered next');
  const invalid = await c.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'bad name!', clientSoftwareVersion: '1.0' });
  t.same(
    [invalid.errorCode, invalid.apiKeys.length],
    [42, 0],
    'v3 with an invalid client software name: INVALID_REQUEST (42), no API list',
  );
  const invalid2 = await c.request(ApiKey.ApiVersions, 4, { clientSoftwareName: 'ok', clientSoftwareVersion: '-1' });
  t.equal(invalid2.errorCode, 42, 'v4 with an invalid client software version: INVALID_REQUEST');
  const old = await c.request(ApiKey.ApiVersions, 2, {});
  t.equal(old.errorCode, 0, 'the connection is still open');
});

t.test('malformed bodies and headers close the connection', async (t) => {
  const metadataV1Absurd = rawRequest(ApiKey.Metadata, 1, 1, Buffer.from([0x7f, 0xff, 0xff, 0xff])); // 2^31-1 topics, none sent
  const metadataV9Absurd = (() => {
    // Flexible header v2: api key, version, correlation id, client id (int16 string), tagged fields; then a
    // compact array whose varint length is 2^31-1.
    const body = Buffer.from([
      0x00, 0x03, 0x00, 0x09, 0, 0, 0, 1, 0x00, 0x01, 0x62, 0x00, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01, 0x00, 0x00, 0x00,
    ]);
    return sizePrefixed(body);
  })();
  const produceAbsurdTopics = rawRequest(
    ApiKey.Produce,
    3,
    1,
    Buffer.concat([Buffer.from([0xff, 0xff, 0x00, 0x01, 0, 0, 0x13, 0x88]), Buffer.from([0x7f, 0xff, 0xff, 0xff])]),
  );
  const clientIdTooLong = (() => {
    const h = Buffer.alloc(10);
    h.writeInt16BE(ApiKey.Metadata, 0);
    h.writeInt16BE(1, 2);
    h.writeInt32BE(1, 4);
    h.writeInt16BE(30000, 8); // client id of 30,000 bytes in a 14-byte frame
    return sizePrefixed(Buffer.concat([h, Buffer.alloc(4)]));
  })();
  const truncatedBody = (() => {
    const ok = encodeRequest(ApiKey.Metadata, 4, 1, 'x', { topics: [{ name: 'some-topic' }], allowAutoTopicCreation: false });
    const cut = ok.subarray(4, ok.length - 3);
    return sizePrefixed(cut);
  })();
  const badVarint = (() => {
    // ApiVersions v3 (flexible) whose compact string length is a varint of 6 bytes with the high bit set
    const body = Buffer.from([0x00, 0x12, 0x00, 0x03, 0, 0, 0, 1, 0x00, 0x01, 0x62, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    return sizePrefixed(body);
  })();
  const cases: [string, Buffer][] = [
    ['Metadata v1 announcing 2^31-1 topics', metadataV1Absurd],
    ['Metadata v9 announcing 2^31-1 topics (compact array)', metadataV9Absurd],
    ['Produce v3 announcing 2^31-1 topics', produceAbsurdTopics],
    ['a client id longer than the frame', clientIdTooLong],
    ['a truncated Metadata body', truncatedBody],
    ['an overlong varint', badVarint],
  ];
  for (const [what, bytes] of cases) {
    const c = await connect(t);
    c.write(bytes);
    await expectClose(t, c, what);
  }
  // Random junk, many connections at once.
  const conns = await Promise.all(Array.from({ length: 30 }, () => RawConnection.connect(b.port)));
  for (const c of conns) {
    const junk = randomBytes(200 + Math.floor(Math.random() * 300));
    junk.writeInt32BE(junk.length - 4, 0);
    junk.writeInt16BE(Math.floor(Math.random() * 70), 4); // mostly known API keys
    c.write(junk);
  }
  let closedOrAnswered = 0;
  for (const c of conns) {
    const r = await c.next(5000);
    if (!('timeout' in r)) closedOrAnswered++;
    c.close();
  }
  t.equal(closedOrAnswered, conns.length, 'random junk on 30 connections: every one answered or closed');
});

t.test('a good request then a bad one in the same write: the first is answered, then the connection closes', async (t) => {
  const c = await connect(t);
  c.write(Buffer.concat([apiVersionsV3(1), rawRequest(9999, 0, 2, Buffer.alloc(8))]));
  const first = await c.next(5000);
  t.ok(
    'frame' in first && decodeResponse((first as { frame: Buffer }).frame, ApiKey.ApiVersions, 3).correlationId === 1,
    'the good request is answered',
  );
  await expectClose(t, c, 'then the bad one');
});

t.test('split and dribbled requests are answered once whole; a truncated frame just waits', async (t) => {
  const c = await connect(t);
  const req = apiVersionsV3(7);
  c.write(req.subarray(0, req.length - 5));
  const early = await c.next(700);
  t.ok('timeout' in early, 'nothing is answered for a partial frame, and the connection stays open');
  c.write(req.subarray(req.length - 5));
  const whole = await c.next(5000);
  t.ok('frame' in whole, 'answered once the rest arrives');
  const md = encodeRequest(ApiKey.Metadata, 12, 8, 'dribble', { topics: [{ name: topic }], allowAutoTopicCreation: false });
  for (let i = 0; i < md.length; i++) {
    c.write(md.subarray(i, i + 1));
    if (i % 16 === 0) await sleep(1);
  }
  const r = await c.next(5000);
  t.ok(
    'frame' in r && decodeResponse((r as { frame: Buffer }).frame, ApiKey.Metadata, 12).correlationId === 8,
    'a request written one byte at a time is answered',
  );
  // 200 requests in one write are all answered, in order.
  const many = Buffer.concat(Array.from({ length: 200 }, (_, i) => apiVersionsV3(1000 + i)));
  c.write(many);
  const ids: number[] = [];
  for (let i = 0; i < 200; i++) {
    const f = await c.next(5000);
    if (!('frame' in f)) break;
    ids.push(decodeResponse(f.frame, ApiKey.ApiVersions, 3).correlationId);
  }
  t.same(
    ids,
    Array.from({ length: 200 }, (_, i) => 1000 + i),
    '200 pipelined requests answered in order',
  );
  // A truncated frame whose client goes away.
  const gone = await RawConnection.connect(b.port);
  gone.write(md.subarray(0, 20));
  gone.close();
});

t.test('a client that pipelines thousands of requests and does not read is throttled, not buffered; others are served', async (t) => {
  const slow = await RawConnection.connect(b.port);
  t.teardown(() => slow.close());
  const n = 5000;
  const md = (i: number) => encodeRequest(ApiKey.Metadata, 12, i, 'slow', { topics: null, allowAutoTopicCreation: false });
  // Written without waiting: the responses (~200 bytes each) pile up in the socket buffers and the broker
  // must stop reading this connection rather than queue them without bound.
  slow.pauseReading();
  for (let i = 0; i < n; i++) slow.write(md(i));
  await sleep(1000);
  const other = await connect(t);
  const started = Date.now();
  const r = await other.request(ApiKey.ApiVersions, 3, { clientSoftwareName: 'other', clientSoftwareVersion: '1' });
  t.equal(r.errorCode, 0, `another connection is answered meanwhile (${Date.now() - started} ms)`);
  slow.resumeReading();
  let got = 0;
  let inOrder = true;
  for (let i = 0; i < n; i++) {
    const f = await slow.next(10_000);
    if (!('frame' in f)) break;
    if (decodeResponse(f.frame, ApiKey.Metadata, 12).correlationId !== i) inOrder = false;
    got++;
  }
  t.equal(got, n, `all ${n} pipelined requests are answered once the client reads`);
  t.ok(inOrder, 'in order');
});

t.test('Produce with corrupt batches: an error per partition, the connection stays open, nothing appended', async (t) => {
  const c = await connect(t);
  const latest = async () => {
    const r = await c.request(ApiKey.ListOffsets, 7, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
    });
    return Number(r.topics[0].partitions[0].offset);
  };
  const batch = () =>
    buildRecordBatch([
      { key: Buffer.from('k1'), value: Buffer.from('v1'), timestampMs: Date.now() },
      { key: Buffer.from('k2'), value: Buffer.from('v2'), headers: [{ key: 'h', value: Buffer.from('x') }], timestampMs: Date.now() },
    ]);
  const produce = (records: Buffer, acks = -1) =>
    c.request(ApiKey.Produce, 9, {
      transactionalId: null,
      acks,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
  const good = await produce(batch());
  t.same(
    [good.responses[0].partitionResponses[0].errorCode, Number(good.responses[0].partitionResponses[0].baseOffset)],
    [0, 0],
    'a good batch is appended at 0',
  );
  const before = await latest();

  const badCrc = batch();
  badCrc[badCrc.length - 1]! ^= 0xff; // flip a bit of the last record; the CRC no longer matches
  const r1 = await produce(badCrc);
  t.equal(r1.responses[0].partitionResponses[0].errorCode, 2, 'bad CRC: CORRUPT_MESSAGE (2)');

  const absurdCount = batch();
  absurdCount.writeInt32BE(0x7fffffff, 57); // record count
  writeBatchCrc(absurdCount, 0, absurdCount.length);
  const r2 = await produce(absurdCount);
  t.ok(
    [2, 87].includes(r2.responses[0].partitionResponses[0].errorCode),
    `record count 2^31-1: CORRUPT_MESSAGE or INVALID_RECORD (${r2.responses[0].partitionResponses[0].errorCode})`,
  );

  const absurdLength = batch();
  absurdLength.writeInt32BE(0x7fffff00, 8); // batch length far beyond the data
  const r3 = await produce(absurdLength);
  // Kafka's ByteBufferLogInputStream yields no batch when the declared length runs past the data, so
  // ProduceRequest.validateRecords finds none: INVALID_RECORD.
  t.equal(r3.responses[0].partitionResponses[0].errorCode, 87, 'batch length beyond the data: INVALID_RECORD (87)');

  const r4 = await produce(Buffer.alloc(0));
  t.not(r4.responses[0].partitionResponses[0].errorCode, 0, 'no batch at all: an error');
  const r5 = await produce(randomBytes(100));
  t.not(r5.responses[0].partitionResponses[0].errorCode, 0, '100 random bytes: an error');
  const r6 = await produce(batch(), 5);
  t.equal(r6.responses[0].partitionResponses[0].errorCode, 21, 'acks=5: INVALID_REQUIRED_ACKS (21)');
  const r7 = await c.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [
      {
        name: topic,
        partitionData: [
          { index: 7, records: batch() },
          { index: -1, records: batch() },
        ],
      },
    ],
  });
  t.same(
    r7.responses[0].partitionResponses.map((p: any) => p.errorCode),
    [3, 3],
    'partitions that do not exist: UNKNOWN_TOPIC_OR_PARTITION',
  );

  t.equal(await latest(), before, 'nothing was appended by the bad requests');
  const after = await produce(batch());
  t.same(
    [after.responses[0].partitionResponses[0].errorCode, Number(after.responses[0].partitionResponses[0].baseOffset)],
    [0, before],
    'the same connection still appends, right after the good batch',
  );
});

t.test('the broker kept serving everyone and logged no errors', async (t) => {
  stopProducing = true;
  const p = await producing;
  await healthy.stop();
  t.ok(b.alive, 'the broker process is alive');
  t.same(healthy.errors, [], 'the healthy raw client got every answer');
  t.ok(healthy.answered > 20, `${healthy.answered} Metadata answers`);
  // A figure, not an assertion: how long an answer took depends on the machine's load.
  t.comment(`longest wait for an answer: ${healthy.maxGapMs} ms`);
  t.same(p.errors, [], 'the kafkajs producer on its own connection never failed');
  t.ok(p.sent > 10, `${p.sent} records produced meanwhile`);
  t.same(b.errorLines(), [], 'no error log lines (no handler crashed)');
});
