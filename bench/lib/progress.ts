// A progress bar on stderr. On a terminal it redraws one line (\r) at most 5 times a second; otherwise (a pipe,
// a log file) it prints a line every 10 s, so logs stay readable. Never on stdout: the tables stay clean.
const isTty = process.stderr.isTTY === true;
const width = 28;

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly unit: string;
  private readonly started = performance.now();
  private lastDraw = 0;
  private done = 0;
  private extra = '';
  private finished = false;

  constructor(label: string, total: number, unit: string) {
    this.label = label;
    this.total = Math.max(total, 1e-9);
    this.unit = unit;
    this.draw(true);
  }

  /** `done` in the same unit as `total`; `extra` is shown after the bar (e.g. a live rate). */
  update(done: number, extra = ''): void {
    this.done = done;
    this.extra = extra;
    this.draw(false);
  }

  end(extra = ''): void {
    if (this.finished) return;
    this.done = this.total;
    this.extra = extra || this.extra;
    this.draw(true);
    if (isTty) process.stderr.write('\n');
    this.finished = true;
  }

  private draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < (isTty ? 200 : 10_000)) return;
    this.lastDraw = now;
    const frac = Math.min(1, Math.max(0, this.done / this.total));
    const filled = Math.round(frac * width);
    const secs = ((now - this.started) / 1000).toFixed(0);
    const line =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.label} ` +
      `${fmtN(this.done)}/${fmtN(this.total)} ${this.unit} ${secs}s ${this.extra}`;
    if (isTty) process.stderr.write(`\r${line.slice(0, (process.stderr.columns ?? 120) - 1).padEnd((process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(`${line}\n`);
  }
}

function fmtN(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** Sleeps `ms` while a bar counts the seconds. */
export async function waitWithProgress(label: string, ms: number): Promise<void> {
  const bar = new Progress(label, ms / 1000, 's');
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, Math.min(250, ms - (performance.now() - t0))));
    bar.update((performance.now() - t0) / 1000);
  }
  bar.end();
}
