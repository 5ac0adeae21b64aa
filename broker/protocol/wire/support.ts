// Small helpers the generated codec calls; kept out of the generated files so they are written once.
import { ProtocolDecodeError, ProtocolEncodeError } from './errors.ts';
import type { RawTaggedField } from './reader.ts';
import type { Writer } from './writer.ts';

export const EMPTY_BYTES: Buffer = Buffer.alloc(0);
/** The all-zero UUID (Kafka's Uuid.ZERO_UUID) in Kafka's base64url text form. */
export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';

export function unexpectedNull(what: string): ProtocolDecodeError {
  return new ProtocolDecodeError('UNEXPECTED_NULL', `${what} is null in a version where it cannot be`);
}

export function notNull<T>(value: T | null, what: string, version: number): T {
  if (value === null) throw new ProtocolEncodeError(`${what} cannot be null in version ${version}`);
  return value;
}

/** Kafka's rule: a non-default value for a field the version lacks is an error unless the field is ignorable. */
export function fieldVersionError(what: string, version: number): ProtocolEncodeError {
  return new ProtocolEncodeError(`${what} has a non-default value but version ${version} cannot carry it`);
}

/** The tagged-field section of a struct whose version has no known tagged fields. */
export function writeUnknownTagged(w: Writer, fields: RawTaggedField[] | undefined): void {
  if (fields === undefined) {
    w.uvarint(0);
    return;
  }
  w.uvarint(fields.length);
  for (let i = 0; i < fields.length; i++) w.rawTaggedField(fields[i]!);
}
