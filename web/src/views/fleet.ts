/**
 * Fleet view, served by the fleet controller: every host at once. Hosts × time (colour = how
 * much the host's vCPUs wait, per core the VMs may use; red-orange contention, violet their own
 * caps), each host's demand against its capacity now, and the controller's current plan with its
 * reasons — or why there is none. A row or bar click shows that host: its series and its VMs.
 * Host and VM names come from libvirt and Prometheus labels: always text.
 */
import { platformText } from "../api.js";
import { TimeChart } from "../chart.js";
import { h, replace, setText, syncKeyed } from "../dom.js";
import {
  demandAfter,
  fleetWindow,
  hostPt,
  orderHosts,
  type AuditView,
  type FleetData,
  type FleetHost,
  type HostNow,
  type Move,
  type VmNow,
} from "../fleet.js";
import { clock, cores, cpus, dateTime, duration, pct } from "../format.js";
import type { Pt } from "../series.js";
import { cssVar, rgb, withAlpha } from "../theme.js";
import { bin, cellColour, clearedCanvas, drawTimeAxis, type Palette } from "./heatmap.js";
import { code, emptyState, type View, type ViewContext } from "./common.js";

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

function card(label: string): { el: HTMLElement; value: HTMLElement; detail: HTMLElement } {
  const value = h("div", { class: "card-value" });
  const detail = h("div", { class: "card-detail" });
  return { el: h("div", { class: "card" }, h("div", { class: "card-label" }, label), value, detail), value, detail };
}

function table(head: Array<[string, boolean?]>, rows: HTMLElement[], cls = ""): HTMLElement {
  return h(
    "table",
    { class: `grid-table ${cls}` },
    h("thead", null, h("tr", null, ...head.map(([t, num]) => h("th", num ? { class: "num" } : null, t)))),
    h("tbody", null, ...rows),
  );
}

const hostText = (name: string): HTMLElement => h("span", { class: "host-ref", title: name }, name);

export class FleetView implements View {
  readonly el: HTMLElement;
  private readonly note = h("p", { class: "history-note" });
  private readonly status = h("div", { class: "fleet-status" });
  private readonly cards = {
    hosts: card("Hosts"),
    vms: card("VMs"),
    demand: card("Demand / capacity (fleet)"),
    contention: card("Waiting for other load"),
    plan: card("Plan"),
    predicted: card("Predicted contention"),
  };
  private readonly rowsEl = h("div", { class: "hm-rows", role: "list", "aria-label": "Hosts" });
  private readonly axis = document.createElement("canvas");
  private readonly tooltip = h("div", { class: "hm-tooltip", role: "tooltip" });
  private readonly hmSpan = h("span", { class: "hm-span muted" });
  private readonly hmEmpty = h("div");
  private readonly planBody = h("div", { class: "plan-body" });
  private readonly planHead = h("span", { class: "panel-meta" });
  private readonly barsEl = h("div", { class: "cap-bars" });
  private readonly detail = h("section", { class: "panel host-detail" });
  private readonly detailTitle = h("h2", { class: "host-title" });
  private readonly detailFacts = h("p", { class: "muted small host-facts" });
  private readonly detailChartBox = h("div");
  private readonly detailVms = h("div");
  private chart: TimeChart | null = null;
  private readonly rows = new Map<string, Row>();
  private selected: string | null = null;
  private win = { from: 0, to: 1 };
  private failedAt: number[] = [];
  private readonly palette: Palette;
  private readonly ro: ResizeObserver;
  private planSig = "";
  private vmSig = "";

