// The shared Kafka admin client of the operator and the console (clients/README.md).
export * from './admin.ts';
export * from './errors.ts';
export type { ClientLimits } from './limits.ts';
export { defaultClientLimits } from './limits.ts';
export type { SaslOptions } from './sasl.ts';
export type { BrokerAddress } from './cluster.ts';
export type { Message, MessageHeader, ProduceInput, ReadResult } from './messages.ts';
export { AclOperation, AclPatternType, AclPermissionType, AclResourceType } from './security.ts';
export type { AclBinding, AclFilter, QuotaEntity, QuotaEntry } from './security.ts';
export { scramClient, scramHmac, scramSaltedPassword } from './sasl.ts';
export type { ScramMechanism } from './sasl.ts';
export type { ListedTransaction, ProducerState, TransactionDescription } from './transactions.ts';
