# A confluent-kafka-python idempotent producer (enable.idempotence=True: acks=all, retries, up to 5 requests in
# flight per connection) for the idempotence test: sends `count` records, record i to partition i % partitions
# with value "<name>-<i>", flushes, and prints one JSON line per record ({"i", "p", "o"} or {"i", "err"}) and a
# final {"done": true, "acked", "failed"}. Request: {"bootstrap", "topic", "partitions", "name", "count"}.
import json
import sys

from confluent_kafka import Producer

req = json.loads(sys.stdin.read())


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')


p = Producer({
    'bootstrap.servers': req['bootstrap'],
    'enable.idempotence': True,
    'linger.ms': 5,
    'batch.num.messages': 20,
    'message.timeout.ms': 60000,
    'request.timeout.ms': 5000,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 500,
    'retry.backoff.ms': 50,
})
stats = {'acked': 0, 'failed': 0}


def report(i):
    def cb(err, msg):
        if err is not None:
            stats['failed'] += 1
            emit({'i': i, 'err': err.name()})
        else:
            stats['acked'] += 1
            emit({'i': i, 'p': msg.partition(), 'o': msg.offset()})
    return cb


for i in range(req['count']):
    while True:
        try:
            p.produce(req['topic'], value=('%s-%d' % (req['name'], i)).encode(), partition=i % req['partitions'], on_delivery=report(i))
            break
        except BufferError:
            p.poll(0.05)
    p.poll(0)
    if i % 50 == 0:
        p.poll(0.01)
left = p.flush(90)
emit({'done': True, 'acked': stats['acked'], 'failed': stats['failed'], 'unflushed': left})
