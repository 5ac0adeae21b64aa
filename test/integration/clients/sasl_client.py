# Produces a few records and reads them back over an authenticated connection, with confluent-kafka-python or
# kafka-python. The request (stdin JSON): client, bootstrap, topic, count, security_protocol, mechanism,
# username, password, and for TLS ca/cert/key file paths. Output: one JSON line {"consumed": [values]} or
# {"error": "..."}.
import time

from common import emit, read_request


def confluent(req):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

    conf = {'bootstrap.servers': req['bootstrap'], 'security.protocol': req['security_protocol']}
    if req.get('mechanism'):
        conf.update({'sasl.mechanism': req['mechanism'], 'sasl.username': req['username'], 'sasl.password': req['password']})
    if req.get('ca'):
        conf['ssl.ca.location'] = req['ca']
        conf['ssl.endpoint.identification.algorithm'] = 'none'
    if req.get('cert'):
        conf.update({'ssl.certificate.location': req['cert'], 'ssl.key.location': req['key']})
    errors = []
    p = Producer(dict(conf, **{'error_cb': lambda e: errors.append(str(e))}))
    for i in range(req['count']):
        p.produce(req['topic'], value=('v%d' % i).encode(), partition=0)
    left = p.flush(20)
    if left:
        return {'error': 'not delivered: %s' % '; '.join(errors)}
    c = Consumer(dict(conf, **{'group.id': 'sasl-test', 'enable.auto.commit': False}))
    c.assign([TopicPartition(req['topic'], 0, 0)])
    values = []
    deadline = time.time() + 20
    while len(values) < req['count'] and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            return {'error': str(m.error())}
        values.append(m.value().decode())
    c.close()
    return {'consumed': values}


def kafka_python(req):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    conf = {'bootstrap_servers': req['bootstrap'], 'security_protocol': req['security_protocol']}
    if req.get('mechanism'):
        conf.update({'sasl_mechanism': req['mechanism'], 'sasl_plain_username': req['username'], 'sasl_plain_password': req['password']})
    if req.get('ca'):
        conf.update({'ssl_cafile': req['ca'], 'ssl_check_hostname': False})
    if req.get('cert'):
        conf.update({'ssl_certfile': req['cert'], 'ssl_keyfile': req['key']})
    p = KafkaProducer(**conf)
    for i in range(req['count']):
        p.send(req['topic'], value=('v%d' % i).encode(), partition=0).get(timeout=20)
    p.close()
    c = KafkaConsumer(**conf)
    tp = TopicPartition(req['topic'], 0)
    c.assign([tp])
    c.seek(tp, 0)
    values = []
    deadline = time.time() + 20
    while len(values) < req['count'] and time.time() < deadline:
        for recs in c.poll(timeout_ms=500).values():
            values.extend(r.value.decode() for r in recs)
    c.close()
    return {'consumed': values}


def main():
    req = read_request()
    try:
        out = confluent(req) if req['client'] == 'confluent' else kafka_python(req)
    except Exception as e:  # reported to the test, which shows it
        out = {'error': '%s: %s' % (type(e).__name__, e)}
    emit(out)


main()
