import t from 'tap';
import { buildWalObject, parseWalFooter, parseWalIndex, walFooterBytes, WalFormatError } from '../../../broker/storage/wal-object.ts';

const topicId = 'AAAAAAAAAAAAAAAAAAAAAQ';

t.test('index and footer describe every chunk', async (t) => {
  const chunks = [
    { topicId, partition: 0, baseOffset: 0, lastOffset: 9, maxTimestamp: 1000, batchCount: 2, data: Buffer.alloc(300, 1) },
    { topicId, partition: 7, baseOffset: 5000000000, lastOffset: 5000000004, maxTimestamp: 2000, batchCount: 1, data: Buffer.alloc(70, 2) },
  ];
  const { body, sizeBytes, entries } = buildWalObject(chunks);
  const object = Buffer.concat(body);
  t.equal(object.length, sizeBytes);
  const footer = parseWalFooter(object.subarray(sizeBytes - walFooterBytes), sizeBytes);
  const parsed = parseWalIndex(object.subarray(footer.indexPosition, footer.indexPosition + footer.indexLengthBytes), footer.indexCrc);
  t.same(parsed, entries);
  t.equal(parsed[1]!.baseOffset, 5000000000);
  t.ok(object.subarray(parsed[1]!.position, parsed[1]!.position + parsed[1]!.lengthBytes).equals(chunks[1]!.data));
  t.equal(object.subarray(sizeBytes - 8).toString('latin1'), 'SKAFOSW1');
});

t.test('damage is detected', async (t) => {
  const { body, sizeBytes } = buildWalObject([
    { topicId, partition: 0, baseOffset: 0, lastOffset: 0, maxTimestamp: 1, batchCount: 1, data: Buffer.alloc(80) },
  ]);
  const object = Buffer.concat(body);
  const footer = object.subarray(sizeBytes - walFooterBytes);
  t.throws(() => parseWalFooter(footer, sizeBytes + 1), WalFormatError, 'size mismatch');
  const badMagic = Buffer.from(footer);
  badMagic[16] = 0;
  t.throws(() => parseWalFooter(badMagic, sizeBytes), WalFormatError);
  const f = parseWalFooter(footer, sizeBytes);
  const index = Buffer.from(object.subarray(f.indexPosition, f.indexPosition + f.indexLengthBytes));
  index[10] ^= 1;
  t.throws(() => parseWalIndex(index, f.indexCrc), WalFormatError, 'checksum');
});
