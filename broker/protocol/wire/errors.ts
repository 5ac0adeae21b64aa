// Typed errors of the wire codec. Decoding a frame either returns a value or throws ProtocolDecodeError;
// encoding a message a version cannot carry throws ProtocolEncodeError (Kafka's UnsupportedVersionException).

export type DecodeErrorKind =
  | 'TRUNCATED'
  | 'BAD_LENGTH'
  | 'BAD_VARINT'
  | 'UNEXPECTED_NULL'
  | 'UNSUPPORTED_VERSION'
  | 'TRAILING_BYTES'
  | 'FRAME_TOO_LARGE';

export class ProtocolDecodeError extends Error {
  readonly kind: DecodeErrorKind;

  constructor(kind: DecodeErrorKind, message: string) {
    super(message);
    this.name = 'ProtocolDecodeError';
    this.kind = kind;
  }
}

export class ProtocolEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolEncodeError';
  }
}

export function unsupportedVersion(what: string, version: number): ProtocolDecodeError {
  return new ProtocolDecodeError('UNSUPPORTED_VERSION', `${what} has no version ${version}`);
}
