// The handler table, indexed by API key: exactly what ApiVersions advertises. Each handler is wrapped with its
// API's rule of the authorization table (authorization.ts), which every API must have.
import type { Handler } from './context.ts';
import { AUTHORIZATION, authorizing } from './authorization.ts';
import { withQuota } from './quota-enforcement.ts';
import { saslHandshakeHandler } from './sasl-handshake.ts';
import { saslAuthenticateHandler } from './sasl-authenticate.ts';
import { describeUserScramCredentialsHandler } from './describe-user-scram-credentials.ts';
import { alterUserScramCredentialsHandler } from './alter-user-scram-credentials.ts';
import { alterConfigsHandler } from './alter-configs.ts';
import { alterPartitionReassignmentsHandler } from './alter-partition-reassignments.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { createAclsHandler } from './create-acls.ts';
import { createPartitionsHandler } from './create-partitions.ts';
import { createTopicsHandler } from './create-topics.ts';
import { deleteAclsHandler } from './delete-acls.ts';
import { deleteRecordsHandler } from './delete-records.ts';
import { deleteTopicsHandler } from './delete-topics.ts';
import { describeAclsHandler } from './describe-acls.ts';
import { describeClusterHandler } from './describe-cluster.ts';
import { describeConfigsHandler } from './describe-configs.ts';
import { describeLogDirsHandler } from './describe-log-dirs.ts';
import { describeTopicPartitionsHandler } from './describe-topic-partitions.ts';
import { electLeadersHandler } from './elect-leaders.ts';
import { fetchHandler } from './fetch.ts';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { listPartitionReassignmentsHandler } from './list-partition-reassignments.ts';
import { metadataHandler } from './metadata.ts';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.ts';
import { produceHandler } from './produce.ts';
import { findCoordinatorHandler } from './find-coordinator.ts';
import { joinGroupHandler } from './join-group.ts';
import { syncGroupHandler } from './sync-group.ts';
import { heartbeatHandler } from './heartbeat.ts';
import { leaveGroupHandler } from './leave-group.ts';
import { offsetCommitHandler } from './offset-commit.ts';
import { offsetFetchHandler } from './offset-fetch.ts';
import { describeGroupsHandler } from './describe-groups.ts';
import { listGroupsHandler } from './list-groups.ts';
import { deleteGroupsHandler } from './delete-groups.ts';
import { offsetDeleteHandler } from './offset-delete.ts';
import { initProducerIdHandler } from './init-producer-id.ts';
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.ts';
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.ts';
import { txnOffsetCommitHandler } from './txn-offset-commit.ts';
import { endTxnHandler } from './end-txn.ts';
import { writeTxnMarkersHandler } from './write-txn-markers.ts';
import { describeTransactionsHandler } from './describe-transactions.ts';
import { listTransactionsHandler } from './list-transactions.ts';
import { describeProducersHandler } from './describe-producers.ts';
import { consumerGroupHeartbeatHandler } from './consumer-group-heartbeat.ts';
import { consumerGroupDescribeHandler } from './consumer-group-describe.ts';
import { describeClientQuotasHandler } from './describe-client-quotas.ts';
import { alterClientQuotasHandler } from './alter-client-quotas.ts';

export function buildHandlerTable(): readonly (Handler | undefined)[] {
  const table: (Handler | undefined)[] = [];
  const all: Handler[] = [
    produceHandler,
    fetchHandler,
    listOffsetsHandler,
    metadataHandler,
    apiVersionsHandler(() => table),
    // Authentication (broker/security/sasl, spec/guarantees.md).
    saslHandshakeHandler,
    saslAuthenticateHandler,
    describeUserScramCredentialsHandler,
    alterUserScramCredentialsHandler,
    createTopicsHandler,
    deleteTopicsHandler,
    deleteRecordsHandler,
    offsetForLeaderEpochHandler,
    describeConfigsHandler,
    alterConfigsHandler,
    describeLogDirsHandler,
    createPartitionsHandler,
    electLeadersHandler,
    incrementalAlterConfigsHandler,
    describeClusterHandler,
    describeTopicPartitionsHandler,
    // Without an authorizer the ACL APIs answer SECURITY_DISABLED; no replicas: nothing to reassign.
    describeAclsHandler,
    createAclsHandler,
    deleteAclsHandler,
    alterPartitionReassignmentsHandler,
    listPartitionReassignmentsHandler,
    initProducerIdHandler,
    // Transactions (broker/txn/, spec/transactions.md).
    addPartitionsToTxnHandler,
    addOffsetsToTxnHandler,
    txnOffsetCommitHandler,
    endTxnHandler,
    writeTxnMarkersHandler,
    describeTransactionsHandler,
    listTransactionsHandler,
    describeProducersHandler,
  ];
  all.push(
    findCoordinatorHandler,
    joinGroupHandler,
    syncGroupHandler,
    heartbeatHandler,
    leaveGroupHandler,
    offsetCommitHandler,
    offsetFetchHandler,
    describeGroupsHandler,
    listGroupsHandler,
    deleteGroupsHandler,
    offsetDeleteHandler,
  );
  all.push(consumerGroupHeartbeatHandler, consumerGroupDescribeHandler);
  // Client quotas (broker/security/quotas.ts).
  all.push(describeClientQuotasHandler, alterClientQuotasHandler);
  for (const h of all) {
    if (table[h.apiKey]) throw new Error(`two handlers for API key ${h.apiKey}`);
    const rule = AUTHORIZATION[h.apiKey];
    if (!rule) throw new Error(`API key ${h.apiKey} has no entry in the authorization table`);
    table[h.apiKey] = withQuota(authorizing(h, rule));
  }
  return table;
}
