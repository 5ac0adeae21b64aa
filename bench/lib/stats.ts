// Latency samples and time series: quantiles, per-second buckets and CDF points, for tables, JSON and charts.

/** The q-quantile (0..1) of sorted values (nearest rank); NaN when empty. */
export function quantileSorted(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function sortedCopy(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function percentiles(values: number[]): Percentiles {
  const s = sortedCopy(values);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    p50: quantileSorted(s, 0.5),
    p99: quantileSorted(s, 0.99),
    p999: quantileSorted(s, 0.999),
    max: s.length ? s[s.length - 1]! : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

/** One event of a time series: when it completed (ms since the phase started), its latency, its bytes. */
export interface Sample {
  atMs: number;
  latencyMs: number;
  bytes: number;
}

export interface SecondBucket {
  second: number;
  mibPerSec: number;
  count: number;
  p50: number;
  p99: number;
  p999: number;
}

/** Per-`bucketMs` throughput (MiB/s of `bytes`) and latency percentiles. */
export function perSecond(samples: Sample[], bucketMs = 1000): SecondBucket[] {
  if (samples.length === 0) return [];
  const last = Math.max(...samples.map((s) => s.atMs));
  const n = Math.floor(last / bucketMs) + 1;
  const lat: number[][] = Array.from({ length: n }, () => []);
  const bytes = new Array<number>(n).fill(0);
  for (const s of samples) {
    const i = Math.min(n - 1, Math.max(0, Math.floor(s.atMs / bucketMs)));
    lat[i]!.push(s.latencyMs);
    bytes[i]! += s.bytes;
  }
  return lat.map((l, i) => {
    const sorted = sortedCopy(l);
    return {
      second: ((i + 1) * bucketMs) / 1000,
      mibPerSec: bytes[i]! / 2 ** 20 / (bucketMs / 1000),
      count: l.length,
      p50: quantileSorted(sorted, 0.5),
      p99: quantileSorted(sorted, 0.99),
      p999: quantileSorted(sorted, 0.999),
    };
  });
}

/** Points of the empirical CDF (latency, fraction ≤ it), thinned to at most `maxPoints`, tail kept. */
export function cdfPoints(values: number[], maxPoints = 400): [number, number][] {
  const s = sortedCopy(values);
  if (s.length === 0) return [];
  const out: [number, number][] = [];
  // Denser towards the tail: fractions 1 - 10^(-k*t).
  for (let i = 0; i < maxPoints; i++) {
    const f = 1 - 10 ** (-4 * (i / (maxPoints - 1)));
    const idx = Math.min(s.length - 1, Math.floor(f * s.length));
    out.push([s[idx]!, (idx + 1) / s.length]);
  }
  out.push([s[s.length - 1]!, 1]);
  return out;
}

/** The median (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const s = sortedCopy(values);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
