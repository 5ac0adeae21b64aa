// Lazy, allocation-free iteration over the records of one (uncompressed or decompressed) batch.
//
// Record layout (Kafka DefaultRecord), varints are zigzag-encoded:
//   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
//   | keyLength varint | key | valueLength varint | value | headerCount varint
//   | headers: (headerKeyLength varint | headerKey | headerValueLength varint | headerValue)*
//
// One RecordCursor is reused for every record: `next()` parses and bounds-checks a whole record
// (headers included) and exposes positions and lengths into the buffer; `key()`, `value()` and the
// header cursor return subarrays (views, never copies). Malformed input throws RecordsError with
// INVALID_RECORD, as Kafka's DefaultRecord.readFrom / DefaultRecordBatch.RecordIterator do.
import { NO_TIMESTAMP, TimestampType } from './constants.ts';
import { invalidRecord, malformedRecord, RecordsErrorReason } from './records-error.ts';

/** Batch-level values a cursor needs; BatchHeaderView provides them. */
export interface RecordBatchContext {
  readonly recordCount: number;
  readonly baseOffset: number;
  readonly baseTimestampMs: number;
  readonly timestampType: number;
  readonly maxTimestampMs: number;
}

/** Smallest record body: attributes, timestampDelta, offsetDelta, key length, value length, header count. */
const RECORD_BODY_MIN_BYTES = 6;
/** |timestampDelta| beyond which a double cannot hold the zigzag value exactly. */
const TIMESTAMP_DELTA_MAX_MAGNITUDE = 2 ** 52;

const EMPTY_BUFFER = Buffer.alloc(0);

// Position after the last varint read; a module-level scratch register so readers return one number.
let varintEnd = 0;

function readVarint(buffer: Buffer, position: number, end: number): number {
  if (position >= end) throw malformedRecord(position, 'varint runs past the end of the record');
  let byte = buffer[position]!;
  if (byte < 0x80) {
    varintEnd = position + 1;
    return (byte >>> 1) ^ -(byte & 1);
  }
  let raw = byte & 0x7f;
  let shift = 7;
  let cursor = position + 1;
  for (;;) {
    if (cursor >= end) throw malformedRecord(position, 'varint runs past the end of the record');
    byte = buffer[cursor++]!;
    raw |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
    if (shift > 28) throw malformedRecord(position, 'varint longer than 5 bytes');
  }
  varintEnd = cursor;
  return (raw >>> 1) ^ -(raw & 1);
}

