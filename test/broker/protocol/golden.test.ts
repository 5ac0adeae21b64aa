// Golden frames captured from real Kafka clients (test/golden/, see its README.md): every request a client wrote must
// decode with our codec and re-encode to exactly its bytes; every response our fake broker sent (and the client
// accepted) must decode and re-encode to exactly its bytes. Reads only the committed files: no client is needed.
import t from 'tap';
import type { Test } from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  FrameSplitter,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../../../broker/protocol/frame.ts';
import {
  apiCodecs,
  ApiKey,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
} from '../../../broker/protocol/generated/index.ts';
import type {
  ApiCodec,
  ApiVersionsRequest,
  ApiVersionsResponse,
  FetchRequest,
  FetchResponse,
  FindCoordinatorRequest,
  HeartbeatRequest,
  InitProducerIdRequest,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  ListOffsetsRequest,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetFetchRequest,
  ProduceRequest,
  SyncGroupRequest,
} from '../../../broker/protocol/generated/index.ts';
import { Reader } from '../../../broker/protocol/wire/reader.ts';
import { Writer } from '../../../broker/protocol/wire/writer.ts';

const goldenDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../golden');

interface ManifestClient {
  software: string;
  clientId: string;
  groupId: string;
  acks: number;
}

interface ManifestFrame {
  file: string;
  kind: 'request' | 'response';
  client: string;
  profile: string;
  apiKey: number;
  api: string;
  version: number;
  flexible: boolean;
  requestVersion?: number;
  correlationId: number;
  bytes: number;
}

interface Manifest {
  clients: Record<string, ManifestClient>;
  frames: ManifestFrame[];
}

const manifest = JSON.parse(readFileSync(path.join(goldenDir, 'manifest.json'), 'utf8')) as Manifest;
/** The golden topic's id as the capture tool's fake broker gave it out (Kafka's base64url text form). */
const goldenTopicId = Buffer.from('skafos-golden-id').toString('base64url');

function readHex(file: string): Buffer {
  const text = readFileSync(path.join(goldenDir, file), 'utf8');
  const hex = text
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('')
    .replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`${file}: not hex`);
  return Buffer.from(hex, 'hex');
}

function listHexFiles(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    if (statSync(full).isDirectory()) out.push(...listHexFiles(full, rel));
    else if (name.endsWith('.hex')) out.push(rel);
  }
  return out;
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The one frame of a file (size prefix stripped), split by the same FrameSplitter the broker uses. */
function onlyFrame(tt: Test, bytes: Buffer): Buffer {
  const frames: Buffer[] = [];
  new FrameSplitter().push(bytes, (f) => frames.push(f));
  tt.equal(frames.length, 1, 'the file holds exactly one frame');
  tt.equal(frames[0]!.length + 4, bytes.length, 'the size prefix covers the whole file');
  return frames[0]!;
}

/** Byte-exact comparison that, on a mismatch, names the first differing offset and shows both sides around it. */
function sameBytes(tt: Test, actual: Buffer, expected: Buffer, what: string): boolean {
  if (actual.equals(expected)) {
    tt.pass(`${what}: ${expected.length} bytes, byte-exact`);
    return true;
  }
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const from = Math.max(0, at - 8);
  tt.fail(`${what}: differs at byte ${at} (of the frame, size prefix included)`, {
    expectedLength: expected.length,
    actualLength: actual.length,
    expectedAround: expected.subarray(from, at + 16).toString('hex'),
    actualAround: actual.subarray(from, at + 16).toString('hex'),
    aroundStartsAt: from,
  });
  return false;
}

function encodeRequestFrame(codec: ApiCodec, version: number, header: Parameters<typeof encodeRequestHeader>[2], body: unknown): Buffer {
  const w = new Writer(256);
  w.int32(0);
  encodeRequestHeader(w, requestHeaderVersion(codec, version), header);
  codec.encodeRequest(w, version, body);
  w.patchInt32AtStart(0, w.length - 4);
  return w.finish();
}

/** Decodes an embedded consumer-protocol struct: an int16 version, then the struct (newer versions read as our newest). */
function embedded<T>(buf: Buffer, decode: (r: Reader, version: number) => T, maxVersion: number): { version: number; value: T } {
  const r = new Reader(buf);
  const version = r.int16();
  return { version, value: decode(r, Math.min(version, maxVersion)) };
}

