# Shared by the Python client drivers: the request comes as one JSON document on stdin; results go to stdout as
# JSON lines. Records are described as {"k": key, "v": value, "h": [[name, value], ...], "p": partition,
# "ts": timestamp ms}; a large value may be given as {"vsize": n, "vfill": "x"} (the value is vfill * n, cut to
# n bytes) so the request stays small. Consumed values longer than 4096 bytes are reported as vlen + vsha256.
import hashlib
import json
import sys

BIG = 4096


def read_request():
    return json.loads(sys.stdin.read())


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(',', ':')) + '\n')


def value_of(rec):
    if 'vsize' in rec:
        fill = rec.get('vfill', 'x').encode()
        n = rec['vsize']
        return (fill * (n // len(fill) + 1))[:n]
    v = rec.get('v')
    return None if v is None else v.encode()


def key_of(rec):
    k = rec.get('k')
    return None if k is None else k.encode()


def headers_of(rec):
    return [(n, None if v is None else v.encode()) for n, v in rec.get('h', [])]


def text(b):
    if b is None:
        return None
    if isinstance(b, str):
        return b
    return b.decode('utf-8', errors='replace')


def consumed(p, o, k, v, headers, ts, ts_type):
    out = {'p': p, 'o': o, 'k': text(k), 'h': [[n, text(hv)] for n, hv in (headers or [])], 'ts': ts, 'tst': ts_type}
    if v is not None and len(v) > BIG:
        out['vlen'] = len(v)
        out['vsha256'] = hashlib.sha256(v).hexdigest()
    else:
        out['v'] = text(v)
    return out
