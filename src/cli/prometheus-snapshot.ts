import type { BuiltSnapshot } from "../fleet/snapshot-builder.js";
import { durationSeconds } from "./args.js";

/** The fleet snapshot the CLI's fleet commands (plan, apply, drain) build from Prometheus. */

export interface SnapshotFromPrometheusOptions {
  /** The hosts file (memory, policy, constraints). */
  hostsFile?: string;
  /** Extra label matchers for every selector, e.g. `job="vsteal"`. */
  selector?: string;
  /** A host whose newest sample is older than this is missing. Default 120 s. */
  staleAfterS?: number;
  /** Per-request timeout, seconds. Default 30. */
  timeoutS?: number;
}

/**
 * The fleet snapshot for `vsteal plan --prometheus URL [--window 5m]`: built from the agents'
 * metrics in Prometheus over `window` ("5m", or seconds). Throws SnapshotError (reason and a
 * message naming what is missing) when Prometheus is unreachable or the data are partial —
 * then there must be no plan — and ConfigError for a bad hosts file.
 */
export async function snapshotFromPrometheus(
  url: string,
  window: string | number = "5m",
  opts: SnapshotFromPrometheusOptions = {},
): Promise<BuiltSnapshot> {
  const [{ PrometheusClient, FLEET_QUERY_CONCURRENCY }, { buildSnapshot }, { loadHostsConfig }] = await Promise.all([
    import("../fleet/prom-client.js"),
    import("../fleet/snapshot-builder.js"),
    import("../fleet/hosts-config.js"),
  ]);
  const windowS = typeof window === "number" ? window : durationSeconds(window);
  const client = new PrometheusClient({
    url,
    timeoutMs: (opts.timeoutS ?? 30) * 1000,
    maxConcurrency: FLEET_QUERY_CONCURRENCY,
  });
  const built = await buildSnapshot(client, {
    windowS,
    selector: opts.selector ?? "",
    hosts: opts.hostsFile ? loadHostsConfig(opts.hostsFile) : null,
    hostsFile: opts.hostsFile ?? null,
    staleAfterS: opts.staleAfterS ?? 120,
  });
  return built.snapshot;
}
