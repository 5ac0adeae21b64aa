// The write-ahead object: one per flush per broker, holding the new batches of every partition that had data,
// followed by a binary index of those per-partition chunks and a fixed-size footer. Byte tables: spec/formats.md.
import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';

export const walFooterBytes = 24;
export const walIndexEntryBytes = 64;
const walMagic = Buffer.from('SKAFOSW1', 'latin1');
const walFormatVersion = 1;
const uuidBytes = 16;

/** One partition's contiguous run of record batches inside a WAL object. */
export interface WalIndexEntry {
  /** Topic id in Kafka's base64url form. */
  topicId: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** Byte position of the chunk inside the object. */
  position: number;
  lengthBytes: number;
  batchCount: number;
}

export interface WalChunk {
  topicId: string;
  partition: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  batchCount: number;
  /** Whole record batches, already carrying their assigned offsets. */
  data: Buffer;
}

export class WalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalFormatError';
  }
}

/** Lays out chunks, index and footer; returns the body as buffers for a vectored write, and the index. */
export function buildWalObject(chunks: readonly WalChunk[]): { body: Buffer[]; sizeBytes: number; entries: WalIndexEntry[] } {
  const entries: WalIndexEntry[] = [];
  const body: Buffer[] = [];
  let position = 0;
  for (const c of chunks) {
    assert.ok(c.data.length > 0 && c.lastOffset >= c.baseOffset, 'a WAL chunk holds at least one batch');
    entries.push({
      topicId: c.topicId,
      partition: c.partition,
      baseOffset: c.baseOffset,
      lastOffset: c.lastOffset,
      maxTimestamp: c.maxTimestamp,
      position,
      lengthBytes: c.data.length,
      batchCount: c.batchCount,
    });
    body.push(c.data);
    position += c.data.length;
  }
  const index = Buffer.alloc(4 + entries.length * walIndexEntryBytes);
  index.writeInt32BE(entries.length, 0);
  let p = 4;
  for (const e of entries) {
    const id = Buffer.from(e.topicId, 'base64url');
    assert.equal(id.length, uuidBytes, 'topic id is a 16-byte UUID');
    id.copy(index, p);
    index.writeInt32BE(e.partition, p + 16);
    index.writeBigInt64BE(BigInt(e.baseOffset), p + 20);
    index.writeBigInt64BE(BigInt(e.lastOffset), p + 28);
    index.writeBigInt64BE(BigInt(e.maxTimestamp), p + 36);
    index.writeBigInt64BE(BigInt(e.position), p + 44);
    index.writeInt32BE(e.lengthBytes, p + 52);
    index.writeInt32BE(e.batchCount, p + 56);
    index.writeInt32BE(0, p + 60);
    p += walIndexEntryBytes;
  }
  const footer = Buffer.alloc(walFooterBytes);
  footer.writeBigInt64BE(BigInt(position), 0);
  footer.writeInt32BE(index.length, 8);
  footer.writeUInt32BE(crc32c(index), 12);
  walMagic.copy(footer, 16);
  footer[23] = 0x30 + walFormatVersion; // magic ends in the format version digit: "SKAFOSW1"
  body.push(index, footer);
  return { body, sizeBytes: position + index.length + footer.length, entries };
}

/** Parses the footer (the last walFooterBytes of the object); returns where the index is. */
export function parseWalFooter(
  footer: Buffer,
  objectSizeBytes: number,
): { indexPosition: number; indexLengthBytes: number; indexCrc: number } {
  if (footer.length !== walFooterBytes) throw new WalFormatError(`WAL footer must be ${walFooterBytes} bytes, got ${footer.length}`);
  if (!footer.subarray(16, 24).equals(walMagic)) throw new WalFormatError('not a Skafos WAL object (bad magic)');
  const indexPosition = Number(footer.readBigInt64BE(0));
  const indexLengthBytes = footer.readInt32BE(8);
  if (indexPosition < 0 || indexLengthBytes < 4 || indexPosition + indexLengthBytes + walFooterBytes !== objectSizeBytes) {
    throw new WalFormatError(
      `WAL footer describes an index at ${indexPosition}+${indexLengthBytes} in an object of ${objectSizeBytes} bytes`,
    );
  }
  return { indexPosition, indexLengthBytes, indexCrc: footer.readUInt32BE(12) };
}

export function parseWalIndex(index: Buffer, expectedCrc: number): WalIndexEntry[] {
  if (crc32c(index) !== expectedCrc) throw new WalFormatError('WAL index checksum mismatch');
  const n = index.readInt32BE(0);
  if (n < 0 || 4 + n * walIndexEntryBytes !== index.length)
    throw new WalFormatError(`WAL index of ${index.length} bytes cannot hold ${n} entries`);
  const entries: WalIndexEntry[] = [];
  let p = 4;
  for (let i = 0; i < n; i++) {
    entries.push({
      topicId: index.toString('base64url', p, p + 16),
      partition: index.readInt32BE(p + 16),
      baseOffset: Number(index.readBigInt64BE(p + 20)),
      lastOffset: Number(index.readBigInt64BE(p + 28)),
      maxTimestamp: Number(index.readBigInt64BE(p + 36)),
      position: Number(index.readBigInt64BE(p + 44)),
      lengthBytes: index.readInt32BE(p + 52),
      batchCount: index.readInt32BE(p + 56),
    });
    p += walIndexEntryBytes;
  }
  return entries;
}