  constructor(private readonly ctx: ViewContext) {
    this.palette = {
      zero: rgb(cssVar("--hm-zero")),
      contention: rgb(cssVar("--contention")),
      throttled: rgb(cssVar("--throttled")),
      axis: cssVar("--muted"),
      grid: cssVar("--grid"),
    };
    this.axis.className = "hm-axis";
    this.tooltip.hidden = true;
    const hmBody = h(
      "div",
      { class: "hm-body fleet-hm" },
      h("div", { class: "hm-axis-row" }, h("div", { class: "hm-label-head muted" }, "Host · waiting now"), this.axis),
      this.rowsEl,
      this.tooltip,
    );
    hmBody.addEventListener("pointermove", (e) => this.showTooltip(e));
    hmBody.addEventListener("pointerleave", () => (this.tooltip.hidden = true));
    const c = this.cards;
    this.el = h(
      "div",
      { class: "view fleet-view" },
      h("div", { class: "view-head" }, h("h1", null, "Fleet"), this.note),
      this.status,
      h("div", { class: "cards" }, c.hosts.el, c.vms.el, c.demand.el, c.contention.el, c.plan.el, c.predicted.el),
      h(
        "section",
        { class: "panel fleet-heatmap" },
        h(
          "div",
          { class: "panel-head" },
          h("h2", null, "Hosts × time"),
          this.hmSpan,
          h("span", { class: "spacer" }),
          this.legend(),
        ),
        this.hmEmpty,
        hmBody,
      ),
      h(
        "div",
        { class: "two-col" },
        h(
          "section",
          { class: "panel plan-panel" },
          h("div", { class: "panel-head" }, h("h2", null, "Current plan"), this.planHead),
          this.planBody,
        ),
        h(
          "section",
          { class: "panel cap-panel" },
          h(
            "div",
            { class: "panel-head" },
            h("h2", null, "Demand vs capacity now"),
            h("span", { class: "spacer" }),
            this.barLegend(),
          ),
          this.barsEl,
        ),
      ),
      this.detail,
    );
    replace(
      this.detail,
      h("div", { class: "panel-head" }, this.detailTitle, this.detailFacts),
      this.detailChartBox,
      this.detailVms,
    );
    this.detail.hidden = true;
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(this.rowsEl);
    this.update();
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

  private barLegend(): HTMLElement {
    return h(
      "div",
      { class: "hm-legend" },
      h("span", { class: "hm-legend-item" }, h("span", { class: "swatch demand" }), "demand"),
      h("span", { class: "hm-legend-item" }, h("span", { class: "swatch cap" }), "capacity"),
      h("span", { class: "hm-legend-item" }, h("span", { class: "swatch after" }), "after the plan"),
    );
  }

  update(): void {
    const { app } = this.ctx;
    const f = app.fleet;
    if (app.role === "agent") {
      replace(
        this.el,
        h("div", { class: "view-head" }, h("h1", null, "Fleet")),
        emptyState(
          "This page is served by a host's agent",
          "The fleet view — every host over time, demand against capacity, and the plan — is served by vsteal's fleet controller, which reads every agent through Prometheus:",
          h(
            "span",
            null,
            code("vsteal controller --prometheus http://prometheus:9090"),
            " then open its address (127.0.0.1:9978 by default).",
          ),
        ),
      );
      return;
    }
    const hl = f.health;
    setText(
      this.note,
      hl
        ? `Controller auditing ${hl.prometheus || "Prometheus"} every ${duration(hl.intervalS * 1000)} over ${duration(hl.windowS * 1000)} windows · policy ${hl.policy} · ${hl.dryRun ? "dry run: plans are proposed, never executed" : "apply mode"}`
        : "Connecting to the controller…",
    );
    this.updateStatus(f.latest, f.data);
    this.updateCards(f.latest, f.data);
    this.updateHeatmap(f.data);
    this.updatePlan(f.latest, f.data);
    this.updateBars(f.latest, f.data);
    this.updateDetail(f.latest, f.data);
  }

  private updateStatus(a: AuditView | null, d: FleetData | null): void {
    const sig = JSON.stringify([a?.audit, a?.status, this.ctx.app.snap.lastOkMs === null]);
    if (this.status.dataset.sig === sig) return;
    this.status.dataset.sig = sig;
    if (this.ctx.app.snap.lastOkMs === null) return replace(this.status);
    if (!a) {
      replace(
        this.status,
        emptyState(
          "No audit has finished yet",
          `The controller audits the fleet every ${duration((this.ctx.app.fleet.health?.intervalS ?? 60) * 1000)}; the first plan appears here after its first audit.`,
        ),
      );
      return;
    }
    if (a.status === "ok" || !a.error) return replace(this.status);
    const e = a.error;
    const lastOk = this.ctx.app.fleet.health?.lastSuccessMs ?? null;
    replace(
      this.status,
      h(
        "div",
        { class: "banner error audit-failed", role: "alert", data: { state: "audit-failed", reason: e.reason } },
        h("strong", null, `Last audit failed — no plan`),
        ` (audit ${a.audit} at ${clock(a.timeMs)}, ${e.reason}): `,
        h("span", { class: "audit-message" }, e.message),
        e.missingHosts.length
          ? h("div", null, "Missing hosts: ", ...e.missingHosts.flatMap((m, i) => [i ? ", " : "", hostText(m)]))
          : null,
        e.problems.length
          ? h("ul", { class: "problems" }, ...e.problems.slice(0, 8).map((p) => h("li", null, p)))
          : null,
        h(
          "div",
          { class: "small" },
          lastOk
            ? `The last successful audit was at ${dateTime(lastOk)} (${duration(Date.now() - lastOk)} ago); `
            : "No audit has succeeded yet; ",
          d?.hosts.length ? "the figures below are from the successful audits." : "there are no figures to show.",
        ),
      ),
    );
  }

  private updateCards(a: AuditView | null, d: FleetData | null): void {
    const c = this.cards;
    const cur = d?.current ?? null;
    const hosts = cur?.hosts ?? [];
    const sum = (k: "demand" | "capacity" | "contention" | "throttled" | "vcpus" | "cpus"): number =>
      hosts.reduce((x, hh) => x + hh[k], 0);
    const over = hosts.filter((hh) => hh.demand > hh.capacity);
    setText(c.hosts.value, cur ? String(hosts.length) : "–");
    setText(
      c.hosts.detail,
      cur ? (over.length ? `${over.length} over capacity` : "none over capacity") : "no current snapshot",
    );
    c.hosts.detail.classList.toggle("hot", over.length > 0);
    setText(c.vms.value, cur ? String(cur.vms.length) : "–");
    setText(c.vms.detail, cur ? `${sum("vcpus")} vCPUs on ${cpus(sum("capacity"))} cores` : "");
    setText(c.demand.value, cur ? `${cores(sum("demand"))} / ${cpus(sum("capacity"))}` : "–");
    setText(
      c.demand.detail,
      cur ? `cores; ${pct(sum("capacity") > 0 ? sum("demand") / sum("capacity") : 0)} of capacity` : "",
    );
    setText(c.contention.value, cur ? cores(sum("contention")) : "–");
    setText(c.contention.detail, cur ? `cores; + ${cores(sum("throttled"))} throttled (own caps)` : "");
    c.contention.el.classList.toggle("hot", sum("contention") >= 0.5);
    const p = a?.status === "ok" ? a.plan : null;
    setText(c.plan.value, a ? (p ? `${p.moves.length} move${p.moves.length === 1 ? "" : "s"}` : "no plan") : "–");
    setText(
      c.plan.detail,
      a
        ? `audit ${a.audit} at ${clock(a.timeMs)}${a.status === "error" ? " failed" : a.dryRun ? ", dry run" : ""}`
        : "no audit yet",
    );
    c.plan.el.classList.toggle("hot", a?.status === "error");
    setText(c.predicted.value, p ? `${cores(p.stealBefore)} → ${cores(p.stealAfter)}` : "–");
    setText(
      c.predicted.detail,
      p
        ? p.stealBefore > 0
          ? `cores; ${pct((p.stealBefore - p.stealAfter) / p.stealBefore)} less waiting`
          : "cores"
        : "",
    );
  }

  // Heatmap ------------------------------------------------------------------------------

  private get cellsWidth(): number {
    return Math.max(1, this.axis.clientWidth);
  }

  private updateHeatmap(d: FleetData | null): void {
    const hosts = d ? orderHosts(d.hosts) : [];
    // Until a row is clicked, the host that waits most is the one shown below.
    if (this.selected === null && hosts[0]) this.selected = hosts[0].name;
    this.win = d ? fleetWindow(d, Date.now()) : { from: Date.now() - 600_000, to: Date.now() };
    this.failedAt = (d?.audits ?? []).filter((x) => !x.ok).map((x) => x.timeMs);
    const n = d?.audits.length ?? 0;
    setText(
      this.hmSpan,
      d && n ? `${n} audit${n === 1 ? "" : "s"} kept, ${dateTime(this.win.from)} – ${clock(this.win.to)}` : "",
    );
    if (this.ctx.app.snap.lastOkMs === null) replace(this.hmEmpty, emptyState("Waiting for the controller…"));
    else if (hosts.length === 0)
      replace(
        this.hmEmpty,
        h("p", { class: "muted" }, "No successful audit yet: each host gets a row after the first one."),
      );
    else replace(this.hmEmpty);
    const cols = Math.max(10, Math.floor(this.cellsWidth / CELL_W));
    syncKeyed(
      this.rowsEl,
      hosts,
      (x) => `host:${x.name}`,
      (x) => this.makeRow(x),
      (el, x) => {
        const r = this.rows.get(x.name);
        if (!r) return;
        const pts: Pt[] = x.points.map(hostPt);
        r.cells = bin(pts, this.win.from, this.win.to, cols);
        r.capacity = x.capacity;
        const last = pts[pts.length - 1];
        setText(r.now, last ? pct(last.steal) : "–");
        r.now.classList.toggle("hot", (last?.steal ?? 0) >= 0.05);
        r.now.classList.toggle("throttled", (last?.throttled ?? 0) > (last?.contention ?? 0));
        r.now.title = last
          ? `contention ${pct(last.contention)}, throttled ${pct(last.throttled)} of ${cpus(x.capacity)} cores`
          : "no data";
        const sel = this.selected === x.name;
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
    el.addEventListener("click", () => this.select(x.name));
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.select(x.name);
      }
    });
    this.rows.set(x.name, { el, name, now, canvas, host: x.name, capacity: x.capacity, cells: [] });
    return el;
  }

