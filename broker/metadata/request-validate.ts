// Request validation shared by every metadata store (the engine behind the embedded and in-memory stores, and the
// etcd store): one set of rules, limits and messages. For etcd it runs on the client, so that a malformed or
// oversized request is an InvalidMetadataRequestError before it reaches etcd, whose own answer (InvalidArgument)
// would otherwise have to be parsed. The etcd server still
// enforces its limits (--max-txn-ops, --max-request-bytes); its refusals map to the same error (etcd.ts).

import { InvalidMetadataRequestError } from './errors.ts';
import type { MetadataLimits } from './limits.ts';
import type { Compare, Op, WatchEvent } from './store.ts';

export type RequestLimits = Pick<
  MetadataLimits,
  'maxKeyBytes' | 'maxValueBytes' | 'maxTxnOps' | 'maxTxnBytes' | 'minLeaseTtlMs' | 'maxLeaseTtlMs'
>;

function invalid(message: string): InvalidMetadataRequestError {
  return new InvalidMetadataRequestError(message);
}

function checkText(text: string, what: string, maxBytes: number): void {
  // Lone surrogates have no UTF-8 encoding: storing one would silently turn it into U+FFFD.
  if (!text.isWellFormed()) throw invalid(`${what} is not well-formed Unicode (lone surrogate)`);
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) throw invalid(`${what} is ${bytes} bytes, over the limit of ${maxBytes}`);
}

export function checkKey(limits: RequestLimits, key: unknown, what: string): asserts key is string {
  if (typeof key !== 'string' || key === '') throw invalid(`${what} must be a non-empty string`);
  checkText(key, what, limits.maxKeyBytes);
}

export function checkPrefix(limits: RequestLimits, prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw invalid('prefix must be a string');
  checkText(prefix, 'prefix', limits.maxKeyBytes);
}

export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw invalid(`limit must be a non-negative integer, got ${limit}`);
}

export function checkLeaseTtl(limits: RequestLimits, ttlMs: number): void {
  const { minLeaseTtlMs, maxLeaseTtlMs } = limits;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < minLeaseTtlMs || ttlMs > maxLeaseTtlMs) {
    throw invalid(`lease TTL must be an integer from ${minLeaseTtlMs} to ${maxLeaseTtlMs} ms, got ${ttlMs}`);
  }
}

export function checkWatch(limits: RequestLimits, prefix: unknown, fromRevision: number, onEvents: (events: WatchEvent[]) => void): void {
  checkPrefix(limits, prefix);
  if (!Number.isSafeInteger(fromRevision)) throw invalid(`fromRevision must be an integer, got ${fromRevision}`);
  if (typeof onEvents !== 'function') throw invalid('onEvents must be a function');
}

/** The engine's transaction rules: sizes, operand types, and no key both put and deleted (or put twice) per branch. */
export function checkTxn(limits: RequestLimits, compares: Compare[], success: Op[], failure: Op[]): void {
  const { maxTxnOps, maxTxnBytes, maxValueBytes } = limits;
  for (const [what, list] of [
    ['compares', compares],
    ['success', success],
    ['failure', failure],
  ] as const) {
    if (!Array.isArray(list)) throw invalid(`${what} must be an array`);
    if (list.length > maxTxnOps) throw invalid(`${what} has ${list.length} entries, over the limit of ${maxTxnOps}`);
  }
  let bytes = 0;
  for (const c of compares) {
    checkKey(limits, c?.key, 'compare key');
    bytes += Buffer.byteLength(c.key);
    if (c.target === 'value') {
      if (c.op !== '=' && c.op !== '!=') throw invalid(`compare op ${String(c.op)} is not valid for a value`);
      if (typeof c.value !== 'string') throw invalid('a value compare needs a string value');
      checkText(c.value, 'compare value', maxValueBytes);
      bytes += Buffer.byteLength(c.value);
    } else if (c.target === 'modRevision' || c.target === 'createRevision' || c.target === 'version') {
      if (!['=', '!=', '<', '>'].includes(c.op)) throw invalid(`compare op ${String(c.op)} is not valid`);
      if (!Number.isSafeInteger(c.value)) throw invalid(`a ${c.target} compare needs an integer value`);
    } else {
      throw invalid(`compare target ${String((c as { target: unknown }).target)} is not valid`);
    }
  }
  for (const ops of [success, failure]) {
    const puts = new Set<string>();
    const deletes = new Set<string>();
    const deletePrefixes: string[] = [];
    for (const op of ops) {
      switch (op?.type) {
        case 'put':
          checkKey(limits, op.key, 'put key');
          if (typeof op.value !== 'string') throw invalid(`put of ${op.key} needs a string value`);
          checkText(op.value, `value of ${op.key}`, maxValueBytes);
          if (op.lease !== undefined && (!Number.isSafeInteger(op.lease) || op.lease < 0)) {
            throw invalid(`lease of ${op.key} must be a non-negative integer`);
          }
          if (puts.has(op.key)) throw invalid(`duplicate key ${op.key} in one transaction branch`);
          puts.add(op.key);
          bytes += Buffer.byteLength(op.key) + Buffer.byteLength(op.value);
          break;
        case 'delete':
          checkKey(limits, op.key, 'delete key');
          deletes.add(op.key);
          bytes += Buffer.byteLength(op.key);
          break;
        case 'deletePrefix':
          checkPrefix(limits, op.prefix);
          deletePrefixes.push(op.prefix);
          bytes += Buffer.byteLength(op.prefix);
          break;
        default:
          throw invalid(`operation type ${String((op as { type?: unknown } | null)?.type)} is not valid`);
      }
    }
    // As etcd: a key may not be both put and deleted in one branch (deletes may overlap each other).
    for (const key of puts) {
      if (deletes.has(key) || deletePrefixes.some((p) => key.startsWith(p))) {
        throw invalid(`key ${key} is both put and deleted in one transaction branch`);
      }
    }
  }
  if (bytes > maxTxnBytes) throw invalid(`transaction is ${bytes} bytes, over the limit of ${maxTxnBytes}`);
}
