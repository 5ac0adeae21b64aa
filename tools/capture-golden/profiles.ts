// What the fake broker advertises in its ApiVersions response. A client uses, per API, the highest version both
// sides support, so advertising an old broker's ranges makes a modern client fall back to old request versions.
import { apiCodecs, ApiKey } from '../../broker/protocol/generated/index.ts';

export type VersionRanges = ReadonlyMap<number, readonly [min: number, max: number]>;

export interface Profile {
  name: string;
  description: string;
  versions: VersionRanges;
}

/** The APIs the fake broker answers. Nothing else is advertised. */
export const handledApis: readonly number[] = [
  ApiKey.Produce,
  ApiKey.Fetch,
  ApiKey.ListOffsets,
  ApiKey.Metadata,
  ApiKey.OffsetCommit,
  ApiKey.OffsetFetch,
  ApiKey.FindCoordinator,
  ApiKey.JoinGroup,
  ApiKey.Heartbeat,
  ApiKey.LeaveGroup,
  ApiKey.SyncGroup,
  ApiKey.ApiVersions,
  ApiKey.InitProducerId,
  ApiKey.OffsetForLeaderEpoch,
];

function latest(): VersionRanges {
  const m = new Map<number, readonly [number, number]>();
  for (const key of handledApis) {
    const codec = apiCodecs[key]!;
    m.set(key, [codec.minVersion, codec.latestVersionUnstable ? codec.maxVersion - 1 : codec.maxVersion]);
  }
  return m;
}

function maxima(entries: Record<number, number>): VersionRanges {
  const m = new Map<number, readonly [number, number]>();
  for (const [key, max] of Object.entries(entries)) m.set(Number(key), [0, max]);
  return m;
}

export const profiles: Record<string, Profile> = {
  latest: {
    name: 'latest',
    description: 'every version of our codec (the newest flexible versions)',
    versions: latest(),
  },
  'kafka-3.0': {
    name: 'kafka-3.0',
    description: 'the maxima of Apache Kafka 3.0 (flexible Produce and Fetch, before Fetch took topic ids)',
    versions: maxima({
      [ApiKey.Produce]: 9,
      [ApiKey.Fetch]: 12,
      [ApiKey.ListOffsets]: 7,
      [ApiKey.Metadata]: 11,
      [ApiKey.OffsetCommit]: 8,
      [ApiKey.OffsetFetch]: 8,
      [ApiKey.FindCoordinator]: 4,
      [ApiKey.JoinGroup]: 7,
      [ApiKey.Heartbeat]: 4,
      [ApiKey.LeaveGroup]: 4,
      [ApiKey.SyncGroup]: 5,
      [ApiKey.ApiVersions]: 3,
      [ApiKey.InitProducerId]: 4,
      [ApiKey.OffsetForLeaderEpoch]: 4,
    }),
  },
  'kafka-2.4': {
    name: 'kafka-2.4',
    description: 'the maxima of Apache Kafka 2.4, the first flexible versions of the group and metadata APIs',
    versions: maxima({
      [ApiKey.Produce]: 8,
      [ApiKey.Fetch]: 11,
      [ApiKey.ListOffsets]: 5,
      [ApiKey.Metadata]: 9,
      [ApiKey.OffsetCommit]: 8,
      [ApiKey.OffsetFetch]: 6,
      [ApiKey.FindCoordinator]: 3,
      [ApiKey.JoinGroup]: 6,
      [ApiKey.Heartbeat]: 4,
      [ApiKey.LeaveGroup]: 4,
      [ApiKey.SyncGroup]: 4,
      [ApiKey.ApiVersions]: 3,
      [ApiKey.InitProducerId]: 2,
      [ApiKey.OffsetForLeaderEpoch]: 3,
    }),
  },
  'kafka-1.0': {
    name: 'kafka-1.0',
    description: 'the maxima of Apache Kafka 1.0',
    versions: maxima({
      [ApiKey.Produce]: 5,
      [ApiKey.Fetch]: 6,
      [ApiKey.ListOffsets]: 2,
      [ApiKey.Metadata]: 5,
      [ApiKey.OffsetCommit]: 3,
      [ApiKey.OffsetFetch]: 3,
      [ApiKey.FindCoordinator]: 1,
      [ApiKey.JoinGroup]: 2,
      [ApiKey.Heartbeat]: 1,
      [ApiKey.LeaveGroup]: 1,
      [ApiKey.SyncGroup]: 1,
      [ApiKey.ApiVersions]: 1,
      [ApiKey.InitProducerId]: 0,
      [ApiKey.OffsetForLeaderEpoch]: 0,
    }),
  },
  'kafka-0.10.0': {
    name: 'kafka-0.10.0',
    description: 'the maxima of Apache Kafka 0.10.0 (v0 of most APIs, magic-1 message sets)',
    versions: maxima({
      [ApiKey.Produce]: 2,
      [ApiKey.Fetch]: 2,
      [ApiKey.ListOffsets]: 0,
      [ApiKey.Metadata]: 1,
      [ApiKey.OffsetCommit]: 2,
      [ApiKey.OffsetFetch]: 1,
      [ApiKey.FindCoordinator]: 0,
      [ApiKey.JoinGroup]: 0,
      [ApiKey.Heartbeat]: 0,
      [ApiKey.LeaveGroup]: 0,
      [ApiKey.SyncGroup]: 0,
      [ApiKey.ApiVersions]: 0,
    }),
  },
};
