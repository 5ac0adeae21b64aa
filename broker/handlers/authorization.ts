// The authorization table: for each API, what Kafka's KafkaApis checks before (or while) serving it, checked here
// in one place, beside the handler table (index.ts wraps each handler with its rule). Without an authorizer
// (`authorizer.class.name` unset) a rule costs one null check.
//
// A rule's `check` runs before the handler and answers one of:
// - undefined: everything the request names is authorized; the handler serves it as it came;
// - { respond }: the whole request is refused; this is the response (Kafka's error response for it);
// - { request, after }: part of it is refused: the handler serves `request` (the authorized part) and `after`
//   adds the refused parts to its response, or filters what the principal may not see out of it.
// Per-resource decisions (a topic of a Produce, a group of DescribeGroups) are the authorizer's cached lookups;
// a request whose resources are all authorized allocates nothing here.
import { ApiKey } from '../protocol/generated/index.ts';
import { ErrorCode, errorInfoForCode } from '../protocol/errors.ts';
import { AclOperation as Op, CLUSTER_NAME, ResourceType as Res } from '../security/acl.ts';
import type { Authorizer } from '../security/authorizer.ts';
import { unsetAuthorizedOperations } from './acl-ops.ts';
import type { RequestContext } from './context.ts';

// Rules read and rewrite the decoded bodies of many APIs whose shapes differ; the codec checks what they build
// (test/broker/handlers/authorization-refusals.test.ts encodes every refusal at every version).
// biome-ignore lint/suspicious/noExplicitAny: request bodies of every API
type Req = any;
// biome-ignore lint/suspicious/noExplicitAny: response bodies of every API
type Resp = any;

export type Verdict = undefined | { respond: Resp } | { request: Req; after: (response: Resp) => Resp };

export interface AuthorizationRule {
  /** What is checked, in Kafka's terms (docs/security.md lists them). */
  readonly checks: string;
  readonly check?: (az: Authorizer, ctx: RequestContext, req: Req) => Verdict;
}

const allowed = (az: Authorizer, ctx: RequestContext, op: number, type: number, name: string) =>
  az.authorize(ctx.principal, ctx.clientAddress, op, type, name);
const cluster = (az: Authorizer, ctx: RequestContext, op: number) => allowed(az, ctx, op, Res.CLUSTER, CLUSTER_NAME);
const ops = (az: Authorizer, ctx: RequestContext, type: number, name: string) =>
  az.authorizedOperations(ctx.principal, ctx.clientAddress, type, name);

/** Splits `items` by whether `ok(name)`: undefined when all pass (nothing allocated), else [passing, failing]. */
function split<T>(items: readonly T[], nameOf: (item: T) => string | null, ok: (name: string) => boolean): [T[], T[]] | undefined {
  let i = 0;
  for (; i < items.length; i++) {
    const n = nameOf(items[i]!);
    if (n !== null && !ok(n)) break;
  }
  if (i === items.length) return undefined;
  const pass = items.slice(0, i);
  const fail: T[] = [];
  for (; i < items.length; i++) {
    const n = nameOf(items[i]!);
    (n === null || ok(n) ? pass : fail).push(items[i]!);
  }
  return [pass, fail];
}

/** A per-topic rule: topics of `list` not authorized for `op` are answered by `refused` and left out of the request. */
function perTopic(
  op: number,
  list: (req: Req) => Req[],
  withList: (req: Req, kept: Req[]) => Req,
  nameOf: (t: Req, ctx: RequestContext) => string | null,
  refused: (t: Req, code: number) => Resp,
  responseList: (res: Resp) => Resp[],
): NonNullable<AuthorizationRule['check']> {
  return (az, ctx, req) => {
    const parts = split(
      list(req),
      (t) => nameOf(t, ctx),
      (n) => allowed(az, ctx, op, Res.TOPIC, n),
    );
    if (!parts) return undefined;
    return {
      request: withList(req, parts[0]),
      after: (res) => {
        if (res !== null) responseList(res).push(...parts[1].map((t) => refused(t, ErrorCode.TOPIC_AUTHORIZATION_FAILED)));
        return res;
      },
    };
  };
}

function clusterRule(op: number, respond: (req: Req, code: number, v: number) => Resp, checks: string): AuthorizationRule {
  return {
    checks,
    check: (az, ctx, req) =>
      cluster(az, ctx, op) ? undefined : { respond: respond(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, ctx.apiVersion) },
  };
}

function groupRule(op: number, respond: (req: Req, code: number, v: number) => Resp, checks: string): AuthorizationRule {
  return {
    checks,
    check: (az, ctx, req) =>
      allowed(az, ctx, op, Res.GROUP, req.groupId)
        ? undefined
        : { respond: respond(req, ErrorCode.GROUP_AUTHORIZATION_FAILED, ctx.apiVersion) },
  };
}

const topicName = (t: Req) => t.name as string;
const nameOrId = (t: Req, ctx: RequestContext): string | null => {
  if (t.topic !== undefined && t.topic !== '') return t.topic;
  if (t.name !== undefined && t.name !== null && t.name !== '') return t.name;
  const id = t.topicId as string | undefined;
  return id === undefined ? null : (ctx.services.topics.byId(id)?.name ?? null);
};

