import { InvalidArgumentError, Option, type Command } from "commander";
import { durationSeconds, nonNegativeInt, nonNegativeNumber, refuseIdleOptions } from "./args.js";
import { processIo, run } from "./io.js";
import { DEFAULT_MAINTENANCE_FILE } from "../maintenance/defaults.js";
import { POLICIES, POLICY_DESCRIPTIONS, type PolicyName } from "../planner/policy-names.js";

interface PlanCommandOptions {
  snapshot?: string;
  prometheus?: string;
  window: number;
  hosts?: string;
  selector?: string;
  staleAfter: number;
  timeout: number;
  json?: boolean;
  policy: PolicyName;
  minGain?: number;
  maxMoves?: number;
  maintenanceFile: string;
}

interface SimulateCommandOptions {
  policy: string;
  report?: string;
  json?: boolean;
}

/** "contention", "all" or a comma list of policies. */
function policyList(v: string): string {
  const names = v === "all" ? [...POLICIES] : v.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(POLICIES as readonly string[]).includes(n))
      throw new InvalidArgumentError(`unknown policy "${n}": expected all or any of ${POLICIES.join(", ")}`);
  }
  return names.join(",");
}

const policyHelp = POLICIES.map((p) => `  ${p.padEnd(20)} ${POLICY_DESCRIPTIONS[p]}`).join("\n");

/** Adds `vsteal plan` and `vsteal simulate`; their code is loaded only when they run. */
export function registerPlan(program: Command): void {
  program
    .command("plan")
    .description(
      "propose VM migrations that relieve contention, from a fleet snapshot or from Prometheus (a dry run: nothing moves)",
    )
    .option("--snapshot <file>", "fleet snapshot JSON (see docs/planner.md)")
    .option(
      "--prometheus <url>",
      "build the snapshot from the agents' metrics in this Prometheus (or Thanos, VictoriaMetrics) first",
    )
    .addOption(
      new Option("--window <duration>", "with --prometheus: rates averaged over this window")
        .argParser(durationSeconds)
        .default(300, "5m"),
    )
    .option(
      "--hosts <file>",
      "with --prometheus: hosts file (YAML) with memory, reserved CPUs, constraints, as vsteal controller --hosts",
    )
    .option("--selector <matchers>", "with --prometheus: extra label matchers for every query, e.g. 'job=\"vsteal\"'")
    .addOption(
      new Option(
        "--stale-after <duration>",
        "with --prometheus: a host whose newest sample is older than this is missing",
      )
        .argParser(durationSeconds)
        .default(120, "2m"),
    )
    .addOption(
      new Option("--timeout <duration>", "with --prometheus: timeout of each Prometheus query (as vsteal controller)")
        .argParser(durationSeconds)
        .default(30, "30s"),
    )
    .option("--json", "the plan as JSON, exactly as the plan format describes it")
    .addOption(new Option("--policy <name>", "rebalancing policy").choices([...POLICIES]).default("contention"))
    .option(
      "--min-gain <cores>",
      "a move must lower the predicted contention by this many cores (default 0.05)",
      nonNegativeNumber,
    )
    .option("--max-moves <n>", "at most this many moves (the snapshot's max_moves still applies)", nonNegativeInt)
    .option(
      "--maintenance-file <file>",
      "with --prometheus: drained hosts (vsteal drain) receive nothing and are emptied",
      DEFAULT_MAINTENANCE_FILE,
    )
    .addHelpText(
      "after",
      `\nPolicies:\n${policyHelp}\n\nExit codes: 0 a plan (maybe without moves); 1 bad input; 3 no plan: Prometheus unreachable or data missing.\n`,
    )
    .action((o: PlanCommandOptions, cmd: Command) =>
      run(async () => {
        const planOpts = { json: o.json, policy: o.policy, minGain: o.minGain, maxMoves: o.maxMoves };
        if ((o.snapshot === undefined) === (o.prometheus === undefined)) {
          throw new Error(
            "give exactly one of --snapshot FILE or --prometheus URL (a fleet snapshot, or the Prometheus that scrapes the agents)",
          );
        }
        if (o.snapshot !== undefined)
          refuseIdleOptions(
            cmd,
            ["--window", "--hosts", "--selector", "--stale-after", "--timeout"],
            "with --snapshot (they shape a snapshot built from --prometheus)",
          );
        const { planFromFile, runPlan } = await import("./plan.js");
        if (o.snapshot !== undefined) return planFromFile(o.snapshot, planOpts, processIo);
        const { snapshotFromPrometheus } = await import("./prometheus-snapshot.js");
        const { SnapshotError } = await import("../fleet/errors.js");
        try {
          const snapshot = await snapshotFromPrometheus(o.prometheus!, o.window, {
            hostsFile: o.hosts,
            selector: o.selector,
            staleAfterS: o.staleAfter,
            timeoutS: o.timeout,
          });
          const { withMaintenance } = await import("../maintenance/apply.js");
          return runPlan(withMaintenance({ snapshot }, o.maintenanceFile).snapshot, planOpts, processIo);
        } catch (e) {
          if (!(e instanceof SnapshotError)) throw e;
          // No plan on missing or partial data: say why, one line per problem; exit 3 as controller --once.
          processIo.err(`vsteal plan: no plan: ${e.message}`);
          for (const p of e.problems) if (!e.message.includes(p)) processIo.err(`  ${p}`);
          return 3;
        }
      }),
    );

  program
    .command("simulate")
    .description(
      "replay a fleet over time from demand traces, rebalancing with a policy; report steal, migrations and time in alert",
    )
    .argument("<scenario>", "scenario JSON (hosts, VMs, demand traces or generators; see docs/planner.md)")
    .option("--policy <name>", `policy, a comma list, or all (${POLICIES.join(", ")})`, policyList, "contention")
    .option("--report <dir>", "write an HTML report with plots (index.html) and result.json into this folder")
    .option("--json", "the results as JSON")
    .addHelpText("after", `\nPolicies:\n${policyHelp}\n`)
    .action((scenario: string, o: SimulateCommandOptions) =>
      run(async () => {
        const { simulateCommand } = await import("./simulate.js");
        return simulateCommand(
          scenario,
          { policies: o.policy.split(",") as PolicyName[], report: o.report, json: o.json },
          processIo,
        );
      }),
    );
}
