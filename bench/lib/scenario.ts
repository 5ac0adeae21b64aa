// The contract between bench/run.ts and a scenario module (bench/<name>.ts).

export type Backend = 'embedded' | 's3';

export interface ScenarioOptions {
  /** Shorter warm-up and rounds: a smoke run, not figures to quote. */
  quick: boolean;
  /**
   * Where the brokers keep their data: `embedded` (local object store under a temp directory + embedded SQLite
   * metadata, the broker's default) or `s3` (a throwaway one-node Ceph radosgw + a throwaway etcd on loopback).
   * Scenarios that do not start a broker ignore it.
   */
  backend: Backend;
  /** Object-store latency injected when a scenario asks for S3-like latency (--s3-latency p50,p99 in ms). */
  s3Latency: { p50Ms: number; p99Ms: number };
  /** Result directory, and the file-name prefix of this scenario's run (`<name>-<timestamp>`), for charts. */
  outDir: string;
  runId: string;
}

export interface Scenario {
  /** One line shown before the scenario runs and stored in its result file. */
  description: string;
  /**
   * Runs the scenario, prints its own table, and returns what goes into the result file (run.ts adds the
   * scenario name, timestamps and machine). Every figure should be a `{ value, unit }` pair.
   */
  run(options: ScenarioOptions): Promise<Record<string, unknown>>;
}
