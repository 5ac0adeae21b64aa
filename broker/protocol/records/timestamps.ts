// Record-level timestamp checks on the produce path, after validateRecords (framing, CRC) has passed.
// Apache Kafka's LogValidator (storage/.../internals/log/LogValidator.java: validateTimestamp,
// assignOffsetsNonCompressed, validateMessagesAndAssignOffsetsCompressed) does, for a client batch:
//   - CreateTime topic: every record's timestamp (baseTimestamp + timestampDelta, or the batch's maxTimestamp
//     when the batch says LogAppendTime) other than NO_TIMESTAMP (-1) must lie within
//     [now - message.timestamp.before.max.ms, now + message.timestamp.after.max.ms]; a record without one in a
//     LogAppendTime-flagged batch fails too. Then the batch header's maxTimestamp becomes the largest record
//     timestamp and its type CreateTime (DefaultRecordBatch.setMaxTimestamp, which rewrites the CRC when that
//     changes anything): a header that was missing (-1, as Sarama 1.22 sends) or wrong is corrected, so the
//     time index, ListOffsets by timestamp and retention.ms see the records' real times.
//   - LogAppendTime topic: the times are the broker's; a batch that claims LogAppendTime itself fails.
// Failures do not stop at the first record: every failing record gets an error with its index in the batch
// (Kafka's record_errors), and the partition gets INVALID_TIMESTAMP. Malformed records stop the walk at once
// with INVALID_RECORD, as Kafka's record iterator does.
//
// Cost (bench/produce-validate.ts): an uncompressed batch is always walked, in place (RecordCursor: no
// allocation, no copy; ~50 ns a record). Kafka decompresses every compressed batch too, but here that costs
// 5-20 ms of CPU per MiB of records (the codecs' Node bindings), 50-200 times the CRC check; so a compressed
// batch is decompressed only when its header cannot settle the outcome:
//   - its maxTimestamp is -1 (Sarama 1.22) or below its baseTimestamp (the first record's timestamp for
//     every known client, so it cannot be the maximum), or
//   - message.timestamp.before.max.ms is bounded (a record older than the first can only be found by
//     reading), or
//   - the header's maxTimestamp is out of range (the failing records must be named).
// Otherwise (the defaults: before.max.ms unbounded, after.max.ms 1 hour; an honest client) every record is
// at most the header's maxTimestamp, which is in range, so the outcome is Kafka's without reading; what is
// trusted is that no record exceeds the header's maxTimestamp. A LogAppendTime-flagged compressed batch
// never needs reading: all its records carry the header's maxTimestamp. Decompression is bounded by
// maxDecompressedBytes (MESSAGE_TOO_LARGE above; not Kafka, which streams). LogAppendTime topics never
// read records.
import { ErrorCode } from '../errors.ts';
import { BatchHeaderView } from './batch-header.ts';
import { decompressRecords } from './compression.ts';
import { CompressionCodec, NO_TIMESTAMP, TimestampType } from './constants.ts';
import type { CompressionCodecId } from './constants.ts';
import { RecordCursor } from './iterate.ts';
import { setMaxTimestamp } from './patch.ts';
import { RecordsError, RecordsErrorReason } from './records-error.ts';
import type { RecordsSummary } from './validate.ts';

export interface TimestampLimits {
  /** The broker's clock when the request is handled. */
  readonly nowMs: number;
  /** message.timestamp.type is LogAppendTime: only the batch's own timestamp type is checked. */
  readonly logAppendTime: boolean;
  /** message.timestamp.before.max.ms: how far behind nowMs a record may be. */
  readonly beforeMaxMs: number;
  /** message.timestamp.after.max.ms: how far ahead of nowMs a record may be. */
  readonly afterMaxMs: number;
  /** Largest decompressed records section of one compressed batch. Above: MESSAGE_TOO_LARGE. */
  readonly maxDecompressedBytes: number;
  /** Most record errors listed (the count covers all). Kafka lists every one; a batch may hold millions. */
  readonly maxRecordErrors: number;
}

export interface RecordTimestampError {
  /** Index of the record in its batch (Kafka's batch_index). */
  readonly batchIndex: number;
  readonly message: string;
}

