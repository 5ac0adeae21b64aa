// Delivery of COMMIT/ABORT markers (spec/transactions.md): the coordinator hands a MarkerJob here once the
// transaction's Prepare state is stored. Each partition's marker goes to the broker owning the partition now:
// appended directly when that is this broker, else sent in a WriteTxnMarkers request (API 27) to the owner.
// Partitions of `__consumer_offsets` stand for group coordinator partitions (AddOffsetsToTxn): their marker
// applies or drops the transaction's pending offsets at that group's coordinator. Failed or unowned
// partitions are retried with backoff until they succeed, their topic is gone, or the coordinator loses the
// transaction (then its successor sends them again).
import type { Logger } from 'pino';
import { ApiKey } from '../protocol/generated/index.ts';
import type { WriteTxnMarkersResponse } from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { Cluster, PartitionOwner } from '../cluster/cluster.ts';
import type { BrokerClient } from './broker-client.ts';
import { groupOffsetsTopic, partitionsByTopic } from './coordinator.ts';
import type { MarkerJob, MarkerSender, TopicPartition } from './coordinator.ts';
import { writeMarker } from './partition-txn.ts';
import type { PartitionTxnServices } from './partition-txn.ts';
import type { TxnOffsetStore } from './txn-offsets.ts';
import { txnMarkerMaxBackoffMs, txnMarkerRequestTimeoutMs } from '../limits.ts';

const writeTxnMarkersVersion = 1;

/** Codes after which a partition needs no further marker. */
function settled(code: number): boolean {
  return (
    code === ErrorCode.NONE ||
    code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ||
    // A newer marker or producer epoch is there already: this one is obsolete (logged by the writer).
    code === ErrorCode.INVALID_PRODUCER_EPOCH ||
    code === ErrorCode.TRANSACTION_COORDINATOR_FENCED
  );
}

/** What marker delivery uses of the broker; the handlers' BrokerServices (broker/handlers/context.ts) satisfies it. */
export interface MarkerServices extends PartitionTxnServices {
  nodeId: number;
  cluster: Pick<Cluster, 'broker' | 'ownerOf' | 'coordinatorOwner'>;
}

export const markerStats = { local: 0, remote: 0, retries: 0 };

export class MarkerChannel implements MarkerSender {
  private readonly services: () => MarkerServices;
  private readonly offsets: TxnOffsetStore;
  private readonly client: BrokerClient;
  private readonly logger: Logger;

  constructor(args: { services: () => MarkerServices; offsets: TxnOffsetStore; client: BrokerClient; logger: Logger }) {
    this.services = args.services;
    this.offsets = args.offsets;
    this.client = args.client;
    this.logger = args.logger;
  }

  async send(job: MarkerJob, current: () => boolean): Promise<boolean> {
    let remaining: TopicPartition[] = job.partitions;
    let delayMs = 25;
    while (remaining.length > 0) {
      if (!current()) return false;
      const s = this.services();
      const retry: TopicPartition[] = [];
      const byNode = new Map<number, TopicPartition[]>();
      for (const tp of remaining) {
        let owner: PartitionOwner | null;
        if (tp.topic === groupOffsetsTopic) {
          owner = s.cluster.coordinatorOwner('group', tp.partition);
        } else {
          const topic = s.topics.byName(tp.topic);
          if (!topic) continue; // deleted: nothing to mark
          owner = s.cluster.ownerOf(topic.id, tp.partition);
        }
        if (owner === null) {
          retry.push(tp);
          continue;
        }
        let list = byNode.get(owner.nodeId);
        if (!list) byNode.set(owner.nodeId, (list = []));
        list.push(tp);
      }
      await Promise.all(
        [...byNode].map(async ([nodeId, tps]) => {
          const codes =
            nodeId === s.nodeId
              ? await Promise.all(tps.map((tp) => this.writeLocal(s, job, tp)))
              : await this.writeRemote(s, nodeId, job, tps);
          tps.forEach((tp, i) => {
            if (!settled(codes[i]!)) retry.push(tp);
          });
        }),
      );
      remaining = retry;
      if (remaining.length > 0) {
        markerStats.retries++;
        this.logger.debug({ transactionalId: job.transactionalId, remaining: remaining.length }, 'transaction markers pending; retrying');
        await new Promise((res) => setTimeout(res, delayMs).unref());
        delayMs = Math.min(delayMs * 2, txnMarkerMaxBackoffMs);
      }
    }
    return true;
  }

  private writeLocal(s: MarkerServices, job: MarkerJob, tp: TopicPartition): Promise<number> {
    markerStats.local++;
    if (tp.topic === groupOffsetsTopic) return this.offsets.complete(tp.partition, job.producerId, job.commit);
    return writeMarker(s, tp.topic, tp.partition, {
      producerId: job.producerId,
      producerEpoch: job.producerEpoch,
      commit: job.commit,
      coordinatorEpoch: job.coordinatorEpoch,
    });
  }

  private async writeRemote(s: MarkerServices, nodeId: number, job: MarkerJob, tps: TopicPartition[]): Promise<number[]> {
    markerStats.remote++;
    const failed = () => tps.map(() => ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const endpoint = s.cluster.broker(nodeId);
    if (!endpoint) return failed();
    try {
      const r = (await this.client.request(
        endpoint.host,
        endpoint.port,
        ApiKey.WriteTxnMarkers,
        writeTxnMarkersVersion,
        {
          markers: [
            {
              producerId: job.producerId,
              producerEpoch: job.producerEpoch,
              transactionResult: job.commit,
              coordinatorEpoch: job.coordinatorEpoch,
              topics: partitionsByTopic(tps).map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
            },
          ],
        },
        txnMarkerRequestTimeoutMs,
      )) as WriteTxnMarkersResponse;
      const codes = new Map<string, number>();
      for (const m of r.markers)
        for (const t of m.topics) for (const p of t.partitions) codes.set(`${t.name}\0${p.partitionIndex}`, p.errorCode);
      return tps.map((tp) => codes.get(`${tp.topic}\0${tp.partition}`) ?? ErrorCode.NOT_LEADER_OR_FOLLOWER);
    } catch (err) {
      this.logger.debug({ err, nodeId }, 'WriteTxnMarkers to another broker failed');
      return failed();
    }
  }
}
