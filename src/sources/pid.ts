import { readdir } from "node:fs/promises";
import { describeFsError } from "../util/bounded-read.js";
import { join } from "node:path";
import type { DomainThreads } from "../model/types.js";
import type { Discovery, DomainSource } from "./source.js";

/**
 * Every thread of one process, as if each were a vCPU (vCPU number = position by tid).
 * Used by `vsteal bench` to sweep any process exactly as the sampler sweeps vCPUs.
 */
export class PidSource implements DomainSource {
  readonly kind = "qemu" as const;
  readonly description: string;

  constructor(
    private readonly pid: number,
    private readonly procRoot = "/proc",
  ) {
    this.description = `threads of process ${pid}`;
  }

  async discover(): Promise<Discovery> {
    const taskDir = join(this.procRoot, String(this.pid), "task");
    let tids: number[];
    try {
      tids = (await readdir(taskDir))
        .filter((t) => /^\d+$/.test(t))
        .map(Number)
        .sort((a, b) => a - b);
    } catch (e) {
      throw new Error(`cannot read ${taskDir}: ${describeFsError(e)}: is process ${this.pid} running?`);
    }
    const d: DomainThreads = {
      name: `pid-${this.pid}`,
      uuid: null,
      id: null,
      state: "running",
      vcpuCurrent: tids.length,
      vcpuMaximum: tids.length,
      pid: this.pid,
      source: "qemu",
      vcpus: tids.map((tid, i) => ({ vcpu: i, tid })),
    };
    return { domains: [d], problems: [] };
  }
}
