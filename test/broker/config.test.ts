import t from 'tap';
import type { Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  describeConfig,
  envName,
  formatConfig,
  loadConfig,
  SENSITIVE_CONFIG_KEYS,
  parseProperties,
  resolveConfig,
  suggestKey,
} from '../../broker/config.ts';
import type { BrokerConfig, Listener, LoadConfigOptions } from '../../broker/config.ts';
import { referencePath, renderConfigReference } from '../../tools/config-reference.ts';

/** The ConfigError loadConfig throws for `options` (fails the test when it does not throw one). */
function configError(t: Test, options: LoadConfigOptions): ConfigError {
  try {
    loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  t.fail(`expected a ConfigError for ${JSON.stringify(options)}`);
  return new ConfigError('none');
}

const plaintext = (host: string, port: number): Listener => ({ name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host, port });

t.test('defaults', async (t) => {
  const c = loadConfig({ cwd: '/srv/skafos' });
  const expected: BrokerConfig = {
    listeners: [plaintext('127.0.0.1', 9092)],
    advertisedListeners: [plaintext('127.0.0.1', 9092)],
    listenerSecurityProtocolMap: { SASL_SSL: 'SASL_SSL', PLAINTEXT: 'PLAINTEXT', SSL: 'SSL', SASL_PLAINTEXT: 'SASL_PLAINTEXT' },
    interBrokerListenerName: 'PLAINTEXT',
    saslEnabledMechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'],
    saslJaasConfig: null,
    connectionFailedAuthenticationDelayMs: 100,
    saslServerMaxReceiveSize: 524288,
    connectionsMaxReauthMs: 0,
    nodeId: 1,
    brokerRack: null,
    brokerSessionTimeoutMs: 9000,
    clusterMode: 'auto',
    dataDir: '/srv/skafos/data',
    numPartitions: 1,
    defaultReplicationFactor: 1,
    autoCreateTopicsEnable: true,
    deleteTopicEnable: true,
    logRetentionMs: 604_800_000,
    logRetentionBytes: -1,
    logRetentionCheckIntervalMs: 300_000,
    logCleanerEnable: true,
    logCleanerThreads: 1,
    logCleanerDedupeBufferSize: 128 * 1024 * 1024,
    logCleanerIoMaxBytesPerSecond: Number.MAX_SAFE_INTEGER,
    logCleanerBackoffMs: 15_000,
    logSegmentBytes: 1_073_741_824,
    messageMaxBytes: 1_048_588,
    socketRequestMaxBytes: 104_857_600,
    logMessageTimestampType: 'CreateTime',
    logMessageTimestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
    logMessageTimestampAfterMaxMs: 3_600_000,
    compressionType: 'producer',
    groupInitialRebalanceDelayMs: 3000,
    offsetsRetentionMinutes: 10080,
    offsetsRetentionCheckIntervalMs: 600_000,
    offsetMetadataMaxBytes: 4096,
    groupMinSessionTimeoutMs: 6000,
    groupMaxSessionTimeoutMs: 1_800_000,
    groupMaxSize: 1000,
    groupMaxGroups: 100_000,
    groupMaxRecordBytes: 786_432,
    groupConsumerHeartbeatIntervalMs: 5000,
    groupConsumerSessionTimeoutMs: 45_000,
    groupConsumerMinSessionTimeoutMs: 45_000,
    groupConsumerMaxSessionTimeoutMs: 60_000,
    groupConsumerMinHeartbeatIntervalMs: 5000,
    groupConsumerMaxHeartbeatIntervalMs: 15_000,
    groupConsumerMaxSize: 1000,
    groupConsumerAssignors: ['uniform', 'range'],
    groupConsumerMaxSubscribedTopics: 10_000,
    connectionsMaxIdleMs: 600_000,
    queuedMaxRequests: 500,
    producerIdExpirationMs: 86_400_000,
    producerStateMaxProducers: 1000,
    transactionPartitionVerificationEnable: true,
    transactionMaxTimeoutMs: 900_000,
    transactionalIdExpirationMs: 604_800_000,
    transactionAbortTimedOutTransactionCleanupIntervalMs: 10_000,
    transactionRemoveExpiredTransactionCleanupIntervalMs: 3_600_000,
    transactionMaxPartitions: 1000,
    transactionVersion: 2,
    clusterId: null,
    flushSizeBytes: 8_388_608,
    flushLingerMs: 0,
    flushMaxPendingBytes: 67_108_864,
    cacheSegmentBytes: 268_435_456,
    cacheIndexBytes: 67_108_864,
    readaheadBytes: 4_194_304,
    prefetchMaxInflightBytes: 67_108_864,
    connectionMaxInflightBytes: 104_857_600,
    connectionMaxInflightRequests: 100,
    fetchMaxWaitCapMs: 30_000,
    metadataStore: 'embedded',
    etcdEndpoints: [],
    etcdPrefix: '/skafos',
    etcdDialTimeoutMs: 5000,
    etcdRequestTimeoutMs: 5000,
    etcdUsername: null,
    etcdPasswordFile: null,
    etcdTlsCaFile: null,
    etcdTlsCertFile: null,
    etcdTlsKeyFile: null,
    objectStore: 'local',
    s3Bucket: null,
    s3Region: 'us-east-1',
    s3Endpoint: null,
    s3PathStyle: false,
    s3AccessKeyId: null,
    s3SecretAccessKey: null,
    s3SseKmsKeyId: null,
    s3ReadReplicas: [],
    storageHealthWindowMs: 30000,
    storageHealthMinCalls: 20,
    storageHealthDegradedErrorRate: 0.05,
    storageHealthDegradedP99Ms: null,
    storageHealthUnavailableErrorRate: 0.5,
    storageHealthUnavailableConsecutiveFailures: 10,
    storageHealthUnavailableStallMs: 15000,
    storageHealthRecoveryHoldMs: 5000,
    s3MaxConcurrentRequests: 64,
    s3MultipartThresholdBytes: 33_554_432,
    s3MultipartPartBytes: 8_388_608,
    s3ConnectTimeoutMs: 5000,
    s3RequestTimeoutMs: 30_000,
    s3RetryMaxAttempts: 6,
    s3RetryBackoffBaseMs: 100,
    s3RetryBackoffMaxMs: 5000,
    s3RetryBudgetTokens: 500,
    httpListener: { host: '127.0.0.1', port: 9644 },
    logLevel: 'info',
    retentionCheckpointIntervalMs: 10_000,
    partitionCheckpointIntervalMs: 5000,
    compactionEnable: true,
    compactionIntervalMs: 15_000,
    compactionMinAgeMs: 30_000,
    compactionMaxAgeMs: 600_000,
    segmentCommitTimeoutMs: 60_000,
    segmentTargetBytes: 16_777_216,
    authorizerClassName: '',
    superUsers: '',
    allowEveryoneIfNoAclFound: false,
    authorizerLogLevel: 'info',
    quotaWindowNum: 11,
    quotaWindowSizeSeconds: 1,
    maxConnections: 2147483647,
    maxConnectionsPerIp: 2147483647,
    maxConnectionsPerIpOverrides: '',
    sslKeystoreType: 'PEM',
    sslKeystoreLocation: null,
    sslKeyPassword: null,
    sslKeystoreCertificateChain: null,
    sslKeystoreKey: null,
    sslTruststoreType: 'PEM',
    sslTruststoreLocation: null,
    sslTruststoreCertificates: null,
    sslEnabledProtocols: ['TLSv1.2', 'TLSv1.3'],
    sslCipherSuites: [],
    sslClientAuth: 'none',
    sslPrincipalMappingRules: [{ default: true }],
    listenerSecurity: {
      PLAINTEXT: {
        ssl: {
          keystoreLocation: null,
          keyPassword: null,
          keystoreCertificateChain: null,
          keystoreKey: null,
          truststoreLocation: null,
          truststoreCertificates: null,
          enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
          cipherSuites: [],
          clientAuth: 'none',
          principalMappingRules: [{ default: true }],
        },
        reauthMs: 0,
        saslEnabledMechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'],
        plainJaas: null,
      },
    },
  };
  t.strictSame(c, expected);
  t.same(Object.keys(c).sort(), Object.keys(expected).sort(), 'no extra fields');
  t.equal(loadConfig().dataDir, join(process.cwd(), 'data'), 'cwd defaults to process.cwd()');
});

t.test('the config is deeply frozen', async (t) => {
  const c = loadConfig();
  t.ok(Object.isFrozen(c));
  t.ok(Object.isFrozen(c.listeners));
  t.ok(Object.isFrozen(c.listeners[0]));
  t.ok(Object.isFrozen(c.httpListener));
  t.throws(() => {
    (c as { nodeId: number }).nodeId = 2;
  }, TypeError);
});

t.test('describeConfig covers every field once', async (t) => {
  const rows = describeConfig();
  const fields = rows.map((r) => r.field).filter((f) => f !== null);
  t.equal(new Set(fields).size, fields.length, 'no field twice');
  const expectedFields = Object.keys(loadConfig())
    .filter((f) => f !== 'logRetentionMs' && f !== 'listenerSecurity') // derived: log.retention.*, listener.name.<l>.*
    .sort();
  t.same([...fields].sort(), expectedFields);
  t.same(
    rows.filter((r) => r.field === null).map((r) => r.key),
    ['log.retention.ms', 'log.retention.minutes', 'log.retention.hours'],
  );
  for (const row of rows) {
    t.ok(row.doc.length > 10, `${row.key} documented`);
    t.ok(row.type.length > 0, `${row.key} typed`);
    t.equal(row.env, envName(row.key));
  }
  t.equal(envName('skafos.s3.bucket'), 'SKAFOS_S3_BUCKET');
  t.equal(envName('log.segment.bytes'), 'SKAFOS_LOG_SEGMENT_BYTES');
});

t.test('docs/configuration.md is up to date', async (t) => {
  t.equal(readFileSync(referencePath, 'utf8'), renderConfigReference(), 'stale: run node tools/config-reference.ts');
  for (const row of describeConfig()) t.match(renderConfigReference(), `\`${row.key}\``);
});

t.test('properties format', async (t) => {
  const text = [
    '\uFEFF# comment',
    '   ! another comment',
    '',
    '   ',
    'a=1',
    'b = 2   ',
    'c:3',
    'd  4',
    'e\t=\tfive and more words\t ',
    'f=',
    'g',
    'h=x=y:z',
    'tabs=a\\tb\\nc\\u0041\\\\d',
    'key\\ with\\ spaces\\=and\\:colon = v',
    'trailing=keep\\ ',
    'cont=one, \\',
    '     two, \\',
    '\tthree',
    'hash=#not a comment',
    'last=\\',
  ].join('\r\n');
  const entries = parseProperties(text, 'x.properties');
  t.same(Object.fromEntries(entries.map((e) => [e.key, e.value])), {
    a: '1',
    b: '2',
    c: '3',
    d: '4',
    e: 'five and more words',
    f: '',
    g: '',
    h: 'x=y:z',
    tabs: 'a\tb\ncA\\d',
    'key with spaces=and:colon': 'v',
    trailing: 'keep ',
    cont: 'one, two, three',
    hash: '#not a comment',
    last: '',
  });
  t.equal(entries.find((e) => e.key === 'cont')!.line, 16, 'line numbers are physical, 1-based');
  t.equal(entries.find((e) => e.key === 'hash')!.line, 19, 'continuations advance the line count');

  t.throws(() => parseProperties('a=1\n\nb=2\na=3\n', 'f.properties'), {
    name: 'ConfigError',
    key: 'a',
    message: /a is set twice in f.properties \(lines 1 and 4\)/,
  });
  t.throws(() => parseProperties('a=\\u12G4', 'f.properties'), { name: 'ConfigError', message: /\\uXXXX.*f.properties:1/ });
  t.same(
    parseProperties('a=1\nb=2', 'x'),
    [
      { key: 'a', value: '1', line: 1 },
      { key: 'b', value: '2', line: 2 },
    ],
    'LF endings',
  );
});

t.test('config file', async (t) => {
  const dir = t.testdir({
    'server.properties': [
      '# Skafos test broker',
      'node.id=3',
      'log.dirs = relative/dir',
      'num.partitions: 6',
      'auto.create.topics.enable=FALSE',
      'listeners=PLAINTEXT://localhost:19092',
      'skafos.http.listener=',
      'skafos.log.level=debug',
      '',
    ].join('\n'),
    'bad.properties': 'node.id=3\n\nnum.partitions=zero\n',
    'typo.properties': 'node.id=3\nnum.partition=2\n',
  });
  const c = loadConfig({ file: join(dir, 'server.properties'), cwd: '/base' });
  t.equal(c.nodeId, 3);
  t.equal(c.dataDir, '/base/relative/dir');
  t.equal(c.numPartitions, 6);
  t.equal(c.autoCreateTopicsEnable, false);
  t.same(c.listeners, [plaintext('localhost', 19092)]);
  t.same(c.advertisedListeners, c.listeners, 'advertised defaults to listeners');
  t.equal(c.httpListener, null, 'empty skafos.http.listener disables the endpoint');
  t.equal(c.logLevel, 'debug');

  const relative = loadConfig({ file: 'server.properties', cwd: dir });
  t.equal(relative.nodeId, 3, 'relative file paths resolve against cwd');
  t.equal(relative.dataDir, join(dir, 'relative/dir'));

  const bad = configError(t, { file: join(dir, 'bad.properties') });
  t.equal(bad.key, 'num.partitions');
  t.equal(bad.value, 'zero');
  t.equal(bad.source, `config file ${join(dir, 'bad.properties')}:3`);
  t.match(bad.message, /^invalid num.partitions "zero" \(config file .*bad.properties:3\): expected an integer in \[1, 2147483647\]$/);

  const typo = configError(t, { file: join(dir, 'typo.properties') });
  t.equal(typo.key, 'num.partition');
  t.equal(typo.suggestion, 'num.partitions');
  t.match(typo.message, /typo.properties:2.*did you mean num.partitions\?/);

  const missing = configError(t, { file: join(dir, 'nope.properties') });
  t.equal(missing.key, null);
  t.match(missing.message, /cannot read config file .*nope.properties: no such file/);
  t.match(configError(t, { file: dir }).message, /it is a directory/);

  const { sources } = resolveConfig({ file: join(dir, 'server.properties'), sets: ['node.id=4'] });
  t.equal(sources.get('node.id'), '--set');
  t.equal(sources.get('num.partitions'), `config file ${join(dir, 'server.properties')}:4`);
  t.notOk(sources.has('log.segment.bytes'), 'defaults have no source entry');
});

t.test('precedence: defaults < env < file < --set', async (t) => {
  const dir = t.testdir({ 'a.properties': 'node.id=20\nnum.partitions=20\n' });
  const file = join(dir, 'a.properties');
  const env = { SKAFOS_NODE_ID: '10', SKAFOS_NUM_PARTITIONS: '10', SKAFOS_QUEUED_MAX_REQUESTS: ' 10 ' };
  const c = loadConfig({ env, file, sets: ['node.id=30'] });
  t.equal(c.nodeId, 30, '--set beats file and env');
  t.equal(c.numPartitions, 20, 'file beats env');
  t.equal(c.queuedMaxRequests, 10, 'env beats default (and is trimmed)');
  t.equal(c.messageMaxBytes, 1_048_588, 'default');

  t.equal(loadConfig({ sets: ['node.id=1', 'node.id=2', 'node.id = 3 '] }).nodeId, 3, 'last --set wins, trimmed');
  t.equal(loadConfig({ sets: { 'node.id': '5' } }).nodeId, 5, 'sets as a record');
  t.equal(
    loadConfig({ sets: ['skafos.etcd.endpoints=http://a:1,http://b:2', 'skafos.metadata.store=etcd'] }).etcdEndpoints.length,
    2,
    'a value may contain = and ,',
  );

  t.equal(loadConfig({ env: { SKAFOS_FLUSH_LINGER_MS: '7' } }).flushLingerMs, 7, 'skafos. prefix dropped in env names');
  t.equal(loadConfig({ env: { SKAFOS_SKAFOS_FLUSH_LINGER_MS: '8' } }).flushLingerMs, 8, 'literal env name accepted');
  t.equal(loadConfig({ env: { SKAFOS_FLUSH_LINGER_MS: '9', SKAFOS_SKAFOS_FLUSH_LINGER_MS: '9' } }).flushLingerMs, 9);
  const both = configError(t, { env: { SKAFOS_FLUSH_LINGER_MS: '9', SKAFOS_SKAFOS_FLUSH_LINGER_MS: '10' } });
  t.equal(both.key, 'skafos.flush.linger.ms');
  t.match(both.message, /SKAFOS_FLUSH_LINGER_MS and SKAFOS_SKAFOS_FLUSH_LINGER_MS/);

  t.equal(loadConfig({ env: { SKAFOS_FUZZ_CASES: '5', SKAFOS_WHATEVER: 'x', PATH: '/bin' } }).nodeId, 1, 'unrelated env ignored');
  t.equal(loadConfig({ env: { SKAFOS_NODE_ID: undefined } }).nodeId, 1, 'undefined env entries are unset');
  t.equal(loadConfig({ env: { SKAFOS_HTTP_LISTENER: '' } }).httpListener, null, 'an empty env value is a value');

  const envErr = configError(t, { env: { SKAFOS_NODE_ID: 'one' } });
  t.equal(envErr.key, 'node.id');
  t.equal(envErr.source, 'environment SKAFOS_NODE_ID');

  const overridden = configError(t, { env: { SKAFOS_NODE_ID: 'one' }, sets: ['node.id=2'] });
  t.equal(overridden.key, 'node.id', 'values overridden by a higher layer are validated too');
});

t.test('retention: ms > minutes > hours, highest layer first', async (t) => {
  const ret = (options: LoadConfigOptions) => loadConfig(options).logRetentionMs;
  t.equal(ret({}), 168 * 3_600_000, 'default 168 hours');
  t.equal(ret({ sets: ['log.retention.hours=1'] }), 3_600_000);
  t.equal(ret({ sets: ['log.retention.minutes=2', 'log.retention.hours=1'] }), 120_000, 'minutes beat hours');
  t.equal(ret({ sets: ['log.retention.ms=5', 'log.retention.minutes=2', 'log.retention.hours=1'] }), 5, 'ms beats both');
  t.equal(ret({ sets: ['log.retention.hours=1', 'log.retention.ms=5'] }), 5, 'order does not matter');
  t.equal(ret({ sets: ['log.retention.ms=-1'] }), -1, 'forever');
  t.equal(ret({ sets: ['log.retention.hours=-1'] }), -1, 'forever in hours');
  t.equal(ret({ sets: ['log.retention.minutes=-1', 'log.retention.hours=3'] }), -1, 'forever in minutes');
  t.equal(ret({ sets: ['log.retention.ms=0'] }), 0);

  const dir = t.testdir({ 'r.properties': 'log.retention.ms=1000\n' });
  t.equal(ret({ file: join(dir, 'r.properties'), sets: ['log.retention.hours=2'] }), 7_200_000, '--set hours beats a file ms');
  t.equal(ret({ file: join(dir, 'r.properties'), env: { SKAFOS_LOG_RETENTION_HOURS: '2' } }), 1000, 'file ms beats env hours');
  t.equal(ret({ env: { SKAFOS_LOG_RETENTION_MINUTES: '3' } }), 180_000, 'env minutes beat the default hours');

  t.equal(configError(t, { sets: ['log.retention.hours=-2'] }).key, 'log.retention.hours');
  t.equal(configError(t, { sets: ['log.retention.minutes=x'] }).key, 'log.retention.minutes');
  t.equal(configError(t, { sets: ['log.retention.ms=1.5'] }).key, 'log.retention.ms');
  t.equal(
    configError(t, { sets: ['log.retention.ms=1', 'log.retention.hours=bad'] }).key,
    'log.retention.hours',
    'an input that loses on precedence is still validated',
  );
});

t.test('integers', async (t) => {
  t.equal(loadConfig({ sets: ['node.id=+7'] }).nodeId, 7, 'Java accepts a plus sign');
  t.equal(loadConfig({ sets: ['node.id=007'] }).nodeId, 7);
  t.equal(loadConfig({ sets: ['node.id=2147483647'] }).nodeId, 2147483647);
  t.equal(configError(t, { sets: ['node.id=2147483648'] }).expected, '-1 or an integer in [0, 2147483647]');
  t.equal(configError(t, { sets: ['node.id=-1'] }).key, 'node.id', '-1 needs cluster mode');
  for (const bad of ['', ' ', '1e3', '0x10', '1_000', '1.0', '--1', 'NaN', '１']) {
    t.equal(configError(t, { sets: [`node.id=${bad}`] }).key, 'node.id', `rejects ${JSON.stringify(bad)}`);
  }
  const before = (v: string) => loadConfig({ sets: [`log.message.timestamp.before.max.ms=${v}`] }).logMessageTimestampBeforeMaxMs;
  t.equal(before('9223372036854775807'), Number.MAX_SAFE_INTEGER, 'Long.MAX_VALUE saturates');
  t.equal(before('9007199254740992'), Number.MAX_SAFE_INTEGER, 'anything above 2^53-1 saturates');
  t.equal(before('9007199254740991'), Number.MAX_SAFE_INTEGER);
  t.equal(before('86400000'), 86_400_000);
  t.equal(
    configError(t, { sets: ['log.message.timestamp.before.max.ms=9223372036854775808'] }).key,
    'log.message.timestamp.before.max.ms',
    'beyond Long.MAX_VALUE is an error',
  );
  t.equal(
    configError(t, { sets: ['log.retention.check.interval.ms=2147483648'] }).key,
    'log.retention.check.interval.ms',
    'timer periods are capped at 2^31-1 ms',
  );
  t.equal(loadConfig({ sets: ['skafos.flush.linger.ms=0'] }).flushLingerMs, 0);
  const s3 = ['skafos.object.store=s3', 'skafos.s3.bucket=b-1'];
  t.equal(loadConfig({ sets: s3 }).flushLingerMs, 250, 'the linger defaults per store: a 250 ms cost floor with s3');
  t.equal(loadConfig({ sets: ['skafos.object.store=local'] }).flushLingerMs, 0, 'group commit with no floor on a local store');
  t.equal(loadConfig({ sets: [...s3, 'skafos.flush.linger.ms=20'] }).flushLingerMs, 20, 'a set linger wins on either store');
  t.equal(loadConfig({ sets: ['skafos.flush.linger.ms=20'] }).flushLingerMs, 20);
  t.equal(loadConfig({ sets: ['skafos.cache.segment.bytes=0'] }).cacheSegmentBytes, 0, 'caches can be disabled');
  t.equal(loadConfig({ sets: ['log.retention.bytes=9223372036854775807'] }).logRetentionBytes, Number.MAX_SAFE_INTEGER);
});

t.test('booleans and enums', async (t) => {
  t.equal(loadConfig({ sets: ['delete.topic.enable=False'] }).deleteTopicEnable, false, 'booleans ignore case, as Kafka');
  t.equal(loadConfig({ sets: ['skafos.s3.path.style=TRUE', 'skafos.object.store=s3', 'skafos.s3.bucket=b-1'] }).s3PathStyle, true);
  t.equal(configError(t, { sets: ['delete.topic.enable=yes'] }).expected, 'true or false');
  t.equal(loadConfig({ sets: ['compression.type=zstd'] }).compressionType, 'zstd');
  t.equal(loadConfig({ sets: ['log.message.timestamp.type=LogAppendTime'] }).logMessageTimestampType, 'LogAppendTime');
  const caseErr = configError(t, { sets: ['log.message.timestamp.type=logappendtime'] });
  t.match(caseErr.message, /case-sensitive: LogAppendTime/);
  t.match(configError(t, { sets: ['compression.type=brotli'] }).expected, /one of producer, uncompressed, gzip, snappy, lz4, zstd/);
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
    t.equal(loadConfig({ sets: [`skafos.log.level=${level}`] }).logLevel, level);
  }
});

