// Authorized-operations bit fields (KIP-430) without an authorizer: every operation Kafka supports on the resource
// type is allowed (Kafka's AuthHelper.authorizedOperations without an authorizer answers
// AclEntry.supportedOperations). With one, the authorization table (authorization.ts) puts the principal's. Operation codes are Kafka's AclOperation ids: READ 3, WRITE 4, CREATE 5,
// DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12
// (CREATE_TOKENS 13 and DESCRIBE_TOKENS 14 belong to the USER resource, not to CLUSTER).
const bits = (...ops: number[]) => ops.reduce((m, op) => m | (1 << op), 0);

export const topicAuthorizedOperations = bits(3, 4, 5, 6, 7, 8, 10, 11);
export const clusterAuthorizedOperations = bits(5, 7, 8, 9, 10, 11, 12);
/** READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: Kafka 4's operations on GROUP (group configs, KIP-848). */
export const groupAuthorizedOperations = bits(3, 6, 8, 10, 11);

/** The value of an authorized-operations field that was not asked for (the schema default, Integer.MIN_VALUE). */
export const unsetAuthorizedOperations = -2147483648;