const emptyBuffer = Buffer.alloc(0);

// --- Rules with more to them than one check ------------------------------------------------------------------

const produceTopics = perTopic(
  Op.WRITE,
  (r) => r.topicData,
  (r, kept) => ({ ...r, topicData: kept }),
  topicName,
  (td, code) => ({
    name: td.name,
    partitionResponses: td.partitionData.map((pd: Req) => ({ index: pd.index, errorCode: code, baseOffset: -1 })),
  }),
  (res) => res.responses,
);

/** Does `principal` have `op` on every topic of `items`? The hot paths' check: no closure, nothing allocated. */
function allTopicsAllowed(
  az: Authorizer,
  ctx: RequestContext,
  op: number,
  items: readonly Req[],
  nameOf: (t: Req, ctx: RequestContext) => string | null,
): boolean {
  for (let i = 0; i < items.length; i++) {
    const name = nameOf(items[i], ctx);
    if (name !== null && !az.authorize(ctx.principal, ctx.clientAddress, op, Res.TOPIC, name)) return false;
  }
  return true;
}

const produce: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID WRITE (transactional producers); TOPIC WRITE per topic',
  check(az, ctx, req) {
    if (req.transactionalId !== null && !allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId)) {
      const code = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
      return {
        respond:
          req.acks === 0
            ? null
            : {
                throttleTimeMs: 0,
                responses: req.topicData.map((td: Req) => ({
                  name: td.name,
                  partitionResponses: td.partitionData.map((pd: Req) => ({ index: pd.index, errorCode: code, baseOffset: -1 })),
                })),
              },
      };
    }
    if (allTopicsAllowed(az, ctx, Op.WRITE, req.topicData, topicName)) return undefined;
    return produceTopics(az, ctx, req);
  },
};

const fetch: AuthorizationRule = {
  checks: 'CLUSTER CLUSTER_ACTION (a follower fetch); TOPIC READ per topic',
  check(az, ctx, req) {
    const replicaId = req.replicaState?.replicaId >= 0 ? req.replicaState.replicaId : req.replicaId;
    if (replicaId >= 0) {
      if (cluster(az, ctx, Op.CLUSTER_ACTION)) return undefined;
      return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, sessionId: 0, responses: [] } };
    }
    if (allTopicsAllowed(az, ctx, Op.READ, req.topics, nameOrId)) return undefined;
    const parts = split(
      req.topics as Req[],
      (t) => nameOrId(t, ctx),
      (n) => allowed(az, ctx, Op.READ, Res.TOPIC, n),
    );
    if (!parts) return undefined;
    // Nothing authorized: answered at once, as Kafka does, not after max_wait_ms.
    const request = { ...req, topics: parts[0], ...(parts[0].length === 0 ? { maxWaitMs: 0 } : {}) };
    return {
      request,
      after: (res) => {
        res.responses.push(
          ...parts[1].map((t) => ({
            topic: t.topic,
            topicId: t.topicId,
            partitions: t.partitions.map((p: Req) => ({
              partitionIndex: p.partition,
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
              highWatermark: -1,
              lastStableOffset: -1,
              logStartOffset: -1,
              abortedTransactions: ctx.apiVersion >= 4 ? [] : null,
              records: null,
            })),
          })),
        );
        return res;
      },
    };
  },
};

const metadata: AuthorizationRule = {
  checks:
    'TOPIC DESCRIBE per topic (unauthorized topics left out of an all-topics answer, TOPIC_AUTHORIZATION_FAILED when named); CLUSTER or TOPIC CREATE for auto-creation',
  check(az, ctx, req) {
    const all = req.topics === null || (ctx.apiVersion === 0 && req.topics.length === 0);
    const s = ctx.services;
    let refused: string[] = [];
    let request = req;
    if (!all) {
      const named = (req.topics as Req[]).filter((t) => t.name !== null);
      const parts = split(named, topicName, (n) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, n));
      let kept = parts ? parts[0] : named;
      if (parts) refused = parts[1].map(topicName);
      if (req.allowAutoTopicCreation && s.config.autoCreateTopicsEnable && !cluster(az, ctx, Op.CREATE)) {
        const create = split(kept, topicName, (n) => s.topics.byName(n) !== undefined || allowed(az, ctx, Op.CREATE, Res.TOPIC, n));
        if (create) {
          kept = create[0];
          refused = refused.concat(create[1].map(topicName));
        }
      }
      if (refused.length > 0) request = { ...req, topics: [...kept, ...(req.topics as Req[]).filter((t) => t.name === null)] };
    }
    return {
      request,
      after: (res) => {
        const topics: Req[] = [];
        for (const t of res.topics) {
          if (t.name === null || t.errorCode !== ErrorCode.NONE || allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, t.name)) {
            if (t.name !== null && t.topicAuthorizedOperations !== unsetAuthorizedOperations && t.errorCode === ErrorCode.NONE)
              t.topicAuthorizedOperations = ops(az, ctx, Res.TOPIC, t.name);
            topics.push(t);
          } else if (!all)
            topics.push({
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
              name: null,
              topicId: t.topicId,
              isInternal: false,
              partitions: [],
            });
        }
        for (const name of refused)
          topics.push({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, isInternal: false, partitions: [] });
        res.topics = topics;
        if (res.clusterAuthorizedOperations !== undefined && res.clusterAuthorizedOperations !== unsetAuthorizedOperations)
          res.clusterAuthorizedOperations = ops(az, ctx, Res.CLUSTER, CLUSTER_NAME);
        return res;
      },
    };
  },
};

