/**
 * A simulated host for fleet labs and tests: the real agent code (Collector, exporter, HTTP
 * server) reading a small fake /proc tree whose schedstat and cgroup cpu.stat counters grow at
 * the rates of a synthetic trace. Prometheus scrapes it exactly like an agent on a real host,
 * so everything downstream (PromQL, snapshot, planner, controller) runs unchanged.
 *
 * Counters are advanced right before each sweep by the exact wall time elapsed, so a VM
 * declared with usage 0.5 shows rate() = 0.5 in Prometheus.
 */
import type { ServerType } from "@hono/node-server";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Collector } from "../../src/collect/collector.js";
import { fixedHostFacts } from "../../src/collect/host-facts.js";
import { buildApp } from "../../src/agent/server.js";
import { listen } from "../../src/http/listen.js";
import type { DomainThreads } from "../../src/model/types.js";
import type { Discovery, DomainSource } from "../../src/sources/source.js";

export interface LabVm {
  name: string;
  uuid: string;
  vcpus: number;
  /** Per vCPU (or one value for all): fraction of a core it runs. */
  usage: number | number[];
  /** Per vCPU (or one value for all): fraction of wall time it waits (steal). */
  delay: number | number[];
  /** Part of the delay caused by the VM's own cap. Default 0. */
  throttled?: number | number[];
}

export interface LabHostOptions {
  /** Host name (for messages; Prometheus gives the host label). */
  name: string;
  cpus: number;
  reservedCpus?: number;
  vms: LabVm[];
  /** host:port; default 127.0.0.1:0 (a free port). */
  listenAddress?: string;
  intervalS?: number;
}

interface VcpuState {
  tid: number;
  timeNs: number;
  delayNs: number;
  throttledNs: number;
  slices: number;
}

interface VmState {
  vm: LabVm;
  pid: number;
  id: number;
  vcpus: VcpuState[];
  /** vCPUs whose thread is hidden from discovery (to simulate a missing series). */
  hidden: Set<number>;
}

const at = (x: number | number[] | undefined, i: number): number =>
  x === undefined ? 0 : Array.isArray(x) ? (x[i] ?? 0) : x;
const pad = (n: number): string => String(Math.floor(n)).padStart(20, "0");

export class LabHost {
  readonly url: string;
  readonly port: number;
  private readonly vms = new Map<string, VmState>();
  private lastMs = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private nextPid = 200_000;

  private constructor(
    readonly name: string,
    private readonly root: string,
    private readonly collector: Collector,
    private readonly server: ServerType,
    url: string,
    port: number,
  ) {
    this.url = url;
    this.port = port;
  }

  static async start(opts: LabHostOptions): Promise<LabHost> {
    const root = mkdtempSync(join(tmpdir(), `vsteal-lab-${opts.name.replace(/[^A-Za-z0-9_-]/g, "_")}-`));
    mkdirSync(join(root, "self"), { recursive: true });
    mkdirSync(join(root, "cgroup"), { recursive: true });
    writeFileSync(
      join(root, "self", "mountinfo"),
      `30 20 0:26 / ${join(root, "cgroup")} rw,nosuid,nodev,noexec - cgroup2 cgroup2 rw\n`,
    );
    let self: LabHost | null = null;
    const source: DomainSource = {
      kind: "libvirt",
      description: `simulated host ${opts.name}`,
      discover: (): Promise<Discovery> => Promise.resolve({ domains: self ? self.discover() : [], problems: [] }),
    };
    const intervalS = opts.intervalS ?? 1;
    const collector = new Collector({
      source,
      intervalS,
      procRoot: root,
      discoveryIntervalS: intervalS,
      reservedCpus: opts.reservedCpus ?? 0,
      cpus: opts.cpus,
      // A simulated host is called by its own name, not by the machine's.
      hostFacts: () => fixedHostFacts({ hostName: opts.name, cpus: opts.cpus, reservedCpus: opts.reservedCpus ?? 0 }),
    });
    const app = buildApp({ collector, telemetryPath: "/metrics", web: null, startedMs: Date.now() });
    const { server, url, port } = await listen(app, opts.listenAddress ?? "127.0.0.1:0", null);
    const host = new LabHost(opts.name, root, collector, server, url, port);
    self = host;
    for (const vm of opts.vms) host.addVm(vm);
    host.writeCounters();
    await collector.sampler.refresh();
    host.tick();
    host.timer = setInterval(() => host.tick(), intervalS * 1000);
    return host;
  }

