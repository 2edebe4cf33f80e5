/** Small pieces the platform drivers share. */
import type { FleetPlatform } from "../model/fleet.js";

/** VM name → its owner (route.ts's Owners); undefined when not known (libvirt alone, as far as it knows). */
export type OwnerOf = (vm: string) => FleetPlatform | undefined;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A platform's VM state as the executor reads it (`running` may be migrated live). */
export function stateOf(s: string): string {
  const l = s.toLowerCase();
  if (l === "active" || l === "running") return "running";
  if (l === "shutoff" || l === "stopped") return "shut off";
  return l;
}