t.test('manifest and files agree', async (tt) => {
  const onDisk = listHexFiles(goldenDir).sort();
  const listed = manifest.frames.map((f) => f.file).sort();
  tt.same(onDisk, listed, 'every .hex file is in manifest.json and every manifest entry has its file');
  const clients = Object.keys(manifest.clients);
  tt.ok(clients.length >= 4, `frames from ${clients.length} clients: ${clients.join(', ')}`);
  for (const f of manifest.frames) {
    const expectedName =
      f.kind === 'request' ? `${f.client}/${kebab(f.api)}-v${f.version}-` : `${f.client}/responses/${kebab(f.api)}-v${f.version}-`;
    if (!f.file.startsWith(expectedName)) tt.fail(`${f.file} is not named after its API and version (${expectedName}…)`);
    if (apiCodecs[f.apiKey]?.name !== f.api) tt.fail(`${f.file}: API key ${f.apiKey} is not ${f.api}`);
  }
  // The point of the data: each of these APIs in at least one old and one flexible version.
  for (const key of [ApiKey.ApiVersions, ApiKey.Metadata, ApiKey.Produce, ApiKey.Fetch, ApiKey.JoinGroup, ApiKey.OffsetCommit]) {
    const requests = manifest.frames.filter((f) => f.kind === 'request' && f.apiKey === key);
    tt.ok(
      requests.some((f) => !f.flexible),
      `${apiCodecs[key]!.name}: a non-flexible request version is captured`,
    );
    tt.ok(
      requests.some((f) => f.flexible),
      `${apiCodecs[key]!.name}: a flexible request version is captured`,
    );
  }
});

