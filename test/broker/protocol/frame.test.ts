import t from 'tap';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameSplitter,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../broker/protocol/frame.ts';
import { apiCodecs, ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ProtocolDecodeError } from '../../../broker/protocol/wire/errors.ts';

/** Matches a ProtocolDecodeError of one kind (tap's typings want an Error for an object pattern). */
const kind = (k: string) => ({ name: 'ProtocolDecodeError', kind: k }) as unknown as Error;

t.test("header versions follow Kafka's rules", async (t) => {
  t.equal(requestHeaderVersion(apiCodecs[ApiKey.Metadata]!, 8), 1);
  t.equal(requestHeaderVersion(apiCodecs[ApiKey.Metadata]!, 9), 2);
  t.equal(responseHeaderVersion(apiCodecs[ApiKey.Metadata]!, 9), 1);
  t.equal(responseHeaderVersion(apiCodecs[ApiKey.ApiVersions]!, 3), 0, 'ApiVersions responses always use header v0');
  t.equal(responseHeaderVersion(apiCodecs[ApiKey.Fetch]!, 11), 0);
});

t.test('request and response frames round trip', async (t) => {
  const frame = encodeRequest(ApiKey.Metadata, 12, 42, 'client-1', {
    topics: [{ name: 'a', topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
    allowAutoTopicCreation: true,
  });
  t.equal(frame.readInt32BE(0), frame.length - 4);
  const req = decodeRequest(frame.subarray(4));
  t.equal(req.apiKey, ApiKey.Metadata);
  t.equal(req.apiVersion, 12);
  t.equal(req.header.correlationId, 42);
  t.equal(req.header.clientId, 'client-1');
  t.match(req.body, { topics: [{ name: 'a' }], allowAutoTopicCreation: true });

  const records = Buffer.alloc(10000, 1);
  const chunks = encodeResponse(ApiKey.Fetch, 16, 7, {
    responses: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: [{ partitionIndex: 0, records }] }],
  });
  t.ok(chunks.includes(records), 'records are referenced, not copied');
  const whole = Buffer.concat(chunks);
  t.equal(whole.readInt32BE(0), whole.length - 4);
  const res = decodeResponse(whole.subarray(4), ApiKey.Fetch, 16);
  t.equal(res.correlationId, 7);
  t.ok((res.body as any).responses[0].partitions[0].records.equals(records));
});

t.test('unknown API keys and versions are typed errors', async (t) => {
  const f = Buffer.alloc(12);
  f.writeInt16BE(999, 0);
  t.throws(() => decodeRequest(f), kind('UNSUPPORTED_VERSION'));
  f.writeInt16BE(ApiKey.Metadata, 0);
  f.writeInt16BE(99, 2);
  t.throws(() => decodeRequest(f), kind('UNSUPPORTED_VERSION'));
  t.throws(() => decodeRequest(Buffer.alloc(3)), ProtocolDecodeError);
});

t.test('frame splitter: byte-at-a-time, several per chunk, limits', async (t) => {
  const a = encodeRequest(ApiKey.ApiVersions, 3, 1, 'x', { clientSoftwareName: 'n', clientSoftwareVersion: '1' });
  const b = encodeRequest(ApiKey.ApiVersions, 0, 2, 'y', {});
  const stream = Buffer.concat([a, b]);
  const got: Buffer[] = [];
  const s = new FrameSplitter(1024);
  for (let i = 0; i < stream.length; i++) s.push(stream.subarray(i, i + 1), (f) => got.push(Buffer.from(f)));
  t.equal(got.length, 2);
  t.ok(got[0]!.equals(a.subarray(4)));
  t.ok(got[1]!.equals(b.subarray(4)));
  t.equal(s.bufferedBytes, 0);
  const all: Buffer[] = [];
  new FrameSplitter(1024).push(stream, (f) => all.push(f));
  t.equal(all.length, 2);

  const neg = Buffer.alloc(4);
  neg.writeInt32BE(-5, 0);
  t.throws(() => new FrameSplitter(1024).push(neg, () => {}), kind('BAD_LENGTH'));
  const huge = Buffer.alloc(4);
  huge.writeInt32BE(2000, 0);
  t.throws(
    () => new FrameSplitter(1024).push(huge, () => {}),
    kind('FRAME_TOO_LARGE'),
    'rejected from the size prefix alone, before buffering',
  );
});
