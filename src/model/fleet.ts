/**
 * The fleet snapshot (the planner's input) and the plan (its output), exactly as
 * /work/shared/formats/fleet-snapshot.md describes them, with their zod schemas.
 *
 * Readers ignore fields they do not know. Every problem is reported with the field it is in:
 * `vms[3].delay[1]: must be ≥ 0, got -0.2`.
 *
 * Fields the format shows but that a hand-written snapshot may leave out get the value that
 * changes nothing: `reserved_cpus` 0, `accepts_vms` true, `uuid` null, `throttled` all 0,
 * `cap` null, `migratable` true, `constraints` none. Everything else is required.
 */
import { z } from "zod";
import { describeValue, formatPath } from "../config/yaml.js";

export interface FleetHost {
  name: string;
  /** Host CPUs. */
  cpus: number;
  memory_mib: number;
  /** CPUs kept for the host itself, not for VMs. */
  reserved_cpus: number;
  /** false: may be emptied, receives nothing (maintenance). */
  accepts_vms: boolean;
  /** true: every migratable VM must leave (maintenance mode); implies accepts_vms false. Absent: false. */
  drain?: boolean;
}

export interface FleetVm {
  name: string;
  uuid: string | null;
  /** Name of a host in `hosts`. */
  host: string;
  vcpus: number;
  memory_mib: number;
  /** Per vCPU: fraction of wall time it ran (1.0 = a whole core). */
  usage: number[];
  /** Per vCPU: fraction of wall time it was runnable but waited (all steal). */
  delay: number[];
  /** Per vCPU: the part of `delay` due to the VM's own CPU cap. Never more than `delay`. */
  throttled: number[];
  /** Per-vCPU cap as a fraction of a core, or null. */
  cap: number | null;
  migratable: boolean;
}

export interface FleetConstraints {
  /** At most this many migrations in one plan; null: no limit. */
  max_moves: number | null;
  /** Groups whose members must end on pairwise different hosts. */
  anti_affinity: string[][];
}

export interface FleetSnapshot {
  version: 1;
  time: string;
  window_s: number;
  hosts: FleetHost[];
  vms: FleetVm[];
  constraints: FleetConstraints;
}

export interface PlanMove {
  vm: string;
  from: string;
  to: string;
  /** Why, with numbers a person can check. */
  reason: string;
}

export interface Plan {
  version: 1;
  moves: PlanMove[];
  /** Predicted contention delay summed over all vCPUs, in cores. */
  predicted: { steal_before: number; steal_after: number };
  explanation: string;
}

/** One thing wrong with a snapshot, a plan or planner options. */
export interface FleetIssue {
  /** `vms[3].delay[1]`; "" for the whole value. */
  field: string;
  reason: string;
}

/** The error every validator here throws; its message has one `field: reason` line per issue. */
export class FleetValidationError extends Error {
  readonly issues: readonly FleetIssue[];
  constructor(what: string, issues: readonly FleetIssue[]) {
    const shown = issues.slice(0, 20).map((i) => (i.field === "" ? i.reason : `${i.field}: ${i.reason}`));
    if (issues.length > 20) shown.push(`… and ${issues.length - 20} more problems`);
    super(`invalid ${what}:\n  ${shown.join("\n  ")}`);
    this.name = "FleetValidationError";
    this.issues = issues;
  }
}

// ---------------------------------------------------------------- schema pieces

/** A finite number ≥ 0. */
const nonNegative = z.number().min(0);
/** A whole number ≥ min. */
const wholeAtLeast = (min: number) => z.number().int().min(min);
const name = z.string().min(1);

const hostSchema = z.object({
  name,
  cpus: wholeAtLeast(1),
  memory_mib: nonNegative,
  reserved_cpus: wholeAtLeast(0).default(0),
  accepts_vms: z.boolean().default(true),
  drain: z.boolean().optional(),
});

const vmSchema = z.object({
  name,
  uuid: z.string().nullable().default(null),
  host: name,
  vcpus: wholeAtLeast(1),
  memory_mib: nonNegative,
  usage: z.array(nonNegative),
  delay: z.array(nonNegative),
  throttled: z.array(nonNegative).optional(),
  cap: z.number().gt(0).nullable().default(null),
  migratable: z.boolean().default(true),
});

