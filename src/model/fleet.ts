/**
 * The fleet snapshot (the planner's input) and the plan (its output), exactly as
 * docs/fleet-snapshot.md describes them, with their zod schemas.
 *
 * Readers ignore fields they do not know. Every problem is reported with the field it is in:
 * `vms[3].delay[1]: must be at least 0, got -0.2`.
 *
 * Fields the format shows but that a hand-written snapshot may leave out get the value that
 * changes nothing: `reserved_cpus` 0, `accepts_vms` true, `uuid` null, `throttled` all 0,
 * `cap` null, `migratable` true, `constraints` none. Everything else is required.
 */
import { z } from "zod";
import { describeValue, formatPath, wordIssue, type WordingOptions } from "../validation/wording.js";
import { hostNameSchema } from "./host-name.js";

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
  /** The host CPUs its VMs may run on (a Linux CPU list), when known: a VM moved here is placed on them. */
  vm_cpus?: string;
}

/**
 * Who owns a VM and must be asked to move it (the snapshot's optional `platform` field):
 * `{"kind": "openstack", "id": "<nova instance uuid>", "name": "web-1", "project": "shop"}`,
 * `{"kind": "proxmox", "id": "104", "name": "db"}`, `{"kind": "kubevirt", "namespace": "prod",
 * "name": "vm-a"}`; absent or `{"kind": "libvirt"}` for VMs libvirt alone owns.
 */
export interface FleetPlatform {
  kind: "openstack" | "proxmox" | "kubevirt" | "libvirt";
  id?: string;
  name?: string;
  project?: string;
  namespace?: string;
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
  /** Who owns it, when not libvirt alone (optional). */
  platform?: FleetPlatform;
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
  /** The VM's owner, copied from the snapshot: a platform VM moves only through its platform. */
  platform?: FleetPlatform;
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

// ---------------------------------------------------------------- bounds

/**
 * What a snapshot can truthfully hold. Numbers beyond these are refused, never clamped: they
 * come from a broken exporter or a hostile writer, and they bound the planner's time and
 * memory (its work grows with hosts × VMs and with the vCPUs and CPUs of each host).
 */
export const FLEET_BOUNDS = {
  /** Linux's largest NR_CPUS. */
  hostCpus: 8192,
  /** KVM's largest KVM_MAX_VCPUS (x86). */
  vmVcpus: 4096,
  /**
   * Σ vCPUs of the VMs on one host. The contention model is quadratic in a host's vCPUs:
   * 4096 one-vCPU VMs on one crowded host plan in ~2.5 s with max_moves 5, ~40 s unlimited
   * (scripts/bench/hostile-bounds.mjs); 64 × 4096 ran for more than 5 minutes.
   */
  hostVcpus: 4096,
  /** 16 PiB. */
  memoryMib: 2 ** 34,
  hosts: 10_000,
  vms: 200_000,
  /** Σ vCPUs of all VMs. */
  totalVcpus: 2_000_000,
  /**
   * A rate per vCPU is a fraction of wall time, ≤ 1; this much more is allowed for sampling
   * jitter: Prometheus stamps a counter at scrape time, the agent read it at its sweep, so
   * over a short window (10 s of 1 s sweeps) a busy vCPU's rate() reads up to ~1.1.
   */
  rateSlack: 0.25,
  /** A year. */
  windowS: 365 * 86_400,
  maxMoves: 10_000,
} as const;

/** The largest per-vCPU rate accepted (usage, delay, usage + delay). */
export const MAX_RATE = 1 + FLEET_BOUNDS.rateSlack;

/** Why `x` cannot be a per-vCPU rate (fraction of wall time), or null. */
export function rateProblem(x: number): string | null {
  if (!Number.isFinite(x)) return `must be a finite number, got ${x}`;
  if (x < 0) return `must be at least 0, got ${x}`;
  if (x > MAX_RATE) return `must be at most 1 (a whole core; ${MAX_RATE} with sampling jitter), got ${x}`;
  return null;
}

// ---------------------------------------------------------------- schema pieces

/** A finite number ≥ 0. */
const nonNegative = z.number().min(0);
/** A whole number ≥ min. */
const wholeAtLeast = (min: number) => z.number().int().min(min);
const name = z.string().min(1);
/** A fraction of wall time per vCPU. */
const rate = z.number().min(0).max(MAX_RATE);
const mib = nonNegative.max(FLEET_BOUNDS.memoryMib);

/** A host as the snapshot describes it; the simulator's scenarios describe theirs with it too. */
export const fleetHostSchema = z.object({
  name: hostNameSchema,
  cpus: wholeAtLeast(1).max(FLEET_BOUNDS.hostCpus),
  memory_mib: mib,
  reserved_cpus: wholeAtLeast(0).default(0),
  accepts_vms: z.boolean().default(true),
  vm_cpus: z
    .string()
    .regex(/^[0-9]{1,7}(-[0-9]{1,7})?(,[0-9]{1,7}(-[0-9]{1,7})?)*$/, "must be a Linux CPU list such as 2-31 or 0,4-7")
    .optional(),
  drain: z.boolean().optional(),
});

const platformSchema = z
  .object({
    kind: z.enum(["openstack", "proxmox", "kubevirt", "libvirt"]),
    id: z.string().min(1).optional(),
    name: z.string().optional(),
    project: z.string().optional(),
    namespace: z.string().optional(),
  })
  .superRefine((p, ctx) => {
    if (p.kind === "proxmox" && !(p.id && /^\d{1,9}$/.test(p.id)))
      ctx.addIssue({
        code: "custom",
        path: ["id"],
        message: `a proxmox VM needs its VMID as id (digits), got ${describeValue(p.id)}`,
        input: p.id,
      });
    if (p.kind === "kubevirt" && !(p.namespace && p.name))
      ctx.addIssue({
        code: "custom",
        path: [p.namespace ? "name" : "namespace"],
        message: "a kubevirt VM needs namespace and name",
        input: p,
      });
  });

const vmSchema = z.object({
  name,
  uuid: z.string().nullable().default(null),
  host: hostNameSchema,
  vcpus: wholeAtLeast(1).max(FLEET_BOUNDS.vmVcpus),
  memory_mib: mib,
  usage: z.array(rate).max(FLEET_BOUNDS.vmVcpus),
  delay: z.array(rate).max(FLEET_BOUNDS.vmVcpus),
  throttled: z.array(rate).max(FLEET_BOUNDS.vmVcpus).optional(),
  cap: z.number().gt(0).nullable().default(null),
  migratable: z.boolean().default(true),
  platform: platformSchema.optional(),
});

const constraintsSchema = z.object({
  max_moves: wholeAtLeast(0).max(FLEET_BOUNDS.maxMoves).nullable().default(null),
  anti_affinity: z.array(z.array(name)).default([]),
});

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const snapshotShape = z.object({
  version: z.literal(1),
  time: z.string().refine((s) => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s)), {
    message: "expected an ISO 8601 time like 2026-11-25T12:00:00Z",
  }),
  window_s: z.number().gt(0).max(FLEET_BOUNDS.windowS),
  hosts: z.array(fleetHostSchema).max(FLEET_BOUNDS.hosts),
  vms: z.array(vmSchema).max(FLEET_BOUNDS.vms),
  constraints: constraintsSchema.default({ max_moves: null, anti_affinity: [] }),
});

