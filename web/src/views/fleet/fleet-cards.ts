/** The row of figure cards atop the fleet view: hosts, VMs, demand, waiting, the plan and its prediction. */
import { h, setText } from "../../dom.js";
import type { AuditView, FleetData } from "../../fleet.js";
import { clock, cores, cpus, pct } from "../../format.js";
import { card } from "../common.js";

export class FleetCards {
  private readonly c = {
    hosts: card("Hosts"),
    vms: card("VMs"),
    demand: card("Demand / capacity (fleet)"),
    contention: card("Waiting for other load"),
    plan: card("Plan"),
    predicted: card("Predicted contention"),
  };
  readonly el = h(
    "div",
    { class: "cards" },
    this.c.hosts.el,
    this.c.vms.el,
    this.c.demand.el,
    this.c.contention.el,
    this.c.plan.el,
    this.c.predicted.el,
  );

  update(a: AuditView | null, d: FleetData | null): void {
    const c = this.c;
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
        ? `audit ${a.audit} at ${clock(a.time_ms)}${a.status === "error" ? " failed" : a.dry_run ? ", dry run" : ""}`
        : "no audit yet",
    );
    c.plan.el.classList.toggle("hot", a?.status === "error");
    setText(c.predicted.value, p ? `${cores(p.steal_before)} → ${cores(p.steal_after)}` : "–");
    setText(
      c.predicted.detail,
      p
        ? p.steal_before > 0
          ? `cores; ${pct((p.steal_before - p.steal_after) / p.steal_before)} less waiting`
          : "cores"
        : "",
    );
  }
}