/** Why a batch was refused: allocated only when some record failed. */
export interface RecordTimestampErrors {
  /** Records that failed, all of them. */
  readonly invalidRecords: number;
  /** The first `maxRecordErrors` of them, in record order. */
  readonly errors: RecordTimestampError[];
  /** For the partition's error_message. */
  readonly message: string;
}

// Reused by every call: validation is synchronous, so one of each is enough.
const header = new BatchHeaderView();
const cursor = new RecordCursor();

function assertLimits(limits: TimestampLimits): void {
  if (!Number.isSafeInteger(limits.nowMs)) throw new RangeError(`nowMs must be an integer, got ${limits.nowMs}`);
  for (const name of ['beforeMaxMs', 'afterMaxMs', 'maxDecompressedBytes', 'maxRecordErrors'] as const) {
    const value = limits[name];
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`${name} must be an integer >= 0, got ${value}`);
  }
}

class ErrorList {
  invalidRecords = 0;
  readonly errors: RecordTimestampError[] = [];
  private readonly maxErrors: number;
  constructor(maxErrors: number) {
    this.maxErrors = maxErrors;
  }
  add(batchIndex: number, message: () => string): void {
    this.invalidRecords++;
    if (this.errors.length < this.maxErrors) this.errors.push({ batchIndex, message: message() });
  }
  result(): RecordTimestampErrors {
    const n = this.invalidRecords;
    const listed = n > this.errors.length ? ` (the first ${this.errors.length} are listed)` : '';
    return { invalidRecords: n, errors: this.errors, message: `${n} record(s) rejected for an invalid timestamp${listed}` };
  }
}

const logAppendTimeTypeMessage = (index: number) => () =>
  `record ${index}: producers may not set the LogAppendTime timestamp type; the broker sets it (message.timestamp.type)`;

/**
 * Checks the timestamps of every record of validated `records` (validateRecords filled `summary`) and, on a
 * CreateTime topic, sets each batch's maxTimestamp to the largest record timestamp (rewriting the CRC when
 * it changes), updating summary.maxTimestampMs and lastTimestampMs to match. Returns null when every record
 * passes, else the record errors (the caller answers INVALID_TIMESTAMP; no batch should be appended).
 * Throws RecordsError when a record is malformed (INVALID_RECORD) or cannot be decompressed.
 */
export function validateRecordTimestamps(records: Buffer, limits: TimestampLimits, summary: RecordsSummary): RecordTimestampErrors | null {
  assertLimits(limits);
  if (limits.logAppendTime) return checkLogAppendTimeTopic(records, limits, summary);
  const { nowMs, beforeMaxMs, afterMaxMs } = limits;
  // Kafka's default (Long.MAX_VALUE, kept as MAX_SAFE_INTEGER by the config) means no lower bound at all.
  const minMs = beforeMaxMs >= Number.MAX_SAFE_INTEGER ? Number.NEGATIVE_INFINITY : nowMs - beforeMaxMs;
  // Timestamps past 2^53 ms cannot be handled exactly here: out of range, whatever the bound (Kafka's default is
  // Long.MAX_VALUE, which would take them).
  const maxMs = Math.min(nowMs + afterMaxMs, Number.MAX_SAFE_INTEGER);
  let maxTimestampMs = NO_TIMESTAMP;
  let lastTimestampMs = NO_TIMESTAMP;
  for (let position = 0; position < records.length; ) {
    header.reset(records, position);
    const end = header.end;
    const compression = header.compression;
    let batchMaxMs: number;
    if (compression !== CompressionCodec.NONE && headerSettles(minMs, maxMs)) {
      batchMaxMs = header.maxTimestampMs;
    } else {
      if (compression === CompressionCodec.NONE) cursor.reset(records, header.recordsPosition, end, header);
      else {
        const decompressed = decompress(compression as CompressionCodecId, records.subarray(header.recordsPosition, end), position, limits);
        cursor.reset(decompressed, 0, decompressed.length, header);
      }
      const list = walkRecords(limits, minMs, maxMs);
      // Kafka answers after each batch that had failures; the bytes are then discarded, so nothing is patched.
      if (list !== null) return list.result();
      batchMaxMs = walkedMaxMs;
    }
    setMaxTimestamp(records, position, TimestampType.CREATE_TIME, batchMaxMs); // also clears a LogAppendTime flag
    if (batchMaxMs > maxTimestampMs) maxTimestampMs = batchMaxMs;
    lastTimestampMs = batchMaxMs;
    position = end;
  }
  summary.maxTimestampMs = maxTimestampMs;
  summary.lastTimestampMs = lastTimestampMs;
  return null;
}

