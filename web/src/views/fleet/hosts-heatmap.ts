/**
 * The fleet view's hosts × time heatmap: one row per host, colour = how much its vCPUs wait per
 * core the VMs may use (red-orange contention, violet their own caps), a mark where an audit
 * failed, and a tooltip with the figures in cores. A row click selects its host.
 */
import { h, replace, setText, syncKeyed } from "../../dom.js";
import { hostPt, type FleetData, type FleetHost } from "../../fleet.js";
import { clock, cores, cpus, dateTime, pct } from "../../format.js";
import type { Pt } from "../../series.js";
import { cssVar, rgb, withAlpha } from "../../theme.js";
import { emptyState } from "../common.js";
import { bin, cellColour, clearedCanvas, drawTimeAxis, type Palette } from "../heatmap.js";
import { onActivate } from "./widgets.js";

const ROW_H = 26;
const CELL_W = 4;

interface Cell {
  steal: number;
  contention: number;
  throttled: number;
  usage: number;
}

interface Row {
  el: HTMLDivElement;
  name: HTMLSpanElement;
  now: HTMLSpanElement;
  canvas: HTMLCanvasElement;
  host: string;
  capacity: number;
  cells: Array<Cell | null>;
}

export interface HeatmapInput {
  /** Hosts in the order of the rows. */
  hosts: readonly FleetHost[];
  audits: FleetData["audits"];
  /** The time span shown, ms. */
  win: { from: number; to: number };
  /** Whether any answer came from the controller yet. */
  connected: boolean;
  selected: string | null;
}

export class HostsHeatmap {
  readonly el: HTMLElement;
  private readonly rowsEl = h("div", { class: "hm-rows", role: "list", "aria-label": "Hosts" });
  private readonly axis = document.createElement("canvas");
  private readonly tooltip = h("div", { class: "hm-tooltip", role: "tooltip" });
  private readonly span = h("span", { class: "hm-span muted" });
  private readonly empty = h("div");
  private readonly rows = new Map<string, Row>();
  private readonly palette: Palette;
  private readonly ro: ResizeObserver;
  private win = { from: 0, to: 1 };
  private failedAt: number[] = [];

