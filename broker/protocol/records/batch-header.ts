// Reading the fixed 61-byte header of a magic-2 record batch in place.
import {
  ATTRIBUTE_COMPRESSION_MASK,
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_DELETE_HORIZON,
  ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_ATTRIBUTES_OFFSET,
  BATCH_BASE_OFFSET_OFFSET,
  BATCH_BASE_SEQUENCE_OFFSET,
  BATCH_BASE_TIMESTAMP_OFFSET,
  BATCH_CRC_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LAST_OFFSET_DELTA_OFFSET,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC_OFFSET,
  BATCH_MAX_TIMESTAMP_OFFSET,
  BATCH_PARTITION_LEADER_EPOCH_OFFSET,
  BATCH_PRODUCER_EPOCH_OFFSET,
  BATCH_PRODUCER_ID_OFFSET,
  BATCH_RECORD_COUNT_OFFSET,
  BATCH_RECORDS_OFFSET,
  INT32_MAX,
  MAGIC_V1,
  MAGIC_V2,
  NO_SEQUENCE,
} from './constants.ts';
import { readInt64 } from './bytes.ts';
import { corruptMessage, invalidRecord, RecordsErrorReason } from './records-error.ts';

export function readBaseOffset(buffer: Buffer, batchPosition: number): number {
  return readInt64(buffer, batchPosition + BATCH_BASE_OFFSET_OFFSET);
}
export function readBatchLength(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt32BE(batchPosition + BATCH_LENGTH_OFFSET);
}
export function readPartitionLeaderEpoch(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt32BE(batchPosition + BATCH_PARTITION_LEADER_EPOCH_OFFSET);
}
export function readMagic(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt8(batchPosition + BATCH_MAGIC_OFFSET);
}
export function readAttributes(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt16BE(batchPosition + BATCH_ATTRIBUTES_OFFSET);
}
export function readLastOffsetDelta(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt32BE(batchPosition + BATCH_LAST_OFFSET_DELTA_OFFSET);
}
export function readBaseTimestampMs(buffer: Buffer, batchPosition: number): number {
  return readInt64(buffer, batchPosition + BATCH_BASE_TIMESTAMP_OFFSET);
}
export function readMaxTimestampMs(buffer: Buffer, batchPosition: number): number {
  return readInt64(buffer, batchPosition + BATCH_MAX_TIMESTAMP_OFFSET);
}
export function readProducerId(buffer: Buffer, batchPosition: number): number {
  return readInt64(buffer, batchPosition + BATCH_PRODUCER_ID_OFFSET);
}
export function readProducerEpoch(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt16BE(batchPosition + BATCH_PRODUCER_EPOCH_OFFSET);
}
export function readBaseSequence(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt32BE(batchPosition + BATCH_BASE_SEQUENCE_OFFSET);
}
export function readRecordCount(buffer: Buffer, batchPosition: number): number {
  return buffer.readInt32BE(batchPosition + BATCH_RECORD_COUNT_OFFSET);
}

/** Kafka's DefaultRecordBatch.incrementSequence: sequences wrap from INT32_MAX to 0. */
export function incrementSequence(sequence: number, increment: number): number {
  if (sequence > INT32_MAX - increment) return increment - (INT32_MAX - sequence) - 1;
  return sequence + increment;
}

/** Sequence number of the last record of a batch (NO_SEQUENCE when the batch has none). */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  if (baseSequence === NO_SEQUENCE) return NO_SEQUENCE;
  return incrementSequence(baseSequence, lastOffsetDelta);
}

const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * A reusable view of one batch header. `reset` checks that a complete magic-2 batch starts at
 * `position`; after that every getter reads straight from the buffer (no copies, no allocation).
 */
export class BatchHeaderView {
  buffer: Buffer = EMPTY_BUFFER;
  position = 0;

