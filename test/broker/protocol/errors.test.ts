import t from 'tap';
import {
  ERROR_CODE_MAX,
  ERROR_CODE_MIN,
  ErrorCode,
  errorInfoForCode,
  isKnownErrorCode,
  KAFKA_ERRORS,
  KafkaError,
} from '../../../broker/protocol/errors.ts';
import type { ErrorName } from '../../../broker/protocol/errors.ts';

t.test('well-known codes match Apache Kafka', async (t) => {
  const expected: Array<[ErrorName, number, boolean]> = [
    ['UNKNOWN_SERVER_ERROR', -1, false],
    ['NONE', 0, false],
    ['OFFSET_OUT_OF_RANGE', 1, false],
    ['CORRUPT_MESSAGE', 2, true],
    ['UNKNOWN_TOPIC_OR_PARTITION', 3, true],
    ['LEADER_NOT_AVAILABLE', 5, true],
    ['NOT_LEADER_OR_FOLLOWER', 6, true],
    ['REQUEST_TIMED_OUT', 7, true],
    ['BROKER_NOT_AVAILABLE', 8, false],
    ['REPLICA_NOT_AVAILABLE', 9, true],
    ['MESSAGE_TOO_LARGE', 10, false],
    ['NETWORK_EXCEPTION', 13, true],
    ['COORDINATOR_LOAD_IN_PROGRESS', 14, true],
    ['COORDINATOR_NOT_AVAILABLE', 15, true],
    ['NOT_COORDINATOR', 16, true],
    ['RECORD_LIST_TOO_LARGE', 18, false],
    ['NOT_ENOUGH_REPLICAS', 19, true],
    ['NOT_ENOUGH_REPLICAS_AFTER_APPEND', 20, true],
    ['ILLEGAL_GENERATION', 22, false],
    ['UNKNOWN_MEMBER_ID', 25, false],
    ['REBALANCE_IN_PROGRESS', 27, false],
    ['TOPIC_AUTHORIZATION_FAILED', 29, false],
    ['INVALID_TIMESTAMP', 32, false],
    ['UNSUPPORTED_VERSION', 35, false],
    ['TOPIC_ALREADY_EXISTS', 36, false],
    ['NOT_CONTROLLER', 41, true],
    ['INVALID_REQUEST', 42, false],
    ['UNSUPPORTED_FOR_MESSAGE_FORMAT', 43, false],
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 45, false],
    ['DUPLICATE_SEQUENCE_NUMBER', 46, false],
    ['INVALID_PRODUCER_EPOCH', 47, false],
    ['INVALID_TXN_STATE', 48, false],
    ['INVALID_PRODUCER_ID_MAPPING', 49, false],
    ['CONCURRENT_TRANSACTIONS', 51, true],
    ['KAFKA_STORAGE_ERROR', 56, true],
    ['UNKNOWN_PRODUCER_ID', 59, false],
    ['FETCH_SESSION_ID_NOT_FOUND', 70, true],
    ['FENCED_LEADER_EPOCH', 74, true],
    ['UNKNOWN_LEADER_EPOCH', 75, true],
    ['UNSUPPORTED_COMPRESSION_TYPE', 76, false],
    ['MEMBER_ID_REQUIRED', 79, false],
    ['INVALID_RECORD', 87, false],
    ['UNSTABLE_OFFSET_COMMIT', 88, true],
    ['THROTTLING_QUOTA_EXCEEDED', 89, true],
    ['PRODUCER_FENCED', 90, false],
    ['UNKNOWN_TOPIC_ID', 100, true],
    ['FENCED_MEMBER_EPOCH', 110, false],
    ['STALE_MEMBER_EPOCH', 113, false],
    ['TRANSACTION_ABORTABLE', 120, false],
    ['INVALID_REGULAR_EXPRESSION', 128, false],
    ['REBOOTSTRAP_REQUIRED', 129, false],
    ['SHARE_SESSION_LIMIT_REACHED', 133, true],
  ];
  for (const [name, code, retriable] of expected) {
    t.equal(ErrorCode[name], code, `${name} code`);
    t.equal(KAFKA_ERRORS[name].code, code, `${name} table code`);
    t.equal(KAFKA_ERRORS[name].retriable, retriable, `${name} retriable`);
    t.equal(KAFKA_ERRORS[name].name, name, `${name} name`);
  }
});

t.test('codes are unique, contiguous from -1 to 133, and the table matches ErrorCode', async (t) => {
  const names = Object.keys(ErrorCode) as ErrorName[];
  const codes = names.map((name) => ErrorCode[name]);
  t.equal(new Set(codes).size, codes.length, 'no code used twice');
  t.equal(names.length, 135);
  t.same(
    [...codes].sort((a, b) => a - b),
    Array.from({ length: 135 }, (_, index) => index - 1),
  );
  t.equal(ERROR_CODE_MIN, -1);
  t.equal(ERROR_CODE_MAX, 133);
  t.same(Object.keys(KAFKA_ERRORS).sort(), [...names].sort());
  for (const name of names) {
    const info = errorInfoForCode(ErrorCode[name]);
    t.equal(info?.name, name);
    t.equal(typeof info?.message, 'string');
    if (name !== 'NONE') t.ok(info!.message.length > 0, `${name} has a message`);
  }
});

t.test('table is frozen', async (t) => {
  t.ok(Object.isFrozen(KAFKA_ERRORS));
  t.ok(Object.isFrozen(KAFKA_ERRORS.CORRUPT_MESSAGE));
  t.throws(() => {
    (KAFKA_ERRORS.CORRUPT_MESSAGE as { retriable: boolean }).retriable = false;
  });
});

t.test('lookups of unknown codes', async (t) => {
  t.equal(errorInfoForCode(-2), undefined);
  t.equal(errorInfoForCode(134), undefined);
  t.equal(errorInfoForCode(1.5), undefined);
  t.equal(isKnownErrorCode(87), true);
  t.equal(isKnownErrorCode(9999), false);
});

t.test('KafkaError carries code, retriability and Kafka message', async (t) => {
  const error = new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  t.ok(error instanceof Error);
  t.equal(error.code, 6);
  t.equal(error.retriable, true);
  t.equal(error.errorName, 'NOT_LEADER_OR_FOLLOWER');
  t.equal(error.message, KAFKA_ERRORS.NOT_LEADER_OR_FOLLOWER.message);
  t.equal(error.name, 'KafkaError');
  const custom = new KafkaError(ErrorCode.INVALID_RECORD, 'batch 2 is bad', { cause: new Error('inner') });
  t.equal(custom.message, 'batch 2 is bad');
  t.equal(custom.retriable, false);
  t.ok(custom.cause instanceof Error);
  t.throws(() => new KafkaError(ErrorCode.NONE), TypeError);
  t.throws(() => new KafkaError(1234 as typeof ErrorCode.NONE), TypeError);
});
