/** The planner's policies by name, with a line each for `--help` (no dependencies: the CLI loads it at start). */
export const POLICIES = ["contention", "none", "balance-utilisation", "hottest-host", "optimal"] as const;
export type PolicyName = (typeof POLICIES)[number];

export const POLICY_DESCRIPTIONS: Readonly<Record<PolicyName, string>> = {
  contention:
    "ours: move VMs off hosts where vCPUs wait for other load, where the contention model predicts the fleet waits less",
  none: "no action (the do-nothing baseline)",
  "balance-utilisation": "DRS / Watcher workload_stabilization style: move VMs to even out CPU use across hosts",
  "hottest-host": "Watcher workload_balance style: one VM off the hottest host per round",
  optimal: "the exact optimum of the contention objective by exhaustive search (small fleets only)",
};
