/**
 * The fleet simulator: replays a scenario step by step. Each step the contention model turns
 * every VM's demand into usage and contention delay on its current host; every `every_steps`
 * steps a controller builds a fleet snapshot from the averages since its last round, asks the
 * planner for a plan with the chosen policy through the controller's own guard (planner/guard.ts:
 * VM and host cooldowns, cycle detection, re-planning without what they forbid) and applies the
 * moves at once (instant live migration), remembered as the controller in apply mode remembers
 * them. Pure: same scenario and policy, same result.
 *
 * Reports total steal (contention delay, core-hours), migrations, and the time during which any
 * vCPU waited more than the alert threshold.
 */
import type { FleetSnapshot, FleetVm, Plan } from "../model/fleet.js";
import { parsePlanOptions, type PolicyName } from "../planner/options.js";
import { planValidated } from "../planner/plan.js";
import {
  guardedPlan,
  MoveLedger,
  SUPPRESSION_RULES,
  type Suppression,
  type SuppressionRule,
} from "../planner/guard.js";
import { FleetState } from "../planner/state.js";
import { predictHost, type ModelOptions } from "../model/contention.js";
import type { Scenario } from "./scenario.js";

export interface SimMove {
  step: number;
  vm: string;
  from: string;
  to: string;
}

export interface SimResult {
  policy: PolicyName;
  steps: number;
  stepS: number;
  /** Σ contention delay over all vCPUs and steps, core-hours. */
  stealCoreHours: number;
  migrations: number;
  /** Time during which some vCPU waited more than the alert threshold, hours. */
  hoursAboveThreshold: number;
  /** The same as a fraction of the simulated time. */
  fractionAboveThreshold: number;
  /** Σ over vCPUs of the time each waited more than the threshold, vCPU-hours. */
  vcpuHoursAboveThreshold: number;
  /** Largest fleet-wide contention in one step, cores. */
  peakContention: number;
  /** Moves the guard suppressed because they would have undone a recent one (rule `cycle`). */
  skippedUndo: number;
  /** Moves the guard suppressed, by rule (a move suppressed in several rounds counts each time). */
  suppressed: Record<SuppressionRule, number>;
  moves: SimMove[];
  /** Per step: fleet contention (cores), vCPUs above the threshold, migrations so far. */
  series: { contention: number[]; vcpusAbove: number[]; migrations: number[] };
}

export interface SimOptions {
  model?: Partial<ModelOptions>;
  /** The time of step 0 (ISO), for snapshots. */
  start?: string;
  /** Called after each planning round with what the controller would have seen and planned. */
  onAudit?: (a: SimAudit) => void;
}

export interface SimAudit {
  step: number;
  audit: number;
  snapshot: FleetSnapshot;
  plan: Plan;
  suppressed: Suppression[];
}

