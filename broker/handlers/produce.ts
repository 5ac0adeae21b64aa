// Produce: each partition's batch goes to the log layer's write path (broker/log/append.ts: validation,
// idempotence and transaction checks, offsets), after KIP-890 verification of transactional batches
// (verifyTransactional, the one call into the transaction coordinator), and is answered once it is durable in
// the object store with its metadata committed (acks=1 and acks=-1 alike; acks=0 gets no response).
// Semantics: spec/guarantees.md.
import { ApiKey } from '../protocol/generated/index.ts';
import type {
  ProduceRequest,
  ProduceResponseInput,
  ProduceResponsePartitionProduceResponseInput,
  ProduceResponseTopicProduceResponseInput,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { appendRecords, producerStateRebuild, transactionGuard } from '../log/append.ts';
import type { AppendOutcome, TxnGuard, TxnVerification } from '../log/append.ts';
import { peekProducerId } from '../log/producer-state.ts';
import { produceErrorForVerification } from '../txn/verification.ts';
import type { ApiHandler, BrokerServices, RequestContext } from './context.ts';
import { LeaderHints } from './leader-hints.ts';
import type { ObjectStoreHealth } from '../storage/health.ts';
import { degradedThrottleMs } from '../limits.ts';

/** ZSTD needs Produce v7+ (KIP-110). */
const firstZstdProduceVersion = 7;

type PartitionResult = ProduceResponsePartitionProduceResponseInput;

function error(index: number, code: number, message: string | null = null): PartitionResult {
  return { index, errorCode: code, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage: message };
}

interface Pending {
  result: PartitionResult;
  durable: Promise<void>;
}

/** The partition's answer for the log layer's outcome. */
function resultOf(index: number, r: AppendOutcome): PartitionResult {
  if (!('durable' in r)) {
    const e = error(index, r.errorCode, r.message);
    if (r.recordErrors !== undefined) e.recordErrors = r.recordErrors;
    return e;
  }
  return {
    index,
    errorCode: ErrorCode.NONE,
    baseOffset: r.baseOffset,
    logAppendTimeMs: r.logAppendTimeMs,
    logStartOffset: r.logStartOffset,
    recordErrors: [],
    errorMessage: null,
  };
}

export const produceHandler: ApiHandler<typeof ApiKey.Produce> = {
  apiKey: ApiKey.Produce,
  // v0-v2 stay advertised for old clients (as Apache Kafka 4 does); they must carry magic-2 batches too.
  minVersion: 0,
  // v12 is transaction version 2 (KIP-890 part 2): a transaction's first batch in a partition adds the partition
  // to the transaction. v13 (topic ids, KIP-516) is not served.
  maxVersion: 12,
  // A connection's batches are appended in the order they were sent, whatever each request waits for first
  // (buffer room, a producer-state rebuild, KIP-890 verification): pipelined idempotent batches stay in sequence.
  ordered: true,
  async handle(ctx: RequestContext, req: ProduceRequest): Promise<ProduceResponseInput | null> {
    const s = ctx.services;
    const v = ctx.apiVersion;
    const acks = req.acks;
    const responses: ProduceResponseTopicProduceResponseInput[] = [];
    const waits: Pending[] = [];
    const badAcks = acks !== 0 && acks !== 1 && acks !== -1;
    // Object store unavailable: fail fast with a retriable error instead of queueing writes that cannot land.
    const storage = s.storageHealth.state;
    if (storage === 'unavailable' && !badAcks) return storageUnavailable(req, s.storageHealth.stateReason);
    // Memory bound: wait (up to the request timeout) while too many appended bytes are not yet durable.
    const room = badAcks || (await s.logs.flusher.waitForRoom(s.config.flushMaxPendingBytes, Math.max(0, req.timeoutMs)));
    // Transactional producers only (one null check otherwise): KIP-890 verification of a transaction's first batches,
    // or with v12+ (transaction version 2) their implicit add to the transaction, whatever the verification setting.
    const verifying =
      room &&
      !badAcks &&
      req.transactionalId !== null &&
      (v >= firstImplicitAddProduceVersion || s.config.transactionPartitionVerificationEnable);
    const verification = verifying ? await verifyTransactional(s, req, v) : null;
    // The time of the append (timestamp checks, LogAppendTime), taken after the waits above, as Kafka's clock at
    // its append; again after a producer-state rebuild.
    let nowMs = Date.now();
    for (const td of req.topicData) {
      const topic = s.topics.byName(td.name);
      const partitionResponses: PartitionResult[] = [];
      for (const pd of td.partitionData) {
        if (badAcks) partitionResponses.push(error(pd.index, ErrorCode.INVALID_REQUIRED_ACKS));
        else if (!room)
          partitionResponses.push(
            error(pd.index, ErrorCode.REQUEST_TIMED_OUT, 'The broker is waiting for the object store to absorb earlier writes'),
          );
        else if (!topic) partitionResponses.push(error(pd.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
        else {
          const verified = verification?.get(partitionKey(td.name, pd.index));
          if (verified !== undefined && 'errorCode' in verified) {
            partitionResponses.push(error(pd.index, verified.errorCode, verified.message));
            continue;
          }
          // An idempotent batch for a partition whose producer state is not rebuilt yet (first one since start):
          // rebuild it first. Rare, so the common path stays synchronous.
          const rebuilding = peekProducerId(pd.records) >= 0 ? producerStateRebuild(s, topic, pd.index) : null;
          if (rebuilding !== null) {
            await rebuilding;
            nowMs = Date.now();
          }
          const txn: TxnVerification = verified ?? (verifying ? 'ongoing' : null);
          const r = appendRecords(s, topic, pd.index, pd.records, { nowMs, allowZstd: v >= firstZstdProduceVersion, verification: txn });
          const result = resultOf(pd.index, r);
          partitionResponses.push(result);
          if ('durable' in r && r.durable !== null) waits.push({ result, durable: r.durable });
        }
      }
      responses.push({ name: td.name, partitionResponses });
    }
    // Appended: the connection's next Produce may append behind these batches while they become durable.
    ctx.applied();
    if (acks === 0) {
      for (const w of waits) w.durable.catch(() => {});
      return null;
    }
    if (waits.length > 0) await waitAll(waits, req.timeoutMs, ctx.signal, s.storageHealth);
    // Degraded object store: accept, but ask clients to slow down (KIP-219 throttling).
    const response: ProduceResponseInput = { responses, throttleTimeMs: storage === 'degraded' ? degradedThrottleMs : 0 };
    if (v >= firstLeaderHintProduceVersion) addLeaderHints(s, ctx.listenerName, response);
    return response;
  },
};

function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}

/** Produce v12: transaction version 2, partitions are added to the transaction by their first batch. */
const firstImplicitAddProduceVersion = 12;

/**
 * KIP-890 part 1 (broker/txn/verification.ts): the first transactional batch of a producer's transaction in a
 * partition is verified with the transaction coordinator (`s.txn.verify`) before it may open a transaction
 * there; with `add` (part 2, Produce v12+) the coordinator adds the partition to the transaction instead. One
 * request per producer (epoch) for all of this request's partitions that need it (the log layer's
 * transactionGuard says which). null when there is nothing to verify.
 */
async function verifyTransactional(
  s: BrokerServices,
  req: ProduceRequest,
  v: number,
): Promise<Map<string, TxnGuard | { errorCode: number; message: string | null }> | null> {
  const transactionalId = req.transactionalId;
  if (transactionalId === null) return null;
  const add = v >= firstImplicitAddProduceVersion;
  const byProducer = new Map<
    string,
    { producerId: number; producerEpoch: number; parts: { topic: string; partition: number; guard: TxnGuard }[] }
  >();
  for (const td of req.topicData) {
    const topic = s.topics.byName(td.name);
    if (!topic) continue;
    for (const pd of td.partitionData) {
      const guard = await transactionGuard(s, topic, pd.index, pd.records);
      if (guard === null) continue;
      const k = `${guard.producerId}:${guard.producerEpoch}`;
      let g = byProducer.get(k);
      if (!g) byProducer.set(k, (g = { producerId: guard.producerId, producerEpoch: guard.producerEpoch, parts: [] }));
      g.parts.push({ topic: td.name, partition: pd.index, guard });
    }
  }
  if (byProducer.size === 0) return null;
  const out = new Map<string, TxnGuard | { errorCode: number; message: string | null }>();
  await Promise.all(
    [...byProducer.values()].map(async (g) => {
      const codes = await s.txn.verify(
        transactionalId,
        g.producerId,
        g.producerEpoch,
        g.parts.map((p) => ({ topic: p.topic, partition: p.partition })),
        add,
      );
      g.parts.forEach((p, i) =>
        out.set(partitionKey(p.topic, p.partition), codes[i] === ErrorCode.NONE ? p.guard : produceErrorForVerification(codes[i]!, v)),
      );
    }),
  );
  return out;
}

/** Produce v10 carries KIP-951's current_leader and node_endpoints. */
const firstLeaderHintProduceVersion = 10;

function addLeaderHints(s: BrokerServices, listenerName: string, response: ProduceResponseInput): void {
  let hints: LeaderHints | null = null;
  for (const td of response.responses!) {
    for (const pr of td.partitionResponses!) {
      if (pr.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) continue;
      const topic = s.topics.byName(td.name!);
      if (!topic) continue;
      hints ??= new LeaderHints(s, listenerName);
      pr.currentLeader = hints.leader(topic.id, pr.index!);
    }
  }
  if (hints) response.nodeEndpoints = hints.endpoints();
}

function storageUnavailable(req: ProduceRequest, reason: string): ProduceResponseInput | null {
  if (req.acks === 0) return null;
  const message = `The object store is unavailable (${reason}); retry later`;
  return {
    throttleTimeMs: 0,
    responses: req.topicData.map((td) => ({
      name: td.name,
      partitionResponses: td.partitionData.map((pd) => error(pd.index, ErrorCode.NOT_ENOUGH_REPLICAS, message)),
    })),
  };
}

/** Waits for every append to be durable, for at most `timeoutMs`; late or failed ones get their error code. */
async function waitAll(waits: Pending[], timeoutMs: number, signal: AbortSignal, health: ObjectStoreHealth): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, timeoutMs))));
  let onAbort: () => void = () => {};
  const aborted = new Promise<'timeout'>((resolve) => {
    onAbort = () => resolve('timeout');
    signal.addEventListener('abort', onAbort, { once: true });
  });
  // Writes waiting when the object store becomes unavailable are answered at once with a retriable error
  // (they may still become durable later, as after a timeout), instead of holding the client until its timeout.
  let stopWatching = () => {};
  const unavailable = new Promise<'unavailable'>((resolve) => {
    stopWatching = health.onTransition((tr) => {
      if (tr.to === 'unavailable') resolve('unavailable');
    });
  });
  try {
    await Promise.all(
      waits.map(async (w) => {
        try {
          const outcome = await Promise.race([w.durable.then(() => 'ok' as const), timedOut, aborted, unavailable]);
          if (outcome === 'timeout')
            Object.assign(w.result, {
              errorCode: ErrorCode.REQUEST_TIMED_OUT,
              baseOffset: -1,
              errorMessage: 'The batch was not durable within the request timeout',
            });
          if (outcome === 'unavailable')
            Object.assign(w.result, {
              errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
              baseOffset: -1,
              errorMessage: `The object store became unavailable (${health.stateReason}); retry later`,
            });
        } catch (e) {
          Object.assign(w.result, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, baseOffset: -1, errorMessage: (e as Error).message });
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    stopWatching();
    signal.removeEventListener('abort', onAbort);
  }
}
