import type { DomainThreads, SampleProblem } from "../model/types.js";
import type { Discovery } from "./source.js";

/** The labels a domain's series carry: two domains with the same key would give duplicate series. */
function identityKey(d: Pick<DomainThreads, "name" | "uuid">): string {
  return `${d.name}\u0000${d.uuid ?? ""}`;
}

/** Which of two domains claiming one identity is reported: a running one, then the oldest (lowest pid). */
function better(a: DomainThreads, b: DomainThreads): DomainThreads {
  if ((a.pid === null) !== (b.pid === null)) return a.pid !== null ? a : b;
  if ((a.state === "running") !== (b.state === "running")) return a.state === "running" ? a : b;
  return (a.pid ?? Infinity) <= (b.pid ?? Infinity) ? a : b;
}

/**
 * Keeps one domain per identity (name and UUID, the labels of its series). Two QEMU processes
 * with one `-name` and `-uuid` (a copy started by hand, a migration between two hosts that share
 * one /proc) would otherwise give two series with the same labels, which Prometheus rejects. The
 * one kept is running and the oldest; a warning names both pids, once per identity while it lasts.
 */
export class DuplicateIdentityFilter {
  private warned = new Set<string>();

  filter(found: Discovery): Discovery {
    const byKey = new Map<string, DomainThreads[]>();
    for (const d of found.domains) {
      const k = identityKey(d);
      const list = byKey.get(k);
      if (list) list.push(d);
      else byKey.set(k, [d]);
    }
    if (byKey.size === found.domains.length) {
      this.warned.clear();
      return found;
    }
    const problems: SampleProblem[] = [...found.problems];
    const keep = new Set<DomainThreads>();
    const stillDuplicate = new Set<string>();
    for (const [k, list] of byKey) {
      const chosen = list.reduce(better);
      keep.add(chosen);
      if (list.length === 1) continue;
      stillDuplicate.add(k);
      if (this.warned.has(k)) continue;
      this.warned.add(k);
      const pids = list.map((d) => (d.pid === null ? "not running" : `pid ${d.pid}`)).join(", ");
      problems.push({
        domain: chosen.name,
        message: `${list.length} VMs claim the name ${JSON.stringify(chosen.name)} and UUID ${chosen.uuid ?? "(none)"} (${pids}): reporting ${chosen.pid === null ? "one" : `pid ${chosen.pid}`} only; give each VM its own name and UUID, or stop the copy`,
      });
    }
    for (const k of this.warned) if (!stillDuplicate.has(k)) this.warned.delete(k);
    return { domains: found.domains.filter((d) => keep.has(d)), problems };
  }
}
