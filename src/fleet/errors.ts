import { PrometheusError } from "./prom-client.js";

/**
 * Why no snapshot could be built. The controller counts audits that failed by this reason
 * (vsteal_controller_audit_errors_total{reason}).
 */
export type SnapshotFailure =
  /** Prometheus did not answer (connection refused, DNS, TLS). */
  | "prometheus_unreachable"
  /** Prometheus did not answer in time, or the query timed out there. */
  | "prometheus_timeout"
  /** Prometheus answered with an error or with something that is not its API. */
  | "prometheus_error"
  /** Some hosts or VMs are missing or stale, or the server flagged its answer as partial. */
  | "partial_data"
  /** No agent metrics at all. */
  | "no_data"
  /** The data contradict themselves (a VM on two hosts, two targets for one host). */
  | "inconsistent_data";

export const SNAPSHOT_FAILURES: readonly SnapshotFailure[] = [
  "prometheus_unreachable",
  "prometheus_timeout",
  "prometheus_error",
  "partial_data",
  "no_data",
  "inconsistent_data",
];

/** No snapshot, hence no plan: `reason` for machines, the message and `problems` for people. */
export class SnapshotError extends Error {
  constructor(
    readonly reason: SnapshotFailure,
    message: string,
    /** One line per problem found, e.g. "host hv03 (127.0.0.1:9101): target is down". */
    readonly problems: readonly string[] = [],
    /** Hosts whose data are missing or stale. */
    readonly missingHosts: readonly string[] = [],
  ) {
    super(message);
    this.name = "SnapshotError";
  }

  static fromPrometheus(e: PrometheusError): SnapshotError {
    const reason: SnapshotFailure =
      e.kind === "unreachable"
        ? "prometheus_unreachable"
        : e.kind === "timeout"
          ? "prometheus_timeout"
          : "prometheus_error";
    return new SnapshotError(reason, `no snapshot: ${e.message}`, [e.message]);
  }
}
