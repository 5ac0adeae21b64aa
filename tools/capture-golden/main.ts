// Captures golden request frames from real Kafka clients (and the responses they accepted) into test/golden/.
//
//   node tools/capture-golden/main.ts [--out test/golden] [--clients kcat,kafkajs,...] [--dry-run]
//
// For every client and every version profile it starts a fake broker on 127.0.0.1 (random port), runs the client's
// scripted session against it (produce one message, consume it, run a one-member consumer group that commits), and
// records every frame. Distinct frames (correlation id aside) are written as hex, a few per client, API and version.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { apiCodecs } from '../../broker/protocol/generated/index.ts';
import { clients, runStep } from './clients.ts';
import type { ClientSpec, StepResult } from './clients.ts';
import { FakeBroker } from './fake-broker.ts';
import type { Exchange } from './fake-broker.ts';
import { profiles } from './profiles.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

/** How many distinct frames are kept per client, API, version and direction. */
const keepPerKey = 3;
/** Frames larger than this are not kept (the golden data stays small). */
const maxFrameBytes = 8192;

export interface ManifestClient {
  software: string;
  clientId: string;
  groupId: string;
  acks: number;
  profiles: string[];
  /** Per profile: whether every scripted step of the session succeeded. */
  sessions: Record<string, { ok: boolean; steps: string[] }>;
}

export interface ManifestFrame {
  file: string;
  kind: 'request' | 'response';
  client: string;
  profile: string;
  apiKey: number;
  api: string;
  /** The version the frame is encoded at. */
  version: number;
  flexible: boolean;
  /** For a response: the version of the request it answers (differs for an ApiVersions UNSUPPORTED_VERSION answer). */
  requestVersion?: number;
  correlationId: number;
  bytes: number;
}

export interface Manifest {
  note: string;
  capturedAt: string;
  node: string;
  clients: Record<string, ManifestClient>;
  frames: ManifestFrame[];
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function toHex(buf: Buffer): string {
  const hex = buf.toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += 64) lines.push(hex.slice(i, i + 64));
  return lines.join('\n');
}

/** The frame with its correlation id zeroed, so repeats of the same request compare equal. */
function dedupKey(frame: Buffer, correlationIdAt: number): string {
  const copy = Buffer.from(frame);
  if (copy.length >= correlationIdAt + 4) copy.writeInt32BE(0, correlationIdAt);
  return copy.toString('hex');
}

function isFlexible(apiKey: number, version: number): boolean {
  const codec = apiCodecs[apiKey];
  return codec !== undefined && codec.flexibleMinVersion >= 0 && version >= codec.flexibleMinVersion;
}

interface Session {
  client: ClientSpec;
  profile: string;
  exchanges: Exchange[];
  steps: StepResult[];
  ok: boolean;
}

async function captureSession(client: ClientSpec, profileName: string): Promise<Session> {
  const profile = profiles[profileName];
  if (profile === undefined) throw new Error(`unknown profile ${profileName}`);
  const broker = new FakeBroker(`${client.name}/${profileName}`, profile);
  const port = await broker.start();
  const steps: StepResult[] = [];
  try {
    for (const step of client.steps(port)) {
      const r = await runStep(step);
      steps.push(r);
      const status = r.ok ? 'ok' : `FAILED (exit ${r.code})`;
      console.log(`  ${client.name} [${profileName}] ${step.label}: ${status} in ${r.ms} ms`);
      if (!r.ok)
        console.log(
          r.output
            .trim()
            .split('\n')
            .slice(-15)
            .map((l) => `      ${l}`)
            .join('\n'),
        );
    }
    // Let the last responses reach the socket before the broker goes away.
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await broker.stop();
  }
  const ok = steps.every((s) => s.ok);
  return { client, profile: profileName, exchanges: broker.exchanges, steps, ok };
}

