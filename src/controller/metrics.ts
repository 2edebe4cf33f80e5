import { Counter, Gauge, Registry } from "prom-client";
import { SUPPRESSION_RULES } from "../planner/guard.js";
import { AUDIT_FAILURES, type Controller } from "./controller.js";
import { VERDICTS } from "./effects.js";

/**
 * The controller's /metrics. Values of the plan (moves, predictions, fleet size) are those of
 * the last successful audit; vsteal_controller_last_audit_success says whether the last audit
 * produced one.
 */
export function controllerMetrics(c: Controller): Registry {
  const registry = new Registry();
  const reg = [registry];
  const audits = new Counter({
    name: "vsteal_controller_audits_total",
    help: "Audits run (snapshot from Prometheus, then plan).",
    registers: reg,
  });
  const errors = new Counter({
    name: "vsteal_controller_audit_errors_total",
    help: "Audits that produced no plan, by reason.",
    labelNames: ["reason"],
    registers: reg,
  });
  const success = new Gauge({
    name: "vsteal_controller_last_audit_success",
    help: "1 if the last audit produced a plan, 0 if not (see /api/v1/plan for the reason).",
    registers: reg,
  });
  const lastTs = new Gauge({
    name: "vsteal_controller_last_audit_timestamp_seconds",
    help: "When the last audit started (Unix time).",
    registers: reg,
  });
  const lastOkTs = new Gauge({
    name: "vsteal_controller_last_success_timestamp_seconds",
    help: "When the last successful audit started (Unix time).",
    registers: reg,
  });
  const duration = new Gauge({
    name: "vsteal_controller_last_audit_duration_seconds",
    help: "Duration of the last audit: snapshot queries and planning.",
    labelNames: ["phase"],
    registers: reg,
  });
  const moves = new Gauge({
    name: "vsteal_controller_planned_moves",
    help: "Moves in the current plan (dry run: proposed, not executed).",
    registers: reg,
  });
  const suppressed = new Gauge({
    name: "vsteal_controller_suppressed_moves",
    help: "Moves of the current audit held back, by rule (cooldowns, cycles).",
    labelNames: ["rule"],
    registers: reg,
  });
  const before = new Gauge({
    name: "vsteal_controller_predicted_steal_before_cores",
    help: "Predicted contention delay summed over all vCPUs before the plan, cores.",
    registers: reg,
  });
  const after = new Gauge({
    name: "vsteal_controller_predicted_steal_after_cores",
    help: "Predicted contention delay summed over all vCPUs after the plan, cores.",
    registers: reg,
  });
  const hosts = new Gauge({ name: "vsteal_controller_hosts", help: "Hosts in the last snapshot.", registers: reg });
  const vms = new Gauge({ name: "vsteal_controller_vms", help: "VMs in the last snapshot.", registers: reg });
  const effects = new Counter({
    name: "vsteal_controller_move_effects_total",
    help: "Moves judged once settled, by verdict: helped (measured contention fell by at least half the predicted gain), no_effect, hurt, inconclusive.",
    labelNames: ["verdict"],
    registers: reg,
  });
  const pendingEffects = new Gauge({
    name: "vsteal_controller_moves_settling",
    help: "Moves done whose effect is not judged yet (their window still mixes before and after).",
    registers: reg,
  });
  const blockedPairs = new Gauge({
    name: "vsteal_controller_blocked_pairs",
    help: "Source → target pairs not used because a move there did not help or hurt (cleared by an operator).",
    registers: reg,
  });
  const lastEffect = new Gauge({
    name: "vsteal_controller_last_move_contention_cores",
    help: "The last judged move: contention on its source and target, measured before and after and predicted, cores.",
    labelNames: ["host", "role", "when"],
    registers: reg,
  });
  const dryRun = new Gauge({
    name: "vsteal_controller_dry_run",
    help: "1: plans are proposed only, never executed; 0: apply mode.",
    registers: reg,
  });

  const fill = (): void => {
    audits.reset();
    audits.inc(c.auditsTotal);
    errors.reset();
    for (const r of AUDIT_FAILURES) errors.inc({ reason: r }, c.errorsByReason.get(r) ?? 0);
    const last = c.last;
    success.set(last?.status === "ok" ? 1 : 0);
    if (last) lastTs.set(Date.parse(last.time) / 1000);
    if (c.lastSuccessMs !== null) lastOkTs.set(c.lastSuccessMs / 1000);
    if (last) {
      duration.set({ phase: "total" }, last.duration_ms / 1000);
      if (last.snapshot_ms !== null) duration.set({ phase: "snapshot" }, last.snapshot_ms / 1000);
      if (last.plan_ms !== null) duration.set({ phase: "plan" }, last.plan_ms / 1000);
    }
    const good = c.lastGood;
    moves.set(good?.plan?.moves.length ?? 0);
    for (const r of SUPPRESSION_RULES)
      suppressed.set({ rule: r }, good?.suppressed.filter((s) => s.rule === r).length ?? 0);
    before.set(good?.plan?.predicted.steal_before ?? 0);
    after.set(good?.plan?.predicted.steal_after ?? 0);
    hosts.set(good?.snapshot?.hosts ?? 0);
    vms.set(good?.snapshot?.vms ?? 0);
    dryRun.set(c.dryRun ? 1 : 0);
    effects.reset();
    for (const v of VERDICTS) effects.inc({ verdict: v }, c.effects.verdicts.get(v) ?? 0);
    pendingEffects.set(c.effects.pending.length);
    blockedPairs.set(c.effects.blocked.length);
    lastEffect.reset();
    const e = c.effects.judged.at(-1);
    if (e) {
      for (const [role, host] of [
        ["source", e.from],
        ["target", e.to],
      ] as const) {
        const k = role === "source" ? "from" : "to";
        lastEffect.set({ host, role, when: "before" }, e.before[k]);
        lastEffect.set({ host, role, when: "predicted" }, e.predicted[k]);
        if (e.after) lastEffect.set({ host, role, when: "after" }, e.after[k]);
      }
    }
  };
  const orig = registry.metrics.bind(registry);
  registry.metrics = () => {
    fill();
    return orig();
  };
  return registry;
}
