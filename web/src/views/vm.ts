/**
 * VM view: per vCPU, contention delay, throttled delay and usage stacked over time (together they
 * are the share of wall time the vCPU wanted to run), with the alert thresholds; its alerts;
 * the VMs that use the host CPUs it may run on.
 */
import {
  getJson,
  HttpError,
  parse,
  platformText,
  type AlertsResponse,
  type DomainDetail,
  type DomainNow,
} from "../api.js";
import { TimeChart } from "../chart.js";
import { h, replace, setText } from "../dom.js";
import { cores, dateTime, duration, pct } from "../format.js";
import { combine, domainKey, waitingSince } from "../series.js";
import { cssVar, withAlpha } from "../theme.js";
import {
  alertEventsTable,
  activeAlertsTable,
  code,
  emptyState,
  panel,
  timeWindow,
  updateHistoryNote,
  vmLink,
  type View,
  type ViewContext,
} from "./common.js";

interface Threshold {
  label: string;
  value: number;
}

/** The default rule the agent runs when no alert rules are given (src/alerts/default-rules.yaml). */
const DEFAULT_CONTENTION_THRESHOLD: Threshold = { label: "contention alert (default rule, 5 %)", value: 0.05 };

interface VcpuPanel {
  el: HTMLElement;
  chart: TimeChart;
  now: HTMLElement;
  readonly raw: { contention: number[]; throttled: number[]; usage: number[] };
  thresholds: string;
}

export class VmView implements View {
  readonly el: HTMLElement;
  private readonly title = h("h1", { class: "vm-title" });
  private readonly facts = h("p", { class: "vm-facts muted" });
  private readonly nowLine = h("div", { class: "vm-now" });
  private readonly note = h("p", { class: "history-note" });
  private readonly empty = h("div");
  private readonly grid = h("div", { class: "vcpu-grid" });
  private readonly neighboursBox = h("div");
  private readonly alertsBox = h("div");
  private readonly panels = new Map<number, VcpuPanel>();
  private detail: DomainDetail | null = null;
  private detailError: string | null = null;
  private detailTimer: ReturnType<typeof setInterval>;
  private alertsSig = "";
  private neighboursSig = "";

  constructor(
    private readonly ctx: ViewContext,
    readonly name: string,
  ) {
    this.title.textContent = name;
    this.el = h(
      "div",
      { class: "view vm-view" },
      h(
        "div",
        { class: "view-head" },
        h("a", { href: "#/heatmap", class: "back" }, "← Heatmap"),
        this.title,
        this.note,
      ),
      this.facts,
      this.nowLine,
      this.empty,
      this.grid,
      h(
        "div",
        { class: "two-col" },
        panel("Noisy neighbours", "neighbours-panel", this.neighboursBox),
        panel("Alerts of this VM", "vm-alerts-panel", this.alertsBox),
      ),
    );
    void this.loadDetail();
    this.detailTimer = setInterval(() => void this.loadDetail(), 5000);
    this.update();
  }

  private async loadDetail(): Promise<void> {
    try {
      this.detail = parse.domain(await getJson(`/api/v1/domains/${encodeURIComponent(this.name)}`));
      this.detailError = null;
    } catch (e) {
      this.detail = null;
      this.detailError =
        e instanceof HttpError && e.status === 404 ? "not-found" : e instanceof Error ? e.message : String(e);
    }
    this.updateNeighbours();
  }

  private find(): DomainNow | undefined {
    const ds = this.ctx.app.snap.domains?.domains ?? [];
    return ds.find((d) => d.domain === this.name) ?? ds.find((d) => d.uuid === this.name.toLowerCase());
  }

  /** Thresholds worth a line: those of this VM's vCPU alerts, else the default contention rule. */
  private thresholds(d: DomainNow | undefined, alerts: AlertsResponse | null): Threshold[] {
    const mine = (s: { domain?: string; uuid?: string; vcpu?: number }): boolean =>
      s.vcpu !== undefined && (s.domain === this.name || (d?.uuid != null && s.uuid === d.uuid));
    const byRule = new Map<string, Threshold>();
    for (const a of alerts?.active ?? [])
      if (mine(a.subject) && a.threshold > 0 && a.threshold <= 1)
        byRule.set(a.rule, { label: `${a.rule} (${pct(a.threshold)})`, value: a.threshold });
    for (const e of alerts?.events ?? [])
      if (e.state === "firing" && mine(e.subject) && e.threshold > 0 && e.threshold <= 1)
        byRule.set(e.rule, { label: `${e.rule} (${pct(e.threshold)})`, value: e.threshold });
    return byRule.size ? [...byRule.values()] : [DEFAULT_CONTENTION_THRESHOLD];
  }