const offsetCommit: AuthorizationRule = {
  checks: 'GROUP READ; TOPIC READ per topic',
  check(az, ctx, req) {
    const refused = (t: Req, code: number) => ({
      name: t.name,
      partitions: t.partitions.map((p: Req) => ({ partitionIndex: p.partitionIndex, errorCode: code })),
    });
    if (!allowed(az, ctx, Op.READ, Res.GROUP, req.groupId))
      return { respond: { throttleTimeMs: 0, topics: req.topics.map((t: Req) => refused(t, ErrorCode.GROUP_AUTHORIZATION_FAILED)) } };
    return perTopic(
      Op.READ,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      refused,
      (res) => res.topics,
    )(az, ctx, req);
  },
};

const txnOffsetCommit: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID WRITE; GROUP READ; TOPIC READ per topic',
  check(az, ctx, req) {
    const refused = (t: Req, code: number) => ({
      name: t.name,
      partitions: t.partitions.map((p: Req) => ({ partitionIndex: p.partitionIndex, errorCode: code })),
    });
    const all = (code: number) => ({ respond: { throttleTimeMs: 0, topics: req.topics.map((t: Req) => refused(t, code)) } });
    if (!allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId)) return all(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (!allowed(az, ctx, Op.READ, Res.GROUP, req.groupId)) return all(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    return perTopic(
      Op.READ,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      refused,
      (res) => res.topics,
    )(az, ctx, req);
  },
};

/** OffsetFetch of one group (v0-7's top-level fields, or one of v8+'s groups): its refusal, or its narrowed topics. */
function offsetFetchGroup(az: Authorizer, ctx: RequestContext, groupId: string, topics: Req[] | null) {
  if (!allowed(az, ctx, Op.DESCRIBE, Res.GROUP, groupId)) return { refused: true as const };
  if (topics === null) return { refused: false as const, topics, denied: [] as Req[] };
  const parts = split(topics, topicName, (n) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, n));
  return { refused: false as const, topics: parts ? parts[0] : topics, denied: parts ? parts[1] : [] };
}

const deniedOffsets = (t: Req) => ({
  name: t.name,
  partitions: t.partitionIndexes.map((p: number) => ({
    partitionIndex: p,
    committedOffset: -1,
    committedLeaderEpoch: -1,
    metadata: '',
    errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  })),
});

const offsetFetch: AuthorizationRule = {
  checks: 'GROUP DESCRIBE per group; TOPIC DESCRIBE per topic (left out of an all-topics answer)',
  check(az, ctx, req) {
    const visible = (topics: Req[]) => topics.filter((t) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, t.name));
    if (ctx.apiVersion < 8) {
      const g = offsetFetchGroup(az, ctx, req.groupId, req.topics);
      if (g.refused) return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] } };
      return {
        request: g.denied.length > 0 ? { ...req, topics: g.topics } : req,
        after: (res) => {
          res.topics = req.topics === null ? visible(res.topics) : [...res.topics, ...g.denied.map(deniedOffsets)];
          return res;
        },
      };
    }
    const decided = (req.groups as Req[]).map((gr) => ({ gr, d: offsetFetchGroup(az, ctx, gr.groupId, gr.topics) }));
    const kept = decided.filter((x) => !x.d.refused).map((x) => (x.d.refused ? x.gr : { ...x.gr, topics: x.d.topics }));
    return {
      request: { ...req, groups: kept },
      after: (res) => {
        const groups: Req[] = [];
        for (const { gr, d } of decided) {
          if (d.refused) {
            groups.push({ groupId: gr.groupId, topics: [], errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
            continue;
          }
          const r = res.groups.find((x: Req) => x.groupId === gr.groupId);
          if (!r) continue;
          r.topics = gr.topics === null ? visible(r.topics) : [...r.topics, ...d.denied.map(deniedOffsets)];
          groups.push(r);
        }
        res.groups = groups;
        return res;
      },
    };
  },
};

