/**
 * The contention policy (ours). Greedy best-improvement on the fleet's predicted contention:
 *
 * 1. Sources: hosts where some vCPU measurably waits for other load (contention ≥
 *    minContention). Throttled delay — a VM's own CPU cap — never makes a host a source, and
 *    moving cures no cap.
 * 2. Candidates: the migratable VMs on sources, each VM at most once per plan — except VMs
 *    held back by their own cap (throttled, not waiting for others): their delay would follow
 *    them.
 * 3. For each candidate, the contention model predicts the source without it and each target
 *    with it; targets are the `targetsPerVm` hosts with the most spare capacity that the
 *    constraints allow (memory, CPU, accepts_vms, anti-affinity).
 * 4. The move with the largest fleet-wide gain (source relief − target harm, the moved VM's own
 *    wait on the target counted as harm) is made if the gain is at least minGain; a move that
 *    hurts the target more than it helps the source has a negative gain and is never made.
 *    Repeat until max_moves or no move gains enough.
 *
 * Evaluations are cached: after a move only the two hosts it touched are evaluated again.
 */
import type { Policy, PolicyMove } from "../policy.js";
import { contentionReason, forecast } from "../reason.js";
import { fmt, pct, type FleetState } from "../state.js";

interface Candidate {
  v: number;
  /** Source relief if v left: steal(s) − steal(s without v). */
  relief: number;
  /** Bumped whenever relief changes: heap entries of older versions are dropped. */
  version: number;
  /** Best target found and its gain; t = -1: none. */
  t: number;
  gain: number;
  /** Must the best target be searched again from scratch? */
  stale: boolean;
  /** Moves (changeLog entries) already taken into account. */
  seen: number;
}

interface Entry {
  c: Candidate;
  relief: number;
  version: number;
}

