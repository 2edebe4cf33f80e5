/**
 * Heatmap: one row per running VM, time across, colour = steal. Red-orange is contention (other
 * load), violet is throttling (the VM's own cap); mixed waiting mixes the two. Drag or the
 * arrows pan, Ctrl+wheel or +/− zoom, double-click or "Whole range" resets; a row click opens the VM.
 */
import { platformText, vmMatches, type DomainNow } from "../api.js";
import { h, replace, setText, syncKeyed } from "../dom.js";
import { clock, dateTime, pct } from "../format.js";
import { combine, domainKey, type Pt } from "../series.js";
import { cssVar, rgb } from "../theme.js";
import { emptyState, timeWindow, updateHistoryNote, vmHash, type View, type ViewContext } from "./common.js";

const ROW_H = 24;
const CELL_W = 4; // CSS px per column
/** Steal → colour intensity: piecewise linear over these stops, so 1 % is visible and 50 % is full. */
const STOPS: ReadonlyArray<[number, number]> = [
  [0, 0],
  [0.01, 0.18],
  [0.05, 0.45],
  [0.2, 0.75],
  [0.5, 1],
];

export function intensity(steal: number): number {
  if (!(steal > 0)) return 0;
  for (let i = 1; i < STOPS.length; i++) {
    const [x1, y1] = STOPS[i] ?? [1, 1];
    const [x0, y0] = STOPS[i - 1] ?? [0, 0];
    if (steal <= x1) return y0 + ((steal - x0) / (x1 - x0)) * (y1 - y0);
  }
  return 1;
}

export interface Palette {
  zero: [number, number, number];
  contention: [number, number, number];
  throttled: [number, number, number];
  axis: string;
  grid: string;
}

export function cellColour(p: Palette, steal: number, throttled: number): string {
  const k = intensity(steal);
  const f = steal > 0 ? Math.min(1, Math.max(0, throttled / steal)) : 0;
  const c = [0, 1, 2].map((i) => {
    const hue = (p.contention[i] ?? 0) * (1 - f) + (p.throttled[i] ?? 0) * f;
    return Math.round((p.zero[i] ?? 0) * (1 - k) + hue * k);
  });
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

interface Cell {
  steal: number;
  contention: number;
  throttled: number;
  usage: number;
}

/**
 * Time-weighted means per column: a point stands for the interval before it (since the previous
 * point, or one typical step), so sparse data does not leave stripes and dense data averages.
 */
export function bin(pts: readonly Pt[], from: number, to: number, cols: number): Array<Cell | null> {
  const w = (to - from) / cols;
  const acc = Array.from({ length: cols }, () => ({ wt: 0, steal: 0, contention: 0, throttled: 0, usage: 0 }));
  const steps: number[] = [];
  for (let i = 1; i < pts.length; i++) steps.push((pts[i]?.t ?? 0) - (pts[i - 1]?.t ?? 0));
  steps.sort((a, b) => a - b);
  const typical = steps[Math.floor(steps.length / 2)] ?? w;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i];
    if (!p) continue;
    const prev = pts[i - 1];
    const dt = prev && p.t - prev.t <= 3 * typical ? p.t - prev.t : typical;
    const s = Math.max(from, p.t - dt);
    const e = Math.min(to, p.t);
    if (e <= s) continue;
    const c0 = Math.max(0, Math.floor((s - from) / w));
    const c1 = Math.min(cols - 1, Math.floor((e - from) / w));
    for (let c = c0; c <= c1; c++) {
      const cs = from + c * w;
      const overlap = Math.min(e, cs + w) - Math.max(s, cs);
      const a = acc[c];
      if (overlap <= 0 || !a) continue;
      a.wt += overlap;
      a.steal += p.steal * overlap;
      a.contention += p.contention * overlap;
      a.throttled += p.throttled * overlap;
      a.usage += p.usage * overlap;
    }
  }
  return acc.map((a) =>
    a.wt > 0
      ? { steal: a.steal / a.wt, contention: a.contention / a.wt, throttled: a.throttled / a.wt, usage: a.usage / a.wt }
      : null,
  );
}

/** Tick spacing for about `n` labels over `span` ms. */
export function tickStep(span: number, n: number): number {
  const steps = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800].map(
    (s) => s * 1000,
  );
  return steps.find((s) => span / s <= n) ?? 172800_000;
}