t.test('listeners', async (t) => {
  const listeners = (v: string, extra: string[] = []) => loadConfig({ sets: [`listeners=${v}`, ...extra] });
  t.same(listeners('plaintext://kafka-1.example.com:9093').listeners, [plaintext('kafka-1.example.com', 9093)], 'name upper-cased');
  t.same(listeners('PLAINTEXT://[::1]:9092').listeners, [plaintext('::1', 9092)], 'IPv6 in brackets');
  t.same(listeners(' PLAINTEXT://127.0.0.1:0 ').advertisedListeners, [plaintext('127.0.0.1', 0)], 'ephemeral port');
  const all = listeners('PLAINTEXT://:9092', ['advertised.listeners=PLAINTEXT://broker-1:9092']);
  t.same(all.listeners, [plaintext('0.0.0.0', 9092)], 'empty host binds all interfaces');
  t.same(all.advertisedListeners, [plaintext('broker-1', 9092)]);
  t.same(listeners('PLAINTEXT://[::]:9092', ['advertised.listeners=PLAINTEXT://10.0.0.1:9092']).listeners, [plaintext('::', 9092)]);

  const cases: [string, RegExp][] = [
    ['CLIENT://localhost:9093', /listener CLIENT is not in listener.security.protocol.map/],
    ['localhost:9092', /"localhost:9092" is not NAME:\/\/host:port/],
    ['PLAINTEXT://localhost', /no valid host:port/],
    ['PLAINTEXT://localhost:65536', /no valid host:port/],
    ['PLAINTEXT://localhost:-1', /no valid host:port/],
    ['PLAINTEXT://bad_host:9092', /no valid host:port/],
    ['PLAINTEXT://[nope]:9092', /no valid host:port/],
    ['PLAINTEXT://::1:9092', /no valid host:port/],
    ['PLAINTEXT://a:1,PLAINTEXT://b:2', /listener name PLAINTEXT appears twice/],
    ['PLAINTEXT://a:1,', /expected a comma-separated list/],
    ['', /expected a comma-separated list/],
  ];
  for (const [value, message] of cases) {
    const err = configError(t, { sets: [`listeners=${value}`] });
    t.equal(err.key, 'listeners', value);
    t.equal(err.value, value.trim());
    t.match(err.message, message, value);
  }

  const meta = configError(t, { sets: ['listeners=PLAINTEXT://0.0.0.0:9092'] });
  t.equal(meta.key, 'listeners');
  t.match(meta.message, /non-routable meta-address 0.0.0.0, so advertised.listeners must be set/);
  const advMeta = configError(t, { sets: ['advertised.listeners=PLAINTEXT://0.0.0.0:9092'] });
  t.equal(advMeta.key, 'advertised.listeners');
  t.match(advMeta.message, /non-routable/);
  t.equal(configError(t, { sets: ['advertised.listeners=PLAINTEXT://h:0'] }).key, 'advertised.listeners', 'advertised port 0');
  t.equal(configError(t, { sets: ['advertised.listeners=PLAINTEXT://:9092'] }).key, 'advertised.listeners', 'advertised empty host');

  t.same(loadConfig({ sets: ['skafos.http.listener=0.0.0.0:0'] }).httpListener, { host: '0.0.0.0', port: 0 });
  t.same(loadConfig({ sets: ['skafos.http.listener=[::1]:9644'] }).httpListener, { host: '::1', port: 9644 });
  t.equal(configError(t, { sets: ['skafos.http.listener=9644'] }).key, 'skafos.http.listener');
  const clash = configError(t, { sets: ['skafos.http.listener=0.0.0.0:9092'] });
  t.equal(clash.key, 'skafos.http.listener');
  t.match(clash.message, /port 9092 is also used by listeners \(PLAINTEXT:\/\/127.0.0.1:9092\)/);
  t.ok(loadConfig({ sets: ['skafos.http.listener=127.0.0.2:9092'] }), 'same port, different host');
});

