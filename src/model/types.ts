/**
 * The data types every layer shares. Pure data, no I/O.
 *
 * Raw kernel counters are unsigned 64-bit nanoseconds and stay `bigint`;
 * only deltas over a sampling interval become `number` (fractions of wall time).
 */

/** Where a domain was discovered. */
export type SourceKind = "libvirt" | "qemu";

/** libvirt's virDomainState names, as `virsh domstate` prints them. */
export type DomainState =
  "running" | "idle" | "paused" | "in shutdown" | "shut off" | "crashed" | "pmsuspended" | "unknown";

/** Who owns a VM and must be asked to move it ("libvirt": libvirt alone). */
export type PlatformKind = "openstack" | "proxmox" | "kubevirt" | "libvirt";

/**
 * Who a VM is on the platform that owns it, from what the host already has (the domain XML's
 * `<metadata>`, the QEMU command line, Proxmox's VM config), read once at discovery. Every
 * value is bounded and free of control characters (src/platforms/values.ts).
 */
export interface PlatformIdentity {
  kind: PlatformKind;
  /** The platform's own id: Nova instance UUID, Proxmox VMID. */
  id?: string;
  /** The platform's name for it: Nova display name, Proxmox name, KubeVirt VMI name. */
  name?: string;
  /** OpenStack project (name and id) and user (name and id). */
  project?: string;
  project_id?: string;
  user?: string;
  user_id?: string;
  /** Nova flavor: name, vCPUs, memory. */
  flavor?: string;
  flavor_vcpus?: number;
  flavor_memory_mib?: number;
  /** KubeVirt namespace. */
  namespace?: string;
  /** Proxmox tags, cpulimit (cores, 0 = none) and cpuunits (CPU weight). */
  tags?: string[];
  cpulimit?: number;
  cpuunits?: number;
  /** Elements of `<metadata>` chosen by namespace and path (`--domain-metadata`), by key. */
  metadata?: Record<string, string>;
}

/** A VM as discovery sees it. */
export interface DomainInfo {
  name: string;
  /** Lower-case canonical UUID, or null when the source does not know it. */
  uuid: string | null;
  /** libvirt domain id (null when inactive or not libvirt). */
  id: number | null;
  state: DomainState;
  /** Online vCPUs (libvirt `vcpu.current`). */
  vcpuCurrent: number;
  /** Maximum vCPUs (libvirt `vcpu.maximum`). */
  vcpuMaximum: number;
  /** QEMU process id, null when the domain is not running. */
  pid: number | null;
  source: SourceKind;
  /** Who owns it, when the host knows (absent: nothing known, libvirt alone). */
  platform?: PlatformIdentity;
  /** What the VM was given, read at discovery (running domains only). */
  resources?: DomainResources;
}

/** A running VM's memory, CPU cap and placement, read at discovery; null = unknown (or uncapped). */
export interface DomainResources {
  /** Current memory (libvirt's "Used memory", the balloon's size; QEMU's -m), bytes. */
  memoryBytes: number | null;
  /** Maximum memory (libvirt's "Max memory"; QEMU's -m), bytes. */
  maxMemoryBytes: number | null;
  /** CPU cap of each vCPU in cores (CFS quota / period of its cgroup); null when uncapped or unknown. */
  vcpuCapCores: number | null;
  /** Host CPUs its vCPU threads may run on (union of their Cpus_allowed_list); null when unknown. */
  cpus: number[] | null;
}

/** One vCPU thread of a running domain. */
export interface VcpuThread {
  /** The real vCPU number (`CPU <n>/KVM`), not a list position. */
  vcpu: number;
  tid: number;
  /** Host CPUs the thread may run on (Cpus_allowed_list); null when unknown. */
  affinity?: number[] | null;
}

/** A running (or known) domain with the threads of its online vCPUs. */
export interface DomainThreads extends DomainInfo {
  vcpus: VcpuThread[];
}

/** Raw counters of one vCPU thread at one instant. */
export interface VcpuCounters {
  vcpu: number;
  tid: number;
  /** ns on a CPU (schedstat field 1). */
  time: bigint;
  /** ns runnable but waiting on a run queue (schedstat field 2) — steal. */
  delay: bigint;
  /** Number of timeslices run (schedstat field 3). */
  slices: bigint;
  /** ns of CFS throttling of the vCPU's cgroup (cpu.stat), null if unknown. */
  throttled: bigint | null;
  /**
   * ns of run-queue wait from /proc/…/sched `wait_sum` (libvirt's `vcpu.N.wait`), read only when
   * asked for (it is costly); 0 when the kernel keeps no schedstats; undefined when not read.
   */
  wait?: bigint;
}

/** All vCPU counters of one domain at one instant. */
export interface DomainSample {
  domain: DomainInfo;
  vcpus: VcpuCounters[];
}

/** Something that went wrong for one domain or thread; the rest of the sample is fine. */
export interface SampleProblem {
  domain: string;
  vcpu?: number;
  tid?: number;
  message: string;
}

/** One sweep over all vCPU threads. */
export interface Sample {
  /** Monotonic clock, ns (process.hrtime.bigint()). */
  monotonicNs: bigint;
  /** Wall clock, ms since the epoch. */
  wallMs: number;
  domains: DomainSample[];
  problems: SampleProblem[];
}

/** Rates of one vCPU over an interval, as fractions of wall time (1.0 = a whole core). */
export interface VcpuRates {
  vcpu: number;
  tid: number;
  /** Ran on a host CPU. */
  usage: number;
  /** Waited on a run queue (all steal). */
  delay: number;
  /** Part of `delay` due to the VM's own CPU cap; never more than `delay`. */
  throttled: number;
  /** delay - throttled: waiting caused by other load on the host. */
  contention: number;
}

export interface DomainRates {
  domain: DomainInfo;
  /** Interval the rates cover, seconds. */
  intervalS: number;
  vcpus: VcpuRates[];
}

export interface RatesSample {
  wallMs: number;
  intervalS: number;
  domains: DomainRates[];
  problems: SampleProblem[];
}
