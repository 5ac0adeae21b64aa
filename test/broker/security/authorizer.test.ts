// The authorizer's decisions (StandardAuthorizer semantics): matching, precedence, implied operations, wildcards,
// prefixes, super users and allow.everyone.if.no.acl.found; and the ACL filters of DescribeAcls/DeleteAcls.
import t from 'tap';
import { silentLogger } from '../../../broker/ops/logger.ts';
import type { AclPatternRecord } from '../../../broker/metadata/acl-store.ts';
import {
  AclOperation as Op,
  AclPermission as Perm,
  PatternType,
  ResourceType as Res,
  filterMatches,
  invalidBinding,
} from '../../../broker/security/acl.ts';
import { Authorizer, hostOf } from '../../../broker/security/authorizer.ts';
import type { KafkaPrincipal } from '../../../broker/security/principal.ts';

const alice: KafkaPrincipal = { type: 'User', name: 'alice' };
const bob: KafkaPrincipal = { type: 'User', name: 'bob' };
const client = '10.0.0.1:50000';

function acl(
  resourceType: number,
  patternType: number,
  name: string,
  principal: string,
  operation: number,
  permission: number = Perm.ALLOW,
  host = '*',
): AclPatternRecord {
  return { resourceType, patternType, name, acls: [{ principal, host, operation, permission }] };
}

function authorizer(acls: AclPatternRecord[], opts: { superUsers?: string[]; allowEveryone?: boolean } = {}): Authorizer {
  const a = new Authorizer({
    superUsers: opts.superUsers ?? [],
    allowEveryoneIfNoAclFound: opts.allowEveryone ?? false,
    logger: silentLogger(),
  });
  a.setAcls(acls);
  return a;
}

t.test('literal, wildcard and prefixed resource patterns', async (t) => {
  const a = authorizer([
    acl(Res.TOPIC, PatternType.LITERAL, 'orders', 'User:alice', Op.READ),
    acl(Res.TOPIC, PatternType.PREFIXED, 'logs-', 'User:alice', Op.WRITE),
    acl(Res.GROUP, PatternType.LITERAL, '*', 'User:alice', Op.READ),
  ]);
  t.ok(a.authorize(alice, client, Op.READ, Res.TOPIC, 'orders'));
  t.notOk(a.authorize(alice, client, Op.READ, Res.TOPIC, 'orders2'), 'a literal name is not a prefix');
  t.notOk(a.authorize(alice, client, Op.WRITE, Res.TOPIC, 'orders'), 'READ does not give WRITE');
  t.ok(a.authorize(alice, client, Op.WRITE, Res.TOPIC, 'logs-app'));
  t.ok(a.authorize(alice, client, Op.WRITE, Res.TOPIC, 'logs-'));
  t.notOk(a.authorize(alice, client, Op.WRITE, Res.TOPIC, 'logs'));
  t.ok(a.authorize(alice, client, Op.READ, Res.GROUP, 'any-group'), 'the literal * matches every name');
  t.notOk(a.authorize(alice, client, Op.READ, Res.TRANSACTIONAL_ID, 'orders'), 'resource types are distinct');
  t.notOk(a.authorize(bob, client, Op.READ, Res.TOPIC, 'orders'), 'another principal');
});

t.test('deny beats allow, whatever the pattern that carries it', async (t) => {
  const a = authorizer([
    acl(Res.TOPIC, PatternType.LITERAL, '*', 'User:*', Op.ALL),
    acl(Res.TOPIC, PatternType.PREFIXED, 'secret-', 'User:alice', Op.READ, Perm.DENY),
    acl(Res.TOPIC, PatternType.LITERAL, 'secret-x', 'User:alice', Op.READ),
  ]);
  t.notOk(a.authorize(alice, client, Op.READ, Res.TOPIC, 'secret-x'));
  t.ok(a.authorize(alice, client, Op.WRITE, Res.TOPIC, 'secret-x'), 'the DENY is for READ only');
  t.ok(a.authorize(alice, client, Op.DESCRIBE, Res.TOPIC, 'secret-x'), 'a DENY implies nothing');
  t.ok(a.authorize(bob, client, Op.READ, Res.TOPIC, 'secret-x'), 'User:* matches bob; the DENY is alice’s');
});