const findCoordinator: AuthorizationRule = {
  checks: 'GROUP DESCRIBE (group coordinator) or TRANSACTIONAL_ID DESCRIBE (transaction coordinator) per key',
  check(az, ctx, req) {
    const type = req.keyType === 1 ? Res.TRANSACTIONAL_ID : Res.GROUP;
    const code = req.keyType === 1 ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED : ErrorCode.GROUP_AUTHORIZATION_FAILED;
    if (req.keyType !== 0 && req.keyType !== 1) return undefined; // the handler answers INVALID_REQUEST
    if (ctx.apiVersion < 4) {
      if (allowed(az, ctx, Op.DESCRIBE, type, req.key)) return undefined;
      return { respond: { throttleTimeMs: 0, errorCode: code, errorMessage: null, nodeId: -1, host: '', port: -1 } };
    }
    const parts = split(
      req.coordinatorKeys as string[],
      (k) => k,
      (k) => allowed(az, ctx, Op.DESCRIBE, type, k),
    );
    if (!parts) return undefined;
    return {
      request: { ...req, coordinatorKeys: parts[0] },
      after: (res) => {
        // Kafka answers the refused keys first, with an empty message.
        res.coordinators = [
          ...parts[1].map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode: code, errorMessage: '' })),
          ...res.coordinators,
        ];
        return res;
      },
    };
  },
};

const describeGroups: AuthorizationRule = {
  checks: 'GROUP DESCRIBE per group',
  check(az, ctx, req) {
    const parts = split(
      req.groups as string[],
      (g) => g,
      (g) => allowed(az, ctx, Op.DESCRIBE, Res.GROUP, g),
    );
    return {
      request: parts ? { ...req, groups: parts[0] } : req,
      after: (res) => {
        for (const g of res.groups)
          if (
            g.authorizedOperations !== undefined &&
            g.authorizedOperations !== unsetAuthorizedOperations &&
            g.errorCode === ErrorCode.NONE
          )
            g.authorizedOperations = ops(az, ctx, Res.GROUP, g.groupId);
        if (parts)
          // Kafka answers the refused groups first.
          res.groups.unshift(
            ...parts[1].map((groupId) => ({
              errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
              groupId,
              groupState: '',
              protocolType: '',
              protocolData: '',
              members: [],
            })),
          );
        return res;
      },
    };
  },
};

const consumerGroupDescribe: AuthorizationRule = {
  checks: 'GROUP DESCRIBE per group',
  check(az, ctx, req) {
    const parts = split(
      req.groupIds as string[],
      (g) => g,
      (g) => allowed(az, ctx, Op.DESCRIBE, Res.GROUP, g),
    );
    return {
      request: parts ? { ...req, groupIds: parts[0] } : req,
      after: (res) => {
        for (const g of res.groups)
          if (g.authorizedOperations !== unsetAuthorizedOperations && g.errorCode === ErrorCode.NONE)
            g.authorizedOperations = ops(az, ctx, Res.GROUP, g.groupId);
        if (parts)
          res.groups.push(
            ...parts[1].map((groupId) => ({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: null, groupId, members: [] })),
          );
        return res;
      },
    };
  },
};

const initProducerId: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID WRITE (transactional); otherwise CLUSTER IDEMPOTENT_WRITE or WRITE on some TOPIC',
  check(az, ctx, req) {
    const refuse = (code: number) => ({ respond: { throttleTimeMs: 0, errorCode: code, producerId: -1, producerEpoch: -1 } });
    if (req.transactionalId !== null)
      return allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId)
        ? undefined
        : refuse(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (cluster(az, ctx, Op.IDEMPOTENT_WRITE) || az.authorizeByResourceType(ctx.principal, ctx.clientAddress, Op.WRITE, Res.TOPIC))
      return undefined;
    return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  },
};

const addPartitionsToTxn: AuthorizationRule = {
  checks: 'v0-3: TRANSACTIONAL_ID WRITE and TOPIC WRITE per topic; v4+ (brokers verifying): CLUSTER CLUSTER_ACTION',
  check(az, ctx, req) {
    if (ctx.apiVersion >= 4) {
      if (cluster(az, ctx, Op.CLUSTER_ACTION)) return undefined;
      return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resultsByTransaction: [] } };
    }
    const results = (code: (t: string) => number) =>
      (req.v3AndBelowTopics as Req[]).map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((p: number) => ({ partitionIndex: p, partitionErrorCode: code(t.name) })),
      }));
    if (!allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.v3AndBelowTransactionalId))
      return { respond: { throttleTimeMs: 0, resultsByTopicV3AndBelow: results(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) } };
    const parts = split(req.v3AndBelowTopics as Req[], topicName, (n) => allowed(az, ctx, Op.WRITE, Res.TOPIC, n));
    if (!parts) return undefined;
    // As Kafka: nothing is added when any topic is refused; the others are OPERATION_NOT_ATTEMPTED.
    const denied = new Set(parts[1].map(topicName));
    return {
      respond: {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: results((t) =>
          denied.has(t) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED,
        ),
      },
    };
  },
};

const addOffsetsToTxn: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID WRITE; GROUP READ',
  check(az, ctx, req) {
    if (!allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId))
      return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED } };
    if (!allowed(az, ctx, Op.READ, Res.GROUP, req.groupId))
      return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED } };
    return undefined;
  },
};