t.test('named listeners, security protocols and per-listener SASL settings', async (t) => {
  const c = loadConfig({
    sets: [
      'listeners=CLIENT://127.0.0.1:9092,INTERNAL://127.0.0.1:9093,sasl_ssl://127.0.0.1:9094',
      'listener.security.protocol.map=CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:PLAINTEXT',
      'inter.broker.listener.name=internal',
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'listener.name.client.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256',
      'listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="a \\"b" user_bob=x;',
    ],
  });
  t.same(
    c.listeners.map((l) => [l.name, l.securityProtocol, l.port]),
    [
      ['CLIENT', 'PLAINTEXT', 9092],
      ['INTERNAL', 'PLAINTEXT', 9093],
      ['SASL_SSL', 'PLAINTEXT', 9094],
    ],
  );
  t.same(c.advertisedListeners, c.listeners);
  t.equal(c.interBrokerListenerName, 'INTERNAL');
  t.same(c.listenerSecurity.CLIENT!.saslEnabledMechanisms, ['PLAIN', 'SCRAM-SHA-256']);
  t.same(c.listenerSecurity.CLIENT!.plainJaas!.options, { user_alice: 'a "b', user_bob: 'x' });
  t.same(c.listenerSecurity.SASL_SSL!.saslEnabledMechanisms, ['SCRAM-SHA-512'], 'the global list where not overridden');
  t.equal(c.listenerSecurity.SASL_SSL!.plainJaas, null);
  t.equal(
    loadConfig({ sets: ['listeners=A://h:1,PLAINTEXT://h:2', 'listener.security.protocol.map=A:PLAINTEXT,PLAINTEXT:PLAINTEXT'] })
      .interBrokerListenerName,
    'PLAINTEXT',
  );

  t.match(configError(t, { sets: ['listener.security.protocol.map=A:TLS'] }).message, /"A:TLS" is not one/);
  t.match(configError(t, { sets: ['sasl.enabled.mechanisms=GSSAPI'] }).message, /Kerberos is not supported/);
  t.match(configError(t, { sets: ['inter.broker.listener.name=NOPE'] }).message, /listener NOPE is not in listeners/);
  t.match(configError(t, { sets: ['listener.name.nope.sasl.enabled.mechanisms=PLAIN'] }).message, /no listener NOPE/);
  t.match(configError(t, { sets: ['listeners=SSL://h:1,PLAINTEXT://h:2'] }).message, /listener SSL is SSL: set ssl.keystore.location/);
  t.match(
    configError(t, { sets: ['listeners=SSL://h:1,PLAINTEXT://h:2', 'ssl.keystore.location=/k.pem', 'ssl.client.auth=required'] }).message,
    /ssl.client.auth=required needs ssl.truststore.location/,
  );
  const rules = loadConfig({
    sets: ['ssl.principal.mapping.rules=RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, RULE:^CN=([^,]*)(,.*)?$/$1/,DEFAULT'],
  });
  t.same(rules.sslPrincipalMappingRules, [
    { pattern: '^CN=(.*?),OU=ServiceUsers.*$', replacement: '$1', caseChange: 'L' },
    { pattern: '^CN=([^,]*)(,.*)?$', replacement: '$1', caseChange: '' },
    { default: true },
  ]);
  t.match(configError(t, { sets: ['ssl.principal.mapping.rules=RULE:(/x/'] }).message, /not a regular expression/);
  t.match(configError(t, { sets: ['ssl.enabled.protocols=TLSv1.1'] }).message, /TLSv1.2, TLSv1.3/);
  t.match(
    configError(t, { sets: ['listeners=SASL_PLAINTEXT://h:1,PLAINTEXT://h:2', 'sasl.enabled.mechanisms='] }).message,
    /listener SASL_PLAINTEXT is SASL_PLAINTEXT but has no SASL mechanism enabled/,
  );
  const secret = configError(t, { sets: ['sasl.jaas.config=Module required user_alice="hunter2"'] });
  t.notMatch(secret.message, /hunter2/, 'a bad jaas config is not echoed');
  t.notMatch(String(secret.value), /hunter2/);
});