interface Row {
  el: HTMLDivElement;
  name: HTMLSpanElement;
  /** Who it is on its platform (Nova instance, Proxmox VMID, KubeVirt namespace/name). */
  platform: HTMLSpanElement;
  now: HTMLSpanElement;
  canvas: HTMLCanvasElement;
  cells: Array<Cell | null>;
  domain: string;
}

type Sort = "steal" | "name";

export class HeatmapView implements View {
  readonly el: HTMLElement;
  private readonly note = h("p", { class: "history-note" });
  private readonly empty = h("div");
  private readonly rowsEl = h("div", { class: "hm-rows", role: "list", "aria-label": "VMs" });
  private readonly axis = document.createElement("canvas");
  private readonly tooltip = h("div", { class: "hm-tooltip", role: "tooltip" });
  private readonly spanLabel = h("span", { class: "hm-span" });
  private readonly rows = new Map<string, Row>();
  private sort: Sort = "steal";
  /** The zoomed window; null = the whole range, following now. */
  private zoom: { from: number; to: number } | null = null;
  private win = { from: 0, to: 1 };
  private range = { from: 0, to: 1 };
  private palette: Palette;
  private drag: { x: number; from: number; to: number; moved: boolean } | null = null;
  private readonly ro: ResizeObserver;

  constructor(private readonly ctx: ViewContext) {
    this.palette = this.readPalette();
    this.axis.className = "hm-axis";
    this.axis.height = 22;
    const btn = (label: string, title: string, fn: () => void): HTMLButtonElement =>
      h("button", { type: "button", class: "btn small", title, "aria-label": title, onclick: fn }, label);
    const sortSel = h(
      "select",
      { class: "small", title: "Order of the rows", "aria-label": "Order of the rows" },
      h("option", null, "most steal first"),
      h("option", null, "by name"),
    );
    sortSel.addEventListener("change", () => {
      this.sort = sortSel.selectedIndex === 1 ? "name" : "steal";
      this.update();
    });
    const filter = h("input", {
      type: "search",
      class: "small hm-filter",
      placeholder: "Filter VMs: name, instance, project…",
      title:
        "Show only VMs whose name, UUID or platform identity (instance, project, namespace, tags) contain these words",
      "aria-label": "Filter VMs",
    });
    filter.addEventListener("input", () => {
      this.filter = filter.value;
      this.update();
    });
    const toolbar = h(
      "div",
      { class: "hm-toolbar" },
      btn("←", "Pan back in time", () => this.pan(-0.25)),
      btn("→", "Pan forward in time", () => this.pan(0.25)),
      btn("−", "Zoom out", () => this.zoomBy(2, this.anchor())),
      btn("+", "Zoom in", () => this.zoomBy(0.5, this.anchor())),
      btn("Whole range", "Show the whole time range, following now", () => this.resetZoom()),
      this.spanLabel,
      h("span", { class: "hm-hint muted" }, "Drag to pan · Ctrl+wheel to zoom · double-click to reset"),
      h("span", { class: "spacer" }),
      filter,
      sortSel,
    );
    const legend = this.legend();
    const body = h(
      "div",
      { class: "hm-body" },
      h("div", { class: "hm-axis-row" }, h("div", { class: "hm-label-head muted" }, "VM · steal now"), this.axis),
      this.rowsEl,
      this.tooltip,
    );
    this.el = h(
      "div",
      { class: "view heatmap-view" },
      h("div", { class: "view-head" }, h("h1", null, "Heatmap"), this.note),
      toolbar,
      legend,
      this.empty,
      body,
    );
    this.tooltip.hidden = true;

    body.addEventListener("pointerdown", (e) => this.onDown(e));
    body.addEventListener("pointermove", (e) => this.onMove(e));
    body.addEventListener("pointerup", (e) => this.onUp(e));
    body.addEventListener("pointercancel", () => (this.drag = null));
    body.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    body.addEventListener("dblclick", () => this.resetZoom());
    body.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.rowsEl);
    this.update();
  }

  private readPalette(): Palette {
    return {
      zero: rgb(cssVar("--hm-zero")),
      contention: rgb(cssVar("--contention")),
      throttled: rgb(cssVar("--throttled")),
      axis: cssVar("--muted"),
      grid: cssVar("--grid"),
    };
  }

  private legend(): HTMLElement {
    const ramp = (kind: "contention" | "throttled", label: string): HTMLElement => {
      const c = document.createElement("canvas");
      c.width = 160;
      c.height = 12;
      c.className = "hm-ramp";
      const g = c.getContext("2d");
      if (g) {
        for (let x = 0; x < 160; x++) {
          const steal = (x / 159) * 0.5;
          g.fillStyle = cellColour(this.palette, steal, kind === "throttled" ? steal : 0);
          g.fillRect(x, 0, 1, 12);
        }
      }
      return h(
        "span",
        { class: "hm-legend-item" },
        h("span", { class: "hm-legend-label" }, label),
        h(
          "span",
          { class: "hm-ramp-box" },
          c,
          h(
            "span",
            { class: "hm-ticks muted" },
            h("span", null, "0"),
            h("span", null, "25 %"),
            h("span", null, "≥ 50 %"),
          ),
        ),
      );
    };
    return h(
      "div",
      { class: "hm-legend" },
      ramp("contention", "Contention (other load)"),
      ramp("throttled", "Throttled (own CPU cap)"),
      h("span", { class: "hm-legend-item" }, h("span", { class: "hm-nodata" }), "no data"),
    );
  }

  private get cellsLeft(): number {
    const r = this.rowsEl.querySelector("canvas")?.getBoundingClientRect();
    return r ? r.left : this.axis.getBoundingClientRect().left;
  }

  private get cellsWidth(): number {
    return Math.max(1, this.axis.clientWidth);
  }

  private timeAt(clientX: number): number {
    const f = Math.min(1, Math.max(0, (clientX - this.cellsLeft) / this.cellsWidth));
    return this.win.from + f * (this.win.to - this.win.from);
  }

  private setZoom(from: number, to: number): void {
    const minSpan = Math.max(30_000, 10 * this.ctx.app.pollMs);
    const full = this.range.to - this.range.from;
    let span = Math.min(full, Math.max(minSpan, to - from));
    if (span >= full - 1) {
      this.zoom = null;
    } else {
      let f = from + (to - from - span) / 2;
      f = Math.min(this.range.to - span, Math.max(this.range.from, f));
      span = Math.min(span, this.range.to - f);
      this.zoom = { from: f, to: f + span };
    }
    this.update();
  }

  private zoomBy(factor: number, at: number): void {
    const { from, to } = this.win;
    const pivot = from + at * (to - from);
    this.setZoom(pivot - (pivot - from) * factor, pivot + (to - pivot) * factor);
  }

  /** Buttons zoom about now while the window shows now (it keeps following), else about its middle. */
  private anchor(): number {
    return this.win.to >= this.range.to - 1 ? 1 : 0.5;
  }

  private pan(fraction: number): void {
    const span = this.win.to - this.win.from;
    this.setZoom(this.win.from + fraction * span, this.win.to + fraction * span);
  }

  private resetZoom(): void {
    this.zoom = null;
    this.update();
  }

  private onWheel(e: WheelEvent): void {
    const inCells = e.clientX >= this.cellsLeft;
    if (!inCells) return;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      const at = (e.clientX - this.cellsLeft) / this.cellsWidth;
      this.zoomBy(e.deltaY > 0 ? 1.25 : 0.8, Math.min(1, Math.max(0, at)));
    } else if (Math.abs(e.deltaX) > Math.abs(e.deltaY) || e.shiftKey) {
      e.preventDefault();
      const d = Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.deltaY;
      this.pan(d / this.cellsWidth);
    }
  }

  private onDown(e: PointerEvent): void {
    if (e.button !== 0 || e.clientX < this.cellsLeft) return;
    this.drag = { x: e.clientX, from: this.win.from, to: this.win.to, moved: false };
  }

  private onMove(e: PointerEvent): void {
    const d = this.drag;
    if (d) {
      const dx = e.clientX - d.x;
      if (Math.abs(dx) > 4) {
        if (!d.moved) (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
        d.moved = true;
      }
      if (d.moved) {
        const dt = (-dx / this.cellsWidth) * (d.to - d.from);
        this.setZoom(d.from + dt, d.to + dt);
        this.tooltip.hidden = true;
        return;
      }
    }
    this.showTooltip(e);
  }

  private onUp(e: PointerEvent): void {
    const d = this.drag;
    this.drag = null;
    if (d?.moved) {
      // A pan is not a click on a row.
      const stop = (ev: Event): void => ev.stopPropagation();
      window.addEventListener("click", stop, { capture: true, once: true });
      setTimeout(() => window.removeEventListener("click", stop, { capture: true }), 0);
      void e;
    }
  }

  private showTooltip(e: PointerEvent): void {
    const target = e.target instanceof Element ? e.target.closest(".hm-row") : null;
    const row = [...this.rows.values()].find((r) => r.el === target);
    if (!row || e.clientX < this.cellsLeft) {
      this.tooltip.hidden = true;
      return;
    }
    const cols = row.cells.length;
    const i = Math.floor(((e.clientX - this.cellsLeft) / this.cellsWidth) * cols);
    const c = row.cells[i];
    const w = (this.win.to - this.win.from) / Math.max(1, cols);
    const t0 = this.win.from + i * w;
    replace(
      this.tooltip,
      h("div", { class: "tt-name" }, row.domain),
      h("div", { class: "muted" }, `${dateTime(t0)} – ${clock(t0 + w)}`),
      c
        ? h(
            "div",
            null,
            h("div", null, `steal ${pct(c.steal)}`),
            h("div", null, `contention ${pct(c.contention)}`),
            h("div", null, `throttled ${pct(c.throttled)}`),
            h("div", null, `usage ${pct(c.usage)}`),
          )
        : h("div", null, "no data"),
    );
    this.tooltip.hidden = false;
    const body = this.tooltip.parentElement ?? this.el;
    const box = body.getBoundingClientRect();
    const x = e.clientX - box.left + 14;
    const flip = x + 220 > box.width;
    this.tooltip.style.left = `${flip ? x - 240 : x}px`;
    // The body scrolls (many VMs): absolute positions count from its content's top.
    this.tooltip.style.top = `${e.clientY - box.top + body.scrollTop + 14}px`;
  }

  private filter = "";

  private order(all: readonly DomainNow[], series: Map<string, Pt[]>): DomainNow[] {
    const domains = all.filter((d) => vmMatches(d, this.filter));
    const mean = (d: DomainNow): number => {
      const s = series.get(domainKey(d)) ?? [];
      return s.length ? s.reduce((a, p) => a + p.steal, 0) / s.length : d.steal;
    };
    const byName = (a: DomainNow, b: DomainNow): number => a.domain.localeCompare(b.domain);
    if (this.sort === "name") return [...domains].sort(byName);
    // Rounded so that rows do not swap places on every poll over noise.
    return [...domains]
      .map((d) => ({ d, m: Math.round(mean(d) * 200) }))
      .sort((a, b) => b.m - a.m || byName(a.d, b.d))
      .map((x) => x.d);
  }

  update(): void {
    const { app } = this.ctx;
    updateHistoryNote(this.note, app);
    const range = timeWindow(app);
    // Follow now: a zoomed window that touched the end keeps touching it.
    if (this.zoom && this.zoom.to >= this.range.to - 1) {
      const shift = range.to - this.range.to;
      this.zoom = { from: this.zoom.from + shift, to: this.zoom.to + shift };
    }
    this.range = range;
    if (this.zoom && (this.zoom.from < range.from || this.zoom.to > range.to)) this.zoom = null;
    this.win = this.zoom ?? range;
    setText(this.spanLabel, `${dateTime(this.win.from)} – ${clock(this.win.to)}${this.zoom ? " (zoomed)" : ""}`);

    const domains = app.snap.domains?.domains ?? [];
    if (app.snap.lastOkMs === null) replace(this.empty, emptyState("Waiting for the agent…"));
    else if (domains.length === 0)
      replace(
        this.empty,
        emptyState(
          "No running VMs found on this host",
          "Every running VM gets a row here as soon as the agent sees it.",
        ),
      );
    else replace(this.empty);

    const hist = app.history.kind === "ok" ? app.history.data.domains : undefined;
    const series = new Map<string, Pt[]>();
    for (const d of domains) {
      const key = domainKey(d);
      series.set(key, combine(hist?.get(key)?.agg, app.live.domains.get(key)?.agg, this.win.from, this.win.to));
    }
    syncKeyed(
      this.rowsEl,
      this.order(domains, series),
      (d) => domainKey(d),
      (d) => this.makeRow(d),
      (row, d) => {
        const r = this.rows.get(domainKey(d));
        if (!r) return;
        if (r.domain !== d.domain) {
          r.domain = d.domain;
          setText(r.name, d.domain);
          row.dataset.domain = d.domain;
        }
        const who = platformText(d.platform);
        setText(r.platform, who);
        row.title = who ? `${d.domain} — ${who}` : d.domain;
        setText(r.now, pct(d.steal));
        r.now.classList.toggle("hot", d.steal >= 0.05);
        r.now.classList.toggle("throttled", d.throttled > d.contention);
        r.now.title = `contention ${pct(d.contention)}, throttled ${pct(d.throttled)}`;
        r.cells = bin(series.get(domainKey(d)) ?? [], this.win.from, this.win.to, this.columns());
      },
      new Map([...this.rows].map(([k, r]) => [k, r.el])),
    );
    for (const k of [...this.rows.keys()]) if (!this.rowsEl.contains(this.rows.get(k)?.el ?? null)) this.rows.delete(k);
    this.draw();
  }

  private columns(): number {
    return Math.max(10, Math.floor(this.cellsWidth / CELL_W));
  }

  private makeRow(d: DomainNow): HTMLDivElement {
    const name = h("span", { class: "hm-name" }, d.domain);
    const platform = h("span", { class: "hm-platform muted" }, platformText(d.platform));
    const now = h("span", { class: "hm-now" });
    const canvas = document.createElement("canvas");
    canvas.className = "hm-cells";
    canvas.height = ROW_H;
    const label = h("a", { class: "hm-label", href: vmHash(d.domain) }, name, platform, now);
    const el = h(
      "div",
      { class: "hm-row", role: "listitem", title: d.domain, data: { domain: d.domain } },
      label,
      canvas,
    );
    el.addEventListener("click", (e) => {
      if (e.target instanceof Element && e.target.closest("a")) return; // the link navigates itself
      const r = this.rows.get(domainKey(d));
      this.ctx.navigate(vmHash(r?.domain ?? d.domain));
    });
    this.rows.set(domainKey(d), { el, name, platform, now, canvas, cells: [], domain: d.domain });
    return el;
  }

  private draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const width = this.cellsWidth;
    const p = this.palette;
    for (const r of this.rows.values()) {
      const sized = clearedCanvas(r.canvas, width, ROW_H, dpr);
      if (!sized) continue;
      const { g, w, hgt } = sized;
      const n = r.cells.length;
      if (n === 0) continue;
      const cw = w / n;
      for (let i = 0; i < n; i++) {
        const cell = r.cells[i];
        if (!cell) continue;
        g.fillStyle = cellColour(p, cell.steal, cell.throttled);
        const x0 = Math.floor(i * cw);
        g.fillRect(x0, Math.round(dpr), Math.ceil((i + 1) * cw) - x0, hgt - 2 * Math.round(dpr));
      }
    }
    this.drawAxis(width, dpr);
  }

  private drawAxis(width: number, dpr: number): void {
    drawTimeAxis(this.axis, width, dpr, this.win, this.palette);
  }

  destroy(): void {
    this.ro.disconnect();
    this.el.remove();
  }
}

