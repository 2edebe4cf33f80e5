import { readdirSync, readFileSync } from "node:fs";
import { describeFsError } from "../util/bounded-read.js";
import { join } from "node:path";
import type { VcpuThread } from "../model/types.js";
import { vcpuIndexFromComm } from "../procfs/comm.js";
import { parseStatus } from "../procfs/status.js";

interface ProcessEntry {
  /** Process start time (field 22 of stat): tells a reused pid from the process we knew. */
  start: string;
  /** Every thread seen: its vCPU number, or null for QEMU's other threads. */
  threads: Map<number, number | null>;
}

function startTime(procRoot: string, pid: number): string {
  const stat = readFileSync(join(procRoot, String(pid), "stat"), "latin1");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
}

/**
 * Finds the vCPU threads of QEMU processes: the threads named `CPU <n>/KVM` (or `/TCG`).
 * Offline (unplugged) vCPUs have no thread and so are absent.
 *
 * Discovery runs every few seconds over every QEMU process, so what does not change is
 * remembered: a thread's name is read once (a QEMU vCPU thread keeps its name). Its affinity
 * (Cpus_allowed_list) is read at every discovery, so that a pinning changed while the VM runs
 * (vcpupin, a migration's new placement) is seen at the next one: one status read per vCPU
 * thread per discovery, never per sweep. Reads are
 * synchronous: thousands of tiny /proc reads cost far less that way than as promises.
 */
export class VcpuThreadFinder {
  private readonly known = new Map<number, ProcessEntry>();

  /** `affinity: false`: no status read per vCPU thread, and no `affinity` in the result. */
  constructor(
    private readonly procRoot = "/proc",
    private readonly opts: { affinity?: boolean } = {},
  ) {}

  /**
   * vCPU threads of `pid`, sorted by vCPU number. Throws when the process itself is gone.
   * A thread whose name cannot be read for another reason than having exited (EACCES, EIO…)
   * is left out and reported in `unreadable`, so that it is never silently missing.
   */
  find(pid: number, unreadable?: Array<{ tid: number; message: string }>): VcpuThread[] {
    const taskDir = join(this.procRoot, String(pid), "task");
    const start = startTime(this.procRoot, pid);
    const tids = readdirSync(taskDir);
    let entry = this.known.get(pid);
    if (!entry || entry.start !== start) {
      entry = { start, threads: new Map() };
      this.known.set(pid, entry);
    }
    let main: string | null | undefined; // the process's name, read once per find when needed
    const live = new Set<number>();
    const out: VcpuThread[] = [];
    for (const t of tids) {
      if (!/^\d+$/.test(t)) continue;
      const tid = Number(t);
      live.add(tid);
      let vcpu = entry.threads.get(tid);
      if (vcpu === undefined) {
        const commFile = `${taskDir}/${t}/comm`; // t is digits (checked above): no join() per thread
        let comm: string;
        try {
          comm = readFileSync(commFile, "utf8");
          vcpu = vcpuIndexFromComm(comm);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // ENOENT/ESRCH: the thread exited between readdir and here. Anything else is reported
          // (and not remembered: the next discovery tries again).
          if (code !== "ENOENT" && code !== "ESRCH")
            unreadable?.push({ tid, message: `cannot read ${commFile}: ${describeFsError(e)}` });
          continue;
        }
        // A thread QEMU has just created still has the process's name until QEMU names it
        // ("CPU 0/KVM"): seen that early (an event-driven discovery right at start), it is not
        // remembered as a non-vCPU thread, so the next discovery reads its name again.
        if (vcpu !== null || tid === pid || comm !== (main ??= this.mainComm(pid))) entry.threads.set(tid, vcpu);
      }
      if (vcpu === null) continue;
      if (this.opts.affinity === false) {
        out.push({ vcpu, tid });
        continue;
      }
      const statusFile = `${taskDir}/${t}/status`;
      let affinity: number[] | null;
      try {
        affinity = parseStatus(readFileSync(statusFile, "utf8"), statusFile).cpusAllowed;
      } catch {
        affinity = null; // exited, or unreadable: affinity unknown
      }
      out.push({ vcpu, tid, affinity });
    }
    for (const tid of entry.threads.keys()) {
      if (!live.has(tid)) entry.threads.delete(tid);
    }
    out.sort((a, b) => a.vcpu - b.vcpu);
    return out;
  }

  /** The main thread's name (the process's), or null when it cannot be read. */
  private mainComm(pid: number): string | null {
    try {
      return readFileSync(join(this.procRoot, String(pid), "comm"), "utf8");
    } catch {
      return null;
    }
  }

  /** Forgets processes not in `pids` (call after each discovery). */
  retain(pids: Iterable<number>): void {
    const keep = new Set(pids);
    for (const pid of this.known.keys()) if (!keep.has(pid)) this.known.delete(pid);
  }
}

/** The vCPU threads of one QEMU process, without remembering anything (one-off use). */
export function findVcpuThreads(procRoot: string, pid: number): VcpuThread[] {
  return new VcpuThreadFinder(procRoot).find(pid);
}