const requestChecks: Record<number, (tt: Test, body: any, version: number, client: ManifestClient) => void> = {
  [ApiKey.ApiVersions](tt, body: ApiVersionsRequest, version) {
    if (version < 3) return;
    // KIP-511: both must match Kafka's validation pattern.
    const valid = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;
    tt.match(body.clientSoftwareName, valid, `client software name ${JSON.stringify(body.clientSoftwareName)}`);
    tt.match(body.clientSoftwareVersion, valid, `client software version ${JSON.stringify(body.clientSoftwareVersion)}`);
  },
  [ApiKey.Metadata](tt, body: MetadataRequest, version) {
    if (body.topics === null || (version === 0 && body.topics.length === 0)) {
      tt.pass('asks for all topics');
      return;
    }
    if (body.topics.length === 0) {
      tt.pass('asks for no topics: brokers only (librdkafka does this on connect)');
      return;
    }
    tt.ok(
      body.topics.some((topic) => topic.name === 'golden' || topic.topicId === goldenTopicId),
      `asks for topic golden (${body.topics.map((topic) => topic.name ?? topic.topicId).join(', ')})`,
    );
  },
  [ApiKey.Produce](tt, body: ProduceRequest, version, client) {
    tt.equal(body.acks, client.acks, `acks is ${client.acks}, as the client was configured`);
    if (version >= 3) tt.equal(body.transactionalId, null, 'not transactional');
    tt.equal(body.topicData.length, 1);
    tt.equal(body.topicData[0]!.name, 'golden', 'topic golden');
    const partition = body.topicData[0]!.partitionData[0]!;
    tt.equal(partition.index, 0, 'partition 0');
    const records = partition.records!;
    // Offset 16 is the magic byte of a v2 batch and of a v0/v1 message set alike.
    tt.equal(records[16], version >= 3 ? 2 : 1, `magic ${version >= 3 ? 2 : 1} records`);
    tt.ok(records.includes(Buffer.from('hello from')), 'the produced value is in the records, uncompressed');
  },
  [ApiKey.Fetch](tt, body: FetchRequest, version) {
    const replicaId = version >= 15 ? body.replicaState.replicaId : body.replicaId;
    tt.equal(replicaId, -1, 'a consumer, not a follower');
    const topic = body.topics[0]!;
    if (version >= 13) tt.equal(topic.topicId, goldenTopicId, 'topic golden, by id');
    else tt.equal(topic.topic, 'golden', 'topic golden');
    tt.equal(topic.partitions[0]!.partition, 0, 'partition 0');
    tt.ok(topic.partitions[0]!.fetchOffset === 0 || topic.partitions[0]!.fetchOffset === 1, 'fetches offset 0 or 1');
    tt.ok(body.maxWaitMs >= 0 && body.minBytes >= 0, 'max wait and min bytes are sane');
  },
  [ApiKey.ListOffsets](tt, body: ListOffsetsRequest) {
    tt.equal(body.replicaId, -1, 'a consumer');
    tt.equal(body.topics[0]!.name, 'golden', 'topic golden');
    const p = body.topics[0]!.partitions[0]!;
    tt.equal(p.partitionIndex, 0, 'partition 0');
    tt.ok(p.timestamp === -1 || p.timestamp === -2, `asks for the latest or earliest offset (${p.timestamp})`);
  },
  [ApiKey.FindCoordinator](tt, body: FindCoordinatorRequest, version, client) {
    if (version >= 4) tt.same(body.coordinatorKeys, [client.groupId], `coordinator of ${client.groupId}`);
    else tt.equal(body.key, client.groupId, `coordinator of ${client.groupId}`);
    tt.equal(body.keyType, 0, 'a group coordinator');
  },
  [ApiKey.JoinGroup](tt, body: JoinGroupRequest, _version, client) {
    tt.equal(body.groupId, client.groupId, `group ${client.groupId}`);
    tt.equal(body.protocolType, 'consumer', 'protocol type consumer');
    tt.ok(body.sessionTimeoutMs > 0, 'a session timeout');
    tt.ok(body.protocols.length > 0, `assignors: ${body.protocols.map((p) => p.name).join(', ')}`);
    for (const p of body.protocols) {
      const sub = embedded(p.metadata, decodeConsumerProtocolSubscription, 3);
      tt.same(sub.value.topics, ['golden'], `${p.name} subscription (v${sub.version}) is to golden`);
    }
  },
  [ApiKey.SyncGroup](tt, body: SyncGroupRequest, _version, client) {
    tt.equal(body.groupId, client.groupId, `group ${client.groupId}`);
    tt.equal(body.generationId, 1, 'generation 1');
    tt.not(body.memberId, '', 'a member id');
    // The client leads the group, so it sends the assignment: all of golden to itself.
    const mine = body.assignments.find((a) => a.memberId === body.memberId);
    tt.ok(mine !== undefined, 'the leader assigns to itself');
    const assignment = embedded(mine!.assignment, decodeConsumerProtocolAssignment, 3);
    tt.same(
      assignment.value.assignedPartitions.map((a) => ({ topic: a.topic, partitions: a.partitions })),
      [{ topic: 'golden', partitions: [0] }],
      `assignment (v${assignment.version}) is golden/0`,
    );
  },
  [ApiKey.Heartbeat](tt, body: HeartbeatRequest, _version, client) {
    tt.equal(body.groupId, client.groupId, `group ${client.groupId}`);
    tt.equal(body.generationId, 1, 'generation 1');
    tt.not(body.memberId, '', 'a member id');
  },
  [ApiKey.LeaveGroup](tt, body: LeaveGroupRequest, version, client) {
    tt.equal(body.groupId, client.groupId, `group ${client.groupId}`);
    if (version >= 3) tt.ok(body.members.length === 1 && body.members[0]!.memberId !== '', 'one member leaves');
    else tt.not(body.memberId, '', 'a member id');
  },
  [ApiKey.OffsetCommit](tt, body: OffsetCommitRequest, version, client) {
    tt.equal(body.groupId, client.groupId, `group ${client.groupId}`);
    if (version >= 1) tt.equal(body.generationIdOrMemberEpoch, 1, 'generation 1');
    tt.equal(body.topics.length, 1);
    tt.equal(body.topics[0]!.name, 'golden', 'topic golden');
    const p = body.topics[0]!.partitions[0]!;
    tt.equal(p.partitionIndex, 0, 'partition 0');
    tt.equal(p.committedOffset, 1, 'commits offset 1, after the one record read');
  },
  [ApiKey.OffsetFetch](tt, body: OffsetFetchRequest, version, client) {
    const groupId = version >= 8 ? body.groups[0]!.groupId : body.groupId;
    const topics = version >= 8 ? body.groups[0]!.topics : body.topics;
    tt.equal(groupId, client.groupId, `group ${client.groupId}`);
    if (topics !== null)
      tt.ok(
        topics.some((topic) => topic.name === 'golden' && topic.partitionIndexes.includes(0)),
        'asks for golden/0',
      );
  },
  [ApiKey.InitProducerId](tt, body: InitProducerIdRequest) {
    tt.equal(body.transactionalId, null, 'an idempotent, not transactional, producer');
  },
};

