/** Who owns each VM of a plan, for the drivers and the router. Pure. */
import type { FleetPlatform, Plan } from "../model/fleet.js";

/** VM name → its owner; undefined when the plan does not say (libvirt alone, as far as it knows). */
export type OwnerOf = (vm: string) => FleetPlatform | undefined;

export function ownersOf(plan: Plan): OwnerOf {
  const m = new Map<string, FleetPlatform>();
  for (const mv of plan.moves) if (mv.platform) m.set(mv.vm, mv.platform);
  return (vm) => m.get(vm);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A platform's VM state as the executor reads it (`running` may be migrated live). */
export function stateOf(s: string): string {
  const l = s.toLowerCase();
  if (l === "active" || l === "running") return "running";
  if (l === "shutoff" || l === "stopped") return "shut off";
  return l;
}
