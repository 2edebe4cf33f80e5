/**
 * The reason a move carries: plain sentences with the numbers behind the decision, so a person
 * can check them against the snapshot ("hv01 is oversubscribed (demand 36.5 of 30 cores);
 * web-1 waits 11 % …; on hv07 predicted wait 0.4 %, hv07 demand 12.0→16.2 of 30 cores").
 */
import { predictHost, type ModelOptions, type ModelVm } from "../model/contention.js";
import { fmt, pct, type FleetState } from "./state.js";

/** What the model predicts for moving VM v to host t, from the state before the move. */
export interface MoveForecast {
  sourceStealBefore: number;
  sourceStealAfter: number;
  targetStealBefore: number;
  targetStealAfter: number;
  /** Fleet-wide drop in predicted contention, cores. */
  gain: number;
  /** Predicted mean wait per vCPU of the VM on the target (fraction). */
  vmWaitOnTarget: number;
}

function modelVms(state: FleetState, vms: readonly number[]): ModelVm[] {
  return vms.map((v) => ({ id: state.vm(v).name, vcpus: state.vmDemands[v]!.map((d) => ({ demand: d })) }));
}

/** Mean predicted contention per vCPU of VM v if the host held exactly these VMs. */
function predictedWait(state: FleetState, h: number, vms: readonly number[], v: number, model: ModelOptions): number {
  const p = predictHost(state.hostCapacity[h]!, modelVms(state, vms), model);
  const at = vms.indexOf(v);
  const delay = p.vms[at]?.delay ?? [];
  return delay.length === 0 ? 0 : delay.reduce((a, b) => a + b, 0) / delay.length;
}

export function forecast(state: FleetState, v: number, t: number, model: ModelOptions): MoveForecast {
  const s = state.vmHost[v]!;
  const sourceStealBefore = state.hostSteal(s);
  const sourceStealAfter = state.stealWithout(s, v);
  const targetStealBefore = state.hostSteal(t);
  const targetStealAfter = state.stealWith(t, v);
  return {
    sourceStealBefore,
    sourceStealAfter,
    targetStealBefore,
    targetStealAfter,
    gain: sourceStealBefore - sourceStealAfter - (targetStealAfter - targetStealBefore),
    vmWaitOnTarget: predictedWait(state, t, [...state.hostVms[t]!, v], v, model),
  };
}

/** "hv01 is oversubscribed (demand 36.5 of 30 cores)" or "hv01 is contended (…)". */
export function hostCondition(state: FleetState, h: number): string {
  const d = state.hostDemand(h);
  const c = state.hostCapacity[h]!;
  const m = state.measuredContention(h);
  const what = d > c + 1e-9 ? "is oversubscribed" : "is contended";
  return `${state.hostName(h)} ${what} (demand ${fmt(d, 1)} of ${fmt(c, 0)} cores; its vCPUs wait ${fmt(m.total, 2)} cores for other load, the worst ${pct(m.max)})`;
}

/** "web-1 waits 11 % (mean of 4 vCPUs, worst 12 %)", plus who else gains when it barely waits. */
export function vmCondition(state: FleetState, v: number): string {
  const vm = state.vm(v);
  const mean = state.vmContention[v]! / vm.vcpus;
  let text = `${vm.name} waits ${pct(mean)}${vm.vcpus > 1 ? ` (mean of ${vm.vcpus} vCPUs, worst ${pct(state.vmMaxContention[v]!)})` : ""}`;
  if (mean < 0.02) {
    const s = state.vmHost[v]!;
    let worst = -1;
    for (const u of state.hostVms[s]!) {
      if (u !== v && (worst < 0 || state.vmMaxContention[u]! > state.vmMaxContention[worst]!)) worst = u;
    }
    if (worst >= 0 && state.vmMaxContention[worst]! > 0) {
      text += `, but its ${fmt(state.vmDemand[v]!, 1)} cores of demand make others wait (${state.vm(worst).name} ${pct(state.vmMaxContention[worst]!)})`;
    }
  }
  return text;
}

/** "on hv07 predicted wait 0.4 %, hv07 demand 12.0→16.2 of 30 cores; predicted contention …". */
export function predictionText(state: FleetState, v: number, t: number, f: MoveForecast): string {
  const s = state.vmHost[v]!;
  const src = state.hostName(s);
  const tgt = state.hostName(t);
  const dBefore = state.hostDemand(t);
  return (
    `on ${tgt} predicted wait ${pct(f.vmWaitOnTarget)}, ` +
    `${tgt} demand ${fmt(dBefore, 1)}→${fmt(dBefore + state.vmDemand[v]!, 1)} of ${fmt(state.hostCapacity[t]!, 0)} cores; ` +
    `predicted contention ${src} ${fmt(f.sourceStealBefore, 2)}→${fmt(f.sourceStealAfter, 2)}, ` +
    `${tgt} ${fmt(f.targetStealBefore, 2)}→${fmt(f.targetStealAfter, 2)} cores (fleet ${f.gain >= 0 ? "−" : "+"}${fmt(Math.abs(f.gain), 2)})`
  );
}

/** The reason of a move the contention policy makes. */
export function contentionReason(state: FleetState, v: number, t: number, f: MoveForecast): string {
  return `${hostCondition(state, state.vmHost[v]!)}; ${vmCondition(state, v)}; ${predictionText(state, v, t, f)}`;
}
