/**
 * Simulation scenarios: a fleet and each VM's demand over time, as JSON.
 *
 * ```json
 * { "version": 1, "name": "two days", "step_s": 300, "steps": 576, "seed": 7,
 *   "controller": { "every_steps": 3, "alert_threshold": 0.05, "cooldown_steps": 12 },
 *   "hosts": [ { "name": "hv01", "cpus": 16, "memory_mib": 131072, "reserved_cpus": 2 } ],
 *   "vms": [
 *     { "name": "web-1", "host": "hv01", "vcpus": 4, "memory_mib": 8192,
 *       "demand": { "pattern": "daily", "base": 0.15, "peak": 0.8, "peak_hour": 14, "width_h": 4,
 *                   "noise": 0.05, "bursts_per_day": 2, "burst_steps": 6, "burst_level": 0.95 } },
 *     { "name": "batch", "host": "hv01", "vcpus": 2, "memory_mib": 4096, "demand": [0.9, 0.9, 0.2] }
 *   ],
 *   "constraints": { "anti_affinity": [] } }
 * ```
 *
 * A VM's demand is the fraction of wall time each vCPU wants to run, per step: a generator
 * (`daily`: a base level with a daily peak, noise and random bursts; `constant`), or an
 * explicit trace — one number per step for all vCPUs or one list per step with a number per
 * vCPU; a trace shorter than `steps` repeats. Generators are deterministic (seeded).
 */
import { z } from "zod";
import {
  FLEET_BOUNDS,
  FleetValidationError,
  fleetHostSchema,
  refineHosts,
  toFleetHost,
  toFleetIssues,
  type FleetHost,
} from "../model/fleet.js";
import { hash32 } from "../model/contention.js";

const fraction = z.number().min(0).max(1);

const dailySchema = z.object({
  pattern: z.literal("daily"),
  base: fraction,
  peak: fraction,
  peak_hour: z.number().min(0).max(24).default(14),
  width_h: z.number().gt(0).default(4),
  noise: fraction.default(0.03),
  bursts_per_day: z.number().min(0).default(0),
  burst_steps: z.number().int().min(1).default(3),
  burst_level: fraction.default(0.95),
  /** Shift of the whole pattern, hours (time zones, batch windows). */
  phase_h: z.number().default(0),
});

const constantSchema = z.object({ pattern: z.literal("constant"), level: fraction, noise: fraction.default(0) });

const traceSchema = z.union([z.array(fraction).min(1), z.array(z.array(fraction)).min(1)]);

const demandSchema = z.union([dailySchema, constantSchema, traceSchema]);

