export { plan, planValidated } from "./plan.js";
export {
  DEFAULT_PLAN_OPTIONS,
  POLICIES,
  POLICY_DESCRIPTIONS,
  parsePlanOptions,
  type PlanOptions,
  type PlanOptionsInput,
  type PolicyName,
} from "./options.js";
export { undoneRecentMove, lastMoveOf, type RecentMove, type ProposedMove } from "./recent-moves.js";
export { OptimalTooLargeError } from "./policies/optimal.js";
export { checkPlan } from "./check.js";
export {
  guardedPlan,
  MoveLedger,
  SUPPRESSION_RULES,
  type GuardOptions,
  type GuardedPlan,
  type MoveRecord,
  type Suppression,
  type SuppressionRule,
} from "./guard.js";
