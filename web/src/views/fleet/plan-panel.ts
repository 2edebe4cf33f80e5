/**
 * The fleet view's "Current plan" panel: the last audit's moves and their reasons (or why there
 * is no plan), the moves held back, the moves seen, apply mode's plans, and what the moves done did.
 */
import { h, replace, setText } from "../../dom.js";
import type { ApplyData, AuditView, FleetData, VmNow } from "../../fleet.js";
import { cores, dateTime, pct } from "../../format.js";
import { code } from "../common.js";
import { hostText, table } from "./widgets.js";

type Part = HTMLElement | null;

function noPlan(a: AuditView): HTMLElement {
  return h(
    "div",
    { class: "plan-none", data: { state: "no-plan" } },
    h("p", { class: "plan-verdict bad" }, "No plan"),
    h("p", null, a.error ? a.error.message : "The last audit did not produce a plan."),
    h(
      "p",
      { class: "muted small" },
      "The controller never serves an older plan as current: it plans again at its next audit.",
    ),
  );
}

function moves(p: NonNullable<AuditView["plan"]>, vms: ReadonlyMap<string, VmNow>): Part[] {
  const parts: Part[] = [];
  if (p.moves.length === 0) {
    parts.push(h("p", { class: "plan-verdict good", data: { state: "no-moves" } }, "Nothing worth moving"));
  } else {
    parts.push(
      h(
        "p",
        { class: "plan-verdict" },
        `${p.moves.length} move${p.moves.length === 1 ? "" : "s"}: predicted contention `,
        h("b", null, `${cores(p.steal_before)} → ${cores(p.steal_after)} cores`),
        p.steal_before > 0 ? ` (${pct((p.steal_before - p.steal_after) / p.steal_before)} less)` : "",
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
  return parts;
}

function heldBack(a: AuditView): Part[] {
  if (!a.suppressed.length) return [];
  return [
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
  ];
}

function observed(a: AuditView): Part[] {
  if (!a.observed_moves.length) return [];
  return [
    h(
      "p",
      { class: "muted small" },
      "Seen moving since the previous audit: ",
      ...a.observed_moves.flatMap((m, i) => [
        i ? "; " : "",
        h("span", { class: "vm-name" }, m.vm),
        ` ${m.from} → ${m.to}`,
      ]),
    ),
  ];
}

function applyMode(apply: ApplyData): Part[] {
  const waiting = apply.plans.filter((r) => r.state === "waiting_approval");
  return [
    h(
      "h3",
      null,
      `Apply mode: plans of more than ${apply.approve_over} move${apply.approve_over === 1 ? "" : "s"} wait for approval`,
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
                h("td", { class: "reason" }, r.reason || (r.approved_by ? `by ${r.approved_by}` : "")),
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
  ];
}

function effects(fx: FleetData["effects"]): Part[] {
  if (!fx.moves.length) return [];
  const c2 = (p: { from: number; to: number } | null): string =>
    p ? `${cores(p.from + p.to)} (${cores(p.from)} + ${cores(p.to)})` : "–";
  const parts: Part[] = [
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
  ];
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
  return parts;
}

export class PlanPanel {
  private readonly body = h("div", { class: "plan-body" });
  private readonly head = h("span", { class: "panel-meta" });
  readonly el = h(
    "section",
    { class: "panel plan-panel" },
    h("div", { class: "panel-head" }, h("h2", null, "Current plan"), this.head),
    this.body,
  );
  private sig = "";

  update(a: AuditView | null, d: FleetData | null, apply: ApplyData | null, connected: boolean): void {
    const sig = JSON.stringify([a?.audit, a?.status, apply, d?.current?.audit, d?.effects]);
    if (sig === this.sig) return;
    this.sig = sig;
    if (!a) {
      setText(this.head, "");
      replace(
        this.body,
        h("p", { class: "muted" }, connected ? "No plan yet: no audit has finished." : "Waiting for the controller…"),
      );
      return;
    }
    setText(
      this.head,
      `audit ${a.audit} · ${dateTime(a.time_ms)} · ${a.status === "ok" ? (a.dry_run ? "dry run" : "apply mode") : "failed"}`,
    );
    const vms = new Map((d?.current?.vms ?? []).map((v) => [v.name, v]));
    replace(
      this.body,
      ...(a.status !== "ok" || !a.plan ? [noPlan(a)] : moves(a.plan, vms)),
      ...heldBack(a),
      ...observed(a),
      ...(apply ? applyMode(apply) : []),
      ...(d?.effects ? effects(d.effects) : []),
    );
  }
}