t.test('stores', async (t) => {
  const s3 = loadConfig({
    sets: [
      'skafos.object.store=s3',
      'skafos.s3.bucket=my.bucket-01',
      'skafos.s3.region=eu-west-3',
      'skafos.s3.endpoint=http://127.0.0.1:9000/',
      'skafos.s3.path.style=true',
    ],
  });
  t.equal(s3.objectStore, 's3');
  t.equal(s3.s3Bucket, 'my.bucket-01');
  t.equal(s3.s3Region, 'eu-west-3');
  t.equal(s3.s3Endpoint, 'http://127.0.0.1:9000', 'endpoint normalised to its origin');
  t.equal(s3.s3PathStyle, true);

  const needsBucket = configError(t, { sets: ['skafos.object.store=s3'] });
  t.equal(needsBucket.key, 'skafos.s3.bucket');
  t.match(needsBucket.message, /skafos.s3.bucket is required when skafos.object.store=s3.*SKAFOS_S3_BUCKET/);
  const stray = configError(t, { sets: ['skafos.s3.bucket=bucket'] });
  t.equal(stray.key, 'skafos.s3.bucket');
  t.match(stray.message, /set, but skafos.object.store is local; set skafos.object.store=s3 or remove it/);
  t.equal(configError(t, { env: { SKAFOS_S3_REGION: 'us-east-1' } }).key, 'skafos.s3.region', 'even when equal to the default');

  const etcd = loadConfig({
    sets: [
      'skafos.metadata.store=etcd',
      'skafos.etcd.endpoints=http://10.0.0.1:2379, https://etcd.example.com',
      'skafos.etcd.prefix=/clusters/prod',
    ],
  });
  t.same(etcd.etcdEndpoints, ['http://10.0.0.1:2379', 'https://etcd.example.com']);
  t.equal(etcd.etcdPrefix, '/clusters/prod');
  t.equal(configError(t, { sets: ['skafos.metadata.store=etcd'] }).key, 'skafos.etcd.endpoints');
  t.equal(configError(t, { sets: ['skafos.metadata.store=etcd', 'skafos.etcd.endpoints='] }).key, 'skafos.etcd.endpoints');
  t.equal(configError(t, { sets: ['skafos.etcd.prefix=/x'] }).key, 'skafos.etcd.prefix', 'etcd key without etcd');

  const badValues: [string, string][] = [
    ['skafos.etcd.endpoints', '10.0.0.1:2379'],
    ['skafos.etcd.endpoints', 'http://a:1,'],
    ['skafos.etcd.endpoints', 'http://a:1/path'],
    ['skafos.etcd.endpoints', 'unix:///tmp/etcd.sock'],
    ['skafos.etcd.prefix', 'skafos'],
    ['skafos.etcd.prefix', '/skafos/'],
    ['skafos.etcd.prefix', '/'],
    ['skafos.s3.bucket', 'My_Bucket'],
    ['skafos.s3.bucket', 'ab'],
    ['skafos.s3.bucket', '-bucket'],
    ['skafos.s3.endpoint', 'minio:9000'],
    ['skafos.s3.endpoint', 'http://user:pw@minio:9000'],
    ['skafos.s3.region', 'EU WEST'],
    ['skafos.cluster.id', 'has space'],
    ['skafos.cluster.id', 'x'.repeat(65)],
    ['log.dirs', '/a,/b'],
    ['log.dirs', ''],
  ];
  for (const [key, value] of badValues) {
    const err = configError(t, { sets: [`${key}=${value}`] });
    t.equal(err.key, key, `${key}=${value}`);
    t.equal(err.value, value);
    t.match(err.message, key);
  }
  t.equal(loadConfig({ sets: ['skafos.cluster.id=MkU3OEVBNTcwNTJENDM2Qk'] }).clusterId, 'MkU3OEVBNTcwNTJENDM2Qk');
  t.equal(loadConfig({ sets: ['skafos.cluster.id='] }).clusterId, null);
  t.equal(loadConfig({ sets: ['log.dirs=/var/lib/skafos'] }).dataDir, '/var/lib/skafos');
});