type ParsedHost = z.output<typeof fleetHostSchema>;

/** Checks between the fields of the hosts: duplicate names, reserved_cpus ≤ cpus. Returns the names. */
export function refineHosts(hosts: readonly ParsedHost[], ctx: z.RefinementCtx): Set<string> {
  const hostNames = new Set<string>();
  hosts.forEach((h, i) => {
    if (hostNames.has(h.name))
      ctx.addIssue({
        code: "custom",
        path: ["hosts", i, "name"],
        message: `duplicate host name ${describeValue(h.name)}`,
        input: h.name,
      });
    hostNames.add(h.name);
    if (h.reserved_cpus > h.cpus) {
      ctx.addIssue({
        code: "custom",
        path: ["hosts", i, "reserved_cpus"],
        message: `must be at most cpus (${h.cpus}), got ${h.reserved_cpus}`,
        input: h.reserved_cpus,
      });
    }
  });
  return hostNames;
}

/** A parsed host with the defaults the format gives (drain implies accepts_vms false). */
export function toFleetHost(h: ParsedHost): FleetHost {
  return {
    name: h.name,
    cpus: h.cpus,
    memory_mib: h.memory_mib,
    reserved_cpus: h.reserved_cpus,
    ...(h.drain === true ? { accepts_vms: false, drain: true } : { accepts_vms: h.accepts_vms }),
    ...(h.vm_cpus !== undefined ? { vm_cpus: h.vm_cpus } : {}),
  };
}