/** Max-heap of candidates by relief (ties: lower VM index first). */
class ReliefHeap {
  private readonly a: Entry[] = [];
  get size(): number {
    return this.a.length;
  }
  private above(x: Entry, y: Entry): boolean {
    return x.relief > y.relief || (x.relief === y.relief && x.c.v < y.c.v);
  }
  push(e: Entry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  peek(): Entry | undefined {
    return this.a[0];
  }
  pop(): Entry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.above(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.above(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export const contentionPolicy: Policy = (state, ctx) => {
  const { options, maxMoves } = ctx;
  const notes: string[] = [];
  const moves: PolicyMove[] = [];
  const H = state.hostCount;

  const sources: number[] = [];
  for (let h = 0; h < H; h++) if (state.measuredContention(h).max >= options.minContention) sources.push(h);
  const measured = sources.length;
  // Once something measurably waits, hosts where the model predicts waiting worth a move are sources too.
  if (measured > 0)
    for (let h = 0; h < H; h++)
      if (state.measuredContention(h).max < options.minContention && state.hostSteal(h) >= options.minGain)
        sources.push(h);
  if (sources.length === 0) {
    notes.push(`No vCPU waits ${pct(options.minContention)} or more for other load: nothing to relieve.`);
    return { moves, notes: notes.concat(throttledNote(state)) };
  }

  // Candidates per source host, with their relief; the heap orders them by relief.
  const hostCandidates: Candidate[][] = [];
  const heap = new ReliefHeap();
  for (const h of sources) {
    for (const v of state.hostVms[h]!) {
      if (!state.vm(v).migratable || state.heldByCap(v, options.minContention)) continue;
      const c: Candidate = {
        v,
        relief: state.hostSteal(h) - state.stealWithout(h, v),
        version: 0,
        t: -1,
        gain: Number.NEGATIVE_INFINITY,
        stale: true,
        seen: 0,
      };
      (hostCandidates[h] ??= []).push(c);
      // Only a candidate whose relief alone reaches minGain can make a move worth it.
      if (c.relief >= options.minGain) heap.push({ c, relief: c.relief, version: 0 });
    }
  }

  // Hosts by spare capacity (most first); after a move only its two hosts change place.
  const spareOf = new Float64Array(H);
  for (let h = 0; h < H; h++) spareOf[h] = state.hostCapacity[h]! - state.hostDemand(h);
  const before = (a: number, b: number): boolean => spareOf[a]! > spareOf[b]! || (spareOf[a] === spareOf[b] && a < b);
  const order = Array.from({ length: H }, (_, i) => i).sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  const reposition = (h: number): void => {
    order.splice(order.indexOf(h), 1);
    spareOf[h] = state.hostCapacity[h]! - state.hostDemand(h);
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(order[mid]!, h)) lo = mid + 1;
      else hi = mid;
    }
    order.splice(lo, 0, h);
  };

  const gainOf = (c: Candidate, t: number): number => c.relief - (state.stealWith(t, c.v) - state.hostSteal(t));
  const searchTargets = (c: Candidate): void => {
    c.t = -1;
    c.gain = Number.NEGATIVE_INFINITY;
    let tried = 0;
    for (const t of order) {
      if (tried >= options.targetsPerVm) break;
      if (state.refusal(c.v, t) !== null) continue;
      tried++;
      const g = gainOf(c, t);
      if (g > c.gain + 1e-12) {
        c.gain = g;
        c.t = t;
      }
    }
    c.stale = false;
  };

  const moved = new Uint8Array(state.vmCount);
  /** Hosts each move changed, in order: a candidate catches up on those since it last looked. */
  const changeLog: number[][] = [];
  let stopReason = "";
  while (true) {
    if (moves.length >= maxMoves) {
      stopReason = `Stopped at max_moves (${maxMoves}).`;
      break;
    }
    // Branch and bound: candidates by relief, most first; a gain is at most the relief.
    let best: Candidate | null = null;
    const visited: Entry[] = [];
    while (heap.size > 0) {
      const e = heap.peek()!;
      if (e.version !== e.c.version || moved[e.c.v]) {
        heap.pop();
        continue;
      }
      if (best !== null && e.relief < best.gain - 1e-12) break;
      heap.pop();
      visited.push(e);
      const c = e.c;
      const since = new Set<number>();
      for (let i = c.seen; i < changeLog.length; i++) for (const h of changeLog[i]!) since.add(h);
      c.seen = changeLog.length;
      if (
        c.stale ||
        since.size > options.targetsPerVm ||
        (c.t >= 0 && since.has(c.t)) ||
        (c.t >= 0 && state.refusal(c.v, c.t) !== null)
      )
        searchTargets(c);
      else {
        // Only the hosts moves touched since it last looked can have become better targets.
        for (const t of since) {
          if (t === c.t || state.refusal(c.v, t) !== null) continue;
          const g = gainOf(c, t);
          if (g > c.gain + 1e-12 || (Math.abs(g - c.gain) <= 1e-12 && t < c.t)) {
            c.gain = g;
            c.t = t;
          }
        }
      }
      if (c.t < 0) continue;
      if (best === null || c.gain > best.gain + 1e-12 || (Math.abs(c.gain - best.gain) <= 1e-12 && c.v < best.v))
        best = c;
    }
    for (const e of visited) heap.push(e);
    if (best === null || best.gain < options.minGain || best.gain <= 1e-9) {
      stopReason =
        best === null
          ? "No further move is allowed by the constraints or worth it."
          : `No further move lowers the predicted contention by ${fmt(options.minGain, 2)} cores or more (the best left: ${state.vm(best.v).name} → ${state.hostName(best.t)}, ${fmt(best.gain, 3)}).`;
      break;
    }
    const v = best.v;
    const t = best.t;
    const s = state.vmHost[v]!;
    const f = forecast(state, v, t, options.model);
    moves.push({ v, t, reason: contentionReason(state, v, t, f) });
    state.apply(v, t);
    moved[v] = 1;
    changeLog.push([s, t]);
    reposition(s);
    reposition(t);
    // Relief changes only on the two hosts.
    for (const h of [s, t]) {
      for (const c of hostCandidates[h] ?? []) {
        if (moved[c.v] || state.vmHost[c.v] !== h) continue;
        c.relief = state.hostSteal(h) - state.stealWithout(h, c.v);
        c.version++;
        c.stale = true;
        if (c.relief >= options.minGain) heap.push({ c, relief: c.relief, version: c.version });
      }
    }
  }
  notes.push(
    `Sources (a vCPU waits ≥ ${pct(options.minContention)} for other load): ${sources
      .slice(0, 10)
      .map((h) => state.hostName(h))
      .join(", ")}${sources.length > 10 ? ` and ${sources.length - 10} more` : ""}.`,
  );
  notes.push(stopReason);
  return { moves, notes: notes.concat(throttledNote(state)) };
};

/** "Throttled delay (own CPU caps) is never a reason to move: 0.80 cores on db-2." */
export function throttledNote(state: FleetState): string[] {
  let total = 0;
  const vms: string[] = [];
  for (let v = 0; v < state.vmCount; v++) {
    const vm = state.vm(v);
    const t = vm.throttled.reduce((a, b) => a + b, 0);
    if (t > 0.005) {
      total += t;
      vms.push(vm.name);
    }
  }
  if (vms.length === 0) return [];
  return [
    `Throttled delay (VMs held back by their own CPU cap) is never a reason to move: ${fmt(total, 2)} cores on ${vms.slice(0, 5).join(", ")}${vms.length > 5 ? ` and ${vms.length - 5} more` : ""}.`,
  ];
}
