// Every bound of the admin client in one place, units in the names. `AdminClientOptions` may lower or raise
// each of them per client; these are the defaults.

export interface ClientLimits {
  /** Requests sent on one connection and not yet answered; further requests wait for a slot (queued). */
  maxInFlightPerConnection: number;
  /** Requests waiting for an in-flight slot on one connection; beyond it a call fails at once. */
  maxQueuedPerConnection: number;
  /** Largest response frame accepted; a larger one closes the connection (a broker bug or a wrong port). */
  maxResponseFrameBytes: number;
  /** TCP (and TLS) connect timeout. */
  connectTimeoutMs: number;
  /** Deadline of one admin call, retries included, unless the call passes its own `timeoutMs`. */
  defaultApiTimeoutMs: number;
  /** Attempts of one request to one target before the last retriable error is returned. */
  maxAttempts: number;
  /** First back-off between attempts; doubled each time up to `retryBackoffMaxMs`. */
  retryBackoffMs: number;
  retryBackoffMaxMs: number;
  /** Open connections to distinct brokers; the least recently used idle one is closed beyond it. */
  maxConnections: number;
  /** Records a `readMessages` call returns at most, whatever the caller asks. */
  maxReadRecords: number;
  /** Bytes of record data a `readMessages` call fetches at most, whatever the caller asks. */
  maxReadBytes: number;
}

export const defaultClientLimits: Readonly<ClientLimits> = Object.freeze({
  maxInFlightPerConnection: 16,
  maxQueuedPerConnection: 1024,
  maxResponseFrameBytes: 104857600,
  connectTimeoutMs: 10_000,
  defaultApiTimeoutMs: 60_000,
  maxAttempts: 8,
  retryBackoffMs: 100,
  retryBackoffMaxMs: 1000,
  maxConnections: 64,
  maxReadRecords: 10_000,
  maxReadBytes: 64 * 1024 * 1024,
});

// Fixed bounds (not per client).

/** SaslAuthenticate exchanges of one login at most (PLAIN takes 1, SCRAM 2). */
export const maxSaslRounds = 4;
/** SCRAM iteration count a server may ask for at most (Kafka's minimum is 4096): a higher one could make the client spin. */
export const scramMaxIterations = 16384;
/** Fetch responses one readMessages call reads at most; each one returns at least one batch unless the log is exhausted. */
export const maxFetchRoundsPerRead = 64;
