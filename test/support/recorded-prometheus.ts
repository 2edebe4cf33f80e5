/**
 * The recorded Prometheus answers (test/fixtures/prometheus) were captured before the agents
 * exported host names, VM CPU sets, memory and caps: those queries find nothing there, as with
 * agents of that version, and the snapshot builder falls back to the hosts file or defaults.
 */
import { METRIC } from "../../src/fleet/queries.js";

const NEWER = [
  METRIC.hostInfo,
  METRIC.hostVmCpusInfo,
  METRIC.hostVmCpus,
  METRIC.hostVmMemory,
  METRIC.vmMaxMemory,
  METRIC.vmCap,
  "vsteal_domain_info",
  `count_over_time(${METRIC.vcpuDelay}`,
  `last_over_time(${METRIC.vcpuCurrent}`,
];

/** An empty answer for a query the recordings predate, else null. */
export function unrecordedNewerQuery(query: string): Response | null {
  if (!NEWER.some((m) => query.includes(m))) return null;
  return new Response(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }), {
    status: 200,
    headers: { "content-type": "application/json" },
  });
}
