# Drives kafka-python against the fake broker: produce one message, then a group consumer that reads it,
# heartbeats, commits and leaves. Usage: /usr/bin/python3 kafka_python.py <port> <clientId> <groupId> <acks>
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

port, client_id, group_id, acks = sys.argv[1:5]
bootstrap = '127.0.0.1:' + port

producer = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, acks=int(acks), retries=1)
producer.send('golden', key=b'golden-key', value=b'hello from kafka-python', partition=0).get(timeout=15)
producer.flush()
producer.close()

consumer = KafkaConsumer(
    'golden',
    bootstrap_servers=bootstrap,
    client_id=client_id,
    group_id=group_id,
    auto_offset_reset='earliest',
    enable_auto_commit=False,
    heartbeat_interval_ms=100,
    session_timeout_ms=10000,
    fetch_max_wait_ms=100,
)
deadline = time.time() + 20
got = None
while got is None and time.time() < deadline:
    for records in consumer.poll(timeout_ms=500).values():
        if records:
            got = records[0]
if got is None:
    sys.exit('no message consumed')
print('consumed %s/%d@%d: %r' % (got.topic, got.partition, got.offset, got.value))
time.sleep(0.5)
consumer.commit()
consumer.close()
