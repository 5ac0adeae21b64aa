// Who a connection is: Kafka's KafkaPrincipal (a type and a name, "User:alice"). Authentication at the connection
// (SASL, a TLS client certificate) sets it; every request of the connection carries it to the authorizer.

export interface KafkaPrincipal {
  /** Kafka's principal type; "User" for every principal Kafka's built-in authentication produces. */
  readonly type: string;
  readonly name: string;
}

/** The principal of a connection that did not authenticate (PLAINTEXT, or SSL without a client certificate). */
export const ANONYMOUS: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' });

/** "User:alice", the form ACL bindings and `super.users` use. */
export function principalString(p: KafkaPrincipal): string {
  return `${p.type}:${p.name}`;
}
