// WriteTxnMarkers (v0-v1): a transaction coordinator on another broker asks this broker, the owner of the
// partitions, to append COMMIT/ABORT markers (broker/txn/markers.ts sends it). Partitions of __consumer_offsets
// stand for the group coordinator partitions this broker serves: the marker applies or drops pending
// transactional offsets there. Markers of one request are written in order; partitions of a marker in parallel.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  WriteTxnMarkersRequest,
  WriteTxnMarkersResponseInput,
  WriteTxnMarkersResponseWritableTxnMarkerResultInput,
  WriteTxnMarkersResponseWritableTxnMarkerTopicResultInput,
  WriteTxnMarkersResponseWritableTxnMarkerPartitionResultInput,
} from '../protocol/generated/index.ts';
import { groupOffsetsTopic } from '../txn/coordinator.ts';
import { writeMarker } from '../txn/partition-txn.ts';
import type { ApiHandler, RequestContext } from './context.ts';

export const writeTxnMarkersHandler: ApiHandler<typeof ApiKey.WriteTxnMarkers> = {
  apiKey: ApiKey.WriteTxnMarkers,
  minVersion: 0,
  maxVersion: 1,
  async handle(ctx: RequestContext, req: WriteTxnMarkersRequest): Promise<WriteTxnMarkersResponseInput> {
    const s = ctx.services;
    const markers: WriteTxnMarkersResponseWritableTxnMarkerResultInput[] = [];
    for (const m of req.markers) {
      const topics = await Promise.all(
        m.topics.map(
          async (t): Promise<WriteTxnMarkersResponseWritableTxnMarkerTopicResultInput> => ({
            name: t.name,
            partitions: await Promise.all(
              t.partitionIndexes.map(
                async (partitionIndex): Promise<WriteTxnMarkersResponseWritableTxnMarkerPartitionResultInput> => ({
                  partitionIndex,
                  errorCode:
                    t.name === groupOffsetsTopic
                      ? await s.txn.offsets.complete(partitionIndex, m.producerId, m.transactionResult)
                      : await writeMarker(s, t.name, partitionIndex, {
                          producerId: m.producerId,
                          producerEpoch: m.producerEpoch,
                          commit: m.transactionResult,
                          coordinatorEpoch: m.coordinatorEpoch,
                        }),
                }),
              ),
            ),
          }),
        ),
      );
      markers.push({ producerId: m.producerId, topics });
    }
    return { markers };
  },
};