const createTopics: AuthorizationRule = {
  checks: 'CLUSTER CREATE, or TOPIC CREATE per topic; TOPIC DESCRIBE_CONFIGS to be answered the configs',
  check(az, ctx, req) {
    const parts = cluster(az, ctx, Op.CREATE)
      ? undefined
      : split(req.topics as Req[], topicName, (n) => allowed(az, ctx, Op.CREATE, Res.TOPIC, n));
    return {
      request: parts ? { ...req, topics: parts[0] } : req,
      after: (res) => {
        for (const t of res.topics) {
          if (t.errorCode === ErrorCode.NONE && ctx.apiVersion >= 5 && !allowed(az, ctx, Op.DESCRIBE_CONFIGS, Res.TOPIC, t.name)) {
            t.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
            t.configs = [];
          }
        }
        if (parts)
          res.topics.push(
            ...parts[1].map((t) => ({
              name: t.name,
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
              errorMessage: null,
              numPartitions: -1,
              replicationFactor: -1,
              configs: [],
            })),
          );
        return res;
      },
    };
  },
};

const deleteTopics: AuthorizationRule = {
  checks: 'TOPIC DELETE per topic',
  check(az, ctx, req) {
    const ok = (n: string) => allowed(az, ctx, Op.DELETE, Res.TOPIC, n);
    if (ctx.apiVersion < 6) {
      const parts = split(req.topicNames as string[], (n) => n, ok);
      if (!parts) return undefined;
      return {
        request: { ...req, topicNames: parts[0] },
        after: (res) => {
          res.responses.push(...parts[1].map((name) => ({ name, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null })));
          return res;
        },
      };
    }
    const parts = split(req.topics as Req[], (t) => nameOrId(t, ctx), ok);
    if (!parts) return undefined;
    return {
      request: { ...req, topics: parts[0] },
      after: (res) => {
        res.responses.push(
          ...parts[1].map((t) => ({
            name: t.name,
            topicId: t.topicId,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            errorMessage: null,
          })),
        );
        return res;
      },
    };
  },
};

/** Config resources (DescribeConfigs, AlterConfigs, IncrementalAlterConfigs): TOPIC 2, BROKER 4, BROKER_LOGGER 8, GROUP 16. */
function configRule(op: number, listName: 'resources', responseName: 'results' | 'responses', checks: string): AuthorizationRule {
  const decide = (az: Authorizer, ctx: RequestContext, r: Req): number => {
    if (r.resourceType === 2) return allowed(az, ctx, op, Res.TOPIC, r.resourceName) ? 0 : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    if (r.resourceType === 4 || r.resourceType === 8) return cluster(az, ctx, op) ? 0 : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    if (r.resourceType === 16) return allowed(az, ctx, op, Res.GROUP, r.resourceName) ? 0 : ErrorCode.GROUP_AUTHORIZATION_FAILED;
    return 0;
  };
  return {
    checks,
    check(az, ctx, req) {
      const codes = new Map<Req, number>();
      const parts = split(
        req[listName] as Req[],
        (r) => r,
        (r: Req) => {
          const code = decide(az, ctx, r);
          if (code !== 0) codes.set(r, code);
          return code === 0;
        },
      );
      if (!parts) return undefined;
      return {
        request: { ...req, [listName]: parts[0] },
        after: (res) => {
          res[responseName].push(
            ...parts[1].map((r) => ({
              errorCode: codes.get(r),
              // Kafka sends the code's default message here.
              errorMessage: errorInfoForCode(codes.get(r)!)?.message ?? null,
              resourceType: r.resourceType,
              resourceName: r.resourceName,
              configs: [],
            })),
          );
          return res;
        },
      };
    },
  };
}

const listGroups: AuthorizationRule = {
  checks: 'CLUSTER DESCRIBE for every group, else only the groups with GROUP DESCRIBE',
  check(az, ctx, req) {
    if (cluster(az, ctx, Op.DESCRIBE)) return undefined;
    return {
      request: req,
      after: (res) => {
        res.groups = res.groups.filter((g: Req) => allowed(az, ctx, Op.DESCRIBE, Res.GROUP, g.groupId));
        return res;
      },
    };
  },
};

const listTransactions: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID DESCRIBE per transaction listed (others left out)',
  check: (az, ctx, req) => ({
    request: req,
    after: (res) => {
      res.transactionStates = res.transactionStates.filter((t: Req) =>
        allowed(az, ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, t.transactionalId),
      );
      return res;
    },
  }),
};

const describeTransactions: AuthorizationRule = {
  checks: 'TRANSACTIONAL_ID DESCRIBE per transactional id; TOPIC DESCRIBE per topic of its transaction',
  check(az, ctx, req) {
    const parts = split(
      req.transactionalIds as string[],
      (t) => t,
      (t) => allowed(az, ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, t),
    );
    return {
      request: parts ? { ...req, transactionalIds: parts[0] } : req,
      after: (res) => {
        for (const st of res.transactionStates) st.topics = st.topics.filter((t: Req) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, t.topic));
        if (parts)
          res.transactionStates.push(
            ...parts[1].map((transactionalId) => ({
              errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
              transactionalId,
              transactionState: '',
              transactionTimeoutMs: 0,
              transactionStartTimeMs: -1,
              producerId: -1,
              producerEpoch: -1,
              topics: [],
            })),
          );
        return res;
      },
    };
  },
};

