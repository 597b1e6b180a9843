// The stats panel and the latency plot: measured delay, fps in and out, inference percentiles,
// result coverage.

const WINDOW_MS = 30_000;

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

export class Stats {
  constructor() { this.reset(); }

  reset() {
    this.samples = []; // {at, delay, inference, exact}
    this.framesIn = { at: 0, count: 0, fps: 0 };
  }

  /** One displayed frame: its measured delay (ms, or NaN) and its result, if any. */
  frameShown(at, delay, result, exact) {
    this.samples.push({ at, delay, inference: exact ? result?.timings?.inference : undefined, exact });
    while (this.samples.length && this.samples[0].at < at - WINDOW_MS) this.samples.shift();
  }

  /** Frames in so far: the publisher's encoder's (outbound-rtp framesEncoded), a viewer's received. */
  recordFramesIn(at, count) {
    const last = this.framesIn;
    if (last.at && at > last.at) last.fps = ((count - last.count) * 1000) / (at - last.at);
    last.at = at;
    last.count = count;
  }

  summary(now) {
    const recent = this.samples.filter((s) => s.at > now - 5_000);
    const delays = recent.map((s) => s.delay).filter(Number.isFinite);
    const inference = this.samples.map((s) => s.inference).filter(Number.isFinite);
    return {
      delay: delays.length ? delays[delays.length - 1] : NaN,
      fpsIn: this.framesIn.fps,
      fpsOut: recent.length / 5,
      inferenceP50: percentile(inference, 50),
      inferenceP95: percentile(inference, 95),
      coverage: this.samples.length ? this.samples.filter((s) => s.exact).length / this.samples.length : NaN,
    };
  }

  plot(canvas, now) {
    const ctx = canvas.getContext('2d');
    const { width, height } = canvas;
    ctx.clearRect(0, 0, width, height);
    const maxMs = Math.max(500, ...this.samples.map((s) => (Number.isFinite(s.delay) ? s.delay : 0))) * 1.1;
    const line = (key, colour) => {
      ctx.strokeStyle = colour;
      ctx.beginPath();
      let started = false;
      for (const s of this.samples) {
        const v = s[key];
        if (!Number.isFinite(v)) continue;
        const x = width - ((now - s.at) / WINDOW_MS) * width;
        const y = height - (v / maxMs) * height;
        started ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
        started = true;
      }
      ctx.stroke();
    };
    line('delay', '#4af');
    line('inference', '#fa4');
    ctx.fillStyle = '#777';
    ctx.font = '10px system-ui, sans-serif';
    ctx.fillText(`${maxMs.toFixed(0)} ms`, 4, 12);
  }
}

/** Fills the stats panel (the `stat-*` elements and the `plot` canvas, found with `$`) for `view`. */
export function showPanel(view, now, $) {
  const s = view.stats.summary(now);
  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '–');
  $('stat-delay').textContent = ms(s.delay);
  $('stat-fps').textContent = `${s.fpsIn.toFixed(0)} / ${s.fpsOut.toFixed(0)}`;
  $('stat-infer').textContent = `${ms(s.inferenceP50)} / ${ms(s.inferenceP95)}`;
  $('stat-coverage').textContent = Number.isFinite(s.coverage) ? `${(s.coverage * 100).toFixed(1)} %` : '–';
  const last = view.frames[view.frames.length - 1];
  $('stat-status').textContent = last ? last.status ?? 'no message' : '–';
  view.stats.plot($('plot'), now);
}