  /** Adds a VM (e.g. one that just migrated here); its counters start at 0. */
  addVm(vm: LabVm): void {
    const pid = (this.nextPid += 100);
    const st: VmState = {
      vm,
      pid,
      id: pid / 100,
      vcpus: Array.from({ length: vm.vcpus }, (_, i) => ({
        tid: pid + 1 + i,
        timeNs: 0,
        delayNs: 0,
        throttledNs: 0,
        slices: 0,
      })),
      hidden: new Set(),
    };
    for (const v of st.vcpus) {
      const dir = join(this.root, String(pid), "task", String(v.tid));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "cgroup"), `0::/vm${pid}/vcpu${v.tid - pid - 1}\n`);
      mkdirSync(join(this.root, "cgroup", `vm${pid}`, `vcpu${v.tid - pid - 1}`), { recursive: true });
    }
    this.vms.set(vm.name, st);
    this.writeCounters();
  }

  /** Removes a VM (it stopped or migrated away). */
  removeVm(name: string): void {
    const st = this.vms.get(name);
    if (!st) return;
    this.vms.delete(name);
    rmSync(join(this.root, String(st.pid)), { recursive: true, force: true });
  }

  /** Changes a VM's load from now on. */
  setLoad(name: string, load: Partial<Pick<LabVm, "usage" | "delay" | "throttled">>): void {
    const st = this.vms.get(name);
    if (st) st.vm = { ...st.vm, ...load };
  }

  /** Hides one vCPU thread of a VM from the agent: its series vanish, the VM still has its vCPU count. */
  hideVcpu(name: string, vcpu: number): void {
    const st = this.vms.get(name);
    if (!st) return;
    st.hidden.add(vcpu);
    const v = st.vcpus[vcpu];
    if (v) rmSync(join(this.root, String(st.pid), "task", String(v.tid)), { recursive: true, force: true });
  }

  private discover(): DomainThreads[] {
    return [...this.vms.values()].map((s) => ({
      name: s.vm.name,
      uuid: s.vm.uuid,
      id: s.id,
      state: "running",
      vcpuCurrent: s.vm.vcpus,
      vcpuMaximum: s.vm.vcpus,
      pid: s.pid,
      source: "libvirt",
      vcpus: s.vcpus.map((v, i) => ({ vcpu: i, tid: v.tid, affinity: null })).filter((v) => !s.hidden.has(v.vcpu)),
    }));
  }

  private writeCounters(): void {
    const now = Date.now();
    const dtNs = (now - this.lastMs) * 1e6;
    this.lastMs = now;
    for (const s of this.vms.values()) {
      s.vcpus.forEach((v, i) => {
        if (s.hidden.has(i)) return;
        v.timeNs += at(s.vm.usage, i) * dtNs;
        v.delayNs += at(s.vm.delay, i) * dtNs;
        v.throttledNs += Math.min(at(s.vm.throttled, i), at(s.vm.delay, i)) * dtNs;
        v.slices += Math.ceil(dtNs / 4e6);
        const task = join(this.root, String(s.pid), "task", String(v.tid));
        writeFileSync(join(task, "schedstat"), `${pad(v.timeNs)} ${pad(v.delayNs)} ${pad(v.slices)}\n`);
        const cg = join(this.root, "cgroup", `vm${s.pid}`, `vcpu${i}`, "cpu.stat");
        writeFileSync(
          cg,
          `usage_usec ${Math.floor(v.timeNs / 1000)}\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec ${Math.floor(v.throttledNs / 1000)}\n`,
        );
      });
    }
  }

  /** Advance the counters, then sweep: the sweep sees exactly the time elapsed. */
  private tick(): void {
    this.writeCounters();
    this.collector.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await new Promise<void>((resolve) => {
      const s = this.server as ServerType & { closeAllConnections?: () => void };
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
    await this.collector.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}