const describeTopicPartitions: AuthorizationRule = {
  checks: 'TOPIC DESCRIBE per topic (left out of an all-topics answer)',
  check(az, ctx, req) {
    const named = req.topics.length > 0;
    const parts = named ? split(req.topics as Req[], topicName, (n) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, n)) : undefined;
    return {
      request: parts ? { ...req, topics: parts[0] } : req,
      after: (res) => {
        res.topics = res.topics.filter((t: Req) => named || allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, t.name));
        for (const t of res.topics)
          if (t.errorCode === ErrorCode.NONE && t.topicAuthorizedOperations !== unsetAuthorizedOperations)
            t.topicAuthorizedOperations = ops(az, ctx, Res.TOPIC, t.name);
        if (parts)
          res.topics.push(
            ...parts[1].map((t) => ({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name: t.name, isInternal: false, partitions: [] })),
          );
        return res;
      },
    };
  },
};

const describeCluster: AuthorizationRule = {
  checks: 'nothing (its cluster authorized operations are the principal’s)',
  check: (az, ctx, req) =>
    req.includeClusterAuthorizedOperations
      ? {
          request: req,
          after: (res) => {
            res.clusterAuthorizedOperations = ops(az, ctx, Res.CLUSTER, CLUSTER_NAME);
            return res;
          },
        }
      : undefined,
};