/** Checks between fields: unknown hosts, duplicate names, array lengths, throttled ≤ delay. */
const snapshotSchema = snapshotShape.superRefine((s, ctx) => {
  const hostNames = refineHosts(s.hosts, ctx);
  const vmNames = new Set<string>();
  let totalVcpus = 0;
  s.vms.forEach((vm, i) => {
    totalVcpus += vm.vcpus;
    if (vmNames.has(vm.name))
      ctx.addIssue({
        code: "custom",
        path: ["vms", i, "name"],
        message: `duplicate VM name ${describeValue(vm.name)}`,
        input: vm.name,
      });
    vmNames.add(vm.name);
    if (!hostNames.has(vm.host)) {
      ctx.addIssue({
        code: "custom",
        path: ["vms", i, "host"],
        message: `unknown host ${describeValue(vm.host)} (not in hosts)`,
        input: vm.host,
      });
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
        ctx.addIssue({
          code: "custom",
          path: ["vms", i, "throttled", j],
          message: `must not exceed delay[${j}] (${d}), got ${t}`,
          input: t,
        });
      }
    });
  });
  const perHost = new Map<string, number>();
  for (const vm of s.vms) perHost.set(vm.host, (perHost.get(vm.host) ?? 0) + vm.vcpus);
  s.hosts.forEach((h, i) => {
    const n = perHost.get(h.name) ?? 0;
    if (n > FLEET_BOUNDS.hostVcpus) {
      ctx.addIssue({
        code: "custom",
        path: ["hosts", i, "name"],
        message: `host ${describeValue(h.name)} carries ${n} vCPUs (its VMs' vcpus), more than ${FLEET_BOUNDS.hostVcpus}`,
        input: n,
      });
    }
  });
  if (totalVcpus > FLEET_BOUNDS.totalVcpus) {
    ctx.addIssue({
      code: "custom",
      path: ["vms"],
      message: `at most ${FLEET_BOUNDS.totalVcpus} vCPUs in all, got ${totalVcpus}`,
      input: totalVcpus,
    });
  }
});

const planSchema = z.object({
  version: z.literal(1),
  moves: z
    .array(
      z.object({
        vm: name,
        from: hostNameSchema,
        to: hostNameSchema,
        reason: name,
        platform: platformSchema.optional(),
      }),
    )
    .max(FLEET_BOUNDS.maxMoves),
  predicted: z.object({ steal_before: nonNegative, steal_after: nonNegative }),
  explanation: z.string(),
});

// ------------------------------------------------------------------ messages

type Issue = z.core.$ZodIssue;

/** zod issues → `field: reason` issues, in the one wording (validation/wording.ts). */
export function toFleetIssues(
  issues: readonly Issue[],
  root: unknown,
  prefix: readonly PropertyKey[] = [],
  opts: WordingOptions = {},
): FleetIssue[] {
  return issues.flatMap((i) =>
    wordIssue(i, root, opts).map((w) => ({ field: formatPath([...prefix, ...w.path]), reason: w.reason })),
  );
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
    hosts: s.hosts.map(toFleetHost),
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
      ...(v.platform ? { platform: cleanPlatform(v.platform) } : {}),
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
    moves: r.data.moves.map((m) => ({
      vm: m.vm,
      from: m.from,
      to: m.to,
      reason: m.reason,
      ...(m.platform ? { platform: cleanPlatform(m.platform) } : {}),
    })),
    predicted: { steal_before: r.data.predicted.steal_before, steal_after: r.data.predicted.steal_after },
    explanation: r.data.explanation,
  };
}

/**
 * Moves of `plan` whose `from` or `to` is not in `known` (the snapshot's hosts, or the hosts a
 * hosts file can reach), as `moves[2].to: unknown host "hv9" (not in WHERE)`.
 */
export function unknownPlanHosts(plan: Plan, known: (host: string) => boolean, where: string): FleetIssue[] {
  const out: FleetIssue[] = [];
  plan.moves.forEach((m, i) => {
    for (const k of ["from", "to"] as const) {
      if (!known(m[k]))
        out.push({ field: `moves[${i}].${k}`, reason: `unknown host ${describeValue(m[k])} (not in ${where})` });
    }
  });
  return out;
}

/** A platform with only the fields the format knows, in a fixed order. */
export function cleanPlatform(p: FleetPlatform): FleetPlatform {
  const out: FleetPlatform = { kind: p.kind };
  for (const k of ["id", "name", "project", "namespace"] as const) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

/** Reads snapshot JSON text; `source` names it in messages. Throws FleetValidationError. */
export function parseSnapshotJson(text: string, source = "snapshot"): FleetSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const deep = e instanceof RangeError;
    throw new FleetValidationError(`fleet snapshot (${source})`, [
      {
        field: "",
        reason: deep
          ? "nested too deeply to be a snapshot"
          : `not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      },
    ]);
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
    moves: plan.moves.map((m) => ({
      vm: m.vm,
      from: m.from,
      to: m.to,
      reason: m.reason,
      ...(m.platform ? { platform: cleanPlatform(m.platform) } : {}),
    })),
    predicted: { steal_before: round4(plan.predicted.steal_before), steal_after: round4(plan.predicted.steal_after) },
    explanation: plan.explanation,
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

export function round4(x: number): number {
  const r = Math.round(x * 1e4) / 1e4;
  return Object.is(r, -0) ? 0 : r;
}
