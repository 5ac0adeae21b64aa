// The handler table, indexed by API key: exactly what ApiVersions advertises.
import type { Handler } from './context.ts';
import { alterConfigsHandler } from './alter-configs.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeLogDirsHandler } from './describe-log-dirs.ts';
import { describeTopicPartitionsHandler } from './describe-topic-partitions.ts';
import { electLeadersHandler } from './elect-leaders.ts';
import { fetchHandler } from './fetch.ts';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { metadataHandler } from './metadata.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { produceHandler } from './produce.ts';

export function buildHandlerTable(): readonly (Handler | undefined)[] {
  const table: (Handler | undefined)[] = [];
  const all: Handler[] = [
    produceHandler, fetchHandler, listOffsetsHandler, metadataHandler,
    apiVersionsHandler(() => table), createTopicsHandler, deleteTopicsHandler,
    deleteRecordsHandler, offsetForLeaderEpochHandler, describeConfigsHandler, alterConfigsHandler,
    describeLogDirsHandler, createPartitionsHandler, electLeadersHandler, incrementalAlterConfigsHandler,
    describeClusterHandler, describeTopicPartitionsHandler,
  ];
  for (const h of all) {
    if (table[h.apiKey]) throw new Error(`two handlers for API key ${h.apiKey}`);
    table[h.apiKey] = h;
  }
  return table;
}
