import type { DomainInfo } from "./types.js";

/**
 * Identity of a domain instance: a restarted VM (new QEMU pid) is a new instance. Rates are
 * only ever computed between two samples of the same instance; views key their rows by it.
 */
export function domainKey(d: Pick<DomainInfo, "uuid" | "name" | "pid">): string {
  return `${d.uuid ?? d.name}|${d.pid ?? "-"}`;
}
