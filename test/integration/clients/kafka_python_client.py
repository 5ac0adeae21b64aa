# kafka-python driver for the integration tests. One operation per run, described by the JSON request on stdin;
# results as JSON lines on stdout (see common.py). Consumers have no group (group_id=None) and use assign() + seek.
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from common import consumed, emit, headers_of, key_of, read_request, value_of


def produce(req):
    conf = dict(bootstrap_servers=req['bootstrap'], linger_ms=5, acks='all', retries=0, request_timeout_ms=30000)
    conf.update(req.get('config', {}))
    p = KafkaProducer(**conf)
    futures = []
    for i, rec in enumerate(req['records']):
        try:
            f = p.send(req['topic'], value=value_of(rec), key=key_of(rec), headers=headers_of(rec),
                       partition=rec.get('p'), timestamp_ms=rec.get('ts'))
        except Exception as e:  # client-side refusal (e.g. MessageSizeTooLargeError)
            emit({'i': i, 'err': type(e).__name__, 'msg': str(e)})
            continue
        futures.append((i, f))
    p.flush(timeout=req.get('timeout', 30))
    delivered = failed = 0
    for i, f in futures:
        try:
            md = f.get(timeout=req.get('timeout', 30))
            delivered += 1
            emit({'i': i, 'p': md.partition, 'o': md.offset, 'ts': md.timestamp})
        except Exception as e:
            failed += 1
            emit({'i': i, 'err': type(e).__name__, 'msg': str(e)})
    p.close(timeout=10)
    emit({'done': True, 'delivered': delivered, 'failed': failed})


def consumer(req):
    conf = dict(bootstrap_servers=req['bootstrap'], group_id=None, enable_auto_commit=False,
                auto_offset_reset='none', consumer_timeout_ms=1000)
    conf.update(req.get('config', {}))
    return KafkaConsumer(**conf)


def consume(req):
    c = consumer(req)
    topic = req['topic']
    want = {}
    for ps, (start, end) in req['partitions'].items():
        want[int(ps)] = [start, end]
    tps = [TopicPartition(topic, p) for p in want]
    c.assign(tps)
    missing_end = [tp for tp in tps if want[tp.partition][1] is None]
    if missing_end:
        for tp, end in c.end_offsets(missing_end).items():
            want[tp.partition][1] = end
    for tp in tps:
        c.seek(tp, want[tp.partition][0])
    pending = {p for p, (s, e) in want.items() if e > s}
    deadline = time.time() + req.get('timeout', 30)
    while pending and time.time() < deadline:
        batch = c.poll(timeout_ms=500)
        for tp, msgs in batch.items():
            for m in msgs:
                emit(consumed(m.partition, m.offset, m.key, m.value, m.headers, m.timestamp, m.timestamp_type))
                if m.offset + 1 >= want[m.partition][1]:
                    pending.discard(m.partition)
    c.close()
    emit({'done': True, 'complete': not pending, 'ends': {str(p): e for p, (_, e) in want.items()}})


def offsets_for_times(req):
    c = consumer(req)
    tps = {TopicPartition(req['topic'], int(p)): int(ts) for p, ts in req['partitions'].items()}
    for tp, ot in c.offsets_for_times(tps).items():
        emit({'p': tp.partition, 'o': None if ot is None else ot.offset, 'ts': None if ot is None else ot.timestamp})
    c.close()


def watermarks(req):
    c = consumer(req)
    tps = [TopicPartition(req['topic'], p) for p in req['partitions']]
    low = c.beginning_offsets(tps)
    high = c.end_offsets(tps)
    for tp in tps:
        emit({'p': tp.partition, 'low': low[tp], 'high': high[tp]})
    c.close()


def create_topics(req):
    a = KafkaAdminClient(bootstrap_servers=req['bootstrap'])
    new = [NewTopic(t['name'], t.get('partitions', -1), t.get('rf', -1), topic_configs=t.get('config', {})) for t in req['topics']]
    try:
        r = a.create_topics(new, validate_only=req.get('validate_only', False))
        for name, code, *rest in r.topic_errors:
            emit({'name': name, 'code': code})
    except Exception as e:
        emit({'err': type(e).__name__, 'msg': str(e)})
    a.close()


OPS = {'produce': produce, 'consume': consume, 'offsets_for_times': offsets_for_times, 'watermarks': watermarks,
       'create_topics': create_topics}

if __name__ == '__main__':
    request = read_request()
    OPS[request['op']](request)
    sys.stdout.flush()
