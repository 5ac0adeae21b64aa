// Control records: transaction markers (COMMIT / ABORT) written by the leader at the end of a
// transaction (Kafka's ControlRecordType and EndTransactionMarker).
//   key   = version int16 (0) + type int16
//   value = version int16 (0) + coordinatorEpoch int32        (for COMMIT and ABORT)
// A marker batch holds exactly one record and has the transactional and control bits set.
import { readBatchLength } from './batch-header.ts';
import {
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_RECORDS_OFFSET,
  CONTROL_RECORD_KEY_BYTES,
  CONTROL_RECORD_KEY_VERSION,
  ControlRecordType,
  END_TXN_MARKER_VALUE_BYTES,
  END_TXN_MARKER_VALUE_VERSION,
  INT32_MAX,
  INT32_MIN,
  NO_PARTITION_LEADER_EPOCH,
  NO_SEQUENCE,
} from './constants.ts';
import { buildRecordBatch } from './build.ts';
import { malformedRecord } from './records-error.ts';

export type EndTxnMarkerType = typeof ControlRecordType.ABORT | typeof ControlRecordType.COMMIT;

export interface EndTxnMarkerBatchOptions {
  readonly type: EndTxnMarkerType;
  readonly coordinatorEpoch: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly timestampMs: number;
  /** Default 0; the leader assigns the real offset when appending. */
  readonly baseOffset?: number;
  readonly partitionLeaderEpoch?: number;
}

export function encodeControlRecordKey(type: number): Buffer {
  const key = Buffer.allocUnsafe(CONTROL_RECORD_KEY_BYTES);
  key.writeInt16BE(CONTROL_RECORD_KEY_VERSION, 0);
  key.writeInt16BE(type, 2);
  return key;
}

export function encodeEndTxnMarkerValue(coordinatorEpoch: number): Buffer {
  const value = Buffer.allocUnsafe(END_TXN_MARKER_VALUE_BYTES);
  value.writeInt16BE(END_TXN_MARKER_VALUE_VERSION, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return value;
}

/** A complete control batch holding one COMMIT or ABORT marker. */
export function buildEndTxnMarkerBatch(options: EndTxnMarkerBatchOptions): Buffer {
  if (options.type !== ControlRecordType.ABORT && options.type !== ControlRecordType.COMMIT) {
    throw new RangeError(`end transaction marker type must be ABORT or COMMIT, got ${options.type as number}`);
  }
  if (!(Number.isInteger(options.coordinatorEpoch) && options.coordinatorEpoch >= INT32_MIN && options.coordinatorEpoch <= INT32_MAX)) {
    throw new RangeError(`invalid coordinatorEpoch ${options.coordinatorEpoch}`);
  }
  if (!(Number.isSafeInteger(options.producerId) && options.producerId >= 0)) {
    throw new RangeError(`a transaction marker needs a producerId, got ${options.producerId}`);
  }
  return buildRecordBatch(
    [
      {
        key: encodeControlRecordKey(options.type),
        value: encodeEndTxnMarkerValue(options.coordinatorEpoch),
        timestampMs: options.timestampMs,
      },
    ],
    {
      baseOffset: options.baseOffset ?? 0,
      partitionLeaderEpoch: options.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH,
      producerId: options.producerId,
      producerEpoch: options.producerEpoch,
      baseSequence: NO_SEQUENCE,
      transactional: true,
      control: true,
    },
  );
}

/**
 * Control record type from a control record's key (Kafka's ControlRecordType.parseTypeId): unknown
 * key versions are read as version 0; unknown types are returned as is (callers ignore them).
 */
export function readControlRecordType(key: Uint8Array | null): number {
  if (key === null || key.length < CONTROL_RECORD_KEY_BYTES) {
    throw malformedRecord(0, `control record key must have at least ${CONTROL_RECORD_KEY_BYTES} bytes`);
  }
  const view = Buffer.from(key.buffer, key.byteOffset, key.length);
  if (view.readInt16BE(0) < 0) throw malformedRecord(0, 'negative control record key version');
  return view.readInt16BE(2);
}

/** coordinatorEpoch of an end-transaction marker's value (Kafka's EndTransactionMarker.deserializeValue). */
export function readEndTxnMarkerCoordinatorEpoch(value: Uint8Array | null): number {
  if (value === null || value.length < END_TXN_MARKER_VALUE_BYTES) {
    throw malformedRecord(0, `end transaction marker value must have at least ${END_TXN_MARKER_VALUE_BYTES} bytes`);
  }
  const view = Buffer.from(value.buffer, value.byteOffset, value.length);
  if (view.readInt16BE(0) < 0) throw malformedRecord(0, 'negative end transaction marker version');
  return view.readInt32BE(2);
}

// ---- reading a marker in place from a log's raw batches (no allocation: producer state replays the log) ----

/** Reads a zigzag varint at `pos`; returns [value, next position]. */
function varintAt(data: Buffer, pos: number): [number, number] {
  let raw = 0;
  let shift = 0;
  for (;;) {
    const b = data[pos++]!;
    raw |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0 || shift > 28) break;
    shift += 7;
  }
  return [(raw >>> 1) ^ -(raw & 1), pos];
}

/** Skips a zigzag varlong at `pos` (timestamp delta); returns the next position. */
function skipVarint(data: Buffer, pos: number): number {
  while (pos < data.length && (data[pos]! & 0x80) !== 0) pos++;
  return pos + 1;
}

/** Position of the first record's key in the control batch at `pos`, and the key's length (control batches are never compressed). */
function firstRecordKey(data: Buffer, pos: number): { key: number; keyLength: number; end: number } | null {
  const end = pos + BATCH_LOG_OVERHEAD_BYTES + readBatchLength(data, pos);
  let p = pos + BATCH_RECORDS_OFFSET;
  if (p >= end) return null;
  p = varintAt(data, p)[1]; // record length
  p += 1; // attributes
  p = skipVarint(data, p); // timestamp delta
  p = skipVarint(data, p); // offset delta
  const [keyLength, keyPos] = varintAt(data, p);
  if (keyLength < 4 || keyPos + keyLength > end) return null;
  return { key: keyPos, keyLength, end };
}

/** The control record type of the control batch at `pos` (COMMIT, ABORT, ...), or -1 if unreadable. */
export function controlTypeOf(data: Buffer, pos: number): number {
  const k = firstRecordKey(data, pos);
  return k === null ? -1 : data.readInt16BE(k.key + 2);
}

/** The coordinator epoch in the end-transaction marker at `pos`, or -1 if unreadable. */
export function markerCoordinatorEpochOf(data: Buffer, pos: number): number {
  const k = firstRecordKey(data, pos);
  if (k === null) return -1;
  const [valueLength, valuePos] = varintAt(data, k.key + k.keyLength);
  return valueLength >= 6 && valuePos + 6 <= k.end ? data.readInt32BE(valuePos + 2) : -1;
}
