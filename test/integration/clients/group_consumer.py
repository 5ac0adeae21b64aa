# A consumer group member for the group tests: subscribes to one topic in a group, consumes and commits each
# record's next offset synchronously, reports its assignment at the wall-clock time `report_at` (the same for
# every member of a run, so all of them are still in the group then) and closes at `close_at`.
# Request (JSON on stdin): {"client": "confluent" | "kafka-python", "bootstrap", "topic", "group", "assignor",
# "report_at", "close_at" (epoch seconds), "instance_id" (optional)}. Output (JSON lines): {"p", "o"} per
# record and one {"assigned": [...]}.
import time

from common import emit, read_request


def run_confluent(req):
    from confluent_kafka import Consumer
    conf = {
        'bootstrap.servers': req['bootstrap'], 'group.id': req['group'], 'auto.offset.reset': 'earliest',
        'enable.auto.commit': False, 'partition.assignment.strategy': req['assignor'],
        'session.timeout.ms': 6000, 'heartbeat.interval.ms': 300, 'topic.metadata.refresh.interval.ms': 1000,
    }
    if req.get('instance_id'):
        conf['group.instance.id'] = req['instance_id']
    c = Consumer(conf)
    assigned = set()

    def on_assign(_c, parts):
        assigned.update(p.partition for p in parts)

    def on_revoke(_c, parts):
        assigned.difference_update(p.partition for p in parts)

    c.subscribe([req['topic']], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
    reported = False
    while time.time() < req['close_at']:
        if not reported and time.time() >= req['report_at']:
            emit({'assigned': sorted(assigned)})
            reported = True
        m = c.poll(0.1)
        if m is None or m.error():
            continue
        emit({'p': m.partition(), 'o': m.offset()})
        c.commit(message=m, asynchronous=False)
    if not reported:
        emit({'assigned': sorted(assigned)})
    c.close()


def run_kafka_python(req):
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
    assignors = {'range': RangePartitionAssignor, 'roundrobin': RoundRobinPartitionAssignor, 'sticky': StickyPartitionAssignor}
    c = KafkaConsumer(
        bootstrap_servers=req['bootstrap'], group_id=req['group'], auto_offset_reset='earliest', enable_auto_commit=False,
        partition_assignment_strategy=[assignors[req['assignor']]], session_timeout_ms=6000, heartbeat_interval_ms=300,
        metadata_max_age_ms=1000,
    )
    c.subscribe([req['topic']])
    reported = False
    while time.time() < req['close_at']:
        if not reported and time.time() >= req['report_at']:
            emit({'assigned': sorted(tp.partition for tp in c.assignment())})
            reported = True
        batches = c.poll(timeout_ms=100)
        for tp, msgs in batches.items():
            for m in msgs:
                emit({'p': m.partition, 'o': m.offset})
                c.commit({tp: OffsetAndMetadata(m.offset + 1, None)})
    if not reported:
        emit({'assigned': sorted(tp.partition for tp in c.assignment())})
    c.close()


if __name__ == '__main__':
    r = read_request()
    (run_confluent if r['client'] == 'confluent' else run_kafka_python)(r)