t.test('limits that must nest', async (t) => {
  const cases: [string[], string, RegExp][] = [
    [['message.max.bytes=104857601'], 'message.max.bytes', /must not exceed socket.request.max.bytes \(104857600\)/],
    [
      ['message.max.bytes=2000', 'skafos.flush.max.pending.bytes=1000', 'skafos.flush.size.bytes=1000'],
      'message.max.bytes',
      /must not exceed skafos.flush.max.pending.bytes \(1000\)/,
    ],
    [['skafos.flush.size.bytes=67108865'], 'skafos.flush.size.bytes', /must not exceed skafos.flush.max.pending.bytes \(67108864\)/],
    [
      ['skafos.connection.max.inflight.bytes=1000'],
      'socket.request.max.bytes',
      /must not exceed skafos.connection.max.inflight.bytes \(1000\)/,
    ],
    [['skafos.compaction.min.age.ms=700000'], 'skafos.compaction.min.age.ms', /must not exceed skafos.compaction.max.age.ms \(600000\)/],
  ];
  for (const [sets, key, message] of cases) {
    const err = configError(t, { sets });
    t.equal(err.key, key, sets.join(' '));
    t.match(err.message, message);
  }
  const ok = loadConfig({
    sets: ['skafos.flush.size.bytes=1048576', 'skafos.flush.max.pending.bytes=1048588', 'message.max.bytes=1048588'],
  });
  t.equal(ok.flushMaxPendingBytes, 1_048_588, 'equal limits are fine');
});

