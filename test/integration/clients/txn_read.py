# A confluent-kafka-python consumer for the transaction tests: reads `topic` from the beginning with
# isolation.level = `isolation` (read_committed / read_uncommitted) until `expected` records arrived and none
# came for `idle_s` seconds (or `timeout_s` passed). Prints one {"p", "o", "k", "v"} line per record.
# Request: {"bootstrap", "topic", "group", "isolation", "expected", "idle_s", "timeout_s"}.
import json
import sys
import time

from confluent_kafka import Consumer

req = json.loads(sys.stdin.read())
c = Consumer({
    'bootstrap.servers': req['bootstrap'],
    'group.id': req['group'],
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': False,
    'isolation.level': req['isolation'],
})
c.subscribe([req['topic']])
n = 0
started = time.time()
last = time.time()
while time.time() - started < req.get('timeout_s', 60):
    m = c.poll(0.2)
    if m is None:
        if n >= req['expected'] and time.time() - last > req.get('idle_s', 2):
            break
        continue
    if m.error():
        continue
    n += 1
    last = time.time()
    k = m.key()
    sys.stdout.write(json.dumps({'p': m.partition(), 'o': m.offset(), 'k': None if k is None else k.decode(), 'v': m.value().decode()}) + '\n')
c.close()
