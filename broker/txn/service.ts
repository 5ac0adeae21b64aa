// The broker's transaction service (BrokerServices.txn): the transaction coordinator of the transactional ids
// this broker serves, the pending transactional offsets of the groups it coordinates, and the channel that
// delivers transaction markers (spec/transactions.md).
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config.ts';
import type { Cluster } from '../cluster/cluster.ts';
import type { MetadataStore } from '../metadata/store.ts';
import { producerIdAllocator } from '../log/producer-ids.ts';
import { BrokerClient } from './broker-client.ts';
import { TransactionCoordinator } from './coordinator.ts';
import { MarkerChannel } from './markers.ts';
import type { MarkerServices } from './markers.ts';
import { TxnOffsetStore } from './txn-offsets.ts';
import type { TopicPartition } from './coordinator.ts';
import { verifyTransaction } from './verification.ts';
import type { TxnGroupAccess } from './txn-offsets.ts';

export class TxnService {
  readonly coordinator: TransactionCoordinator;
  readonly offsets: TxnOffsetStore;
  private readonly client = new BrokerClient();
  private services: MarkerServices | null = null;
  private readonly cluster: Cluster;
  private readonly logger: Logger;

  constructor(args: { metadata: MetadataStore; cluster: Cluster; logger: Logger; config: BrokerConfig; groups: TxnGroupAccess | null }) {
    const c = args.config;
    this.cluster = args.cluster;
    this.logger = args.logger;
    this.offsets = new TxnOffsetStore({ metadata: args.metadata, cluster: args.cluster, logger: args.logger, groups: args.groups });
    const markers = new MarkerChannel({
      services: () => {
        if (this.services === null) throw new Error('transaction service not started');
        return this.services;
      },
      offsets: this.offsets,
      client: this.client,
      logger: args.logger,
    });
    this.coordinator = new TransactionCoordinator({
      metadata: args.metadata,
      cluster: args.cluster,
      logger: args.logger,
      markers,
      allocateProducerId: () => producerIdAllocator(args.metadata).allocate(),
      options: {
        maxTimeoutMs: c.transactionMaxTimeoutMs,
        idExpirationMs: c.transactionalIdExpirationMs,
        abortTimedOutIntervalMs: c.transactionAbortTimedOutTransactionCleanupIntervalMs,
        removeExpiredIntervalMs: c.transactionRemoveExpiredTransactionCleanupIntervalMs,
        maxPartitions: c.transactionMaxPartitions,
      },
    });
  }

  /**
   * KIP-890: whether each partition is in the producer's ongoing transaction, asked of its coordinator
   * (verification.ts); with `add` (transaction version 2) the partitions are added to it instead.
   */
  verify(transactionalId: string, producerId: number, producerEpoch: number, partitions: TopicPartition[], add = false): Promise<number[]> {
    return verifyTransaction(
      { cluster: this.cluster, coordinator: this.coordinator, client: this.client, logger: this.logger },
      transactionalId,
      producerId,
      producerEpoch,
      partitions,
      add,
    );
  }

  async start(services: MarkerServices): Promise<void> {
    this.services = services;
    await this.offsets.start();
    await this.coordinator.start();
  }

  async close(): Promise<void> {
    await this.coordinator.close();
    await this.offsets.close();
    this.client.close();
  }
}
