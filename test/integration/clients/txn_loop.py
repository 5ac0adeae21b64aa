# A confluent-kafka-python consume-transform-produce loop (exactly-once): reads `input` in group `group`
# (read_committed, no auto commit), and for each batch of up to `batch` records, in one transaction, writes
# "out:<value>" to `output` (key = the input value) and commits the consumer's positions with
# send_offsets_to_transaction. With `die_after` set, after that many committed transactions it produces the next
# batch's output and then kills itself (SIGKILL) before committing: a crash in the middle of a transaction.
# A transaction that must be aborted (a broker died, the group rebalanced) is aborted and the consumer rewound to
# its committed offsets. Exits after `idle_s` seconds without input (after the first record; 90 s at most before
# it), or once its committed transactions hold `stop_at` records. Prints {"committed": n, "records": m} after each
# commit.
# Request: {"bootstrap", "input", "output", "group", "txid", "batch", "die_after", "idle_s", "stop_at"}.
import json
import os
import signal
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer

req = json.loads(sys.stdin.read())
c = Consumer({
    'bootstrap.servers': req['bootstrap'],
    'group.id': req['group'],
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': False,
    'isolation.level': 'read_committed',
    'session.timeout.ms': 6000,  # a killed predecessor leaves the group soon
})
p = Producer({
    'bootstrap.servers': req['bootstrap'],
    'transactional.id': req['txid'],
    'linger.ms': 5,
    'transaction.timeout.ms': 60000,
})
p.init_transactions(60)
c.subscribe([req['input']])
committed = 0
records = 0
aborts = 0


def rewind():
    parts = c.assignment()
    if not parts:
        return
    for tp in c.committed(parts, 30):
        if tp.offset < 0:
            tp.offset = OFFSET_BEGINNING
        try:
            c.seek(tp)
        except KafkaException:
            pass

last = None
started = time.time()
die_after = req.get('die_after')
# Idle time counts from the first record (joining may wait for a killed predecessor's session to expire).
while (time.time() - started < 90) if last is None else (time.time() - last < req.get('idle_s', 5)):
    msgs = [m for m in c.consume(req['batch'], 0.5) if not m.error()]
    if not msgs:
        continue
    last = time.time()
    try:
        p.begin_transaction()
        for m in msgs:
            p.produce(req['output'], key=m.value(), value=b'out:' + m.value(), partition=m.partition())
        if die_after is not None and committed >= die_after:
            p.flush(10)  # the outputs are in the log, the transaction is open
            os.kill(os.getpid(), signal.SIGKILL)
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 60)
        for attempt in range(20):
            try:
                p.commit_transaction(60)
                break
            except KafkaException as e:
                if not e.args[0].retriable() or attempt == 19:
                    raise
    except KafkaException as e:
        # A broker died, the group rebalanced...: abort, and read again from the committed offsets.
        if not e.args[0].txn_requires_abort():
            raise
        sys.stderr.write('aborting: %s\n' % e)
        p.abort_transaction(60)
        rewind()
        aborts += 1
        continue
    committed += 1
    records += len(msgs)
    sys.stdout.write(json.dumps({'committed': committed, 'records': records, 'aborts': aborts}) + '\n')
    if req.get('stop_at') is not None and records >= req['stop_at']:
        break
c.close()
