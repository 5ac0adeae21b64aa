# A confluent-kafka-python transactional producer for the transaction tests: `transactions` transactions of
# `per_txn` records each (record j of transaction i has value "<name>-<i>-<j>", partition j % partitions);
# transaction i is aborted when i % abort_every == abort_rest, else committed. Prints {"done": true,
# "committed": [...values], "aborted": [...values]}. Request: {"bootstrap", "topic", "partitions", "txid",
# "name", "transactions", "per_txn", "abort_every", "abort_rest"}.
import json
import sys

from confluent_kafka import Producer

req = json.loads(sys.stdin.read())
p = Producer({
    'bootstrap.servers': req['bootstrap'],
    'transactional.id': req['txid'],
    'linger.ms': 5,
    'transaction.timeout.ms': 60000,
})
p.init_transactions(30)
committed, aborted = [], []
for i in range(req['transactions']):
    p.begin_transaction()
    values = ['%s-%d-%d' % (req['name'], i, j) for j in range(req['per_txn'])]
    for j, v in enumerate(values):
        p.produce(req['topic'], value=v.encode(), partition=j % req['partitions'])
    if i % req['abort_every'] == req['abort_rest']:
        p.flush(30)  # the records reach the log before the abort (abort_transaction would purge unsent ones)
        p.abort_transaction(30)
        aborted += values
    else:
        p.commit_transaction(30)
        committed += values
sys.stdout.write(json.dumps({'done': True, 'committed': committed, 'aborted': aborted}) + '\n')
