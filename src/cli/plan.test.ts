import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePlan } from "../model/fleet.js";
import type { Io } from "./io.js";
import { planFromFile, runPlan } from "./plan.js";
import { registerPlan } from "./plan-command.js";
import { simulateCommand } from "./simulate.js";

const FIXTURES = new URL("../../test/fixtures/fleet/", import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

function captureIo(): Io & { text: () => string; errors: string[] } {
  let out = "";
  const errors: string[] = [];
  return { out: (t) => (out += t), err: (l) => errors.push(l), text: () => out, errors };
}

describe("vsteal plan", () => {
  it("--json prints exactly the plan of the format", () => {
    const io = captureIo();
    expect(planFromFile(fixture("crowded-calm.json"), { json: true }, io)).toBe(0);
    const plan = JSON.parse(io.text()) as unknown;
    expect(parsePlan(plan)).toEqual(plan);
    expect(Object.keys(plan as object)).toEqual(["version", "moves", "predicted", "explanation"]);
  });

  it("prints a table for people otherwise", () => {
    const io = captureIo();
    planFromFile(fixture("crowded-calm.json"), { policy: "contention" }, io);
    const text = io.text();
    expect(text).toMatch(/^Predicted contention \(Σ vCPU wait for other load\): 2\.80 → [\d.]+ cores\n/);
    expect(text).toMatch(/\n# {2}VM +FROM +TO +\n1 {2}db-1 +hv01 +hv02\n {3}hv01 is oversubscribed/);
    expect(text).toContain("Policy contention:");
  });

  it("takes a snapshot object straight away (the hook for other sources, e.g. Prometheus)", () => {
    const io = captureIo();
    const snapshot = JSON.parse(readFileSync(fixture("throttled-only.json"), "utf8")) as unknown;
    expect(runPlan(snapshot, { json: true, policy: "contention" }, io)).toBe(0);
    expect((JSON.parse(io.text()) as { moves: unknown[] }).moves).toEqual([]);
  });

  it("names the file and the field of a bad snapshot, and a file it cannot read", () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-plan-"));
    try {
      const bad = JSON.parse(readFileSync(fixture("crowded-calm.json"), "utf8")) as { vms: { delay: number[] }[] };
      bad.vms[3]!.delay[1] = -0.2;
      writeFileSync(join(dir, "bad.json"), JSON.stringify(bad));
      expect(() => planFromFile(join(dir, "bad.json"), {}, captureIo())).toThrow(
        /bad\.json: invalid fleet snapshot:\n {2}vms\[3\]\.delay\[1\]: must be at least 0, got -0\.2/,
      );
      expect(() => planFromFile(join(dir, "missing.json"), {}, captureIo())).toThrow(
        /cannot read the snapshot .*missing\.json: no such file/,
      );
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("command registration", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  it("registers plan and simulate with their options; plan runs from the command line", async () => {
    const program = new Command().exitOverride();
    registerPlan(program);
    expect(program.commands.map((c) => c.name())).toEqual(["plan", "simulate"]);
    const plan = program.commands[0]!;
    expect(plan.options.map((o) => o.long)).toEqual([
      "--snapshot",
      "--prometheus",
      "--window",
      "--hosts",
      "--selector",
      "--stale-after",
      "--timeout",
      "--json",
      "--policy",
      "--min-gain",
      "--max-moves",
      "--maintenance-file",
    ]);
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    await program.parseAsync(
      ["plan", "--snapshot", fixture("crowded-calm.json"), "--json", "--policy", "hottest-host"],
      { from: "user" },
    );
    expect(process.exitCode).toBe(0);
    expect((JSON.parse(out) as { moves: { vm: string }[] }).moves).toHaveLength(1);
  });

  it("needs exactly one of --snapshot and --prometheus, and says so", async () => {
    let err = "";
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
    for (const argv of [
      ["plan"],
      ["plan", "--snapshot", fixture("crowded-calm.json"), "--prometheus", "http://127.0.0.1:1"],
    ]) {
      const program = new Command().exitOverride();
      registerPlan(program);
      err = "";
      process.exitCode = undefined;
      await program.parseAsync(argv, { from: "user" });
      expect(process.exitCode, argv.join(" ")).toBe(1);
      expect(err).toBe(
        "vsteal: give exactly one of --snapshot FILE or --prometheus URL (a fleet snapshot, or the Prometheus that scrapes the agents)\n",
      );
    }
  });

  it("rejects an unknown policy", async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerPlan(program);
    await expect(
      program.parseAsync(["plan", "--snapshot", "x.json", "--policy", "magic"], { from: "user" }),
    ).rejects.toThrow(/Allowed choices are contention, none/);
    await expect(program.parseAsync(["simulate", "x.json", "--policy", "magic"], { from: "user" })).rejects.toThrow(
      /unknown policy "magic"/,
    );
  });
});

describe("vsteal simulate", () => {
  it("prints a summary per policy and writes the HTML report and result.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "vsteal-sim-"));
    try {
      const short = JSON.parse(readFileSync(fixture("scenario-daily.json"), "utf8")) as Record<string, unknown>;
      short.steps = 48;
      writeFileSync(join(dir, "scenario.json"), JSON.stringify(short));
      const io = captureIo();
      expect(
        simulateCommand(
          join(dir, "scenario.json"),
          { policies: ["none", "contention"], report: join(dir, "report") },
          io,
        ),
      ).toBe(0);
      expect(io.text()).toMatch(
        /POLICY +STEAL core-h +MIGRATIONS +ABOVE 5% h +vCPU-h ABOVE +PEAK cores\nnone +[\d.]+ +0 /,
      );
      expect(readFileSync(join(dir, "report", "index.html"), "utf8")).toContain("<svg");
      const result = JSON.parse(readFileSync(join(dir, "report", "result.json"), "utf8")) as {
        results: { policy: string }[];
      };
      expect(result.results.map((r) => r.policy)).toEqual(["none", "contention"]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
