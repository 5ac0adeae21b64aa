// The layer check (`npm run layers`, part of `npm test`). spec/architecture.md explains the layers; this file
// enforces them. It cruises the whole repository, so parts still to come (operator/, console/,
// broker/security/) are checked as soon as they exist.

// Layers, bottom to top. A module may import modules of its own layer and of the layers below, never above.
const layers = [
  { name: 'protocol-config', paths: ['^broker/protocol/', '^broker/config\\.ts$', '^broker/config/', '^broker/limits\\.ts$'] },
  { name: 'storage-metadata-ops', paths: ['^broker/storage/', '^broker/metadata/', '^broker/ops/'] },
  { name: 'log-cluster', paths: ['^broker/log/', '^broker/cluster/'] },
  { name: 'groups', paths: ['^broker/groups/'] },
  { name: 'txn', paths: ['^broker/txn/'] },
  { name: 'security', paths: ['^broker/security/'] },
  { name: 'handlers', paths: ['^broker/handlers/'] },
  { name: 'server', paths: ['^broker/server/'] },
  { name: 'broker', paths: ['^broker/broker\\.ts$', '^broker/broker-metrics\\.ts$', '^broker/broker-stores\\.ts$'] },
  { name: 'bin', paths: ['^bin/'] },
];
const layered = layers.flatMap((l) => l.paths);

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `${layer.name}-no-upward-import`,
  comment: `${layer.paths.join(' ')} may import only its own layer and those below (spec/architecture.md).`,
  severity: 'error',
  from: { path: layer.paths },
  to: { path: layers.slice(i + 1).flatMap((l) => l.paths) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'broker-module-outside-layers',
      comment: 'Every module under broker/ belongs to a layer: a new directory gets one here and in spec/architecture.md.',
      severity: 'error',
      from: {},
      to: { path: '^broker/', pathNot: layered },
    },
    {
      name: 'broker-module-outside-layers-imports',
      comment: 'Every module under broker/ belongs to a layer: a new directory gets one here and in spec/architecture.md.',
      severity: 'error',
      from: { path: '^broker/', pathNot: layered },
      to: {},
    },
    {
      name: 'limits-import-only-protocol',
      comment: 'broker/limits.ts (the internal limits) imports nothing but broker/protocol.',
      severity: 'error',
      from: { path: '^broker/limits\\.ts$' },
      to: { pathNot: '^broker/protocol/' },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'generated-only-via-index',
      comment: 'Outside broker/protocol, generated codecs are imported only through broker/protocol/generated/index.ts.',
      severity: 'error',
      from: { pathNot: '^broker/protocol/' },
      to: { path: '^broker/protocol/generated/', pathNot: '^broker/protocol/generated/index\\.ts$' },
    },
    {
      name: 'product-not-on-dev-code',
      comment: 'broker/ and bin/ never import bench/, tools/ or test/.',
      severity: 'error',
      from: { path: ['^broker/', '^bin/'] },
      to: { path: ['^bench/', '^tools/', '^test/'] },
    },
    {
      name: 'product-not-on-separate-programs',
      comment: 'broker/ and bin/ never import the separate programs nor their client library.',
      severity: 'error',
      from: { path: ['^broker/', '^bin/'] },
      to: { path: ['^clients/', '^operator/', '^console/'] },
    },
    {
      name: 'clients-only-protocol',
      comment: 'clients/ (the shared Kafka admin client) imports only broker/protocol.',
      severity: 'error',
      from: { path: '^clients/' },
      to: { path: ['^broker/', '^bin/', '^operator/', '^console/', '^bench/', '^tools/', '^test/'], pathNot: '^broker/protocol/' },
    },
    {
      name: 'programs-talk-kafka-only',
      comment:
        'operator/ and console/ reach brokers only through the Kafka protocol: they import clients/ and broker/protocol, no other broker code.',
      severity: 'error',
      from: { path: ['^operator/', '^console/'] },
      to: { path: ['^broker/', '^bin/', '^bench/', '^tools/', '^test/'], pathNot: '^broker/protocol/' },
    },
    {
      name: 'operator-console-apart',
      comment: 'operator/ and console/ are separate programs: neither imports the other.',
      severity: 'error',
      from: { path: '^(operator|console)/' },
      to: { path: '^(operator|console)/', pathNot: '^$1/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^node_modules/', '^\\.dependency-cruiser\\.cjs$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