/** LogAppendTime topic: the broker stamps its own time; Kafka only refuses batches that claim LogAppendTime themselves. */
function checkLogAppendTimeTopic(records: Buffer, limits: TimestampLimits, summary: RecordsSummary): RecordTimestampErrors | null {
  if (!summary.logAppendTime) return null;
  for (let position = 0; position < records.length; position = header.end) {
    header.reset(records, position);
    if (header.timestampType !== TimestampType.LOG_APPEND_TIME) continue;
    const list = new ErrorList(limits.maxRecordErrors);
    for (let index = 0; index < header.recordCount; index++) list.add(index, logAppendTimeTypeMessage(index));
    return list.result();
  }
  return null;
}

// The largest record timestamp walkRecords saw (NO_TIMESTAMP if none): a scratch register, as iterate.ts's varintEnd.
let walkedMaxMs = NO_TIMESTAMP;

/** Walks the records `cursor` is on (the batch `header` describes); null when all pass, walkedMaxMs set. */
function walkRecords(limits: TimestampLimits, minMs: number, maxMs: number): ErrorList | null {
  const logAppendTimeBatch = header.timestampType === TimestampType.LOG_APPEND_TIME;
  let batchMaxMs = NO_TIMESTAMP;
  let list: ErrorList | null = null;
  while (cursor.next()) {
    const ts = cursor.timestampMs;
    if (ts !== NO_TIMESTAMP) {
      if (ts < minMs || ts > maxMs) {
        const index = cursor.index;
        const offsetDelta = cursor.offsetDelta;
        list ??= new ErrorList(limits.maxRecordErrors);
        list.add(
          index,
          () =>
            `record ${index} (offset delta ${offsetDelta}): timestamp ${ts} is out of range; it must lie within [${minMs}, ${maxMs}] ` +
            `(message.timestamp.before.max.ms=${limits.beforeMaxMs}, message.timestamp.after.max.ms=${limits.afterMaxMs})`,
        );
      } else if (ts > batchMaxMs) batchMaxMs = ts;
    } else if (logAppendTimeBatch) {
      list ??= new ErrorList(limits.maxRecordErrors);
      list.add(cursor.index, logAppendTimeTypeMessage(cursor.index));
    }
  }
  walkedMaxMs = batchMaxMs;
  return list;
}

/**
 * Whether the current (compressed) batch passes on its header alone, with the same outcome as reading its
 * records, assuming that no record's timestamp exceeds the header's maxTimestamp.
 */
function headerSettles(minMs: number, maxMs: number): boolean {
  const batchMaxMs = header.maxTimestampMs;
  if (batchMaxMs === NO_TIMESTAMP || batchMaxMs < minMs || batchMaxMs > maxMs) return false;
  // LogAppendTime-flagged: every record's timestamp is the header's maxTimestamp, just checked.
  if (header.timestampType === TimestampType.LOG_APPEND_TIME) return true;
  return minMs === Number.NEGATIVE_INFINITY && batchMaxMs >= header.baseTimestampMs;
}

function decompress(codec: CompressionCodecId, compressed: Buffer, batchPosition: number, limits: TimestampLimits): Buffer {
  try {
    return decompressRecords(codec, compressed, limits.maxDecompressedBytes);
  } catch (e) {
    // Kafka's record iterator turns a stream its codec cannot read into a KafkaException, which the produce
    // path answers with UNKNOWN_SERVER_ERROR: not retriable, as retrying the same bytes cannot help (the
    // CORRUPT_MESSAGE decompressRecords uses elsewhere is retriable).
    if (e instanceof RecordsError && e.reason === RecordsErrorReason.DECOMPRESSION_FAILED) {
      throw new RecordsError(ErrorCode.UNKNOWN_SERVER_ERROR, e.reason, batchPosition, e.message, { cause: e });
    }
    throw e;
  }
}
