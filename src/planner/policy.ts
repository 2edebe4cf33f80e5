import type { PlanOptions } from "./options.js";
import type { FleetState } from "./state.js";

/** A move a policy chose (VM and host indices into the state) with its reason. */
export interface PolicyMove {
  v: number;
  t: number;
  reason: string;
}

export interface PolicyResult {
  /** In order; the state has them applied when the policy returns. */
  moves: PolicyMove[];
  /** Sentences for the plan's explanation: why it stopped, what it left alone. */
  notes: string[];
}

export interface PolicyContext {
  options: PlanOptions;
  /** At most this many moves (Infinity: no limit). */
  maxMoves: number;
}

/** A policy plans on the state, applying each move it makes (so the next sees it). */
export type Policy = (state: FleetState, ctx: PolicyContext) => PolicyResult;