  private makePanel(vcpu: number, thresholds: Threshold[]): VcpuPanel {
    const now = h("span", { class: "vcpu-now muted" });
    const el = h(
      "section",
      { class: "panel vcpu-panel", data: { vcpu: String(vcpu) } },
      h("h2", null, `vCPU ${vcpu} `, now),
    );
    const c = {
      contention: cssVar("--contention"),
      throttled: cssVar("--throttled"),
      usage: cssVar("--usage"),
      threshold: cssVar("--threshold"),
    };
    const raw = { contention: [] as number[], throttled: [] as number[], usage: [] as number[] };
    const chart = new TimeChart(el, {
      height: 170,
      yFormat: pct,
      yAtLeast: 0.1,
      yAtMost: 1,
      syncKey: `vm:${this.name}`,
      ariaLabel: `vCPU ${vcpu}: contention, throttled delay and usage over time, stacked, with alert thresholds`,
      series: [
        {
          label: "contention",
          stroke: c.contention,
          fill: withAlpha(c.contention, 0.7),
          legend: (i) => pct(raw.contention[i] ?? NaN),
        },
        { label: "throttled", stroke: c.throttled, legend: (i) => pct(raw.throttled[i] ?? NaN) },
        { label: "usage", stroke: c.usage, legend: (i) => pct(raw.usage[i] ?? NaN) },
      ],
      hlines: thresholds.map((t) => ({ value: t.value, label: t.label, stroke: c.threshold, dash: [5, 4] })),
      bands: [
        { series: [2, 1], fill: withAlpha(c.throttled, 0.6) },
        { series: [3, 2], fill: withAlpha(c.usage, 0.3) },
      ],
    });
    return { el, now, raw, thresholds: JSON.stringify(thresholds), chart };
  }

  update(): void {
    const { app } = this.ctx;
    updateHistoryNote(this.note, app);
    const d = this.find();
    const connected = app.snap.lastOkMs !== null;
    if (!connected) replace(this.empty, emptyState("Waiting for the agent…"));
    else if (!d)
      replace(
        this.empty,
        emptyState(
          `No running VM named “${this.name}” on this host`,
          h(
            "span",
            null,
            "It may have been shut off, renamed or migrated away. ",
            h("a", { href: "#/heatmap" }, "Back to the heatmap"),
            " lists the VMs running now.",
          ),
        ),
      );
    else replace(this.empty);

    if (d) {
      const who = platformText(d.platform);
      const more = d.platform ? d.platform.extra.map(([k, v]) => `${k} ${v}`) : [];
      setText(
        this.facts,
        `${who ? `${who} · ` : ""}${d.state} · ${d.vcpu_current} of ${d.vcpu_maximum} vCPUs online · ${d.uuid ? `uuid ${d.uuid}` : "no uuid"}${d.id !== null ? ` · id ${d.id}` : ""} · source ${d.source}${d.platform?.kind !== "libvirt" && more.length ? ` · ${more.join(" · ")}` : ""}`,
      );
      const key = domainKey(d);
      const { from, to } = timeWindow(app);
      const since = waitingSince(
        combine(
          app.history.kind === "ok" ? app.history.data.domains.get(key)?.agg : undefined,
          app.live.domains.get(key)?.agg,
          from,
          to,
        ),
      );
      replace(
        this.nowLine,
        h("span", { class: "stat" }, h("b", null, pct(d.steal)), " steal"),
        h("span", { class: "stat contention" }, h("b", null, pct(d.contention)), " contention"),
        h("span", { class: "stat throttled" }, h("b", null, pct(d.throttled)), " throttled"),
        h("span", { class: "stat" }, h("b", null, pct(d.usage)), " usage"),
        h("span", { class: "muted" }, "(averages over its vCPUs, now)"),
        since
          ? h(
              "span",
              { class: "stat waiting" },
              `waiting ${since.sinceStart ? "at least " : ""}since ${dateTime(since.since)} (${duration(to - since.since)})`,
            )
          : null,
      );
      this.updateCharts(d, from, to);
    } else {
      replace(this.nowLine);
    }
    this.updateAlerts(d);
  }

