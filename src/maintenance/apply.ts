/**
 * The maintenance state applied to a fleet snapshot before planning: drained hosts get
 * `drain: true` and `accepts_vms: false` (the format's maintenance mode), and the snapshot's
 * `notes` say so. Pure.
 */
import type { FleetSnapshot } from "../model/fleet.js";
import { readMaintenance, type MaintenanceState } from "./state-file.js";

export function applyMaintenance<S extends FleetSnapshot & { notes?: string[] }>(
  snapshot: S,
  state: MaintenanceState,
  file?: string,
): S {
  const drained = state.hosts;
  if (Object.keys(drained).length === 0) return snapshot;
  const names = new Set(snapshot.hosts.map((h) => h.name));
  const notes = [...(snapshot.notes ?? [])];
  for (const [host, e] of Object.entries(drained)) {
    notes.push(
      names.has(host)
        ? `maintenance: ${host} is drained (since ${e.since} by ${e.by}${e.reason ? `: ${e.reason}` : ""}): it receives no VM and its VMs leave${file ? ` (${file})` : ""}`
        : `maintenance: ${host} is drained but not in the snapshot${file ? ` (${file})` : ""}`,
    );
  }
  return {
    ...snapshot,
    hosts: snapshot.hosts.map((h) => (Object.hasOwn(drained, h.name) ? { ...h, accepts_vms: false, drain: true } : h)),
    ...(snapshot.notes !== undefined || notes.length > 0 ? { notes } : {}),
  };
}

/** A snapshot build with the maintenance file applied to its snapshot (read now: a bad file fails the audit). */
export function withMaintenance<B extends { snapshot: FleetSnapshot & { notes?: string[] } }>(
  build: B,
  file: string,
): B {
  return { ...build, snapshot: applyMaintenance(build.snapshot, readMaintenance(file), file) };
}
