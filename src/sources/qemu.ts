import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DomainThreads, PlatformIdentity, SampleProblem } from "../model/types.js";
import { identityFromQemuArgv, withProxmoxConfig } from "../platforms/qemu-identity.js";
import { parseCmdline } from "../procfs/cmdline.js";
import { isQemuArgv0, parseQemuCmdline } from "./qemu-cmdline.js";
import { readPveConfig } from "./platform-identity.js";
import type { Discovery, DomainSource } from "./source.js";
import { DomainResourceReader } from "./domain-resources.js";
import { VcpuThreadFinder } from "./threads.js";
import { watchQemuProcesses } from "./watch.js";

export interface QemuProcess {
  pid: number;
  argv: string[];
}

/** Every QEMU system emulator process visible in procRoot. Processes that vanish while we look are skipped. */
export async function findQemuProcesses(procRoot: string): Promise<QemuProcess[]> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch (e) {
    throw new Error(`cannot list ${procRoot}: ${(e as Error).message}: is /proc mounted?`);
  }
  const out: QemuProcess[] = [];
  await Promise.all(
    entries.map(async (e) => {
      if (!/^\d+$/.test(e)) return;
      try {
        // comm first: cheap, and rules out almost every process without reading its cmdline.
        const comm = (await readFile(join(procRoot, e, "comm"), "utf8")).trim();
        if (!/^qemu/.test(comm) && comm !== "kvm") return;
        const argv = parseCmdline(await readFile(join(procRoot, e, "cmdline")), join(procRoot, e, "cmdline"));
        if (argv.length > 0 && isQemuArgv0(argv[0] ?? "")) out.push({ pid: Number(e), argv });
      } catch {
        // exited, or a kernel thread with no cmdline
      }
    }),
  );
  out.sort((a, b) => a.pid - b.pid);
  return out;
}

/** Is the whole process stopped (SIGSTOP)? Then its vCPUs cannot run: libvirt would call it paused. */
async function isStopped(procRoot: string, pid: number): Promise<boolean> {
  try {
    const stat = await readFile(join(procRoot, String(pid), "stat"), "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}

/** QEMU processes without libvirt (plain QEMU, Proxmox): found in /proc by their command line. */
export class QemuSource implements DomainSource {
  readonly kind = "qemu" as const;
  readonly description: string;
  private readonly threads: VcpuThreadFinder;
  private readonly resources: DomainResourceReader;
  /** Platform identity per QEMU process, read once when the process is first seen. */
  private identities = new Map<number, PlatformIdentity | undefined>();

  /** `pveRoot`: where Proxmox's cluster filesystem is mounted (its VM configs). */
  constructor(
    private readonly procRoot = "/proc",
    private readonly pveRoot = "/etc/pve",
  ) {
    this.description = `QEMU processes in ${procRoot}`;
    this.threads = new VcpuThreadFinder(procRoot);
    this.resources = new DomainResourceReader(procRoot);
  }

  /** /proc cannot be watched: a QEMU process coming or going is seen by a cheap poll of /proc's pids. */
  watch(onChange: () => void): () => void {
    return watchQemuProcesses(this.procRoot, onChange);
  }

  async discover(): Promise<Discovery> {
    const procs = await findQemuProcesses(this.procRoot);
    const problems: SampleProblem[] = [];
    const domains: DomainThreads[] = [];
    for (const p of procs) {
      const ident = parseQemuCmdline(p.argv);
      const name = ident.name ?? (ident.id !== null ? String(ident.id) : `qemu-${p.pid}`);
      if (!this.identities.has(p.pid))
        this.identities.set(p.pid, await this.identify(p, ident.id, ident.name, name, problems));
      const platform = this.identities.get(p.pid);
      try {
        const unreadable: Array<{ tid: number; message: string }> = [];
        const vcpus = this.threads.find(p.pid, unreadable);
        for (const u of unreadable) problems.push({ domain: name, tid: u.tid, message: u.message });
        domains.push({
          name,
          uuid: ident.uuid,
          id: ident.id,
          state: (await isStopped(this.procRoot, p.pid)) ? "paused" : "running",
          vcpuCurrent: vcpus.length > 0 ? vcpus.length : ident.vcpus,
          vcpuMaximum: Math.max(ident.maxVcpus, vcpus.length),
          pid: p.pid,
          source: "qemu",
          vcpus,
          // Without libvirt the balloon is unknown: -m is both the current and the maximum memory.
          resources: this.resources.read(p.pid, vcpus, {
            current: ident.memoryBytes ?? null,
            maximum: ident.memoryBytes ?? null,
          }),
          ...(platform ? { platform } : {}),
        });
      } catch (e) {
        problems.push({ domain: name, message: `QEMU process ${p.pid} vanished: ${(e as Error).message}` });
      }
    }
    this.threads.retain(procs.map((p) => p.pid));
    const live = new Set(procs.map((p) => p.pid));
    for (const pid of [...this.identities.keys()]) if (!live.has(pid)) this.identities.delete(pid);
    return { domains, problems };
  }

  private async identify(
    p: QemuProcess,
    vmid: number | null,
    qemuName: string | null,
    name: string,
    problems: SampleProblem[],
  ): Promise<PlatformIdentity | undefined> {
    const id = identityFromQemuArgv(p.argv, { name, vmid, qemuName });
    let platform = id.platform;
    const warnings = [...id.warnings];
    if (platform?.kind === "proxmox" && vmid !== null) {
      const conf = await readPveConfig(this.pveRoot, vmid);
      if (conf !== null) {
        const c = withProxmoxConfig(platform, conf);
        platform = c.platform;
        warnings.push(...c.warnings);
      }
    }
    for (const w of warnings) problems.push({ domain: name, message: w });
    return platform;
  }
}