  /** Throws RecordsError when no complete magic-2 batch starts at `position`. */
  reset(buffer: Buffer, position: number): this {
    if (!(position >= 0 && position <= buffer.length)) throw new RangeError(`position ${position} outside buffer`);
    const remainingBytes = buffer.length - position;
    if (remainingBytes < BATCH_HEADER_BYTES) {
      throw corruptMessage(
        RecordsErrorReason.BATCH_TRUNCATED,
        position,
        `batch header needs ${BATCH_HEADER_BYTES} bytes, ${remainingBytes} remain`,
      );
    }
    const batchLength = buffer.readInt32BE(position + BATCH_LENGTH_OFFSET);
    if (batchLength < BATCH_HEADER_BYTES - BATCH_LOG_OVERHEAD_BYTES) {
      throw corruptMessage(RecordsErrorReason.BATCH_LENGTH_TOO_SMALL, position, `batchLength ${batchLength} below the v2 header size`);
    }
    if (batchLength > remainingBytes - BATCH_LOG_OVERHEAD_BYTES) {
      throw corruptMessage(
        RecordsErrorReason.BATCH_TRUNCATED,
        position,
        `batchLength ${batchLength} exceeds the ${remainingBytes - BATCH_LOG_OVERHEAD_BYTES} bytes that remain`,
      );
    }
    const magic = buffer.readInt8(position + BATCH_MAGIC_OFFSET);
    if (magic !== MAGIC_V2) {
      if (magic >= 0 && magic <= MAGIC_V1) {
        throw invalidRecord(RecordsErrorReason.UNSUPPORTED_MAGIC, position, `message format v${magic} is not supported`);
      }
      throw corruptMessage(RecordsErrorReason.INVALID_MAGIC, position, `invalid magic ${magic}`);
    }
    this.buffer = buffer;
    this.position = position;
    return this;
  }

  get baseOffset(): number {
    return readInt64(this.buffer, this.position + BATCH_BASE_OFFSET_OFFSET);
  }
  get batchLength(): number {
    return this.buffer.readInt32BE(this.position + BATCH_LENGTH_OFFSET);
  }
  /** Whole batch, including baseOffset and batchLength. */
  get batchBytes(): number {
    return BATCH_LOG_OVERHEAD_BYTES + this.batchLength;
  }
  /** Position just past this batch (where the next one starts). */
  get end(): number {
    return this.position + this.batchBytes;
  }
  get recordsPosition(): number {
    return this.position + BATCH_RECORDS_OFFSET;
  }
  get partitionLeaderEpoch(): number {
    return this.buffer.readInt32BE(this.position + BATCH_PARTITION_LEADER_EPOCH_OFFSET);
  }
  get magic(): number {
    return this.buffer.readInt8(this.position + BATCH_MAGIC_OFFSET);
  }
  get crc(): number {
    return this.buffer.readUInt32BE(this.position + BATCH_CRC_OFFSET);
  }
  get attributes(): number {
    return this.buffer.readInt16BE(this.position + BATCH_ATTRIBUTES_OFFSET);
  }
  /** Codec id 0..7 (0..4 are defined). */
  get compression(): number {
    return this.attributes & ATTRIBUTE_COMPRESSION_MASK;
  }
  /** 0 = CreateTime, 1 = LogAppendTime. */
  get timestampType(): number {
    return (this.attributes & ATTRIBUTE_TIMESTAMP_TYPE_LOG_APPEND_TIME) !== 0 ? 1 : 0;
  }
  get isTransactional(): boolean {
    return (this.attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
  }
  get isControl(): boolean {
    return (this.attributes & ATTRIBUTE_CONTROL) !== 0;
  }
  get hasDeleteHorizon(): boolean {
    return (this.attributes & ATTRIBUTE_DELETE_HORIZON) !== 0;
  }
  get lastOffsetDelta(): number {
    return this.buffer.readInt32BE(this.position + BATCH_LAST_OFFSET_DELTA_OFFSET);
  }
  get lastOffset(): number {
    return this.baseOffset + this.lastOffsetDelta;
  }
  /** First record's timestamp (CreateTime), or the delete horizon when hasDeleteHorizon. */
  get baseTimestampMs(): number {
    return readInt64(this.buffer, this.position + BATCH_BASE_TIMESTAMP_OFFSET);
  }
  get maxTimestampMs(): number {
    return readInt64(this.buffer, this.position + BATCH_MAX_TIMESTAMP_OFFSET);
  }
  get producerId(): number {
    return readInt64(this.buffer, this.position + BATCH_PRODUCER_ID_OFFSET);
  }
  get producerEpoch(): number {
    return this.buffer.readInt16BE(this.position + BATCH_PRODUCER_EPOCH_OFFSET);
  }
  get baseSequence(): number {
    return this.buffer.readInt32BE(this.position + BATCH_BASE_SEQUENCE_OFFSET);
  }
  get lastSequence(): number {
    return lastSequenceOf(this.baseSequence, this.lastOffsetDelta);
  }
  get recordCount(): number {
    return this.buffer.readInt32BE(this.position + BATCH_RECORD_COUNT_OFFSET);
  }
}