for (const f of manifest.frames.filter((frame) => frame.kind === 'request')) {
  t.test(`${f.client} ${f.api} v${f.version} request (${f.file})`, async (tt) => {
    const client = manifest.clients[f.client]!;
    const bytes = readHex(f.file);
    tt.equal(bytes.length, f.bytes, 'length as recorded');
    const frame = onlyFrame(tt, bytes);
    const codec = apiCodecs[f.apiKey]!;

    // The broker's entry point.
    const decoded = decodeRequest(frame);
    tt.equal(decoded.apiKey, f.apiKey, `API key ${f.apiKey} (${f.api})`);
    tt.equal(decoded.apiVersion, f.version, `version ${f.version}`);
    tt.equal(decoded.header.correlationId, f.correlationId, 'correlation id');
    tt.equal(decoded.header.clientId, client.clientId, `client id ${client.clientId}`);

    // The same decode step by step, to see that the body ends exactly where the frame does.
    const r = new Reader(frame);
    const header = decodeRequestHeader(r, requestHeaderVersion(codec, f.version));
    const body = codec.decodeRequest(r, f.version);
    tt.equal(r.pos, frame.length, 'decoding consumes the whole frame');
    tt.same(body, decoded.body, 'decodeRequest gives the same body');
    tt.same(header, decoded.header, 'decodeRequest gives the same header');

    // Every captured frame must re-encode byte-exact: a codec difference is a failure, never a todo.
    const reencoded = encodeRequestFrame(codec, f.version, decoded.header, decoded.body);
    sameBytes(tt, reencoded, bytes, 'header + body re-encoded');
    if (decoded.header._tagged === undefined) {
      sameBytes(
        tt,
        encodeRequest(f.apiKey, f.version, decoded.header.correlationId, decoded.header.clientId, decoded.body),
        bytes,
        'encodeRequest',
      );
    }

    const check = requestChecks[f.apiKey];
    if (check !== undefined) check(tt, decoded.body, f.version, client);
  });
}

const responseChecks: Record<number, (tt: Test, body: any, f: ManifestFrame) => void> = {
  [ApiKey.ApiVersions](tt, body: ApiVersionsResponse, f) {
    if (f.requestVersion! > f.version) {
      tt.equal(body.errorCode, 35, 'UNSUPPORTED_VERSION: the client retried with an older version');
      tt.same(
        body.apiKeys.map((k) => k.apiKey),
        [ApiKey.ApiVersions],
        'only the ApiVersions range is given',
      );
    } else {
      tt.equal(body.errorCode, 0, 'no error');
      tt.ok(
        body.apiKeys.some((k) => k.apiKey === ApiKey.Produce),
        'advertises Produce',
      );
    }
  },
  [ApiKey.Metadata](tt, body: MetadataResponse) {
    tt.equal(body.brokers.length, 1, 'one broker');
    if (body.topics.length === 0) tt.pass('brokers only, as asked');
    else
      tt.ok(
        body.topics.some((topic) => topic.name === 'golden' && topic.partitions.length === 1),
        'topic golden with one partition',
      );
  },
  [ApiKey.Fetch](tt, body: FetchResponse, f) {
    const p = body.responses[0]!.partitions[0]!;
    if (p.records !== null && p.records.length > 0) {
      tt.equal(p.records[16], f.version >= 4 ? 2 : f.version >= 2 ? 1 : 0, 'record format matching the Fetch version');
      tt.ok(p.records.includes(Buffer.from('golden-value')), 'carries the canned record');
    } else tt.pass('an empty fetch');
  },
  [ApiKey.JoinGroup](tt, body: JoinGroupResponse) {
    tt.ok(body.errorCode === 0 || body.errorCode === 79, 'success or MEMBER_ID_REQUIRED (KIP-394)');
  },
};

for (const f of manifest.frames.filter((frame) => frame.kind === 'response')) {
  t.test(`${f.client} ${f.api} v${f.version} response (${f.file})`, async (tt) => {
    const bytes = readHex(f.file);
    tt.equal(bytes.length, f.bytes, 'length as recorded');
    const frame = onlyFrame(tt, bytes);
    const codec = apiCodecs[f.apiKey]!;

    const decoded = decodeResponse(frame, f.apiKey, f.version);
    tt.equal(decoded.correlationId, f.correlationId, 'correlation id');

    const r = new Reader(frame);
    decodeResponseHeader(r, responseHeaderVersion(codec, f.version));
    const body = codec.decodeResponse(r, f.version);
    tt.equal(r.pos, frame.length, 'decoding consumes the whole frame');
    tt.same(body, decoded.body, 'decodeResponse gives the same body');

    sameBytes(tt, Buffer.concat(encodeResponse(f.apiKey, f.version, decoded.correlationId, decoded.body)), bytes, 'response re-encoded');

    const check = responseChecks[f.apiKey];
    if (check !== undefined) check(tt, decoded.body, f);
  });
}
