/**
 * `vsteal plan`: a fleet snapshot in, a plan out — the plan JSON of the format with --json,
 * a table for people otherwise.
 *
 * Where the snapshot comes from is the caller's business: `planFromFile` reads a JSON file
 * (--snapshot FILE); a snapshot built elsewhere (e.g. from Prometheus) goes straight to
 * `runPlan` as an object — that is the hook for `vsteal plan --prometheus URL`.
 */
import { LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import { identitySummary } from "../platforms/labels.js";
import { FleetValidationError, formatPlanJson, parseSnapshotJson, type Plan } from "../model/fleet.js";
import { parsePlanOptions, type PolicyName } from "../planner/options.js";
import { planValidated } from "../planner/plan.js";
import { parseSnapshot } from "../model/fleet.js";
import type { Io } from "./io.js";
import { safeText } from "../util/safe-text.js";

export interface PlanCliOptions {
  json?: boolean;
  policy?: PolicyName;
  minGain?: number;
  maxMoves?: number;
}

/** Plans for a snapshot object (already parsed JSON, or built by the caller). Returns the exit code. */
export function runPlan(snapshot: unknown, o: PlanCliOptions, io: Io): number {
  const snap = parseSnapshot(snapshot);
  const options = parsePlanOptions({
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.minGain !== undefined ? { minGain: o.minGain } : {}),
    ...(o.maxMoves !== undefined ? { maxMoves: o.maxMoves } : {}),
  });
  const plan = planValidated(snap, options);
  io.out(o.json ? formatPlanJson(plan) : formatPlanText(plan));
  return 0;
}

/** `vsteal plan --snapshot FILE`. */
export function planFromFile(file: string, o: PlanCliOptions, io: Io): number {
  const text = readTextFileBounded(file, LIMITS.fleetJson, "the snapshot");
  try {
    const snapshot = parseSnapshotJson(text, file);
    return runPlan(snapshot, o, io);
  } catch (e) {
    if (e instanceof FleetValidationError) throw new Error(`${file}: ${e.message}`);
    throw e;
  }
}

/** Wraps text at `width` columns, every line after the first indented by `indent`. */
export function wrap(text: string, width: number, indent: string): string {
  const words = text.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line !== "" && line.length + 1 + w.length > width) {
      lines.push(line);
      line = indent + w;
    } else line = line === "" ? (lines.length === 0 ? w : indent + w) : `${line} ${w}`;
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}

/** The plan for people: one row per move, its reason below it, then the explanation. */
export function formatPlanText(raw: Plan, width = 100): string {
  // Names and reasons come from the snapshot: nothing in them may drive the terminal.
  const plan: Plan = {
    ...raw,
    moves: raw.moves.map((m) => ({
      ...m,
      vm: safeText(m.vm),
      from: safeText(m.from),
      to: safeText(m.to),
      reason: safeText(m.reason),
    })),
    explanation: safeText(raw.explanation),
  };
  let out = `Predicted contention (Σ vCPU wait for other load): ${plan.predicted.steal_before.toFixed(2)} → ${plan.predicted.steal_after.toFixed(2)} cores\n\n`;
  if (plan.moves.length === 0) out += "No moves.\n";
  else {
    const w = (k: "vm" | "from" | "to", title: string) => Math.max(title.length, ...plan.moves.map((m) => m[k].length));
    const wv = w("vm", "VM");
    const wf = w("from", "FROM");
    const wt = w("to", "TO");
    const num = String(plan.moves.length).length;
    // Who owns each VM (platform and its name for it), when any move has an owner.
    const owners = plan.moves.map((m) =>
      m.platform && m.platform.kind !== "libvirt" ? `${m.platform.kind} ${identitySummary(m.platform)}`.trim() : "",
    );
    const owned = owners.some((o) => o !== "");
    out += `${"#".padStart(num)}  ${"VM".padEnd(wv)}  ${"FROM".padEnd(wf)}  ${"TO".padEnd(wt)}${owned ? "  OWNER" : ""}\n`;
    plan.moves.forEach((m, i) => {
      out += `${String(i + 1).padStart(num)}  ${m.vm.padEnd(wv)}  ${m.from.padEnd(wf)}  ${owned ? `${m.to.padEnd(wt)}  ${owners[i]}`.trimEnd() : m.to.padEnd(wt)}\n`;
      const pad = " ".repeat(num + 2);
      out += `${pad}${wrap(m.reason, width - pad.length, pad)}\n`;
    });
  }
  out += `\n${wrap(plan.explanation, width, "")}\n`;
  return out;
}
