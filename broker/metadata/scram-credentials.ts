// The SCRAM credential store (KIP-554): each user's salted credential per mechanism, in the metadata store so that
// every broker of the cluster authenticates against the same ones. Read at each authentication (one get), written
// by AlterUserScramCredentials. Only StoredKey/ServerKey (RFC 5802) are kept, never the password.
import { parseScramKey, scramKey, scramMechanismPrefix, scramPrefix } from './layout.ts';
import type { ScramCredentialRecord } from './layout.ts';
import type { MetadataStore, Op } from './store.ts';

export interface ScramCredential {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

export class ScramCredentialStore {
  private readonly store: MetadataStore;

  constructor(store: MetadataStore) {
    this.store = store;
  }

  async get(mechanism: string, user: string): Promise<ScramCredential | null> {
    const kv = await this.store.get(scramKey(mechanism, user));
    if (kv === null) return null;
    const r = JSON.parse(kv.value) as ScramCredentialRecord;
    return {
      salt: Buffer.from(r.salt, 'base64'),
      storedKey: Buffer.from(r.storedKey, 'base64'),
      serverKey: Buffer.from(r.serverKey, 'base64'),
      iterations: r.iterations,
    };
  }

  /** Every user's mechanisms and iterations (what DescribeUserScramCredentials reports), by user. */
  async list(mechanisms: readonly string[]): Promise<Map<string, { mechanism: string; iterations: number }[]>> {
    const out = new Map<string, { mechanism: string; iterations: number }[]>();
    for (const mechanism of mechanisms) {
      for (const kv of await this.store.getPrefix(scramMechanismPrefix(mechanism))) {
        const key = parseScramKey(kv.key);
        if (key === null) continue;
        const r = JSON.parse(kv.value) as ScramCredentialRecord;
        let list = out.get(key.user);
        if (list === undefined) out.set(key.user, (list = []));
        list.push({ mechanism, iterations: r.iterations });
      }
    }
    return out;
  }

  /** Applies deletions and upsertions in one metadata transaction. */
  async apply(
    upserts: readonly { mechanism: string; user: string; credential: ScramCredential }[],
    deletions: readonly { mechanism: string; user: string }[],
  ): Promise<void> {
    const ops: Op[] = [];
    for (const d of deletions) ops.push({ type: 'delete', key: scramKey(d.mechanism, d.user) });
    for (const u of upserts) {
      const record: ScramCredentialRecord = {
        salt: u.credential.salt.toString('base64'),
        storedKey: u.credential.storedKey.toString('base64'),
        serverKey: u.credential.serverKey.toString('base64'),
        iterations: u.credential.iterations,
      };
      ops.push({ type: 'put', key: scramKey(u.mechanism, u.user), value: JSON.stringify(record) });
    }
    if (ops.length > 0) await this.store.txn([], ops);
  }

  static readonly prefix = scramPrefix;
}