const consumerGroupHeartbeat: AuthorizationRule = {
  checks: 'GROUP READ; TOPIC DESCRIBE per subscribed topic name',
  check(az, ctx, req) {
    const refuse = (code: number) => ({
      respond: {
        throttleTimeMs: 0,
        errorCode: code,
        errorMessage: null,
        memberId: null,
        memberEpoch: -1,
        heartbeatIntervalMs: 0,
        assignment: null,
      },
    });
    if (!allowed(az, ctx, Op.READ, Res.GROUP, req.groupId)) return refuse(ErrorCode.GROUP_AUTHORIZATION_FAILED);
    if (
      req.subscribedTopicNames !== null &&
      split(
        req.subscribedTopicNames as string[],
        (n) => n,
        (n) => allowed(az, ctx, Op.DESCRIBE, Res.TOPIC, n),
      )
    )
      return refuse(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    return undefined;
  },
};

const partitionsError = (t: Req, code: number, indexes: number[], extra: Record<string, unknown> = {}) => ({
  name: t.name,
  partitions: indexes.map((partitionIndex) => ({ partitionIndex, errorCode: code, ...extra })),
});

const none: AuthorizationRule = { checks: 'nothing' };

/**
 * Rules for APIs that authentication (broker/security, to come) serves: SASL needs nothing (it happens before a
 * principal exists); the SCRAM credential APIs need CLUSTER DESCRIBE / ALTER, as in Kafka. Declared here so the
 * table is complete when their handlers land.
 */
const authenticationRules: Readonly<Record<number, AuthorizationRule>> = {
  [ApiKey.SaslHandshake]: none,
  [ApiKey.SaslAuthenticate]: none,
  [ApiKey.DescribeUserScramCredentials]: clusterRule(
    Op.DESCRIBE,
    (req, code) => ({
      throttleTimeMs: 0,
      errorCode: code,
      errorMessage: null,
      results: (req.users ?? []).map((u: Req) => ({ user: u.name, errorCode: code, errorMessage: null, credentialInfos: [] })),
    }),
    'CLUSTER DESCRIBE',
  ),
  [ApiKey.AlterUserScramCredentials]: clusterRule(
    Op.ALTER,
    (req, code) => ({
      throttleTimeMs: 0,
      results: [...new Set([...req.deletions, ...req.upsertions].map((c: Req) => c.name as string))].map((user) => ({
        user,
        errorCode: code,
        errorMessage: null,
      })),
    }),
    'CLUSTER ALTER',
  ),
};

/** APIs with a rule whose handler is not served yet (authentication's). */
export const AUTHORIZATION_PENDING: ReadonlySet<number> = new Set(Object.keys(authenticationRules).map(Number));

/** The table, by API key: every API the handler table serves has a rule (a test checks it). */
export const AUTHORIZATION: Readonly<Record<number, AuthorizationRule>> = {
  ...authenticationRules,
  [ApiKey.Produce]: produce,
  [ApiKey.Fetch]: fetch,
  [ApiKey.ListOffsets]: {
    checks: 'TOPIC DESCRIBE per topic',
    check: perTopic(
      Op.DESCRIBE,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      (t, code) => ({
        name: t.name,
        partitions: t.partitions.map((p: Req) => ({
          partitionIndex: p.partitionIndex,
          errorCode: code,
          timestamp: -1,
          offset: -1,
          leaderEpoch: -1,
        })),
      }),
      (res) => res.topics,
    ),
  },
  [ApiKey.Metadata]: metadata,
  [ApiKey.OffsetCommit]: offsetCommit,
  [ApiKey.OffsetFetch]: offsetFetch,
  [ApiKey.FindCoordinator]: findCoordinator,
  [ApiKey.JoinGroup]: groupRule(
    Op.READ,
    (req, code, v) => ({
      throttleTimeMs: 0,
      errorCode: code,
      generationId: -1,
      protocolName: v >= 7 ? null : '',
      leader: '',
      memberId: req.memberId,
      members: [],
    }),
    'GROUP READ',
  ),
  [ApiKey.Heartbeat]: groupRule(Op.READ, (_req, code) => ({ throttleTimeMs: 0, errorCode: code }), 'GROUP READ'),
  [ApiKey.LeaveGroup]: groupRule(Op.READ, (_req, code) => ({ throttleTimeMs: 0, errorCode: code, members: [] }), 'GROUP READ'),
  [ApiKey.SyncGroup]: groupRule(
    Op.READ,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, protocolType: null, protocolName: null, assignment: emptyBuffer }),
    'GROUP READ',
  ),
  [ApiKey.DescribeGroups]: describeGroups,
  [ApiKey.ListGroups]: listGroups,
  [ApiKey.ApiVersions]: none,
  [ApiKey.CreateTopics]: createTopics,
  [ApiKey.DeleteTopics]: deleteTopics,
  [ApiKey.DeleteRecords]: {
    checks: 'TOPIC DELETE per topic',
    check: perTopic(
      Op.DELETE,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      (t, code) =>
        partitionsError(
          t,
          code,
          t.partitions.map((p: Req) => p.partitionIndex),
          { lowWatermark: -1 },
        ),
      (res) => res.topics,
    ),
  },
  [ApiKey.InitProducerId]: initProducerId,
  [ApiKey.OffsetForLeaderEpoch]: {
    checks: 'TOPIC DESCRIBE per topic; CLUSTER CLUSTER_ACTION for a follower',
    check(az, ctx, req) {
      if (req.replicaId >= 0 && !cluster(az, ctx, Op.CLUSTER_ACTION))
        return {
          respond: {
            throttleTimeMs: 0,
            topics: req.topics.map((t: Req) => ({
              topic: t.topic,
              partitions: t.partitions.map((p: Req) => ({
                partition: p.partition,
                errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
                leaderEpoch: -1,
                endOffset: -1,
              })),
            })),
          },
        };
      return perTopic(
        Op.DESCRIBE,
        (r) => r.topics,
        (r, kept) => ({ ...r, topics: kept }),
        (t) => t.topic,
        (t, code) => ({
          topic: t.topic,
          partitions: t.partitions.map((p: Req) => ({ partition: p.partition, errorCode: code, leaderEpoch: -1, endOffset: -1 })),
        }),
        (res) => res.topics,
      )(az, ctx, req);
    },
  },
  [ApiKey.AddPartitionsToTxn]: addPartitionsToTxn,
  [ApiKey.AddOffsetsToTxn]: addOffsetsToTxn,
  [ApiKey.EndTxn]: {
    checks: 'TRANSACTIONAL_ID WRITE',
    check: (az, ctx, req) =>
      allowed(az, ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId)
        ? undefined
        : { respond: { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1, producerEpoch: -1 } },
  },
  [ApiKey.WriteTxnMarkers]: clusterRule(
    Op.CLUSTER_ACTION,
    (req, code) => ({
      markers: req.markers.map((m: Req) => ({
        producerId: m.producerId,
        topics: m.topics.map((t: Req) => partitionsError(t, code, t.partitionIndexes)),
      })),
    }),
    'CLUSTER CLUSTER_ACTION',
  ),
  [ApiKey.TxnOffsetCommit]: txnOffsetCommit,
  [ApiKey.DescribeAcls]: clusterRule(
    Op.DESCRIBE,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, errorMessage: null, resources: [] }),
    'CLUSTER DESCRIBE',
  ),
  [ApiKey.CreateAcls]: clusterRule(
    Op.ALTER,
    (req, code) => ({ throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: code, errorMessage: null })) }),
    'CLUSTER ALTER',
  ),
  [ApiKey.DeleteAcls]: clusterRule(
    Op.ALTER,
    (req, code) => ({
      throttleTimeMs: 0,
      filterResults: req.filters.map(() => ({ errorCode: code, errorMessage: null, matchingAcls: [] })),
    }),
    'CLUSTER ALTER',
  ),
  [ApiKey.DescribeConfigs]: configRule(
    Op.DESCRIBE_CONFIGS,
    'resources',
    'results',
    'DESCRIBE_CONFIGS per resource: TOPIC, CLUSTER (broker, broker logger), GROUP',
  ),
  [ApiKey.AlterConfigs]: configRule(
    Op.ALTER_CONFIGS,
    'resources',
    'responses',
    'ALTER_CONFIGS per resource: TOPIC, CLUSTER (broker, broker logger), GROUP',
  ),
  [ApiKey.IncrementalAlterConfigs]: configRule(
    Op.ALTER_CONFIGS,
    'resources',
    'responses',
    'ALTER_CONFIGS per resource: TOPIC, CLUSTER (broker, broker logger), GROUP',
  ),
  [ApiKey.DescribeLogDirs]: clusterRule(
    Op.DESCRIBE,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, results: [] }),
    'CLUSTER DESCRIBE',
  ),
  [ApiKey.CreatePartitions]: {
    checks: 'TOPIC ALTER per topic',
    check: perTopic(
      Op.ALTER,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      (t, code) => ({ name: t.name, errorCode: code, errorMessage: null }),
      (res) => res.results,
    ),
  },
  [ApiKey.DeleteGroups]: {
    checks: 'GROUP DELETE per group',
    check(az, ctx, req) {
      const parts = split(
        req.groupsNames as string[],
        (g) => g,
        (g) => allowed(az, ctx, Op.DELETE, Res.GROUP, g),
      );
      if (!parts) return undefined;
      return {
        request: { ...req, groupsNames: parts[0] },
        after: (res) => {
          res.results.push(...parts[1].map((groupId) => ({ groupId, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED })));
          return res;
        },
      };
    },
  },
  [ApiKey.ElectLeaders]: clusterRule(
    Op.ALTER,
    (req, code, v) => ({
      throttleTimeMs: 0,
      ...(v >= 1 ? { errorCode: code } : {}),
      replicaElectionResults: (req.topicPartitions ?? []).map((t: Req) => ({
        topic: t.topic,
        partitionResult: t.partitions.map((partitionId: number) => ({ partitionId, errorCode: code, errorMessage: null })),
      })),
    }),
    'CLUSTER ALTER',
  ),
  [ApiKey.AlterPartitionReassignments]: clusterRule(
    Op.ALTER,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, errorMessage: null, responses: [] }),
    'CLUSTER ALTER',
  ),
  [ApiKey.ListPartitionReassignments]: clusterRule(
    Op.DESCRIBE,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, errorMessage: null, topics: [] }),
    'CLUSTER DESCRIBE',
  ),
  [ApiKey.OffsetDelete]: {
    checks: 'GROUP DELETE; TOPIC READ per topic',
    check(az, ctx, req) {
      if (!allowed(az, ctx, Op.DELETE, Res.GROUP, req.groupId))
        return { respond: { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: [] } };
      return perTopic(
        Op.READ,
        (r) => r.topics,
        (r, kept) => ({ ...r, topics: kept }),
        topicName,
        (t, code) =>
          partitionsError(
            t,
            code,
            t.partitions.map((p: Req) => p.partitionIndex),
          ),
        (res) => res.topics,
      )(az, ctx, req);
    },
  },
  [ApiKey.DescribeCluster]: describeCluster,
  [ApiKey.DescribeProducers]: {
    checks: 'TOPIC READ per topic',
    check: perTopic(
      Op.READ,
      (r) => r.topics,
      (r, kept) => ({ ...r, topics: kept }),
      topicName,
      (t, code) => partitionsError(t, code, t.partitionIndexes, { errorMessage: null, activeProducers: [] }),
      (res) => res.topics,
    ),
  },
  [ApiKey.DescribeTransactions]: describeTransactions,
  [ApiKey.ListTransactions]: listTransactions,
  [ApiKey.ConsumerGroupHeartbeat]: consumerGroupHeartbeat,
  [ApiKey.ConsumerGroupDescribe]: consumerGroupDescribe,
  [ApiKey.DescribeTopicPartitions]: describeTopicPartitions,
  [ApiKey.DescribeClientQuotas]: clusterRule(
    Op.DESCRIBE_CONFIGS,
    (_req, code) => ({ throttleTimeMs: 0, errorCode: code, errorMessage: null, entries: null }),
    'CLUSTER DESCRIBE_CONFIGS',
  ),
  [ApiKey.AlterClientQuotas]: clusterRule(
    Op.ALTER_CONFIGS,
    (req, code) => ({
      throttleTimeMs: 0,
      entries: req.entries.map((e: Req) => ({ errorCode: code, errorMessage: null, entity: e.entity })),
    }),
    'CLUSTER ALTER_CONFIGS',
  ),
};

/** The handler with its API's rule applied before it (and its `after` on its response). */
export function authorizing<H extends { handle: (ctx: RequestContext, req: Req) => Resp }>(handler: H, rule: AuthorizationRule): H {
  const check = rule.check;
  if (check === undefined) return handler;
  const inner = handler.handle.bind(handler);
  return {
    ...handler,
    handle(ctx: RequestContext, req: Req) {
      const az = ctx.services.authorizer;
      if (az === null) return inner(ctx, req);
      const verdict = check(az, ctx, req);
      if (verdict === undefined) return inner(ctx, req);
      if ('respond' in verdict) return verdict.respond;
      const result = inner(ctx, verdict.request);
      return result instanceof Promise
        ? result.then((r) => (r === null ? r : verdict.after(r)))
        : result === null
          ? result
          : verdict.after(result);
    },
  };
}
