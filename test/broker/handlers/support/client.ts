// A broker in-process on a temp directory, and a minimal Kafka protocol client that sends real requests over a
// socket: encodeRequest / FrameSplitter / decodeResponse. For handler tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { startBroker } from '../../../../broker/broker.ts';
import type { RunningBroker } from '../../../../broker/broker.ts';
import { loadConfig } from '../../../../broker/config.ts';
import { silentLogger } from '../../../../broker/ops/logger.ts';
import { decodeResponse, encodeRequest, FrameSplitter } from '../../../../broker/protocol/frame.ts';
import { ApiKey } from '../../../../broker/protocol/generated/index.ts';
import { buildRecordBatch } from '../../../../broker/protocol/records/build.ts';

interface Waiting {
  apiKey: number;
  version: number;
  resolve: (body: any) => void;
  reject: (e: Error) => void;
}

export class TestClient {
  private readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  private readonly waiting = new Map<number, Waiting>();
  private nextCorrelationId = 1;
  private closedError: Error | null = null;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.splitter.push(chunk, (frame) => this.onFrame(frame)));
    const fail = (e: Error) => {
      this.closedError ??= e;
      for (const w of this.waiting.values()) w.reject(this.closedError);
      this.waiting.clear();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the broker')));
  }

  static connect(port: number): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        resolve(new TestClient(socket));
      });
      socket.once('error', reject);
    });
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const w = this.waiting.get(correlationId);
    if (!w) return;
    this.waiting.delete(correlationId);
    try {
      w.resolve(decodeResponse(frame, w.apiKey, w.version).body);
    } catch (e) {
      w.reject(e as Error);
    }
  }

  /** Sends one request and resolves with the decoded response body. */
  request(apiKey: number, version: number, body: unknown): Promise<any> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequest(apiKey, version, correlationId, 'handler-test', body);
    return new Promise((resolve, reject) => {
      this.waiting.set(correlationId, { apiKey, version, resolve, reject });
      this.socket.write(frame);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface TestBroker {
  broker: RunningBroker;
  client: TestClient;
  port: number;
  dir: string;
  bootstrap: string;
}

/** Starts a broker on `dir` (port 0, no ops endpoint, short flush linger) with a connected client. */
export async function startBrokerIn(
  dir: string,
  sets: Record<string, string> = {},
): Promise<{ broker: RunningBroker; client: TestClient; close: () => Promise<void> }> {
  const config = loadConfig({
    sets: { 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0', 'skafos.http.listener': '', 'skafos.flush.linger.ms': '5', ...sets },
  });
  const broker = await startBroker(config, silentLogger());
  const client = await TestClient.connect(broker.port);
  return {
    broker,
    client,
    close: async () => {
      client.close();
      await broker.close();
    },
  };
}

/** Starts a broker on a fresh temp directory; it and the directory go with the test. */
export async function startTestBroker(t: Test, sets: Record<string, string> = {}): Promise<TestBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'skafos-handler-'));
  const { broker, client, close } = await startBrokerIn(dir, sets);
  t.teardown(async () => {
    await close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { broker, client, port: broker.port, dir, bootstrap: `127.0.0.1:${broker.port}` };
}

/** Creates a topic through CreateTopics v7 and checks that it worked. */
export async function createTopic(client: TestClient, name: string, partitions = 1, configs: Record<string, string> = {}): Promise<void> {
  const r = await client.request(ApiKey.CreateTopics, 7, {
    topics: [
      {
        name,
        numPartitions: partitions,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
      },
    ],
    timeoutMs: 10000,
    validateOnly: false,
  });
  const result = r.topics[0];
  if (result.errorCode !== 0) throw new Error(`creating ${name}: error ${result.errorCode} ${result.errorMessage}`);
}

/**
 * Produces `count` records in one batch (Produce v9, acks=-1); resolves with the base offset. Records have keys,
 * so that compacted topics take them too.
 */
export async function produce(client: TestClient, topic: string, partition: number, count: number): Promise<number> {
  const now = Date.now();
  const records = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(`value-${i}`),
    timestampMs: now,
  }));
  const r = await client.request(ApiKey.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch(records) }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  if (p.errorCode !== 0) throw new Error(`producing to ${topic}-${partition}: error ${p.errorCode} ${p.errorMessage}`);
  return Number(p.baseOffset);
}
