/** The banner above the fleet view: nothing while audits succeed, why the last one failed otherwise. */
import { h, replace } from "../../dom.js";
import type { AuditView, FleetData } from "../../fleet.js";
import { clock, dateTime, duration } from "../../format.js";
import type { AppState } from "../../state.js";
import { emptyState } from "../common.js";
import { hostText } from "./widgets.js";

export class AuditStatus {
  readonly el = h("div", { class: "fleet-status" });

  update(app: AppState, a: AuditView | null, d: FleetData | null): void {
    const sig = JSON.stringify([a?.audit, a?.status, app.snap.lastOkMs === null]);
    if (this.el.dataset.sig === sig) return;
    this.el.dataset.sig = sig;
    if (app.snap.lastOkMs === null) return replace(this.el);
    if (!a) {
      replace(
        this.el,
        emptyState(
          "No audit has finished yet",
          `The controller audits the fleet every ${duration((app.fleet.health?.interval_s ?? 60) * 1000)}; the first plan appears here after its first audit.`,
        ),
      );
      return;
    }
    if (a.status === "ok" || !a.error) return replace(this.el);
    const e = a.error;
    const lastOk = app.fleet.health?.last_success_ms ?? null;
    replace(
      this.el,
      h(
        "div",
        { class: "banner error audit-failed", role: "alert", data: { state: "audit-failed", reason: e.reason } },
        h("strong", null, `Last audit failed — no plan`),
        ` (audit ${a.audit} at ${clock(a.time_ms)}, ${e.reason}): `,
        h("span", { class: "audit-message" }, e.message),
        e.missing_hosts.length
          ? h("div", null, "Missing hosts: ", ...e.missing_hosts.flatMap((m, i) => [i ? ", " : "", hostText(m)]))
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
}
