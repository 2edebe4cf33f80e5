/** `vsteal simulate SCENARIO`: replay a fleet over time with one or more policies; optional HTML report. */
import { mkdirSync } from "node:fs";
import { writeFileAtomic } from "../util/safe-write.js";
import { BoundedReadError, LIMITS, readTextFileBounded } from "../util/bounded-read.js";
import { join } from "node:path";
import { FleetValidationError } from "../model/fleet.js";
import type { PolicyName } from "../planner/options.js";
import { OptimalTooLargeError } from "../planner/policies/optimal.js";
import { renderReport } from "../sim/report.js";
import { parseScenario } from "../sim/scenario.js";
import { simulate, type SimResult } from "../sim/simulate.js";
import type { Io } from "./io.js";

export interface SimulateCliOptions {
  policies: PolicyName[];
  report?: string;
  json?: boolean;
}

export function simulateCommand(file: string, o: SimulateCliOptions, io: Io): number {
  let value: unknown;
  try {
    value = JSON.parse(readTextFileBounded(file, LIMITS.fleetJson, "the scenario"));
  } catch (e) {
    if (e instanceof BoundedReadError) throw e;
    throw new Error(`${file} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  let scenario;
  try {
    scenario = parseScenario(value);
  } catch (e) {
    if (e instanceof FleetValidationError) throw new Error(`${file}: ${e.message}`);
    throw e;
  }
  const results: SimResult[] = [];
  for (const p of o.policies) {
    try {
      results.push(simulate(scenario, p));
    } catch (e) {
      // The exact optimum is only for small fleets: skip it, keep the others.
      if (!(e instanceof OptimalTooLargeError)) throw e;
      io.err(`vsteal: warning: policy optimal skipped: ${e.message}`);
    }
  }
  if (results.length === 0) throw new Error("no policy could be simulated");
  const meta = {
    scenario: scenario.name,
    hosts: scenario.hosts.length,
    vms: scenario.vms.length,
    steps: scenario.steps,
    stepS: scenario.stepS,
    everySteps: scenario.controller.everySteps,
    alertThreshold: scenario.controller.alertThreshold,
  };
  const summary = results.map((r) => ({
    policy: r.policy,
    steal_core_hours: round(r.stealCoreHours, 3),
    migrations: r.migrations,
    hours_above_threshold: round(r.hoursAboveThreshold, 2),
    fraction_above_threshold: round(r.fractionAboveThreshold, 4),
    vcpu_hours_above_threshold: round(r.vcpuHoursAboveThreshold, 2),
    peak_contention_cores: round(r.peakContention, 3),
    moves_skipped_undo: r.skippedUndo,
  }));
  if (o.report !== undefined) {
    mkdirSync(o.report, { recursive: true });
    writeFileAtomic(join(o.report, "index.html"), renderReport(meta, results), "the report");
    writeFileAtomic(
      join(o.report, "result.json"),
      `${JSON.stringify({ scenario: meta, results: summary, moves: Object.fromEntries(results.map((r) => [r.policy, r.moves])) }, null, 2)}\n`,
      "the report",
    );
  }
  if (o.json) {
    io.out(`${JSON.stringify({ scenario: meta, results: summary }, null, 2)}\n`);
  } else {
    const head = ["POLICY", "STEAL core-h", "MIGRATIONS", "ABOVE 5% h", "vCPU-h ABOVE", "PEAK cores"];
    const rows = summary.map((s) => [
      s.policy,
      s.steal_core_hours.toFixed(2),
      String(s.migrations),
      `${s.hours_above_threshold.toFixed(1)} (${(s.fraction_above_threshold * 100).toFixed(0)} %)`,
      s.vcpu_hours_above_threshold.toFixed(1),
      s.peak_contention_cores.toFixed(2),
    ]);
    head[3] = `ABOVE ${(meta.alertThreshold * 100).toFixed(0)}% h`;
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    let out = `${meta.scenario}: ${meta.hosts} hosts, ${meta.vms} VMs, ${((meta.steps * meta.stepS) / 3600).toFixed(1)} h in steps of ${meta.stepS} s, planning every ${meta.everySteps} steps\n\n`;
    out += `${line(head)}\n${rows.map(line).join("\n")}\n`;
    if (o.report !== undefined) out += `\nReport: ${join(o.report, "index.html")}\n`;
    io.out(out);
  }
  return 0;
}

function round(x: number, d: number): number {
  return Math.round(x * 10 ** d) / 10 ** d;
}
