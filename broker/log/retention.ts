// Time and size retention (retention.ms, retention.bytes) of one partition's log.
import type { PartitionLog } from './partition-log.ts';

/**
 * Where the log should start after time and size retention: past every leading extent that is expired or that
 * the log can lose and still hold `retentionBytes`; the current log start when none goes (negative settings
 * are unlimited).
 */
export function retainedLogStart(log: PartitionLog, retentionMs: number, retentionBytes: number, nowMs: number): number {
  let size = 0;
  for (const e of log.extents) if (e.lastOffset >= log.logStartOffset) size += e.lengthBytes;
  let newStart = log.logStartOffset;
  for (const e of log.extents) {
    if (e.lastOffset < log.logStartOffset) continue;
    const expired = retentionMs >= 0 && e.maxTimestamp >= 0 && e.maxTimestamp < nowMs - retentionMs;
    const oversize = retentionBytes >= 0 && size - e.lengthBytes >= retentionBytes;
    if (!expired && !oversize) break;
    size -= e.lengthBytes;
    newStart = e.lastOffset + 1;
  }
  return newStart;
}