export function simulate(scenario: Scenario, policy: PolicyName, opts: SimOptions = {}): SimResult {
  const model: ModelOptions = { mode: opts.model?.mode ?? "bursty", samples: opts.model?.samples ?? 256 };
  const planOptions = parsePlanOptions({ policy, minGain: scenario.controller.minGain, model });
  const startMs = Date.parse(opts.start ?? "2026-01-05T00:00:00Z");
  const hostIdx = new Map(scenario.hosts.map((h, i) => [h.name, i]));
  const place = scenario.vms.map((v) => hostIdx.get(v.host)!);
  const { everySteps, alertThreshold, cooldownSteps, hostCooldownSteps, cycleAudits } = scenario.controller;
  const stepMs = scenario.stepS * 1000;
  const ledger = new MoveLedger({
    vmCooldownMs: cooldownSteps * stepMs,
    hostCooldownMs: hostCooldownSteps * stepMs,
    cycleAudits,
  });
  let audit = 0;

  // Window sums for the controller's snapshot.
  const usageSum = scenario.vms.map((v) => new Float64Array(v.vcpus));
  const delaySum = scenario.vms.map((v) => new Float64Array(v.vcpus));
  const throttledSum = scenario.vms.map((v) => new Float64Array(v.vcpus));
  let windowSteps = 0;

  const result: SimResult = {
    policy,
    steps: scenario.steps,
    stepS: scenario.stepS,
    stealCoreHours: 0,
    migrations: 0,
    hoursAboveThreshold: 0,
    fractionAboveThreshold: 0,
    vcpuHoursAboveThreshold: 0,
    peakContention: 0,
    skippedUndo: 0,
    suppressed: Object.fromEntries(SUPPRESSION_RULES.map((r) => [r, 0])) as Record<SuppressionRule, number>,
    moves: [],
    series: { contention: [], vcpusAbove: [], migrations: [] },
  };
  const hours = scenario.stepS / 3600;

  for (let k = 0; k < scenario.steps; k++) {
    let contention = 0;
    let above = 0;
    for (let h = 0; h < scenario.hosts.length; h++) {
      const on: number[] = [];
      for (let v = 0; v < scenario.vms.length; v++) if (place[v] === h) on.push(v);
      if (on.length === 0) continue;
      const host = scenario.hosts[h]!;
      const p = predictHost(
        Math.max(0, host.cpus - host.reserved_cpus),
        on.map((v) => {
          const vm = scenario.vms[v]!;
          return { id: vm.name, vcpus: Array.from(vm.demand[k]!, (d) => ({ demand: d, cap: vm.cap })) };
        }),
        model,
      );
      on.forEach((v, j) => {
        const vm = scenario.vms[v]!;
        const pv = p.vms[j]!;
        for (let i = 0; i < vm.vcpus; i++) {
          const want = vm.demand[k]![i]!;
          const d = pv.delay[i]!;
          const throttled = vm.cap !== null ? Math.max(0, Math.min(1, want) - vm.cap) : 0;
          usageSum[v]![i]! += pv.usage[i]!;
          delaySum[v]![i]! += d + throttled;
          throttledSum[v]![i]! += throttled;
          contention += d;
          if (d > alertThreshold) above++;
        }
      });
    }
    windowSteps++;
    result.stealCoreHours += contention * hours;
    result.peakContention = Math.max(result.peakContention, contention);
    result.vcpuHoursAboveThreshold += above * hours;
    if (above > 0) result.hoursAboveThreshold += hours;
    result.series.contention.push(contention);
    result.series.vcpusAbove.push(above);

    if ((k + 1) % everySteps === 0 && policy !== "none") {
      const nowMs = startMs + (k + 1) * stepMs;
      audit++;
      const snapshot = buildSnapshot(scenario, place, usageSum, delaySum, throttledSum, windowSteps, nowMs);
      // What the controller does in each audit: see the placement changes, forget what no
      // longer matters, plan through the guard, remember the plan for cycle detection.
      ledger.observe(snapshot, audit, nowMs);
      ledger.prune(nowMs, audit);
      const g = guardedPlan(snapshot, (s) => planValidated(s, planOptions), ledger, nowMs, audit);
      ledger.addPlanned(g.plan.moves, audit, nowMs);
      opts.onAudit?.({ step: k + 1, audit, snapshot, plan: g.plan, suppressed: g.suppressed });
      for (const x of g.suppressed) result.suppressed[x.rule]++;
      result.skippedUndo += g.suppressed.filter((x) => x.rule === "cycle").length;
      const state = new FleetState(snapshot, model.mode);
      for (const m of g.plan.moves) {
        const v = state.vmIndex.get(m.vm)!;
        const t = state.hostIndex.get(m.to)!;
        if (state.refusal(v, t) !== null) continue; // never: the guarded plan is valid in order
        state.apply(v, t);
        place[v] = t;
        // As in apply mode: the cooldowns start when the move ends (instantly here).
        ledger.add([{ vm: m.vm, from: m.from, to: m.to, atMs: nowMs, kind: "observed", audit: audit + 1 }]);
        result.moves.push({ step: k + 1, vm: m.vm, from: m.from, to: m.to });
        result.migrations++;
      }
      for (const arr of [usageSum, delaySum, throttledSum]) for (const a of arr) a.fill(0);
      windowSteps = 0;
    }
    result.series.migrations.push(result.migrations);
  }
  result.fractionAboveThreshold = scenario.steps > 0 ? result.hoursAboveThreshold / (scenario.steps * hours) : 0;
  return result;
}

function buildSnapshot(
  scenario: Scenario,
  place: readonly number[],
  usageSum: readonly Float64Array[],
  delaySum: readonly Float64Array[],
  throttledSum: readonly Float64Array[],
  n: number,
  nowMs: number,
): FleetSnapshot {
  const r = (x: number) => Math.round((x / n) * 1e6) / 1e6;
  const vms: FleetVm[] = scenario.vms.map((vm, v) => {
    const delay = Array.from(delaySum[v]!, r);
    return {
      name: vm.name,
      uuid: null,
      host: scenario.hosts[place[v]!]!.name,
      vcpus: vm.vcpus,
      memory_mib: vm.memory_mib,
      usage: Array.from(usageSum[v]!, r),
      delay,
      throttled: Array.from(throttledSum[v]!, (x, i) => Math.min(r(x), delay[i]!)),
      cap: vm.cap,
      migratable: vm.migratable,
    };
  });
  return {
    version: 1,
    time: new Date(nowMs).toISOString(),
    window_s: n * scenario.stepS,
    hosts: scenario.hosts.map((h) => ({ ...h })),
    vms,
    constraints: { max_moves: scenario.controller.maxMoves, anti_affinity: scenario.antiAffinity },
  };
}
