/** What the alert engine reads and what it emits. */
import type { PlatformIdentity, RatesSample } from "../model/types.js";
import type { AlertSeverity } from "./rules.js";

/** Host-wide figures of one evaluation, in cores. */
export interface HostInput {
  /** Host CPUs online. */
  cpus: number;
  /** vCPU demand in cores: Σ over all vCPUs of (usage + contention). */
  demand: number;
  /** Cores the VMs can use (cpus, less any reserved for the host). */
  capacity: number;
  /** Total steal in cores: Σ over all vCPUs of delay. */
  stealTotal: number;
}

export interface AlertInput {
  rates: RatesSample;
  host: HostInput;
}

/** What an alert is about: the host ({}), a VM (domain, uuid) or one of its vCPUs (+ vcpu). */
export interface AlertSubject {
  domain?: string;
  uuid?: string;
  vcpu?: number;
  /** Who the VM is on its platform (OpenStack, Proxmox, KubeVirt), when known. */
  platform?: PlatformIdentity;
}

export type AlertEventState = "firing" | "resolved";

export interface AlertEvent {
  rule: string;
  subject: AlertSubject;
  state: AlertEventState;
  /** The value that made the transition (for "gone": the last value seen). */
  value: number;
  /** The bound crossed: the rule's threshold when firing, its clear threshold when resolved. */
  threshold: number;
  atMs: number;
  severity: AlertSeverity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Resolved only: "cleared" (value back past the clear threshold) or "gone" (subject no longer seen). */
  reason?: "cleared" | "gone";
}

export interface ActiveAlert {
  rule: string;
  subject: AlertSubject;
  /** pending: the condition holds but not yet for the rule's `for`. */
  state: "pending" | "firing";
  /** Latest value seen. */
  value: number;
  threshold: number;
  /** When the condition started to hold. */
  activeSinceMs: number;
  /** When it fired; null while pending. */
  firedAtMs: number | null;
  severity: AlertSeverity;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