t.test('implied operations and ALL', async (t) => {
  for (const op of [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER]) {
    const a = authorizer([acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', op)]);
    t.ok(a.authorize(alice, client, Op.DESCRIBE, Res.TOPIC, 't'), `DESCRIBE implied by ${op}`);
    t.notOk(a.authorize(alice, client, Op.CREATE, Res.TOPIC, 't'));
  }
  const c = authorizer([acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', Op.ALTER_CONFIGS)]);
  t.ok(c.authorize(alice, client, Op.DESCRIBE_CONFIGS, Res.TOPIC, 't'));
  t.notOk(c.authorize(alice, client, Op.DESCRIBE, Res.TOPIC, 't'));
  const all = authorizer([acl(Res.CLUSTER, PatternType.LITERAL, 'kafka-cluster', 'User:alice', Op.ALL)]);
  for (const op of [Op.CREATE, Op.ALTER, Op.CLUSTER_ACTION, Op.IDEMPOTENT_WRITE])
    t.ok(all.authorize(alice, client, op, Res.CLUSTER, 'kafka-cluster'));
  const denyAll = authorizer([
    acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', Op.READ),
    acl(Res.TOPIC, PatternType.PREFIXED, 't', 'User:alice', Op.ALL, Perm.DENY),
  ]);
  t.notOk(denyAll.authorize(alice, client, Op.READ, Res.TOPIC, 't'), 'DENY ALL denies READ');
});

t.test('hosts', async (t) => {
  const a = authorizer([acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', Op.READ, Perm.ALLOW, '10.0.0.1')]);
  t.ok(a.authorize(alice, '10.0.0.1:1234', Op.READ, Res.TOPIC, 't'));
  t.ok(a.authorize(alice, '::ffff:10.0.0.1:1234', Op.READ, Res.TOPIC, 't'), 'an IPv4-mapped address is its IPv4 host');
  t.notOk(a.authorize(alice, '10.0.0.2:1234', Op.READ, Res.TOPIC, 't'));
  t.equal(hostOf('[::1]:9092'), '::1');
  t.equal(hostOf('::1:9092'), '::1');
});

t.test('super users and allow.everyone.if.no.acl.found', async (t) => {
  const deny = acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:*', Op.ALL, Perm.DENY);
  const a = authorizer([deny], { superUsers: ['User:alice'] });
  t.ok(a.authorize(alice, client, Op.READ, Res.TOPIC, 't'), 'super users bypass even a DENY');
  t.notOk(a.authorize(bob, client, Op.READ, Res.TOPIC, 't'));
  t.notOk(a.authorize(bob, client, Op.READ, Res.TOPIC, 'no-acl'), 'no ACL: denied by default');
  const open = authorizer([acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', Op.READ)], { allowEveryone: true });
  t.ok(open.authorize(bob, client, Op.WRITE, Res.TOPIC, 'no-acl'), 'no ACL on the resource: allowed everyone');
  t.notOk(open.authorize(bob, client, Op.READ, Res.TOPIC, 't'), 'an ACL exists on t (for alice): bob is not allowed');
});

t.test('cached decisions follow ACL changes; counted', async (t) => {
  const a = authorizer([]);
  t.notOk(a.authorize(alice, client, Op.READ, Res.TOPIC, 't'));
  a.setAcls([acl(Res.TOPIC, PatternType.LITERAL, 't', 'User:alice', Op.READ)]);
  t.ok(a.authorize(alice, client, Op.READ, Res.TOPIC, 't'));
  t.ok(a.authorize(alice, client, Op.READ, Res.TOPIC, 't'));
  t.equal(a.allowed, 2);
  t.equal(a.denied, 1);
});

t.test('authorized operations and authorization by resource type', async (t) => {
  const a = authorizer([
    acl(Res.TOPIC, PatternType.PREFIXED, 'app-', 'User:alice', Op.WRITE),
    acl(Res.TOPIC, PatternType.LITERAL, 'app-frozen', 'User:alice', Op.WRITE, Perm.DENY),
  ]);
  t.equal(a.authorizedOperations(alice, client, Res.TOPIC, 'app-x'), (1 << Op.WRITE) | (1 << Op.DESCRIBE));
  t.equal(a.authorizedOperations(alice, client, Res.TOPIC, 'app-frozen'), 1 << Op.DESCRIBE);
  t.ok(a.authorizeByResourceType(alice, client, Op.WRITE, Res.TOPIC), 'WRITE on the app- prefix');
  t.notOk(a.authorizeByResourceType(bob, client, Op.WRITE, Res.TOPIC));
  const denied = authorizer([
    acl(Res.TOPIC, PatternType.PREFIXED, 'app-', 'User:alice', Op.WRITE),
    acl(Res.TOPIC, PatternType.LITERAL, '*', 'User:alice', Op.WRITE, Perm.DENY),
  ]);
  t.notOk(denied.authorizeByResourceType(alice, client, Op.WRITE, Res.TOPIC), 'a DENY on * covers every grant');
});

t.test('filters: ANY, MATCH and exact patterns', async (t) => {
  const b = (patternType: number, resourceName: string) => ({
    resourceType: Res.TOPIC,
    resourceName,
    patternType,
    principal: 'User:alice',
    host: '*',
    operation: Op.READ,
    permission: Perm.ALLOW,
  });
  const f = (patternType: number, resourceName: string | null) => ({
    resourceType: Res.ANY,
    resourceName,
    patternType,
    principal: null,
    host: null,
    operation: Op.ANY,
    permission: Perm.ANY,
  });
  t.ok(filterMatches(f(PatternType.MATCH, 'logs-app'), b(PatternType.PREFIXED, 'logs-')));
  t.ok(filterMatches(f(PatternType.MATCH, 'logs-app'), b(PatternType.LITERAL, '*')));
  t.ok(filterMatches(f(PatternType.MATCH, 'logs-app'), b(PatternType.LITERAL, 'logs-app')));
  t.notOk(filterMatches(f(PatternType.MATCH, 'logs-app'), b(PatternType.LITERAL, 'logs-')));
  t.ok(filterMatches(f(PatternType.ANY, 'logs-'), b(PatternType.PREFIXED, 'logs-')));
  t.notOk(filterMatches(f(PatternType.LITERAL, 'logs-'), b(PatternType.PREFIXED, 'logs-')));
  t.ok(filterMatches(f(PatternType.ANY, null), b(PatternType.PREFIXED, 'x')));
  t.notOk(filterMatches({ ...f(PatternType.ANY, null), principal: 'User:bob' }, b(PatternType.LITERAL, 'x')));
});

t.test('binding validation', async (t) => {
  const ok = {
    resourceType: Res.TOPIC,
    resourceName: 't',
    patternType: PatternType.LITERAL,
    principal: 'User:alice',
    host: '*',
    operation: Op.READ,
    permission: Perm.ALLOW,
  };
  t.equal(invalidBinding(ok), null);
  t.ok(invalidBinding({ ...ok, resourceType: Res.ANY }));
  t.ok(invalidBinding({ ...ok, resourceType: 99 }));
  t.ok(invalidBinding({ ...ok, patternType: PatternType.MATCH }));
  t.ok(invalidBinding({ ...ok, operation: Op.ANY }));
  t.ok(invalidBinding({ ...ok, permission: Perm.ANY }));
  t.ok(invalidBinding({ ...ok, principal: 'alice' }));
  t.ok(invalidBinding({ ...ok, resourceType: Res.CLUSTER, resourceName: 'other' }));
  t.equal(invalidBinding({ ...ok, resourceType: Res.CLUSTER, resourceName: 'kafka-cluster' }), null);
});
