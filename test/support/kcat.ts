// kcat (librdkafka) as a producer and an assign-mode consumer. kcat sends one fixed set of headers (-H) with
// every record of a run; keys and values are given one record a line, key TAB value.
import { kcat } from './run.ts';
import type { RunResult } from './run.ts';
import type { ConsumedRecord, TestRecord } from './records.ts';
import { valueBytes, bigThreshold } from './records.ts';
import { createHash } from 'node:crypto';

export interface KcatProduceOptions {
  codec?: string;
  headers?: [string, string][];
  /** Extra -X properties. */
  props?: Record<string, string | number>;
  partition?: number;
  timeoutMs?: number;
}

export function kcatProduce(bootstrap: string, topic: string, records: TestRecord[], opts: KcatProduceOptions = {}): Promise<RunResult> {
  const args = ['-b', bootstrap, '-P', '-t', topic, '-K', '\t', '-X', 'enable.idempotence=false', '-X', 'linger.ms=5'];
  if (opts.codec) args.push('-z', opts.codec);
  if (opts.partition !== undefined) args.push('-p', String(opts.partition));
  for (const [k, v] of opts.headers ?? []) args.push('-H', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.props ?? {})) args.push('-X', `${k}=${v}`);
  if (records.some((r) => r.p !== undefined && r.p !== opts.partition))
    throw new Error('kcat sends a run to one partition: give it as opts.partition');
  const lines: Buffer[] = [];
  for (const r of records) {
    const v = valueBytes(r);
    if (v && (v.includes(0x0a) || v.includes(0x09))) throw new Error('kcat records cannot hold tabs or newlines');
    lines.push(Buffer.from(`${r.k ?? ''}\t`), v ?? Buffer.alloc(0), Buffer.from('\n'));
  }
  return kcat(args, { input: Buffer.concat(lines), timeoutMs: opts.timeoutMs ?? 60_000 });
}

interface KcatJson {
  partition: number;
  offset: number;
  tstype: string;
  ts: number;
  headers?: string[];
  key: string | null;
  payload: string | null;
}

/** Consumes partitions of `topic` from `offset` (a kcat -o value) to their end (-e). */
export async function kcatConsume(
  bootstrap: string,
  topic: string,
  partitions: number[],
  opts: { offset?: string; timeoutMs?: number; count?: number } = {},
): Promise<{ run: RunResult; records: ConsumedRecord[] }> {
  const records: ConsumedRecord[] = [];
  let last: RunResult | undefined;
  for (const p of partitions) {
    const args = [
      '-b',
      bootstrap,
      '-C',
      '-t',
      topic,
      '-p',
      String(p),
      '-o',
      opts.offset ?? 'beginning',
      '-e',
      '-J',
      '-X',
      'fetch.message.max.bytes=2000000',
    ];
    if (opts.count !== undefined) args.push('-c', String(opts.count));
    const r = await kcat(args, { timeoutMs: opts.timeoutMs ?? 60_000 });
    last = r;
    if (r.code !== 0) return { run: r, records };
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line) as KcatJson;
      const h: [string, string][] = [];
      for (let i = 0; i + 1 < (j.headers?.length ?? 0); i += 2) h.push([j.headers![i]!, j.headers![i + 1]!]);
      const c: ConsumedRecord = {
        p: j.partition,
        o: j.offset,
        k: j.key,
        h,
        ts: j.ts,
        tst: j.tstype === 'create' ? 0 : j.tstype === 'logappend' ? 1 : -1,
      };
      if (j.payload !== null && Buffer.byteLength(j.payload) > bigThreshold) {
        const b = Buffer.from(j.payload);
        c.vlen = b.length;
        c.vsha256 = createHash('sha256').update(b).digest('hex');
      } else c.v = j.payload;
      records.push(c);
    }
  }
  return { run: last!, records };
}