/** The time axis under a heatmap: ticks and labels over `win` on a 22 px high canvas. */
export function drawTimeAxis(
  c: HTMLCanvasElement,
  width: number,
  dpr: number,
  win: { from: number; to: number },
  palette: Pick<Palette, "axis" | "grid">,
): void {
  const g = clearedCanvas(c, width, 22, dpr)?.g;
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  const { from, to } = win;
  const span = to - from;
  if (span <= 0) return;
  const step = tickStep(span, Math.max(2, Math.floor(width / 110)));
  const tz = new Date(from).getTimezoneOffset() * 60_000;
  g.font = `11px ${cssVar("--font") || "system-ui, sans-serif"}`;
  g.fillStyle = palette.axis;
  g.strokeStyle = palette.grid;
  g.textBaseline = "middle";
  for (let t = Math.ceil((from - tz) / step) * step + tz; t <= to; t += step) {
    const x = ((t - from) / span) * width;
    g.beginPath();
    g.moveTo(x + 0.5, 16);
    g.lineTo(x + 0.5, 22);
    g.stroke();
    const label = step >= 86_400_000 ? dateTime(t).slice(0, 10) : clock(t, step < 60_000);
    const tw = g.measureText(label).width;
    g.fillText(label, Math.min(width - tw, Math.max(0, x - tw / 2)), 8);
  }
}

/**
 * Sizes a canvas to `cssW` × `cssH` CSS pixels at `dpr` (only when that changed: resizing
 * clears it and costs a reallocation) and clears it. Device pixels, identity transform.
 */
export function clearedCanvas(
  c: HTMLCanvasElement,
  cssW: number,
  cssH: number,
  dpr: number,
): { g: CanvasRenderingContext2D; w: number; hgt: number } | null {
  const w = Math.round(cssW * dpr);
  const hgt = Math.round(cssH * dpr);
  if (c.width !== w || c.height !== hgt) {
    c.width = w;
    c.height = hgt;
  }
  const g = c.getContext("2d");
  if (!g) return null;
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, w, hgt);
  return { g, w, hgt };
}