  private updateCharts(d: DomainNow, from: number, to: number): void {
    const { app } = this.ctx;
    const key = domainKey(d);
    const thresholds = this.thresholds(d, app.snap.alerts);
    const sig = JSON.stringify(thresholds);
    const hist = app.history.kind === "ok" ? app.history.data.domains.get(key)?.vcpus : undefined;
    const live = app.live.domains.get(key)?.vcpus;
    const wanted = new Set(d.vcpus.map((v) => v.vcpu));
    for (const [n, p] of this.panels) {
      if (!wanted.has(n) || p.thresholds !== sig) {
        p.chart.destroy();
        p.el.remove();
        this.panels.delete(n);
      }
    }
    for (const v of d.vcpus) {
      let p = this.panels.get(v.vcpu);
      if (!p) {
        p = this.makePanel(v.vcpu, thresholds);
        this.panels.set(v.vcpu, p);
      }
      const pts = combine(hist?.get(v.vcpu), live?.get(v.vcpu), from, to);
      // The legend reads these (the chart draws the stacked sums): same object, new arrays.
      p.raw.contention = pts.map((x) => x.contention);
      p.raw.throttled = pts.map((x) => x.throttled);
      p.raw.usage = pts.map((x) => x.usage);
      const s1 = p.raw.contention;
      const s2 = pts.map((x) => x.contention + x.throttled);
      const s3 = pts.map((x) => Math.min(1, x.contention + x.throttled + x.usage));
      p.chart.setData(
        pts.map((x) => x.t),
        [s1, s2, s3],
        from,
        to,
      );
      setText(
        p.now,
        `now: steal ${pct(v.steal)} (contention ${pct(v.contention)}, throttled ${pct(v.throttled)}), usage ${pct(v.usage)} · thread ${v.tid}`,
      );
    }
    // In vCPU order.
    const order = [...this.panels.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p.el);
    order.forEach((el, i) => {
      if (this.grid.children[i] !== el) this.grid.insertBefore(el, this.grid.children[i] ?? null);
    });
  }

  private updateNeighbours(): void {
    const n = this.detail?.neighbours ?? null;
    const sig = JSON.stringify([
      this.detailError,
      n?.cpus,
      n?.neighbours.map((x) => [x.domain, cores(x.cpu_on_shared_cpus)]),
      n ? cores(n.contention) : null,
    ]);
    if (sig === this.neighboursSig) return;
    this.neighboursSig = sig;
    if (this.detailError === "not-found") {
      replace(this.neighboursBox, h("p", { class: "muted" }, "The agent has no current samples of this VM."));
      return;
    }
    if (this.detailError) {
      replace(this.neighboursBox, h("p", { class: "muted" }, `Could not load the neighbours: ${this.detailError}`));
      return;
    }
    if (!n) {
      replace(
        this.neighboursBox,
        h(
          "p",
          { class: "muted" },
          "No neighbour figures yet: they are averaged over the agent's window of recent samples.",
        ),
      );
      return;
    }
    const cpus = n.cpus.length > 16 ? `${n.cpus.length} host CPUs` : `host CPUs ${n.cpus.join(", ")}`;
    replace(
      this.neighboursBox,
      h(
        "p",
        { class: "muted" },
        `Its vCPUs may run on ${cpus}; it waited ${cores(n.contention)} cores for other load (window average). Other VMs by CPU used on those CPUs:`,
      ),
      n.neighbours.length === 0
        ? h("p", null, "No other VM uses those CPUs: contention comes from the host itself (its own processes).")
        : h(
            "table",
            { class: "grid-table" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", null, "VM"),
                h("th", { class: "num" }, "Cores on shared CPUs"),
                h("th", { class: "num" }, "Share of those CPUs"),
              ),
            ),
            h(
              "tbody",
              null,
              ...n.neighbours.map((x) =>
                h(
                  "tr",
                  null,
                  h("td", { class: "name-cell" }, vmLink(x.domain)),
                  h("td", { class: "num" }, cores(x.cpu_on_shared_cpus)),
                  h("td", { class: "num" }, pct(x.share_of_shared_cpus)),
                ),
              ),
            ),
          ),
    );
  }

  private updateAlerts(d: DomainNow | undefined): void {
    const a = this.ctx.app.snap.alerts;
    const mine = (s: { domain?: string; uuid?: string }): boolean =>
      s.domain === this.name || (d?.uuid != null && s.uuid === d.uuid);
    const active = a?.active.filter((x) => mine(x.subject)) ?? [];
    const events = a?.events.filter((x) => mine(x.subject)) ?? [];
    const sig = JSON.stringify([
      a === null,
      active.map((x) => [x.rule, x.subject.vcpu, x.state, x.value.toPrecision(2)]),
      events.length,
      events[events.length - 1]?.at_ms,
    ]);
    if (sig === this.alertsSig) return;
    this.alertsSig = sig;
    replace(
      this.alertsBox,
      h("h3", null, "Active"),
      activeAlertsTable(active, "No active alerts for this VM.", true),
      h("h3", null, "History"),
      alertEventsTable(events.slice(-50), "No alert has fired or resolved for this VM since the agent started.", true),
      h(
        "p",
        { class: "muted small" },
        "Rules: the agent's ",
        code("--alerts.config"),
        " file, or its defaults (contention above 5 % for 3 min).",
      ),
    );
  }

  destroy(): void {
    clearInterval(this.detailTimer);
    for (const p of this.panels.values()) p.chart.destroy();
    this.el.remove();
  }
}
