// Helpers shared by the broker scenarios: topics, charts, and the targets of issue 7 (collected from every
// scenario of a run; bench/run.ts prints them together at the end and writes them to summary-<time>.json).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import type { DeleteTopicsResponse, FetchResponse, MetadataResponse } from '../../broker/protocol/generated/index.ts';
import { createTopic as create } from './broker-load.ts';
import type { ScenarioOptions } from './scenario.ts';
import { lineChart } from './svg.ts';
import type { ChartSpec } from './svg.ts';
import { WireConnection } from './wire-client.ts';

/**
 * Creates a topic and waits until every partition has a leader that accepts produce (with etcd metadata,
 * leadership is assigned asynchronously after CreateTopics returns). Returns the topic id.
 */
export async function createTopic(port: number, name: string, partitions: number, timeoutMs = 120_000): Promise<string> {
  const id = await create(port, name, partitions);
  const conn = await WireConnection.connect(port);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await conn.request<MetadataResponse>(ApiKey.Metadata, 12, {
        topics: [{ topicId: 'AAAAAAAAAAAAAAAAAAAAAA', name }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      const t = res.topics[0];
      const ready =
        t !== undefined &&
        t.errorCode === 0 &&
        t.partitions.length === partitions &&
        t.partitions.every((p) => p.errorCode === 0 && p.leaderId >= 0);
      if (ready) {
        await waitTopicReady(port, name, id, partitions, Math.max(1000, deadline - Date.now()));
        return id;
      }
      if (Date.now() > deadline) throw new Error(`topic ${name}: partitions without a leader ${timeoutMs} ms after CreateTopics`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    conn.close();
  }
}

export async function deleteTopic(port: number, name: string): Promise<void> {
  const conn = await WireConnection.connect(port);
  try {
    const res = await conn.request<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, {
      topics: [{ name, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      timeoutMs: 30_000,
    });
    const r = res.responses[0];
    if (r && r.errorCode !== 0) throw new Error(`DeleteTopics ${name}: error ${r.errorCode}`);
  } finally {
    conn.close();
  }
}

/** Writes `<outDir>/<runId>-<name>.svg` and returns its path. */
export function writeChart(o: ScenarioOptions, name: string, spec: ChartSpec): string {
  const file = join(o.outDir, `${o.runId}-${name}.svg`);
  writeFileSync(file, lineChart(spec));
  return file;
}

/**
 * Waits until a Fetch (max_wait 0) of every partition at offset 0 succeeds: the broker has opened each
 * partition's log (after CreateTopics, or after a restart on etcd metadata, leadership and logs come up
 * asynchronously, and a Fetch meanwhile gets NOT_LEADER_OR_FOLLOWER).
 */
export async function waitTopicReady(port: number, topic: string, topicId: string, partitions: number, timeoutMs = 120_000): Promise<void> {
  const conn = await WireConnection.connect(port);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await conn.request<FetchResponse>(ApiKey.Fetch, 16, {
        replicaState: { replicaId: -1, replicaEpoch: -1 },
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            topicId,
            partitions: Array.from({ length: partitions }, (_, p) => ({
              partition: p,
              currentLeaderEpoch: -1,
              fetchOffset: 0,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1,
            })),
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      const bad =
        res.errorCode !== 0 ? partitions : res.responses.reduce((n, t) => n + t.partitions.filter((p) => p.errorCode !== 0).length, 0);
      if (bad === 0 && res.responses.reduce((n, t) => n + t.partitions.length, 0) === partitions) return;
      if (Date.now() > deadline)
        throw new Error(`topic ${topic}: ${bad} partitions still refuse fetches ${timeoutMs} ms after creation/restart`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    conn.close();
  }
}

export interface TargetResult {
  scenario: string;
  target: string;
  measured: string;
  /** null: not measurable in this run (e.g. needs --backend s3). */
  met: boolean | null;
  note?: string;
}

export const targetResults: TargetResult[] = [];

export function target(t: TargetResult): TargetResult {
  targetResults.push(t);
  return t;
}

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
