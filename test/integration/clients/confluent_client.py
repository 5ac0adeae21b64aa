# confluent-kafka-python (librdkafka) driver for the integration tests. One operation per run, described by the
# JSON request on stdin ({"op": ..., "bootstrap": ...}); results as JSON lines on stdout (see common.py).
# Consumers use assign() with explicit offsets (no consumer group, no commits).
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

from common import consumed, emit, headers_of, key_of, read_request, value_of


def err_name(err):
    if err is None:
        return None
    return KafkaError(err.code()).name() if hasattr(err, 'code') else str(err)


def produce(req):
    conf = {'bootstrap.servers': req['bootstrap'], 'enable.idempotence': False, 'linger.ms': 5}
    conf.update(req.get('config', {}))
    p = Producer(conf)
    stats = {'delivered': 0, 'failed': 0}

    def report(i):
        def cb(err, msg):
            if err is not None:
                stats['failed'] += 1
                emit({'i': i, 'err': err.name(), 'msg': err.str()})
            else:
                stats['delivered'] += 1
                ts_type, ts = msg.timestamp()
                emit({'i': i, 'p': msg.partition(), 'o': msg.offset(), 'ts': ts, 'tst': ts_type})
        return cb

    for i, rec in enumerate(req['records']):
        kwargs = {'value': value_of(rec), 'key': key_of(rec), 'headers': headers_of(rec), 'on_delivery': report(i)}
        if rec.get('p') is not None:
            kwargs['partition'] = rec['p']
        if rec.get('ts') is not None:
            kwargs['timestamp'] = rec['ts']
        while True:
            try:
                p.produce(req['topic'], **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(req.get('timeout', 30))
    emit({'done': True, 'delivered': stats['delivered'], 'failed': stats['failed'], 'undelivered': left})


def consumer_conf(req):
    conf = {
        'bootstrap.servers': req['bootstrap'],
        # librdkafka insists on a group id, but assign() without commits never uses the group.
        'group.id': 'skafos-it-unused',
        'enable.auto.commit': False,
        'enable.auto.offset.store': False,
        'enable.partition.eof': True,
        'auto.offset.reset': 'error',
    }
    conf.update(req.get('config', {}))
    return conf


def consume(req):
    c = Consumer(consumer_conf(req))
    topic = req['topic']
    # partitions: {"0": [start, end]}; end exclusive, null = the high watermark at start
    want = {}
    for ps, (start, end) in req['partitions'].items():
        pi = int(ps)
        if end is None:
            _, end = c.get_watermark_offsets(TopicPartition(topic, pi), timeout=10)
        want[pi] = [start, end]
    c.assign([TopicPartition(topic, p, s) for p, (s, _) in want.items()])
    pending = {p for p, (s, e) in want.items() if e > s}
    deadline = time.time() + req.get('timeout', 30)
    while pending and time.time() < deadline:
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                continue
            emit({'err': msg.error().name(), 'msg': msg.error().str()})
            break
        ts_type, ts = msg.timestamp()
        emit(consumed(msg.partition(), msg.offset(), msg.key(), msg.value(), msg.headers(), ts, ts_type))
        if msg.offset() + 1 >= want[msg.partition()][1]:
            pending.discard(msg.partition())
    c.close()
    emit({'done': True, 'complete': not pending, 'ends': {str(p): e for p, (_, e) in want.items()}})


def offsets_for_times(req):
    c = Consumer(consumer_conf(req))
    tps = [TopicPartition(req['topic'], int(p), int(ts)) for p, ts in req['partitions'].items()]
    for tp in c.offsets_for_times(tps, timeout=15):
        emit({'p': tp.partition, 'o': tp.offset, 'err': err_name(tp.error) if tp.error else None})
    c.close()


def watermarks(req):
    c = Consumer(consumer_conf(req))
    for p in req['partitions']:
        low, high = c.get_watermark_offsets(TopicPartition(req['topic'], p), timeout=15)
        emit({'p': p, 'low': low, 'high': high})
    c.close()


def admin_client(req):
    conf = {'bootstrap.servers': req['bootstrap']}
    conf.update(req.get('config', {}))
    return AdminClient(conf)


def create_topics(req):
    a = admin_client(req)
    new = []
    for t in req['topics']:
        new.append(NewTopic(t['name'], num_partitions=t.get('partitions', -1), replication_factor=t.get('rf', -1), config=t.get('config', {})))
    futures = a.create_topics(new, operation_timeout=10, request_timeout=15, validate_only=req.get('validate_only', False))
    for name, f in futures.items():
        try:
            f.result()
            emit({'name': name, 'err': None})
        except Exception as e:  # KafkaException wrapping a KafkaError
            ke = e.args[0] if e.args else None
            emit({'name': name, 'err': ke.name() if isinstance(ke, KafkaError) else str(e), 'msg': ke.str() if isinstance(ke, KafkaError) else str(e)})


def delete_topics(req):
    a = admin_client(req)
    futures = a.delete_topics(req['topics'], operation_timeout=10, request_timeout=15)
    for name, f in futures.items():
        try:
            f.result()
            emit({'name': name, 'err': None})
        except Exception as e:
            ke = e.args[0] if e.args else None
            emit({'name': name, 'err': ke.name() if isinstance(ke, KafkaError) else str(e)})


def list_topics(req):
    a = admin_client(req)
    md = a.list_topics(topic=req.get('topic'), timeout=15)
    for name, t in md.topics.items():
        emit({'name': name, 'partitions': sorted(t.partitions.keys()), 'err': t.error.name() if t.error else None})


def resource(r):
    return ConfigResource(r['type'], r['name'], set_config=r.get('set'))


def describe_configs(req):
    a = admin_client(req)
    futures = a.describe_configs([resource(r) for r in req['resources']], request_timeout=15)
    for res, f in futures.items():
        try:
            entries = f.result()
            emit({'type': str(res.restype), 'name': res.name, 'err': None, 'configs': {
                k: {'value': e.value, 'source': int(e.source), 'read_only': e.is_read_only, 'default': e.is_default}
                for k, e in entries.items()}})
        except Exception as e:
            ke = e.args[0] if e.args else None
            emit({'type': str(res.restype), 'name': res.name, 'err': ke.name() if isinstance(ke, KafkaError) else str(e)})


def alter_configs(req):
    a = admin_client(req)
    futures = a.alter_configs([resource(r) for r in req['resources']], request_timeout=15, validate_only=req.get('validate_only', False))
    for res, f in futures.items():
        try:
            f.result()
            emit({'name': res.name, 'err': None})
        except Exception as e:
            ke = e.args[0] if e.args else None
            emit({'name': res.name, 'err': ke.name() if isinstance(ke, KafkaError) else str(e)})


def create_partitions(req):
    a = admin_client(req)
    futures = a.create_partitions([NewPartitions(t['name'], t['count']) for t in req['topics']], request_timeout=15,
                                  validate_only=req.get('validate_only', False))
    for name, f in futures.items():
        try:
            f.result()
            emit({'name': name, 'err': None})
        except Exception as e:
            ke = e.args[0] if e.args else None
            emit({'name': name, 'err': ke.name() if isinstance(ke, KafkaError) else str(e)})


OPS = {
    'produce': produce, 'consume': consume, 'offsets_for_times': offsets_for_times, 'watermarks': watermarks,
    'create_topics': create_topics, 'delete_topics': delete_topics, 'list_topics': list_topics,
    'describe_configs': describe_configs, 'alter_configs': alter_configs, 'create_partitions': create_partitions,
}

if __name__ == '__main__':
    request = read_request()
    OPS[request['op']](request)
    sys.stdout.flush()
