// The contract between bench/run.ts and a scenario module (bench/<name>.ts).

export interface ScenarioOptions {
  /** Shorter warm-up and rounds: a smoke run, not figures to quote. */
  quick: boolean;
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