const constraintsSchema = z.object({
  max_moves: wholeAtLeast(0).nullable().default(null),
  anti_affinity: z.array(z.array(name)).default([]),
});

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const snapshotShape = z.object({
  version: z.literal(1),
  time: z.string().refine((s) => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s)), {
    message: "expected an ISO 8601 time like 2026-11-25T12:00:00Z",
  }),
  window_s: z.number().gt(0),
  hosts: z.array(hostSchema),
  vms: z.array(vmSchema),
  constraints: constraintsSchema.default({ max_moves: null, anti_affinity: [] }),
});

/** Checks between fields: unknown hosts, duplicate names, array lengths, throttled ≤ delay. */
const snapshotSchema = snapshotShape.superRefine((s, ctx) => {
  const hostNames = new Set<string>();
  s.hosts.forEach((h, i) => {
    if (hostNames.has(h.name)) ctx.addIssue({ code: "custom", path: ["hosts", i, "name"], message: `duplicate host name ${describeValue(h.name)}`, input: h.name });
    hostNames.add(h.name);
    if (h.reserved_cpus > h.cpus) {
      ctx.addIssue({ code: "custom", path: ["hosts", i, "reserved_cpus"], message: `must be at most cpus (${h.cpus}), got ${h.reserved_cpus}`, input: h.reserved_cpus });
    }
  });
  const vmNames = new Set<string>();
  s.vms.forEach((vm, i) => {
    if (vmNames.has(vm.name)) ctx.addIssue({ code: "custom", path: ["vms", i, "name"], message: `duplicate VM name ${describeValue(vm.name)}`, input: vm.name });
    vmNames.add(vm.name);
    if (!hostNames.has(vm.host)) {
      ctx.addIssue({ code: "custom", path: ["vms", i, "host"], message: `unknown host ${describeValue(vm.host)} (not in hosts)`, input: vm.host });
    }
    for (const key of ["usage", "delay", "throttled"] as const) {
      const arr = vm[key];
      if (arr !== undefined && arr.length !== vm.vcpus) {
        ctx.addIssue({
          code: "custom",
          path: ["vms", i, key],
          message: `must have one value per vCPU (vcpus is ${vm.vcpus}), got ${arr.length}`,
          input: arr,
        });
      }
    }
    vm.throttled?.forEach((t, j) => {
      const d = vm.delay[j];
      if (d !== undefined && t > d + 1e-6) {
        ctx.addIssue({ code: "custom", path: ["vms", i, "throttled", j], message: `must not exceed delay[${j}] (${d}), got ${t}`, input: t });
      }
    });
  });
});

const planSchema = z.object({
  version: z.literal(1),
  moves: z.array(z.object({ vm: name, from: name, to: name, reason: name })),
  predicted: z.object({ steal_before: nonNegative, steal_after: nonNegative }),
  explanation: z.string(),
});

// ------------------------------------------------------------------ messages

type Issue = z.core.$ZodIssue;

