import type { DomainThreads, SampleProblem, SourceKind } from "../model/types.js";

/** What one discovery pass found: every domain, with the vCPU threads of running ones. */
export interface Discovery {
  domains: DomainThreads[];
  /** Domains or threads that could not be inspected; the rest is still valid. */
  problems: SampleProblem[];
}

/** Something that knows which VMs exist on this host and which threads are their vCPUs. */
export interface DomainSource {
  readonly kind: SourceKind;
  /** A human-readable description for messages ("libvirt qemu:///system"). */
  readonly description: string;
  discover(): Promise<Discovery>;
  /**
   * Calls `onChange` soon after a VM may have started, stopped, arrived or left, so that discovery
   * can run at once instead of at its next period; returns what stops watching. Absent: periodic
   * discovery only. `onNote` hears, once, when the watch falls back to a lesser mechanism.
   */
  watch?(onChange: () => void, onNote?: (message: string) => void): () => void;
}
