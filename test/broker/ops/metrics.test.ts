import t from 'tap';
import { register as globalRegistry } from 'prom-client';
import { createMetrics, LATENCY_BUCKETS_SECONDS, metricName } from '../../../broker/ops/metrics.ts';

t.test('names get the skafos_ prefix and follow the rules', async (t) => {
  t.equal(metricName('produce_bytes_total'), 'skafos_produce_bytes_total');
  t.equal(metricName('skafos_produce_bytes_total'), 'skafos_produce_bytes_total', 'no double prefix');
  for (const bad of ['Produce', 'produce-bytes', 'produce bytes', 'a.b', 'trailing_', 'skafos_']) {
    t.throws(() => metricName(bad), /lower_snake_case/, bad);
  }
  const metrics = createMetrics({ defaultMetrics: false });
  t.throws(() => metrics.counter({ name: 'produce_bytes', help: 'x' }), /counter names end in _total/);
});

t.test('counters, gauges and histograms land in the broker registry', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false, version: '1.2.3' });
  const produced = metrics.counter({ name: 'produce_bytes_total', help: 'Bytes appended.', labelNames: ['topic'] });
  produced.inc({ topic: 'orders' }, 100);
  let pending = 7;
  metrics.gauge({
    name: 'flush_pending_bytes',
    help: 'Bytes waiting.',
    collect() {
      this.set(pending);
    },
  });
  const flush = metrics.histogram({ name: 'flush_duration_seconds', help: 'Flush time.', buckets: LATENCY_BUCKETS_SECONDS });
  flush.observe(0.02);
  pending = 9;
  const text = await metrics.text();
  t.match(text, '# TYPE skafos_produce_bytes_total counter');
  t.match(text, 'skafos_produce_bytes_total{topic="orders"} 100');
  t.match(text, 'skafos_flush_pending_bytes 9', 'gauge collect runs at scrape');
  t.match(text, 'skafos_flush_duration_seconds_bucket{le="0.025"} 1');
  t.match(text, `skafos_build_info{version="1.2.3",node_version="${process.version}"} 1`);
  t.notOk(await globalRegistry.getSingleMetric('skafos_produce_bytes_total'), 'global registry untouched');
});

t.test('asking twice returns the same metric; a conflicting kind or label set throws', async (t) => {
  const metrics = createMetrics({ defaultMetrics: false });
  const a = metrics.counter({ name: 'requests_total', help: 'Requests.', labelNames: ['api', 'version'] });
  const b = metrics.counter({ name: 'skafos_requests_total', help: 'Requests.', labelNames: ['version', 'api'] });
  t.equal(a, b);
  t.throws(() => metrics.gauge({ name: 'requests_total', help: 'x', labelNames: ['api', 'version'] }), /already registered as a counter/);
  t.throws(() => metrics.counter({ name: 'requests_total', help: 'x', labelNames: ['api'] }), /with labels \[api, version\]/);
});

t.test('registries are independent and carry default process metrics', async (t) => {
  const one = createMetrics();
  const two = createMetrics();
  one.counter({ name: 'x_total', help: 'x' }).inc();
  two.counter({ name: 'x_total', help: 'x' }).inc(5);
  t.match(await one.text(), /^skafos_x_total 1$/m);
  t.match(await two.text(), /^skafos_x_total 5$/m);
  const text = await one.text();
  t.match(text, 'process_cpu_user_seconds_total');
  t.match(text, 'nodejs_eventloop_lag_seconds');
  t.notMatch(await createMetrics({ defaultMetrics: false }).text(), 'process_cpu_user_seconds_total');
});
