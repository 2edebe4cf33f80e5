import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Discovery, DomainSource } from "../../src/sources/source.js";

let built: { dir: string; bin: string } | null = null;

/**
 * Compiles fake-qemu.c once per test process into a temp dir, as `qemu-system-x86_64` so that
 * the qemu source (and the agent's `--source qemu`) takes it for QEMU. Returns its path.
 */
export function fakeQemuBinary(): string {
  if (built) return built.bin;
  const dir = mkdtempSync(join(tmpdir(), "vsteal-rel-qemu-"));
  const bin = join(dir, "qemu-system-x86_64");
  execFileSync("gcc", ["-O2", "-o", bin, join(import.meta.dirname, "fake-qemu.c"), "-lpthread"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  built = { dir, bin };
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return bin;
}

let counter = 0;

/** A unique name for a fake VM of this test process: never a testbed name (vsteal-test-*). */
export function fakeName(tag: string): string {
  return `rel-fake-${tag}-${process.pid}-${++counter}`;
}

export interface FakeVmOptions {
  name?: string;
  uuid?: string;
  vcpus: number;
  /** Per cent of each 10 ms every vCPU thread spins (0: they sleep). */
  busy?: number;
}

/** One fake QEMU process: a VM with `vcpus` vCPU threads as the qemu source sees it. */
export class FakeVm {
  readonly name: string;
  readonly uuid: string;
  readonly vcpus: number;
  readonly child: ChildProcess;
  pid = 0;
  /** Resolves once the process has exited and been reaped (gone from /proc). */
  readonly exited: Promise<void>;
  private out = "";
  private lineWaiters: Array<() => void> = [];

  private constructor(opts: FakeVmOptions) {
    this.name = opts.name ?? fakeName("vm");
    this.uuid = opts.uuid ?? randomUUID();
    this.vcpus = opts.vcpus;
    const args = ["-name", `guest=${this.name},debug-threads=on`, "-uuid", this.uuid, "-smp", String(opts.vcpus)];
    if (opts.busy) args.push("-vsteal-busy", String(opts.busy));
    this.child = spawn(fakeQemuBinary(), args, { stdio: ["ignore", "pipe", "inherit"] });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.stdout!.on("data", (d: Buffer) => {
      this.out += d.toString();
      for (const w of this.lineWaiters.splice(0)) w();
    });
  }

  /** Starts a fake VM and resolves once every vCPU thread exists and is named. */
  static async start(opts: FakeVmOptions): Promise<FakeVm> {
    const vm = new FakeVm(opts);
    vm.pid = await vm.waitFor(() => {
      const m = /^(\d+)$/m.exec(vm.out);
      return m ? Number(m[1]) : null;
    }, "its pid");
    return vm;
  }

  /** Resolves with what `found` returns once it is not null, checked on every output. */
  private waitFor<T>(found: () => T | null, what: string, timeoutMs = 20_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`fake VM ${this.name}: did not print ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const check = (): void => {
        const v = found();
        if (v !== null) {
          clearTimeout(timer);
          resolve(v);
        } else this.lineWaiters.push(check);
      };
      check();
    });
  }

  /** Makes the highest-numbered vCPU thread exit (an unplug); resolves with its vCPU and tid once it has. */
  async unplug(): Promise<{ vcpu: number; tid: number }> {
    const before = this.exitedLines().length;
    this.child.kill("SIGUSR1");
    const line = await this.waitFor(() => this.exitedLines()[before] ?? null, "exited");
    const [, vcpu, tid] = line.split(" ");
    return { vcpu: Number(vcpu), tid: Number(tid) };
  }

  private exitedLines(): string[] {
    return this.out.split("\n").filter((l) => l.startsWith("exited "));
  }

  /** SIGKILL; resolves once it is reaped unless `wait` is false. */
  async kill(wait = true): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    if (wait) await this.exited;
  }
}

/** Kills every VM given (for afterAll/finally). */
export async function killAll(vms: Iterable<FakeVm>): Promise<void> {
  await Promise.all([...vms].map((v) => v.kill()));
}

/**
 * A source that passes on only the domains whose name starts with `prefix`: this host also
 * runs the testbed's VMs and other sessions' fake VMs, which are not ours to count.
 */
export class OnlyOurs implements DomainSource {
  readonly kind: DomainSource["kind"];
  readonly description: string;

  constructor(
    private readonly inner: DomainSource,
    private readonly prefix: string,
    /** Called with what discovery found, before the sampler opens anything (to race it). */
    private readonly afterDiscover?: (d: Discovery) => void | Promise<void>,
  ) {
    this.kind = inner.kind;
    this.description = `${inner.description} named ${prefix}*`;
  }

  async discover(): Promise<Discovery> {
    const d = await this.inner.discover();
    const out = {
      domains: d.domains.filter((x) => x.name.startsWith(this.prefix)),
      problems: d.problems.filter((p) => p.domain.startsWith(this.prefix)),
    };
    await this.afterDiscover?.(out);
    return out;
  }
}
