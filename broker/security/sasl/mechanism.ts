// One SASL mechanism's server side for one authentication: fed the client's tokens in order, it answers each with
// the server's token, and ends with the authenticated user or a failure. A failure's message goes to the client
// (SaslAuthenticate's error_message): it says what was wrong without saying which of user or password it was where
// Kafka does not, and never contains a secret.
export type SaslStep =
  | { readonly kind: 'continue'; readonly response: Buffer }
  | { readonly kind: 'done'; readonly response: Buffer; readonly user: string }
  | { readonly kind: 'failed'; readonly message: string };

export interface SaslMechanismServer {
  readonly mechanism: string;
  evaluate(token: Buffer): Promise<SaslStep>;
}

export function failed(message: string): SaslStep {
  return { kind: 'failed', message };
}