t.test('every key rejects a malformed value, naming the key', async (t) => {
  for (const { key } of describeConfig()) {
    if (key === 'log.dirs' || key === 'ssl.key.password') continue; // any path is a path, any text a password
    const err = configError(t, { sets: [`${key}=%bad%`] });
    // A secret's value is not repeated (errors end up in logs).
    const shown = SENSITIVE_CONFIG_KEYS.has(key) ? '(hidden)' : '%bad%';
    t.equal(err.key, key);
    t.equal(err.value, shown);
    t.equal(err.source, '--set');
    t.ok(err.expected !== null && err.expected.length > 0, `${key}: says what is expected`);
    t.ok(err.message.startsWith(`invalid ${key} ${SENSITIVE_CONFIG_KEYS.has(key) ? shown : '"%bad%"'} (--set): expected `), err.message);
  }
});

t.test('unknown keys', async (t) => {
  const cases: [string, string | null][] = [
    ['bogus', null],
    ['log.retention.hour', 'log.retention.hours'],
    ['num.partition', 'num.partitions'],
    ['listener', 'listeners'],
    ['logRetentionMs', 'log.retention.ms'],
    ['LOG_SEGMENT_BYTES', 'log.segment.bytes'],
    ['message-max-bytes', 'message.max.bytes'],
    ['flush.size.bytes', 'skafos.flush.size.bytes'],
    ['skafos.s3.buckt', 'skafos.s3.bucket'],
    ['skafos.cache.segments.bytes', 'skafos.cache.segment.bytes'],
    ['completely.unrelated.setting', null],
  ];
  for (const [key, suggestion] of cases) {
    t.equal(suggestKey(key), suggestion, key);
    const err = configError(t, { sets: [`${key}=1`] });
    t.equal(err.key, key);
    t.equal(err.suggestion, suggestion);
    t.match(err.message, `unknown config key "${key}" (--set)`);
    if (suggestion) t.match(err.message, `did you mean ${suggestion}?`);
    else t.match(err.message, 'skafos broker --help');
  }
  const kafka = configError(t, { sets: ['broker.id=1'] });
  t.match(kafka.message, /Kafka's broker.id does not apply to Skafos: use node.id/);
  t.match(configError(t, { sets: ['zookeeper.connect=zk:2181'] }).message, /no ZooKeeper/);
  t.match(configError(t, { sets: ['=1'] }).message, /empty key/);
  const noEquals = configError(t, { sets: ['node.id'] });
  t.equal(noEquals.key, 'node.id');
  t.match(noEquals.message, /--set "node.id" is not key=value/);
});

t.test('formatConfig round-trips', async (t) => {
  const configs = [
    loadConfig(),
    loadConfig({
      sets: [
        'listeners=PLAINTEXT://[::]:0',
        'advertised.listeners=PLAINTEXT://broker.example.com:9092',
        'skafos.object.store=s3',
        'skafos.s3.bucket=bucket',
        'skafos.s3.endpoint=http://minio:9000',
        'skafos.metadata.store=etcd',
        'skafos.etcd.endpoints=http://e1:2379,http://e2:2379',
        'skafos.cluster.id=abc',
        'log.retention.minutes=30',
        'skafos.http.listener=',
        'log.dirs=/data dir/with spaces',
      ],
    }),
  ];
  for (const [i, c] of configs.entries()) {
    const dir = t.testdir({});
    const file = join(dir, `effective-${i}.properties`);
    writeFileSync(file, formatConfig(c));
    t.strictSame(loadConfig({ file }), c, `config ${i}`);
  }
  t.match(formatConfig(configs[0]!), /^#skafos.s3.bucket=$/m, 'settings of unused stores are commented out');
  t.match(formatConfig(configs[1]!), /^log.retention.ms=1800000$/m, 'effective retention');
});
