// DescribeLogDirs: the one data directory (log.dirs) with each partition's size, the bytes of its retained
// extents in the object store. Kafka's ReplicaManager.describeLogDirs: a leader's offset lag is 0, nothing is
// a future replica; v4 adds the volume's total and usable bytes.
import { statfs } from 'node:fs/promises';
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  DescribeLogDirsRequest,
  DescribeLogDirsResponseInput,
  DescribeLogDirsResponseDescribeLogDirsTopicInput,
  DescribeLogDirsResponseDescribeLogDirsPartitionInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { PartitionLog } from '../log/partition-log.ts';
import type { ApiHandler, RequestContext } from './context.ts';

/** DescribeLogDirsResponse.UNKNOWN_VOLUME_BYTES */
const unknownVolumeBytes = -1;

function partitionSize(log: PartitionLog): number {
  let size = 0;
  for (const e of log.extents) if (e.lastOffset >= log.logStartOffset) size += e.lengthBytes;
  return size;
}

export const describeLogDirsHandler: ApiHandler<typeof ApiKey.DescribeLogDirs> = {
  apiKey: ApiKey.DescribeLogDirs,
  minVersion: 0,
  maxVersion: 4,
  async handle(ctx: RequestContext, req: DescribeLogDirsRequest): Promise<DescribeLogDirsResponseInput> {
    const s = ctx.services;
    let wanted: Map<string, Set<number>> | null = null;
    if (req.topics !== null) {
      wanted = new Map();
      for (const t of req.topics)
        for (const p of t.partitions) (wanted.get(t.topic) ?? wanted.set(t.topic, new Set()).get(t.topic)!).add(p);
    }
    const topics: DescribeLogDirsResponseDescribeLogDirsTopicInput[] = [];
    for (const t of s.topics.all()) {
      const only = wanted?.get(t.name);
      if (wanted && !only) continue;
      const partitions: DescribeLogDirsResponseDescribeLogDirsPartitionInput[] = [];
      for (let p = 0; p < t.partitions; p++) {
        const log = s.logs.partition(t.id, p);
        if (!log || (only && !only.has(p))) continue;
        partitions.push({ partitionIndex: p, partitionSize: partitionSize(log), offsetLag: 0, isFutureKey: false });
      }
      if (partitions.length > 0) topics.push({ name: t.name, partitions });
    }
    let totalBytes = unknownVolumeBytes;
    let usableBytes = unknownVolumeBytes;
    try {
      const fs = await statfs(s.config.dataDir);
      totalBytes = fs.blocks * fs.bsize;
      usableBytes = fs.bavail * fs.bsize;
    } catch (err) {
      s.logger.warn({ err, dir: s.config.dataDir }, 'cannot read the data directory volume size');
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      results: [{ errorCode: ErrorCode.NONE, logDir: s.config.dataDir, topics, totalBytes, usableBytes }],
    };
  },
};