function describeSession(s: Session): void {
  const byApi = new Map<string, number>();
  for (const e of s.exchanges) {
    const name = `${apiCodecs[e.apiKey]?.name ?? `api${e.apiKey}`} v${e.apiVersion}${e.unadvertised ? '*' : ''}${e.decodeError !== undefined ? '!' : ''}`;
    byApi.set(name, (byApi.get(name) ?? 0) + 1);
  }
  console.log(`  ${s.client.name} [${s.profile}] ${s.ok ? 'ok' : 'FAILED'}: ${[...byApi].map(([k, n]) => `${k}×${n}`).join(', ')}`);
  for (const e of s.exchanges) {
    if (e.decodeError !== undefined) console.log(`    decode error in ${apiCodecs[e.apiKey]?.name} v${e.apiVersion}: ${e.decodeError}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(repoRoot, 'test/golden') },
      clients: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const outDir = path.resolve(values.out!);
  const wanted = values.clients?.split(',').map((s) => s.trim()) ?? clients.map((c) => c.name);
  const manifestPath = path.join(outDir, 'manifest.json');
  const previous: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;

  const manifest: Manifest = {
    note: 'Written by tools/capture-golden/main.ts; see README.md. Frames are hex, size prefix included.',
    capturedAt: new Date().toISOString(),
    node: process.version,
    clients: {},
    frames: [],
  };

  for (const client of clients) {
    if (!wanted.includes(client.name)) {
      if (previous?.clients[client.name] !== undefined) {
        manifest.clients[client.name] = previous.clients[client.name]!;
        manifest.frames.push(...previous.frames.filter((f) => f.client === client.name));
      }
      continue;
    }
    let software: string;
    try {
      software = client.version();
    } catch (err) {
      console.warn(`skipping ${client.name}: not available (${(err as Error).message.split('\n')[0]})`);
      if (previous?.clients[client.name] !== undefined) {
        manifest.clients[client.name] = previous.clients[client.name]!;
        manifest.frames.push(...previous.frames.filter((f) => f.client === client.name));
      }
      continue;
    }
    console.log(`${software}`);
    const sessions: Session[] = [];
    for (const profile of client.profiles) sessions.push(await captureSession(client, profile));
    for (const s of sessions) describeSession(s);

    manifest.clients[client.name] = {
      software,
      clientId: client.clientId,
      groupId: client.groupId,
      acks: client.acks,
      profiles: client.profiles,
      sessions: Object.fromEntries(
        sessions.map((s) => [s.profile, { ok: s.ok, steps: s.steps.map((st) => `${st.label}: ${st.ok ? 'ok' : `exit ${st.code}`}`) }]),
      ),
    };

    const clientDir = path.join(outDir, client.name);
    if (!values['dry-run']) {
      rmSync(clientDir, { recursive: true, force: true });
      mkdirSync(path.join(clientDir, 'responses'), { recursive: true });
    }
    const seen = new Map<string, Set<string>>();
    const count = (kind: string, apiKey: number, version: number, key: string): number | null => {
      const group = `${kind}/${apiKey}/${version}`;
      let set = seen.get(group);
      if (set === undefined) seen.set(group, (set = new Set()));
      if (set.has(key) || set.size >= keepPerKey) return null;
      set.add(key);
      return set.size;
    };
    let dropped = 0;
    const write = (frame: ManifestFrame, bytes: Buffer, comment: string) => {
      manifest.frames.push(frame);
      if (!values['dry-run']) writeFileSync(path.join(outDir, frame.file), `# ${comment}\n${toHex(bytes)}\n`);
    };
    for (const s of sessions) {
      for (const e of s.exchanges) {
        const codec = apiCodecs[e.apiKey];
        const api = codec?.name ?? `Api${e.apiKey}`;
        const apiFile = kebab(api);
        // Requests: 4-byte size prefix, then key, version, correlation id.
        if (e.request.length > maxFrameBytes) dropped++;
        else {
          const n = count('request', e.apiKey, e.apiVersion, dedupKey(e.request, 8));
          if (n !== null) {
            const file = `${client.name}/${apiFile}-v${e.apiVersion}-${n}.hex`;
            write(
              {
                file,
                kind: 'request',
                client: client.name,
                profile: s.profile,
                apiKey: e.apiKey,
                api,
                version: e.apiVersion,
                flexible: isFlexible(e.apiKey, e.apiVersion),
                correlationId: e.correlationId,
                bytes: e.request.length,
              },
              e.request,
              `${software}, profile ${s.profile}: ${api} v${e.apiVersion} request, correlation id ${e.correlationId}`,
            );
          }
        }
        // Responses only from sessions the client completed: it decoded them and carried on.
        const res = e.response;
        if (!s.ok || res === undefined) continue;
        if (res.bytes.length > maxFrameBytes) {
          dropped++;
          continue;
        }
        const n = count('response', e.apiKey, res.version, dedupKey(res.bytes, 4));
        if (n === null) continue;
        const file = `${client.name}/responses/${apiFile}-v${res.version}-${n}.hex`;
        write(
          {
            file,
            kind: 'response',
            client: client.name,
            profile: s.profile,
            apiKey: e.apiKey,
            api,
            version: res.version,
            flexible: isFlexible(e.apiKey, res.version),
            requestVersion: e.apiVersion,
            correlationId: e.correlationId,
            bytes: res.bytes.length,
          },
          res.bytes,
          `fake broker (our codec) to ${software}, profile ${s.profile}: ${api} v${res.version} response to a v${e.apiVersion} request, accepted by the client`,
        );
      }
    }
    if (dropped > 0) console.log(`  ${client.name}: ${dropped} frame(s) over ${maxFrameBytes} bytes not kept`);
  }

  manifest.frames.sort((a, b) => a.file.localeCompare(b.file, 'en', { numeric: true }));
  if (values['dry-run']) {
    console.log(`dry run: ${manifest.frames.length} frame(s) would be written`);
    return;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'README.md'), readme(manifest));
  console.log(`wrote ${manifest.frames.length} frame(s) to ${path.relative(repoRoot, outDir)}`);
}

