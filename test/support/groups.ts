// Helpers for the consumer group integration tests: a topic filled with a known number of records per
// partition, committed offsets read over the wire, and the checks every client's group test makes.
import type { Test } from 'tap';
import { ApiKey } from '../../broker/protocol/generated/index.ts';
import { createTopic, produce, TestClient } from '../broker/handlers/support/client.ts';

/** Group settings for tests: the first rebalance waits only briefly for more members. */
export const groupBrokerSets = { 'group.initial.rebalance.delay.ms': 1000, 'group.min.session.timeout.ms': 1000 };

/** Creates `topic` with `partitions` partitions and `perPartition` records in each. */
export async function fillTopic(bootstrapPort: number, topic: string, partitions: number, perPartition: number): Promise<void> {
  const c = await TestClient.connect(bootstrapPort);
  try {
    await createTopic(c, topic, partitions);
    for (let p = 0; p < partitions; p++) await produce(c, topic, p, perPartition);
  } finally {
    c.close();
  }
}

/** Appends `count` more records to one partition. */
export async function produceMore(port: number, topic: string, partition: number, count: number): Promise<void> {
  const c = await TestClient.connect(port);
  try {
    await produce(c, topic, partition, count);
  } finally {
    c.close();
  }
}

/** Committed offsets of a group for a topic's partitions (-1 where none), through OffsetFetch v7. */
export async function committedOffsets(port: number, group: string, topic: string, partitions: number): Promise<number[]> {
  const c = await TestClient.connect(port);
  try {
    const r = await c.request(ApiKey.OffsetFetch, 7, {
      groupId: group,
      topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, i) => i) }],
      requireStable: false,
    });
    if (r.errorCode !== 0) throw new Error(`OffsetFetch ${group}: error ${r.errorCode}`);
    return r.topics[0].partitions.map((p: any) => Number(p.committedOffset));
  } finally {
    c.close();
  }
}

/** DescribeGroups v5 of one group. */
export async function describeGroup(port: number, group: string): Promise<any> {
  const c = await TestClient.connect(port);
  try {
    return (await c.request(ApiKey.DescribeGroups, 5, { groups: [group], includeAuthorizedOperations: false })).groups[0];
  } finally {
    c.close();
  }
}

/** Each partition in exactly one of the members' assignments. */
export function checkExclusiveCover(t: Test, assignments: number[][], partitions: number, what: string): void {
  const all = assignments.flat().sort((a, b) => a - b);
  t.same(
    all,
    Array.from({ length: partitions }, (_, i) => i),
    `${what}: every partition assigned to exactly one member (${JSON.stringify(assignments)})`,
  );
}

/** Every offset in [0, perPartition) of every partition consumed (duplicates allowed across a rebalance). */
export function checkAllConsumed(
  t: Test,
  records: { p: number; o: number }[],
  partitions: number,
  perPartition: number,
  what: string,
): void {
  const seen = new Set(records.map((r) => `${r.p}:${r.o}`));
  const missing: string[] = [];
  for (let p = 0; p < partitions; p++) for (let o = 0; o < perPartition; o++) if (!seen.has(`${p}:${o}`)) missing.push(`${p}:${o}`);
  t.same(missing, [], `${what}: every record consumed`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true, up to `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
