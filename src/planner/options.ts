/** The planner's options, their defaults and their validation (zod, messages naming the field). */
import { z } from "zod";
import { FleetValidationError, toFleetIssues } from "../model/fleet.js";
import { POLICIES, type PolicyName } from "./policy-names.js";

// The names live in their own module so the CLI can list them without loading zod.
export { POLICIES, POLICY_DESCRIPTIONS, type PolicyName } from "./policy-names.js";
export interface PlanOptions {
  policy: PolicyName;
  /** A move must lower the fleet's predicted contention by at least this much, cores. */
  minGain: number;
  /** At most this many moves; the smaller of this and the snapshot's max_moves counts. null: the snapshot's. */
  maxMoves: number | null;
  /** A host is a source only when one of its vCPUs measurably waits this much for other load (fraction). */
  minContention: number;
  /** Contention model: how demand below 1 is treated, and the states sampled for splits. */
  model: { mode: "bursty" | "fluid"; samples: number };
  /** contention: how many of the roomiest hosts are tried as targets for each VM. */
  targetsPerVm: number;
  /** balance-utilisation: act while the std dev of host CPU use (fraction of capacity) exceeds this. */
  balanceThreshold: number;
  /** hottest-host: a host above this CPU use (fraction of capacity) is hot; targets stay below it. */
  hotThreshold: number;
  /** optimal: refuse instances with more candidate placements than this. */
  optimalLimit: number;
}

export const DEFAULT_PLAN_OPTIONS: Readonly<PlanOptions> = {
  policy: "contention",
  minGain: 0.05,
  maxMoves: null,
  minContention: 0.02,
  model: { mode: "bursty", samples: 256 },
  targetsPerVm: 16,
  balanceThreshold: 0.05,
  hotThreshold: 0.75,
  optimalLimit: 2_000_000,
};

const fraction = z.number().min(0).max(1);

const optionsSchema = z.strictObject({
  policy: z.enum(POLICIES).optional(),
  minGain: z.number().min(0).optional(),
  maxMoves: z.number().int().min(0).nullable().optional(),
  minContention: fraction.optional(),
  model: z
    .strictObject({
      mode: z.enum(["bursty", "fluid"]).optional(),
      samples: z
        .number()
        .int()
        .min(8)
        .max(1024)
        .refine((n) => (n & (n - 1)) === 0, { message: "must be a power of two (8, 16, … 1024)" })
        .optional(),
    })
    .optional(),
  targetsPerVm: z.number().int().min(1).optional(),
  balanceThreshold: fraction.optional(),
  hotThreshold: z.number().gt(0).max(1).optional(),
  optimalLimit: z.number().int().min(1).optional(),
});

export type PlanOptionsInput = z.input<typeof optionsSchema>;

/** Validates options (any value) and fills the defaults. Throws FleetValidationError. */
export function parsePlanOptions(value: unknown): PlanOptions {
  const r = optionsSchema.safeParse(value ?? {}, { reportInput: true });
  if (!r.success) {
    const known = (path: readonly PropertyKey[]): readonly string[] =>
      path.length === 1 && path[0] === "model" ? ["mode", "samples"] : Object.keys(optionsSchema.shape);
    throw new FleetValidationError(
      "planner options",
      toFleetIssues(r.error.issues, value, ["options"], { knownFieldsAt: known }),
    );
  }
  const o = r.data;
  return {
    policy: o.policy ?? DEFAULT_PLAN_OPTIONS.policy,
    minGain: o.minGain ?? DEFAULT_PLAN_OPTIONS.minGain,
    maxMoves: o.maxMoves ?? DEFAULT_PLAN_OPTIONS.maxMoves,
    minContention: o.minContention ?? DEFAULT_PLAN_OPTIONS.minContention,
    model: {
      mode: o.model?.mode ?? DEFAULT_PLAN_OPTIONS.model.mode,
      samples: o.model?.samples ?? DEFAULT_PLAN_OPTIONS.model.samples,
    },
    targetsPerVm: o.targetsPerVm ?? DEFAULT_PLAN_OPTIONS.targetsPerVm,
    balanceThreshold: o.balanceThreshold ?? DEFAULT_PLAN_OPTIONS.balanceThreshold,
    hotThreshold: o.hotThreshold ?? DEFAULT_PLAN_OPTIONS.hotThreshold,
    optimalLimit: o.optimalLimit ?? DEFAULT_PLAN_OPTIONS.optimalLimit,
  };
}