function issueReason(issue: Issue, root: unknown): string {
  const input = issue.input !== undefined ? issue.input : valueAt(root, issue.path);
  switch (issue.code) {
    case "invalid_type": {
      const received = (issue as { received?: unknown }).received;
      if (input === undefined && received === undefined) return "required field is missing";
      if (issue.expected === "number" && (received === "Infinity" || received === "NaN" || (typeof input === "number" && !Number.isFinite(input)))) {
        return `must be a finite number, got ${typeof received === "string" ? received : describeValue(input)}`;
      }
      return `expected ${expectedName(issue.expected)}, got ${describeValue(input)}`;
    }
    case "too_small":
      if (issue.origin === "string") return "must not be empty";
      if (issue.origin === "array") return `must have at least ${issue.minimum} items`;
      return `must be ${issue.inclusive === false ? ">" : "≥"} ${issue.minimum}, got ${describeValue(input)}`;
    case "too_big":
      return `must be ${issue.inclusive === false ? "<" : "≤"} ${issue.maximum}, got ${describeValue(input)}`;
    case "invalid_value":
      if (input === undefined) return `required field is missing: ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}`;
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(" or ")}, got ${describeValue(input)}`;
    case "invalid_format":
      return `${issue.message}, got ${describeValue(input)}`;
    case "custom":
      return issue.message;
    case "invalid_union":
      return `expected ${issue.message}, got ${describeValue(input)}`;
    default: {
      if (issue.code === "not_multiple_of") return `must be a multiple of ${String(issue.divisor)}, got ${describeValue(input)}`;
      return `${issue.message} (got ${describeValue(input)})`;
    }
  }
}

function expectedName(expected: string): string {
  switch (expected) {
    case "object":
    case "record":
      return "a mapping";
    case "array":
      return "a list";
    case "string":
      return "text";
    case "int":
      return "a whole number";
    case "boolean":
      return "true or false";
    default:
      return `a ${expected}`;
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

/** zod issues → `field: reason` issues. zod's int check says "expected int": say "a whole number". */
export function toFleetIssues(issues: readonly Issue[], root: unknown, prefix: readonly PropertyKey[] = []): FleetIssue[] {
  return issues.map((i) => ({ field: formatPath([...prefix, ...i.path]), reason: issueReason(i, root) }));
}

// ---------------------------------------------------------------- validators

/**
 * Validates a snapshot (parsed JSON or an object built by the caller) and fills the defaults.
 * Throws FleetValidationError (only), whatever the value.
 */
export function parseSnapshot(value: unknown): FleetSnapshot {
  const r = snapshotSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new FleetValidationError("fleet snapshot", toFleetIssues(r.error.issues, value));
  const s = r.data;
  return {
    version: 1,
    time: s.time,
    window_s: s.window_s,
    hosts: s.hosts.map((h) => ({
      name: h.name,
      cpus: h.cpus,
      memory_mib: h.memory_mib,
      reserved_cpus: h.reserved_cpus,
      // drain implies accepts_vms false (the format says so).
      ...(h.drain === true ? { accepts_vms: false, drain: true } : { accepts_vms: h.accepts_vms }),
    })),
    vms: s.vms.map((v) => ({
      name: v.name,
      uuid: v.uuid,
      host: v.host,
      vcpus: v.vcpus,
      memory_mib: v.memory_mib,
      usage: v.usage,
      delay: v.delay,
      throttled: v.throttled ?? v.delay.map(() => 0),
      cap: v.cap,
      migratable: v.migratable,
    })),
    constraints: { max_moves: s.constraints.max_moves, anti_affinity: s.constraints.anti_affinity },
  };
}

/** Validates a plan as the format describes it. Throws FleetValidationError. */
export function parsePlan(value: unknown): Plan {
  const r = planSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new FleetValidationError("plan", toFleetIssues(r.error.issues, value));
  return {
    version: 1,
    moves: r.data.moves.map((m) => ({ vm: m.vm, from: m.from, to: m.to, reason: m.reason })),
    predicted: { steal_before: r.data.predicted.steal_before, steal_after: r.data.predicted.steal_after },
    explanation: r.data.explanation,
  };
}

/** Reads snapshot JSON text; `source` names it in messages. Throws FleetValidationError. */
export function parseSnapshotJson(text: string, source = "snapshot"): FleetSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FleetValidationError(`fleet snapshot (${source})`, [{ field: "", reason: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return parseSnapshot(value);
}

/** Contention delay of one vCPU: the part of its delay not caused by its own cap. */
export function contentionOf(vm: FleetVm, i: number): number {
  return Math.max(0, (vm.delay[i] ?? 0) - (vm.throttled[i] ?? 0));
}

/** The plan as the format writes it (fixed key order, numbers rounded): byte-identical for equal plans. */
export function formatPlanJson(plan: Plan): string {
  const ordered: Plan = {
    version: 1,
    moves: plan.moves.map((m) => ({ vm: m.vm, from: m.from, to: m.to, reason: m.reason })),
    predicted: { steal_before: round4(plan.predicted.steal_before), steal_after: round4(plan.predicted.steal_after) },
    explanation: plan.explanation,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export function round4(x: number): number {
  const r = Math.round(x * 1e4) / 1e4;
  return Object.is(r, -0) ? 0 : r;
}
