# Drives confluent-kafka-python (librdkafka) against the fake broker: an idempotent producer, then a group consumer
# that reads the message, commits it synchronously and leaves.
# Usage: /usr/bin/python3 confluent_kafka_python.py <port> <clientId> <groupId> <acks>
import sys
import time

from confluent_kafka import Consumer, Producer

port, client_id, group_id, acks = sys.argv[1:5]
bootstrap = '127.0.0.1:' + port
delivered = []

producer = Producer({
    'bootstrap.servers': bootstrap,
    'client.id': client_id,
    'enable.idempotence': True,
    'acks': acks,
    'linger.ms': 0,
})
producer.produce('golden', key=b'golden-key', value=b'hello from confluent-kafka-python', partition=0,
                 headers=[('source', b'confluent-kafka-python')],
                 on_delivery=lambda err, msg: delivered.append(err))
producer.flush(15)
if delivered != [None]:
    sys.exit('delivery failed: %r' % (delivered,))

consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'client.id': client_id,
    'group.id': group_id,
    'auto.offset.reset': 'earliest',
    'enable.auto.commit': False,
    'heartbeat.interval.ms': 100,
    'session.timeout.ms': 10000,
    'fetch.wait.max.ms': 100,
})
consumer.subscribe(['golden'])
deadline = time.time() + 20
got = None
while got is None and time.time() < deadline:
    msg = consumer.poll(0.5)
    if msg is not None and msg.error() is None:
        got = msg
if got is None:
    sys.exit('no message consumed')
print('consumed %s/%d@%d: %r' % (got.topic(), got.partition(), got.offset(), got.value()))
end = time.time() + 0.5
while time.time() < end:
    consumer.poll(0.1)
consumer.commit(message=got, asynchronous=False)
consumer.close()
