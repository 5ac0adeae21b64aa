// Hand-rolled SVG line charts (no dependency): throughput and latency percentiles over time, and latency
// distributions drawn as a percentile spectrum (x: the fraction of requests on a "nines" scale, 50% … 99.99%;
// y: latency, log scale), which shows the tail a linear CDF hides.

export interface Series {
  name: string;
  points: [number, number][];
  /** Dashed line (e.g. a target or a limit). */
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** x values are fractions (0..1) drawn on a nines scale. */
  ninesX?: boolean;
  width?: number;
  height?: number;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(min: number, max: number, count = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${(v / 1e3).toPrecision(3)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

const nines = (f: number) => -Math.log10(Math.max(1e-6, 1 - Math.min(f, 0.999999)));

export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 400;
  const m = { l: 70, r: 20, t: 40, b: 50 + 18 * Math.ceil(spec.series.length / 3) };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const tx = (x: number) => (spec.ninesX ? nines(x) : x);
  const pts = spec.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0));
  let [x0, x1] = [Math.min(...pts.map((p) => tx(p[0]))), Math.max(...pts.map((p) => tx(p[0])))];
  let [y0, y1] = [Math.min(0, ...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (pts.length === 0) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (spec.ninesX) [x0, x1] = [Math.min(x0, nines(0.5)), Math.max(x1, nines(0.99))];
  if (x1 <= x0) x1 = x0 + 1;
  let ly0 = 0;
  let ly1 = 0;
  if (spec.logY) {
    const pos = pts.map((p) => p[1]).filter((v) => v > 0);
    ly0 = Math.floor(Math.log10(Math.min(...pos, 1)));
    ly1 = Math.ceil(Math.log10(Math.max(...pos, 10)));
    if (ly1 <= ly0) ly1 = ly0 + 1;
  } else {
    y1 = y1 <= y0 ? y0 + 1 : y1 * 1.05;
  }
  const sx = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => (spec.logY ? m.t + ph - ((Math.log10(y) - ly0) / (ly1 - ly0)) * ph : m.t + ph - ((y - y0) / (y1 - y0)) * ph);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${esc(spec.title)}</text>`);
  // Grid and ticks.
  const yTicks = spec.logY ? Array.from({ length: ly1 - ly0 + 1 }, (_, i) => 10 ** (ly0 + i)) : niceTicks(y0, y1);
  for (const t of yTicks) {
    const y = sy(t);
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
  }
  const xTicks = spec.ninesX ? [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999].filter((f) => nines(f) <= x1 + 1e-9) : niceTicks(x0, x1);
  for (const t of xTicks) {
    const x = spec.ninesX ? m.l + ((nines(t) - x0) / (x1 - x0)) * pw : sx(t);
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#eee"/>`);
    out.push(
      `<text x="${x.toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${spec.ninesX ? `${Number((t * 100).toPrecision(6))}%` : label(t)}</text>`,
    );
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${m.t + ph + 34}" text-anchor="middle">${esc(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = palette[i % palette.length]!;
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!spec.logY || y > 0));
    if (p.length > 0) {
      const d = p.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    const lx = m.l + (i % 3) * (pw / 3);
    const ly = m.t + ph + 50 + Math.floor(i / 3) * 18;
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    out.push(`<text x="${lx + 22}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
