// Typed errors of the metadata store implementations beyond the two the contract (store.ts) defines.
// LeaseLostError and MetadataUnavailableError stay in store.ts; these are the etcd errors the contract does
// not name yet (ErrCompacted, invalid/too large requests) plus the embedded store's own (locked, closed).

/** A watch asked for history older than the store keeps (etcd's ErrCompacted). Re-read and watch again. */
export class CompactedRevisionError extends Error {
  readonly requestedRevision: number;
  /** Highest revision whose changes were discarded; watches must start after it. */
  readonly compactedRevision: number;

  constructor(requestedRevision: number, compactedRevision: number) {
    super(`revision ${requestedRevision} has been compacted; watch history starts at revision ${compactedRevision + 1}`);
    this.name = 'CompactedRevisionError';
    this.requestedRevision = requestedRevision;
    this.compactedRevision = compactedRevision;
  }
}

/**
 * A request the store refuses as malformed or over a limit (etcd's InvalidArgument errors: empty key, request
 * too large, too many operations, duplicate key in a transaction). Retrying it unchanged fails again.
 */
export class InvalidMetadataRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidMetadataRequestError';
  }
}

/** Another process (or another store in this process) has the data directory's metadata store open. */
export class MetadataStoreLockedError extends Error {
  readonly dataDir: string;
  /** Process id recorded by the holder, when known. */
  readonly holderPid: number | null;

  constructor(dataDir: string, holderPid: number | null, lockFile: string, options?: { cause?: unknown }) {
    const holder = holderPid === null ? 'another process' : `process ${holderPid}`;
    super(
      `metadata store in ${dataDir} is already open in ${holder}; only one broker may use a data directory at a time ` +
        `(lock file ${lockFile}; delete it only if no broker is running on this directory)`,
      options,
    );
    this.name = 'MetadataStoreLockedError';
    this.dataDir = dataDir;
    this.holderPid = holderPid;
  }
}

/** The store was closed; open a new one. */
export class MetadataStoreClosedError extends Error {
  constructor() {
    super('metadata store is closed');
    this.name = 'MetadataStoreClosedError';
  }
}
