# A confluent-kafka-python producer for the durability test: sends sequence-numbered keyed records round robin
# over the partitions (acks=all, no retries, no idempotence) until the stop file exists, then flushes and exits.
# Prints one JSON line per acknowledged record ({"seq", "p", "o"}), one per failed record ({"seq", "err"}), and
# a final {"done": ...}. Request: {"bootstrap", "topic", "partitions", "name", "stop_file", "max_seconds"}.
import json
import os
import sys
import time

from confluent_kafka import Producer

req = json.loads(sys.stdin.read())
name = req['name']
out = []


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')


p = Producer({
    'bootstrap.servers': req['bootstrap'],
    'acks': 'all',
    'enable.idempotence': False,
    'message.send.max.retries': 0,
    'retries': 0,
    'linger.ms': 2,
    'max.in.flight.requests.per.connection': 5,
    'message.timeout.ms': 8000,
    'request.timeout.ms': 5000,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 200,
})
stats = {'acked': 0, 'failed': 0}


def report(seq):
    def cb(err, msg):
        if err is not None:
            stats['failed'] += 1
            emit({'seq': seq, 'err': err.name()})
        else:
            stats['acked'] += 1
            emit({'seq': seq, 'p': msg.partition(), 'o': msg.offset()})
    return cb


seq = 0
deadline = time.time() + req.get('max_seconds', 60)
while not os.path.exists(req['stop_file']) and time.time() < deadline:
    for _ in range(20):
        key = f'{name}-{seq}-0'
        value = json.dumps({'producer': name, 'seq': seq, 'attempt': 0, 'pad': 'x' * (seq % 50)})
        try:
            p.produce(req['topic'], key=key, value=value, partition=seq % req['partitions'],
                      headers=[('producer', name.encode())], on_delivery=report(seq))
        except BufferError:
            p.poll(0.05)
            continue
        seq += 1
    p.poll(0.02)
left = p.flush(20)
emit({'done': True, 'sent': seq, 'acked': stats['acked'], 'failed': stats['failed'], 'undelivered': left})