  private select(host: string): void {
    this.selected = host;
    this.update();
    this.detail.scrollIntoView({ block: "nearest", behavior: "smooth" });
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
    this.drawAxis(width, dpr);
  }

  private drawAxis(width: number, dpr: number): void {
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

  // Plan ---------------------------------------------------------------------------------

  private updatePlan(a: AuditView | null, d: FleetData | null): void {
    const apply = this.ctx.app.fleet.apply;
    const sig = JSON.stringify([a?.audit, a?.status, apply, d?.current?.audit, d?.effects]);
    if (sig === this.planSig) return;
    this.planSig = sig;
    if (!a) {
      setText(this.planHead, "");
      replace(
        this.planBody,
        h(
          "p",
          { class: "muted" },
          this.ctx.app.snap.lastOkMs === null ? "Waiting for the controller…" : "No plan yet: no audit has finished.",
        ),
      );
      return;
    }
    setText(
      this.planHead,
      `audit ${a.audit} · ${dateTime(a.timeMs)} · ${a.status === "ok" ? (a.dryRun ? "dry run" : "apply mode") : "failed"}`,
    );
    const parts: Array<HTMLElement | null> = [];
    if (a.status !== "ok" || !a.plan) {
      parts.push(
        h(
          "div",
          { class: "plan-none", data: { state: "no-plan" } },
          h("p", { class: "plan-verdict bad" }, "No plan"),
          h("p", null, a.error ? a.error.message : "The last audit did not produce a plan."),
          h(
            "p",
            { class: "muted small" },
            "The controller never serves an older plan as current: it plans again at its next audit.",
          ),
        ),
      );
    } else {
      const p = a.plan;
      const vms = new Map((d?.current?.vms ?? []).map((v) => [v.name, v]));
      if (p.moves.length === 0) {
        parts.push(h("p", { class: "plan-verdict good", data: { state: "no-moves" } }, "Nothing worth moving"));
      } else {
        parts.push(
          h(
            "p",
            { class: "plan-verdict" },
            `${p.moves.length} move${p.moves.length === 1 ? "" : "s"}: predicted contention `,
            h("b", null, `${cores(p.stealBefore)} → ${cores(p.stealAfter)} cores`),
            p.stealBefore > 0 ? ` (${pct((p.stealBefore - p.stealAfter) / p.stealBefore)} less)` : "",
          ),
          table(
            [["#"], ["VM"], ["From → to"], ["Reason"]],
            p.moves.map((m, i) => {
              const v = vms.get(m.vm);
              return h(
                "tr",
                { class: "move-row", data: { vm: m.vm } },
                h("td", { class: "num" }, String(i + 1)),
                h(
                  "td",
                  { class: "vm-cell" },
                  h("span", { class: "vm-name" }, m.vm),
                  v ? h("div", { class: "muted small" }, `${v.vcpus} vCPU · ${cores(v.demand)} cores`) : null,
                ),
                h("td", { class: "move-hosts" }, hostText(m.from), " → ", hostText(m.to)),
                h("td", { class: "reason" }, m.reason),
              );
            }),
            "moves-table",
          ),
        );
      }
      if (p.explanation) parts.push(h("p", { class: "explanation muted" }, p.explanation));
    }
    if (a.suppressed.length) {
      parts.push(
        h("h3", null, "Held back"),
        table(
          [["VM"], ["From → to"], ["Rule"], ["Why"]],
          a.suppressed.map((s) =>
            h(
              "tr",
              null,
              h("td", null, h("span", { class: "vm-name" }, s.vm)),
              h("td", { class: "move-hosts" }, hostText(s.from), " → ", hostText(s.to)),
              h("td", null, s.rule),
              h("td", { class: "reason" }, s.reason),
            ),
          ),
          "small-table",
        ),
      );
    }
    if (a.observed.length) {
      parts.push(
        h(
          "p",
          { class: "muted small" },
          "Seen moving since the previous audit: ",
          ...a.observed.flatMap((m, i) => [
            i ? "; " : "",
            h("span", { class: "vm-name" }, m.vm),
            ` ${m.from} → ${m.to}`,
          ]),
        ),
      );
    }
    if (apply) {
      const waiting = apply.plans.filter((r) => r.state === "waiting_approval");
      parts.push(
        h(
          "h3",
          null,
          `Apply mode: plans of more than ${apply.approveOver} move${apply.approveOver === 1 ? "" : "s"} wait for approval`,
        ),
        apply.plans.length
          ? table(
              [["Plan"], ["State"], ["Moves", true], ["Detail"]],
              apply.plans
                .slice(0, 8)
                .map((r) =>
                  h(
                    "tr",
                    { data: { state: r.state } },
                    h("td", null, r.id),
                    h("td", null, h("span", { class: `badge apply-${r.state}` }, r.state.replace(/_/g, " "))),
                    h("td", { class: "num" }, String(r.moves)),
                    h("td", { class: "reason" }, r.reason || (r.approvedBy ? `by ${r.approvedBy}` : "")),
                  ),
                ),
              "small-table",
            )
          : h("p", { class: "muted small" }, "No plan applied or waiting yet."),
        waiting.length
          ? h(
              "p",
              { class: "muted small" },
              "Approve with ",
              code("POST /api/v1/plans/ID/approve"),
              " and the controller's bearer token; this page only shows them.",
            )
          : null,
      );
    }
    const fx = d?.effects;
    if (fx && fx.moves.length) {
      const c2 = (p: { from: number; to: number } | null): string =>
        p ? `${cores(p.from + p.to)} (${cores(p.from)} + ${cores(p.to)})` : "–";
      parts.push(
        h("h3", null, "Moves and what they did"),
        table(
          [["VM"], ["From → to"], ["Verdict"], ["Contention before", true], ["After", true], ["Predicted", true]],
          fx.moves
            .slice(0, 10)
            .map((m) =>
              h(
                "tr",
                { data: { verdict: m.verdict ?? "settling" }, title: m.reason },
                h("td", null, h("span", { class: "vm-name" }, m.vm)),
                h("td", { class: "move-hosts" }, hostText(m.from), " → ", hostText(m.to)),
                h(
                  "td",
                  null,
                  h(
                    "span",
                    { class: `badge verdict-${m.verdict ?? "settling"}` },
                    (m.verdict ?? "settling").replace(/_/g, " "),
                  ),
                ),
                h("td", { class: "num" }, c2(m.before)),
                h("td", { class: "num" }, c2(m.after)),
                h("td", { class: "num" }, c2(m.predicted)),
              ),
            ),
          "small-table effects-table",
        ),
        h(
          "p",
          { class: "muted small" },
          "Contention in cores on source + target, measured in the snapshot the plan was made on, once the move settled, and as the model predicted.",
        ),
      );
      if (fx.blocked.length) {
        parts.push(
          h(
            "p",
            { class: "plan-verdict bad", data: { state: "blocked" } },
            `Blocked: ${fx.blocked.map((b) => `${b.from} → ${b.to}`).join(", ")}`,
          ),
          h(
            "p",
            { class: "muted small" },
            "A move there did not help, so the pair is not used again until cleared with ",
            code("DELETE /api/v1/blocked-pairs/FROM/TO"),
            ".",
          ),
        );
      }
    }
    replace(this.planBody, ...parts);
  }

  // Demand vs capacity -------------------------------------------------------------------

  private updateBars(a: AuditView | null, d: FleetData | null): void {
    const cur = d?.current ?? null;
    if (!cur) {
      const lastPts = (d?.hosts ?? []).filter((x) => x.points.length);
      replace(
        this.barsEl,
        h(
          "p",
          { class: "muted" },
          lastPts.length
            ? "No current snapshot (the last audit failed). The heatmap shows the last figures."
            : "No snapshot yet.",
        ),
      );
      return;
    }
    const moves: Move[] = a?.status === "ok" && a.audit === cur.audit ? (a.plan?.moves ?? []) : [];
    const after = demandAfter(cur.hosts, cur.vms, moves);
    const scale = Math.max(1, ...cur.hosts.map((x) => Math.max(x.demand, x.capacity, after.get(x.name) ?? 0))) * 1.05;
    const hosts = [...cur.hosts].sort(
      (x, y) => y.demand / Math.max(1, y.capacity) - x.demand / Math.max(1, x.capacity) || x.name.localeCompare(y.name),
    );
    replace(
      this.barsEl,
      ...hosts.map((x) =>
        this.bar(
          x,
          after.get(x.name) ?? x.demand,
          moves.some((m) => m.from === x.name || m.to === x.name),
          scale,
        ),
      ),
    );
  }

  private bar(x: HostNow, after: number, changes: boolean, scale: number): HTMLElement {
    const pctOf = (v: number): string => `${Math.min(100, (v / scale) * 100).toFixed(2)}%`;
    const fill = h("span", { class: `bar-fill${x.demand > x.capacity ? " over" : ""}` });
    fill.style.width = pctOf(x.demand);
    const cap = h("span", { class: "bar-cap", title: `capacity ${cpus(x.capacity)} cores` });
    cap.style.left = pctOf(x.capacity);
    const track = h("span", { class: "bar-track" }, fill, cap);
    if (changes) {
      const ghost = h("span", { class: "bar-after", title: `after the plan: ${cores(after)} cores` });
      ghost.style.width = pctOf(after);
      track.appendChild(ghost);
    }
    const el = h(
      "div",
      {
        class: `cap-row${this.selected === x.name ? " selected" : ""}`,
        role: "button",
        tabindex: 0,
        title: x.name,
        data: { host: x.name },
      },
      h(
        "span",
        { class: "cap-name" },
        x.name,
        x.acceptsVms
          ? null
          : h(
              "span",
              { class: "badge", title: "accepts_vms: false — may be emptied, receives nothing" },
              "maintenance",
            ),
      ),
      track,
      h(
        "span",
        { class: "cap-nums" },
        h("b", { class: x.demand > x.capacity ? "over" : "" }, `${cores(x.demand)} / ${cpus(x.capacity)}`),
        " cores",
        changes ? h("span", { class: "muted" }, ` → ${cores(after)}`) : null,
        h("span", { class: "muted" }, ` · waits ${cores(x.contention)}`),
      ),
    );
    el.addEventListener("click", () => this.select(x.name));
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.select(x.name);
      }
    });
    return el;
  }

  // Host detail --------------------------------------------------------------------------

  private updateDetail(a: AuditView | null, d: FleetData | null): void {
    const name = this.selected;
    const series = d?.hosts.find((x) => x.name === name) ?? null;
    if (!name || !d || (!series && !d.current?.hosts.some((x) => x.name === name))) {
      this.detail.hidden = true;
      return;
    }
    this.detail.hidden = false;
    this.detail.dataset.host = name;
    setText(this.detailTitle, name);
    const now = d.current?.hosts.find((x) => x.name === name) ?? null;
    setText(
      this.detailFacts,
      now
        ? `${now.cpus} CPUs, ${now.reservedCpus} reserved → capacity ${cpus(now.capacity)} cores · ${now.vms} VMs, ${now.vcpus} vCPUs · demand ${cores(now.demand)} cores, waiting ${cores(now.contention)} for other load, ${cores(now.throttled)} throttled${now.acceptsVms ? "" : " · maintenance: receives no VMs"}`
        : d.current
          ? "Not in the current snapshot."
          : "No current snapshot (the last audit failed): the chart shows the successful audits.",
    );
    // Series over the audits kept.
    if (!this.chart) {
      this.chart = new TimeChart(this.detailChartBox, {
        height: 180,
        yFormat: (v) => cores(v),
        series: [
          { label: "demand", stroke: cssVar("--demand"), width: 2 },
          { label: "contention", stroke: cssVar("--contention"), fill: withAlpha(cssVar("--contention"), 0.25) },
          { label: "throttled", stroke: cssVar("--throttled"), fill: withAlpha(cssVar("--throttled"), 0.2) },
          { label: "capacity", stroke: cssVar("--capacity"), dash: [6, 4], width: 1 },
        ],
        yAtLeast: 1,
        ariaLabel: "The host's demand, capacity and waiting over the audits kept, in cores",
      });
    }
    const pts = series?.points ?? [];
    this.chart.yAtLeast = Math.max(1, (series?.capacity ?? 0) * 1.1);
    this.chart.setData(
      pts.map((p) => p.t),
      [pts.map((p) => p.demand), pts.map((p) => p.contention), pts.map((p) => p.throttled), pts.map((p) => p.capacity)],
      this.win.from,
      this.win.to,
    );
    // Its VMs now.
    const vms = (d.current?.vms ?? [])
      .filter((v) => v.host === name)
      .sort((x, y) => y.contention - x.contention || x.name.localeCompare(y.name));
    const moves = a?.status === "ok" ? (a.plan?.moves ?? []) : [];
    const sig = JSON.stringify([name, d.current?.audit, a?.audit]);
    if (sig === this.vmSig) return;
    this.vmSig = sig;
    const incoming = moves.filter((m) => m.to === name);
    replace(
      this.detailVms,
      vms.length === 0
        ? h(
            "p",
            { class: "muted" },
            d.current
              ? "No VMs on this host."
              : "No current snapshot: the VMs are shown after the next successful audit.",
          )
        : table(
            [
              ["VM"],
              ["vCPUs", true],
              ["Demand", true],
              ["Waits (other load)", true],
              ["Worst vCPU", true],
              ["Throttled", true],
              ["Cap", true],
              ["Plan"],
            ],
            vms.map((v) => this.vmRow(v, moves.find((m) => m.vm === v.name) ?? null)),
            "vm-table",
          ),
      incoming.length
        ? h(
            "p",
            { class: "muted small" },
            "The plan moves here: ",
            ...incoming.flatMap((m, i) => [i ? ", " : "", h("span", { class: "vm-name" }, m.vm), ` from ${m.from}`]),
          )
        : null,
    );
  }

  private vmRow(v: VmNow, m: Move | null): HTMLElement {
    return h(
      "tr",
      { class: v.maxContention >= 0.05 ? "hot" : "", data: { vm: v.name } },
      h(
        "td",
        { class: "name-cell", title: v.name },
        h("span", { class: "vm-name" }, v.name),
        platformText(v.platform) ? h("span", { class: "vm-platform muted" }, ` ${platformText(v.platform)}`) : null,
        v.migratable
          ? null
          : h(
              "span",
              {
                class: "badge",
                title: "migratable: false (its platform has no driver here, or the hosts file says so)",
              },
              "pinned",
            ),
      ),
      h("td", { class: "num" }, String(v.vcpus)),
      h("td", { class: "num" }, `${cores(v.demand)} cores`),
      h("td", { class: "num" }, `${cores(v.contention)} cores`),
      h("td", { class: "num" }, pct(v.maxContention)),
      h("td", { class: "num" }, `${cores(v.throttled)} cores`),
      h("td", { class: "num" }, v.cap === null ? "–" : pct(v.cap)),
      h("td", null, m ? h("span", { class: "badge move" }, `→ ${m.to}`) : ""),
    );
  }

  destroy(): void {
    this.ro.disconnect();
    this.chart?.destroy();
    this.el.remove();
  }
}
