/**
 * Fleet view, served by the fleet controller: every host at once. Hosts × time (colour = how
 * much the host's vCPUs wait, per core the VMs may use; red-orange contention, violet their own
 * caps), each host's demand against its capacity now, and the controller's current plan with its
 * reasons — or why there is none. A row or bar click shows that host: its series and its VMs.
 * Host and VM names come from libvirt and Prometheus labels: always text.
 *
 * This file lays the parts out (fleet/*.ts, one job each) and holds what they share: the
 * selected host and the time span shown.
 */
import { h, replace, setText } from "../dom.js";
import { fleetWindow, orderHosts } from "../fleet.js";
import { duration } from "../format.js";
import { code, emptyState, type View, type ViewContext } from "./common.js";
import { AuditStatus } from "./fleet/audit-status.js";
import { CapacityBars } from "./fleet/capacity-bars.js";
import { FleetCards } from "./fleet/fleet-cards.js";
import { HostDetail } from "./fleet/host-detail.js";
import { HostsHeatmap } from "./fleet/hosts-heatmap.js";
import { PlanPanel } from "./fleet/plan-panel.js";

export class FleetView implements View {
  readonly el: HTMLElement;
  private readonly note = h("p", { class: "history-note" });
  private readonly status = new AuditStatus();
  private readonly cards = new FleetCards();
  private readonly heatmap = new HostsHeatmap((host) => this.select(host));
  private readonly plan = new PlanPanel();
  private readonly bars = new CapacityBars((host) => this.select(host));
  private readonly detail = new HostDetail();
  private selected: string | null = null;

  constructor(private readonly ctx: ViewContext) {
    this.el = h(
      "div",
      { class: "view fleet-view" },
      h("div", { class: "view-head" }, h("h1", null, "Fleet"), this.note),
      this.status.el,
      this.cards.el,
      this.heatmap.el,
      h("div", { class: "two-col" }, this.plan.el, this.bars.el),
      this.detail.el,
    );
    this.update();
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
        ? `Controller auditing ${hl.prometheus || "Prometheus"} every ${duration(hl.interval_s * 1000)} over ${duration(hl.window_s * 1000)} windows · policy ${hl.policy} · ${hl.dry_run ? "dry run: plans are proposed, never executed" : "apply mode"}`
        : "Connecting to the controller…",
    );
    const a = f.latest;
    const d = f.data;
    const connected = app.snap.lastOkMs !== null;
    const hosts = d ? orderHosts(d.hosts) : [];
    // Until a row is clicked, the host that waits most is the one shown below.
    if (this.selected === null && hosts[0]) this.selected = hosts[0].name;
    const win = d ? fleetWindow(d, Date.now()) : { from: Date.now() - 600_000, to: Date.now() };
    this.status.update(app, a, d);
    this.cards.update(a, d);
    this.heatmap.update({ hosts, audits: d?.audits ?? [], win, connected, selected: this.selected });
    this.plan.update(a, d, f.apply, connected);
    this.bars.update(a, d, this.selected);
    this.detail.update(a, d, this.selected, win);
  }

  private select(host: string): void {
    this.selected = host;
    this.update();
    this.detail.el.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  destroy(): void {
    this.heatmap.destroy();
    this.detail.destroy();
    this.el.remove();
  }
}