function readVarlong(buffer: Buffer, position: number, end: number): number {
  if (position >= end) throw malformedRecord(position, 'varlong runs past the end of the record');
  let byte = buffer[position]!;
  if (byte < 0x80) {
    varintEnd = position + 1;
    return (byte >>> 1) ^ -(byte & 1);
  }
  let raw = byte & 0x7f;
  let scale = 0x80;
  let cursor = position + 1;
  for (;;) {
    if (cursor >= end) throw malformedRecord(position, 'varlong runs past the end of the record');
    byte = buffer[cursor++]!;
    raw += (byte & 0x7f) * scale;
    if (byte < 0x80) break;
    scale *= 0x80;
    if (scale > 2 ** 63) throw malformedRecord(position, 'varlong longer than 10 bytes');
  }
  if (raw >= 2 * TIMESTAMP_DELTA_MAX_MAGNITUDE) throw malformedRecord(position, 'varlong beyond ±2^52 is not supported');
  varintEnd = cursor;
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** Iterates the headers of one record; obtained from RecordCursor.headers(). */
export class RecordHeaderCursor {
  buffer: Buffer = EMPTY_BUFFER;
  /** Index of the current header, -1 before the first `next()`. */
  index = -1;
  count = 0;
  keyPosition = 0;
  keyLength = 0;
  valuePosition = 0;
  /** -1 for a null value. */
  valueLength = -1;
  private position = 0;
  private end = 0;

  reset(buffer: Buffer, position: number, end: number, count: number): this {
    this.buffer = buffer;
    this.position = position;
    this.end = end;
    this.count = count;
    this.index = -1;
    return this;
  }

  next(): boolean {
    if (this.index + 1 >= this.count) return false;
    const buffer = this.buffer;
    const end = this.end;
    const keyLength = readVarint(buffer, this.position, end);
    let position = varintEnd;
    if (keyLength < 0 || keyLength > end - position) throw malformedRecord(position, `invalid header key length ${keyLength}`);
    this.keyPosition = position;
    this.keyLength = keyLength;
    position += keyLength;
    const valueLength = readVarint(buffer, position, end);
    position = varintEnd;
    if (valueLength > end - position) throw malformedRecord(position, `header value length ${valueLength} past the end of the record`);
    this.valuePosition = position;
    this.valueLength = valueLength < 0 ? -1 : valueLength;
    if (valueLength > 0) position += valueLength;
    this.position = position;
    this.index++;
    return true;
  }

  key(): Buffer {
    return this.buffer.subarray(this.keyPosition, this.keyPosition + this.keyLength);
  }

  /** Header key decoded as UTF-8 (allocates a string). */
  keyString(): string {
    return this.buffer.toString('utf8', this.keyPosition, this.keyPosition + this.keyLength);
  }

  value(): Buffer | null {
    if (this.valueLength < 0) return null;
    return this.buffer.subarray(this.valuePosition, this.valuePosition + this.valueLength);
  }
}

/**
 * Iterates the records of one batch. Typical use:
 *   const cursor = new RecordCursor()  // once, reused
 *   cursor.reset(buffer, view.recordsPosition, view.end, view)
 *   while (cursor.next()) use(cursor.offset, cursor.key(), cursor.value())
 */
export class RecordCursor {
  buffer: Buffer = EMPTY_BUFFER;
  /** Records the batch declares. */
  recordCount = 0;
  baseOffset = 0;
  baseTimestampMs = NO_TIMESTAMP;
  /** Index of the current record, -1 before the first `next()`. */
  index = -1;
  /** Position of the current record's length varint, and just past the record. */
  recordPosition = 0;
  recordEnd = 0;
  attributes = 0;
  timestampDelta = 0;
  /** baseTimestamp + timestampDelta, or the batch maxTimestamp for LogAppendTime batches. */
  timestampMs = NO_TIMESTAMP;
  offsetDelta = 0;
  /** baseOffset + offsetDelta. */
  offset = 0;
  keyPosition = 0;
  /** -1 for a null key. */
  keyLength = -1;
  valuePosition = 0;
  /** -1 for a null value. */
  valueLength = -1;
  headerCount = 0;
  headersPosition = 0;
  private logAppendTime = false;
  private maxTimestampMs = NO_TIMESTAMP;
  private position = 0;
  private end = 0;
  private readonly headerCursor = new RecordHeaderCursor();

  /** Points the cursor at the records in [start, end) of `buffer`, described by `batch`. */
  reset(buffer: Buffer, start: number, end: number, batch: RecordBatchContext): this {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= buffer.length)) {
      throw new RangeError(`records range [${start}, ${end}) outside a ${buffer.length}-byte buffer`);
    }
    const recordCount = batch.recordCount;
    if (recordCount < 0) throw invalidRecord(RecordsErrorReason.RECORD_COUNT_MISMATCH, start, `invalid record count ${recordCount}`);
    this.buffer = buffer;
    this.position = start;
    this.end = end;
    this.recordCount = recordCount;
    this.baseOffset = batch.baseOffset;
    this.baseTimestampMs = batch.baseTimestampMs;
    this.logAppendTime = batch.timestampType === TimestampType.LOG_APPEND_TIME;
    this.maxTimestampMs = batch.maxTimestampMs;
    this.index = -1;
    this.keyLength = -1;
    this.valueLength = -1;
    this.headerCount = 0;
    return this;
  }

  /** Advances to the next record; false after the last one. Throws RecordsError on malformed input. */
  next(): boolean {
    const buffer = this.buffer;
    const end = this.end;
    let position = this.position;
    if (this.index + 1 >= this.recordCount) return this.finish();
    if (position >= end) {
      throw invalidRecord(
        RecordsErrorReason.RECORD_COUNT_MISMATCH,
        position,
        `records end after ${this.index + 1} of the declared ${this.recordCount}`,
      );
    }
    const recordPosition = position;
    const bodyBytes = readVarint(buffer, position, end);
    position = varintEnd;
    if (bodyBytes < RECORD_BODY_MIN_BYTES || bodyBytes > end - position) {
      throw malformedRecord(recordPosition, `invalid record size ${bodyBytes} with ${end - position} bytes remaining`);
    }
    const recordEnd = position + bodyBytes;
    const attributes = (buffer[position]! << 24) >> 24;
    const timestampDelta = readVarlong(buffer, position + 1, recordEnd);
    const offsetDelta = readVarint(buffer, varintEnd, recordEnd);
    const keyLength = readVarint(buffer, varintEnd, recordEnd);
    position = varintEnd;
    if (keyLength > recordEnd - position) throw malformedRecord(position, `key length ${keyLength} past the end of the record`);
    this.keyPosition = position;
    this.keyLength = keyLength < 0 ? -1 : keyLength;
    if (keyLength > 0) position += keyLength;
    const valueLength = readVarint(buffer, position, recordEnd);
    position = varintEnd;
    if (valueLength > recordEnd - position) throw malformedRecord(position, `value length ${valueLength} past the end of the record`);
    this.valuePosition = position;
    this.valueLength = valueLength < 0 ? -1 : valueLength;
    if (valueLength > 0) position += valueLength;
    const headerCount = readVarint(buffer, position, recordEnd);
    position = varintEnd;
    if (headerCount < 0 || headerCount > recordEnd - position) throw malformedRecord(position, `invalid header count ${headerCount}`);
    this.headersPosition = position;
    for (let header = 0; header < headerCount; header++) {
      const headerKeyLength = readVarint(buffer, position, recordEnd);
      position = varintEnd;
      if (headerKeyLength < 0 || headerKeyLength > recordEnd - position) {
        throw malformedRecord(position, `invalid header key length ${headerKeyLength}`);
      }
      position += headerKeyLength;
      const headerValueLength = readVarint(buffer, position, recordEnd);
      position = varintEnd;
      if (headerValueLength > recordEnd - position) {
        throw malformedRecord(position, `header value length ${headerValueLength} past the end of the record`);
      }
      if (headerValueLength > 0) position += headerValueLength;
    }
    if (position !== recordEnd) throw bodySizeMismatch(recordPosition, bodyBytes, position - (recordEnd - bodyBytes));
    this.headerCount = headerCount;
    this.recordPosition = recordPosition;
    this.recordEnd = recordEnd;
    this.attributes = attributes;
    this.timestampDelta = timestampDelta;
    this.timestampMs = this.logAppendTime ? this.maxTimestampMs : this.baseTimestampMs + timestampDelta;
    this.offsetDelta = offsetDelta;
    this.offset = this.baseOffset + offsetDelta;
    this.position = recordEnd;
    this.index++;
    return true;
  }

  /** After the last declared record (once per batch): the records must end exactly there. */
  private finish(): false {
    if (this.position !== this.end) {
      throw invalidRecord(
        RecordsErrorReason.RECORD_COUNT_MISMATCH,
        this.position,
        `${this.end - this.position} bytes remain after the declared ${this.recordCount} records`,
      );
    }
    this.index = this.recordCount;
    return false;
  }

  key(): Buffer | null {
    if (this.keyLength < 0) return null;
    return this.buffer.subarray(this.keyPosition, this.keyPosition + this.keyLength);
  }

  value(): Buffer | null {
    if (this.valueLength < 0) return null;
    return this.buffer.subarray(this.valuePosition, this.valuePosition + this.valueLength);
  }

  /** The current record's headers, through a cursor owned (and reused) by this record cursor. */
  headers(): RecordHeaderCursor {
    return this.headerCursor.reset(this.buffer, this.headersPosition, this.recordEnd, this.headerCount);
  }
}

/** A record whose fields do not take exactly the body size it declares. */
function bodySizeMismatch(recordPosition: number, bodyBytes: number, fieldBytes: number): Error {
  return malformedRecord(recordPosition, `record declares ${bodyBytes} body bytes but its fields take ${fieldBytes}`);
}
