/**
 * A time chart on uPlot: the range the page chose (live, following now), drag to zoom in,
 * double-click to go back to the range; resizes with its box; colours from the theme.
 */
import uPlot from "uplot";
import { clock, dateTime } from "./format.js";
import { cssVar } from "./theme.js";

/** 24-hour ticks: seconds only when ticks are seconds apart, the date when they are days apart. */
function timeTick(ms: number, incrMs: number): string {
  if (incrMs >= 86_400_000) {
    const d = new Date(ms);
    return `${d.getMonth() + 1}/${d.getDate()}`;
  }
  return clock(ms, incrMs < 60_000);
}

export interface SeriesSpec {
  label: string;
  stroke: string;
  fill?: string;
  dash?: number[];
  width?: number;
  /** The legend's value at a data index (e.g. the raw value of a stacked series). */
  legend?: (idx: number) => string;
}

/** A horizontal line across the whole plot (capacity, an alert threshold), labelled at its right end. */
export interface HLine {
  value: number;
  label: string;
  stroke: string;
  dash?: number[];
}

export interface ChartOptions {
  height: number;
  /** Tick and legend labels of the y axis. */
  yFormat: (v: number) => string;
  series: SeriesSpec[];
  /** Fill between two series (1-based uPlot indexes, upper first): how stacks are drawn. */
  bands?: Array<{ series: [number, number]; fill: string }>;
  /** The y axis reaches at least this far (so small values do not fill the chart). */
  yAtLeast: number;
  /** …and never further than this. */
  yAtMost?: number;
  hlines?: HLine[];
  /** Charts with the same key share the cursor. */
  syncKey?: string;
  ariaLabel: string;
}

export class TimeChart {
  readonly el: HTMLDivElement;
  private readonly u: uPlot;
  private from = 0;
  private to = 1;
  private userZoom = false;
  private readonly ro: ResizeObserver;
  /** The y axis reaches at least this far (may change, e.g. with the host's capacity). */
  yAtLeast: number;

  constructor(
    parent: HTMLElement,
    private readonly o: ChartOptions,
  ) {
    this.yAtLeast = o.yAtLeast;
    this.el = document.createElement("div");
    this.el.className = "chart";
    this.el.setAttribute("role", "img");
    this.el.setAttribute("aria-label", o.ariaLabel);
    parent.appendChild(this.el);
    const axis = cssVar("--muted");
    const grid = cssVar("--grid");
    const font = `12px ${cssVar("--font") || "system-ui, sans-serif"}`;
    const opts: uPlot.Options = {
      width: Math.max(200, this.el.clientWidth || parent.clientWidth || 600),
      height: o.height,
      cursor: {
        drag: { x: true, y: false, setScale: true },
        ...(o.syncKey ? { sync: { key: o.syncKey } } : {}),
      },
      legend: { live: true },
      scales: {
        x: { time: true, range: (_u, min, max) => (this.userZoom ? [min, max] : [this.from / 1000, this.to / 1000]) },
        y: {
          range: (_u, _min, max) => {
            const top = Math.max(this.yAtLeast, (Number.isFinite(max) ? max : 0) * 1.1);
            return [0, o.yAtMost !== undefined ? Math.min(o.yAtMost, top) : top];
          },
        },
      },
      axes: [
        {
          stroke: axis,
          font,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u, splits, _ai, _space, incr) => splits.map((s) => timeTick(s * 1000, incr * 1000)),
        },
        {
          stroke: axis,
          font,
          size: 56,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          values: (_u, vals) => vals.map((v) => o.yFormat(v)),
        },
      ],
      series: [
        {
          label: "time",
          value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? "–" : dateTime(v * 1000)),
        },
        ...o.series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.stroke,
          width: s.width ?? 1.5,
          points: { show: false },
          ...(s.fill ? { fill: s.fill } : {}),
          ...(s.dash ? { dash: s.dash } : {}),
          value: (_u: uPlot, v: number | null, _si: number, idx: number | null) =>
            s.legend ? (idx === null ? "–" : s.legend(idx)) : v === null || v === undefined ? "–" : o.yFormat(v),
        })),
      ],
      ...(o.bands ? { bands: o.bands.map((b) => ({ series: b.series, fill: b.fill })) } : {}),
      hooks: {
        draw: [(u: uPlot) => this.drawHLines(u)],
        setSelect: [
          (u: uPlot) => {
            if (u.select.width > 2) this.userZoom = true;
          },
        ],
      },
    };
    this.u = new uPlot(opts, [[], ...o.series.map(() => [])], this.el);
    this.u.over.addEventListener("dblclick", () => {
      this.userZoom = false;
      this.u.setScale("x", { min: this.from / 1000, max: this.to / 1000 });
    });
    this.ro = new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (w > 0 && Math.abs(w - this.u.width) > 1) this.u.setSize({ width: w, height: o.height });
    });
    this.ro.observe(this.el);
  }

  private drawHLines(u: uPlot): void {
    const lines = this.o.hlines ?? [];
    if (lines.length === 0) return;
    const ctx = u.ctx;
    const dpr = window.devicePixelRatio || 1;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.font = `${Math.round(11 * dpr)}px ${cssVar("--font") || "system-ui, sans-serif"}`;
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    for (const l of lines) {
      const y = Math.round(u.valToPos(l.value, "y", true)) + 0.5;
      if (y < top || y > top + height + 1) continue;
      ctx.strokeStyle = l.stroke;
      ctx.fillStyle = l.stroke;
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash((l.dash ?? []).map((d) => d * dpr));
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
      ctx.fillText(l.label, left + width - 4 * dpr, y - 2 * dpr);
    }
    ctx.restore();
  }

  /** x in ms; one array per series, null where there is no value. */
  setData(xMs: readonly number[], ys: ReadonlyArray<ReadonlyArray<number | null>>, fromMs: number, toMs: number): void {
    this.from = fromMs;
    this.to = toMs;
    const data: uPlot.AlignedData = [xMs.map((t) => t / 1000), ...ys.map((y) => [...y])];
    this.u.setData(data, !this.userZoom);
    // Without the pointer on the chart, the legend shows the newest values.
    const n = xMs.length;
    if (n > 0 && !(this.u.cursor.left !== undefined && this.u.cursor.left >= 0)) this.u.setLegend({ idx: n - 1 });
  }

  destroy(): void {
    this.ro.disconnect();
    this.u.destroy();
    this.el.remove();
  }
}