function coverageTable(m: Manifest, kind: 'request' | 'response'): string {
  const names = Object.keys(m.clients);
  const apis = new Map<string, number>();
  for (const f of m.frames) apis.set(f.api, f.apiKey);
  const rows = [...apis].sort((a, b) => a[1] - b[1]);
  const lines = [`| API (key) | ${names.join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`];
  for (const [api, key] of rows) {
    const cells = names.map((c) => {
      const versions = [
        ...new Set(m.frames.filter((f) => f.kind === kind && f.client === c && f.apiKey === key).map((f) => f.version)),
      ].sort((a, b) => a - b);
      return versions.map((v) => (isFlexible(key, v) ? `**v${v}**` : `v${v}`)).join(' ') || '–';
    });
    if (cells.every((c) => c === '–')) continue;
    lines.push(`| ${api} (${key}) | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

function readme(m: Manifest): string {
  const clientRows = Object.entries(m.clients)
    .map(([name, c]) => {
      const sessions = Object.entries(c.sessions)
        .map(([p, s]) => `${p}${s.ok ? '' : ' (failed)'}`)
        .join(', ');
      return `| \`${name}/\` | ${c.software} | \`${c.clientId}\` | \`${c.groupId}\` | ${c.acks} | ${sessions} |`;
    })
    .join('\n');
  const profileRows = Object.values(profiles)
    .map(
      (p) =>
        `| \`${p.name}\` | ${p.description} | ${[...p.versions]
          .sort((a, b) => a[0] - b[0])
          .map(([k, [, max]]) => `${apiCodecs[k]!.name} ${max}`)
          .join(', ')} |`,
    )
    .join('\n');
  return `# Golden protocol frames from real Kafka clients

Byte-exact request frames captured on a socket from real Kafka clients, and the response frames our codec sent them,
checked by \`test/broker/protocol/golden.test.ts\`: every request must decode with our codec and re-encode to exactly
the bytes the client wrote; every response must decode and re-encode to the same bytes. The test reads only the
files here; no client is needed to run it.

*This file and \`manifest.json\` are written by the capture tool; do not edit them by hand.*

## How they were captured

\`tools/capture-golden/\` runs a scripted fake broker on 127.0.0.1 (random port) built on our codec
(\`broker/protocol/frame.ts\`). It answers just enough for each client to proceed: ApiVersions, Metadata (one broker,
itself; topic \`golden\` with one partition it leads), Produce (success, offset 0; no response to acks=0), Fetch (one
canned record at offset 0, as a magic-2 batch from Fetch v4 and a magic-1 message set before, then empty),
ListOffsets, FindCoordinator (itself), a one-member consumer group in which the client is the leader (JoinGroup with
KIP-394 MEMBER_ID_REQUIRED on v4+, SyncGroup, Heartbeat, OffsetCommit, OffsetFetch, LeaveGroup), InitProducerId and
OffsetForLeaderEpoch. It records every request frame (size prefix included) and every response frame.

Each client runs one session per version *profile*: what the fake broker advertises in ApiVersions decides which
request versions the client uses. An ApiVersions request newer than the profile allows gets Kafka's answer, a v0
UNSUPPORTED_VERSION response, and the client retries lower.

| Profile | Meaning | Advertised maxima |
|---|---|---|
${profileRows}

A session is: produce one message, read it, then run a group consumer that reads it, commits and leaves
(\`tools/capture-golden/clients.ts\`, \`tools/capture-golden/drivers/\`). Of each client's frames, up to ${keepPerKey}
distinct ones (correlation id aside) are kept per API, version and direction; frames over ${maxFrameBytes} bytes are
not kept. Responses are kept only from sessions the client completed: it decoded them and carried on.

To capture again (needs the clients installed: \`apt-get install kcat python3-kafka python3-confluent-kafka\`; kafkajs
and @platformatic/kafka are dev dependencies):

\`\`\`sh
export PATH=$PWD/node_modules/.bin:$PATH   # Node 24
node tools/capture-golden/main.ts                       # all clients
node tools/capture-golden/main.ts --clients kcat,kafkajs  # some; the others' files are kept
node tools/capture-golden/main.ts --dry-run             # capture and report, write nothing
\`\`\`

The Python clients are run with \`/usr/bin/python3\` (Debian's packages; override with \`GOLDEN_PYTHON\`), kcat from
PATH (\`GOLDEN_KCAT\`). A new capture changes some bytes: request frames carry client-side timestamps and correlation ids, and
responses the random port of the fake broker (Metadata, FindCoordinator).

Last capture: ${m.capturedAt}, Node ${m.node}.

## Clients

| Directory | Client | client.id | group.id | acks | Sessions (profiles) |
|---|---|---|---|---|---|
${clientRows}

## Files

\`<client>/<api>-v<version>-<n>.hex\` is a request frame; \`<client>/responses/<api>-v<version>-<n>.hex\` a response
frame (\`version\` is the version it is encoded at). Hex text, 32 bytes a line, after one \`#\` comment line.
\`manifest.json\` lists every file with its client, profile, API key, version and correlation id.

## Coverage: request versions captured (**bold** = flexible)

${coverageTable(m, 'request')}

## Coverage: response versions recorded (**bold** = flexible)

${coverageTable(m, 'response')}
`;
}

await main();