const scenarioSchema = z
  .object({
    version: z.literal(1),
    name: z.string().default("scenario"),
    step_s: z.number().gt(0),
    steps: z.number().int().min(1).max(1_000_000),
    seed: z.number().int().default(1),
    controller: z
      .object({
        every_steps: z.number().int().min(1).default(3),
        alert_threshold: fraction.default(0.05),
        cooldown_steps: z.number().int().min(0).default(12),
        /** Default: every_steps (the controller's default host cooldown is its window). */
        host_cooldown_steps: z.number().int().min(0).optional(),
        cycle_audits: z.number().int().min(0).default(10),
        max_moves: z.number().int().min(0).nullable().default(null),
        min_gain: z.number().min(0).default(0.05),
      })
      .default({
        every_steps: 3,
        alert_threshold: 0.05,
        cooldown_steps: 12,
        cycle_audits: 10,
        max_moves: null,
        min_gain: 0.05,
      }),
    hosts: z.array(fleetHostSchema).min(1).max(FLEET_BOUNDS.hosts),
    vms: z.array(
      z.object({
        name: z.string().min(1),
        host: z.string().min(1),
        vcpus: z.number().int().min(1).max(1024),
        memory_mib: z.number().min(0),
        cap: z.number().gt(0).nullable().default(null),
        migratable: z.boolean().default(true),
        demand: demandSchema,
      }),
    ),
    constraints: z
      .object({ anti_affinity: z.array(z.array(z.string().min(1))).default([]) })
      .default({ anti_affinity: [] }),
  })
  .superRefine((s, ctx) => {
    const hosts = refineHosts(s.hosts, ctx);
    const vms = new Set<string>();
    s.vms.forEach((v, i) => {
      if (vms.has(v.name))
        ctx.addIssue({ code: "custom", path: ["vms", i, "name"], message: `duplicate VM name "${v.name}"` });
      vms.add(v.name);
      if (!hosts.has(v.host))
        ctx.addIssue({ code: "custom", path: ["vms", i, "host"], message: `unknown host "${v.host}" (not in hosts)` });
      if (Array.isArray(v.demand)) {
        v.demand.forEach((step, k) => {
          if (Array.isArray(step) && step.length !== v.vcpus) {
            ctx.addIssue({
              code: "custom",
              path: ["vms", i, "demand", k],
              message: `must have one value per vCPU (vcpus is ${v.vcpus}), got ${step.length}`,
            });
          }
        });
      }
    });
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
type ParsedScenario = z.output<typeof scenarioSchema>;

export interface ScenarioVm {
  name: string;
  host: string;
  vcpus: number;
  memory_mib: number;
  cap: number | null;
  migratable: boolean;
  /** demand[step][vcpu]. */
  demand: Float64Array[];
}

export interface Scenario {
  name: string;
  stepS: number;
  steps: number;
  controller: {
    everySteps: number;
    alertThreshold: number;
    /** A moved VM is not moved again for this many steps (the controller's --cooldown.vm). */
    cooldownSteps: number;
    /** A host that sent or received a VM does neither for this many steps (--cooldown.host). */
    hostCooldownSteps: number;
    /** Cycles are looked for over this many plans back (--cycle-audits). */
    cycleAudits: number;
    maxMoves: number | null;
    minGain: number;
  };
  hosts: FleetHost[];
  vms: ScenarioVm[];
  antiAffinity: string[][];
}

/** Validates a scenario and generates its demand traces. Throws FleetValidationError. */
export function parseScenario(value: unknown): Scenario {
  const r = scenarioSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new FleetValidationError("scenario", toFleetIssues(r.error.issues, value));
  const s: ParsedScenario = r.data;
  return {
    name: s.name,
    stepS: s.step_s,
    steps: s.steps,
    controller: {
      everySteps: s.controller.every_steps,
      alertThreshold: s.controller.alert_threshold,
      cooldownSteps: s.controller.cooldown_steps,
      hostCooldownSteps: s.controller.host_cooldown_steps ?? s.controller.every_steps,
      cycleAudits: s.controller.cycle_audits,
      maxMoves: s.controller.max_moves,
      minGain: s.controller.min_gain,
    },
    hosts: s.hosts.map(toFleetHost),
    vms: s.vms.map((v) => ({
      name: v.name,
      host: v.host,
      vcpus: v.vcpus,
      memory_mib: v.memory_mib,
      cap: v.cap,
      migratable: v.migratable,
      demand: generate(v.demand, v.vcpus, s.steps, s.step_s, (s.seed ^ hash32(v.name)) >>> 0),
    })),
    antiAffinity: s.constraints.anti_affinity,
  };
}

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

function generate(
  spec: ParsedScenario["vms"][number]["demand"],
  vcpus: number,
  steps: number,
  stepS: number,
  seed: number,
): Float64Array[] {
  const out: Float64Array[] = [];
  if (Array.isArray(spec)) {
    for (let k = 0; k < steps; k++) {
      const x = spec[k % spec.length]!;
      out.push(Array.isArray(x) ? Float64Array.from(x) : new Float64Array(vcpus).fill(x));
    }
    return out;
  }
  const rand = prng(seed);
  // Each vCPU a little different: the first ones busier, as in most guests.
  const skew = Array.from({ length: vcpus }, (_, i) => (vcpus === 1 ? 1 : 1.1 - (0.2 * i) / (vcpus - 1)));
  if (spec.pattern === "constant") {
    for (let k = 0; k < steps; k++)
      out.push(Float64Array.from(skew, (w) => clamp01(spec.level * w + (rand() - 0.5) * 2 * spec.noise)));
    return out;
  }
  const stepsPerDay = Math.max(1, Math.round(86_400 / stepS));
  const burstProb = spec.bursts_per_day / stepsPerDay;
  let burstLeft = 0;
  for (let k = 0; k < steps; k++) {
    const hour = ((((k * stepS) / 3600 - spec.phase_h) % 24) + 24) % 24;
    // Distance to the peak hour on the 24 h circle.
    const dh = Math.min(Math.abs(hour - spec.peak_hour), 24 - Math.abs(hour - spec.peak_hour));
    const level = spec.base + (spec.peak - spec.base) * Math.exp(-0.5 * (dh / (spec.width_h / 2)) ** 2);
    if (burstLeft === 0 && rand() < burstProb) burstLeft = spec.burst_steps;
    const bursting = burstLeft > 0;
    if (burstLeft > 0) burstLeft--;
    out.push(
      Float64Array.from(skew, (w) => {
        const x = bursting ? spec.burst_level : level * w;
        return clamp01(x + (rand() - 0.5) * 2 * spec.noise);
      }),
    );
  }
  return out;
}
