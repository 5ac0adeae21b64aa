// KIP-890 verification and, for transaction version 2, the implicit add (broker/txn/verification.ts): asked of the
// local coordinator, or of another broker with AddPartitionsToTxn (v4 verifyOnly to verify, v5 without it to add);
// and the Produce errors its answers become.
import t from 'tap';
import { ApiKey } from '../../../broker/protocol/generated/index.ts';
import { ErrorCode } from '../../../broker/protocol/errors.ts';
import { silentLogger } from '../../../broker/ops/logger.ts';
import { produceErrorForVerification, verifyTransaction } from '../../../broker/txn/verification.ts';

const tp = (topic: string, partition: number) => ({ topic, partition });

function args(coordinatorNode: number) {
  const sent: { apiKey: number; version: number; body: any }[] = [];
  const calls: string[] = [];
  return {
    sent,
    calls,
    a: {
      cluster: {
        nodeId: 1,
        coordinatorOwner: () => ({ nodeId: coordinatorNode, leaderEpoch: 0 }),
        broker: () => ({ host: '127.0.0.1', port: 9 }),
      } as any,
      coordinator: {
        verifyPartitions: (_id: string, _pid: number, _e: number, ps: unknown[]) => {
          calls.push('verify');
          return ps.map(() => ErrorCode.NONE);
        },
        addPartitions: async () => {
          calls.push('add');
          return ErrorCode.CONCURRENT_TRANSACTIONS;
        },
      } as any,
      client: {
        request: async (_h: string, _p: number, apiKey: number, version: number, body: any) => {
          sent.push({ apiKey, version, body });
          return {
            errorCode: 0,
            resultsByTransaction: [
              {
                transactionalId: 'tx',
                topicResults: [{ name: 'a', resultsByPartition: [{ partitionIndex: 0, partitionErrorCode: ErrorCode.NONE }] }],
              },
            ],
          };
        },
      } as any,
      logger: silentLogger(),
    },
  };
}

t.test('another broker coordinates: v4 verifyOnly to verify, v5 without verifyOnly to add', async (t) => {
  const { a, sent } = args(2);
  t.same(await verifyTransaction(a, 'tx', 5, 1, [tp('a', 0), tp('b', 1)]), [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE]);
  t.same(await verifyTransaction(a, 'tx', 5, 1, [tp('a', 0)], true), [ErrorCode.NONE]);
  t.same(
    sent.map((s) => [s.apiKey, s.version, s.body.transactions[0].verifyOnly]),
    [
      [ApiKey.AddPartitionsToTxn, 4, true],
      [ApiKey.AddPartitionsToTxn, 5, false],
    ],
  );
});

t.test('this broker coordinates: verifyPartitions, or addPartitions for every partition', async (t) => {
  const { a, calls } = args(1);
  t.same(await verifyTransaction(a, 'tx', 5, 1, [tp('a', 0)]), [ErrorCode.NONE]);
  t.same(await verifyTransaction(a, 'tx', 5, 1, [tp('a', 0), tp('a', 1)], true), [
    ErrorCode.CONCURRENT_TRANSACTIONS,
    ErrorCode.CONCURRENT_TRANSACTIONS,
  ]);
  t.same(calls, ['verify', 'add']);
});

t.test('Produce errors: TRANSACTION_ABORTABLE from v11, fenced as INVALID_PRODUCER_EPOCH, coordinator trouble retriable', async (t) => {
  t.same(produceErrorForVerification(ErrorCode.INVALID_TXN_STATE, 9).errorCode, ErrorCode.INVALID_TXN_STATE);
  t.same(produceErrorForVerification(ErrorCode.INVALID_TXN_STATE, 11), { errorCode: ErrorCode.TRANSACTION_ABORTABLE, message: null });
  t.same(produceErrorForVerification(ErrorCode.PRODUCER_FENCED, 12), { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: null });
  t.equal(produceErrorForVerification(ErrorCode.CONCURRENT_TRANSACTIONS, 12).errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
});