  constructor(private readonly onSelect: (host: string) => void) {
    this.palette = {
      zero: rgb(cssVar("--hm-zero")),
      contention: rgb(cssVar("--contention")),
      throttled: rgb(cssVar("--throttled")),
      axis: cssVar("--muted"),
      grid: cssVar("--grid"),
    };
    this.axis.className = "hm-axis";
    this.tooltip.hidden = true;
    const body = h(
      "div",
      { class: "hm-body fleet-hm" },
      h("div", { class: "hm-axis-row" }, h("div", { class: "hm-label-head muted" }, "Host · waiting now"), this.axis),
      this.rowsEl,
      this.tooltip,
    );
    body.addEventListener("pointermove", (e) => this.showTooltip(e));
    body.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    this.el = h(
      "section",
      { class: "panel fleet-heatmap" },
      h(
        "div",
        { class: "panel-head" },
        h("h2", null, "Hosts × time"),
        this.span,
        h("span", { class: "spacer" }),
        this.legend(),
      ),
      this.empty,
      body,
    );
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.rowsEl);
  }

  private legend(): HTMLElement {
    const ramp = (throttled: boolean, label: string): HTMLElement => {
      const cv = document.createElement("canvas");
      cv.width = 100;
      cv.height = 10;
      cv.className = "hm-ramp small-ramp";
      const g = cv.getContext("2d");
      if (g)
        for (let x = 0; x < 100; x++) {
          const s = (x / 99) * 0.5;
          g.fillStyle = cellColour(this.palette, s, throttled ? s : 0);
          g.fillRect(x, 0, 1, 10);
        }
      return h("span", { class: "hm-legend-item" }, label, cv);
    };
    return h(
      "div",
      { class: "hm-legend" },
      ramp(false, "contention"),
      ramp(true, "own caps"),
      h("span", { class: "hm-legend-item muted" }, "0 → ≥ 50 % of capacity"),
      h("span", { class: "hm-legend-item" }, h("span", { class: "failed-swatch" }), "audit failed"),
    );
  }

  private get cellsWidth(): number {
    return Math.max(1, this.axis.clientWidth);
  }

  update(x: HeatmapInput): void {
    this.win = x.win;
    this.failedAt = x.audits.filter((a) => !a.ok).map((a) => a.time);
    const n = x.audits.length;
    setText(
      this.span,
      n ? `${n} audit${n === 1 ? "" : "s"} kept, ${dateTime(this.win.from)} – ${clock(this.win.to)}` : "",
    );
    if (!x.connected) replace(this.empty, emptyState("Waiting for the controller…"));
    else if (x.hosts.length === 0)
      replace(
        this.empty,
        h("p", { class: "muted" }, "No successful audit yet: each host gets a row after the first one."),
      );
    else replace(this.empty);
    const cols = Math.max(10, Math.floor(this.cellsWidth / CELL_W));
    syncKeyed(
      this.rowsEl,
      x.hosts,
      (host) => `host:${host.name}`,
      (host) => this.makeRow(host),
      (el, host) => {
        const r = this.rows.get(host.name);
        if (!r) return;
        const pts: Pt[] = host.points.map(hostPt);
        r.cells = bin(pts, this.win.from, this.win.to, cols);
        r.capacity = host.capacity;
        const last = pts[pts.length - 1];
        setText(r.now, last ? pct(last.steal) : "–");
        r.now.classList.toggle("hot", (last?.steal ?? 0) >= 0.05);
        r.now.classList.toggle("throttled", (last?.throttled ?? 0) > (last?.contention ?? 0));
        r.now.title = last
          ? `contention ${pct(last.contention)}, throttled ${pct(last.throttled)} of ${cpus(host.capacity)} cores`
          : "no data";
        const sel = x.selected === host.name;
        el.classList.toggle("selected", sel);
        if (sel) el.setAttribute("aria-current", "true");
        else el.removeAttribute("aria-current");
      },
      new Map([...this.rows].map(([k, r]) => [`host:${k}`, r.el])),
    );
    for (const [k, r] of [...this.rows]) if (!this.rowsEl.contains(r.el)) this.rows.delete(k);
    this.draw();
  }

  private makeRow(x: FleetHost): HTMLDivElement {
    const name = h("span", { class: "hm-name" }, x.name);
    const now = h("span", { class: "hm-now" });
    const canvas = document.createElement("canvas");
    canvas.className = "hm-cells";
    const label = h("span", { class: "hm-label" }, name, now);
    const el = h(
      "div",
      { class: "hm-row", role: "listitem", title: x.name, tabindex: 0, data: { host: x.name } },
      label,
      canvas,
    );
    onActivate(el, () => this.onSelect(x.name));
    this.rows.set(x.name, { el, name, now, canvas, host: x.name, capacity: x.capacity, cells: [] });
    return el;
  }

  private draw(): void {
    const dpr = window.devicePixelRatio || 1;
    const width = this.cellsWidth;
    const span = this.win.to - this.win.from;
    const failed = withAlpha(cssVar("--error-fg"), 0.5);
    for (const r of this.rows.values()) {
      const sized = clearedCanvas(r.canvas, width, ROW_H, dpr);
      if (!sized) continue;
      const { g, w, hgt } = sized;
      const n = r.cells.length;
      const cw = n ? w / n : w;
      const pad = Math.round(2 * dpr);
      for (let i = 0; i < n; i++) {
        const cell = r.cells[i];
        if (!cell) continue;
        g.fillStyle = cellColour(this.palette, cell.steal, cell.throttled);
        const x0 = Math.floor(i * cw);
        g.fillRect(x0, pad, Math.ceil((i + 1) * cw) - x0, hgt - 2 * pad);
      }
      // A failed audit: a thin mark where it happened, in every row (no host has figures then).
      g.fillStyle = failed;
      for (const t of this.failedAt) {
        if (span <= 0) break;
        const x = Math.round(((t - this.win.from) / span) * w);
        g.fillRect(Math.max(0, x - Math.round(dpr)), pad, Math.max(2, Math.round(2 * dpr)), hgt - 2 * pad);
      }
    }
    drawTimeAxis(this.axis, width, dpr, this.win, this.palette);
  }

  private showTooltip(e: PointerEvent): void {
    const target = e.target instanceof Element ? e.target.closest(".hm-row") : null;
    const row = [...this.rows.values()].find((r) => r.el === target);
    const left = row?.canvas.getBoundingClientRect().left ?? 0;
    if (!row || e.clientX < left) {
      this.tooltip.hidden = true;
      return;
    }
    const cols = row.cells.length;
    const i = Math.floor(((e.clientX - left) / this.cellsWidth) * cols);
    const cell = row.cells[i];
    const w = (this.win.to - this.win.from) / Math.max(1, cols);
    const t0 = this.win.from + i * w;
    const cap = row.capacity;
    replace(
      this.tooltip,
      h("div", { class: "tt-name" }, row.host),
      h("div", { class: "muted" }, `${dateTime(t0)} – ${clock(t0 + w)}`),
      cell
        ? h(
            "div",
            null,
            h("div", null, `waiting ${pct(cell.steal)} of capacity`),
            h(
              "div",
              null,
              `contention ${cores(cell.contention * cap)} cores, throttled ${cores(cell.throttled * cap)}`,
            ),
            h("div", null, `demand ${cores((cell.usage + cell.contention) * cap)} of ${cpus(cap)} cores`),
          )
        : h("div", null, "no data (no successful audit)"),
    );
    this.tooltip.hidden = false;
    const body = this.tooltip.parentElement ?? this.el;
    const box = body.getBoundingClientRect();
    const x = e.clientX - box.left + 14;
    this.tooltip.style.left = `${x + 240 > box.width ? x - 254 : x}px`;
    this.tooltip.style.top = `${e.clientY - box.top + body.scrollTop + 14}px`;
  }

  destroy(): void {
    this.ro.disconnect();
  }
}
